"""Estimation of the discrete Haken model (statsmodels-style API).

The annual map (see :mod:`nqpspatial.haken.system`) is linear in its
coefficients, so each equation is an OLS regression pooled over regions and
transitions ``t -> t+1``:

* ``q1(t+1)`` on ``q1(t)`` and ``q1(t) q2(t)``: ``gamma1 = 1 - c_lag``,
  ``a = -c_inter``;
* ``q2(t+1)`` on ``q2(t)`` and ``q1(t)^2``: ``gamma2 = 1 - c_lag``,
  ``b = c_inter``.

Options: a common intercept, region, year or two-way fixed effects
(biased with short panels, Nickell 1981; optional split-panel jackknife of
Dhaene & Jochmans 2015 or analytic correction), separate fits by region or
by group, a sub-period window, and classical, HC1, region-clustered,
Driscoll-Kraay or two-way clustered standard errors (always with t
reference distributions).  The fixed effects are absorbed by the within
transformation (:mod:`nqpspatial.haken.within`), never built as dummy
columns: the estimates, standard errors and degrees of freedom equal
statsmodels' on the dummy-column (LSDV) design, at a cost linear in the rows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError, NqpWarning
from .bootstrap import cluster_bootstrap, region_cross_products

__all__ = [
    "HakenModel",
    "ShortPanelWarning",
    "SE_TYPES",
    "EFFECTS",
    "REGION_EFFECTS",
    "BOOTSTRAP_SCHEMES",
    "CORRECTIONS",
    "ANALYTIC_TRIM",
    "BY",
    "TERMS",
    "SHORT_PANEL_PERIODS",
    "as_rng",
    "prepare_panel",
    "check_groups",
    "haken_terms",
    "haken_params",
]

SE_TYPES = ("classical", "hc1", "cluster", "driscoll-kraay", "twoway")
EFFECTS = ("none", "region", "year", "two-way")
#: Effects that carry the Nickell (1981) bias of region fixed effects in short panels.
REGION_EFFECTS = ("region", "two-way")
BOOTSTRAP_SCHEMES = ("region", "wild-year")
CORRECTIONS = ("none", "jackknife", "analytic")
#: Lag truncation of the analytic correction (chosen by benchmarks/mc_bias.py, docs/inference.md).
ANALYTIC_TRIM = 2
BY = ("none", "region", "group")
TERMS = ("gamma1", "a", "gamma2", "b")
#: Region fixed effects with fewer periods than this emit a :class:`ShortPanelWarning`.
SHORT_PANEL_PERIODS = 20


class ShortPanelWarning(NqpWarning):
    """Region (or two-way) fixed effects with fewer than 20 periods (Nickell bias)."""


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
def _in_window(df: pd.DataFrame, window) -> pd.DataFrame:
    """The rows of ``df`` whose year lies in ``window = [first, last]`` (inclusive), checked."""
    try:
        first, last = (int(w) for w in window)
    except (TypeError, ValueError):
        raise InputError(f"window must be [first_year, last_year], got {window!r}") from None
    if first >= last:
        raise InputError(f"window [{first}, {last}]: the first year must precede the last")
    span = (int(df["year"].min()), int(df["year"].max()))
    df = df[(df["year"] >= first) & (df["year"] <= last)]
    if df.empty:
        raise InputError(
            f"window [{first}, {last}] contains no year of the data (years "
            f"{span[0]}-{span[1]}); choose first and last years inside that range"
        )
    return df


def prepare_panel(data, q1, q2, *, region="region", year="year", window=None, min_periods: int = 3) -> pd.DataFrame:
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
        raise InputError(
            f"data must be a pandas DataFrame with columns {region!r}, {year!r} and the two "
            f"subsystem indices; got {type(data).__name__}"
        )
    missing = [c for c in (region, year, q1, q2) if c not in data.columns]
    if missing:
        raise InputError(
            f"column(s) {missing} not found in the data (columns: {list(data.columns)}); "
            "name the region/year columns with region=/year= and the indices with q1=/q2="
        )
    if q1 == q2:
        raise InputError(f"q1 and q2 are both {q1!r}: name two different subsystem columns")
    df = pd.DataFrame(
        {
            "region": data[region].to_numpy(),
            "year": data[year].to_numpy(),
            "q1": pd.to_numeric(data[q1], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
            "q2": pd.to_numeric(data[q2], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        },
        index=data.index,
    )
    for name, col in ((q1, "q1"), (q2, "q2")):
        bad = df.index[~np.isfinite(df[col].to_numpy())]
        if len(bad):
            shown = [f"{df.at[i, 'region']}/{df.at[i, 'year']}" for i in bad[:10]]
            more = " ..." if len(bad) > 10 else ""
            rows = f"row {bad[0]}" if len(bad) == 1 else f"rows {', '.join(map(str, bad[:10]))}{more}"
            raise InputError(
                f"column {name!r} has {len(bad)} missing, non-numeric or infinite cell(s) "
                f"at {rows} (region/year: {shown}{more}); fill or correct "
                "them before fitting (nothing is imputed silently)"
            )
    yr = pd.to_numeric(df["year"], errors="coerce")
    if yr.isna().any() or not np.all(np.mod(yr.to_numpy(dtype=float), 1) == 0):
        raise InputError(f"column {year!r} must hold whole years; fix the non-integer cells")
    df["year"] = yr.astype("int64")
    dup = df.duplicated(["region", "year"], keep=False)
    if dup.any():
        pairs = df.loc[dup, ["region", "year"]].drop_duplicates().head(10)
        raise InputError(
            f"duplicate region-year rows: {list(map(tuple, pairs.to_numpy()))}; keep one row per region and year"
        )
    if window is not None:
        df = _in_window(df, window)
    order = {r: i for i, r in enumerate(pd.unique(df["region"]))}
    df = df.assign(_o=df["region"].map(order)).sort_values(["_o", "year"])
    codes = df["_o"].to_numpy(dtype=np.int64)
    df = df.drop(columns="_o").reset_index(drop=True)
    years = np.sort(df["year"].unique())
    if len(years) < min_periods:
        raise InputError(
            f"the Haken model needs at least {min_periods} periods; the data (window) has "
            f"{len(years)}: {[int(y) for y in years]}"
        )
    step = int(np.min(np.diff(years)))
    yv = df["year"].to_numpy()
    bad = np.bincount(codes, minlength=len(order)) < 2  # vectorised over regions; the first bad one is reported
    same = codes[1:] == codes[:-1]
    bad[codes[1:][same & (np.diff(yv) != step)]] = True
    for c in np.flatnonzero(bad)[:1]:
        rows = np.flatnonzero(codes == c)
        r, y = df["region"].iloc[rows[0]], yv[rows]
        if len(y) < 2:
            raise InputError(
                f"region {r!r} has a single year ({y[0]}); each region needs at least two consecutive periods"
            )
        if np.any(np.diff(y) != step):
            full = set(range(int(y[0]), int(y[-1]) + 1, step))
            raise InputError(
                f"region {r!r}: years are not equally spaced (step {step}); missing "
                f"{sorted(full - set(y.tolist()))}. Fill the gap or set a window"
            )
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
def _dummies(codes, labels, prefix, index, drop_first=False) -> pd.DataFrame:
    cols = list(range(len(labels)))[1 if drop_first else 0 :]
    mat = (np.asarray(codes)[:, None] == np.array(cols)[None, :]).astype(float)
    return pd.DataFrame(mat, columns=[f"{prefix}[{labels[j]}]" for j in cols], index=index)


class _Design:
    """Lagged regression design of both equations for one panel.

    Rows are the transitions ``t -> t+1`` of every region; ``year`` is the
    first year ``t`` of a transition.  ``Z1``, ``Z2`` hold the slope columns
    (``lag``, ``inter``, ``const``) and, with year or two-way effects, the
    year dummies ``year[t]`` (every transition year; with two-way effects
    every year but the first, which the region effects absorb): a few
    columns.  Region effects are never columns: the fits absorb every fixed
    effect by the within transformation (:mod:`nqpspatial.haken.within`,
    ``absorbed``), so memory and time stay linear in the rows; the wild-year
    bootstrap reads the slope columns and ``absorbed`` too.  ``X1``, ``X2``
    (the full dummy-column LSDV design, rows x regions) are built only when
    read: no fit or bootstrap reads them, the test references do
    (tests/_wild_reference.py, tests/_wild_lsdv_reference.py).
    """

    def __init__(self, panel: pd.DataFrame, intercept: bool, effects: str):
        g = panel.groupby("region", sort=False)
        nxt1 = g["q1"].shift(-1)
        nxt2 = g["q2"].shift(-1)
        keep = nxt1.notna().to_numpy()
        cur = panel[keep]
        self.region = cur["region"].to_numpy()
        self.year = cur["year"].to_numpy()
        self.regions = list(pd.unique(panel["region"]))
        self.codes = pd.Index(self.regions).get_indexer(self.region).astype(int)
        self.years = sorted(int(y) for y in np.unique(self.year))
        self.tcodes = np.searchsorted(np.asarray(self.years), self.year.astype(np.int64)).astype(int)
        q1 = cur["q1"].to_numpy()
        q2 = cur["q2"].to_numpy()
        self.y1 = nxt1[keep].to_numpy(dtype=float)
        self.y2 = nxt2[keep].to_numpy(dtype=float)
        idx = pd.RangeIndex(len(q1))
        terms = haken_terms(q1, q2)
        Z1 = pd.DataFrame(dict(zip(("lag", "inter"), terms["q1"])), index=idx)
        Z2 = pd.DataFrame(dict(zip(("lag", "inter"), terms["q2"])), index=idx)
        if intercept:
            Z1["const"] = 1.0
            Z2["const"] = 1.0
        if effects in ("year", "two-way"):
            yd = _dummies(self.tcodes, self.years, "year", idx, drop_first=effects == "two-way")
            Z1 = pd.concat([Z1, yd], axis=1)
            Z2 = pd.concat([Z2, yd], axis=1)
        self.Z1, self.Z2 = Z1, Z2
        self.intercept = intercept
        self.effects = effects
        self.nobs = len(q1)
        self._lsdv = [None, None]
        self._absorbed = None

    @property
    def region_fe(self) -> bool:
        return self.effects in ("region", "two-way")

    @property
    def year_fe(self) -> bool:
        return self.effects in ("year", "two-way")

    @property
    def absorbed(self):
        """The fixed effects of these rows (:class:`nqpspatial.haken.within.Absorbed`)."""
        if self._absorbed is None:
            from .within import Absorbed

            self._absorbed = Absorbed(self.codes, self.tcodes, self.regions, self.years, self.effects)
        return self._absorbed

    @property
    def n_columns(self) -> int:
        """Coefficients per equation, counting every fixed effect (the dummy-column design's width)."""
        n_year = sum(c.startswith("year[") for c in self.Z1.columns)
        return len(self.slope_cols()) + n_year + (len(self.regions) if self.region_fe else 0)

    def _lsdv_design(self, eq: int) -> pd.DataFrame:
        if self._lsdv[eq] is None:
            Z = self.Z1 if eq == 0 else self.Z2
            parts = [Z[self.slope_cols()]]
            if self.region_fe:
                parts.append(_dummies(self.codes, self.regions, "region", Z.index))
            parts.append(Z[[c for c in Z.columns if c.startswith("year[")]])
            self._lsdv[eq] = pd.concat(parts, axis=1)
        return self._lsdv[eq]

    @property
    def X1(self) -> pd.DataFrame:
        """The q1 equation's dummy-column (LSDV) design: slopes, region dummies, year dummies (rows x regions)."""
        return self._lsdv_design(0)

    @X1.setter
    def X1(self, value):
        self._lsdv[0] = value

    @property
    def X2(self) -> pd.DataFrame:
        """The q2 equation's dummy-column (LSDV) design (see :attr:`X1`)."""
        return self._lsdv_design(1)

    @X2.setter
    def X2(self, value):
        self._lsdv[1] = value

    def equation(self, eq: int):
        """``(y, Z)`` of equation 0 (q1) or 1 (q2)."""
        return (self.y1, self.Z1) if eq == 0 else (self.y2, self.Z2)

    def subset(self, mask: np.ndarray) -> "_Design":
        new = object.__new__(_Design)
        new.region, new.year = self.region[mask], self.year[mask]
        present = set(new.region)
        new.regions = [r for r in self.regions if r in present]
        new.codes = pd.Index(new.regions).get_indexer(new.region).astype(int)
        new.years = sorted(int(y) for y in np.unique(new.year))
        new.tcodes = np.searchsorted(np.asarray(new.years), new.year.astype(np.int64)).astype(int)
        new.y1, new.y2 = self.y1[mask], self.y2[mask]
        yrs = set(map(str, new.years))
        first = str(new.years[0])

        def keep(c):
            if c.startswith("year["):  # with two-way effects the first year of the subset is dropped
                return c[5:-1] in yrs and not (self.effects == "two-way" and c[5:-1] == first)
            return True

        new.Z1 = self.Z1.loc[mask, [c for c in self.Z1.columns if keep(c)]].reset_index(drop=True)
        new.Z2 = self.Z2.loc[mask, [c for c in self.Z2.columns if keep(c)]].reset_index(drop=True)
        new.intercept, new.effects, new.nobs = self.intercept, self.effects, int(mask.sum())
        new._lsdv, new._absorbed = [None, None], None
        return new

    def slope_cols(self):
        return ["lag", "inter"] + (["const"] if self.intercept else [])

    def effect_cols(self, X: pd.DataFrame) -> list:
        """Dummy columns of the fixed effects."""
        return [c for c in X.columns if c.startswith(("region[", "year["))]

    def _region_demean(self, A: np.ndarray) -> np.ndarray:
        n = len(self.regions)
        cnt = np.bincount(self.codes, minlength=n).astype(float)
        m = np.stack([np.bincount(self.codes, A[:, j], minlength=n) for j in range(A.shape[1])], 1)
        return A - (m / cnt[:, None])[self.codes]

    def within(self, X: pd.DataFrame, y: np.ndarray):
        """Regressors with the region effects partialled out, and y.

        ``X`` is ``Z1``/``Z2`` (or the LSDV ``X1``/``X2``).  The slope
        columns come first.  Region effects (region and two-way) are removed
        by the within transformation; year dummies stay as columns
        (region-demeaned with two-way effects), so that per-region cross
        products give the exact LSDV slopes (Frisch-Waugh-Lovell) for
        balanced and unbalanced panels alike.
        """
        cols = self.slope_cols() + [c for c in X.columns if c.startswith("year[")]
        Xs = X[cols].to_numpy(dtype=float)
        y = np.asarray(y, float)
        if self.region_fe:
            Xs = self._region_demean(Xs)
            y = self._region_demean(y[:, None])[:, 0]
        return Xs, y


def _fit_equation(design: _Design, eq: int, se: str, bandwidth=None):
    """One equation with every fixed effect absorbed (:func:`nqpspatial.haken.within.absorbed_ols`)."""
    from .within import absorbed_ols

    y, Z = design.equation(eq)
    cols = design.slope_cols()
    return absorbed_ols(y, Z[cols].to_numpy(float), cols, design.absorbed, se=se, bandwidth=bandwidth)


def _half_masks(design: _Design):
    years = np.unique(design.year)
    m = len(years)
    h = math.ceil(m / 2)
    first, second = set(years[:h].tolist()), set(years[m - h :].tolist())
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
    effects : {"none", "region", "year", "two-way"}, default "none"
        Fixed effects (LSDV): region intercepts, year intercepts (one per
        transition year; they absorb shocks common to all regions), or both.
        Region and two-way effects are biased with short panels (Nickell
        1981); a :class:`ShortPanelWarning` is emitted with fewer than 20
        periods unless a bias correction is applied.  Year effects are
        estimated from the cross-section and carry no such bias.
    se : {"classical", "hc1", "cluster", "driscoll-kraay", "twoway"}, default "classical"
        Standard errors: OLS, HC1, clustered by region, Driscoll & Kraay
        (1998; Bartlett kernel, bandwidth ``bandwidth``), or clustered by
        region and by year (Cameron, Gelbach & Miller 2011).
    bandwidth : int, optional
        Bartlett bandwidth of the Driscoll-Kraay covariance; default the
        rule ``floor(4 (T/100)^(2/9))`` with ``T`` the number of transition
        years (:func:`nqpspatial.haken.inference.bartlett_bandwidth`).
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

    def __init__(
        self,
        data,
        q1: str,
        q2: str,
        *,
        region="region",
        year="year",
        intercept=False,
        effects="none",
        se="classical",
        window=None,
        by="none",
        groups=None,
        bandwidth=None,
    ):
        if se not in SE_TYPES:
            raise InputError(f"se={se!r} is not valid; use one of {list(SE_TYPES)}")
        if effects not in EFFECTS:
            raise InputError(f"effects={effects!r} is not valid; use one of {list(EFFECTS)}")
        if by not in BY:
            raise InputError(f"by={by!r} is not valid; use one of {list(BY)}")
        if intercept and effects != "none":
            raise InputError(
                f"intercept=True with effects={effects!r}: the fixed effects already contain the "
                "intercept; use one of the two"
            )
        if by == "region" and effects in REGION_EFFECTS:
            raise InputError(
                f"by='region' with effects={effects!r}: a fit of one region cannot have region "
                "effects; use effects='none' or 'year' (or intercept=True) with by='region'"
            )
        if bandwidth is not None and (
            isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, np.integer)) or bandwidth < 0
        ):
            raise InputError(
                f"bandwidth={bandwidth!r}: give a whole number >= 0, or None for the rule floor(4 (T/100)^(2/9))"
            )
        self.q1, self.q2 = str(q1), str(q2)
        self.region_col, self.year_col = region, year
        self.intercept, self.effects, self.se = bool(intercept), effects, se
        self.bandwidth = None if bandwidth is None else int(bandwidth)
        self.window = None if window is None or len(window) == 0 else tuple(int(w) for w in window)
        self.by = by
        self.panel = prepare_panel(data, q1, q2, region=region, year=year, window=self.window)
        self.groups = None
        if by == "group":
            if groups is None:
                raise InputError(
                    "by='group' needs groups (a region -> group mapping, e.g. the "
                    "[regions] scheme CSV with columns region,group)"
                )
            self.groups = check_groups(_scheme_groups(groups, self.panel["region"]), self.panel["region"])
        if se in ("cluster", "twoway") and self.panel["region"].nunique() < 2 and by == "none":
            raise InputError(f"se={se!r} needs at least two regions")
        self.periods = int(self.panel["year"].nunique())
        if se in ("driscoll-kraay", "twoway") and self.periods < 3:
            raise InputError(f"se={se!r} needs at least two transition years")
        if se == "driscoll-kraay" and self.bandwidth is not None and self.bandwidth >= self.periods - 1:
            raise InputError(
                f"bandwidth={self.bandwidth}: the Driscoll-Kraay bandwidth must be below the "
                f"number of transition years ({self.periods - 1})"
            )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        bootstrap: int = 999,
        seed=None,
        alpha: float = 0.05,
        min_ratio: float = 1.0,
        jackknife: bool = False,
        legacy_stable_point: bool = False,
        backend=None,
        bootstrap_scheme: str = "wild-year",
        correction: str = "none",
    ):
        """Estimate the model.

        Parameters
        ----------
        bootstrap : int, default 999
            Number of bootstrap resamples (0: none).
        seed : None, int or numpy.random.Generator
            Source of the bootstrap's randomness (same seed, same output).
            The resamples are drawn in fixed-size chunks, chunk ``i`` from the
            ``i``-th child of a :class:`numpy.random.SeedSequence` derived from
            ``seed`` (see :mod:`nqpspatial.haken.bootstrap`).
        alpha : float, default 0.05
            Significance level of the verdict and 1 - confidence level.
        min_ratio : float, default 1.0
            The adiabatic verdict needs ``|gamma2| > min_ratio * |gamma1|``.
        jackknife : bool, default False
            Split-panel jackknife bias correction (Dhaene & Jochmans 2015):
            ``theta = 2 theta_full - (theta_half1 + theta_half2) / 2`` with
            halves of ``ceil(m/2)`` transition years each (they share the
            middle year when ``m`` is odd).  Meant for region effects; the
            same as ``correction="jackknife"``.
        legacy_stable_point : bool, default False
            Report the legacy point ``sqrt(|g1 g2/(ab)|)`` (warns).
        backend : backend object, optional
            Execution backend of the bootstrap chunks, from
            :func:`nqpspatial.backends.open_backend` (default in-process).
            The same seed gives the same draws on every backend and worker
            count.
        bootstrap_scheme : {"wild-year", "region"}, default "wild-year"
            ``"wild-year"``: recursive wild bootstrap with one multiplier per
            transition year shared by all regions and both equations (it
            keeps common shocks and any cross-regional dependence);
            percentile-t intervals and p-values from null-imposed
            (restricted) resamples, see
            :func:`~nqpspatial.haken.wild.wild_year_bootstrap`.  The default
            since the coverage study of docs/inference.md.  ``"region"``:
            pairs cluster bootstrap over regions, percentile intervals
            (p-values from the standard errors); it assumes independent
            regions.

        correction : {"none", "jackknife", "analytic"}, default "none"
            Bias correction of region (or two-way) fixed effects:
            the split-panel jackknife, or the analytic large-T correction
            for predetermined regressors (Hahn & Kuersteiner 2011) with lag
            truncation :data:`ANALYTIC_TRIM`
            (:func:`~nqpspatial.haken.bias.analytic_bias`), applied to every
            Haken term.  docs/inference.md reports what each does to the bias.

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
        if bootstrap_scheme not in BOOTSTRAP_SCHEMES:
            raise InputError(
                f"bootstrap_scheme={bootstrap_scheme!r} is not valid; use one of {list(BOOTSTRAP_SCHEMES)}"
            )
        if correction not in CORRECTIONS:
            raise InputError(f"correction={correction!r} is not valid; use one of {list(CORRECTIONS)}")
        if jackknife and correction not in ("none", "jackknife"):
            raise InputError(f"jackknife=True with correction={correction!r}: choose one correction")
        correction = "jackknife" if jackknife else correction
        if correction == "analytic" and self.effects not in REGION_EFFECTS:
            raise InputError(
                f"correction='analytic' corrects the bias of region fixed effects; effects="
                f"{self.effects!r} has none (use effects='region' or 'two-way', or no correction)"
            )
        rng = as_rng(seed)
        opts = dict(
            bootstrap=int(bootstrap),
            alpha=float(alpha),
            min_ratio=float(min_ratio),
            jackknife=correction == "jackknife",
            legacy_stable_point=bool(legacy_stable_point),
            bootstrap_scheme=bootstrap_scheme,
            correction=correction,
        )
        if self.effects in REGION_EFFECTS and self.periods < SHORT_PANEL_PERIODS and correction == "none":
            warnings.warn(short_panel_message(self.effects, self.periods), ShortPanelWarning, stacklevel=2)
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
            if sub["region"].nunique() < 2 and o["bootstrap"] and bootstrap_scheme == "region":
                o["bootstrap"] = 0
                if self.by == "group":
                    notes.append(f"group {label!r} has a single region: no cluster bootstrap")
            fits[label] = _fit_unit(self, sub.reset_index(drop=True), child, o, unit=label, backend=backend)
        if self.by == "region" and opts["bootstrap"] and bootstrap_scheme == "region":
            notes.append(
                "by='region': a cluster bootstrap over one region is impossible; intervals "
                "come from the standard errors"
            )
        return HakenByResults(self, fits, notes)


def short_panel_message(effects: str, periods: int) -> str:
    """Text of the :class:`ShortPanelWarning` (region or two-way effects with few periods).

    It recommends what the bias study of docs/inference.md supports: no
    region effects (or year effects, which carry no such bias) when the
    model allows, else the analytic correction, which shrinks the bias of
    gamma1, gamma2 and b without removing it; not the split-panel
    jackknife, which over-corrects gamma1 on these panels.
    """
    what = "region fixed effects" if effects == "region" else "two-way (region and year) fixed effects"
    return (
        f"{what} with {periods} periods: the coefficients on the lagged indices (gamma1, gamma2) are "
        "biased in short panels (Nickell 1981) and can take the wrong sign; prefer effects='none' or "
        "'year' (year effects carry no such bias); correction='analytic' (config: correction = "
        '"analytic") reduces the bias but does not remove it, and the split-panel jackknife '
        "over-corrects gamma1 (docs/inference.md)"
    )


def _param_table(design, inf1, inf2, c1, c2):
    """Model parameters from the two equations' coefficients (c1, c2: Series; inf: (bse, df))."""
    out = {}
    (b1, df1), (b2, df2) = inf1[:2], inf2[:2]
    est = haken_params(c1["lag"], c1["inter"], c2["lag"], c2["inter"])
    spec = [
        ("gamma1", est["gamma1"], b1["lag"], df1),
        ("a", est["a"], b1["inter"], df1),
        ("gamma2", est["gamma2"], b2["lag"], df2),
        ("b", est["b"], b2["inter"], df2),
    ]
    if design.intercept:
        spec += [("k1", c1["const"], b1["const"], df1), ("k2", c2["const"], b2["const"], df2)]
    for term, est, s, df in spec:
        t = est / s if s > 0 else float("nan")
        p = 2 * stats.t.sf(abs(t), df) if s > 0 else float("nan")
        out[term] = dict(estimate=float(est), std_err=float(s), t=float(t), p=float(p), df=float(df))
    return pd.DataFrame(out).T


def _set_slopes(design, c, eq, slopes):
    """Put corrected slopes into ``c`` and recompute the fixed effects given them (least squares on the dummies)."""
    cols = design.slope_cols()
    c.loc[cols] = np.asarray(slopes, float)
    if design.effects == "none":
        return
    y, Z = design.equation(eq)
    eff = design.absorbed.values(y - Z[cols].to_numpy(float) @ c[cols].to_numpy(float))
    c.loc[eff.index] = eff.to_numpy()


def _jackknife(design, c1, c2):
    """Split-panel jackknife of both equations (corrects c1, c2 in place); the record."""
    from .within import absorbed_slopes

    if len(np.unique(design.year)) < 4:
        raise InputError("the split-panel jackknife needs at least 4 transition years (5 periods)")
    masks = _half_masks(design)
    cols = design.slope_cols()
    halves = []
    for mask in masks:
        d = design.subset(mask)
        halves.append(
            tuple(
                pd.Series(absorbed_slopes(y, Z[cols].to_numpy(float), d.absorbed), index=cols)
                for y, Z in (d.equation(0), d.equation(1))
            )
        )
    jk = {}
    for eq, c in enumerate((c1, c2)):
        full = c[cols].copy()
        corr = 2 * full - 0.5 * (halves[0][eq] + halves[1][eq])
        jk[f"eq{eq + 1}"] = pd.DataFrame(
            {"full": full, "half1": halves[0][eq], "half2": halves[1][eq], "jackknife": corr}
        )
        _set_slopes(design, c, eq, corr)
    return jk, masks


def _analytic(design, c1, c2, trim=ANALYTIC_TRIM):
    """Analytic bias correction of both equations (corrects c1, c2 in place); the record."""
    from .bias import analytic_bias

    cols = design.slope_cols()
    rec = {}
    for eq, c in enumerate((c1, c2)):
        y, Z = design.equation(eq)
        Xw = design.absorbed.residualize(Z[cols].to_numpy(float))
        yw = design.absorbed.residualize(y)
        full = c[cols].copy()
        bias = analytic_bias(Xw, yw - Xw @ full.to_numpy(), design.codes, trim)
        corr = full - bias
        rec[f"eq{eq + 1}"] = pd.DataFrame({"full": full, "bias": bias, "analytic": corr})
        _set_slopes(design, c, eq, corr)
    return rec


def _region_bootstrap(design, opts, masks, rng, backend, shift=None):
    """Pairs cluster bootstrap over regions: draws of every term."""
    from .results import BootstrapResults

    n = len(design.regions)
    pos = {r: i for i, r in enumerate(design.regions)}
    equations = []
    for eq in (0, 1):
        if opts["jackknife"]:
            parts = []
            for wgt, d in ((2.0, design), (-0.5, design.subset(masks[0])), (-0.5, design.subset(masks[1]))):
                ys, Z = d.equation(eq)
                Xs, ys = d.within(Z, ys)
                # sub-designs keep every region of a balanced panel; map codes to the full list
                codes = np.array([pos[r] for r in d.region])
                parts.append((wgt, *region_cross_products(Xs, ys, codes, n)))
        else:
            ys, Z = design.equation(eq)
            Xs, ys = design.within(Z, ys)
            parts = [(1.0, *region_cross_products(Xs, ys, design.codes, n))]
        equations.append(parts)
    d1, d2 = cluster_bootstrap(equations, n, opts["bootstrap"], seed=rng, backend=backend)
    if shift is not None:  # analytic correction: the estimated bias, held fixed, moves every draw
        k = len(design.slope_cols())
        d1, d2 = d1.copy(), d2.copy()
        d1[:, :k] -= shift[0]
        d2[:, :k] -= shift[1]
    tab = haken_params(d1[:, 0], d1[:, 1], d2[:, 0], d2[:, 1])
    if design.intercept:
        tab["k1"] = d1[:, 2]
        tab["k2"] = d2[:, 2]
    return BootstrapResults(pd.DataFrame(tab), alpha=opts["alpha"], min_ratio=opts["min_ratio"], n_clusters=n)


def _fit_unit(model: HakenModel, panel: pd.DataFrame, rng, opts, unit, backend=None):
    from .results import HakenResults

    design = _Design(panel, model.intercept, model.effects)
    if design.nobs <= design.n_columns:
        raise InputError(
            f"{'unit ' + repr(unit) + ': ' if unit is not None else ''}{design.nobs} "
            f"transitions are too few for {design.n_columns} coefficients per equation"
        )
    res1 = _fit_equation(design, 0, model.se, model.bandwidth)
    res2 = _fit_equation(design, 1, model.se, model.bandwidth)
    inf1, inf2 = ((r.bse, r.df, r.info) for r in (res1, res2))
    c1, c2 = res1.params.copy(), res2.params.copy()
    jk, masks, shift = None, None, None
    if opts["jackknife"]:
        jk, masks = _jackknife(design, c1, c2)
    elif opts["correction"] == "analytic":
        jk = _analytic(design, c1, c2)
        shift = (jk["eq1"]["bias"].to_numpy(), jk["eq2"]["bias"].to_numpy())
    params = _param_table(design, inf1, inf2, c1, c2)
    boot = None
    if opts["bootstrap"] > 0:
        if opts["bootstrap_scheme"] == "wild-year":
            from .wild import wild_year_bootstrap

            boot = wild_year_bootstrap(
                design,
                (c1, c2),
                opts["bootstrap"],
                seed=rng,
                alpha=opts["alpha"],
                min_ratio=opts["min_ratio"],
                jackknife=opts["jackknife"],
                analytic=ANALYTIC_TRIM if opts["correction"] == "analytic" else None,
                backend=backend,
            )
        else:
            boot = _region_bootstrap(design, opts, masks, rng, backend, shift=shift)
    inference = {"se": model.se, **inf1[2], **inf2[2]}
    return HakenResults(
        model, panel, design, res1, res2, c1, c2, params, boot, jk, opts, unit=unit, inference=inference
    )
