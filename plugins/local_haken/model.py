"""Geographically weighted Haken model (GW-Haken), statsmodels style.

``GWHakenModel(data, q1, q2, geometry=gdf).fit()`` estimates, at every
region's location, the two Haken equations from *all* transitions of the
panel, each region's transitions weighted by a kernel of its distance to
the location (Fotheringham, Brunsdon & Charlton 2002):

* ``q1(t+1) = (1 - gamma1_j) q1(t) - a_j q1(t) q2(t)``
* ``q2(t+1) = (1 - gamma2_j) q2(t) + b_j q1(t)^2``

The bandwidth of each equation is chosen by AICc or leave-one-region-out
cross-validation (golden-section search, as mgwr).  Standard errors are
region-clustered local sandwiches; t-values are read against the critical
value of da Silva & Fotheringham (2016).  Per region: the local adiabatic
verdict, the local :class:`~nqpspatial.haken.Potential` (case, stable point,
annual-map stability) and the co-evolution level h.  A permutation test
(whole regions permuted over locations, bandwidth held fixed) tests the
spatial non-stationarity of each parameter.  See ``docs/local_haken.md``.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from nqpspatial.errors import InputError, ModelError
from nqpspatial.haken import Potential, adiabatic_verdict
from nqpspatial.haken.model import as_rng, haken_terms, prepare_panel
from nqpspatial.results import Results, Summary

from . import _core
from ._kernel import KERNELS, default_search, distance_matrix, golden_section, kernel_weights

__all__ = [
    "GWHakenModel",
    "GWHakenResults",
    "NonstationarityResults",
    "CRITERIA",
    "SE_TYPES",
    "TERMS",
    "EQUATIONS",
    "PERMUTATION_CHUNK",
]

CRITERIA = ("aicc", "cv")
SE_TYPES = ("cluster", "gwr")
EQUATIONS = ("q1", "q2")
#: Haken parameters of each equation: (name, coefficient index, sign) with parameter = offset + sign * coef.
_PARAMS = {
    "q1": (("gamma1", 0, 1.0, -1.0), ("a", 1, 0.0, -1.0), ("k1", 2, 0.0, 1.0)),
    "q2": (("gamma2", 0, 1.0, -1.0), ("b", 1, 0.0, 1.0), ("k2", 2, 0.0, 1.0)),
}
TERMS = ("gamma1", "a", "gamma2", "b")
#: Permutations per chunk of the non-stationarity test (fixed: results do not depend on the workers).
PERMUTATION_CHUNK = 25


def _coords_for(regions, coords, geometry, spherical):
    """``(coords (N, 2), spherical)`` in the order of ``regions``."""
    if (coords is None) == (geometry is None):
        raise InputError(
            "give the regions' locations as exactly one of coords= (an (N, 2) array or a "
            "DataFrame indexed by region) or geometry= (a GeoDataFrame indexed by region)"
        )
    if geometry is not None:
        from nqpspatial.plugins.weights import centroid_points

        return centroid_points(geometry, list(regions))
    if isinstance(coords, pd.DataFrame):
        missing = [r for r in regions if r not in coords.index]
        if missing:
            raise InputError(f"coords has no row for region(s) {missing[:10]}; index coords by the panel's region ids")
        xy = coords.loc[list(regions)].to_numpy(dtype=float)
    else:
        xy = np.asarray(coords, dtype=float)
        if xy.shape != (len(regions), 2):
            raise InputError(
                f"coords must have one (x, y) row per region ({len(regions)} regions, in order "
                f"of first appearance in the data), got shape {xy.shape}"
            )
    if xy.shape[1] != 2:
        raise InputError(f"coords must have two columns (x, y or lon, lat), got {xy.shape[1]}")
    return xy, bool(spherical)


class GWHakenModel:
    """Geographically weighted Haken model.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table with the two indices (two or more periods; every
        region needs at least one transition).  Not modified.
    q1, q2 : str
        Columns of the order parameter and the servo variable.
    coords : array-like (N, 2) or pandas.DataFrame, optional
        Region locations: rows in the order of first appearance of the
        regions in ``data``, or a DataFrame indexed by region with two
        columns.
    geometry : geopandas.GeoDataFrame, optional
        Boundaries indexed by region; distances between centroids as in the
        weights plugins (great-circle km for geographic layers, else
        projected km).
    spherical : bool, default False
        ``coords`` are (lon, lat) degrees: great-circle distances in km.
    region, year : str
        Column names of region ids and years.
    kernel : {"bisquare", "gaussian"}
    adaptive : bool, default True
        Bandwidth as a number of nearest regions (the region itself
        included) rather than a distance.
    constant : bool, default False
        Add a local intercept to each equation (k1, k2).
    window : (int, int), optional
        First and last year of a sub-period.

    Examples
    --------
    >>> from nqpspatial.plugins.local_haken import GWHakenModel, simulate_gw_panel
    >>> df, xy, truth = simulate_gw_panel(n_side=6, n_periods=8, seed=1)
    >>> res = GWHakenModel(df, "q1", "q2", coords=xy).fit()
    >>> res.params.shape
    (36, 4)
    """

    def __init__(
        self,
        data,
        q1: str,
        q2: str,
        *,
        coords=None,
        geometry=None,
        spherical: bool = False,
        region: str = "region",
        year: str = "year",
        kernel: str = "bisquare",
        adaptive: bool = True,
        constant: bool = False,
        window=None,
    ):
        if kernel not in KERNELS:
            raise InputError(f"kernel = {kernel!r}: use one of {', '.join(KERNELS)}")
        self.q1, self.q2 = str(q1), str(q2)
        self.kernel, self.adaptive, self.constant = kernel, bool(adaptive), bool(constant)
        self.panel = prepare_panel(data, q1, q2, region=region, year=year, window=window, min_periods=2)
        self.regions = list(pd.unique(self.panel["region"]))
        xy, self.spherical = _coords_for(self.regions, coords, geometry, spherical)
        self.coords = xy
        self.dist = distance_matrix(xy, self.spherical)
        self._sorted = np.sort(self.dist, axis=1) if self.adaptive else None
        self.equations = MappingProxyType(self._equations())
        self._kcache: dict = {}

    # ------------------------------------------------------------------ data
    def _equations(self) -> dict:
        p = self.panel
        g = p.groupby("region", sort=False)
        nxt1, nxt2 = g["q1"].shift(-1), g["q2"].shift(-1)
        keep = nxt1.notna().to_numpy()
        cur = p[keep]
        code = {r: i for i, r in enumerate(self.regions)}
        codes = cur["region"].map(code).to_numpy()
        self.transitions = cur[["region", "year"]].reset_index(drop=True)
        terms = haken_terms(cur["q1"].to_numpy(float), cur["q2"].to_numpy(float))
        out = {}
        for eq, y in (("q1", nxt1[keep]), ("q2", nxt2[keep])):
            cols = list(terms[eq]) + ([np.ones(int(keep.sum()))] if self.constant else [])
            out[eq] = _core.equation_data(np.column_stack(cols), y.to_numpy(float), codes, len(self.regions))
        return out

    @property
    def n_regions(self) -> int:
        """Number of regions (locations)."""
        return len(self.regions)

    @property
    def nobs(self) -> int:
        """Number of transitions."""
        return self.equations["q1"].n

    # ------------------------------------------------------------- kernels
    def kernel_matrix(self, bandwidth):
        """Kernel weights ``K[j, i]`` at ``bandwidth`` (see :func:`~._kernel.kernel_weights`)."""
        key = float(bandwidth)
        if key not in self._kcache:
            if len(self._kcache) >= 2:
                self._kcache.pop(next(iter(self._kcache)))
            self._kcache[key] = kernel_weights(
                self.dist, key, kernel=self.kernel, adaptive=self.adaptive, sorted_dist=self._sorted
            )
        return self._kcache[key]

    def criterion(self, bandwidth, equation: str = "q1", criterion: str = "aicc") -> float:
        """AICc or leave-one-region-out CV of one equation's local fits at ``bandwidth``."""
        _check_choice("criterion", criterion, CRITERIA)
        _check_choice("equation", equation, EQUATIONS)
        return _core.criterion_value(self.kernel_matrix(bandwidth), self.equations[equation], criterion)

    def search_interval(self, equation: str = "q1") -> tuple[float, float]:
        """Default bandwidth search interval (see :func:`~._kernel.default_search`)."""
        eq = self.equations[equation]
        return default_search(self.dist, adaptive=self.adaptive, n_local=eq.k, transitions=eq.n / eq.N)

    def select_bandwidth(self, equation: str = "q1", criterion: str = "aicc", search=None):
        """Golden-section search of one equation's bandwidth.

        Parameters
        ----------
        equation : {"q1", "q2"}
        criterion : {"aicc", "cv"}
        search : (float, float), optional
            Search interval; default :meth:`search_interval`.

        Returns
        -------
        tuple
            ``(bandwidth, score, history)``; ``history`` lists every
            ``(bandwidth, score)`` evaluated.
        """
        _check_choice("criterion", criterion, CRITERIA)
        lo, hi = self.search_interval(equation) if search is None else _check_search(search, self)
        if lo == hi:
            return lo, self.criterion(lo, equation, criterion), [(lo, self.criterion(lo, equation, criterion))]
        return golden_section(lo, hi, lambda bw: self.criterion(bw, equation, criterion), integer=self.adaptive)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        bandwidth="auto",
        *,
        criterion: str = "aicc",
        search=None,
        se: str = "cluster",
        alpha: float = 0.05,
        min_ratio: float = 1.0,
    ) -> "GWHakenResults":
        """Choose the bandwidths (unless given) and estimate the local parameters.

        Parameters
        ----------
        bandwidth : "auto", float or dict
            ``"auto"``: each equation's bandwidth by ``criterion``; a number
            (or ``numpy.inf``, the pooled fit) for both equations; or
            ``{"q1": bw1, "q2": bw2}``.
        criterion : {"aicc", "cv"}
            Bandwidth criterion (AICc of the transitions, or the mean squared
            leave-one-region-out prediction error).
        search : (float, float), optional
            Search interval of ``"auto"``.
        se : {"cluster", "gwr"}
            Region-clustered local sandwich (default) or the GWR formula for
            independent observations (the cross-section case).
        alpha : float
            Family-wise level of the local tests (adjusted as da Silva &
            Fotheringham 2016) and of the local verdicts.
        min_ratio : float
            The verdict needs ``|gamma2| > min_ratio |gamma1|``.

        Returns
        -------
        GWHakenResults
        """
        _check_choice("se", se, SE_TYPES)
        _check_choice("criterion", criterion, CRITERIA)
        if not 0 < alpha < 1:
            raise InputError(f"alpha must lie in (0, 1), got {alpha!r}")
        bws, history = {}, []
        for eq in EQUATIONS:
            bw = bandwidth.get(eq, "auto") if isinstance(bandwidth, dict) else bandwidth
            if isinstance(bw, str):
                if bw != "auto":
                    raise InputError(f'bandwidth = {bw!r}: give "auto" or a number')
                bw, _, hist = self.select_bandwidth(eq, criterion, search)
                history += [{"equation": eq, "bandwidth": b, "criterion": criterion, "score": s} for b, s in hist]
            bws[eq] = float(bw)
        fits = {eq: _core.local_fit(self.kernel_matrix(bws[eq]), self.equations[eq], se=se) for eq in EQUATIONS}
        return GWHakenResults(
            self,
            bws,
            fits,
            criterion=criterion,
            se=se,
            alpha=float(alpha),
            min_ratio=float(min_ratio),
            history=pd.DataFrame(history, columns=["equation", "bandwidth", "criterion", "score"]),
        )


def _check_choice(key, value, allowed):
    if value not in allowed:
        raise InputError(f"{key} = {value!r}: use one of {', '.join(allowed)}")


def _check_search(search, model) -> tuple[float, float]:
    try:
        lo, hi = (float(s) for s in search)
    except (TypeError, ValueError):
        raise InputError(f"search must be [min, max], got {search!r}") from None
    if not (0 < lo <= hi):
        raise InputError(f"search = [{lo:g}, {hi:g}]: give 0 < min <= max")
    if model.adaptive and hi > model.n_regions:
        raise InputError(f"search = [{lo:g}, {hi:g}]: an adaptive bandwidth counts regions, at most {model.n_regions}")
    return lo, hi


# ----------------------------------------------------------------------------- results
def _param_frames(model, fits, alpha):
    """Haken parameters, standard errors, t, p and adjusted critical values per region."""
    est, se, info = {}, {}, {}
    for eq in EQUATIONS:
        f = fits[eq]
        k = f["beta"].shape[1]
        for name, j, offset, sign in _PARAMS[eq][:k]:
            est[name] = offset + sign * f["beta"][:, j]
            se[name] = f["bse"][:, j]
        alpha_adj = min(alpha, alpha * k / f["tr_s"])
        info[eq] = {
            "bandwidth": None,
            "enp": f["tr_s"],
            "alpha_adj": alpha_adj,
            "df": f["df"],
            "t_crit": float(stats.t.ppf(1 - alpha_adj / 2, f["df"])),
            "aicc": f["aicc"],
            "aic": f["aic"],
            "rss": f["rss"],
            "sigma2": f["sigma2"],
            "n_obs": len(f["resid"]),
            "k": k,
        }
    idx = pd.Index(model.regions, name="region")
    est, se = pd.DataFrame(est, index=idx), pd.DataFrame(se, index=idx)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = pd.DataFrame(
        {
            c: 2 * stats.t.sf(np.abs(t[c]), info["q1" if c in ("gamma1", "a", "k1") else "q2"]["df"])
            for c in est.columns
        },
        index=idx,
    )
    return est, se, t, p, info


def _eq_of(term: str) -> str:
    return "q1" if term in ("gamma1", "a", "k1") else "q2"


class GWHakenResults(Results):
    """Results of a GW-Haken fit (immutable).

    Attributes
    ----------
    q1, q2 : str
        Names of the order parameter and the servo variable.
    bandwidths : mapping
        Equation (``"q1"``, ``"q2"``) -> bandwidth (regions or distance).
    params, bse, tvalues, pvalues : pandas.DataFrame
        Region x (gamma1, a, gamma2, b, and k1, k2 with a constant).
        ``pvalues`` are unadjusted; compare them with ``alpha_adj``.
    significant : pandas.DataFrame
        ``|t|`` above the equation's adjusted critical value.
    local_r2 : pandas.DataFrame
        Region x (q1, q2): local R^2.
    diagnostics : pandas.DataFrame
        Per equation: bandwidth, criterion, n_obs, ENP (tr S), AICc, AIC,
        RSS, sigma2, df, alpha_adj, t_crit.
    search_history : pandas.DataFrame
        Every bandwidth evaluated by the search and its score.
    table : pandas.DataFrame
        ``local_haken.csv``.
    """

    def __init__(self, model: GWHakenModel, bandwidths, fits, *, criterion, se, alpha, min_ratio, history):
        self._set("_model", model)
        self.q1, self.q2 = model.q1, model.q2
        self.bandwidths = MappingProxyType(dict(bandwidths))
        self.criterion, self.se, self.alpha, self.min_ratio = criterion, se, alpha, min_ratio
        est, bse, t, p, info = _param_frames(model, fits, alpha)
        for eq in EQUATIONS:
            info[eq]["bandwidth"] = bandwidths[eq]
        self._set("_fits", fits)
        self.params, self.bse, self.tvalues, self.pvalues = est, bse, t, p
        crit = pd.Series({c: info[_eq_of(c)]["t_crit"] for c in est.columns})
        self.significant = t.abs().gt(crit, axis=1)
        self.local_r2 = pd.DataFrame({eq: fits[eq]["local_r2"] for eq in EQUATIONS}, index=est.index)
        self.diagnostics = pd.DataFrame([{"equation": eq, "criterion": criterion, **info[eq]} for eq in EQUATIONS])
        self._set("_info", info)
        self.search_history = history
        self._set("_panel_std", model.panel.copy())
        pots = {}
        for r in est.index:
            row = est.loc[r]
            try:
                pots[r] = Potential(
                    row["gamma1"], row["a"], row["gamma2"], row["b"], k1=row.get("k1", 0.0), k2=row.get("k2", 0.0)
                )
            except ModelError:
                pots[r] = None
        self._set("_potentials", MappingProxyType(pots))
        self.table = self._local_table()
        self._freeze()

    # -------------------------------------------------------------- tables
    def potentials(self) -> dict:
        """Region -> local :class:`~nqpspatial.haken.Potential` (None for non-finite estimates)."""
        return dict(self._potentials)

    def _verdict(self, r) -> tuple:
        e, info = self.params.loc[r], self._info["q2"]
        return adiabatic_verdict(
            float(e["gamma1"]),
            float(e["gamma2"]),
            float(self.pvalues.at[r, "gamma2"]),
            alpha=info["alpha_adj"],
            min_ratio=self.min_ratio,
        )

    def _local_table(self) -> pd.DataFrame:
        est, se, t = self.params, self.bse, self.tvalues
        tab = pd.DataFrame({"region": est.index.to_numpy(), "bandwidth": self.bandwidths["q1"]})
        for c in est.columns:
            tab[c] = est[c].to_numpy()
            tab[f"se_{c}"] = se[c].to_numpy()
            tab[f"t_{c}"] = t[c].to_numpy()
        tab["r2_q1"] = self.local_r2["q1"].to_numpy()
        tab["r2_q2"] = self.local_r2["q2"].to_numpy()
        verdicts = [self._verdict(r) for r in est.index]
        tab["verdict"] = [v[1] for v in verdicts]
        pots = [self._potentials[r] for r in est.index]
        tab["case"] = [p.case if p is not None else 0 for p in pots]
        tab["q1_star"] = [p.stable_point[0] if p is not None and p.stable_point else np.nan for p in pots]
        tab["map_stable"] = pd.array([p.map_stable if p is not None else None for p in pots], dtype="boolean")
        tab["bandwidth_q2"] = self.bandwidths["q2"]
        for c in est.columns:
            tab[f"sig_{c}"] = self.significant[c].to_numpy()
        tab["t_crit_q1"] = self._info["q1"]["t_crit"]
        tab["t_crit_q2"] = self._info["q2"]["t_crit"]
        tab["ratio"] = [v[0] for v in verdicts]
        tab["V_star"] = [p.stable_point[1] if p is not None and p.stable_point else np.nan for p in pots]
        tab["reason"] = [v[2] for v in verdicts]
        return tab

    def coevolution(self, strategy: str = "auto", *, domain="unit", grades=None, labels=None, labels_zh=None):
        """Co-evolution level h per region-year from each region's local potential.

        As :func:`nqpspatial.haken.coevolution`, but a region whose local
        potential does not support the strategy (e.g. gamma2 <= 0) gets
        empty V, d, h and grade instead of stopping the others; ``"auto"``
        is resolved over the supported regions.

        Returns
        -------
        tuple
            ``(CoevolutionResults, unsupported)``: the table of every
            region-year and the list of regions left empty.
        """
        return _local_coevolution(self, strategy, domain=domain, grades=grades, labels=labels, labels_zh=labels_zh)

    def nonstationarity_test(
        self, permutations: int = 99, *, seed=None, backend=None, progress=None
    ) -> "NonstationarityResults":
        """Permutation test of the spatial non-stationarity of each parameter.

        Whole regions (all their transitions) are permuted over the
        locations; the local parameters and their region-clustered standard
        errors are re-estimated with the fitted bandwidths held fixed.  The
        statistic is the precision-weighted variance of each parameter's
        local estimates, ``sum_j (beta_j - beta_w)^2 / se_j^2 / N``; the
        plain variance of Fotheringham, Brunsdon & Charlton (2002, section
        4.5) is reported beside it with its own p-value.
        ``p = (1 + #{S_perm >= S_obs}) / (1 + P)``; the test rejects when
        ``p <= alpha``.

        Parameters
        ----------
        permutations : int
            Number of permutations (>= 1).
        seed : None, int or numpy.random.Generator
            Chunk ``i`` of :data:`PERMUTATION_CHUNK` permutations draws from
            the ``i``-th child of the seed's SeedSequence.
        backend : backend object, optional
            :mod:`nqpspatial.backends` backend of the chunks (same numbers on
            every backend).

        Returns
        -------
        NonstationarityResults
        """
        if isinstance(permutations, bool) or int(permutations) != permutations or permutations < 1:
            raise InputError(f"permutations must be a positive whole number, got {permutations!r}")
        return _permutation_test(self, int(permutations), seed, backend, progress)

    def summary(self) -> Summary:
        """Bandwidths, fit diagnostics and the distribution of the local parameters."""
        d = self.diagnostics
        facts = {
            "q1 (order parameter)": self.q1,
            "q2 (servo)": self.q2,
            "regions": len(self.params),
            "transitions": int(d["n_obs"].iloc[0]),
            "kernel": f"{self._model.kernel} ({'adaptive' if self._model.adaptive else 'fixed'})",
            "bandwidth q1 / q2": f"{self.bandwidths['q1']:g} / {self.bandwidths['q2']:g}",
            "standard errors": "region-clustered local sandwich" if self.se == "cluster" else "GWR",
            "local verdict holds": f"{int(self.table['verdict'].sum())} of {len(self.params)} regions",
        }
        desc = self.params.describe().T[["mean", "std", "min", "25%", "50%", "75%", "max"]]
        desc.insert(0, "term", desc.index)
        share = self.significant.mean()
        desc["share_significant"] = share.reindex(desc.index).to_numpy()
        notes = ("significance: |t| above the da Silva & Fotheringham (2016) critical value of the equation",)
        return Summary(
            "Geographically weighted Haken model",
            facts,
            {"diagnostics": d, "local parameters": desc.reset_index(drop=True)},
            notes,
        )


# ----------------------------------------------------------------------------- co-evolution
def _local_coevolution(res, strategy, **kw):
    from nqpspatial.haken.coevolution import coevolution, resolve_strategy

    pots = res.potentials()
    panel = res._panel_std
    probe, _ = resolve_strategy(strategy, [p for p in pots.values() if p is not None and p.valid])
    ok = {r: p for r, p in pots.items() if p is not None and probe.supports(p)}
    bad = [r for r in pots if r not in ok]
    name = probe.name if strategy == "auto" and bad else strategy
    if not ok:
        raise ModelError(
            f"no region's local potential supports the co-evolution strategy {probe.name!r} "
            "(gamma2 <= 0 everywhere, or no stable point)"
        )
    part = coevolution(panel[panel["region"].isin(list(ok))], ok, strategy=name, names=(res.q1, res.q2), **kw)
    tab = part.table
    if bad:
        rest = panel[panel["region"].isin(bad)][["region", "year", "q1", "q2"]]
        tab = pd.concat([tab, rest.assign(strategy=part.strategy, in_domain=False)], ignore_index=True)
        order = {r: i for i, r in enumerate(pots)}
        tab = tab.assign(_o=tab["region"].map(order)).sort_values(["_o", "year"], kind="stable")
        tab = tab.drop(columns="_o").reset_index(drop=True)
        tab["in_domain"] = tab["in_domain"].astype(bool)
    from nqpspatial.haken.coevolution import CoevolutionResults

    reason = part.reason + (f"; {len(bad)} region(s) without a supported local potential left empty" if bad else "")
    return CoevolutionResults(tab, part.strategy, reason, part.domain, part.names), bad


# ----------------------------------------------------------------------------- permutation test
def _permutation_chunk(payload, task):
    """Statistics of the local coefficients under ``task.size`` region permutations (module level)."""
    rng = task.rng()
    N = payload["N"]
    perms = np.stack([rng.permutation(N) for _ in range(task.size)])
    return {eq: _core.permutation_statistics(payload["K"][eq], payload["eq"][eq], perms) for eq in EQUATIONS}


class NonstationarityResults(Results):
    """Permutation test of spatial non-stationarity (immutable).

    Attributes
    ----------
    table : pandas.DataFrame
        ``local_haken_tests.csv``: one row per parameter with the observed
        statistic (the precision-weighted variance of the local estimates),
        its permutation mean and 95 % quantile, the p-value and the decision
        at ``alpha``; the plain variance of the local estimates with its own
        p-value (``variance``, ``p_variance``).
    draws : pandas.DataFrame
        The permutation statistics (one row per permutation, one column per
        parameter).
    """

    def __init__(self, table, draws):
        self.table = table
        self.draws = draws
        self._freeze()

    def summary(self) -> Summary:
        """The test table."""
        return Summary(
            "Spatial non-stationarity of the GW-Haken parameters (region permutations)",
            {"permutations": int(self.table["permutations"].iloc[0])},
            {"tests": self.table},
        )


def _pvalue(draws: np.ndarray, observed: float) -> float:
    return (1.0 + float(np.sum(draws >= observed))) / (len(draws) + 1.0)


def _permutation_test(res: GWHakenResults, P: int, seed, backend, progress) -> NonstationarityResults:
    from nqpspatial.backends import run_chunks

    model = res._model
    K = {eq: model.kernel_matrix(res.bandwidths[eq]) for eq in EQUATIONS}
    payload = {"N": model.n_regions, "K": K, "eq": dict(model.equations)}
    parts = run_chunks(
        _permutation_chunk,
        payload,
        P,
        seed=as_rng(seed),
        chunk_size=PERMUTATION_CHUNK,
        backend=backend,
        progress=progress,
    )
    identity = np.arange(model.n_regions)[None, :]
    rows, draws = [], {}
    for eq in EQUATIONS:
        w_obs, v_obs = (x[0] for x in _core.permutation_statistics(K[eq], model.equations[eq], identity))
        w_perm = np.concatenate([p[eq][0] for p in parts], axis=0)
        v_perm = np.concatenate([p[eq][1] for p in parts], axis=0)
        for name, j, _, _ in _PARAMS[eq][: model.equations[eq].k]:
            pval = _pvalue(w_perm[:, j], w_obs[j])
            draws[name] = w_perm[:, j]
            rows.append(
                {
                    "parameter": name,
                    "equation": eq,
                    "bandwidth": res.bandwidths[eq],
                    "statistic": float(w_obs[j]),
                    "p_value": pval,
                    "permutations": P,
                    "reject": bool(pval <= res.alpha),
                    "alpha": res.alpha,
                    "perm_mean": float(w_perm[:, j].mean()),
                    "perm_q95": float(np.quantile(w_perm[:, j], 0.95)),
                    "variance": float(v_obs[j]),
                    "sd_local": math.sqrt(v_obs[j]),
                    "p_variance": _pvalue(v_perm[:, j], v_obs[j]),
                    "method": "precision-weighted variance of the local estimates; whole regions "
                    "permuted over locations; bandwidth fixed",
                }
            )
    return NonstationarityResults(pd.DataFrame(rows), pd.DataFrame(draws))
