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
when ``V'' > 0`` there.

The estimated system is the two-variable annual map
``(q1, q2) -> (k1 + (1 - gamma1) q1 - a q1 q2, k2 + (1 - gamma2) q2 + b q1^2)``,
whose fixed points are the stationary points ``(q1, (k2 + b q1^2)/gamma2)``.
A fixed point is stable for the map when both eigenvalues of the map's
Jacobian there lie inside the unit circle (``map_stable``).  Without
intercepts this is, at the ordered state ``q1* > 0`` (case 1),
``gamma2 > 0``, ``-1/2 < gamma1 < 0`` and ``gamma2 (1 + gamma1) < 2`` (Jury
conditions on trace ``2 - gamma2`` and determinant
``1 - gamma2 (1 + 2 gamma1)``), and at ``q1* = 0`` (cases 2 and 4)
``0 < gamma1 < 2`` and ``0 < gamma2 < 2``; with intercepts the eigenvalues
are computed at the fixed point.  The reduced one-variable map
``q1 -> q1 - V'(q1)`` (derivative ``1 - V''``) plus ``0 < gamma2 < 2`` is kept
as ``reduced_map_stable``: it is not the map's stability (it calls
``-1 < gamma1 < -1/2`` stable, where the map diverges).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..errors import ModelError, NqpWarning
from ..results import Results, Summary
from .system import map_jacobian, spectral_radius_2x2

__all__ = [
    "Potential",
    "LegacyStablePointWarning",
    "CASE_LABELS",
    "map_stable_analytic",
    "batch_real_roots",
    "stable_points",
]


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


def map_stable_analytic(gamma1: float, gamma2: float, q1_star: float):
    """Stability of a fixed point of the annual map without intercepts, in closed form.

    Parameters
    ----------
    gamma1, gamma2 : float
        Damping coefficients (``k1 = k2 = 0``).
    q1_star : float
        The fixed point's q1: ``0`` or the ordered state
        ``sqrt(-gamma1 gamma2 / (a b))``.

    Returns
    -------
    bool
        At ``q1* = 0`` the Jacobian is ``diag(1 - gamma1, 1 - gamma2)``:
        ``0 < gamma1 < 2`` and ``0 < gamma2 < 2``.  At ``q1* != 0`` (so
        ``a q2* = -gamma1``) it is ``[[1, -a q1*], [2 b q1*, 1 - gamma2]]`` with
        trace ``2 - gamma2`` and determinant ``1 - gamma2 (1 + 2 gamma1)``; the
        Jury conditions ``|D| < 1``, ``|T| < 1 + D`` reduce to
        ``gamma2 > 0``, ``-1/2 < gamma1 < 0`` and ``gamma2 (1 + gamma1) < 2``.
    """
    g1, g2 = float(gamma1), float(gamma2)
    if q1_star == 0:
        return bool(0 < g1 < 2 and 0 < g2 < 2)
    return bool(g2 > 0 and -0.5 < g1 < 0 and g2 * (1 + g1) < 2)


def _root_text(q: float, stable: bool, map_stable: bool) -> str:
    return f"{q:.6g} ({'stable' if stable else 'unstable'}, annual map {'stable' if map_stable else 'unstable'})"


def batch_real_roots(coefs) -> np.ndarray:
    """Real roots of many polynomials at once (coefficients low to high, shape ``(M, n + 1)``).

    Rows are grouped by their degree (trailing exact zeros trimmed) and each
    group is solved by one batched companion-matrix eigenvalue call; a root is
    real when ``|imag| <= 1e-9 max(1, |real|)``, the rule of
    :class:`Potential`.

    Returns
    -------
    numpy.ndarray
        ``(M, n)`` real roots in increasing order, NaN-padded.
    """
    coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
    M, n1 = coefs.shape
    out = np.full((M, n1 - 1), np.nan)
    nz = coefs != 0
    deg = np.where(nz.any(axis=1), n1 - 1 - np.argmax(nz[:, ::-1], axis=1), 0)
    for d in np.unique(deg):
        if d < 1:
            continue
        rows = np.flatnonzero(deg == d)
        c = coefs[rows, : d + 1]
        comp = np.zeros((len(rows), d, d))
        if d > 1:
            comp[:, np.arange(1, d), np.arange(d - 1)] = 1.0
        comp[:, :, -1] = -c[:, :d] / c[:, d : d + 1]
        r = np.linalg.eigvals(comp)
        keep = np.abs(r.imag) <= 1e-9 * np.maximum(1.0, np.abs(r.real))
        out[rows, :d] = np.sort(np.where(keep, r.real, np.nan), axis=1)
    return out


def stable_points(gamma1, a, gamma2, b, k1=0.0, k2=0.0) -> dict:
    """The stable point of many potentials at once (arrays broadcast together).

    The vectorised form of :class:`Potential` (without the legacy point),
    used over simulated parameter draws: the same case, stable point
    (the deepest stable stationary point with ``q1 >= 0``, ties to the larger
    q1) and annual-map stability (spectral radius of the map's Jacobian at
    the fixed point below 1).

    Returns
    -------
    dict of numpy.ndarray
        ``case`` (0-4), ``q1_star``, ``q2_star``, ``V_star`` (NaN without a
        stable point), ``has_stable``, ``jacobian_radius`` and ``map_stable``
        (False without a stable point).
    """
    g1, a, g2, b, k1, k2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (gamma1, a, gamma2, b, k1, k2)))
    shape = g1.shape
    g1, a, g2, b, k1, k2 = (v.ravel() for v in (g1, a, g2, b, k1, k2))
    valid = g2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        A = np.where(valid, g1 + a * k2 / g2, np.nan)
        B = np.where(valid, a * b / g2, np.nan)
    ab = a * b
    case = np.select(
        [~valid | (A == 0) | (ab == 0), (A < 0) & (ab > 0), (A > 0) & (ab > 0), (A < 0) & (ab < 0)],
        [0, 1, 2, 3],
        default=4,
    )
    pts = np.full((g1.size, 3), np.nan)
    good = valid & np.isfinite(A) & np.isfinite(B)
    pts[good] = batch_real_roots(np.column_stack([-k1[good], A[good], np.zeros(good.sum()), B[good]]))
    closed = good & (k1 == 0)  # exact roots 0 and +-sqrt(-A/B) as Potential
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(closed & (B != 0), -A / B, np.nan)
    two = closed & (r2 > 0)
    r = np.sqrt(np.where(two, r2, 0.0))
    pts[closed] = np.nan
    pts[closed, 1] = 0.0
    pts[two, 0], pts[two, 2] = -r[two], r[two]
    V = -k1[:, None] * pts + 0.5 * A[:, None] * pts**2 + 0.25 * B[:, None] * pts**4
    curv = A[:, None] + 3 * B[:, None] * pts**2
    cand = np.isfinite(pts) & (curv > 0) & (pts >= -1e-12)
    Vm = np.where(cand, V, np.inf)
    vmin = Vm.min(axis=1)
    qs = np.where(cand & (Vm == vmin[:, None]), pts, -np.inf).max(axis=1)
    has = np.isfinite(vmin)
    qs = np.where(has, np.where(np.abs(qs) <= 1e-12, np.maximum(qs, 0.0), qs), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        q2s = np.where(has, (k2 + b * qs**2) / g2, np.nan)
    rad = spectral_radius_2x2(map_jacobian(g1, a, g2, b, np.where(has, qs, 0.0), np.where(has, q2s, 0.0)))
    rad = np.where(has, rad, np.nan)
    out = {
        "case": case,
        "q1_star": qs,
        "q2_star": q2s,
        "V_star": np.where(has, vmin, np.nan),
        "has_stable": has,
        "jacobian_radius": rad,
        "map_stable": has & (rad < 1),
    }
    return {k: v.reshape(shape) for k, v in out.items()}


_STATIONARY_COLUMNS = [
    "q1",
    "V",
    "curvature",
    "stable",
    "map_derivative",
    "map_stable",
    "reduced_map_stable",
    "jacobian_radius",
]


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
        Without intercepts the label of :data:`CASE_LABELS`; with intercepts
        it names ``A``, ``B`` and ``k1`` with their values and every real root
        ``q1 >= 0`` with its stability (the sign of gamma1 alone no longer
        decides the case).
    valid : bool
        ``gamma2 > 0`` (adiabatic elimination meaningful).
    quadratic, quartic, linear : float
        ``A``, ``B`` and ``-k1`` in ``V = linear q + A q^2/2 + B q^4/4``.
    stationary : pandas.DataFrame
        All real stationary points: ``q1, V, curvature (V''), stable,
        map_derivative`` (of the reduced map), ``map_stable`` (the
        two-variable map's fixed point ``(q1, (k2 + b q1^2)/gamma2)``),
        ``reduced_map_stable`` and ``jacobian_radius``.
    stable_point : tuple of float or None
        ``(q1*, V*)``: the deepest stable stationary point with q1 >= 0
        (ties: the larger q1), or the legacy point, or None.
    stable_point_source : str or None
        ``"potential"``, ``"legacy"`` or None.
    map_stable : bool or None
        Whether the stable point is a stable fixed point of the annual
        two-variable map: both eigenvalues of its Jacobian inside the unit
        circle (closed form without intercepts, see
        :func:`map_stable_analytic`; eigenvalues with intercepts).  None when
        no stable point exists (or a legacy point that is not a fixed point).
    map_stable_2d : bool or None
        Alias of ``map_stable`` (kept for existing scripts).
    reduced_map_stable : bool or None
        The reduced one-variable map ``q1 -> q1 - V'(q1)`` (derivative in
        (-1, 1)) plus ``0 < gamma2 < 2``; not the map's stability.
    jacobian_radius : float
        Spectral radius of the map's Jacobian at the stable point (NaN
        without one).
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
        rows = self._stationary_rows()
        self.stationary = pd.DataFrame(rows, columns=_STATIONARY_COLUMNS)
        self.case_label = self._label(rows)
        star, source = self._star(rows)
        self.stable_point = star
        self.stable_point_source = source
        self._set_map_stability(rows)
        self._freeze()

    @property
    def has_intercepts(self) -> bool:
        """Whether k1 or k2 is non-zero (the case then rests on A, B and k1)."""
        return self.k1 != 0.0 or self.k2 != 0.0

    def _stationary_rows(self) -> list:
        if not self.valid:
            return []
        A, B, k1 = self.quadratic, self.quartic, self.k1
        if k1 == 0.0:
            pts = [0.0]
            if B != 0 and -A / B > 0:
                r = math.sqrt(-A / B)
                pts = [-r, 0.0, r]
            roots = np.array(pts)
        else:
            roots = _real_roots([-k1, A, 0.0, B])
        rows = []
        for q in roots:
            curv = A + 3 * B * q * q
            deriv = 1.0 - curv
            rad = self._radius(q)
            rows.append(
                {
                    "q1": float(q),
                    "V": float(self._v(q)),
                    "curvature": float(curv),
                    "stable": bool(curv > 0),
                    "map_derivative": float(deriv),
                    "map_stable": bool(rad < 1),
                    "reduced_map_stable": bool(-1 < deriv < 1 and self.servo_map_stable),
                    "jacobian_radius": rad,
                }
            )
        return rows

    def _radius(self, q1: float) -> float:
        """Spectral radius of the annual map's Jacobian at the fixed point with this q1.

        The scalar form of :func:`~nqpspatial.haken.system.spectral_radius_2x2` applied to
        :func:`~nqpspatial.haken.system.map_jacobian` (same formula, without array overhead).
        """
        q1 = float(q1)
        q2 = (self.k2 + self.b * q1 * q1) / self.gamma2
        j00, j01, j10, j11 = 1.0 - self.gamma1 - self.a * q2, -self.a * q1, 2.0 * self.b * q1, 1.0 - self.gamma2
        T, D = j00 + j11, j00 * j11 - j01 * j10
        disc = T * T - 4.0 * D
        if disc >= 0:
            root = math.sqrt(disc)
            return max(abs(T + root), abs(T - root)) / 2.0
        return math.sqrt(abs(D))

    def _label(self, rows: list) -> str:
        if not self.has_intercepts or self.case == 0:
            return CASE_LABELS[self.case]
        A, B, k1 = self.quadratic, self.quartic, self.k1
        roots = (
            "; ".join(_root_text(max(r["q1"], 0.0), r["stable"], r["map_stable"]) for r in rows if r["q1"] >= -1e-12)
            or "none"
        )
        return (
            f"case {self.case} on the intercept form: A = gamma1 + a k2/gamma2 = {A:.6g} "
            f"{'<' if A < 0 else '>'} 0, B = a b/gamma2 = {B:.6g} {'<' if B < 0 else '>'} 0, "
            f"k1 = {k1:.6g}; real roots q1 >= 0 of -k1 + A q1 + B q1^3: {roots}"
        )

    def _star(self, rows: list):
        if self.legacy:
            warnings.warn(
                "legacy_stable_point = true: reporting q1* = sqrt(|gamma1 gamma2 / (a b)|) whatever "
                "the stability case; this point need not be a stable (or any) stationary point of "
                "the potential",
                LegacyStablePointWarning,
                stacklevel=3,
            )
            ab = self.a * self.b
            if ab == 0 or self.gamma2 == 0:
                raise ModelError(
                    "the legacy stable point sqrt(|gamma1 gamma2/(a b)|) is undefined because a*b = 0 or gamma2 = 0"
                )
            q = math.sqrt(abs(self.gamma1 * self.gamma2 / ab))
            return (q, float(self._v(q)) if self.valid else float("nan")), "legacy"
        cands = [r for r in rows if r["stable"] and r["q1"] >= -1e-12]
        if not cands:
            return None, None
        best = min(cands, key=lambda r: (r["V"], -r["q1"]))
        return (max(best["q1"], 0.0) if abs(best["q1"]) <= 1e-12 else best["q1"], best["V"]), "potential"

    def _set_map_stability(self, rows: list) -> None:
        self.map_stable = self.map_stable_2d = self.reduced_map_stable = None
        self.jacobian_radius = float("nan")
        star = self.stable_point
        if star is None or not self.valid:
            return
        q = star[0]
        if self.stable_point_source == "legacy":
            if not any(math.isclose(r["q1"], q, rel_tol=1e-9, abs_tol=1e-12) for r in rows):
                return  # not a fixed point: no stability reading
        curv = self.quadratic + 3 * self.quartic * q * q
        self.reduced_map_stable = bool(-1 < 1 - curv < 1 and self.servo_map_stable)
        self.jacobian_radius = self._radius(q)
        if self.has_intercepts:
            self.map_stable = bool(self.jacobian_radius < 1)
        else:
            self.map_stable = map_stable_analytic(self.gamma1, self.gamma2, q)
        self.map_stable_2d = self.map_stable

    @classmethod
    def from_params(cls, *, gamma1, a, gamma2, b, k1=0.0, k2=0.0, legacy_stable_point=False) -> "Potential":
        """Keyword-only constructor (``Potential.from_params(gamma1=..., a=..., gamma2=..., b=...)``)."""
        return cls(gamma1, a, gamma2, b, k1=k1, k2=k2, legacy_stable_point=legacy_stable_point)

    # ------------------------------------------------------------------ values
    def _v(self, q):
        return self.linear * q + 0.5 * self.quadratic * q * q + 0.25 * self.quartic * q**4

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
            raise ModelError(
                f"the potential is undefined because gamma2 = {self.gamma2:.6g} <= 0: "
                "the servo variable is not damped, so it cannot be eliminated"
            )
        q = np.asarray(q1, dtype=float)
        out = self._v(q)
        return float(out) if out.ndim == 0 else out

    def derivative(self, q1):
        """V'(q1) = -k1 + A q1 + B q1^3."""
        q = np.asarray(q1, dtype=float)
        return -self.k1 + self.quadratic * q + self.quartic * q**3

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
            raise ModelError(
                f"no stable point exists (case {self.case}: {self.case_label}); the "
                "distance from a stable point is undefined. Use the 'potential' or "
                "'potential-normalized' co-evolution strategy"
            )
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
            "case": self.case,
            "q1_star": qs,
            "V_star": vs,
            "map_stable": self.map_stable,
            "case_label": self.case_label,
            "stable_point_source": self.stable_point_source,
            "servo_map_stable": self.servo_map_stable,
            "map_stable_2d": self.map_stable_2d,
            "jacobian_radius": self.jacobian_radius,
            "reduced_map_stable": self.reduced_map_stable,
            "stationary_points": "; ".join(
                f"{q:.6g} ({'stable' if s else 'unstable'})" for q, s in zip(st["q1"], st["stable"])
            ),
            "quadratic": self.quadratic,
            "quartic": self.quartic,
            "linear": self.linear,
            "order_parameter_equation": self.order_parameter_equation(),
            "potential_function": self.potential_function(),
        }

    def summary(self) -> Summary:
        """Summary of the potential: case, stable point and stationary points."""
        facts = {
            "case": f"{self.case}: {self.case_label}",
            "order-parameter equation": self.order_parameter_equation(),
            "V(q1)": self.potential_function(),
        }
        if self.stable_point is None:
            facts["stable point"] = "none exists"
        else:
            facts["q1*"] = self.stable_point[0]
            facts["V*"] = self.stable_point[1]
            facts["source"] = self.stable_point_source
            facts["annual map stable (Jacobian)"] = str(self.map_stable)
            facts["reduced one-variable map stable"] = str(self.reduced_map_stable)
        facts["servo map stable (0 < gamma2 < 2)"] = str(self.servo_map_stable)
        notes = ("legacy stable point: not necessarily a stationary point",) if self.legacy else ()
        return Summary("Haken potential", facts, {"stationary points": self.stationary}, notes)
