"""Spatial regimes of the Haken model: parameters by group of a region scheme, with Chow-type tests.

Each equation is estimated once on the stacked design in which every
regressor is interacted with the group dummies (Anselin 1990, "Spatial
dependence and spatial structural instability in applied regression
analysis", *Journal of Regional Science* 30(2): 185-207), so that every
group has its own gamma1, a, gamma2, b (and k1, k2) while the error
variance (and, in the spatial variants, rho) is common.  Wald tests of
equal coefficients across all groups and between each pair of groups are
the Chow-type tests (Chow 1960; with classical standard errors the F form
equals the Chow F statistic).

:func:`regime_design` and :func:`regime_tests` are shared with the spatial
regime models of the ``spatial_haken`` plugin.
"""

from __future__ import annotations

import itertools
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..results import Results, Summary
from .model import EFFECTS, SE_TYPES, _scheme_groups, check_groups, haken_terms, prepare_panel
from .potential import Potential
from .results import adiabatic_verdict

__all__ = [
    "HakenRegimesModel",
    "HakenRegimesResults",
    "regime_design",
    "regime_tests",
    "haken_from_coefs",
    "REGIME_COLUMNS",
    "REGIME_TEST_COLUMNS",
    "COEF_TERMS",
]

#: Leading columns of ``haken_regimes.csv``.
REGIME_COLUMNS = ["model", "weights", "q1", "q2", "group", "term", "estimate", "std_err", "t", "p"]
#: Leading columns of ``haken_regime_tests.csv``.
REGIME_TEST_COLUMNS = [
    "model",
    "weights",
    "q1",
    "q2",
    "equation",
    "term",
    "kind",
    "group_1",
    "group_2",
    "statistic",
    "df1",
    "df2",
    "p",
    "p_holm",
    "method",
]
#: Haken parameter of each coefficient: equation -> ((coefficient, parameter, offset, sign), ...).
COEF_TERMS = {
    "q1": (("lag", "gamma1", 1.0, -1.0), ("inter", "a", 0.0, -1.0), ("const", "k1", 0.0, 1.0)),
    "q2": (("lag", "gamma2", 1.0, -1.0), ("inter", "b", 0.0, 1.0), ("const", "k2", 0.0, 1.0)),
}


def regime_design(columns: dict, codes: np.ndarray, groups: list) -> tuple[np.ndarray, list]:
    """Regressors interacted with group dummies.

    Parameters
    ----------
    columns : dict of str to numpy.ndarray
        Regressor name -> values (one per observation).
    codes : numpy.ndarray of int
        Group index (into ``groups``) of each observation.
    groups : list
        Group labels.

    Returns
    -------
    tuple
        ``(Z, names)``: ``Z`` has one column per regressor and group
        (regressor-major), named ``"<regressor>[<group>]"``.
    """
    cols, names = [], []
    for name, x in columns.items():
        for g, label in enumerate(groups):
            cols.append(np.where(codes == g, x, 0.0))
            names.append(f"{name}[{label}]")
    return np.column_stack(cols), names


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def _wald(b: np.ndarray, V: np.ndarray, R: np.ndarray, df2):
    """Wald statistic of ``R b = 0``: chi2 form, or F form (``W / q``) when ``df2`` is given."""
    Rb = R @ b
    W = float(Rb @ np.linalg.solve(R @ V @ R.T, Rb))
    q = R.shape[0]
    if df2 is None:
        return W, float(q), np.nan, float(stats.chi2.sf(W, q))
    F = W / q
    return F, float(q), float(df2), float(stats.f.sf(F, q, df2))


def regime_tests(
    params: np.ndarray,
    vcov: np.ndarray,
    names: list,
    coefs: dict,
    groups: list,
    *,
    equation: str,
    df2=None,
    method: str,
) -> pd.DataFrame:
    """Chow-type Wald tests of equal coefficients across groups.

    Parameters
    ----------
    params, vcov : numpy.ndarray
        Estimates and covariance of the regime regression.
    names : list of str
        Names of ``params`` (``"<coef>[<group>]"`` for regime coefficients).
    coefs : dict
        Coefficient name -> Haken parameter name (e.g. ``{"lag": "gamma1"}``).
    groups : list
        Group labels.
    equation : str
        ``"q1"`` or ``"q2"`` (recorded).
    df2 : float, optional
        Denominator degrees of freedom: F form when given, chi2 otherwise.
    method : str
        Recorded in the ``method`` column.

    Returns
    -------
    pandas.DataFrame
        For each parameter a row ``kind = "all groups"`` (H0: every group
        shares it, ``G - 1`` restrictions) and one ``kind = "pairwise"`` row
        per pair of groups, with Holm-adjusted p-values over the pairs; a
        row ``term = "all"`` tests every parameter of the equation at once
        (the classical Chow test).
    """
    pos = {n: i for i, n in enumerate(names)}
    G = len(groups)
    rows = []
    joint = []
    for coef, term in coefs.items():
        idx = [pos[f"{coef}[{g}]"] for g in groups]
        R = np.zeros((G - 1, len(params)))
        for r in range(G - 1):
            R[r, idx[r + 1]], R[r, idx[0]] = 1.0, -1.0
        joint.append(R)
        stat, d1, d2, p = _wald(params, vcov, R, df2)
        rows.append(
            {
                "equation": equation,
                "term": term,
                "kind": "all groups",
                "group_1": "",
                "group_2": "",
                "statistic": stat,
                "df1": d1,
                "df2": d2,
                "p": p,
                "p_holm": p,
                "method": method,
            }
        )
        pair_rows = []
        for (i, g), (j, h) in itertools.combinations(enumerate(groups), 2):
            R1 = np.zeros((1, len(params)))
            R1[0, idx[i]], R1[0, idx[j]] = 1.0, -1.0
            stat, d1, d2, p = _wald(params, vcov, R1, df2)
            pair_rows.append(
                {
                    "equation": equation,
                    "term": term,
                    "kind": "pairwise",
                    "group_1": g,
                    "group_2": h,
                    "statistic": stat,
                    "df1": d1,
                    "df2": d2,
                    "p": p,
                    "method": method,
                }
            )
        for r, adj in zip(pair_rows, _holm([r["p"] for r in pair_rows])):
            r["p_holm"] = adj
        rows += pair_rows
    stat, d1, d2, p = _wald(params, vcov, np.vstack(joint), df2)
    rows.append(
        {
            "equation": equation,
            "term": "all",
            "kind": "all groups",
            "group_1": "",
            "group_2": "",
            "statistic": stat,
            "df1": d1,
            "df2": d2,
            "p": p,
            "p_holm": p,
            "method": method,
        }
    )
    return pd.DataFrame(rows)


def haken_from_coefs(est: dict, se: dict, equation: str) -> list:
    """Haken parameters of one group from its coefficients: ``[(term, estimate, std_err), ...]``."""
    out = []
    for coef, term, offset, sign in COEF_TERMS[equation]:
        if coef in est:
            out.append((term, offset + sign * est[coef], se[coef]))
    return out


def group_readings(params: pd.DataFrame, pvalues: pd.DataFrame, *, alpha: float, min_ratio: float) -> pd.DataFrame:
    """Per-group verdict, stability case, stable point and annual-map stability.

    Parameters
    ----------
    params, pvalues : pandas.DataFrame
        Group x Haken parameter (gamma1, a, gamma2, b, optionally k1, k2).

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``ratio, adiabatic, case, q1_star, map_stable``.
    """
    rows = {}
    for g, e in params.iterrows():
        ratio, ok, _ = adiabatic_verdict(
            e["gamma1"], e["gamma2"], pvalues.at[g, "gamma2"], alpha=alpha, min_ratio=min_ratio
        )
        pot = Potential(e["gamma1"], e["a"], e["gamma2"], e["b"], k1=e.get("k1", 0.0), k2=e.get("k2", 0.0))
        rows[g] = {
            "ratio": ratio,
            "adiabatic": ok,
            "case": pot.case,
            "q1_star": pot.stable_point[0] if pot.stable_point else np.nan,
            "map_stable": pot.map_stable,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


class HakenRegimesModel:
    """Aspatial Haken model with parameters by group (spatial regimes).

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table with the two indices.  Not modified.
    q1, q2 : str
        Columns of the order parameter and the servo variable.
    groups : pandas.Series, mapping, str or path
        Region -> group, a registered scheme name or a scheme CSV (as
        ``HakenModel(by="group")``).  At least two groups.
    region, year : str
    intercept : bool
        A constant per group in each equation (k1, k2).
    effects : {"none", "region", "year", "two-way"}
        Fixed effects, absorbed by the within transformation
        (:mod:`nqpspatial.haken.within`; equal to dummy columns); the
        slopes stay by group.
    se : {"classical", "hc1", "cluster", "driscoll-kraay", "twoway"}
        Covariance of the regime coefficients, as :class:`~nqpspatial.haken.HakenModel`'s
        (statsmodels' on the dummy-column design); the tests use its F form
        with the matching degrees of freedom.
    window : (int, int), optional

    Examples
    --------
    >>> from nqpspatial.haken import simulate_panel
    >>> from nqpspatial.haken.regimes import HakenRegimesModel
    >>> df = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=20, seed=1)
    >>> groups = {f"R{i + 1:02d}": "east" if i < 10 else "west" for i in range(20)}
    >>> res = HakenRegimesModel(df, "q1", "q2", groups).fit()
    >>> sorted(res.params.index)
    ['east', 'west']
    """

    def __init__(
        self,
        data,
        q1: str,
        q2: str,
        groups,
        *,
        region="region",
        year="year",
        intercept=False,
        effects="none",
        se="classical",
        window=None,
    ):
        if se not in SE_TYPES:
            raise InputError(f"se={se!r} is not valid; use one of {list(SE_TYPES)}")
        if effects not in EFFECTS:
            raise InputError(f"effects={effects!r} is not valid; use one of {list(EFFECTS)}")
        if intercept and effects != "none":
            raise InputError(
                f"intercept=True with effects={effects!r}: the fixed effects already contain the intercept; "
                "use one of the two"
            )
        self.q1, self.q2 = str(q1), str(q2)
        self.intercept, self.effects, self.se = bool(intercept), effects, se
        self.panel = prepare_panel(data, q1, q2, region=region, year=year, window=window)
        regions = self.panel["region"]
        gmap = check_groups(_scheme_groups(groups, regions), regions)
        self.region_group = self.panel["region"].map(gmap)
        self.groups = sorted(pd.unique(self.region_group), key=str)
        if len(self.groups) < 2:
            raise InputError(f"regimes need at least two groups; the scheme puts every region in {self.groups[0]!r}")

    def _design(self):
        p = self.panel.assign(group=self.region_group.to_numpy())
        g = p.groupby("region", sort=False)
        keep = g["q1"].shift(-1).notna().to_numpy()
        y = {"q1": g["q1"].shift(-1)[keep].to_numpy(float), "q2": g["q2"].shift(-1)[keep].to_numpy(float)}
        cur = p[keep]
        codes = cur["group"].map({lab: i for i, lab in enumerate(self.groups)}).to_numpy()
        terms = haken_terms(cur["q1"].to_numpy(float), cur["q2"].to_numpy(float))
        return cur, codes, y, terms

    def fit(self, alpha: float = 0.05, min_ratio: float = 1.0) -> "HakenRegimesResults":
        """Estimate both equations with regime coefficients and test their equality.

        Returns
        -------
        HakenRegimesResults
        """
        from .within import Absorbed, absorbed_ols

        cur, codes, y, terms = self._design()
        region_codes, regions = pd.factorize(cur["region"])
        years = np.sort(cur["year"].unique())
        absorbed = Absorbed(region_codes, np.searchsorted(years, cur["year"]), list(regions), list(years), self.effects)
        fits, tests = {}, []
        for eq in ("q1", "q2"):
            cols = dict(zip(("lag", "inter"), terms[eq]))
            if self.intercept:
                cols["const"] = np.ones(len(codes))
            Z, names = regime_design(cols, codes, self.groups)
            # fixed effects absorbed (within transformation): equal to dummy columns after the regime columns
            res = absorbed_ols(y[eq], Z, names, absorbed, se=self.se)
            df2 = res.df
            params, cov = res.params[names].to_numpy(), res.cov_params().to_numpy()
            fits[eq] = (params, cov, names, df2)
            coefs = {c: t for c, t, _, _ in COEF_TERMS[eq] if c in cols}
            tests.append(
                regime_tests(
                    params,
                    cov,
                    names,
                    coefs,
                    self.groups,
                    equation=eq,
                    df2=df2,
                    method=f"Wald F ({self.se} covariance)",
                )
            )
        return HakenRegimesResults(
            self, fits, pd.concat(tests, ignore_index=True), cur, codes, alpha=float(alpha), min_ratio=float(min_ratio)
        )


class HakenRegimesResults(Results):
    """Haken parameters by group with the Chow-type tests (immutable).

    Attributes
    ----------
    q1, q2 : str
    groups : tuple
        Group labels (sorted).
    params, bse, tvalues, pvalues : pandas.DataFrame
        Group x (gamma1, a, gamma2, b, and k1, k2 with an intercept).
    readings : pandas.DataFrame
        Per group: ratio, adiabatic verdict, stability case, q1_star,
        map_stable (:class:`~nqpspatial.haken.Potential` of the group's
        parameters).
    table : pandas.DataFrame
        ``haken_regimes.csv`` rows (``model = "aspatial"``).
    tests : pandas.DataFrame
        ``haken_regime_tests.csv`` rows.
    """

    def __init__(self, model, fits, tests, cur, codes, *, alpha, min_ratio):
        self.q1, self.q2 = model.q1, model.q2
        self.groups = tuple(model.groups)
        est, se, dfs = {}, {}, {}
        for eq, (params, cov, names, df2) in fits.items():
            b = pd.Series(params, index=names)
            s = pd.Series(np.sqrt(np.diag(cov)), index=names)
            for g in self.groups:
                e = {c: b[f"{c}[{g}]"] for c, *_ in COEF_TERMS[eq] if f"{c}[{g}]" in b}
                sd = {c: s[f"{c}[{g}]"] for c in e}
                for term, v, sv in haken_from_coefs(e, sd, eq):
                    est.setdefault(term, {})[g] = v
                    se.setdefault(term, {})[g] = sv
                    dfs[term] = df2
        self.params, self.bse = pd.DataFrame(est), pd.DataFrame(se)
        self.tvalues = self.params / self.bse
        self.pvalues = pd.DataFrame(
            {t: 2 * stats.t.sf(np.abs(self.tvalues[t]), dfs[t]) for t in self.params}, index=self.params.index
        )
        self.readings = group_readings(self.params, self.pvalues, alpha=alpha, min_ratio=min_ratio)
        counts = pd.DataFrame({"group": [self.groups[c] for c in codes], "region": cur["region"].to_numpy()})
        self.n_obs = counts.groupby("group").size()
        self.n_regions = counts.groupby("group")["region"].nunique()
        self.table = self._table()
        t = tests.assign(model="aspatial", weights="", q1=self.q1, q2=self.q2)
        self.tests = t[REGIME_TEST_COLUMNS]
        self.options = MappingProxyType(
            {
                "intercept": model.intercept,
                "effects": model.effects,
                "se": model.se,
                "alpha": alpha,
                "min_ratio": min_ratio,
            }
        )
        self._freeze()

    def _table(self) -> pd.DataFrame:
        rows = []
        for g in self.groups:
            r = self.readings.loc[g]
            for term in self.params.columns:
                rows.append(
                    {
                        "model": "aspatial",
                        "weights": "",
                        "q1": self.q1,
                        "q2": self.q2,
                        "group": g,
                        "term": term,
                        "estimate": self.params.at[g, term],
                        "std_err": self.bse.at[g, term],
                        "t": self.tvalues.at[g, term],
                        "p": self.pvalues.at[g, term],
                        "n_obs": int(self.n_obs[g]),
                        "n_regions": int(self.n_regions[g]),
                        "adiabatic": bool(r["adiabatic"]),
                        "case": int(r["case"]),
                        "q1_star": r["q1_star"],
                        "map_stable": r["map_stable"],
                    }
                )
        return pd.DataFrame(rows)

    def summary(self) -> Summary:
        """Parameters by group and the tests that all groups share each parameter."""
        allg = self.tests[self.tests["kind"] == "all groups"][["equation", "term", "statistic", "df1", "df2", "p"]]
        tab = self.params.copy()
        tab.insert(0, "group", tab.index)
        readings = self.readings.copy()
        readings.insert(0, "group", readings.index)
        return Summary(
            "Haken model with spatial regimes",
            {"q1": self.q1, "q2": self.q2, "groups": len(self.groups), "standard errors": self.options["se"]},
            {
                "parameters by group": tab.reset_index(drop=True),
                "stability by group": readings.reset_index(drop=True),
                "equal across groups (Chow-type)": allg.reset_index(drop=True),
            },
        )
