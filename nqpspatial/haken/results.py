"""Immutable results of the Haken model."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from ..results import Results, Summary
from .model import SHORT_PANEL_PERIODS
from .system import HakenSystem

__all__ = [
    "HakenResultsBase",
    "HakenResults",
    "HakenByResults",
    "BootstrapResults",
    "adiabatic_verdict",
    "draw_intervals",
    "IDENTIFICATION_COLUMNS",
    "ESTIMATE_COLUMNS",
    "POTENTIAL_COLUMNS",
    "MARGINAL_EFFECT_COLUMNS",
    "map_marginal_effects",
    "identification_record",
    "identification_info",
]

IDENTIFICATION_COLUMNS = [
    "q1",
    "q2",
    "gamma1",
    "a",
    "gamma2",
    "b",
    "se_gamma1",
    "se_a",
    "se_gamma2",
    "se_b",
    "p_gamma1",
    "p_a",
    "p_gamma2",
    "p_b",
    "r2_q1",
    "r2_q2",
    "n_obs",
    "ratio",
    "adiabatic",
    "chosen",
    "reason",
]
ESTIMATE_COLUMNS = ["q1", "q2", "term", "estimate", "std_err", "t", "p", "ci_low", "ci_high"]
POTENTIAL_COLUMNS = ["q1", "q2", "case", "q1_star", "V_star", "map_stable"]
MARGINAL_EFFECT_COLUMNS = ["q1", "q2", "equation", "wrt", "estimate", "ci_low", "ci_high", "ci_method"]
#: (equation, wrt) pairs of the average marginal effects, in table order.
MARGINAL_EFFECT_PAIRS = (("q1", "q1"), ("q1", "q2"), ("q2", "q1"), ("q2", "q2"))


def map_marginal_effects(gamma1, a, gamma2, b, mean_q1, mean_q2) -> dict:
    """Average marginal effects of the annual Haken map over a sample.

    The map ``q1' = k1 + (1 - gamma1) q1 - a q1 q2``,
    ``q2' = k2 + (1 - gamma2) q2 + b q1^2`` has the derivatives
    ``dq1'/dq1 = 1 - gamma1 - a q2``, ``dq1'/dq2 = -a q1``,
    ``dq2'/dq1 = 2 b q1`` and ``dq2'/dq2 = 1 - gamma2``; they are linear in
    the state, so their sample average is the derivative at the sample means
    of the starting states.  Works element-wise on arrays of draws.

    Returns
    -------
    dict
        ``(equation, wrt) -> value`` for the pairs of :data:`MARGINAL_EFFECT_PAIRS`.
    """
    g1, a, g2, b = (np.asarray(v, dtype=float) for v in (gamma1, a, gamma2, b))
    return {
        ("q1", "q1"): 1.0 - g1 - a * mean_q2,
        ("q1", "q2"): -a * mean_q1,
        ("q2", "q1"): 2.0 * b * mean_q1,
        ("q2", "q2"): 1.0 - g2,
    }


def _ratio_text(ratio: float, min_ratio: float) -> str:
    """The ratio with 3 significant digits, or more when needed to tell it from the threshold."""
    for digits in range(3, 13):
        text = f"{ratio:.{digits}g}"
        if ratio == min_ratio or float(text) != min_ratio:
            return text
    return repr(ratio)


def adiabatic_verdict(gamma1: float, gamma2: float, p_gamma2: float, *, alpha: float = 0.05, min_ratio: float = 1.0):
    """The adiabatic-approximation verdict of one ordering.

    Holds when ``gamma2 > 0``, ``|gamma2| > min_ratio * |gamma1|`` and
    gamma2 is significant at ``alpha``.

    Returns
    -------
    tuple
        ``(ratio, holds, reason)`` with ``ratio = |gamma2| / |gamma1|``.
    """
    ratio = abs(gamma2) / abs(gamma1) if gamma1 != 0 else float("inf")
    fails = []
    if not gamma2 > 0:
        fails.append(f"gamma2 = {gamma2:.4g} is not > 0 (the servo variable is not damped)")
    if not ratio > min_ratio:
        fails.append(f"|gamma2|/|gamma1| = {_ratio_text(ratio, min_ratio)} is not > {min_ratio:g}")
    if not p_gamma2 < alpha:
        fails.append(f"gamma2 is not significant (p = {p_gamma2:.3g} >= {alpha:g})")
    if fails:
        return ratio, False, "fails: " + "; ".join(fails)
    return (
        ratio,
        True,
        (
            f"passes: gamma2 = {gamma2:.4g} > 0, |gamma2|/|gamma1| = {_ratio_text(ratio, min_ratio)} > "
            f"{min_ratio:g}, gamma2 significant (p = {p_gamma2:.3g})"
        ),
    )


def draw_intervals(draws: pd.DataFrame, *, alpha: float, min_ratio: float):
    """Percentile intervals and the verdict share of draws of the Haken parameters.

    Used for the cluster bootstrap (:class:`BootstrapResults`) and for the
    simulated draws of the spatial models' direct effects.

    Parameters
    ----------
    draws : pandas.DataFrame
        One row per draw with columns gamma1, a, gamma2, b (and any other
        terms).  Not modified.
    alpha : float
        The intervals cover ``1 - alpha``.
    min_ratio : float
        Ratio part of the verdict.

    Returns
    -------
    tuple
        ``(draws, intervals, verdict_share)``: a copy of the draws with a
        ``ratio = |gamma2|/|gamma1|`` column; ``term, ci_low, ci_high,
        std_err`` (std_err: standard deviation of the draws, ddof = 1); the
        share of draws with ``gamma2 > 0`` and ``|gamma2| > min_ratio |gamma1|``.
    """
    d = draws.copy()
    with np.errstate(divide="ignore"):
        d["ratio"] = np.abs(d["gamma2"]) / np.abs(d["gamma1"])
    q = np.quantile(d.to_numpy(), [alpha / 2, 1 - alpha / 2], axis=0)
    intervals = pd.DataFrame({"term": d.columns, "ci_low": q[0], "ci_high": q[1], "std_err": d.std(ddof=1).to_numpy()})
    ok = (d["gamma2"] > 0) & (np.abs(d["gamma2"]) > min_ratio * np.abs(d["gamma1"]))
    return d, intervals, float(ok.mean())


def identification_info(est, se, p, r2, nobs, ratio_ci=None):
    """The identification facts of one fit as a read-only mapping (see :func:`identification_record`).

    ``est``, ``se``, ``p``: mappings with gamma1, a, gamma2, b; ``r2``: mapping
    with ``q1`` and ``q2``; ``ratio_ci``: ``(ci_low, ci_high, verdict_share)``
    of the ratio from draws, or None.
    """
    nan = float("nan")
    terms = ("gamma1", "a", "gamma2", "b")
    return MappingProxyType(
        {
            "est": {t: float(est[t]) for t in terms},
            "se": {t: float(se[t]) for t in terms},
            "p": {t: float(p[t]) for t in terms},
            "r2": (float(r2["q1"]), float(r2["q2"])),
            "nobs": int(nobs),
            "ratio_ci": tuple(ratio_ci) if ratio_ci is not None else (nan, nan, nan),
        }
    )


def identification_record(
    q1: str, q2: str, ident, ratio: float, adiabatic: bool, reason: str, case, chosen: bool = False
) -> dict:
    """One ``haken_identification`` row as a dict (documented columns, then the draw columns and case).

    Parameters
    ----------
    q1, q2 : str
        The ordering.
    ident : mapping
        ``est``, ``se``, ``p`` (mappings of gamma1, a, gamma2, b), ``r2``
        (pair), ``nobs`` and ``ratio_ci`` (``ci_low, ci_high, verdict_share``).
    ratio, adiabatic, reason
        The verdict (:func:`adiabatic_verdict`).
    case : int or float
        Stability case (NaN when not defined).
    chosen : bool
    """
    e, s, pv = ident["est"], ident["se"], ident["p"]
    row = {
        "q1": q1,
        "q2": q2,
        "gamma1": e["gamma1"],
        "a": e["a"],
        "gamma2": e["gamma2"],
        "b": e["b"],
        "se_gamma1": s["gamma1"],
        "se_a": s["a"],
        "se_gamma2": s["gamma2"],
        "se_b": s["b"],
        "p_gamma1": pv["gamma1"],
        "p_a": pv["a"],
        "p_gamma2": pv["gamma2"],
        "p_b": pv["b"],
        "r2_q1": ident["r2"][0],
        "r2_q2": ident["r2"][1],
        "n_obs": ident["nobs"],
        "ratio": ratio,
        "adiabatic": adiabatic,
        "chosen": bool(chosen),
        "reason": reason,
    }
    lo, hi, share = ident["ratio_ci"]
    row.update(ratio_ci_low=lo, ratio_ci_high=hi, verdict_share=share, case=case)
    return row


class BootstrapResults(Results):
    """Cluster-bootstrap draws of the Haken parameters.

    Attributes
    ----------
    draws : pandas.DataFrame
        One row per resample: gamma1, a, gamma2, b (k1, k2), ratio.
    intervals : pandas.DataFrame
        ``term, ci_low, ci_high, std_err`` (percentile intervals at
        ``1 - alpha``; std_err is the standard deviation of the draws).
    verdict_share : float
        Share of resamples with ``gamma2 > 0`` and
        ``|gamma2| > min_ratio |gamma1|`` (the sign and ratio parts of the
        verdict; significance is read from the interval of gamma2).
    B, alpha, n_clusters
    """

    def __init__(self, draws: pd.DataFrame, *, alpha: float, min_ratio: float, n_clusters: int):
        self.draws, self.intervals, self.verdict_share = draw_intervals(draws, alpha=alpha, min_ratio=min_ratio)
        self.B = len(self.draws)
        self.alpha = alpha
        self.min_ratio = min_ratio
        self.n_clusters = n_clusters
        self.scheme = "region"
        self.method = f"cluster bootstrap percentile (B = {self.B})"
        self._freeze()

    def summary(self) -> Summary:
        """Intervals and the verdict share."""
        return Summary(
            "Cluster bootstrap over regions",
            {"resamples": self.B, "regions": self.n_clusters, "verdict share": self.verdict_share},
            {"percentile intervals": self.intervals},
        )


def _effect_systems(design, c1, c2, base: dict, k1: float, k2: float):
    """Region -> HakenSystem, year -> HakenSystem, and the region and year effect tables.

    With year effects every region gets the system at the mean of the year
    intercepts (it feeds h) and each transition year its own; with two-way
    effects each region gets its intercept at the mean year intercept, and
    the year table holds the deviations of the year intercepts from their
    mean (region + deviation = the fitted intercept of that region-year).
    """
    systems, year_systems, reg, yr = {}, {}, None, None
    if design.year_fe:
        t1 = np.array([float(c1.get(f"year[{t}]", 0.0)) for t in design.years])
        t2 = np.array([float(c2.get(f"year[{t}]", 0.0)) for t in design.years])
        m1, m2 = float(t1.mean()), float(t2.mean())
        if design.effects == "year":
            yr = pd.DataFrame({"year": design.years, "k1": t1, "k2": t2})
            year_systems = {t: HakenSystem(**base, k1=float(a), k2=float(b)) for t, a, b in zip(design.years, t1, t2)}
            common = HakenSystem(**base, k1=m1, k2=m2)
            systems = {r: common for r in design.regions}
        else:
            yr = pd.DataFrame({"year": design.years, "k1": t1 - m1, "k2": t2 - m2})
    if design.region_fe:
        m1, m2 = (m1, m2) if design.effects == "two-way" else (0.0, 0.0)
        rows = []
        for r in design.regions:
            e1, e2 = float(c1[f"region[{r}]"]) + m1, float(c2[f"region[{r}]"]) + m2
            rows.append({"region": r, "k1": e1, "k2": e2})
            systems[r] = HakenSystem(**base, k1=e1, k2=e2)
        reg = pd.DataFrame(rows)
    if design.effects == "none":
        common = HakenSystem(**base, k1=k1, k2=k2)
        systems = {r: common for r in design.regions}
    return systems, year_systems, reg, yr


def se_method_text(se: str, bandwidth, df: float, boot=None, psd_fix=False) -> str:
    """Plain description of where the standard errors and p-values of a fit come from."""
    names = {
        "classical": "classical OLS",
        "hc1": "HC1 (White)",
        "cluster": "clustered by region",
        "twoway": "clustered by region and year (Cameron, Gelbach & Miller 2011)",
        "driscoll-kraay": f"Driscoll-Kraay (Bartlett kernel, bandwidth {bandwidth})",
    }
    text = f"std_err: {names.get(se, se)}, t with {df:g} df"
    if psd_fix:
        text += " (the two-way covariance had a negative eigenvalue, set to 0)"
    if boot is not None and getattr(boot, "scheme", "region") == "wild-year":
        text += f"; p and intervals: {boot.method}"
    elif boot is not None:
        text += f"; intervals: {boot.method}"
    return text


def inference_note(se: str, boot, effects: str, periods: int, bandwidth=None) -> str:
    """What the Monte Carlo study (docs/inference.md) says of this fit's inference.

    Returns an empty string when the option reaches 90 % coverage of nominal
    95 % intervals under common year shocks at this panel length.
    """
    from .coverage import coverage_note

    scheme = getattr(boot, "scheme", "region") if boot is not None else None
    return coverage_note(se, scheme, effects, periods, bandwidth)


def _r2(res) -> float:
    return float(1.0 - res.ssr / res.centered_tss)


class _Potentials(Mapping):
    """Region -> Potential, computed on first read and shared by equal systems."""

    def __init__(self, systems: dict, make_potential):
        self._systems = dict(systems)
        self._make = make_potential
        self._cache = {}

    def __getitem__(self, region):
        s = self._systems[region]
        if s not in self._cache:
            self._cache[s] = self._make(s)
        return self._cache[s]

    def __iter__(self):
        return iter(self._systems)

    def __len__(self) -> int:
        return len(self._systems)


class _CoevolutionMixin:
    """``coevolution()`` for results that have ``_panel_std``, ``q1``, ``q2`` and ``potentials()``."""

    @property
    def fitted_panel(self) -> pd.DataFrame:
        """The panel the model was fitted on: ``region, year, q1, q2`` (a copy)."""
        return self._panel_std.copy()

    def coevolution(self, strategy: str = "auto", *, domain="unit", grades=None, labels=None, labels_zh=None):
        """Co-evolution level h per region-year with this fit's potentials.

        :func:`nqpspatial.haken.coevolution.coevolution` on the fitted panel
        and :meth:`potentials`; the keywords, the returned
        :class:`~nqpspatial.haken.coevolution.CoevolutionResults` and the
        :class:`~nqpspatial.errors.ModelError` for an unsupported stability
        case are documented there.
        """
        from .coevolution import coevolution

        return coevolution(
            self._panel_std,
            self.potentials(),
            strategy=strategy,
            domain=domain,
            grades=grades,
            labels=labels,
            labels_zh=labels_zh,
            names=(self.q1, self.q2),
        )


class HakenResultsBase(_CoevolutionMixin, Results):
    """Shared base of the results of one Haken fit (aspatial and spatial).

    Gives every fitted Haken model the same potential, stability, identification
    and co-evolution behaviour.  A subclass sets, before ``_freeze()``:
    ``q1``, ``q2``, ``_panel_std`` (columns ``region, year, q1, q2``), calls
    :meth:`_set_identification` with the model parameters gamma1, a, gamma2,
    b and their inference, and :meth:`_set_systems` with each region's
    :class:`HakenSystem`.

    Attributes
    ----------
    q1, q2 : str
        Names of the order-parameter candidate and the servo variable.
    ratio : float
        |gamma2| / |gamma1|.
    adiabatic : bool
        The adiabatic verdict (:func:`adiabatic_verdict`); ``reason`` explains it.
    potential : Potential or None
        The potential when common to all regions (None when it differs by
        region; see :meth:`potentials`).
    """

    # ------------------------------------------------------------ set-up
    def _set_identification(self, est, se, p, r2, nobs, *, alpha, min_ratio, ratio_ci=None):
        """Record gamma1, a, gamma2, b with inference; set ratio, adiabatic and reason.

        ``est``, ``se``, ``p``: mappings with the four terms; ``r2``: mapping
        with ``q1`` and ``q2``; ``ratio_ci``: ``(ci_low, ci_high,
        verdict_share)`` of the ratio from draws, or None.
        """
        self._set("_ident", identification_info(est, se, p, r2, nobs, ratio_ci))
        ratio, ok, reason = adiabatic_verdict(
            float(est["gamma1"]), float(est["gamma2"]), float(p["gamma2"]), alpha=alpha, min_ratio=min_ratio
        )
        self._set("ratio", ratio)
        self._set("adiabatic", ok)
        self._set("reason", reason)

    def _set_systems(self, systems: dict, make_potential, lazy: bool = False):
        """Region -> HakenSystem, their potentials (one per distinct system) and ``potential``.

        With ``lazy`` and region-specific systems (region effects) each potential is computed when
        first read, so that a fit of many regions costs no per-region root finding until its
        potentials are asked for.
        """
        pots = _Potentials(systems, make_potential)
        distinct = set(systems.values())
        if not lazy or len(distinct) == 1:
            for r in systems:
                pots[r]
        self._set("_systems", MappingProxyType(dict(systems)))
        self._set("_potentials", MappingProxyType(pots))
        self._set("potential", pots[next(iter(systems))] if len(distinct) == 1 else None)

    # ------------------------------------------------------------ access
    def systems(self) -> dict:
        """Region -> :class:`HakenSystem` (region-specific with region effects)."""
        return dict(self._systems)

    def potentials(self) -> dict:
        """Region -> :class:`Potential`."""
        return dict(self._potentials)

    def identification_row(self, chosen: bool = False) -> pd.DataFrame:
        """One row of ``haken_identification.csv`` (documented columns first).

        Extra columns: ``ratio_ci_low``, ``ratio_ci_high`` and
        ``verdict_share`` (from the bootstrap or simulated draws; NaN
        without draws) and the stability ``case`` (NaN when the potential
        differs by region).
        """
        pot = self.potential
        row = identification_record(
            self.q1,
            self.q2,
            self._ident,
            self.ratio,
            self.adiabatic,
            self.reason,
            pot.case if pot is not None else np.nan,
            chosen=chosen,
        )
        if hasattr(self, "se_method"):  # aspatial fits (the spatial models report their own inference)
            row.update(se_method=self.se_method, inference_note=self.inference_note)
        return pd.DataFrame([row])

    def _set_year_systems(self, systems: dict, make_potential):
        """Year -> HakenSystem of a fit with year effects (one potential row per year)."""
        self._set("_year_systems", MappingProxyType(dict(systems)))
        self._set("_year_potentials", MappingProxyType({t: make_potential(s) for t, s in systems.items()}))

    def year_potentials(self) -> dict:
        """Transition year -> :class:`Potential` with year effects (empty dict otherwise)."""
        return dict(getattr(self, "_year_potentials", {}) or {})

    def potential_table(self) -> pd.DataFrame:
        """``haken_potential.csv`` rows.

        One row for a common potential; a ``region`` column when the
        potential differs by region (region or two-way effects, at the mean
        year intercept); with year effects one row per transition year plus
        one at the mean of the year intercepts (``year`` empty: the row that
        feeds h).
        """
        years = self.year_potentials()
        if self.potential is not None:
            row = pd.DataFrame([{"q1": self.q1, "q2": self.q2, **self.potential.row()}])
            if not years:
                return row
            per_year = pd.DataFrame(
                [{"q1": self.q1, "q2": self.q2, **pot.row(), "year": t} for t, pot in years.items()]
            )
            out = pd.concat([per_year, row.assign(year=np.nan)], ignore_index=True)
            out["year"] = out["year"].astype("Int64")
            return out
        rows = [{"q1": self.q1, "q2": self.q2, **pot.row(), "region": r} for r, pot in self._potentials.items()]
        return pd.DataFrame(rows)

    def _potential_summary(self, facts: dict, tables: dict, notes: list) -> None:
        """Add the stability case and stable point to a summary's facts (or a by-region table)."""
        pot = self.potential
        if pot is not None:
            facts["order-parameter equation"] = pot.order_parameter_equation()
            facts["potential"] = pot.potential_function()
            facts["stability case"] = f"{pot.case}: {pot.case_label}"
            if pot.stable_point is None:
                facts["stable point"] = "none exists"
            else:
                facts["stable point (q1*, V*)"] = f"({pot.stable_point[0]:.6g}, {pot.stable_point[1]:.6g})"
                facts["annual map stable"] = str(pot.map_stable)
            if pot.stable_point_source == "legacy":
                notes.append("legacy stable point sqrt(|g1 g2/(ab)|): not necessarily a stationary point")
        else:
            tables["potential by region"] = self.potential_table()[
                ["region", "case", "q1_star", "V_star", "map_stable"]
            ]


class HakenResults(HakenResultsBase):
    """Results of one Haken fit (one ordering, one unit).

    Attributes
    ----------
    q1, q2 : str
        Names of the order-parameter candidate and the servo variable.
    unit : object or None
        Region or group label for per-unit fits, None for a pooled fit.
    params, bse, tvalues, pvalues : pandas.Series
        gamma1, a, gamma2, b (and k1, k2 with an intercept).  With the
        wild-year bootstrap the p-values are its restricted ones.
    df : pandas.Series
        Degrees of freedom of each term's t reference distribution.
    se_method : str
        Where the standard errors, p-values and intervals come from.
    inference_note : str
        What the Monte Carlo study of docs/inference.md says of this
        option at this panel length (empty when it covers at least 90 %
        under common shocks).
    conf_int : pandas.DataFrame
        ``ci_low, ci_high`` per term: bootstrap percentile intervals when
        ``bootstrap > 0``, else t intervals from the standard errors.
    ci_method : str
    estimates : pandas.DataFrame
        Tidy table (``haken_estimates.csv``).
    rsquared : pandas.Series
        Centered R^2 of the q1 and q2 equations (also without intercept).
    nobs, n_regions, periods : int
    ratio : float
        |gamma2| / |gamma1|.
    adiabatic : bool
        The adiabatic verdict; ``reason`` explains it.
    potential : Potential or None
        The potential when common to all regions (None with region effects;
        see :meth:`potentials`).
    region_effects : pandas.DataFrame or None
        ``region, k1, k2`` with region fixed effects.
    bootstrap : BootstrapResults or None
    jackknife : dict or None
        With a bias correction: per equation the full-panel coefficients and
        the corrected ones (and the half-panel ones of the jackknife, or the
        estimated ``bias`` of the analytic correction).
    options : dict
    """

    def __init__(self, model, panel, design, res1, res2, c1, c2, params, boot, jk, opts, unit=None, inference=None):
        self.q1, self.q2 = model.q1, model.q2
        self.unit = unit
        inference = dict(inference or {"se": model.se})
        self.options = MappingProxyType(
            dict(
                intercept=model.intercept,
                effects=model.effects,
                se=model.se,
                window=model.window,
                by=model.by,
                bandwidth=inference.get("bandwidth"),
                **opts,
            )
        )
        self._res = (res1, res2)
        self._design = design
        self.panel = panel.rename(columns={"q1": self.q1, "q2": self.q2})
        self._panel_std = panel.copy()
        terms = list(params.index)
        wild = boot is not None and getattr(boot, "scheme", "region") == "wild-year"
        if wild:  # p-values of the null-imposed wild-year bootstrap (valid under a unit root)
            params = params.copy()
            params["p"] = boot.pvalues.reindex(terms).to_numpy(dtype=float)
        self.params = params["estimate"].astype(float).rename("estimate")
        self.bse = params["std_err"].astype(float).rename("std_err")
        self.tvalues = params["t"].astype(float).rename("t")
        self.pvalues = params["p"].astype(float).rename("p")
        self.df = params["df"].astype(float).rename("df")
        self.nobs = int(design.nobs)
        self.n_regions = len(design.regions)
        self.periods = int(panel["year"].nunique())
        self.years = (int(panel["year"].min()), int(panel["year"].max()))
        self.rsquared = pd.Series({"q1": _r2(res1), "q2": _r2(res2)}, name="r2")
        self.bootstrap = boot
        self.jackknife = MappingProxyType(jk) if jk is not None else None
        alpha = opts["alpha"]
        if boot is not None:
            iv = boot.intervals.set_index("term")
            ci = iv.loc[terms, ["ci_low", "ci_high"]]
            self.ci_method = boot.method
        else:
            q = stats.t.ppf(1 - alpha / 2, params["df"].astype(float))
            ci = pd.DataFrame({"ci_low": self.params - q * self.bse, "ci_high": self.params + q * self.bse})
            self.ci_method = "t interval from the standard errors"
        self.conf_int = ci.astype(float)
        self.se_method = se_method_text(
            model.se,
            inference.get("bandwidth"),
            float(params["df"].iloc[0]),
            boot,
            psd_fix=bool(inference.get("psd_fix")),
        )
        self.inference_note = inference_note(model.se, boot, model.effects, self.periods, model.bandwidth)
        ratio_ci = None
        if boot is not None:
            ratio_ci = (iv.at["ratio", "ci_low"], iv.at["ratio", "ci_high"], boot.verdict_share)
        self._set_identification(
            self.params,
            self.bse,
            self.pvalues,
            self.rsquared,
            self.nobs,
            alpha=alpha,
            min_ratio=opts["min_ratio"],
            ratio_ci=ratio_ci,
        )
        if self.inference_note:
            self._set("reason", f"{self.reason} [inference: {self.inference_note}]")
        est = pd.DataFrame(
            {
                "q1": self.q1,
                "q2": self.q2,
                "term": terms,
                "estimate": self.params.to_numpy(),
                "std_err": self.bse.to_numpy(),
                "t": self.tvalues.to_numpy(),
                "p": self.pvalues.to_numpy(),
                "ci_low": ci["ci_low"].to_numpy(),
                "ci_high": ci["ci_high"].to_numpy(),
                "ci_method": self.ci_method,
                "se_method": self.se_method,
            }
        )
        if opts["jackknife"]:
            est["note"] = "split-panel jackknife estimate; std_err from the full-panel fit"
        elif opts.get("correction") == "analytic":
            est["note"] = "analytic bias-corrected estimate (Hahn & Kuersteiner 2011); std_err from the uncorrected fit"
        self.estimates = est
        p = self.params
        base = dict(gamma1=float(p["gamma1"]), a=float(p["a"]), gamma2=float(p["gamma2"]), b=float(p["b"]))
        systems, year_systems, self.region_effects, self.year_effects = _effect_systems(
            design, c1, c2, base, float(p.get("k1", 0.0)), float(p.get("k2", 0.0))
        )
        legacy = opts["legacy_stable_point"]
        self._set_systems(systems, partial(HakenSystem.potential, legacy_stable_point=legacy), lazy=not legacy)
        if year_systems:
            self._set_year_systems(year_systems, lambda s: s.potential(legacy_stable_point=legacy))
        self._freeze()

    # ----------------------------------------------------------------- access
    def marginal_effects(self) -> pd.DataFrame:
        """Average marginal effects of q1(t), q2(t) on q1(t+1), q2(t+1) (``haken_marginal_effects.csv``).

        The derivatives of the fitted map (:func:`map_marginal_effects`)
        averaged over the estimation sample's starting states, through every
        term (``dq1'/dq1 = 1 - gamma1 - a q2`` includes the interaction).
        Intervals: percentiles of the cluster-bootstrap draws of the
        parameters when ``bootstrap > 0`` (the sample's states held fixed);
        otherwise a t interval by the delta method, exact because each effect
        is linear in its equation's coefficients (the covariance of the fit's
        ``se`` type, Driscoll-Kraay and two-way included; degrees of freedom
        as the estimates').

        Returns
        -------
        pandas.DataFrame
            q1, q2, equation, wrt, estimate, ci_low, ci_high, ci_method.
        """
        res1, res2 = self._res
        m1, m2 = float(self._design.Z1["lag"].mean()), float(self._design.Z2["lag"].mean())
        p = self.params
        point = map_marginal_effects(p["gamma1"], p["a"], p["gamma2"], p["b"], m1, m2)
        alpha = self.options["alpha"]
        if self.bootstrap is not None:
            d = self.bootstrap.draws
            sims = map_marginal_effects(d["gamma1"], d["a"], d["gamma2"], d["b"], m1, m2)
            ci = {k: np.quantile(v, [alpha / 2, 1 - alpha / 2]) for k, v in sims.items()}
            method = f"cluster bootstrap percentile (B = {self.bootstrap.B}; sample states fixed)"
        else:
            grads = {
                ("q1", "q1"): (0, [1.0, m2]),
                ("q1", "q2"): (0, [0.0, m1]),
                ("q2", "q1"): (1, [0.0, 2.0 * m1]),
                ("q2", "q2"): (1, [1.0, 0.0]),
            }
            ci = {}
            for k, (eq, g) in grads.items():
                r = (res1, res2)[eq]
                V = r.cov_params().to_numpy()[:2, :2]
                se = float(np.sqrt(np.asarray(g) @ V @ np.asarray(g)))
                q = stats.t.ppf(1 - alpha / 2, r.df)
                ci[k] = (float(point[k]) - q * se, float(point[k]) + q * se)
            method = "t interval, delta method (linear in the coefficients)"
        rows = [
            {
                "q1": self.q1,
                "q2": self.q2,
                "equation": eq,
                "wrt": w,
                "estimate": float(point[(eq, w)]),
                "ci_low": float(ci[(eq, w)][0]),
                "ci_high": float(ci[(eq, w)][1]),
                "ci_method": method,
            }
            for eq, w in MARGINAL_EFFECT_PAIRS
        ]
        return pd.DataFrame(rows, columns=MARGINAL_EFFECT_COLUMNS)

    def residual_blocks(self, ids) -> tuple:
        """The fit's regressions as ``(T, N)`` blocks for spatial diagnostics.

        Parameters
        ----------
        ids : sequence
            Region ids in the order of the weights matrix (every region of
            the fit, each once).

        Returns
        -------
        tuple
            ``(equations, years)``: ``{"q1": (y, X, e), "q2": (y, X, e)}``
            with ``y``, ``e`` of shape ``(T, N)`` and ``X`` of shape
            ``(T, N, k)`` (region fixed effects partialled out, year dummies
            kept as columns), and the ``T`` transition years.

        Raises
        ------
        InputError
            When the panel is unbalanced or the ids do not match the fit's regions.
        """
        from ..errors import InputError

        d = self._design
        ids = list(ids)
        if sorted(map(str, ids)) != sorted(map(str, d.regions)) or len(set(ids)) != len(ids):
            raise InputError("the weights' regions differ from the Haken fit's regions")
        T, N = len(d.years), len(ids)
        if d.nobs != T * N:
            raise InputError(
                "the panel is unbalanced (not every region in every year): spatial diagnostics "
                "of the residuals need every region in every year"
            )
        pos = {r: i for i, r in enumerate(ids)}
        col = np.array([pos[r] for r in d.region])
        row = d.tcodes
        out = {}
        for eq, X, y, res in (("q1", d.Z1, d.y1, self._res[0]), ("q2", d.Z2, d.y2, self._res[1])):
            Xw, yw = d.within(X, y)
            Yb, Eb = np.empty((T, N)), np.empty((T, N))
            Xb = np.empty((T, N, Xw.shape[1]))
            Yb[row, col], Eb[row, col], Xb[row, col] = yw, np.asarray(res.resid, float), Xw
            out[eq] = (Yb, Xb, Eb)
        return out, list(d.years)

    @property
    def equation_results(self):
        """The two equation fits (q1, q2) of the full panel, before any bias correction.

        :class:`nqpspatial.haken.within.EquationFit` objects: ``params`` (slopes, then the fixed
        effects), ``bse``, ``cov_params()``, ``resid``, ``fittedvalues``, ``df_resid``, ``df``,
        ``rsquared``; equal to statsmodels' OLS on the dummy-column design.
        """
        return self._res

    def summary(self):
        """Text/HTML/LaTeX summary: fit facts, estimates, potential and verdict."""
        o = self.options
        facts = {"q1 (order parameter)": self.q1, "q2 (servo)": self.q2}
        if self.unit is not None:
            facts["unit"] = str(self.unit)
        facts.update(
            {
                "observations (transitions)": self.nobs,
                "regions": self.n_regions,
                "years": f"{self.years[0]}-{self.years[1]}",
                "standard errors": o["se"],
                "intercept": str(o["intercept"]),
                "effects": o["effects"],
                "R2 q1 equation": self.rsquared["q1"],
                "R2 q2 equation": self.rsquared["q2"],
                "ratio |gamma2|/|gamma1|": self.ratio,
                "adiabatic verdict": self.reason,
                "intervals": self.ci_method,
                "inference": self.se_method,
            }
        )
        if self.bootstrap is not None:
            facts["bootstrap verdict share"] = self.bootstrap.verdict_share
        tables = {
            "parameters": self.estimates.drop(
                columns=["q1", "q2", "ci_method", "se_method"] + (["note"] if "note" in self.estimates else [])
            )
        }
        notes = []
        self._potential_summary(facts, tables, notes)
        if o["jackknife"]:
            notes.append(
                "split-panel jackknife (Dhaene & Jochmans 2015) estimates; standard errors from the full-panel fit"
            )
        elif o.get("correction") == "analytic":
            notes.append(
                "analytic bias correction for predetermined regressors (Hahn & Kuersteiner 2011); "
                "standard errors from the uncorrected fit"
            )
        if (
            o["effects"] in ("region", "two-way")
            and self.periods < SHORT_PANEL_PERIODS
            and o.get("correction", "none") == "none"
        ):
            notes.append(f"{o['effects']} effects with {self.periods} periods: Nickell bias in gamma1, gamma2")
        if self.inference_note:
            notes.append(f"inference: {self.inference_note}")
        notes.append(
            "gamma = 1 - coefficient on the own lag; a = -coefficient on q1*q2; b = coefficient on q1^2; R2 is centered"
        )
        return Summary("Haken model (discrete form, OLS)", facts, tables, tuple(notes))


class HakenByResults(_CoevolutionMixin, Results):
    """Per-unit (region or group) Haken fits.

    Attributes
    ----------
    by : str
        "region" or "group".
    units : mapping
        Unit label -> :class:`HakenResults`.
    estimates : pandas.DataFrame
        Tidy estimates with a ``region`` or ``group`` column.
    notes : tuple of str
    """

    def __init__(self, model, fits: dict, notes):
        self.by = model.by
        self.q1, self.q2 = model.q1, model.q2
        self.units = MappingProxyType(dict(fits))
        self.notes = tuple(notes)
        col = self.by
        self.estimates = pd.concat([f.estimates.assign(**{col: u}) for u, f in fits.items()], ignore_index=True)
        if model.by == "group":
            self._unit_of = {r: g for g in fits for r in fits[g]._systems}
        else:
            self._unit_of = {r: r for r in fits}
        self._panel_std = pd.concat([f._panel_std for f in fits.values()], ignore_index=True)
        self.options = next(iter(fits.values())).options
        self.potential = None
        self._freeze()

    def systems(self) -> dict:
        """Region -> :class:`HakenSystem` of its unit."""
        out = {}
        for u, f in self.units.items():
            out.update(f.systems())
        return out

    def potentials(self) -> dict:
        """Region -> :class:`Potential` of its unit."""
        out = {}
        for u, f in self.units.items():
            out.update(f.potentials())
        return out

    def identification_table(self) -> pd.DataFrame:
        """Identification rows of every unit (with a ``region``/``group`` column)."""
        return pd.concat(
            [f.identification_row().assign(**{self.by: u}) for u, f in self.units.items()], ignore_index=True
        )

    def marginal_effects(self) -> pd.DataFrame:
        """Average marginal effects of every unit (``region`` or ``group`` column); see
        :meth:`HakenResults.marginal_effects`."""
        return pd.concat(
            [f.marginal_effects().assign(**{self.by: u}) for u, f in self.units.items()], ignore_index=True
        )

    def potential_table(self) -> pd.DataFrame:
        """``haken_potential.csv`` rows, one per unit (``region`` or ``group`` column)."""
        return pd.concat([f.potential_table().assign(**{self.by: u}) for u, f in self.units.items()], ignore_index=True)

    def summary(self):
        """Summary: one row of key estimates per unit."""
        tab = self.identification_table()
        cols = [self.by, "gamma1", "a", "gamma2", "b", "p_gamma2", "ratio", "adiabatic", "case"]
        return Summary(
            f"Haken model by {self.by}",
            {"q1": self.q1, "q2": self.q2, "units": len(self.units)},
            {"estimates by unit": tab[cols]},
            self.notes,
        )
