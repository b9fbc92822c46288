"""The discrete (annual) Haken system as a small value object.

The annual map used throughout the package is

.. math::

    q_1(t+1) = k_1 + (1 - \\gamma_1) q_1(t) - a\\, q_1(t) q_2(t)

    q_2(t+1) = k_2 + (1 - \\gamma_2) q_2(t) + b\\, q_1(t)^2

with intercepts :math:`k_1 = k_2 = 0` in the default (no-intercept) model.
With region fixed effects each region has its own :math:`k_1, k_2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HakenSystem", "map_jacobian", "spectral_radius_2x2"]


def map_jacobian(gamma1, a, gamma2, b, q1, q2) -> np.ndarray:
    """Jacobian of the annual map at ``(q1, q2)`` (arrays broadcast; shape ``(..., 2, 2)``).

    .. math::

        J = \\begin{pmatrix} 1 - \\gamma_1 - a q_2 & -a q_1 \\\\ 2 b q_1 & 1 - \\gamma_2 \\end{pmatrix}

    The intercepts do not enter the derivative; they only move the fixed
    point at which it is evaluated.
    """
    g1, a, g2, b, q1, q2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (gamma1, a, gamma2, b, q1, q2)))
    out = np.empty(g1.shape + (2, 2))
    out[..., 0, 0] = 1.0 - g1 - a * q2
    out[..., 0, 1] = -a * q1
    out[..., 1, 0] = 2.0 * b * q1
    out[..., 1, 1] = 1.0 - g2
    return out


def spectral_radius_2x2(J) -> np.ndarray:
    """Largest eigenvalue modulus of real 2 x 2 matrices ``J`` (shape ``(..., 2, 2)``).

    From the trace ``T`` and determinant ``D``: real eigenvalues
    ``(T +- sqrt(T^2 - 4 D))/2`` when ``T^2 >= 4 D``, else a complex pair of
    modulus ``sqrt(D)``.  Vectorised over the leading axes.
    """
    J = np.asarray(J, dtype=float)
    T = J[..., 0, 0] + J[..., 1, 1]
    D = J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]
    disc = T * T - 4.0 * D
    root = np.sqrt(np.abs(disc))
    real = np.maximum(np.abs(T + root), np.abs(T - root)) / 2.0
    cplx = np.sqrt(np.abs(D))
    return np.where(disc >= 0, real, cplx)


@dataclass(frozen=True)
class HakenSystem:
    """Parameters of one discrete Haken system.

    Parameters
    ----------
    gamma1, a, gamma2, b : float
        Damping of the order parameter, interaction in the q1 equation,
        damping of the servo variable, interaction in the q2 equation.
    k1, k2 : float, default 0
        Intercepts of the q1 and q2 equations (region effects included).
    """

    gamma1: float
    a: float
    gamma2: float
    b: float
    k1: float = 0.0
    k2: float = 0.0

    def step(self, q1, q2):
        """One step of the annual map.

        Parameters
        ----------
        q1, q2 : float or array_like
            Current values.

        Returns
        -------
        tuple of numpy.ndarray
            ``(q1(t+1), q2(t+1))``.
        """
        q1 = np.asarray(q1, dtype=float)
        q2 = np.asarray(q2, dtype=float)
        n1 = self.k1 + (1.0 - self.gamma1) * q1 - self.a * q1 * q2
        n2 = self.k2 + (1.0 - self.gamma2) * q2 + self.b * q1 * q1
        return n1, n2

    def jacobian(self, q1, q2) -> np.ndarray:
        """Jacobian of :meth:`step` at ``(q1, q2)`` (see :func:`map_jacobian`)."""
        return map_jacobian(self.gamma1, self.a, self.gamma2, self.b, q1, q2)

    def iterate(self, q1, q2, periods: int):
        """Iterate the map ``periods`` times from ``(q1, q2)``.

        Parameters
        ----------
        q1, q2 : float or array_like
            Starting values (broadcast together).
        periods : int
            Number of steps (>= 0).

        Returns
        -------
        tuple of numpy.ndarray
            Arrays of shape ``(periods + 1, ...)``: the path of q1 and of q2,
            the starting values first.
        """
        if int(periods) != periods or periods < 0:
            raise ValueError(f"periods must be a non-negative integer, got {periods!r}")
        q1 = np.asarray(q1, dtype=float)
        q2 = np.asarray(q2, dtype=float)
        p1, p2 = [q1], [q2]
        for _ in range(int(periods)):
            q1, q2 = self.step(q1, q2)
            p1.append(q1)
            p2.append(q2)
        return np.stack(p1), np.stack(p2)

    def potential(self, *, legacy_stable_point: bool = False):
        """The potential of the order-parameter equation.

        Parameters
        ----------
        legacy_stable_point : bool, default False
            See :class:`nqpspatial.haken.potential.Potential`.

        Returns
        -------
        Potential
        """
        from .potential import Potential

        return Potential(
            self.gamma1, self.a, self.gamma2, self.b, k1=self.k1, k2=self.k2, legacy_stable_point=legacy_stable_point
        )
