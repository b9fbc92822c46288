"""Simulate region-year panels from the discrete Haken system (for tests and examples)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .system import HakenSystem

__all__ = ["simulate_panel"]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def simulate_panel(
    gamma1,
    a,
    gamma2,
    b,
    *,
    n_regions=31,
    n_periods=10,
    noise_sd=0.005,
    q1_start=(0.2, 0.6),
    q2_start=None,
    k1=0.0,
    k2=0.0,
    region_effects=None,
    names=("q1", "q2"),
    start_year=2014,
    break_year=None,
    after=None,
    year_shock_sd=0.0,
    error_rho=0.0,
    weights=None,
    seed=None,
) -> pd.DataFrame:
    """Simulate a balanced panel from the annual Haken map with shocks.

    Each region starts from ``q1 ~ U(q1_start)`` and ``q2`` on the slaved
    manifold ``(k2 + b q1^2)/gamma2`` (or ``U(q2_start)`` when given), then
    ``q(t+1) = map(q(t)) + e`` with normal shocks ``e`` in both equations
    (the model's error term; the indices are observed without measurement
    error): ``e_it = v_t + u_it`` with a common year shock ``v_t ~ N(0,
    year_shock_sd^2)`` (one per year and equation, shared by all regions) and
    ``u_t = (I - error_rho W)^-1 eps_t``, ``eps_it ~ N(0, noise_sd^2)``
    (spatially autoregressive errors when ``error_rho != 0``).

    Parameters
    ----------
    gamma1, a, gamma2, b : float
        True parameters.
    n_regions, n_periods : int
        Panel size (periods = years).
    noise_sd : float
        Standard deviation of the equation shocks.
    q1_start, q2_start : tuple of float
        Uniform ranges of the starting values.
    k1, k2 : float
        Common intercepts.
    region_effects : tuple of array_like, optional
        ``(alpha, beta)``: region-specific intercepts added to ``k1`` and
        ``k2`` (length ``n_regions`` each).
    names : tuple of str
        Column names of q1 and q2.
    start_year : int
        First year.
    break_year : int, optional
        From the transition starting in this year on, the parameters in
        ``after`` replace the original ones.
    after : dict, optional
        Parameters (subset of gamma1, a, gamma2, b, k1, k2) after the break.
    year_shock_sd : float, default 0
        Standard deviation of the common year shocks.
    error_rho : float, default 0
        Spatial autoregressive parameter of the errors (needs ``weights``).
    weights : array_like, shape (n_regions, n_regions), optional
        Spatial weights of the error process (e.g. row-standardized).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``region`` (``"R01"``...), ``year`` and the two names.
    """
    rng = _rng(seed)
    spread = None
    if error_rho:
        if weights is None:
            raise ValueError("error_rho needs weights (an n_regions x n_regions matrix)")
        Wm = np.asarray(weights, float)
        spread = np.linalg.inv(np.eye(Wm.shape[0]) - error_rho * Wm)
    base = HakenSystem(gamma1, a, gamma2, b, k1, k2)
    later = base
    if break_year is not None:
        later = HakenSystem(**{**base.__dict__, **(after or {})})
    n, T = int(n_regions), int(n_periods)
    al = np.zeros(n) if region_effects is None else np.asarray(region_effects[0], float)
    be = np.zeros(n) if region_effects is None else np.asarray(region_effects[1], float)
    q1 = rng.uniform(*q1_start, size=n)
    if q2_start is None:
        q2 = (k2 + be + b * q1**2) / gamma2 if gamma2 != 0 else rng.uniform(0.2, 0.6, size=n)
    else:
        q2 = rng.uniform(*q2_start, size=n)
    Q1 = np.empty((T, n))
    Q2 = np.empty((T, n))
    Q1[0], Q2[0] = q1, q2
    for t in range(1, T):
        year = start_year + t - 1
        sys_ = later if (break_year is not None and year >= break_year) else base
        n1, n2 = sys_.step(Q1[t - 1], Q2[t - 1])
        e = rng.normal(0.0, noise_sd, size=(2, n))
        if spread is not None:
            e = e @ spread.T
        if year_shock_sd:
            e = e + rng.normal(0.0, year_shock_sd, size=(2, 1))
        Q1[t] = n1 + al + e[0]
        Q2[t] = n2 + be + e[1]
    regions = [f"R{i + 1:02d}" for i in range(n)]
    return pd.DataFrame(
        {
            "region": np.repeat(regions, T),
            "year": np.tile(np.arange(start_year, start_year + T), n),
            names[0]: Q1.T.ravel(),
            names[1]: Q2.T.ravel(),
        }
    )
