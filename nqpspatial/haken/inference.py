"""Covariance estimators of the Haken regressions that allow cross-sectional dependence.

Pure functions on arrays (no pipeline context):

* :func:`driscoll_kraay_cov`: Driscoll & Kraay (1998, *Review of Economics
  and Statistics* 80: 549-560): the scores are summed over the regions of
  each period, and the long-run covariance of these period sums is
  estimated with the Bartlett kernel (Newey & West 1987).  It allows any
  correlation between the regions of one period (common shocks, spatial
  dependence) and serial correlation up to the bandwidth.
* :func:`bartlett_bandwidth`: the rule ``floor(4 (T/100)^(2/9))`` of Newey &
  West (1994), the default of Stata's ``xtscc`` (Hoechle 2007) and of
  linearmodels, with ``T`` the number of periods (transition years).
* :func:`cluster_cov`: the one-way cluster-robust (CR1) sandwich, used by
  the wild-year bootstrap with clusters = years.

Two-way clustering by region and year (Cameron, Gelbach & Miller 2011,
*J. Business & Economic Statistics* 29: 238-249) is statsmodels'
``cov_type="cluster"`` with two group columns, which the model calls
directly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bartlett_bandwidth", "driscoll_kraay_cov", "cluster_cov", "period_scores"]


def bartlett_bandwidth(n_periods: int) -> int:
    """Rule-of-thumb Bartlett bandwidth ``floor(4 (T/100)^(2/9))`` (Newey & West 1994).

    Parameters
    ----------
    n_periods : int
        Number of periods ``T`` of the regression (distinct transition years).

    Returns
    -------
    int
        1 for 2 to 4 periods, 2 for 5 to 27, 3 for 28 to 99.

    Examples
    --------
    >>> bartlett_bandwidth(9), bartlett_bandwidth(19), bartlett_bandwidth(30)
    (2, 2, 3)
    """
    return int(math.floor(4.0 * (float(n_periods) / 100.0) ** (2.0 / 9.0)))


def period_scores(X: np.ndarray, resid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Scores ``x_it e_it`` summed within each code (period or cluster), in code order.

    Returns
    -------
    ndarray, shape (n_codes, k)
    """
    X = np.asarray(X, float)
    e = np.asarray(resid, float)
    codes = np.asarray(codes)
    uniq, inv = np.unique(codes, return_inverse=True)
    out = np.zeros((len(uniq), X.shape[1]))
    np.add.at(out, inv, X * e[:, None])
    return out


def driscoll_kraay_cov(X: np.ndarray, resid: np.ndarray, time_codes: np.ndarray, *, bandwidth=None, n_params=None):
    """Driscoll-Kraay covariance of OLS coefficients with the Bartlett kernel.

    ``V = n / (n - K) (X'X)^-1 S (X'X)^-1`` with
    ``S = sum_{j=-L..L} (1 - |j|/(L + 1)) sum_t xi_t xi_{t+j}'`` and
    ``xi_t = sum_i x_it e_it``, ``L`` the bandwidth, ``n`` the number of
    observations and ``K`` the number of coefficients (including any
    fixed-effect dummies).  This equals linearmodels'
    ``PanelOLS(...).fit(cov_type="kernel", kernel="bartlett",
    bandwidth=L, debiased=True)`` (tested).

    Parameters
    ----------
    X : ndarray, shape (n, K)
        The full regression design (with any dummy columns).
    resid : ndarray, shape (n,)
        OLS residuals.
    time_codes : ndarray, shape (n,)
        Period of each row (sortable; periods are ordered by it).
    bandwidth : int, optional
        Bartlett bandwidth ``L``; default :func:`bartlett_bandwidth`.
    n_params : int, optional
        ``K`` of the small-sample factor; default ``X.shape[1]``.

    Returns
    -------
    cov : ndarray, shape (K, K)
    bandwidth : int
        The bandwidth used.

    Raises
    ------
    ValueError
        When the bandwidth is negative or not below the number of periods.
    """
    X = np.asarray(X, float)
    n, k = X.shape
    xi = period_scores(X, resid, time_codes)
    T = xi.shape[0]
    L = bartlett_bandwidth(T) if bandwidth is None else int(bandwidth)
    if L < 0 or L >= T:
        raise ValueError(f"the Driscoll-Kraay bandwidth must lie in [0, {T - 1}] for {T} periods, got {L}")
    S = xi.T @ xi
    for j in range(1, L + 1):
        G = xi[j:].T @ xi[:-j]
        S += (1.0 - j / (L + 1.0)) * (G + G.T)
    K = k if n_params is None else int(n_params)
    inv = np.linalg.inv(X.T @ X)
    V = inv @ S @ inv * (n / (n - K))
    return (V + V.T) / 2.0, L


def cluster_cov(X: np.ndarray, resid: np.ndarray, codes: np.ndarray, *, n_params=None) -> np.ndarray:
    """One-way cluster-robust (CR1) covariance, statsmodels' ``cov_type="cluster"``.

    ``V = G/(G - 1) (n - 1)/(n - K) (X'X)^-1 (sum_g s_g s_g') (X'X)^-1`` with
    ``s_g`` the summed scores of cluster ``g``.

    Returns
    -------
    ndarray, shape (K, K)
    """
    X = np.asarray(X, float)
    n, k = X.shape
    s = period_scores(X, resid, codes)
    G = s.shape[0]
    K = k if n_params is None else int(n_params)
    inv = np.linalg.inv(X.T @ X)
    return inv @ (s.T @ s) @ inv * (G / (G - 1.0)) * ((n - 1.0) / (n - K))
