"""Vectorised cluster (region) bootstrap of the Haken regressions.

A cluster bootstrap resample draws ``n`` regions with replacement; the OLS
estimate of the resample only depends on the per-region cross products, so

.. math::

    \\hat\\beta^{*}_b = \\Big(\\sum_i w_{bi} X_i'X_i\\Big)^{-1} \\sum_i w_{bi} X_i'y_i

with ``w_b`` the multinomial counts of draw ``b``.  The per-region sums are
computed once, the ``B x n`` counts are drawn from a
:class:`numpy.random.Generator`, and all ``B`` systems are solved in one
batched :func:`numpy.linalg.solve`.  With region fixed effects the data are
within-transformed first (a region drawn twice has the same within data), and
the split-panel jackknife is a fixed linear combination of three such
estimates, so it is bootstrapped the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["region_cross_products", "draw_counts", "batched_estimates"]


def region_cross_products(X: np.ndarray, y: np.ndarray, codes: np.ndarray, n_regions: int):
    """Per-region ``X'X`` and ``X'y``.

    Parameters
    ----------
    X : ndarray, shape (N, k)
    y : ndarray, shape (N,)
    codes : ndarray of int, shape (N,)
        Region code (0 .. n_regions - 1) of each row.
    n_regions : int

    Returns
    -------
    XX : ndarray, shape (n_regions, k, k)
    Xy : ndarray, shape (n_regions, k)
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    N, k = X.shape
    G = np.zeros((n_regions, N))
    G[codes, np.arange(N)] = 1.0
    XX = (G @ (X[:, :, None] * X[:, None, :]).reshape(N, k * k)).reshape(n_regions, k, k)
    Xy = G @ (X * y[:, None])
    return XX, Xy


def draw_counts(rng: np.random.Generator, n_regions: int, B: int) -> np.ndarray:
    """Multinomial counts of ``B`` cluster resamples of ``n_regions`` regions.

    Returns
    -------
    ndarray of float, shape (B, n_regions)
    """
    return rng.multinomial(n_regions, np.full(n_regions, 1.0 / n_regions), size=int(B)).astype(float)


def _solve(W: np.ndarray, XX: np.ndarray, Xy: np.ndarray) -> np.ndarray:
    n, k, _ = XX.shape
    A = (W @ XX.reshape(n, k * k)).reshape(-1, k, k)
    rhs = W @ Xy
    try:
        return np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # a singular resample (e.g. too few distinct regions): least squares
        # through the pseudo-inverse, resample by resample in one batch
        return np.einsum("bij,bj->bi", np.linalg.pinv(A), rhs)


def batched_estimates(W: np.ndarray, parts) -> np.ndarray:
    """Bootstrap coefficient draws of one equation.

    Parameters
    ----------
    W : ndarray, shape (B, n_regions)
        Resample counts from :func:`draw_counts`.
    parts : sequence of (weight, XX, Xy)
        The estimator as a linear combination of OLS estimates (one part for
        plain OLS; three for the split-panel jackknife: ``(2, full)``,
        ``(-1/2, first half)``, ``(-1/2, second half)``).

    Returns
    -------
    ndarray, shape (B, k)
    """
    out = None
    for weight, XX, Xy in parts:
        est = weight * _solve(W, XX, Xy)
        out = est if out is None else out + est
    return out
