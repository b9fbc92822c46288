"""Spatial Haken models: SLX-, SAR-, SEM- and SDM-Haken.

The discrete Haken system (methods note, section 3)

    q1(t+1) = (1 - g1) q1(t) - a q1(t) q2(t)
    q2(t+1) = (1 - g2) q2(t) + b q1(t)^2

gets spatial terms equation by equation, pooled over regions and periods:

* ``slx``: time-lagged spatial terms, OLS;
* ``sar``: y(t+1) = rho W y(t+1) + X beta + e, ML;
* ``sem``: y(t+1) = X beta + u, u = lambda W u + e, ML;
* ``sdm``: SAR plus the SLX terms, ML.

The Haken parameters are read from the *direct effects* (LeSage & Pace
2009): g1 = 1 - direct(q1), a = -direct(q1 q2), g2 = 1 - direct(q2),
b = direct(q1^2).  :class:`SpatialHakenModel` subclasses
:class:`nqpspatial.haken.HakenModel` and :class:`SpatialHakenResults`
subclasses :class:`nqpspatial.haken.HakenResultsBase`, so the data
preparation, the verdict, the potential and the co-evolution strategies are
the aspatial model's.  See ``docs/spatial_haken.md``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nqpspatial.errors import InputError, ModelError
from nqpspatial.haken import HakenModel, HakenResultsBase, HakenSystem, Potential
from nqpspatial.haken.model import (SHORT_PANEL_PERIODS, ShortPanelWarning, as_rng, check_groups,
                                    haken_params)
from nqpspatial.haken.results import IDENTIFICATION_COLUMNS, draw_intervals
from nqpspatial.results import Summary

from ._estimators import EqFit, demean, fit_error, fit_lag, fit_ols
from ._haken import potential_record
from ._linalg import SpatialFilter
from ._panel import align_panel, build_equation, lag, prepare_panel, split_weights
from .diagnostics import diagnostics_frame, lm_tests_equation, lr_test, moran_residuals

__all__ = ["MODELS", "ShortPanelWarning", "SpatialHakenModel", "SpatialHakenResults",
           "SpatialHakenPlugin", "SpatialPotential", "slx", "sar", "sem", "sdm",
           "identification_table", "lm_diagnostics", "HAKEN_TERMS"]

MODELS = ("slx", "sar", "sem", "sdm")
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
    effects : {"none", "region"}
        ``"region"`` adds region fixed effects (within transformation) and
        warns (:class:`ShortPanelWarning`) with fewer than 20 periods.
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

    def __init__(self, data: pd.DataFrame, q1: str, q2: str, graph, *, model: str = "sar",
                 region: str = "region", year: str = "year", effects: str = "none",
                 correction: str = "none", split=None, split_equal: bool = False,
                 intercept: bool = False, weights_name: str = "W", method: str = "auto",
                 window=None):
        if model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}, got {model!r}", "config")
        if correction not in ("none", "jackknife"):
            raise InputError(f"correction must be 'none' or 'jackknife', got {correction!r}",
                             "config")
        super().__init__(data, q1, q2, region=region, year=year, intercept=intercept,
                         effects=effects, window=window)
        self.model = model
        self.region, self.year = region, year
        self.correction = correction
        self.weights_name = weights_name
        self.method = method
        self.aligned = align_panel(self.panel, graph, region=region, year=year)
        self.groups = None
        self._group_codes = None
        self.split_equal = bool(split_equal)
        if split is not None:
            gmap = check_groups(split, self.aligned.ids,
                                fix="give every region a group to split W by zone")
            self.groups = gmap.reindex(self.aligned.ids)
            self._group_codes = pd.factorize(self.groups.to_numpy())[0]
        T1 = len(self.aligned.years) - 1
        if correction == "jackknife" and T1 < 4:
            raise InputError(f"the split-panel jackknife needs at least 4 transitions (5 periods); "
                             f"the panel has {T1 + 1} periods", "config")

    # ------------------------------------------------------------------
    def _weights(self):
        W = self.aligned.W
        if self._group_codes is None:
            return [W], [""]
        Ww, Wa = split_weights(W, self._group_codes)
        if self.split_equal:
            return [Ww + Wa], [""]
        return [Ww, Wa], ["_within", "_across"]

    def _fit_equation(self, equation: str, model: str, tslice=slice(None), probes=64,
                      trace_seed=0) -> _Equation:
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
        fe = self.effects == "region"
        if fe:
            y = demean(y)
            Xcols = [demean(x) for x in Xcols]
        T1 = y.shape[0]
        corr = T1 / (T1 - 1.0) if fe else 1.0
        kw = dict(method=self.method, fe=fe, centered=self.intercept, probes=probes,
                  trace_seed=trace_seed)
        if model == "slx":
            fit = fit_ols(y, Xcols, names, fe=fe, centered=self.intercept)
            filt = None
        elif model in ("sar", "sdm"):
            fit = fit_lag(y, Xcols, names, Ws, [f"rho{s}" for s in suffixes],
                          sigma_correction=corr, **kw)
            filt = fit.info["filter"]
        else:
            fit = fit_error(y, Xcols, names, Ws, [f"lambda{s}" for s in suffixes],
                            sigma_correction=corr, **kw)
            filt = None
        spatial_idx = [fit.names.index(s) for s in fit.spatial] if model in ("sar", "sdm") else []
        slx_ws = list(Ws) if model in ("slx", "sdm") else []
        return _Equation(fit, beta_idx, theta_idx, spatial_idx, slx_ws, filt)

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
    def fit(self, *, draws: int = 1000, seed=0, alpha: float = 0.05, min_ratio: float = 1.0,
            progress=None, probes: int = 64, trace_seed: int = 0) -> "SpatialHakenResults":
        """Estimate both equations, the effects and the identification row.

        Parameters
        ----------
        draws : int
            Draws from the estimates' asymptotic normal distribution for the
            effects' intervals and p-values (LeSage & Pace 2009).
        seed : int or numpy.random.Generator
            Source of the draws (same seed, same output).
        alpha, min_ratio : float
            Verdict rule of the adiabatic approximation.
        progress : callable, optional
            ``progress(iterable, total=None, desc=None)`` wrapper for the draws.
        probes, trace_seed : int
            Stochastic-trace settings of the sparse path (N > 1000).

        Returns
        -------
        SpatialHakenResults
        """
        if int(draws) < 2:
            raise InputError(f"effects_draws must be at least 2, got {draws}", "config")
        rng = as_rng(seed)
        notes = []
        T = self.periods
        if self.effects == "region" and T < SHORT_PANEL_PERIODS:
            msg = (f"region fixed effects with {T} periods (< {SHORT_PANEL_PERIODS}): the coefficients of "
                   "the lagged indices are biased (Nickell 1981; Yu, de Jong & Lee 2008); "
                   + ("the split-panel jackknife removes the leading O(1/T) bias"
                      if self.correction == "jackknife" else
                      "use correction='jackknife' (config: correction = \"jackknife\" in [spatial_haken]) "
                      "or pooled estimation"))
            warnings.warn(msg, ShortPanelWarning, stacklevel=2)
            notes.append(msg)
        eqs = {}
        for eq in ("q1", "q2"):
            e = self._fit_equation(eq, self.model, probes=probes, trace_seed=trace_seed)
            if self.correction == "jackknife":
                e.fit.params = self._jackknife(eq, e, probes, trace_seed)
                notes.append(f"{eq} equation: split-panel jackknife applied to every coefficient; "
                             "standard errors are those of the full-panel fit")
            eqs[eq] = e
        return SpatialHakenResults(self, eqs, int(draws), rng, alpha, min_ratio, progress, notes)


# ----------------------------------------------------------------------
def _draw_params(fit: EqFit, spatial_idx, filt, draws, rng) -> np.ndarray:
    """Draws from N(params, vcov), redrawing those whose spatial parameters leave the bounds."""
    mean = fit.params
    cov = 0.5 * (fit.vcov + fit.vcov.T)
    out = rng.multivariate_normal(mean, cov, size=draws, method="eigh")
    if spatial_idx:
        lo, hi = filt.bounds()
        for _ in range(100):
            bad = np.any((out[:, spatial_idx] <= lo) | (out[:, spatial_idx] >= hi), axis=1)
            if not bad.any():
                break
            out[bad] = rng.multivariate_normal(mean, cov, size=int(bad.sum()), method="eigh")
        else:  # pragma: no cover
            raise ModelError("the spatial parameter's sampling distribution lies mostly outside "
                             "the stationary interval; effects cannot be simulated")
    return out


def _effects_from(params: np.ndarray, eq: _Equation, stats_: dict, term: str) -> dict:
    b = params[:, eq.beta_idx[term]]
    th = [params[:, i] for i in eq.theta_idx[term]]
    d, t, w = stats_["d"], stats_["t"], stats_["w"]
    direct = b * d[:, 0] + sum(x * d[:, j + 1] for j, x in enumerate(th))
    total = b * t[:, 0] + sum(x * t[:, j + 1] for j, x in enumerate(th))
    within = b * w[:, 0] + sum(x * w[:, j + 1] for j, x in enumerate(th))
    return {"direct": direct, "indirect": total - direct, "total": total,
            "indirect_within": within - direct, "indirect_across": total - within}


def _filter_for(eq: _Equation, N: int) -> SpatialFilter:
    return eq.filt if eq.filt is not None else SpatialFilter([], method="dense")


class SpatialPotential(Potential):
    """The potential of a spatial Haken fit (a :class:`nqpspatial.haken.Potential`).

    It behaves as the aspatial potential: ``pot(q1)`` is V(q1), and
    ``case``, ``stable_point``, ``map_stable``, ``distance`` ... are
    available.  Called with no argument it returns the one-row table of
    :meth:`SpatialHakenResults.potential` (model, weights, q1, q2, gamma1,
    a, gamma2, b, case, q1_star, V_star, map_stable; ``case`` holds the
    case's label).
    """

    def __init__(self, system: HakenSystem, key: dict):
        super().__init__(system.gamma1, system.a, system.gamma2, system.b)
        self._set("_table", pd.DataFrame([{**key, "gamma1": system.gamma1, "a": system.a,
                                           "gamma2": system.gamma2, "b": system.b,
                                           **potential_record(self)}]))

    def __call__(self, q1=None):
        """V(q1); with no argument, the one-row potential table (a copy)."""
        if q1 is None:
            return self._table.copy()
        return super().__call__(q1)


class SpatialHakenResults(HakenResultsBase):
    """Results of a spatial Haken model (immutable).

    A :class:`nqpspatial.haken.HakenResultsBase`: ``potential``,
    ``potentials()``, ``identification_row()``, ``potential_table()`` and
    ``coevolution(strategy=...)`` behave as in the aspatial
    :class:`~nqpspatial.haken.HakenResults`, on the Haken parameters read
    from the direct effects (intercepts and region effects are not carried
    into the potential).

    Attributes
    ----------
    model, weights, q1, q2 : str
        Variant, weights label and ordering.
    estimates : pandas.DataFrame
        model, weights, q1, q2, equation, term, estimate, std_err, z, p,
        ci_low, ci_high (Wald intervals at 1 - alpha).
    effects : pandas.DataFrame
        model, weights, q1, q2, equation, term, effect (direct / indirect /
        total), estimate, ci_low, ci_high, p, std_err.  With a zone split, the
        indirect effect is also given by zone (terms ``<term>_within`` and
        ``<term>_across``).
    identification : pandas.DataFrame
        One row with the columns of ``haken_identification`` plus model and
        weights, from the direct effects: ``q1`` ... ``reason``, ``model``,
        ``weights``, then ``ratio_ci_low``, ``ratio_ci_high`` and
        ``verdict_share`` (from the simulated direct-effect draws) and the
        stability ``case``.
    haken_params : dict
        gamma1, a, gamma2, b from the direct effects.
    potential : SpatialPotential
        Potential of the direct-effect parameters; ``potential()`` (no
        argument) gives it as a one-row table.
    ratio, adiabatic, reason
        The adiabatic verdict (as in the aspatial model).
    diagnostics : pandas.DataFrame
        model, weights, q1, q2, equation, test, statistic, df, p.
    loglik, aic : dict
        Per equation.
    n_obs : int
        Observations per equation (regions x transitions).
    notes : tuple of str
    """

    def __init__(self, model: SpatialHakenModel, eqs: dict, draws: int, rng, alpha: float,
                 min_ratio: float, progress, notes):
        self._set("model", model.model)
        self._set("weights", model.weights_name)
        self._set("q1", model.q1)
        self._set("q2", model.q2)
        self._set("alpha", alpha)
        self._set("min_ratio", min_ratio)
        self._set("draws", draws)
        self._set("effects_kind", model.effects)
        self._set("correction", model.correction)
        self._set("split", model.groups is not None and not model.split_equal)
        self._set("_panel", model.aligned)
        self._set("_panel_std", model.panel)
        self._set("_eqs", eqs)
        N = model.aligned.W.shape[0]
        key = {"model": model.model, "weights": model.weights_name, "q1": model.q1,
               "q2": model.q2}
        # estimates
        rows = []
        zc = stats.norm.ppf(1 - alpha / 2)
        for eqn, e in eqs.items():
            se = np.sqrt(np.diag(e.fit.vcov))
            z, p = _p_normal(e.fit.params, se)
            for i, name in enumerate(e.fit.names):
                rows.append({**key, "equation": eqn, "term": name,
                             "estimate": float(e.fit.params[i]), "std_err": float(se[i]),
                             "z": float(z[i]), "p": float(p[i]),
                             "ci_low": float(e.fit.params[i] - zc * se[i]),
                             "ci_high": float(e.fit.params[i] + zc * se[i])})
        self._set("estimates", pd.DataFrame(rows))
        # effects with simulated inference
        eff_rows = []
        direct_draws = {}
        direct_point = {}
        it = range(2)
        if progress is not None:
            it = progress(it, total=2, desc=f"effects {model.model}/{model.weights_name}")
        groups = model._group_codes if self.split else None
        for k in it:
            eqn = ("q1", "q2")[k]
            e = eqs[eqn]
            filt = _filter_for(e, N)
            par_draws = _draw_params(e.fit, e.spatial_idx, filt, draws, rng)
            rho_hat = e.fit.params[e.spatial_idx][None, :]
            st_hat = filt.effect_stats(rho_hat, e.slx_ws, groups)
            st_draw = filt.effect_stats(par_draws[:, e.spatial_idx], e.slx_ws, groups)
            for term in HAKEN_TERMS[eqn]:
                point = _effects_from(e.fit.params[None, :], e, st_hat, term)
                sims = _effects_from(par_draws, e, st_draw, term)
                direct_draws[term] = sims["direct"]
                direct_point[term] = float(point["direct"][0])
                kinds = ["direct", "indirect", "total"]
                if self.split:
                    kinds += ["indirect_within", "indirect_across"]
                for kind in kinds:
                    est = float(point[kind][0])
                    sd = float(np.std(sims[kind], ddof=1))
                    lo, hi = np.quantile(sims[kind], [alpha / 2, 1 - alpha / 2])
                    p = float(2 * stats.norm.sf(abs(est) / sd)) if sd > 0 else math.nan
                    tname, ename = term, kind
                    if kind.startswith("indirect_"):
                        tname, ename = f"{term}_{kind.split('_')[1]}", "indirect"
                    eff_rows.append({**key, "equation": eqn, "term": tname, "effect": ename,
                                     "estimate": est, "ci_low": float(lo), "ci_high": float(hi),
                                     "p": p, "std_err": sd})
        self._set("effects", pd.DataFrame(eff_rows))
        # identification from the direct effects (the aspatial rules and row)
        est = haken_params(direct_point["q1"], direct_point["q1q2"], direct_point["q2"],
                           direct_point["q1sq"])
        par_draws = pd.DataFrame(haken_params(direct_draws["q1"], direct_draws["q1q2"],
                                              direct_draws["q2"], direct_draws["q1sq"]))
        _, intervals, share = draw_intervals(par_draws, alpha=alpha, min_ratio=min_ratio)
        iv = intervals.set_index("term")
        se = {t: float(iv.at[t, "std_err"]) for t in est}
        pvals = {t: float(_p_normal(est[t], se[t])[1]) for t in est}
        self._set_identification(est, se, pvals, {"q1": eqs["q1"].fit.r2, "q2": eqs["q2"].fit.r2},
                                 eqs["q1"].fit.n_obs, alpha=alpha, min_ratio=min_ratio,
                                 ratio_ci=(iv.at["ratio", "ci_low"], iv.at["ratio", "ci_high"],
                                           share))
        self._set("haken_params", {t: float(v) for t, v in est.items()})
        system = HakenSystem(**self.haken_params)
        self._set_systems({r: system for r in model.aligned.ids},
                          lambda s: SpatialPotential(s, key))
        row = self.identification_row()  # documented columns, then ratio interval and case
        extra = [c for c in row.columns if c not in ID_COLUMNS]
        ident = row[ID_COLUMNS].assign(model=model.model, weights=model.weights_name)
        ident = pd.concat([ident, row[extra]], axis=1)
        self._set("identification", ident)
        # diagnostics
        drows = []
        loglik, aic = {}, {}
        for eqn, e in eqs.items():
            f = e.fit
            loglik[eqn] = f.loglik
            aic[eqn] = -2.0 * f.loglik + 2.0 * f.k
            resid = f.info.get("innovations", f.resid)
            for test, val in [("loglik", f.loglik), ("aic", aic[eqn]), ("n_obs", f.n_obs),
                              ("k", f.k), ("sigma2", f.sigma2), ("r2", f.r2),
                              ("moran_residuals", moran_residuals(resid, model.aligned.W))]:
                drows.append({**key, "equation": eqn, "test": test, "statistic": float(val),
                              "df": math.nan, "p": math.nan})
        if model.model == "sdm":
            for eqn, e in eqs.items():
                n_theta = sum(len(v) for v in e.theta_idx.values())
                for other, df in (("sar", n_theta), ("slx", len(e.spatial_idx))):
                    r = model._fit_equation(eqn, other)
                    stat, p = lr_test(e.fit.loglik, r.fit.loglik, df)
                    drows.append({**key, "equation": eqn, "test": f"lr_sdm_vs_{other}",
                                  "statistic": stat, "df": float(df), "p": p})
        self._set("diagnostics", diagnostics_frame(drows))
        self._set("loglik", loglik)
        self._set("aic", aic)
        self._set("n_obs", eqs["q1"].fit.n_obs)
        info = {eqn: {k: v for k, v in e.fit.info.items() if k not in ("filter", "innovations")}
                for eqn, e in eqs.items()}
        self._set("info", info)
        self._set("notes", tuple(notes))
        self._freeze()

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
        """``haken_potential.csv``-style row of the direct-effect potential, plus model and weights."""
        return super().potential_table().assign(model=self.model, weights=self.weights)

    def summary(self) -> Summary:
        """Text/HTML/LaTeX summary: facts, estimates, effects, identification, potential, diagnostics."""
        facts = {"model": self.model, "weights": self.weights, "q1 (order parameter?)": self.q1,
                 "q2": self.q2, "observations per equation": self.n_obs,
                 "region effects": self.effects_kind, "correction": self.correction,
                 "zone split": self.split, "effect draws": self.draws,
                 "log-likelihood q1 / q2": f"{self.loglik['q1']:.3f} / {self.loglik['q2']:.3f}"}
        for eqn, inf in self.info.items():
            if "logdet" in inf:
                facts[f"log-determinant ({eqn})"] = inf["logdet"]
        facts["ratio |gamma2|/|gamma1|"] = self.ratio
        facts["adiabatic verdict"] = self.reason
        cols = ["equation", "term", "estimate", "std_err", "z", "p"]
        ecols = ["equation", "term", "effect", "estimate", "ci_low", "ci_high", "p"]
        icols = ["gamma1", "a", "gamma2", "b", "p_gamma2", "ratio", "adiabatic", "reason"]
        tables = {"estimates": self.estimates[cols], "effects": self.effects[ecols],
                  "identification (direct effects)": self.identification[icols],
                  "diagnostics": self.diagnostics[["equation", "test", "statistic", "df", "p"]]}
        notes = list(self.notes)
        self._potential_summary(facts, tables, notes)
        return Summary(title=f"Spatial Haken model ({self.model.upper()}, W = {self.weights})",
                       facts=facts, tables=tables, notes=tuple(notes))


# ----------------------------------------------------------------------
def identification_table(results) -> pd.DataFrame:
    """Stack identification rows and mark the chosen ordering per model and weights.

    Among the orderings whose verdict holds, the one with the largest
    |gamma2|/|gamma1| is chosen (as the aspatial ``order = "auto"`` rule).
    """
    tab = pd.concat([r.identification for r in results], ignore_index=True)
    tab["chosen"] = False
    for _, idx in tab.groupby(["model", "weights"]).groups.items():
        sub = tab.loc[idx]
        ok = sub[sub["adiabatic"].astype(bool)]
        if len(ok):
            tab.loc[ok["ratio"].astype(float).idxmax(), "chosen"] = True
    return tab


def lm_diagnostics(data: pd.DataFrame, q1: str, q2: str, graph, *, region: str = "region",
                   year: str = "year", weights_name: str = "W", intercept: bool = False,
                   effects: str = "none") -> pd.DataFrame:
    """LM lag/error tests (and robust forms, SARMA) and Moran's I on the aspatial Haken residuals.

    Pooled OLS of each Haken equation without intercept (the aspatial
    default); with ``effects="region"`` on within-transformed data.  The
    statistics equal ``spreg.LMtests`` / ``spreg.MoranRes`` run on the
    stacked design with ``I_T' kron W``.

    Returns
    -------
    pandas.DataFrame
        model ("ols"), weights, q1, q2, equation, test, statistic, df, p.
    """
    panel = prepare_panel(data, q1, q2, graph, region=region, year=year)
    rows = []
    key = {"model": "ols", "weights": weights_name, "q1": q1, "q2": q2}
    for eqn in ("q1", "q2"):
        d = build_equation(panel, eqn, intercept)
        y, X = d.y, d.X
        if effects == "region":
            y, X = demean(y), [demean(x) for x in X]
        res = lm_tests_equation(y, X, panel.W)
        for test in ("lm_lag", "lm_error", "rlm_lag", "rlm_error", "lm_sarma"):
            stat, p = res[test]
            rows.append({**key, "equation": eqn, "test": test, "statistic": stat,
                         "df": 2.0 if test == "lm_sarma" else 1.0, "p": p})
        I, z, p = res["moran_residuals"]
        rows.append({**key, "equation": eqn, "test": "moran_residuals", "statistic": I,
                     "df": math.nan, "p": p, "z": z})
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

    def fit(self, data: pd.DataFrame, q1: str, q2: str, graph, *, region: str = "region",
            year: str = "year", effects: str = "none", seed=0, rng=None, draws: int = 1000,
            split=None, **options) -> SpatialHakenResults:
        """Fit this variant; see :class:`SpatialHakenModel` for the options.

        ``rng`` (a Generator) takes precedence over ``seed``.  Extra keyword
        options go to the model (``correction``, ``intercept``,
        ``weights_name``, ``method``, ``split_equal``, ``window``) or to
        :meth:`SpatialHakenModel.fit` (``alpha``, ``min_ratio``,
        ``progress``, ``probes``, ``trace_seed``).
        """
        fit_keys = {"alpha", "min_ratio", "progress", "probes", "trace_seed"}
        fit_kw = {k: options.pop(k) for k in list(options) if k in fit_keys}
        mod = SpatialHakenModel(data, q1, q2, graph, model=self.name, region=region, year=year,
                                effects=effects, split=split, **options)
        return mod.fit(draws=draws, seed=rng if rng is not None else seed, **fit_kw)

    def __repr__(self) -> str:
        return f"<spatial Haken model plugin {self.name!r}>"


slx = SpatialHakenPlugin("slx", "SLX-Haken: time-lagged spatial terms, OLS")
sar = SpatialHakenPlugin("sar", "SAR-Haken: contemporaneous spatial lag, ML")
sem = SpatialHakenPlugin("sem", "SEM-Haken: spatial error, ML")
sdm = SpatialHakenPlugin("sdm", "SDM-Haken: spatial lag plus time-lagged spatial terms, ML")
