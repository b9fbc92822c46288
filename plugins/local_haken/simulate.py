"""Panels simulated from a Haken system whose parameters vary over space (GW-Haken tests and studies)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.haken.model import as_rng

__all__ = ["simulate_gw_panel", "longitude_gradient"]


def longitude_gradient(lon, east: float = -0.15, west: float = -0.05) -> np.ndarray:
    """A parameter linear in longitude: ``east`` at the easternmost, ``west`` at the westernmost point."""
    lon = np.asarray(lon, dtype=float)
    span = lon.max() - lon.min()
    if not span > 0:
        raise InputError("a longitude gradient needs points at two or more longitudes")
    return east + (west - east) * (lon.max() - lon) / span


def _grid(n_side: int) -> np.ndarray:
    x, y = np.meshgrid(np.arange(n_side, dtype=float), np.arange(n_side, dtype=float))
    return np.column_stack([x.ravel(), y.ravel()])


def simulate_gw_panel(
    coords=None,
    *,
    n_side: int = 6,
    n_periods: int = 10,
    gamma1=(-0.15, -0.05),
    a=0.35,
    gamma2=0.6,
    b=0.35,
    noise_sd: float = 0.01,
    q1_start=(0.2, 0.6),
    q2_start=None,
    start_year: int = 2014,
    regions=None,
    seed=None,
):
    """Simulate a balanced panel from the annual Haken map with region-specific parameters.

    Each region starts from ``q1 ~ U(q1_start)`` and ``q2`` on its slaved
    manifold ``b_i q1^2 / gamma2_i`` (or ``q2 ~ U(q2_start)``); then
    ``q1(t+1) = (1 - gamma1_i) q1 - a_i q1 q2 + e1``,
    ``q2(t+1) = (1 - gamma2_i) q2 + b_i q1^2 + e2`` with independent normal
    shocks of standard deviation ``noise_sd``.

    Parameters
    ----------
    coords : array-like (N, 2), optional
        Region locations (x = longitude first); default an ``n_side`` x
        ``n_side`` unit grid.
    n_side : int
        Grid side when ``coords`` is None.
    n_periods : int
        Periods (years).
    gamma1, a, gamma2, b : float or (float, float)
        A constant, or ``(east, west)``: linear in the first coordinate from
        ``east`` at its largest to ``west`` at its smallest value
        (:func:`longitude_gradient`).
    noise_sd : float
        Shock standard deviation of both equations.
    q1_start : (float, float)
        Uniform range of the starting q1.
    q2_start : (float, float), optional
        Uniform range of the starting q2 (default: on the slaved manifold,
        which makes q2 and q1^2 collinear in the first period: give a range
        for two-period panels).
    start_year : int
    regions : list, optional
        Region ids (default ``"R001"``...).
    seed : None, int or numpy.random.Generator

    Returns
    -------
    tuple
        ``(panel, coords, truth)``: the long panel ``region, year, q1, q2``,
        the ``(N, 2)`` coordinates and a table ``region, gamma1, a, gamma2, b``.
    """
    rng = as_rng(seed)
    xy = _grid(int(n_side)) if coords is None else np.asarray(coords, dtype=float)
    n, T = len(xy), int(n_periods)
    g1, a, g2, b = (
        longitude_gradient(xy[:, 0], *v) if np.ndim(v) else np.full(n, float(v)) for v in (gamma1, a, gamma2, b)
    )
    ids = [f"R{i + 1:03d}" for i in range(n)] if regions is None else list(regions)
    if len(ids) != n:
        raise InputError(f"regions has {len(ids)} ids for {n} locations")
    Q1, Q2 = np.empty((T, n)), np.empty((T, n))
    Q1[0] = rng.uniform(*q1_start, size=n)
    Q2[0] = b * Q1[0] ** 2 / g2 if q2_start is None else rng.uniform(*q2_start, size=n)
    for t in range(1, T):
        e = rng.normal(0.0, noise_sd, size=(2, n))
        Q1[t] = (1 - g1) * Q1[t - 1] - a * Q1[t - 1] * Q2[t - 1] + e[0]
        Q2[t] = (1 - g2) * Q2[t - 1] + b * Q1[t - 1] ** 2 + e[1]
    panel = pd.DataFrame(
        {
            "region": np.repeat(ids, T),
            "year": np.tile(np.arange(start_year, start_year + T), n),
            "q1": Q1.T.ravel(),
            "q2": Q2.T.ravel(),
        }
    )
    truth = pd.DataFrame({"region": ids, "gamma1": g1, "a": a, "gamma2": g2, "b": b})
    return panel, xy, truth
