"""Dynamics of an estimated spatial Haken system: steady states, the uniform state and its stability.

The fitted spatial Haken model is a map of the whole cross-section,

.. math::

    q_e(t+1) = A_e^{-1}\\Big[\\sum_k \\big(\\beta_{ek} I + \\sum_j \\theta_{ekj} W_j\\big) x_{ek}(t)
               + c_e + \\alpha_e\\Big],\\qquad A_e = I - \\sum_j \\rho_{ej} W_j,

for the two equations ``e`` (q1, q2) with their Haken terms ``x_ek`` (q1 and
q1 q2; q2 and q1^2), constant ``c_e`` and region effects ``alpha_e``.  SLX has
``A = I``; SEM's mean is ``X beta`` (its spatial filter acts on the errors
only).  This module holds that map as :class:`SpatialMap` and three readings
of it:

* :meth:`SpatialMap.steady_states`: iterate the map from a state (one sparse
  LU of ``A_e`` per equation, reused at every step) until it settles;
* :func:`uniform_system`: for row-standardized ``W`` (every row sums to 1),
  no region effects and no zone split, a spatially uniform state stays
  uniform and follows the aspatial Haken map with the *total-effect*
  coefficients ``(beta + theta) / (1 - rho)`` and intercept ``c / (1 - rho)``;
* :func:`uniform_stability`: the uniform fixed point is stable for the full
  map when for every eigenvalue ``lambda`` of W the 2 x 2 block of the
  Jacobian built from ``(beta + lambda theta) / (1 - rho lambda)`` has
  spectral radius below 1 (all eigenvalues for N <= 1,000; above that the
  extreme eigenvalues plus the power iteration of a random perturbation
  through the linearised full map).

Everything here is pure numerics: arrays in, arrays and small records out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ._linalg import _eigenvalues, _is_binary_row_std, _lu_solver, abs_row_sums

__all__ = [
    "EquationMap",
    "SpatialMap",
    "SteadyStates",
    "UniformStability",
    "uniform_system",
    "uniform_stability",
    "uniform_blocks",
    "region_effects",
    "rows_sum_to_one",
    "MAX_STEPS",
    "STEADY_TOL",
    "ALL_EIGEN_MAX",
]

#: Iteration limit of :meth:`SpatialMap.steady_states`.
MAX_STEPS = 10_000
#: Convergence: ``max |q(t+1) - q(t)| < STEADY_TOL``.
STEADY_TOL = 1e-10
#: Largest N for which :func:`uniform_stability` checks every eigenvalue of W.
ALL_EIGEN_MAX = 1000
#: A state whose magnitude passes this bound has diverged.
DIVERGED = 1e6

TERMS = {"q1": ("q1", "q1q2"), "q2": ("q2", "q1sq")}


@dataclass(frozen=True)
class EquationMap:
    """The deterministic part of one fitted equation.

    Attributes
    ----------
    beta : dict
        Term -> coefficient (``q1``, ``q1q2`` or ``q2``, ``q1sq``).
    theta : dict
        Term -> list of coefficients on ``W_j x`` (one per weights matrix;
        empty lists without SLX terms).
    rho : tuple of float
        Spatial-lag coefficients (one per weights matrix; empty for SLX and SEM).
    const : float
        Common intercept (0 without one).
    effects : numpy.ndarray or None
        Region effects ``alpha`` (N,), or None.
    """

    beta: dict
    theta: dict
    rho: tuple = ()
    const: float = 0.0
    effects: np.ndarray | None = field(default=None, compare=False)


def _terms(eq: str, q1: np.ndarray, q2: np.ndarray) -> dict:
    return {"q1": q1, "q1q2": q1 * q2} if eq == "q1" else {"q2": q2, "q1sq": q1 * q1}


@dataclass(frozen=True)
class SteadyStates:
    """Where the estimated spatial map settles from a starting state.

    Attributes
    ----------
    q1, q2 : numpy.ndarray
        Per-region steady state (NaN when the iteration did not converge).
    converged : bool
        ``max |dq| < tol`` was reached within the step limit.
    iterations : int
        Steps taken.
    status : str
        ``"converged"``, ``"diverged"`` or ``"no convergence"`` (a cycle or
        slow drift within the step limit).
    """

    q1: np.ndarray
    q2: np.ndarray
    converged: bool
    iterations: int
    status: str


class SpatialMap:
    """The estimated spatial Haken map of the whole cross-section.

    Parameters
    ----------
    Ws : list of scipy.sparse arrays
        The weights matrices the spatial coefficients multiply (one, or the
        within/across parts of a zone split), in the order of
        ``EquationMap.theta`` and ``EquationMap.rho``.
    equations : dict
        ``{"q1": EquationMap, "q2": EquationMap}``.

    Notes
    -----
    ``A_e = I - sum_j rho_ej W_j`` is factored once per equation (sparse LU,
    SuperLU; without pivoting when ``A_e`` is strictly diagonally dominant by
    rows) and the factors are reused at every step, so an iteration costs two
    sparse solves.
    """

    def __init__(self, Ws, equations: dict):
        self.Ws = [sp.csr_array(W, dtype=float) for W in Ws]
        self.N = self.Ws[0].shape[0]
        self.equations = dict(equations)
        self._lu = {}
        eye = sp.identity(self.N, format="csc")
        for eq, m in self.equations.items():
            if any(r != 0 for r in m.rho):
                A = eye - sum(r * W for r, W in zip(m.rho, self.Ws))
                # strictly diagonally dominant by rows: no pivoting, a minimum-degree ordering of A + A'
                # (a third less fill than COLAMD at 10,000 regions)
                dom = float(np.max(np.abs(np.asarray(m.rho, dtype=float)) @ abs_row_sums(self.Ws).T))
                self._lu[eq] = _lu_solver(A, dom < 1.0)

    def _mean(self, eq: str, q1, q2, linear=None) -> np.ndarray:
        """``sum_k (beta_k I + sum_j theta_kj W_j) x_k`` (+ c + alpha unless ``linear`` terms are given)."""
        m = self.equations[eq]
        xs = linear if linear is not None else _terms(eq, q1, q2)
        out = np.zeros(self.N)
        for term, x in xs.items():
            out = out + m.beta[term] * x
            for th, W in zip(m.theta.get(term, ()), self.Ws):
                out = out + th * np.asarray(W @ x)
        if linear is None:
            out = out + m.const
            if m.effects is not None:
                out = out + m.effects
        return out

    def _solve(self, eq: str, v: np.ndarray) -> np.ndarray:
        solve = self._lu.get(eq)
        return v if solve is None else solve(v)

    def step(self, q1, q2):
        """One step of the map: ``(q1(t+1), q2(t+1))`` from ``(q1(t), q2(t))`` (arrays of length N)."""
        q1 = np.asarray(q1, dtype=float)
        q2 = np.asarray(q2, dtype=float)
        return self._solve("q1", self._mean("q1", q1, q2)), self._solve("q2", self._mean("q2", q1, q2))

    def linear_step(self, q1s, q2s, d1, d2):
        """The Jacobian of the map at the state ``(q1s, q2s)`` applied to ``(d1, d2)``."""
        lin1 = {"q1": d1, "q1q2": q2s * d1 + q1s * d2}
        lin2 = {"q2": d2, "q1sq": 2.0 * q1s * d1}
        return (
            self._solve("q1", self._mean("q1", None, None, lin1)),
            self._solve("q2", self._mean("q2", None, None, lin2)),
        )

    def steady_states(self, q1, q2, *, max_steps: int = MAX_STEPS, tol: float = STEADY_TOL) -> SteadyStates:
        """Iterate the map from ``(q1, q2)`` until ``max |dq| < tol`` (at most ``max_steps`` steps).

        Returns
        -------
        SteadyStates
            Divergence (a non-finite state or ``|q| > 1e6``) and cycles (no
            convergence within the limit) give ``converged = False`` and NaN
            states.
        """
        x1 = np.asarray(q1, dtype=float).copy()
        x2 = np.asarray(q2, dtype=float).copy()
        nan = np.full(self.N, np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(1, int(max_steps) + 1):
                y1, y2 = self.step(x1, x2)
                if (
                    not (np.all(np.isfinite(y1)) and np.all(np.isfinite(y2)))
                    or max(np.max(np.abs(y1)), np.max(np.abs(y2))) > DIVERGED
                ):
                    return SteadyStates(nan, nan.copy(), False, it, "diverged")
                delta = max(np.max(np.abs(y1 - x1)), np.max(np.abs(y2 - x2)))
                x1, x2 = y1, y2
                if delta < tol:
                    return SteadyStates(x1, x2, True, it, "converged")
        return SteadyStates(nan, nan.copy(), False, int(max_steps), "no convergence")


# ----------------------------------------------------------------------------- the uniform reading
def rows_sum_to_one(W, tol: float = 1e-12) -> bool:
    """Whether every row of W sums to 1 (row-standardized without isolates)."""
    return bool(np.all(np.abs(np.asarray(sp.csr_array(W).sum(axis=1)).ravel() - 1.0) <= tol))


def uniform_system(equations: dict) -> dict:
    """Haken parameters of a spatially uniform state (one W with unit row sums, no region effects).

    A uniform state ``q 1`` stays uniform: ``W 1 = 1`` gives, per equation,
    ``q' = [sum_k (beta_k + theta_k) x_k + c] / (1 - rho)``, the aspatial map
    with the total-effect coefficients.

    Parameters
    ----------
    equations : dict
        ``{"q1": EquationMap, "q2": EquationMap}`` with at most one theta and
        one rho per term.

    Returns
    -------
    dict
        ``gamma1, a, gamma2, b, k1, k2`` of :class:`nqpspatial.haken.HakenSystem`.
    """
    tot = {}
    for eq, m in equations.items():
        denom = 1.0 - sum(m.rho)
        for term in TERMS[eq]:
            tot[term] = (m.beta[term] + sum(m.theta.get(term, ()))) / denom
        tot[f"const_{eq}"] = m.const / denom
    return {
        "gamma1": 1.0 - tot["q1"],
        "a": -tot["q1q2"],
        "gamma2": 1.0 - tot["q2"],
        "b": tot["q1sq"],
        "k1": tot["const_q1"],
        "k2": tot["const_q2"],
    }


def uniform_blocks(equations: dict, lam, q1s: float, q2s: float) -> np.ndarray:
    """The 2 x 2 Jacobian blocks of the full map at a uniform fixed point, one per eigenvalue of W.

    In the eigenbasis of W the linearised map decouples into blocks
    ``[[c_q1(l) + c_q1q2(l) q2*, c_q1q2(l) q1*], [2 c_q1sq(l) q1*, c_q2(l)]]`` with
    ``c_k(l) = (beta_k + l theta_k) / (1 - rho l)`` (each equation its own rho).

    Returns
    -------
    numpy.ndarray
        Complex array of shape ``(len(lam), 2, 2)``.
    """
    lam = np.atleast_1d(np.asarray(lam, dtype=complex))

    def c(eq, term):
        m = equations[eq]
        th = sum(m.theta.get(term, ()))
        return (m.beta[term] + lam * th) / (1.0 - sum(m.rho) * lam)

    J = np.empty((len(lam), 2, 2), dtype=complex)
    J[:, 0, 0] = c("q1", "q1") + c("q1", "q1q2") * q2s
    J[:, 0, 1] = c("q1", "q1q2") * q1s
    J[:, 1, 0] = 2.0 * c("q2", "q1sq") * q1s
    J[:, 1, 1] = c("q2", "q2")
    return J


def _radius(J: np.ndarray) -> np.ndarray:
    """Spectral radius of (complex) 2 x 2 matrices."""
    T = J[:, 0, 0] + J[:, 1, 1]
    D = J[:, 0, 0] * J[:, 1, 1] - J[:, 0, 1] * J[:, 1, 0]
    s = np.sqrt(T * T / 4.0 - D + 0j)
    return np.maximum(np.abs(T / 2.0 + s), np.abs(T / 2.0 - s))


@dataclass(frozen=True)
class UniformStability:
    """Stability of the uniform fixed point in the full spatial map.

    Attributes
    ----------
    stable : bool
        Every checked mode has spectral radius below 1.
    radius : float
        The largest spectral radius found.
    mode : complex
        The eigenvalue of W of the largest block radius.
    uniform_radius : float
        The radius of the ``lambda = 1`` block (uniform perturbations: the
        aspatial map of the total-effect parameters).
    method : str
        How the modes were checked.
    note : str
        Empty when stable, else names the unstable mode.
    """

    stable: bool
    radius: float
    mode: complex
    uniform_radius: float
    method: str
    note: str


def _extreme_eigenvalues(W) -> np.ndarray:
    """1 plus the extreme eigenvalues of a large sparse W (smallest real part; largest imaginary)."""
    out = [1.0 + 0j]
    deg = _is_binary_row_std(W)
    try:
        if deg is not None:
            d = np.sqrt(np.where(deg > 0, deg, 1.0))
            S = sp.diags_array(d) @ W @ sp.diags_array(1.0 / d)
            S = 0.5 * (S + S.T)
            for which in ("SA", "LA"):
                out.extend(spla.eigsh(S, k=1, which=which, return_eigenvectors=False, tol=1e-10))
        else:
            for which in ("SR", "LR", "LI"):
                out.extend(spla.eigs(W, k=1, which=which, return_eigenvectors=False, tol=1e-10))
    except (spla.ArpackNoConvergence, spla.ArpackError):  # pragma: no cover - ARPACK rarely fails here
        out.append(-1.0 + 0j)
    return np.asarray(out, dtype=complex)


def _power_radius(smap: SpatialMap, q1s: float, q2s: float, seed: int, steps: int = 3000) -> float:
    """Spectral radius of the full linearised map by power iteration of a random perturbation."""
    rng = np.random.default_rng(seed)
    N = smap.N
    d1, d2 = rng.standard_normal(N), rng.standard_normal(N)
    u1, u2 = np.full(N, q1s), np.full(N, q2s)
    logs = []
    for _ in range(steps):
        d1, d2 = smap.linear_step(u1, u2, d1, d2)
        nrm = math.sqrt(float(d1 @ d1 + d2 @ d2))
        if nrm == 0 or not math.isfinite(nrm):
            return 0.0 if nrm == 0 else math.inf
        logs.append(math.log(nrm))
        d1, d2 = d1 / nrm, d2 / nrm
    tail = logs[steps // 2 :]
    return float(math.exp(np.mean(tail)))


def uniform_stability(smap: SpatialMap, q1s: float, q2s: float, *, seed: int = 0) -> UniformStability:
    """Stability of the uniform fixed point ``(q1*, q2*)`` of a map with one row-standardized W.

    For N <= :data:`ALL_EIGEN_MAX` every eigenvalue of W is checked (exact);
    above it, 1 and the extreme eigenvalues of W (ARPACK) plus the power
    iteration (3,000 steps, seeded) of a random perturbation through the
    linearised full map, whose growth rate estimates the spectral radius of
    the whole Jacobian.

    Returns
    -------
    UniformStability
    """
    W = smap.Ws[0]
    if smap.N <= ALL_EIGEN_MAX:
        lam = _eigenvalues(W)
        method = f"every eigenvalue of W (N = {smap.N})"
        power = 0.0
    else:
        lam = _extreme_eigenvalues(W)
        method = f"extreme eigenvalues of W and power iteration of a random perturbation (N = {smap.N})"
        power = _power_radius(smap, q1s, q2s, seed)
    rad = _radius(uniform_blocks(smap.equations, lam, q1s, q2s))
    k = int(np.argmax(rad))
    uni = float(_radius(uniform_blocks(smap.equations, [1.0], q1s, q2s))[0])
    radius = max(float(rad[k]), power)
    stable = bool(radius < 1.0)
    note = ""
    if not stable:
        if power > rad[k]:
            note = (
                f"the uniform fixed point is unstable: a non-uniform perturbation grows at rate "
                f"{power:.4g} per year (power iteration of the linearised map)"
            )
        else:
            lk = lam[k]
            txt = f"{lk.real:.4g}" if abs(lk.imag) < 1e-12 else f"{lk.real:.4g}{lk.imag:+.4g}i"
            kind = "uniform perturbations" if abs(lk - 1) < 1e-9 else "a non-uniform pattern"
            note = (
                f"the uniform fixed point is unstable in the mode lambda = {txt} of W ({kind}): "
                f"spectral radius {rad[k]:.4g} >= 1"
            )
    return UniformStability(stable, radius, complex(lam[k]), uni, method, note)


def region_effects(y: np.ndarray, fitted: np.ndarray, spatial_lag: np.ndarray | None = None) -> np.ndarray:
    """Region effects of a within-estimated equation: ``alpha_i = mean_t (A y_t - X_t b)_i``.

    Parameters
    ----------
    y : (T', N) array
        Dependent variable (levels).
    fitted : (T', N) array
        ``X_t beta + W X_t theta`` in levels.
    spatial_lag : (T', N) array, optional
        ``sum_j rho_j W_j y_t`` (SAR, SDM).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` region effects (the within estimator's intercepts).
    """
    r = y - fitted
    if spatial_lag is not None:
        r = r - spatial_lag
    return r.mean(axis=0)
