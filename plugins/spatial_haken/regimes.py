"""Spatial regimes of the SLX- and SAR-Haken equations: coefficients by group, Chow-type tests.

Every regressor (the Haken terms, their spatial lags in SLX, the constant)
is interacted with the group dummies of a region scheme; the error variance
is common and so is rho in SAR unless ``regime_rho="separate"``, which
gives each group its own ``rho_g`` on the rows of its regions:
``y_t = sum_g rho_g D_g W y_t + X_t beta + e_t`` (``D_g`` selects the
group's regions; Anselin 1990).  Estimation reuses the plugin's estimators
(:func:`~._estimators.fit_ols`, :func:`~._estimators.fit_lag`) on the
panel stacked over transitions; the tests are the aspatial module's
(:func:`nqpspatial.haken.regimes.regime_tests`): F form for SLX (OLS), chi2
for SAR (ML).  Reported Haken parameters are the structural coefficients
(``gamma1 = 1 - beta_lag``), not LeSage-Pace direct effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from nqpspatial.errors import InputError
from nqpspatial.haken.model import check_groups
from nqpspatial.haken.regimes import REGIME_TEST_COLUMNS, group_readings, haken_from_coefs, regime_tests
from nqpspatial.results import Results, Summary

from ._estimators import demean, fit_lag, fit_ols
from ._panel import build_equation, lag, prepare_panel

__all__ = ["SpatialRegimesResults", "fit_regimes", "REGIME_MODELS", "REGIME_RHO"]

#: Spatial models with a regime form.
REGIME_MODELS = ("slx", "sar")
#: Options of the spatial parameter in SAR regimes.
REGIME_RHO = ("common", "separate")
_COEF = {"q1": {"q1": "lag", "q1q2": "inter", "const": "const"}, "q2": {"q2": "lag", "q1sq": "inter", "const": "const"}}


def _equation(panel, eq: str, codes, groups, model, intercept, fe, regime_rho, method):
    design = build_equation(panel, eq, intercept)
    cols = {_COEF[eq][n]: x for n, x in zip(design.names, design.X)}
    if model == "slx":
        for n, raw in zip(design.names, design.slx):
            cols[f"theta_{n}"] = lag(panel.W, raw)
    Xcols, names = [], []
    for name, x in cols.items():
        for g, label in enumerate(groups):
            Xcols.append(np.where((codes == g)[None, :], x, 0.0))
            names.append(f"{name}[{label}]")
    y = design.y
    if fe:
        y, Xcols = demean(y), [demean(x) for x in Xcols]
    if model == "slx":
        return fit_ols(y, Xcols, names, fe=fe, centered=intercept), cols
    T1 = y.shape[0]
    corr = T1 / (T1 - 1.0) if fe else 1.0
    if regime_rho == "common":
        Ws, rho_names = [panel.W], ["rho"]
    else:
        Ws = [sp.csr_array(sp.diags_array((codes == g).astype(float)) @ panel.W) for g in range(len(groups))]
        rho_names = [f"rho[{label}]" for label in groups]
    return fit_lag(
        y, Xcols, names, Ws, rho_names, method=method, fe=fe, centered=intercept, sigma_correction=corr
    ), cols


def fit_regimes(
    data,
    q1: str,
    q2: str,
    graph,
    groups,
    *,
    model: str = "sar",
    region: str = "region",
    year: str = "year",
    effects: str = "none",
    intercept: bool = False,
    regime_rho: str = "common",
    weights_name: str = "W",
    alpha: float = 0.05,
    min_ratio: float = 1.0,
    method: str = "auto",
) -> "SpatialRegimesResults":
    """SLX- or SAR-Haken with coefficients by group of a region scheme.

    Parameters
    ----------
    data : pandas.DataFrame
        Long balanced region-year table with the two indices.
    q1, q2 : str
        Columns of the order parameter candidate and the servo variable.
    graph : libpysal.graph.Graph
        Spatial weights (row-standardized here).
    groups : pandas.Series or mapping
        Region -> group (at least two groups).
    model : {"slx", "sar"}
    region, year : str
    effects : {"none", "region"}
        Region fixed effects (within transformation).
    intercept : bool
        A constant per group.
    regime_rho : {"common", "separate"}
        SAR: one rho, or one per group (rows of the group's regions).
    weights_name : str
        Label of the weights in the tables.
    alpha, min_ratio : float
        Verdict rule of the per-group readings.
    method : {"auto", "dense", "sparse"}
        Linear algebra of the SAR log-determinant.

    Returns
    -------
    SpatialRegimesResults
    """
    if model not in REGIME_MODELS:
        raise InputError(f"regimes are available for {', '.join(REGIME_MODELS)}, not {model!r}")
    if regime_rho not in REGIME_RHO:
        raise InputError(f"regime_rho = {regime_rho!r}: use one of {', '.join(REGIME_RHO)}", "config")
    if effects not in ("none", "region"):
        raise InputError(f"regimes take effects 'none' or 'region', got {effects!r}", "config")
    panel = prepare_panel(data, q1, q2, graph, region=region, year=year)
    gmap = check_groups(groups, panel.ids, fix="give every region a group of the scheme")
    labels = gmap.reindex(panel.ids).to_numpy()
    glist = sorted(pd.unique(labels), key=str)
    if len(glist) < 2:
        raise InputError(f"regimes need at least two groups; the scheme puts every region in {glist[0]!r}")
    codes = pd.Index(glist).get_indexer(labels)
    fits, tests = {}, []
    for eq in ("q1", "q2"):
        fit, cols = _equation(panel, eq, codes, glist, model, intercept, effects == "region", regime_rho, method)
        fits[eq] = fit
        coefs = {
            c: t
            for c, t in (
                ("lag", "gamma1" if eq == "q1" else "gamma2"),
                ("inter", "a" if eq == "q1" else "b"),
                ("const", "k1" if eq == "q1" else "k2"),
            )
            if c in cols
        }
        coefs.update({c: c for c in cols if c.startswith("theta_")})
        if model == "sar" and regime_rho == "separate":
            coefs["rho"] = "rho"
        dof = fit.n_obs - fit.k - (panel.W.shape[0] if effects == "region" else 0)
        tests.append(
            regime_tests(
                fit.params,
                fit.vcov,
                fit.names,
                coefs,
                glist,
                equation=eq,
                df2=dof if model == "slx" else None,
                method="Wald F (OLS)" if model == "slx" else "Wald chi2 (ML)",
            )
        )
    key = {"model": model, "weights": weights_name, "q1": q1, "q2": q2}
    return SpatialRegimesResults(
        key,
        fits,
        pd.concat(tests, ignore_index=True),
        glist,
        codes,
        panel,
        alpha=alpha,
        min_ratio=min_ratio,
        regime_rho=regime_rho,
        effects=effects,
    )


class SpatialRegimesResults(Results):
    """Coefficients by group of a SLX- or SAR-Haken regime model (immutable).

    Attributes
    ----------
    params, bse : pandas.DataFrame
        Group x (gamma1, a, gamma2, b, k1, k2, theta_* terms).
    rho : pandas.Series
        The spatial parameter(s) of SAR (``rho`` or ``rho[<group>]``) per equation.
    readings : pandas.DataFrame
        Per group: ratio, adiabatic, case, q1_star, map_stable of the
        structural Haken parameters.
    table, tests : pandas.DataFrame
        Rows of ``spatial_haken_regimes.csv`` and ``spatial_haken_regime_tests.csv``
        (the columns of ``haken_regimes.csv`` and ``haken_regime_tests.csv``).
    fits : dict
        Equation -> raw :class:`~._estimators.EqFit`.
    """

    def __init__(self, key, fits, tests, groups, codes, panel, *, alpha, min_ratio, regime_rho, effects):
        self.key = dict(key)
        self.groups = tuple(groups)
        self.regime_rho, self.effects = regime_rho, effects
        self.fits = dict(fits)
        est, se, pv, rho, rows = {}, {}, {}, {}, []
        T1 = len(panel.years) - 1
        for eq, fit in fits.items():
            b = pd.Series(fit.params, index=fit.names)
            s = pd.Series(np.sqrt(np.diag(fit.vcov)), index=fit.names)
            for g in self.groups:
                e = {n.split("[")[0]: b[n] for n in fit.names if n.endswith(f"[{g}]") and not n.startswith("rho")}
                sd = {c: s[f"{c}[{g}]"] for c in e}
                pairs = haken_from_coefs(e, sd, eq) + [(c, e[c], sd[c]) for c in e if c.startswith("theta_")]
                for term, v, sv in pairs:
                    est.setdefault(term, {})[g], se.setdefault(term, {})[g] = v, sv
            for n in fit.spatial:
                rho[f"{eq}:{n}"] = (b[n], s[n])
        self.params, self.bse = pd.DataFrame(est), pd.DataFrame(se)
        tval = self.params / self.bse
        ml = self.key["model"] == "sar"
        dof = next(iter(fits.values())).n_obs - next(iter(fits.values())).k
        pv = pd.DataFrame(
            {t: 2 * (stats.norm.sf(np.abs(tval[t])) if ml else stats.t.sf(np.abs(tval[t]), dof)) for t in self.params},
            index=self.params.index,
        )
        self.rho = pd.Series({k: v[0] for k, v in rho.items()}, dtype=float)
        self.readings = group_readings(self.params, pv, alpha=alpha, min_ratio=min_ratio)
        n_reg = pd.Series(codes).value_counts()
        for g_i, g in enumerate(self.groups):
            r = self.readings.loc[g]
            for term in self.params.columns:
                rows.append(
                    {
                        **self.key,
                        "group": g,
                        "term": term,
                        "estimate": self.params.at[g, term],
                        "std_err": self.bse.at[g, term],
                        "t": tval.at[g, term],
                        "p": pv.at[g, term],
                        "n_obs": int(n_reg[g_i]) * T1,
                        "n_regions": int(n_reg[g_i]),
                        "adiabatic": bool(r["adiabatic"]),
                        "case": int(r["case"]),
                        "q1_star": r["q1_star"],
                        "map_stable": r["map_stable"],
                    }
                )
        for k, (v, sv) in rho.items():
            eq, name = k.split(":")
            g = name[4:-1] if "[" in name else ""
            z = v / sv
            rows.append(
                {
                    **self.key,
                    "group": g,
                    "term": f"rho_{eq}",
                    "estimate": v,
                    "std_err": sv,
                    "t": z,
                    "p": 2 * stats.norm.sf(abs(z)),
                    "n_obs": np.nan,
                    "n_regions": np.nan,
                }
            )
        self.table = pd.DataFrame(rows)
        self.tests = tests.assign(**self.key)[REGIME_TEST_COLUMNS]
        self._freeze()

    def summary(self) -> Summary:
        """Coefficients by group and the tests of equality across groups."""
        tab = self.params.copy()
        tab.insert(0, "group", tab.index)
        allg = self.tests[self.tests["kind"] == "all groups"][["equation", "term", "statistic", "df1", "p"]]
        facts = {
            "model": self.key["model"],
            "weights": self.key["weights"],
            "rho": self.regime_rho,
            **{k: float(v) for k, v in self.rho.items()},
        }
        return Summary(
            "Spatial Haken model with regimes",
            facts,
            {
                "parameters by group": tab.reset_index(drop=True),
                "equal across groups (Chow-type)": allg.reset_index(drop=True),
            },
            ("Haken parameters are the structural coefficients (1 - beta), not direct effects",),
        )
