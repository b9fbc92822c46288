"""Analytic large-T correction of the fixed-effects bias with predetermined regressors.

With region fixed effects the within estimator of a dynamic equation
``y_it = x_it' beta + alpha_i + u_it`` is biased when the regressors are
predetermined (``x_it`` depends on past shocks ``u_is``, s < t): every Haken
regressor (the own lag, ``q1 q2``, ``q1^2``) is a function of ``q(t)``.  With
``x~`` and ``u~`` the deviations from region means and ``T_i`` the
transitions of region i,

.. math::

    E\\Big[\\sum_t \\tilde x_{it} u_{it}\\Big] = -\\frac{1}{T_i} \\sum_{t} \\sum_{s > t} E[x_{is} u_{it}],

so ``beta_FE - beta`` is ``A^-1 B / T`` to first order, ``A = sum x~ x~'``
(Nickell 1981 for the autoregression; Hahn & Kuersteiner 2011,
*Econometric Theory* 27: 1152-1191, for predetermined regressors in general).
The correction estimates ``B`` with the residuals and truncates the lags at
``L`` (their "trimming parameter"):

.. math::

    \\hat\\beta_{BC} = \\hat\\beta + A^{-1} \\sum_i \\frac{1}{T_i} \\sum_{j=1}^{L} \\sum_{t=1}^{T_i - j}
    \\tilde x_{i,t+j} \\hat u_{it}.

Whether it helps on the short, converging panels of regional studies is an
empirical question answered by ``benchmarks/mc_bias.py`` (docs/inference.md).
"""

from __future__ import annotations

import numpy as np

__all__ = ["analytic_bias", "corrected_within"]


def analytic_bias(Xw: np.ndarray, resid: np.ndarray, codes: np.ndarray, trim: int = 1) -> np.ndarray:
    """Estimated first-order bias ``A^-1 B_hat`` of the within estimator (subtract it).

    Parameters
    ----------
    Xw : ndarray, shape (n, k)
        Within-transformed regressors, rows of each region consecutive and
        in time order.
    resid : ndarray, shape (n,)
        Within residuals.
    codes : ndarray, shape (n,)
        Region code of each row.
    trim : int, default 1
        Largest lag ``L`` of the cross-covariances (``None`` or >= the panel
        length: every lag).

    Returns
    -------
    ndarray, shape (k,)
        ``-A^-1 sum_i (1/T_i) sum_{j<=L} sum_t x~_{i,t+j} u_it``; the
        corrected estimate is ``beta - bias``.
    """
    Xw = np.asarray(Xw, float)
    e = np.asarray(resid, float)
    codes = np.asarray(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    Bh = np.zeros(Xw.shape[1])
    for s, t in zip(starts, ends):
        Ti = t - s
        x, u = Xw[s:t], e[s:t]
        L = Ti - 1 if trim is None else min(int(trim), Ti - 1)
        acc = np.zeros(Xw.shape[1])
        for j in range(1, L + 1):
            acc += x[j:].T @ u[:-j]
        Bh += acc / Ti
    return -np.linalg.solve(Xw.T @ Xw, Bh)


def corrected_within(Xw: np.ndarray, yw: np.ndarray, codes: np.ndarray, trim: int = 1, iterate: int = 0) -> np.ndarray:
    """Within estimate minus :func:`analytic_bias` (optionally re-estimating the residuals).

    Parameters
    ----------
    Xw, yw : ndarray
        Within-transformed regressors (n, k) and dependent variable (n,).
    codes : ndarray
        Region code per row (rows of a region consecutive, in time order).
    trim : int
        Lag truncation ``L``.
    iterate : int, default 0
        Extra rounds that recompute the residuals with the corrected slopes.

    Returns
    -------
    ndarray, shape (k,)
    """
    beta = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    b = beta
    for _ in range(int(iterate) + 1):
        b = beta - analytic_bias(Xw, yw - Xw @ b, codes, trim)
    return b
