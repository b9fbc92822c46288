"""The two readings of a spatial Haken fit's dynamics.

``system`` (the default)
    The dynamics of the estimated spatial system.  A spatially uniform state
    under a row-standardized W (every row sums to 1, no region effects, no
    zone split) stays uniform and follows the aspatial Haken map with the
    *total-effect* parameters (SAR: ``beta / (1 - rho)``, SDM:
    ``(beta + theta) / (1 - rho)``, SLX: ``beta + theta``, SEM: ``beta``) and
    the intercepts ``c / (1 - rho)``; its stable point is the uniform fixed
    point, and ``map_stable`` asks whether that point is stable in the full
    spatial map (every eigenvalue of W, :func:`.dynamics.uniform_stability`).
    Otherwise only the per-region steady states of the full map are given
    (their mean and range), and the uniform ``q1_star`` stays empty with the
    reason.
``local``
    One region's own dynamics with the rest held at their response: the
    Haken parameters from the *direct* effects (LeSage & Pace 2009), feedback
    through the neighbours included, without intercepts or region effects.
    This was the only reading before issue 14.

Both readings are always reported; ``reading`` chooses the one used by the
verdict, ``chosen``, the potential, ``h`` and the report.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from nqpspatial.haken import HakenSystem, Potential
from nqpspatial.haken.results import (
    IDENTIFICATION_COLUMNS,
    adiabatic_verdict,
    draw_intervals,
    identification_info,
    identification_record,
)
from nqpspatial.results import Results, Summary

__all__ = [
    "READINGS",
    "SpatialPotential",
    "SpatialReading",
    "POTENTIAL_READING_COLUMNS",
    "STEADY_STATE_COLUMNS",
    "MARGINAL_EFFECT_COLUMNS",
    "check_reading",
]

READINGS = ("system", "local")
#: Documented columns of ``spatial_haken_potential.csv`` (the contract), then the extra ones.
POTENTIAL_READING_COLUMNS = [
    "model",
    "weights",
    "q1",
    "q2",
    "reading",
    "gamma1",
    "a",
    "gamma2",
    "b",
    "case",
    "q1_star",
    "q1_star_low",
    "q1_star_high",
    "stable_share",
    "V_star",
    "map_stable",
]
POTENTIAL_READING_EXTRA = [
    "case_label",
    "k1",
    "k2",
    "q2_star",
    "jacobian_radius",
    "map_stable_2d",
    "reduced_map_stable",
    "stability_check",
    "steady_q1_mean",
    "steady_q1_min",
    "steady_q1_max",
    "note",
]
STEADY_STATE_COLUMNS = ["model", "weights", "q1", "q2", "region", "q1_star", "q2_star", "converged", "iterations"]
MARGINAL_EFFECT_COLUMNS = [
    "model",
    "weights",
    "q1",
    "q2",
    "equation",
    "wrt",
    "effect",
    "estimate",
    "ci_low",
    "ci_high",
    "p",
    "std_err",
    "ci_method",
]


def check_reading(reading) -> str:
    """``reading`` if it is ``"system"`` or ``"local"``; else :class:`~nqpspatial.errors.InputError`."""
    if reading not in READINGS:
        from nqpspatial.errors import InputError

        raise InputError(f"reading must be 'system' or 'local', got {reading!r}", "config")
    return reading


class SpatialPotential(Potential):
    """The potential of one reading of a spatial Haken fit (a :class:`nqpspatial.haken.Potential`).

    It behaves as the aspatial potential: ``pot(q1)`` is V(q1), and
    ``case``, ``stable_point``, ``map_stable``, ``distance`` ... are
    available.  Called with no argument it returns its one-row table
    (model, weights, q1, q2, reading, gamma1, a, gamma2, b, case (1-4),
    q1_star, V_star, map_stable, case_label).

    Parameters
    ----------
    system : HakenSystem
        The reading's Haken parameters (and intercepts).
    key : dict
        model, weights, q1, q2.
    reading : {"system", "local"}
    stability : callable, optional
        ``stability(q1*, q2*) -> UniformStability`` for the system reading:
        ``map_stable``, ``map_stable_2d`` and ``jacobian_radius`` then read
        the uniform fixed point's stability in the full spatial map (every
        mode of W), and ``stability_note`` names an unstable mode.
    """

    def __init__(self, system: HakenSystem, key: dict, reading: str = "local", stability=None):
        super().__init__(system.gamma1, system.a, system.gamma2, system.b, k1=system.k1, k2=system.k2)
        self._set("reading", reading)
        self._set("stability", None)
        self._set("stability_note", "")
        self._set("stability_check", "two-variable map (Jacobian at the fixed point)")
        if stability is not None and self.stable_point is not None:
            q = self.stable_point[0]
            st = stability(q, (system.k2 + system.b * q * q) / system.gamma2)
            self._set("stability", st)
            self._set("map_stable", st.stable)
            self._set("map_stable_2d", st.stable)
            self._set("jacobian_radius", st.radius)
            self._set("stability_note", st.note)
            self._set("stability_check", st.method)
        qs, vs = self.stable_point if self.stable_point is not None else (math.nan, math.nan)
        self._set(
            "_table",
            pd.DataFrame(
                [
                    {
                        **key,
                        "reading": reading,
                        "gamma1": system.gamma1,
                        "a": system.a,
                        "gamma2": system.gamma2,
                        "b": system.b,
                        "case": self.case,
                        "q1_star": qs,
                        "V_star": vs,
                        "map_stable": self.map_stable,
                        "case_label": self.case_label,
                    }
                ]
            ),
        )

    def __call__(self, q1=None):
        """V(q1); with no argument, the one-row potential table (a copy)."""
        if q1 is None:
            return self._table.copy()
        return super().__call__(q1)


def _interval(draws: dict, name: str, alpha: float):
    """q1* percentiles over the draws with a stable point and their share (empty below 50 %)."""
    has = draws.get((name, "has_stable"))
    if has is None:
        return math.nan, math.nan, math.nan
    share = float(np.mean(has))
    if share < 0.5:
        return math.nan, math.nan, share
    lo, hi = np.quantile(draws[(name, "q1_star")][has], [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi), share


class SpatialReading(Results):
    """One reading (system or local) of a spatial Haken fit: parameters, verdict, potential, stable point.

    Attributes
    ----------
    name : str
        ``"system"`` or ``"local"``.
    haken_params : dict
        gamma1, a, gamma2, b (from the total or the direct effects).
    intercepts : tuple of float
        ``(k1, k2)`` of the uniform state (0 for the local reading).
    potential : SpatialPotential or None
        None for the system reading when the uniform state is not defined.
    ratio, adiabatic, reason
        The adiabatic verdict on these parameters.
    identification : pandas.DataFrame
        One row of ``spatial_haken_identification.csv``.
    row : dict
        One row of ``spatial_haken_potential.csv``.
    note : str
        Why the uniform state is not defined, or which mode is unstable.
    """

    def __init__(
        self,
        name: str,
        key: dict,
        point: dict,
        draws: dict,
        *,
        r2,
        nobs: int,
        alpha: float,
        min_ratio: float,
        potential: SpatialPotential | None,
        note: str = "",
        steady=None,
    ):
        self.name = name
        terms = ("gamma1", "a", "gamma2", "b")
        est = {t: float(point[(name, t)][0]) for t in terms}
        self.haken_params = MappingProxyType(est)
        self.intercepts = (float(point[(name, "k1")][0]), float(point[(name, "k2")][0]))
        par = pd.DataFrame({t: draws[(name, t)] for t in terms})
        _, intervals, share = draw_intervals(par, alpha=alpha, min_ratio=min_ratio)
        iv = intervals.set_index("term")
        se = {t: float(iv.at[t, "std_err"]) for t in terms}
        with np.errstate(divide="ignore", invalid="ignore"):
            pvals = {t: float(2.0 * stats.norm.sf(np.abs(np.float64(est[t]) / np.float64(se[t])))) for t in terms}
        self._ident = identification_info(
            est, se, pvals, r2, nobs, (iv.at["ratio", "ci_low"], iv.at["ratio", "ci_high"], share)
        )
        self.ratio, self.adiabatic, self.reason = adiabatic_verdict(
            est["gamma1"], est["gamma2"], pvals["gamma2"], alpha=alpha, min_ratio=min_ratio
        )
        self.potential = potential
        if potential is not None and potential.stability_note:
            note = potential.stability_note
        self.note = note
        case = potential.case if potential is not None else math.nan
        rec = identification_record(key["q1"], key["q2"], self._ident, self.ratio, self.adiabatic, self.reason, case)
        ident = pd.DataFrame([rec])
        extra = [c for c in ident.columns if c not in IDENTIFICATION_COLUMNS]
        self.identification = pd.concat(
            [
                ident[IDENTIFICATION_COLUMNS].assign(model=key["model"], weights=key["weights"], reading=name),
                ident[extra],
            ],
            axis=1,
        )
        self.row = self._row(key, est, draws, alpha, steady)
        self._freeze()

    def _row(self, key, est, draws, alpha, steady) -> dict:
        pot = self.potential
        lo, hi, share = _interval(draws, self.name, alpha)
        nan = math.nan
        row = {
            **key,
            "reading": self.name,
            **est,
            "case": nan,
            "q1_star": nan,
            "q1_star_low": lo,
            "q1_star_high": hi,
            "stable_share": share,
            "V_star": nan,
            "map_stable": None,
            "case_label": "",
            "k1": self.intercepts[0],
            "k2": self.intercepts[1],
            "q2_star": nan,
            "jacobian_radius": nan,
            "map_stable_2d": None,
            "reduced_map_stable": None,
            "stability_check": "",
            "steady_q1_mean": nan,
            "steady_q1_min": nan,
            "steady_q1_max": nan,
            "note": self.note,
        }
        if pot is not None:
            row.update(case=pot.case, case_label=pot.case_label, stability_check=pot.stability_check)
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
        if steady is not None and self.name == "system":
            q = np.asarray(steady.q1, dtype=float)
            if np.all(np.isfinite(q)):
                row.update(steady_q1_mean=float(q.mean()), steady_q1_min=float(q.min()), steady_q1_max=float(q.max()))
        return row

    def summary(self) -> Summary:
        """The reading's parameters, verdict and stable point."""
        facts = {
            "reading": self.name,
            **self.haken_params,
            "ratio |gamma2|/|gamma1|": self.ratio,
            "adiabatic verdict": self.reason,
        }
        pot = self.potential
        if pot is None:
            facts["stable point"] = "not defined: " + self.note
        else:
            facts["stability case"] = f"{pot.case}: {pot.case_label}"
            facts["stable point"] = (
                "none exists"
                if pot.stable_point is None
                else f"q1* = {pot.stable_point[0]:.6g}, annual map stable: {pot.map_stable}"
            )
        return Summary(f"Spatial Haken reading: {self.name}", facts, {}, (self.note,) if self.note else ())
