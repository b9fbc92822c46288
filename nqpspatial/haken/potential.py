"""Potential function, stationary points and stability of the Haken model.

Adiabatic elimination of the fast (servo) variable sets
``dq2/dt = 0``, i.e. ``q2 = (k2 + b q1^2) / gamma2``.  Substituting into the
order-parameter equation gives ``dq1/dt = -dV/dq1`` with the potential

.. math::

    V(q_1) = -k_1 q_1 + \\tfrac12 A q_1^2 + \\tfrac14 B q_1^4,\\qquad
    A = \\gamma_1 + a k_2/\\gamma_2,\\quad B = a b/\\gamma_2 .

Without intercepts (``k1 = k2 = 0``) this is Haken's
``V = gamma1 q1^2 / 2 + a b q1^4 / (4 gamma2)`` (Haken 1983, *Synergetics*,
Springer).  Stationary points are the real roots of the cubic
``V'(q1) = -k1 + A q1 + B q1^3``; a root is a (continuous-time) stable point
when ``V'' > 0`` there.  For the *annual map* the reduced map is
``q1 -> q1 - V'(q1)``, whose derivative at a fixed point is ``1 - V''``: the
fixed point is map-stable only when ``0 < V'' < 2`` and the servo equation is
map-stable (``0 < gamma2 < 2``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..errors import ModelError, NqpWarning
from ..results import Results, Summary

__all__ = ["Potential", "LegacyStablePointWarning", "CASE_LABELS"]


class LegacyStablePointWarning(NqpWarning):
    """The legacy stable point sqrt(|g1 g2 / (a b)|) was requested."""


#: Labels of the stability cases (for gamma2 > 0); case 0 is "not defined".
CASE_LABELS = {
    0: "undefined: gamma2 <= 0 (no adiabatic elimination) or a zero coefficient",
    1: "gamma1 < 0, ab > 0: q1 = 0 unstable, stable points at +-q1* (ordered state)",
    2: "gamma1 > 0, ab > 0: only q1 = 0, stable",
    3: "gamma1 < 0, ab < 0: no stable point, V unbounded below",
    4: "gamma1 > 0, ab < 0: q1 = 0 stable, +-q1* unstable",
}


def _poly_text(terms) -> str:
    """``c0 + c1 q1 + ...`` from ``(coefficient, power)`` pairs, zero terms left out."""
    parts = []
    for c, k in terms:
        if c == 0:
            continue
        mag = f"{abs(c):.6g}" + ("" if k == 0 else " q1" if k == 1 else f" q1^{k}")
        parts.append(("-" if c < 0 else "") + mag if not parts else (" - " if c < 0 else " + ") + mag)
    return "".join(parts) or "0"


def _real_roots(coefs_low_to_high) -> np.ndarray:
    poly = np.polynomial.Polynomial(coefs_low_to_high).trim()
    if poly.degree() < 1:
        return np.array([])
    roots = poly.roots()
    keep = np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))
    return np.unique(np.sort(roots[keep].real))


class Potential(Results):
    """Potential of the order-parameter equation and its stability reading.

    Parameters
    ----------
    gamma1, a, gamma2, b : float
        Haken model parameters (see :class:`~nqpspatial.haken.HakenSystem`).
    k1, k2 : float, default 0
        Intercepts of the q1 and q2 equations.
    legacy_stable_point : bool, default False
        When true, report the "stable point" ``sqrt(|gamma1 gamma2/(a b)|)``
        used by some papers whatever the case, and emit a
        :class:`LegacyStablePointWarning`.  Use only to reproduce such papers.

    Attributes
    ----------
    case : int
        1-4 as in :data:`CASE_LABELS` (classified on ``A`` and ``ab``), 0 when
        undefined.
    case_label : str
    valid : bool
        ``gamma2 > 0`` (adiabatic elimination meaningful).
    quadratic, quartic, linear : float
        ``A``, ``B`` and ``-k1`` in ``V = linear q + A q^2/2 + B q^4/4``.
    stationary : pandas.DataFrame
        All real stationary points: ``q1, V, curvature (V''), stable,
        map_derivative, map_stable``.
    stable_point : tuple of float or None
        ``(q1*, V*)``: the deepest stable stationary point with q1 >= 0
        (ties: the larger q1), or the legacy point, or None.
    stable_point_source : str or None
        ``"potential"``, ``"legacy"`` or None.
    map_stable : bool or None
        Whether the stable point is a stable fixed point of the annual map
        (reduced map derivative in (-1, 1) and 0 < gamma2 < 2); None when no
        stable point exists.
    map_stable_2d : bool or None
        The same reading from the full two-dimensional map's Jacobian
        (spectral radius < 1).
    servo_map_stable : bool
        ``0 < gamma2 < 2``.
    """

    def __init__(self, gamma1, a, gamma2, b, *, k1=0.0, k2=0.0, legacy_stable_point=False):
        g1, a, g2, b, k1, k2 = (float(v) for v in (gamma1, a, gamma2, b, k1, k2))
        if not all(math.isfinite(v) for v in (g1, a, g2, b, k1, k2)):
            raise ModelError("the potential needs finite gamma1, a, gamma2, b, k1, k2")
        self.gamma1, self.a, self.gamma2, self.b, self.k1, self.k2 = g1, a, g2, b, k1, k2
        self.valid = g2 > 0
        self.servo_map_stable = bool(0 < g2 < 2)
        self.legacy = bool(legacy_stable_point)
        if self.valid:
            A = g1 + a * k2 / g2
            B = a * b / g2
        else:
            A = B = float("nan")
        self.quadratic, self.quartic, self.linear = A, B, 0.0 - k1
        ab = a * b
        if not self.valid or A == 0 or ab == 0:
            case = 0
        elif A < 0 and ab > 0:
            case = 1
        elif A > 0 and ab > 0:
            case = 2
        elif A < 0 and ab < 0:
            case = 3
        else:
            case = 4
        self.case = case
        self.case_label = CASE_LABELS[case]

        rows = []
        if self.valid:
            if k1 == 0.0:
                pts = [0.0]
                if B != 0 and -A / B > 0:
                    r = math.sqrt(-A / B)
                    pts = [-r, 0.0, r]
                roots = np.array(pts)
            else:
                roots = _real_roots([-k1, A, 0.0, B])
            for q in roots:
                curv = A + 3 * B * q * q
                deriv = 1.0 - curv
                rows.append({
                    "q1": float(q), "V": float(self._v(q)), "curvature": float(curv),
                    "stable": bool(curv > 0), "map_derivative": float(deriv),
                    "map_stable": bool(-1 < deriv < 1 and self.servo_map_stable),
                })
        self.stationary = pd.DataFrame(rows, columns=["q1", "V", "curvature", "stable",
                                                      "map_derivative", "map_stable"])
        star = None
        source = None
        if self.legacy:
            warnings.warn(
                "legacy_stable_point = true: reporting q1* = sqrt(|gamma1 gamma2 / (a b)|) whatever "
                "the stability case; this point need not be a stable (or any) stationary point of "
                "the potential", LegacyStablePointWarning, stacklevel=2)
            if ab == 0 or g2 == 0:
                raise ModelError("the legacy stable point sqrt(|gamma1 gamma2/(a b)|) is undefined "
                                 "because a*b = 0 or gamma2 = 0")
            q = math.sqrt(abs(g1 * g2 / ab))
            star = (q, float(self._v(q)) if self.valid else float("nan"))
            source = "legacy"
        elif rows:
            cands = [r for r in rows if r["stable"] and r["q1"] >= -1e-12]
            if cands:
                best = min(cands, key=lambda r: (r["V"], -r["q1"]))
                star = (max(best["q1"], 0.0) if abs(best["q1"]) <= 1e-12 else best["q1"], best["V"])
                source = "potential"
        self.stable_point = star
        self.stable_point_source = source
        if star is not None and self.valid:
            curv = A + 3 * B * star[0] ** 2
            self.map_stable = bool(-1 < 1 - curv < 1 and self.servo_map_stable)
            q2s = (k2 + b * star[0] ** 2) / g2
            jac = np.array([[1 - g1 - a * q2s, -a * star[0]], [2 * b * star[0], 1 - g2]])
            self.jacobian_radius = float(np.max(np.abs(np.linalg.eigvals(jac))))
            self.map_stable_2d = bool(self.jacobian_radius < 1)
        else:
            self.map_stable = None
            self.jacobian_radius = float("nan")
            self.map_stable_2d = None
        self._freeze()

    @classmethod
    def from_params(cls, *, gamma1, a, gamma2, b, k1=0.0, k2=0.0, legacy_stable_point=False) -> "Potential":
        """Keyword-only constructor (``Potential.from_params(gamma1=..., a=..., gamma2=..., b=...)``)."""
        return cls(gamma1, a, gamma2, b, k1=k1, k2=k2, legacy_stable_point=legacy_stable_point)

    # ------------------------------------------------------------------ values
    def _v(self, q):
        return self.linear * q + 0.5 * self.quadratic * q * q + 0.25 * self.quartic * q ** 4

    def order_parameter_equation(self) -> str:
        """The order-parameter equation ``dq1/dt = -V'(q1) = k1 - A q1 - B q1^3`` as text."""
        if not self.valid:
            return f"undefined (gamma2 = {self.gamma2:.6g} <= 0: the servo variable cannot be eliminated)"
        return "dq1/dt = " + _poly_text([(self.k1, 0), (-self.quadratic, 1), (-self.quartic, 3)])

    def potential_function(self) -> str:
        """The potential ``V(q1) = -k1 q1 + A q1^2 / 2 + B q1^4 / 4`` as text."""
        if not self.valid:
            return f"undefined (gamma2 = {self.gamma2:.6g} <= 0: the servo variable cannot be eliminated)"
        return "V(q1) = " + _poly_text([(self.linear, 1), (0.5 * self.quadratic, 2), (0.25 * self.quartic, 4)])

    @property
    def has_stable_point(self) -> bool:
        """Whether a stable point (or a requested legacy point) exists."""
        return self.stable_point is not None

    def __call__(self, q1):
        """Evaluate V at ``q1`` (scalar or array).

        Raises
        ------
        ModelError
            When gamma2 <= 0 (the potential is not defined).
        """
        if not self.valid:
            raise ModelError(f"the potential is undefined because gamma2 = {self.gamma2:.6g} <= 0: "
                             "the servo variable is not damped, so it cannot be eliminated")
        q = np.asarray(q1, dtype=float)
        out = self._v(q)
        return float(out) if out.ndim == 0 else out

    def derivative(self, q1):
        """V'(q1) = -k1 + A q1 + B q1^3."""
        q = np.asarray(q1, dtype=float)
        return -self.k1 + self.quadratic * q + self.quartic * q ** 3

    def polynomial(self) -> np.polynomial.Polynomial:
        """V as a :class:`numpy.polynomial.Polynomial` (coefficients low to high)."""
        return np.polynomial.Polynomial([0.0, self.linear, 0.5 * self.quadratic, 0.0, 0.25 * self.quartic])

    def extremes(self, lo: float, hi: float) -> tuple[float, float]:
        """Minimum and maximum of V over the interval [lo, hi] (exact).

        Returns
        -------
        tuple of float
            ``(V_min, V_max)``.
        """
        cand = [lo, hi] + [q for q in self.stationary["q1"] if lo < q < hi]
        vals = [self(q) for q in cand]
        return float(min(vals)), float(max(vals))

    def distance(self, q1):
        """Distance of ``(q1, V(q1))`` from the stable point ``(q1*, V*)``.

        Raises
        ------
        ModelError
            When no stable point exists.
        """
        if self.stable_point is None:
            raise ModelError(f"no stable point exists (case {self.case}: {self.case_label}); the "
                             "distance from a stable point is undefined. Use the 'potential' or "
                             "'potential-normalized' co-evolution strategy")
        qs, vs = self.stable_point
        q = np.asarray(q1, dtype=float)
        out = np.sqrt((q - qs) ** 2 + (self(q) - vs) ** 2)
        return float(out) if out.ndim == 0 else out

    def max_distance(self, lo: float, hi: float) -> float:
        """Maximum of :meth:`distance` over [lo, hi] (endpoints and interior critical points)."""
        if self.stable_point is None:
            self.distance(lo)  # raises
        qs, vs = self.stable_point
        p = self.polynomial()
        # d^2/2 derivative: (q - qs) + (V - vs) V'
        crit = np.polynomial.Polynomial([-qs, 1.0]) + (p - vs) * p.deriv()
        roots = _real_roots(crit.coef)
        cand = [lo, hi] + [q for q in roots if lo < q < hi]
        return float(max(self.distance(q) for q in cand))

    # ----------------------------------------------------------------- output
    def row(self) -> dict:
        """One row for ``haken_potential.csv`` (stars are NaN when none exists).

        Besides the case and the stable point: the stationary points, the
        coefficients of V and the order-parameter equation and potential as
        text (``order_parameter_equation``, ``potential_function``).
        """
        qs, vs = self.stable_point if self.stable_point is not None else (float("nan"), float("nan"))
        st = self.stationary
        return {
            "case": self.case, "q1_star": qs, "V_star": vs, "map_stable": self.map_stable,
            "case_label": self.case_label, "stable_point_source": self.stable_point_source,
            "servo_map_stable": self.servo_map_stable, "map_stable_2d": self.map_stable_2d,
            "jacobian_radius": self.jacobian_radius,
            "stationary_points": "; ".join(
                f"{q:.6g} ({'stable' if s else 'unstable'})" for q, s in zip(st["q1"], st["stable"])),
            "quadratic": self.quadratic, "quartic": self.quartic, "linear": self.linear,
            "order_parameter_equation": self.order_parameter_equation(),
            "potential_function": self.potential_function(),
        }

    def summary(self) -> Summary:
        """Summary of the potential: case, stable point and stationary points."""
        facts = {"case": f"{self.case}: {self.case_label}",
                 "order-parameter equation": self.order_parameter_equation(),
                 "V(q1)": self.potential_function()}
        if self.stable_point is None:
            facts["stable point"] = "none exists"
        else:
            facts["q1*"] = self.stable_point[0]
            facts["V*"] = self.stable_point[1]
            facts["source"] = self.stable_point_source
            facts["annual map stable"] = str(self.map_stable)
        facts["servo map stable (0 < gamma2 < 2)"] = str(self.servo_map_stable)
        notes = ("legacy stable point: not necessarily a stationary point",) if self.legacy else ()
        return Summary("Haken potential", facts, {"stationary points": self.stationary}, notes)
