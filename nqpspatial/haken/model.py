"""Estimation of the discrete Haken model (statsmodels style).

The annual map (see :mod:`nqpspatial.haken.system`) is linear in its
coefficients, so each equation is an OLS regression pooled over regions and
transitions ``t -> t+1``:

* ``q1(t+1)`` on ``q1(t)`` and ``q1(t) q2(t)``: ``gamma1 = 1 - c_lag``,
  ``a = -c_inter``;
* ``q2(t+1)`` on ``q2(t)`` and ``q1(t)^2``: ``gamma2 = 1 - c_lag``,
  ``b = c_inter``.

Options: a common intercept, region fixed effects (LSDV; biased with short
panels, Nickell 1981; optional split-panel jackknife of Dhaene & Jochmans
2015), separate fits by region or by group, a sub-period window, and
classical, HC1 or region-clustered standard errors (statsmodels covariance
types, always with t reference distributions).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..errors import InputError, NqpWarning
from .bootstrap import cluster_bootstrap, region_cross_products

__all__ = ["HakenModel", "ShortPanelWarning", "SE_TYPES", "EFFECTS", "BY", "TERMS",
           "SHORT_PANEL_PERIODS", "as_rng", "prepare_panel", "check_groups", "haken_terms",
           "haken_params"]

SE_TYPES = ("classical", "hc1", "cluster")
EFFECTS = ("none", "region")
BY = ("none", "region", "group")
TERMS = ("gamma1", "a", "gamma2", "b")
#: Region fixed effects with fewer periods than this emit a :class:`ShortPanelWarning`.
SHORT_PANEL_PERIODS = 20


class ShortPanelWarning(NqpWarning):
    """Region fixed effects with fewer than 20 periods (Nickell bias)."""


def as_rng(seed) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``seed`` (None, an int, a SeedSequence or a Generator).

    A Generator is returned as is, so that callers share its stream.

    Raises
    ------
    InputError
        For any other type.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    raise InputError(f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}")


# --------------------------------------------------------------------------- input
def prepare_panel(data, q1, q2, *, region="region", year="year", window=None,
                  min_periods: int = 3) -> pd.DataFrame:
    """Validated region-year panel of two indices (shared by the aspatial and spatial models).

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table with the two index columns.  Not modified.
    q1, q2 : str
        Columns of the order-parameter candidate and of the servo variable.
    region, year : str
        Column names of region ids and years.
    window : (int, int), optional
        First and last year (inclusive) to keep.
    min_periods : int, default 3
        Fewest periods accepted (the geographically weighted model takes 2:
        one transition per region).

    Returns
    -------
    pandas.DataFrame
        A copy with columns ``region, year, q1, q2`` (year as int64), sorted
        by region (in order of first appearance) then year, with a fresh
        RangeIndex.

    Raises
    ------
    InputError
        Missing columns, q1 == q2, missing or non-numeric cells (the message
        names the rows), non-integer years, duplicate region-years, an empty
        window, fewer than ``min_periods`` periods, single-year regions or unequally spaced
        years.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame with columns {region!r}, {year!r} and the two "
                         f"subsystem indices; got {type(data).__name__}")
    missing = [c for c in (region, year, q1, q2) if c not in data.columns]
    if missing:
        raise InputError(f"column(s) {missing} not found in the data (columns: {list(data.columns)}); "
                         "name the region/year columns with region=/year= and the indices with q1=/q2=")
    if q1 == q2:
        raise InputError(f"q1 and q2 are both {q1!r}: name two different subsystem columns")
    df = pd.DataFrame({
        "region": data[region].to_numpy(), "year": data[year].to_numpy(),
        "q1": pd.to_numeric(data[q1], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        "q2": pd.to_numeric(data[q2], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
    }, index=data.index)
    for name, col in ((q1, "q1"), (q2, "q2")):
        bad = df.index[~np.isfinite(df[col].to_numpy())]
        if len(bad):
            shown = [f"{df.at[i, 'region']}/{df.at[i, 'year']}" for i in bad[:10]]
            more = " ..." if len(bad) > 10 else ""
            rows = (f"row {bad[0]}" if len(bad) == 1
                    else f"rows {', '.join(map(str, bad[:10]))}{more}")
            raise InputError(f"column {name!r} has {len(bad)} missing, non-numeric or infinite cell(s) "
                             f"at {rows} (region/year: {shown}{more}); fill or correct "
                             "them before fitting (nothing is imputed silently)")
    yr = pd.to_numeric(df["year"], errors="coerce")
    if yr.isna().any() or not np.all(np.mod(yr.to_numpy(dtype=float), 1) == 0):
        raise InputError(f"column {year!r} must hold whole years; fix the non-integer cells")
    df["year"] = yr.astype("int64")
    dup = df.duplicated(["region", "year"], keep=False)
    if dup.any():
        pairs = df.loc[dup, ["region", "year"]].drop_duplicates().head(10)
        raise InputError(f"duplicate region-year rows: {list(map(tuple, pairs.to_numpy()))}; keep one row "
                         "per region and year")
    if window is not None:
        try:
            first, last = (int(w) for w in window)
        except (TypeError, ValueError):
            raise InputError(f"window must be [first_year, last_year], got {window!r}") from None
        if first >= last:
            raise InputError(f"window [{first}, {last}]: the first year must precede the last")
        span = (int(df["year"].min()), int(df["year"].max()))
        df = df[(df["year"] >= first) & (df["year"] <= last)]
        if df.empty:
            raise InputError(f"window [{first}, {last}] contains no year of the data (years "
                             f"{span[0]}-{span[1]}); choose first and last years inside that range")
    order = {r: i for i, r in enumerate(pd.unique(df["region"]))}
    df = df.assign(_o=df["region"].map(order)).sort_values(["_o", "year"]).drop(columns="_o")
    df = df.reset_index(drop=True)
    years = np.sort(df["year"].unique())
    if len(years) < min_periods:
        raise InputError(f"the Haken model needs at least {min_periods} periods; the data (window) has "
                         f"{len(years)}: {[int(y) for y in years]}")
    step = int(np.min(np.diff(years)))
    for r, g in df.groupby("region", sort=False):
        y = g["year"].to_numpy()
        if len(y) < 2:
            raise InputError(f"region {r!r} has a single year ({y[0]}); each region needs at least two "
                             "consecutive periods")
        if np.any(np.diff(y) != step):
            full = set(range(int(y[0]), int(y[-1]) + 1, step))
            raise InputError(f"region {r!r}: years are not equally spaced (step {step}); missing "
                             f"{sorted(full - set(y.tolist()))}. Fill the gap or set a window")
    return df


def check_groups(groups, regions, *, fix="add rows 'region,group' for them") -> pd.Series:
    """Check that a region -> group mapping gives every region a group.

    Parameters
    ----------
    groups : pandas.Series or mapping
        Region id -> group label (a region scheme).
    regions : iterable
        Region ids that need a group.
    fix : str
        How to fix a gap (appended to the error message).

    Returns
    -------
    pandas.Series
        The mapping as a Series (not reindexed).

    Raises
    ------
    InputError
        When some region has no group or an empty (missing) one.
    """
    gmap = groups if isinstance(groups, pd.Series) else pd.Series(groups)
    known = gmap.index[gmap.notna().to_numpy()]
    miss = [r for r in pd.unique(pd.Index(list(regions))) if r not in known]
    if miss:
        raise InputError(f"regions {miss[:10]} have no group in the scheme; {fix}")
    return gmap


def _scheme_groups(groups, regions):
    """Resolve a scheme name (registered plugin) or scheme CSV path to a Series region -> group."""
    import os

    if not isinstance(groups, (str, os.PathLike)):
        return groups
    from .. import registry

    if isinstance(groups, str) and groups in registry.available("schemes"):
        return registry.get("schemes", groups).load(regions)
    from nqpspatial.geodata import load_scheme

    return load_scheme(groups, regions)


def haken_terms(q1, q2) -> dict:
    """Regressors of the two Haken equations (arrays of any shape, or Series).

    Returns
    -------
    dict
        ``{"q1": (q1, q1 q2), "q2": (q2, q1^2)}``: the own lag and the
        interaction term of the q1 and q2 equations.
    """
    return {"q1": (q1, q1 * q2), "q2": (q2, q1 * q1)}


def haken_params(lag1, inter1, lag2, inter2) -> dict:
    """Haken parameters from the coefficients (or effects) of the equations' terms.

    ``gamma1 = 1 - lag1``, ``a = -inter1``, ``gamma2 = 1 - lag2``,
    ``b = inter2``; works element-wise on arrays of draws.

    Returns
    -------
    dict
        ``gamma1, a, gamma2, b``.
    """
    return {"gamma1": 1.0 - lag1, "a": -inter1, "gamma2": 1.0 - lag2, "b": inter2}


# -------------------------------------------------------------------------- design
class _Design:
    """Lagged regression design of both equations for one panel."""

    def __init__(self, panel: pd.DataFrame, intercept: bool, effects: str):
        g = panel.groupby("region", sort=False)
        nxt1 = g["q1"].shift(-1)
        nxt2 = g["q2"].shift(-1)
        keep = nxt1.notna().to_numpy()
        cur = panel[keep]
        self.region = cur["region"].to_numpy()
        self.year = cur["year"].to_numpy()
        self.regions = list(pd.unique(panel["region"]))
        code = {r: i for i, r in enumerate(self.regions)}
        self.codes = np.array([code[r] for r in self.region], dtype=int)
        q1 = cur["q1"].to_numpy()
        q2 = cur["q2"].to_numpy()
        self.y1 = nxt1[keep].to_numpy(dtype=float)
        self.y2 = nxt2[keep].to_numpy(dtype=float)
        idx = pd.RangeIndex(len(q1))
        terms = haken_terms(q1, q2)
        X1 = pd.DataFrame(dict(zip(("lag", "inter"), terms["q1"])), index=idx)
        X2 = pd.DataFrame(dict(zip(("lag", "inter"), terms["q2"])), index=idx)
        if intercept:
            X1["const"] = 1.0
            X2["const"] = 1.0
        if effects == "region":
            dummies = pd.DataFrame(
                (self.codes[:, None] == np.arange(len(self.regions))[None, :]).astype(float),
                columns=[f"region[{r}]" for r in self.regions], index=idx)
            X1 = pd.concat([X1, dummies], axis=1)
            X2 = pd.concat([X2, dummies], axis=1)
        self.X1, self.X2 = X1, X2
        self.intercept = intercept
        self.effects = effects
        self.nobs = len(q1)

    def subset(self, mask: np.ndarray) -> "_Design":
        new = object.__new__(_Design)
        new.region, new.year = self.region[mask], self.year[mask]
        new.regions = [r for r in self.regions if r in set(new.region)]
        code = {r: i for i, r in enumerate(new.regions)}
        new.codes = np.array([code[r] for r in new.region], dtype=int)
        new.y1, new.y2 = self.y1[mask], self.y2[mask]
        keep_cols = lambda X: X.loc[mask, [c for c in X.columns if not c.startswith("region[")
                                           or c[7:-1] in set(map(str, new.regions))]]
        new.X1 = keep_cols(self.X1).reset_index(drop=True)
        new.X2 = keep_cols(self.X2).reset_index(drop=True)
        new.intercept, new.effects, new.nobs = self.intercept, self.effects, int(mask.sum())
        return new

    def slope_cols(self):
        return ["lag", "inter"] + (["const"] if self.intercept else [])

    def within(self, X: pd.DataFrame, y: np.ndarray):
        """Slope columns (within-transformed by region when effects='region') and y."""
        Xs = X[self.slope_cols()].to_numpy(dtype=float)
        y = np.asarray(y, float)
        if self.effects == "region":
            n = len(self.regions)
            cnt = np.bincount(self.codes, minlength=n).astype(float)
            mx = np.stack([np.bincount(self.codes, Xs[:, j], minlength=n) for j in range(Xs.shape[1])], 1)
            my = np.bincount(self.codes, y, minlength=n)
            Xs = Xs - (mx / cnt[:, None])[self.codes]
            y = y - (my / cnt)[self.codes]
        return Xs, y


def _ols(y, X, se, codes):
    model = sm.OLS(np.asarray(y, float), X)
    if se == "classical":
        return model.fit(use_t=True)
    if se == "hc1":
        return model.fit(cov_type="HC1", use_t=True)
    return model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)


def _half_masks(design: _Design):
    years = np.unique(design.year)
    m = len(years)
    h = math.ceil(m / 2)
    first, second = set(years[:h].tolist()), set(years[m - h:].tolist())
    return (np.array([y in first for y in design.year]), np.array([y in second for y in design.year]))


# --------------------------------------------------------------------------- model
class HakenModel:
    """Discrete Haken model of two subsystem indices.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table holding the two indices (e.g. ``ctx.indices`` or
        the output ``indices.csv``).  Not modified.
    q1, q2 : str
        Columns of the order-parameter candidate and of the servo variable.
    region, year : str, default "region", "year"
        Column names of region ids and years.
    intercept : bool, default False
        Add a common intercept to each equation (``k1``, ``k2``).
    effects : {"none", "region"}, default "none"
        Region fixed effects (region-specific intercepts, LSDV).  Biased
        with short panels; a :class:`ShortPanelWarning` is emitted with
        fewer than 20 periods unless ``fit(jackknife=True)``.
    se : {"classical", "hc1", "cluster"}, default "classical"
        Standard errors: OLS, HC1, or clustered by region.
    window : (int, int), optional
        First and last year (inclusive) of a sub-period.
    by : {"none", "region", "group"}, default "none"
        Pooled fit, one fit per region, or one fit per group of ``groups``.
    groups : pandas.Series, mapping, str or path, optional
        Region id -> group (needed for ``by="group"``), or a region scheme by
        name (a ``nqpspatial.schemes`` plugin such as ``"eight-zones"``) or a
        CSV file with columns ``region`` and ``group``
        (:func:`nqpspatial.geodata.load_scheme`).

    Examples
    --------
    >>> from nqpspatial.haken import HakenModel, simulate_panel
    >>> df = simulate_panel(-0.1, 0.35, 0.6, 0.35, seed=1)
    >>> res = HakenModel(df, "q1", "q2").fit(bootstrap=199, seed=1)
    >>> round(res.params["gamma2"], 1)
    0.6
    """

    def __init__(self, data, q1: str, q2: str, *, region="region", year="year", intercept=False,
                 effects="none", se="classical", window=None, by="none", groups=None):
        if se not in SE_TYPES:
            raise InputError(f"se={se!r} is not valid; use one of {list(SE_TYPES)}")
        if effects not in EFFECTS:
            raise InputError(f"effects={effects!r} is not valid; use one of {list(EFFECTS)}")
        if by not in BY:
            raise InputError(f"by={by!r} is not valid; use one of {list(BY)}")
        if intercept and effects == "region":
            raise InputError("intercept=True with effects='region': region effects already contain the "
                             "intercept; use one of the two")
        if by == "region" and effects == "region":
            raise InputError("by='region' with effects='region': a fit of one region cannot have region "
                             "effects; use effects='none' (or intercept=True) with by='region'")
        self.q1, self.q2 = str(q1), str(q2)
        self.region_col, self.year_col = region, year
        self.intercept, self.effects, self.se = bool(intercept), effects, se
        self.window = None if window is None or len(window) == 0 else tuple(int(w) for w in window)
        self.by = by
        self.panel = prepare_panel(data, q1, q2, region=region, year=year, window=self.window)
        self.groups = None
        if by == "group":
            if groups is None:
                raise InputError("by='group' needs groups (a region -> group mapping, e.g. the "
                                 "[regions] scheme CSV with columns region,group)")
            self.groups = check_groups(_scheme_groups(groups, self.panel["region"]), self.panel["region"])
        if se == "cluster" and self.panel["region"].nunique() < 2 and by == "none":
            raise InputError("se='cluster' needs at least two regions")
        self.periods = int(self.panel["year"].nunique())

    # ------------------------------------------------------------------ fit
    def fit(self, bootstrap: int = 999, seed=None, alpha: float = 0.05, min_ratio: float = 1.0,
            jackknife: bool = False, legacy_stable_point: bool = False, backend=None):
        """Estimate the model.

        Parameters
        ----------
        bootstrap : int, default 999
            Number of cluster-bootstrap resamples over regions (0: none).
        seed : None, int or numpy.random.Generator
            Source of the bootstrap's randomness (same seed, same output).
            The resamples are drawn in fixed-size chunks, chunk ``i`` from the
            ``i``-th child of a :class:`numpy.random.SeedSequence` derived from
            ``seed`` (see :func:`~nqpspatial.haken.bootstrap.cluster_bootstrap`).
        alpha : float, default 0.05
            Significance level of the verdict and 1 - confidence level.
        min_ratio : float, default 1.0
            The adiabatic verdict needs ``|gamma2| > min_ratio * |gamma1|``.
        jackknife : bool, default False
            Split-panel jackknife bias correction (Dhaene & Jochmans 2015):
            ``theta = 2 theta_full - (theta_half1 + theta_half2) / 2`` with
            halves of ``ceil(m/2)`` transition years each (they share the
            middle year when ``m`` is odd).  Meant for ``effects="region"``.
        legacy_stable_point : bool, default False
            Report the legacy point ``sqrt(|g1 g2/(ab)|)`` (warns).
        backend : backend object, optional
            Execution backend of the bootstrap chunks, from
            :func:`nqpspatial.backends.open_backend` (default in-process).
            The same seed gives the same draws on every backend and worker
            count.

        Returns
        -------
        HakenResults or HakenByResults
            ``HakenByResults`` when ``by`` is "region" or "group".
        """
        from .results import HakenByResults

        if int(bootstrap) != bootstrap or bootstrap < 0:
            raise InputError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must lie in (0, 1), got {alpha!r}")
        if not min_ratio >= 0:
            raise InputError(f"min_ratio must be >= 0, got {min_ratio!r}")
        rng = as_rng(seed)
        opts = dict(bootstrap=int(bootstrap), alpha=float(alpha), min_ratio=float(min_ratio),
                    jackknife=bool(jackknife), legacy_stable_point=bool(legacy_stable_point))
        if self.effects == "region" and self.periods < SHORT_PANEL_PERIODS and not jackknife:
            warnings.warn(
                f"region fixed effects with {self.periods} periods: the coefficients on the lagged "
                "indices (gamma1, gamma2) are biased in short panels (Nickell 1981) and can take the "
                "wrong sign; use fit(jackknife=True) (config: jackknife = true) or effects='none'",
                ShortPanelWarning, stacklevel=2)
        if self.by == "none":
            return _fit_unit(self, self.panel, rng, opts, unit=None, backend=backend)
        if self.by == "region":
            units = {r: g for r, g in self.panel.groupby("region", sort=False)}
        else:
            lab = self.panel["region"].map(self.groups)
            units = {k: g for k, g in self.panel.groupby(lab, sort=True)}
        children = rng.spawn(len(units))
        fits = {}
        notes = []
        for (label, sub), child in zip(units.items(), children):
            o = dict(opts)
            if sub["region"].nunique() < 2 and o["bootstrap"]:
                o["bootstrap"] = 0
                if self.by == "group":
                    notes.append(f"group {label!r} has a single region: no cluster bootstrap")
            fits[label] = _fit_unit(self, sub.reset_index(drop=True), child, o, unit=label, backend=backend)
        if self.by == "region" and opts["bootstrap"]:
            notes.append("by='region': a cluster bootstrap over one region is impossible; intervals "
                         "come from the standard errors")
        return HakenByResults(self, fits, notes)


def _param_table(design, res1, res2, c1, c2, se):
    """Model parameters from the two equations' coefficients (c1, c2: Series)."""
    out = {}
    df1 = getattr(res1, "df_resid_inference", None) or res1.df_resid
    df2 = getattr(res2, "df_resid_inference", None) or res2.df_resid
    b1, b2 = res1.bse, res2.bse
    est = haken_params(c1["lag"], c1["inter"], c2["lag"], c2["inter"])
    spec = [("gamma1", est["gamma1"], b1["lag"], df1), ("a", est["a"], b1["inter"], df1),
            ("gamma2", est["gamma2"], b2["lag"], df2), ("b", est["b"], b2["inter"], df2)]
    if design.intercept:
        spec += [("k1", c1["const"], b1["const"], df1), ("k2", c2["const"], b2["const"], df2)]
    for term, est, s, df in spec:
        t = est / s if s > 0 else float("nan")
        p = 2 * stats.t.sf(abs(t), df) if s > 0 else float("nan")
        out[term] = dict(estimate=float(est), std_err=float(s), t=float(t), p=float(p), df=float(df))
    return pd.DataFrame(out).T


def _fit_unit(model: HakenModel, panel: pd.DataFrame, rng, opts, unit, backend=None):
    from .results import BootstrapResults, HakenResults

    design = _Design(panel, model.intercept, model.effects)
    if design.nobs <= design.X1.shape[1]:
        raise InputError(f"{'unit ' + repr(unit) + ': ' if unit is not None else ''}{design.nobs} "
                         f"transitions are too few for {design.X1.shape[1]} coefficients per equation")
    res1 = _ols(design.y1, design.X1, model.se, design.codes)
    res2 = _ols(design.y2, design.X2, model.se, design.codes)
    c1, c2 = res1.params.copy(), res2.params.copy()
    jk = None
    if opts["jackknife"]:
        m1, m2 = _half_masks(design)
        if len(np.unique(design.year)) < 4:
            raise InputError("the split-panel jackknife needs at least 4 transition years (5 periods)")
        halves = []
        for mask in (m1, m2):
            d = design.subset(mask)
            h1 = sm.OLS(d.y1, d.X1).fit().params
            h2 = sm.OLS(d.y2, d.X2).fit().params
            halves.append((h1, h2))
        cols = design.slope_cols()
        jk = {}
        for eq, (c, idx, y, X) in enumerate(((c1, 0, design.y1, design.X1), (c2, 1, design.y2, design.X2))):
            full = c[cols].copy()
            corr = 2 * full - 0.5 * (halves[0][idx][cols] + halves[1][idx][cols])
            jk[f"eq{eq + 1}"] = pd.DataFrame({"full": full, "half1": halves[0][idx][cols],
                                              "half2": halves[1][idx][cols], "jackknife": corr})
            c.loc[cols] = corr
            if design.effects == "region":
                resid = y - X[cols].to_numpy() @ corr.to_numpy()
                fe = np.bincount(design.codes, resid) / np.bincount(design.codes)
                for i, r in enumerate(design.regions):
                    c[f"region[{r}]"] = fe[i]
    params = _param_table(design, res1, res2, c1, c2, model.se)
    boot = None
    B = opts["bootstrap"]
    if B > 0:
        n = len(design.regions)
        equations = []
        for eq, (X, y) in enumerate(((design.X1, design.y1), (design.X2, design.y2))):
            if opts["jackknife"]:
                parts = []
                for wgt, d in ((2.0, design), (-0.5, design.subset(m1)), (-0.5, design.subset(m2))):
                    Xs, ys = d.within(d.X1 if eq == 0 else d.X2, d.y1 if eq == 0 else d.y2)
                    # sub-designs keep every region of a balanced panel; map codes to the full list
                    codes = np.array([design.regions.index(r) for r in d.region])
                    parts.append((wgt, *region_cross_products(Xs, ys, codes, n)))
            else:
                Xs, ys = design.within(X, y)
                parts = [(1.0, *region_cross_products(Xs, ys, design.codes, n))]
            equations.append(parts)
        d1, d2 = cluster_bootstrap(equations, n, B, seed=rng, backend=backend)
        tab = haken_params(d1[:, 0], d1[:, 1], d2[:, 0], d2[:, 1])
        if design.intercept:
            tab["k1"] = d1[:, 2]
            tab["k2"] = d2[:, 2]
        boot = BootstrapResults(pd.DataFrame(tab), alpha=opts["alpha"], min_ratio=opts["min_ratio"],
                                n_clusters=n)
    return HakenResults(model, panel, design, res1, res2, c1, c2, params, boot, jk, opts, unit=unit)
