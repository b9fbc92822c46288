"""Spatial Haken models: SLX-, SAR-, SEM- and SDM-Haken.

The discrete Haken system (methods note, section 3)

    q1(t+1) = (1 - g1) q1(t) - a q1(t) q2(t)
    q2(t+1) = (1 - g2) q2(t) + b q1(t)^2

gets spatial terms equation by equation, pooled over regions and periods:

* ``slx``: time-lagged spatial terms, OLS;
* ``sar``: y(t+1) = rho W y(t+1) + X beta + e, ML;
* ``sem``: y(t+1) = X beta + u, u = lambda W u + e, ML;
* ``sdm``: SAR plus the SLX terms, ML.

Both readings of the fitted dynamics are reported (:mod:`.readings`): the
*system* reading (default) from the total effects, i.e. the uniform state of
the spatial system, with its stability over every mode of W and the
per-region steady states of the full estimated map (:mod:`.dynamics`); and
the *local* reading from the direct effects (LeSage & Pace 2009):
g1 = 1 - direct(q1), a = -direct(q1 q2), g2 = 1 - direct(q2),
b = direct(q1^2).  :class:`SpatialHakenModel` subclasses
:class:`nqpspatial.haken.HakenModel` and :class:`SpatialHakenResults`
subclasses :class:`nqpspatial.haken.HakenResultsBase`, so the data
preparation, the verdict, the potential and the co-evolution strategies are
the aspatial model's.  See ``docs/spatial_haken.md``.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import hashlib
import math
import warnings
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from nqpspatial.errors import ConfigError, InputError, ModelError
from nqpspatial.haken import HakenModel, HakenResultsBase, HakenSystem
from nqpspatial.haken.model import SHORT_PANEL_PERIODS, ShortPanelWarning, as_rng, check_groups
from nqpspatial.haken.results import IDENTIFICATION_COLUMNS
from nqpspatial.results import Summary

from ._draws import ME_TERMS, EquationDraws, draw_quantities, effect_draws, equation_stats
from ._estimators import EqFit, demean, fit_error, fit_lag, fit_ols, year_basis
from ._linalg import SpatialFilter
from ._panel import align_panel, build_equation, lag, prepare_panel, split_weights
from ._robust import SE_METHODS, robust_cov
from .diagnostics import diagnostics_frame, lm_tests_equation, lr_test, moran_residuals
from .dynamics import EquationMap, SpatialMap, SteadyStates, rows_sum_to_one, uniform_stability
from .readings import (
    MARGINAL_EFFECT_COLUMNS,
    POTENTIAL_READING_COLUMNS,
    POTENTIAL_READING_EXTRA,
    READINGS,
    STEADY_STATE_COLUMNS,
    SpatialPotential,
    SpatialReading,
    check_reading,
)

__all__ = [
    "MODELS",
    "ShortPanelWarning",
    "SpatialHakenModel",
    "SpatialHakenResults",
    "SpatialHakenPlugin",
    "SpatialPotential",
    "shared_fits",
    "slx",
    "sar",
    "sem",
    "sdm",
    "identification_table",
    "lm_diagnostics",
    "HAKEN_TERMS",
]

MODELS = ("slx", "sar", "sem", "sdm")
#: The equation fits shared inside :func:`shared_fits` (None outside it).
_SHARED_FITS: contextvars.ContextVar = contextvars.ContextVar("nqpspatial_spatial_haken_fits", default=None)


@contextlib.contextmanager
def shared_fits():
    """Within this context, an equation fitted twice with the same data and options is estimated once.

    The spatial Haken stage fits the same equation for several models: the SDM's diagnostics refit the SAR and
    SLX restrictions that ``models`` usually lists too, and model selection repeats the unsplit fits.  Fits are
    keyed by the equation, the model, the options and the content of the aligned panel and the weights
    matrices (a SHA-1 digest), so a hit is the same computation; each caller gets its own copy of the
    fit record (the arrays and the spatial filter are shared and never changed in place).  The fits are released
    when the context ends.
    """
    token = _SHARED_FITS.set({}) if _SHARED_FITS.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _SHARED_FITS.reset(token)


def _fit_key(parts, arrays, Ws) -> str:
    """Digest of a fit's options (``parts``), data arrays and weights matrices."""
    h = hashlib.sha1(repr(parts).encode())
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=float)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    for W in Ws:  # the entries of a row in column order (two alignments of one graph may list them differently)
        W = sp.csr_array(W).sorted_indices()
        h.update(repr(W.shape).encode())
        for a in (W.indptr, W.indices, W.data):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


HAKEN_TERMS = {"q1": ["q1", "q1q2"], "q2": ["q2", "q1sq"]}
ID_COLUMNS = list(IDENTIFICATION_COLUMNS)


@dataclass
class _Equation:
    fit: EqFit
    beta_idx: dict
    theta_idx: dict
    spatial_idx: list
    slx_ws: list
    filt: SpatialFilter | None


def _p_normal(est, se):
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.asarray(est, dtype=float) / np.asarray(se, dtype=float)
    return z, 2.0 * stats.norm.sf(np.abs(z))


class SpatialHakenModel(HakenModel):
    """A spatial Haken model of one ordering (q1, q2) of two indices.

    A subclass of :class:`nqpspatial.haken.HakenModel`: the data are
    validated and prepared by the aspatial model (same rules and messages;
    ``panel`` is the same long ``region, year, q1, q2`` table) and then
    aligned with the weights (``aligned``).  ``fit()`` estimates the spatial
    variant and returns :class:`SpatialHakenResults`, a
    :class:`nqpspatial.haken.HakenResultsBase`.

    Parameters
    ----------
    data : pandas.DataFrame
        Long, balanced region-year table with the two index columns.
    q1, q2 : str
        Columns of the order-parameter candidate and the servo candidate.
    graph : libpysal.graph.Graph
        Spatial weights over the panel's regions (row-standardized here).
    model : {"slx", "sar", "sem", "sdm"}
        The spatial variant.
    region, year : str
        Id and period columns.
    effects : {"none", "region", "year", "two-way"}
        ``"region"`` adds region fixed effects (within transformation) and
        warns (:class:`ShortPanelWarning`) with fewer than 20 periods (as does
        ``"two-way"``).  ``"year"`` adds year effects: removed by the
        orthonormal transformation of Lee & Yu (2010) in SAR, SEM and SDM
        (which needs every row of W to sum to 1: refused otherwise, and with
        ``split``) and by year demeaning (OLS with year dummies) in SLX.
        ``"two-way"``: both.
    se : {"ml", "driscoll-kraay", "twoway"}
        Covariance of the coefficients: the inverse information matrix
        (``"ml"``, OLS classical for SLX) or a sandwich of region-year score
        contributions (:mod:`._robust`); the effects' draws use it.
    bandwidth : int, optional
        Bartlett bandwidth of ``se="driscoll-kraay"`` (default
        ``floor(4 (T'/100)^(2/9))``, ``T'`` the transition years).
    correction : {"none", "jackknife"}
        ``"jackknife"``: split-panel jackknife (Dhaene & Jochmans 2015) over
        the two halves of the transitions, applied to every coefficient.
    split : pandas.Series, optional
        Region id -> group (a region scheme).  W is split into within-group
        and across-group links, each with its own spatial coefficients
        (names suffixed ``_within`` and ``_across``).
    split_equal : bool
        With ``split``, constrain the within and across coefficients to be
        equal (the result then equals the unsplit model; for testing nested
        hypotheses).
    intercept : bool
        Add a constant to each equation (default: none, as the aspatial model).
    weights_name : str
        Label of the weights in every output table.
    method : {"auto", "dense", "sparse"}
        Linear-algebra path (see :class:`~._linalg.SpatialFilter`).
    window : (int, int), optional
        First and last year (inclusive) of a sub-period, as in the aspatial model.

    Attributes
    ----------
    panel : pandas.DataFrame
        The validated long panel (``region, year, q1, q2``), as in
        :class:`~nqpspatial.haken.HakenModel`.
    aligned : PanelData
        The panel as ``(T, N)`` arrays in the weights' region order, with the
        row-standardized sparse ``W``.
    groups : pandas.Series or None
        Region -> group of ``split``, in the order of ``aligned.ids``.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        q1: str,
        q2: str,
        graph,
        *,
        model: str = "sar",
        region: str = "region",
        year: str = "year",
        effects: str = "none",
        correction: str = "none",
        split=None,
        split_equal: bool = False,
        intercept: bool = False,
        weights_name: str = "W",
        method: str = "auto",
        window=None,
        se: str = "ml",
        bandwidth=None,
    ):
        if model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}, got {model!r}", "config")
        if correction not in ("none", "jackknife"):
            raise InputError(f"correction must be 'none' or 'jackknife', got {correction!r}", "config")
        super().__init__(data, q1, q2, region=region, year=year, intercept=intercept, effects=effects, window=window)
        self.model = model
        self.region, self.year = region, year
        self.correction = correction
        self.weights_name = weights_name
        self.method = method
        self.aligned = align_panel(self.panel, graph, region=region, year=year)
        if se not in SE_METHODS:
            raise ConfigError(f"se = {se!r} is not valid; use one of {', '.join(map(repr, SE_METHODS))}", "config")
        self.se, self.bandwidth = se, (None if bandwidth is None else int(bandwidth))
        self.groups = None
        self._group_codes = None
        self.split_equal = bool(split_equal)
        if split is not None:
            gmap = check_groups(split, self.aligned.ids, fix="give every region a group to split W by zone")
            self.groups = gmap.reindex(self.aligned.ids)
            self._group_codes = pd.factorize(self.groups.to_numpy())[0]
        T1 = len(self.aligned.years) - 1
        self._check_effects(split)
        if se == "driscoll-kraay" and self.bandwidth is not None and not 0 <= self.bandwidth < T1:
            raise ConfigError(
                f"[spatial_haken] bandwidth = {self.bandwidth} must lie in [0, {T1 - 1}] for {T1} transition years",
                "config",
            )
        if correction == "jackknife" and T1 < 4:
            raise InputError(
                f"the split-panel jackknife needs at least 4 transitions (5 periods); the panel has {T1 + 1} periods",
                "config",
            )

    def _check_effects(self, split) -> None:
        """Year effects in SAR, SEM and SDM need the Lee-Yu transformation's conditions."""
        if self.effects not in ("year", "two-way") or self.model == "slx":
            return
        if split is not None:
            raise ConfigError(
                f"[spatial_haken] effects = {self.effects!r} with split_by_zone = true: the Lee & Yu (2010) "
                "transformation that removes year effects needs weights whose rows sum to 1, which the within- "
                'and across-zone parts of W do not; use effects = "region" or "none", or model "slx"',
                "config",
            )
        if not rows_sum_to_one(self.aligned.W):
            n = int(np.sum(np.abs(np.asarray(self.aligned.W.sum(axis=1)).ravel() - 1.0) > 1e-12))
            raise ConfigError(
                f"[spatial_haken] effects = {self.effects!r} with {self.model.upper()}: {n} rows of W "
                f"({self.weights_name}) do not sum to 1 (regions without neighbours under [spatial] islands = "
                '"keep", or a transform other than row-standardization), and the Lee & Yu (2010) '
                "transformation that removes year effects needs unit row sums; link the islands ([spatial] "
                'islands = "nearest") and keep transform = "r", or use model "slx" or effects = "region"',
                "config",
            )
        if self.se == "twoway":
            raise ConfigError(
                f'[spatial_haken] se = "twoway" with effects = {self.effects!r} and {self.model.upper()}: the '
                "Lee & Yu transformation mixes the regions, so scores cannot be clustered by region; use se = "
                '"driscoll-kraay" (which needs only the year sums) or model "slx"',
                "config",
            )

    # ------------------------------------------------------------------
    def _weights(self):
        W = self.aligned.W
        if self._group_codes is None:
            return [W], [""]
        Ww, Wa = split_weights(W, self._group_codes)
        if self.split_equal:
            return [Ww + Wa], [""]
        return [Ww, Wa], ["_within", "_across"]

    def _fit_equation(self, equation: str, model: str, tslice=slice(None), probes=64, trace_seed=0) -> _Equation:
        shared = _SHARED_FITS.get()
        if shared is None:
            return self._fit_equation_now(equation, model, tslice, probes, trace_seed)
        P = self.aligned
        Ws, _ = self._weights()
        key = _fit_key(
            (
                equation,
                model,
                tslice,
                probes,
                trace_seed,
                self.effects,
                self.intercept,
                self.method,
                self.se,
                self.bandwidth,
                list(P.ids),
                list(P.years),
            ),
            [P.Q1, P.Q2],
            Ws,
        )
        got = shared.get(key)
        if got is None:
            got = shared[key] = self._fit_equation_now(equation, model, tslice, probes, trace_seed)
        fit = copy.copy(got.fit)
        fit.info = dict(fit.info)
        return dataclasses.replace(got, fit=fit)

    def _fit_equation_now(self, equation: str, model: str, tslice, probes, trace_seed) -> _Equation:
        """:meth:`_fit_equation` without the shared fits."""
        design = build_equation(self.aligned, equation, self.intercept)
        Ws, suffixes = self._weights()
        y = design.y[tslice]
        Xcols = [x[tslice] for x in design.X]
        names = list(design.names)
        beta_idx = {t: names.index(t) for t in HAKEN_TERMS[equation]}
        theta_idx = {t: [] for t in HAKEN_TERMS[equation]}
        if model in ("slx", "sdm"):
            for term, raw in zip(HAKEN_TERMS[equation], design.slx):
                for W, suf in zip(Ws, suffixes):
                    Xcols.append(lag(W, raw[tslice]))
                    theta_idx[term].append(len(names))
                    names.append(f"theta_{term}{suf}")
        fit, filt, data = self._estimate(model, y, Xcols, names, Ws, suffixes, probes, trace_seed)
        fit.info["se"] = self.se
        if self.se != "ml":
            kind = {"slx": "ols", "sem": "error"}.get(model, "lag")
            fy, fX, fW = data
            fit.vcov, extra = robust_cov(kind, fy, fX, fW, fit.params, self.se, self.bandwidth)
            fit.info.update(extra)
        spatial_idx = [fit.names.index(s) for s in fit.spatial] if model in ("sar", "sdm") else []
        slx_ws = list(Ws) if model in ("slx", "sdm") else []
        return _Equation(fit, beta_idx, theta_idx, spatial_idx, slx_ws, filt)

    def _estimate(self, model, y, Xcols, names, Ws, suffixes, probes, trace_seed):
        """Fit one equation after removing the fixed effects; returns the fit, the filter and the fitted data.

        Region effects: within transformation over time.  Year effects: cross-sectional demeaning for SLX
        (OLS with year dummies); for SAR, SEM and SDM the orthonormal transformation ``F'`` of Lee & Yu
        (2010), ``F`` the ``N x (N-1)`` orthonormal basis of the complement of the constant vector, which
        leaves ``(T'(N-1))`` observations with the weights ``F' W F`` (``W`` must have unit row sums).
        """
        region_fe = self.effects in ("region", "two-way")
        year_fe = self.effects in ("year", "two-way")
        if region_fe:
            y = demean(y)
            Xcols = [demean(x) for x in Xcols]
        T1, N = y.shape
        corr = T1 / (T1 - 1.0) if region_fe else 1.0
        if model == "slx":
            if year_fe:
                y = y - y.mean(axis=1, keepdims=True)
                Xcols = [x - x.mean(axis=1, keepdims=True) for x in Xcols]
            absorbed = (N if region_fe else 0) + (T1 - (1 if region_fe else 0) if year_fe else 0)
            fit = fit_ols(y, Xcols, names, fe=region_fe or year_fe, centered=self.intercept, absorbed=absorbed)
            return fit, None, (y, Xcols, [])
        F = None
        fit_ws, method = Ws, self.method
        if year_fe:
            F = year_basis(N)
            y = y @ F
            Xcols = [x @ F for x in Xcols]
            fit_ws = [sp.csr_array(F.T @ (W @ F)) for W in Ws]
            method = "dense"
        kw = dict(method=method, fe=region_fe or year_fe, centered=self.intercept, probes=probes, trace_seed=trace_seed)
        if model in ("sar", "sdm"):
            fit = fit_lag(y, Xcols, names, fit_ws, [f"rho{s}" for s in suffixes], sigma_correction=corr, **kw)
        else:
            fit = fit_error(y, Xcols, names, fit_ws, [f"lambda{s}" for s in suffixes], sigma_correction=corr, **kw)
        if F is not None:  # back to regions: residuals J u, and the filter of the original W for the effects
            fit.resid = fit.resid @ F.T
            if "innovations" in fit.info:
                fit.info["innovations"] = fit.info["innovations"] @ F.T
            fit.info["filter"] = SpatialFilter(Ws, method=self.method, probes=probes, seed=trace_seed)
            fit.info["filter"].center = np.asarray([fit.params[fit.names.index(s)] for s in fit.spatial])
            fit.info["transformation"] = "Lee & Yu (2010) orthonormal transformation (year effects)"
        filt = fit.info["filter"] if model in ("sar", "sdm") else None
        return fit, filt, (y, Xcols, fit_ws)

    def _jackknife(self, equation: str, full: _Equation, probes, trace_seed) -> np.ndarray:
        T1 = len(self.aligned.years) - 1
        cuts = [T1 // 2] if T1 % 2 == 0 else [T1 // 2, T1 // 2 + 1]
        halves = []
        for c in cuts:
            a = self._fit_equation(equation, self.model, slice(0, c), probes, trace_seed)
            b = self._fit_equation(equation, self.model, slice(c, None), probes, trace_seed)
            halves.append(0.5 * (a.fit.params + b.fit.params))
        return 2.0 * full.fit.params - np.mean(halves, axis=0)

    # ------------------------------------------------------------------
    def fit(
        self,
        *,
        draws: int = 1000,
        seed=0,
        alpha: float = 0.05,
        min_ratio: float = 1.0,
        progress=None,
        probes: int = 64,
        trace_seed: int = 0,
        reading: str = "system",
        backend=None,
    ) -> "SpatialHakenResults":
        """Estimate both equations, the effects, both readings and the steady states.

        Parameters
        ----------
        draws : int
            Draws from the estimates' asymptotic normal distribution for the
            effects' intervals and p-values (LeSage & Pace 2009), the
            marginal effects' intervals and the q1* intervals.
        seed : int or numpy.random.Generator
            Source of the draws (same seed, same output).
        alpha, min_ratio : float
            Verdict rule of the adiabatic approximation.
        progress : callable, optional
            ``progress(iterable, total=None, desc=None)`` wrapper for the draws.
        probes, trace_seed : int
            Stochastic-trace settings of the sparse path (N > 1000).
        reading : {"system", "local"}
            The reading behind the results' potential, verdict and
            ``coevolution()`` (both are always in the tables); see
            :mod:`nqpspatial.plugins.spatial_haken.readings`.
        backend : backend object, optional
            Execution backend of the chunked draws
            (:func:`nqpspatial.backends.open_backend`, default in-process);
            the numbers do not depend on it.

        Returns
        -------
        SpatialHakenResults
        """
        if int(draws) < 2:
            raise InputError(f"effects_draws must be at least 2, got {draws}", "config")
        check_reading(reading)
        rng = as_rng(seed)
        notes = []
        T = self.periods
        if self.effects in ("region", "two-way") and T < SHORT_PANEL_PERIODS:
            msg = short_panel_message(self.effects, T, self.correction)
            warnings.warn(msg, ShortPanelWarning, stacklevel=2)
            notes.append(msg)
        eqs = {}
        for eq in ("q1", "q2"):
            e = self._fit_equation(eq, self.model, probes=probes, trace_seed=trace_seed)
            if self.correction == "jackknife":
                e.fit.params = self._jackknife(eq, e, probes, trace_seed)
                notes.append(
                    f"{eq} equation: split-panel jackknife applied to every coefficient; "
                    "standard errors are those of the full-panel fit"
                )
            eqs[eq] = e
        return SpatialHakenResults(
            self, eqs, int(draws), rng, alpha, min_ratio, progress, notes, reading=reading, backend=backend
        )


# ----------------------------------------------------------------------
def short_panel_message(effects: str, periods: int, correction: str = "none") -> str:
    """The spatial models' :class:`ShortPanelWarning` (region or two-way effects with few periods)."""
    what = "region fixed effects" if effects == "region" else "two-way (region and year) fixed effects"
    head = (
        f"{what} with {periods} periods (< {SHORT_PANEL_PERIODS}): the coefficients of the lagged indices are "
        "biased (Nickell 1981; Yu, de Jong & Lee 2008); "
    )
    if correction == "jackknife":
        return head + (
            "the split-panel jackknife applied here over-corrects gamma1 and moves rho (docs/inference.md, "
            'spatial rows of the bias table); prefer effects = "none" or "year" in [spatial_haken]'
        )
    return head + (
        'prefer effects = "none" or "year" in [spatial_haken] (year effects carry no such bias); the '
        "split-panel jackknife is not recommended (docs/inference.md)"
    )


def _filter_for(eq: _Equation) -> SpatialFilter:
    return eq.filt if eq.filt is not None else SpatialFilter([], method="dense")


def _draw_spec(e: _Equation, const_value: float = 0.0) -> EquationDraws:
    """What the chunked draws need of one fitted equation."""
    filt = _filter_for(e)
    names = e.fit.names
    return EquationDraws(
        mean=np.asarray(e.fit.params, dtype=float),
        cov=np.asarray(e.fit.vcov, dtype=float),
        spatial_idx=list(e.spatial_idx),
        bounds=filt.bounds() if e.spatial_idx else None,
        filt=filt,
        slx_ws=list(e.slx_ws),
        beta_idx=dict(e.beta_idx),
        theta_idx={k: list(v) for k, v in e.theta_idx.items()},
        const_idx=names.index("const") if "const" in names else None,
        const_value=float(const_value),
    )


def _level_residuals(model: "SpatialHakenModel", eqn: str, e: _Equation) -> np.ndarray:
    """``A y_t - X_t b - W X_t theta`` in levels (SEM: ``y_t - X_t b``), ``(T', N)``: effects plus noise."""
    Ws, _ = model._weights()
    p = e.fit.params
    design = build_equation(model.aligned, eqn, False)
    r = design.y.copy()
    for t, x in zip(HAKEN_TERMS[eqn], design.X):
        r = r - float(p[e.beta_idx[t]]) * x
        for i, W in zip(e.theta_idx[t], Ws):
            r = r - float(p[i]) * lag(W, x)
    for i, W in zip(e.spatial_idx, Ws):
        r = r - float(p[i]) * lag(W, design.y)
    return r


def year_intercepts(model: "SpatialHakenModel", eqs: dict) -> dict:
    """Year intercepts ``tau_t`` of a fit with year effects: ``{eq: (T',) array}`` (empty dict otherwise).

    SLX, SAR, SDM: ``tau_t = mean_i (A y_t - X_t b - W X_t theta)_i``; SEM: the GLS intercept of
    ``y_t - X_t b`` under ``u = lambda W u + e``, ``(1'r_t - lambda 1'W r_t) / ((1 - lambda) N)``
    (W with unit row sums).
    """
    if model.effects != "year":
        return {}
    out = {}
    W = model.aligned.W
    for eqn, e in eqs.items():
        r = _level_residuals(model, eqn, e)
        if model.model == "sem":
            lam = float(e.fit.params[e.fit.names.index("lambda")])
            out[eqn] = (r.sum(axis=1) - lam * lag(W, r).sum(axis=1)) / ((1.0 - lam) * r.shape[1])
        else:
            out[eqn] = r.mean(axis=1)
    return out


def _equation_maps(model: "SpatialHakenModel", eqs: dict, taus: dict) -> dict:
    """The fitted equations as :class:`~.dynamics.EquationMap` (region effects recovered in levels).

    With year effects the constant is the mean year intercept; with two-way effects the region effects
    are taken at the mean year intercept.
    """
    out = {}
    for eqn, e in eqs.items():
        p = e.fit.params
        beta = {t: float(p[i]) for t, i in e.beta_idx.items()}
        theta = {t: [float(p[i]) for i in idx] for t, idx in e.theta_idx.items()}
        rho = tuple(float(p[i]) for i in e.spatial_idx)
        const = float(p[e.fit.names.index("const")]) if "const" in e.fit.names else 0.0
        if eqn in taus:
            const = float(np.mean(taus[eqn]))
        alpha = None
        if model.effects in ("region", "two-way"):
            alpha = _level_residuals(model, eqn, e).mean(axis=0)
        out[eqn] = EquationMap(beta=beta, theta=theta, rho=rho, const=const, effects=alpha)
    return out


def _with_year_rows(rows: pd.DataFrame, rd: SpatialReading, taus: dict, eqs: dict, years, smap, seed):
    """``spatial_haken_potential`` with year effects: the system reading at each year's intercepts.

    Returns the table and ``{year: SpatialPotential}`` (empty without a system potential).

    The rows of both readings keep ``year`` empty (the system one is at the mean of the year intercepts
    and feeds h); one system row per transition year follows, with intercepts ``tau_t / (1 - rho)``
    (point estimates; no draw intervals).
    """
    rows = rows.assign(year=pd.array([pd.NA] * len(rows), dtype="Int64"))
    if rd.potential is None:
        return rows, {}
    base = rows[rows["reading"] == "system"].iloc[0].to_dict()
    hp = dict(rd.haken_params)
    scale = {eqn: 1.0 - sum(float(e.fit.params[i]) for i in e.spatial_idx) for eqn, e in eqs.items()}
    extra, pots = [], {}
    for t, (t1, t2) in zip(years, zip(taus["q1"], taus["q2"])):
        k1, k2 = float(t1) / scale["q1"], float(t2) / scale["q2"]
        pot = SpatialPotential(
            HakenSystem(**hp, k1=k1, k2=k2),
            {c: base[c] for c in ("model", "weights", "q1", "q2")},
            "system",
            stability=lambda q1s, q2s: uniform_stability(smap, q1s, q2s, seed=seed),
        )
        pots[int(t)] = pot
        row = {**base, "year": int(t), "k1": k1, "k2": k2, "q1_star_low": math.nan, "q1_star_high": math.nan}
        row.update(stable_share=math.nan, case=pot.case, case_label=pot.case_label, note="")
        row.update(q1_star=math.nan, V_star=math.nan, map_stable=None, q2_star=math.nan, jacobian_radius=math.nan)
        row.update(stability_check=pot.stability_check, map_stable_2d=None, reduced_map_stable=None)
        if pot.stable_point is not None:
            q = pot.stable_point[0]
            row.update(
                q1_star=q,
                V_star=pot.stable_point[1],
                map_stable=pot.map_stable,
                map_stable_2d=pot.map_stable_2d,
                reduced_map_stable=pot.reduced_map_stable,
                jacobian_radius=pot.jacobian_radius,
                q2_star=(pot.k2 + pot.b * q * q) / pot.gamma2,
            )
        extra.append(row)
    out = pd.concat([rows, pd.DataFrame(extra, columns=rows.columns)], ignore_index=True)
    out["year"] = out["year"].astype("Int64")
    return out, pots


def _uniform_reason(model: "SpatialHakenModel", split: bool) -> str:
    """Why a spatially uniform state is not defined ("" when it is)."""
    if split:
        return (
            "the uniform state is not defined: the zone split gives the within- and across-zone parts of W "
            "their own coefficients, so a uniform state does not stay uniform"
        )
    if model.effects in ("region", "two-way"):
        return (
            "the uniform state is not defined: region effects give every region its own intercept, so a "
            "uniform state does not stay uniform"
        )
    W = model.aligned.W
    if not rows_sum_to_one(W):
        n = int(np.sum(np.abs(np.asarray(W.sum(axis=1)).ravel() - 1.0) > 1e-12))
        return (
            f"the uniform state is not defined: {n} rows of W do not sum to 1 (islands without neighbours), "
            "so a uniform state does not stay uniform; link the islands (island policy) for a system reading"
        )
    return ""


def _point_quantities(eqs: dict, spec: dict, groups, xbar: dict, uniform: bool) -> dict:
    """Every simulated quantity at the estimates (one row)."""
    params = {eqn: e.fit.params[None, :] for eqn, e in eqs.items()}
    stats_ = {eqn: equation_stats(spec[eqn], params[eqn][:, e.spatial_idx], groups, xbar) for eqn, e in eqs.items()}
    return draw_quantities(params, spec, stats_, uniform)


def _sim_row(est: float, sims: np.ndarray, alpha: float) -> dict:
    sd = float(np.std(sims, ddof=1))
    lo, hi = np.quantile(sims, [alpha / 2, 1 - alpha / 2])
    p = float(2 * stats.norm.sf(abs(est) / sd)) if sd > 0 else math.nan
    return {"estimate": float(est), "ci_low": float(lo), "ci_high": float(hi), "p": p, "std_err": sd}


def _estimates_table(eqs: dict, key: dict, alpha: float) -> pd.DataFrame:
    rows = []
    zc = stats.norm.ppf(1 - alpha / 2)
    for eqn, e in eqs.items():
        se = np.sqrt(np.diag(e.fit.vcov))
        z, p = _p_normal(e.fit.params, se)
        for i, name in enumerate(e.fit.names):
            rows.append(
                {
                    **key,
                    "equation": eqn,
                    "term": name,
                    "estimate": float(e.fit.params[i]),
                    "std_err": float(se[i]),
                    "z": float(z[i]),
                    "p": float(p[i]),
                    "ci_low": float(e.fit.params[i] - zc * se[i]),
                    "ci_high": float(e.fit.params[i] + zc * se[i]),
                }
            )
    return pd.DataFrame(rows)


def _effects_table(point: dict, sims: dict, key: dict, alpha: float, split: bool) -> pd.DataFrame:
    """Term-wise LeSage-Pace effects with simulated intervals (``spatial_haken_effects.csv``)."""
    kinds = ["direct", "indirect", "total"] + (["indirect_within", "indirect_across"] if split else [])
    rows = []
    for eqn in ("q1", "q2"):
        for term in HAKEN_TERMS[eqn]:
            for kind in kinds:
                k = ("effect", eqn, term, kind)
                tname, ename = term, kind
                if kind.startswith("indirect_"):
                    tname, ename = f"{term}_{kind.split('_')[1]}", "indirect"
                rows.append(
                    {**key, "equation": eqn, "term": tname, "effect": ename, **_sim_row(point[k][0], sims[k], alpha)}
                )
    return pd.DataFrame(rows)


def _marginal_table(point: dict, sims: dict, key: dict, alpha: float, draws: int) -> pd.DataFrame:
    """Average marginal effects through every term (``spatial_haken_marginal_effects.csv``)."""
    method = f"simulated percentile ({draws} draws from the estimates' asymptotic normal distribution)"
    rows = []
    for eqn, wrt in ME_TERMS:
        for kind in ("direct", "indirect", "total"):
            k = ("me", eqn, wrt, kind)
            rows.append(
                {
                    **key,
                    "equation": eqn,
                    "wrt": wrt,
                    "effect": kind,
                    **_sim_row(point[k][0], sims[k], alpha),
                    "ci_method": method,
                }
            )
    return pd.DataFrame(rows, columns=MARGINAL_EFFECT_COLUMNS)


def _steady_table(steady: SteadyStates, ids, key: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **{k: [v] * len(ids) for k, v in key.items()},
            "region": list(ids),
            "q1_star": steady.q1,
            "q2_star": steady.q2,
            "converged": steady.converged,
            "iterations": steady.iterations,
        },
        columns=STEADY_STATE_COLUMNS,
    )


def _reading_potential(
    name: str, point: dict, key: dict, uniform_note: str, smap: SpatialMap, seed: int
) -> SpatialPotential | None:
    """The potential of one reading (None for a system reading without a uniform state)."""
    hp = {t: float(point[(name, t)][0]) for t in ("gamma1", "a", "gamma2", "b", "k1", "k2")}
    system = HakenSystem(**hp)
    if name == "local":
        return SpatialPotential(system, key, "local")
    if uniform_note:
        return None
    return SpatialPotential(
        system, key, "system", stability=lambda q1s, q2s: uniform_stability(smap, q1s, q2s, seed=seed)
    )


class SpatialHakenResults(HakenResultsBase):
    """Results of a spatial Haken model (immutable).

    A :class:`nqpspatial.haken.HakenResultsBase`: ``potential``,
    ``potentials()``, ``identification_row()``, ``potential_table()`` and
    ``coevolution(strategy=...)`` behave as in the aspatial
    :class:`~nqpspatial.haken.HakenResults`, on the Haken parameters of the
    chosen ``reading`` (see :mod:`.readings`): ``"system"`` (default) the
    total effects and the uniform state of the spatial system, ``"local"``
    the direct effects (intercepts and region effects not carried into the
    potential).

    Attributes
    ----------
    model, weights, q1, q2 : str
        Variant, weights label and ordering.
    reading : str
        The reading behind ``potential``, the verdict and ``coevolution()``.
    groups : pandas.Series or None
        Region -> zone of the zone split (None without one).
    steady : SteadyStates
        Where the estimated map settles from the last observed state
        (arrays in the weights' region order).
    readings : mapping
        ``{"system": SpatialReading, "local": SpatialReading}``.
    estimates : pandas.DataFrame
        model, weights, q1, q2, equation, term, estimate, std_err, z, p,
        ci_low, ci_high (Wald intervals at 1 - alpha).
    effects : pandas.DataFrame
        Term-wise LeSage-Pace effects: model, weights, q1, q2, equation, term,
        effect (direct / indirect / total), estimate, ci_low, ci_high, p,
        std_err.  With a zone split, the indirect effect is also given by
        zone (terms ``<term>_within`` and ``<term>_across``).
    marginal_effects : pandas.DataFrame
        Average marginal effects of q1(t), q2(t) on q1(t+1), q2(t+1) through
        every term (``spatial_haken_marginal_effects.csv``).
    identification : pandas.DataFrame
        Two rows, one per reading (the chosen one first): the columns of
        ``haken_identification`` plus model, weights and reading, then
        ``ratio_ci_low``, ``ratio_ci_high``, ``verdict_share`` (from the
        simulated draws) and the stability ``case``.
    potential_readings : pandas.DataFrame
        ``spatial_haken_potential.csv`` rows, one per reading.
    steady_states : pandas.DataFrame
        ``spatial_haken_steady_states.csv``: where the estimated spatial map
        settles from the last observed state, per region.
    haken_params : dict
        gamma1, a, gamma2, b of the chosen reading.
    potential : SpatialPotential or None
        Potential of the chosen reading (None for the system reading when the
        uniform state is not defined; ``potential()`` with no argument gives
        it as a one-row table).
    ratio, adiabatic, reason
        The adiabatic verdict of the chosen reading.
    diagnostics : pandas.DataFrame
        model, weights, q1, q2, equation, test, statistic, df, p.
    loglik, aic : dict
        Per equation.
    n_obs : int
        Observations per equation (regions x transitions).
    notes : tuple of str
    """

    def __init__(
        self,
        model: SpatialHakenModel,
        eqs: dict,
        draws: int,
        rng,
        alpha: float,
        min_ratio: float,
        progress,
        notes,
        *,
        reading: str = "system",
        backend=None,
    ):
        for name, value in (
            ("model", model.model),
            ("weights", model.weights_name),
            ("q1", model.q1),
            ("q2", model.q2),
            ("alpha", alpha),
            ("min_ratio", min_ratio),
            ("draws", draws),
            ("effects_kind", model.effects),
            ("correction", model.correction),
            ("split", model.groups is not None and not model.split_equal),
            ("_panel", model.aligned),
            ("_panel_std", model.panel),
            ("_eqs", eqs),
            ("reading", check_reading(reading)),
            ("groups", model.groups if model.groups is not None and not model.split_equal else None),
        ):
            self._set(name, value)
        key = {"model": model.model, "weights": model.weights_name, "q1": model.q1, "q2": model.q2}
        self._set("se", model.se)
        self._set("estimates", _estimates_table(eqs, key, alpha).assign(se_method=model.se))
        notes = list(notes)
        groups = model._group_codes if self.split else None
        taus = year_intercepts(model, eqs)
        spec = {eqn: _draw_spec(e, float(np.mean(taus[eqn])) if taus else 0.0) for eqn, e in eqs.items()}
        P = model.aligned
        xbar = {"q1": P.Q1[:-1].mean(axis=0), "q2": P.Q2[:-1].mean(axis=0)}
        uniform_note = _uniform_reason(model, self.split)
        point = _point_quantities(eqs, spec, groups, xbar, not uniform_note)
        prog = None
        if progress is not None:
            prog = lambda it, total=None, desc=None: progress(  # noqa: E731
                it, total=total, desc=f"effects {model.model}/{model.weights_name}"
            )
        sims = effect_draws(spec, groups, xbar, not uniform_note, draws, seed=rng, backend=backend, progress=prog)
        for e in spec.values():  # the series tables stay; their builders' state (LU factors, blocks) goes
            if e.filt is not None and hasattr(e.filt, "release_series_state"):
                e.filt.release_series_state()
        self._set("effects", _effects_table(point, sims, key, alpha, self.split))
        self._set("marginal_effects", _marginal_table(point, sims, key, alpha, draws))
        smap = SpatialMap(model._weights()[0], _equation_maps(model, eqs, taus))
        steady = smap.steady_states(P.Q1[-1], P.Q2[-1])
        self._set("steady", steady)
        self._set("steady_states", _steady_table(steady, P.ids, key))
        if not steady.converged:
            notes.append(
                f"{model.model}/{model.weights_name} {model.q1} -> {model.q2}: the estimated spatial "
                f"map does not settle from the last observed state ({steady.status} after "
                f"{steady.iterations} steps); steady states left empty"
            )
        seed = int(rng.integers(0, 2**31 - 1))  # power iteration of the stability check (N > 1000)
        r2 = {"q1": eqs["q1"].fit.r2, "q2": eqs["q2"].fit.r2}
        readings = {
            name: SpatialReading(
                name,
                key,
                point,
                sims,
                r2=r2,
                nobs=eqs["q1"].fit.n_obs,
                alpha=alpha,
                min_ratio=min_ratio,
                steady=steady,
                potential=_reading_potential(name, point, key, uniform_note, smap, seed),
                note=uniform_note if name == "system" else "",
            )
            for name in READINGS
        }
        self._set("readings", MappingProxyType(readings))
        self._set_reading(readings[self.reading], P.ids)
        order = [self.reading] + [r for r in READINGS if r != self.reading]
        self._set(
            "identification",
            pd.concat([readings[r].identification for r in order], ignore_index=True).assign(se_method=model.se),
        )
        pot_rows = pd.DataFrame(
            [readings[r].row for r in order], columns=POTENTIAL_READING_COLUMNS + POTENTIAL_READING_EXTRA
        )
        if taus:
            pot_rows, year_pots = _with_year_rows(pot_rows, readings["system"], taus, eqs, P.years[:-1], smap, seed)
            if self.reading == "system" and year_pots:  # potential_table(): one row per year, as the aspatial fit
                self._set_year_systems({t: t for t in year_pots}, lambda t: year_pots[t])
        self._set("potential_readings", pot_rows)
        self._diagnostics(model, eqs, key)
        self._set(
            "notes",
            tuple(
                notes
                + [f"reading: {self.reading}"]
                + [f"{r} reading: {readings[r].note}" for r in order if readings[r].note]
            ),
        )
        self._freeze()

    def _set_reading(self, rd: SpatialReading, ids) -> None:
        """Base-class attributes (verdict, systems, potential) from the chosen reading."""
        self._set("_ident", rd._ident)
        self._set("ratio", rd.ratio)
        self._set("adiabatic", rd.adiabatic)
        self._set("reason", rd.reason)
        self._set("haken_params", dict(rd.haken_params))
        if rd.potential is None:
            self._set_systems({}, None)
            return
        k1, k2 = rd.intercepts
        system = HakenSystem(**rd.haken_params, k1=k1, k2=k2)
        self._set_systems({r: system for r in ids}, lambda s: rd.potential)

    def _diagnostics(self, model, eqs: dict, key: dict) -> None:
        drows = []
        loglik, aic = {}, {}
        for eqn, e in eqs.items():
            f = e.fit
            loglik[eqn] = f.loglik
            aic[eqn] = -2.0 * f.loglik + 2.0 * f.k
            resid = f.info.get("innovations", f.resid)
            for test, val in [
                ("loglik", f.loglik),
                ("aic", aic[eqn]),
                ("n_obs", f.n_obs),
                ("k", f.k),
                ("sigma2", f.sigma2),
                ("r2", f.r2),
                ("moran_residuals", moran_residuals(resid, model.aligned.W)),
            ]:
                drows.append(
                    {**key, "equation": eqn, "test": test, "statistic": float(val), "df": math.nan, "p": math.nan}
                )
        if model.model == "sdm":
            for eqn, e in eqs.items():
                n_theta = sum(len(v) for v in e.theta_idx.values())
                for other, df in (("sar", n_theta), ("slx", len(e.spatial_idx))):
                    r = model._fit_equation(eqn, other)
                    stat, p = lr_test(e.fit.loglik, r.fit.loglik, df)
                    drows.append(
                        {
                            **key,
                            "equation": eqn,
                            "test": f"lr_sdm_vs_{other}",
                            "statistic": stat,
                            "df": float(df),
                            "p": p,
                        }
                    )
        self._set("diagnostics", diagnostics_frame(drows))
        self._set("loglik", loglik)
        self._set("aic", aic)
        self._set("n_obs", eqs["q1"].fit.n_obs)
        info = {
            eqn: {k: v for k, v in e.fit.info.items() if k not in ("filter", "innovations")} for eqn, e in eqs.items()
        }
        self._set("info", info)

    # ------------------------------------------------------------------
    def params(self, equation: str) -> pd.Series:
        """Coefficients of one equation (``"q1"`` or ``"q2"``) as a Series."""
        e = self._eqs[equation]
        return pd.Series(e.fit.params.copy(), index=e.fit.names, name=equation)

    def vcov(self, equation: str) -> pd.DataFrame:
        """Asymptotic covariance of one equation's coefficients."""
        e = self._eqs[equation]
        return pd.DataFrame(e.fit.vcov.copy(), index=e.fit.names, columns=e.fit.names)

    def residuals(self, equation: str) -> pd.DataFrame:
        """Residuals (innovations for SEM) as a ``transition year x region`` table."""
        e = self._eqs[equation]
        r = e.fit.info.get("innovations", e.fit.resid)
        return pd.DataFrame(r, index=self._panel.years[1:], columns=self._panel.ids)

    def potential_table(self) -> pd.DataFrame:
        """``haken_potential.csv``-style row of the chosen reading's potential, plus model, weights and reading.

        Empty when the chosen reading has no potential (the system reading without a uniform state).
        """
        return super().potential_table().assign(model=self.model, weights=self.weights, reading=self.reading)

    def coevolution(self, strategy: str = "auto", **kw):
        """Co-evolution level h with the chosen reading's potential (see the base class).

        Raises
        ------
        ModelError
            When the chosen reading has no potential: the system reading
            without a uniform state (zone split, region effects or islands);
            the message gives the reason and suggests ``reading="local"``.
        """
        if self.potential is None:
            raise ModelError(
                f"no potential for h under the {self.reading} reading: "
                f"{self.readings[self.reading].note}; fit with reading='local' (config: "
                '[spatial_haken] reading = "local") for the direct-effect potential'
            )
        return super().coevolution(strategy, **kw)

    def summary(self) -> Summary:
        """Text/HTML/LaTeX summary: facts, estimates, effects, readings, potential, diagnostics."""
        facts = {
            "model": self.model,
            "weights": self.weights,
            "q1 (order parameter?)": self.q1,
            "q2": self.q2,
            "observations per equation": self.n_obs,
            "region effects": self.effects_kind,
            "correction": self.correction,
            "zone split": self.split,
            "effect draws": self.draws,
            "reading": self.reading,
            "log-likelihood q1 / q2": f"{self.loglik['q1']:.3f} / {self.loglik['q2']:.3f}",
        }
        for eqn, inf in self.info.items():
            if "logdet" in inf:
                facts[f"log-determinant ({eqn})"] = inf["logdet"]
        facts["ratio |gamma2|/|gamma1|"] = self.ratio
        facts["adiabatic verdict"] = self.reason
        st = self.steady
        facts["steady state (full map)"] = (
            f"q1 mean {np.mean(st.q1):.4g}, range {np.min(st.q1):.4g} - {np.max(st.q1):.4g} ({st.iterations} steps)"
            if st.converged
            else f"{st.status} after {st.iterations} steps"
        )
        cols = ["equation", "term", "estimate", "std_err", "z", "p"]
        ecols = ["equation", "term", "effect", "estimate", "ci_low", "ci_high", "p"]
        icols = ["reading", "gamma1", "a", "gamma2", "b", "p_gamma2", "ratio", "adiabatic", "case"]
        pcols = ["reading", "case", "q1_star", "q1_star_low", "q1_star_high", "stable_share", "map_stable"]
        tables = {
            "estimates": self.estimates[cols],
            "effects (term-wise)": self.effects[ecols],
            "marginal effects": self.marginal_effects[["equation", "wrt", "effect", "estimate", "ci_low", "ci_high"]],
            "identification by reading": self.identification[icols],
            "stable point by reading": self.potential_readings[pcols],
            "diagnostics": self.diagnostics[["equation", "test", "statistic", "df", "p"]],
        }
        notes = list(self.notes)
        if self.potential is not None:
            self._potential_summary(facts, tables, notes)
        return Summary(
            title=f"Spatial Haken model ({self.model.upper()}, W = {self.weights})",
            facts=facts,
            tables=tables,
            notes=tuple(notes),
        )


# ----------------------------------------------------------------------
def identification_table(results) -> pd.DataFrame:
    """Stack identification rows and mark the chosen ordering per model, weights and reading.

    Among the orderings whose verdict holds, the one with the largest
    |gamma2|/|gamma1| is chosen (as the aspatial ``order = "auto"`` rule),
    separately for each reading (a models plugin without readings: per model
    and weights).
    """
    tab = pd.concat([r.identification for r in results], ignore_index=True)
    tab["chosen"] = False
    keys = ["model", "weights"] + (["reading"] if "reading" in tab.columns else [])
    for _, idx in tab.groupby(keys, sort=False, dropna=False).groups.items():
        sub = tab.loc[idx]
        ok = sub[sub["adiabatic"].astype(bool)]
        if len(ok):
            tab.loc[ok["ratio"].astype(float).idxmax(), "chosen"] = True
    return tab


def lm_diagnostics(
    data: pd.DataFrame,
    q1: str,
    q2: str,
    graph,
    *,
    region: str = "region",
    year: str = "year",
    weights_name: str = "W",
    intercept: bool = False,
    effects: str = "none",
) -> pd.DataFrame:
    """LM lag/error tests (and robust forms, SARMA) and Moran's I on the aspatial Haken residuals.

    Pooled OLS of each Haken equation without intercept (the aspatial
    default); with ``effects="region"`` on within-transformed data, with
    ``"year"`` on deviations from the year means, with ``"two-way"`` both.  The
    statistics equal ``spreg.LMtests`` / ``spreg.MoranRes`` run on the
    stacked design with ``I_T' kron W``.

    Returns
    -------
    pandas.DataFrame
        model ("ols"), weights, q1, q2, equation, test, statistic, df, p.
    """
    panel = prepare_panel(data, q1, q2, graph, region=region, year=year)
    return lm_table(panel, q1, q2, weights_name=weights_name, intercept=intercept, effects=effects)


def lm_table(panel, q1: str, q2: str, *, weights_name: str = "W", intercept: bool = False, effects: str = "none"):
    """:func:`lm_diagnostics` on a panel already aligned with the weights (``SpatialHakenModel.aligned``)."""
    rows = []
    key = {"model": "ols", "weights": weights_name, "q1": q1, "q2": q2}
    for eqn in ("q1", "q2"):
        d = build_equation(panel, eqn, intercept)
        y, X = d.y, d.X
        if effects in ("region", "two-way"):
            y, X = demean(y), [demean(x) for x in X]
        if effects in ("year", "two-way"):  # year effects: deviations from the year means
            y, X = y - y.mean(axis=1, keepdims=True), [x - x.mean(axis=1, keepdims=True) for x in X]
        res = lm_tests_equation(y, X, panel.W)
        for test in ("lm_lag", "lm_error", "rlm_lag", "rlm_error", "lm_sarma"):
            stat, p = res[test]
            rows.append(
                {
                    **key,
                    "equation": eqn,
                    "test": test,
                    "statistic": stat,
                    "df": 2.0 if test == "lm_sarma" else 1.0,
                    "p": p,
                }
            )
        I, z, p = res["moran_residuals"]
        rows.append({**key, "equation": eqn, "test": "moran_residuals", "statistic": I, "df": math.nan, "p": p, "z": z})
    return diagnostics_frame(rows)


class SpatialHakenPlugin:
    """A ``nqpspatial.models`` plugin: one spatial Haken variant.

    Attributes
    ----------
    name : str
        ``"slx"``, ``"sar"``, ``"sem"`` or ``"sdm"``.
    """

    def __init__(self, name: str, description: str):
        self.name = name
        self.description = description

    def fit(
        self,
        data: pd.DataFrame,
        q1: str,
        q2: str,
        graph,
        *,
        region: str = "region",
        year: str = "year",
        effects: str = "none",
        seed=0,
        rng=None,
        draws: int = 1000,
        split=None,
        **options,
    ) -> SpatialHakenResults:
        """Fit this variant; see :class:`SpatialHakenModel` for the options.

        ``rng`` (a Generator) takes precedence over ``seed``.  Extra keyword
        options go to the model (``correction``, ``intercept``,
        ``weights_name``, ``method``, ``split_equal``, ``window``) or to
        :meth:`SpatialHakenModel.fit` (``alpha``, ``min_ratio``,
        ``progress``, ``probes``, ``trace_seed``, ``reading``, ``backend``).
        """
        fit_keys = {"alpha", "min_ratio", "progress", "probes", "trace_seed", "reading", "backend"}
        fit_kw = {k: options.pop(k) for k in list(options) if k in fit_keys}
        mod = SpatialHakenModel(
            data, q1, q2, graph, model=self.name, region=region, year=year, effects=effects, split=split, **options
        )
        return mod.fit(draws=draws, seed=rng if rng is not None else seed, **fit_kw)

    def __repr__(self) -> str:
        return f"<spatial Haken model plugin {self.name!r}>"


slx = SpatialHakenPlugin("slx", "SLX-Haken: time-lagged spatial terms, OLS")
sar = SpatialHakenPlugin("sar", "SAR-Haken: contemporaneous spatial lag, ML")
sem = SpatialHakenPlugin("sem", "SEM-Haken: spatial error, ML")
sdm = SpatialHakenPlugin("sdm", "SDM-Haken: spatial lag plus time-lagged spatial terms, ML")
