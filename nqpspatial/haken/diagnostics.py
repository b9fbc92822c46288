"""Spatial diagnostics of the aspatial Haken fit's residuals (``haken_residual_diagnostics.csv``).

The aspatial model's inference (classical, HC1, region clusters, the region
bootstrap) assumes that regions are independent.  These tests ask whether
the residuals of the fitted equations say otherwise, for one weights matrix
``W`` (the first ``[spatial] weights`` specification):

* **Moran's I of the residuals** ``I = (n / S0) e'W e / e'e`` with the
  Cliff & Ord (1981) moments of regression residuals (normal p-value);
* **LM error** ``(e'W e / s^2)^2 / T_W`` and **LM lag**
  ``(e'W y / s^2)^2 / (n J)`` (Anselin 1988; Anselin, Bera, Florax & Yoon
  1996), chi-square with 1 df, ``s^2 = e'e / n``,
  ``T_W = tr(W'W + W W)``, ``n J = ((WXb)'M(WXb) + T_W s^2) / s^2``.

``scope = "pooled"`` stacks every transition with the block-diagonal
weights ``I_T kron W`` (never formed), exactly as ``spreg.LMtests`` and
``spreg.MoranRes`` on the stacked design, and equals the OLS rows of
``spatial_haken_diagnostics.csv``; ``scope = "year"`` applies the same
formulas to the rows of one transition year (the cross-section ``t -> t+1``)
with the pooled fit's residuals and regressors.  With fixed effects the
regressors, the dependent variable and the residuals are those of the
within (Frisch-Waugh-Lovell) regression.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

__all__ = ["residual_tests", "residual_diagnostics", "RESIDUAL_DIAGNOSTICS_COLUMNS"]

RESIDUAL_DIAGNOSTICS_COLUMNS = ["q1", "q2", "equation", "weights", "scope", "year", "test", "statistic", "df", "p"]


def _lag(W, A):
    """Spatial lag of a (T, N) array period by period."""
    return np.asarray((W @ A.T).T)


def residual_tests(y: np.ndarray, X: np.ndarray, e: np.ndarray, W) -> dict:
    """Moran's I, LM error and LM lag of regression residuals on ``T`` stacked cross-sections.

    Parameters
    ----------
    y : ndarray, shape (T, N)
        Dependent variable, one row per period (regions in the order of W).
    X : ndarray, shape (T, N, k)
        Regressors.
    e : ndarray, shape (T, N)
        Residuals of the regression of ``y`` on ``X`` (the fit of all
        periods when only some are passed).
    W : array or scipy sparse matrix, shape (N, N)
        Weights.

    Returns
    -------
    dict
        ``{"moran_residuals": (I, z, p), "lm_error": (stat, p), "lm_lag": (stat, p)}``.
    """
    W = sparse.csr_array(W)
    T, N = y.shape
    k = X.shape[2]
    n = T * N
    if N < 4 or n - k <= 0 or float(W.sum()) == 0.0:  # no statistic means anything (as for the spatial statistics)
        nan = float("nan")
        return {"moran_residuals": (nan, nan, nan), "lm_error": (nan, nan), "lm_lag": (nan, nan)}
    Xs = X.reshape(n, k)
    u = e.reshape(n)
    yy = y.reshape(n)
    XtXi = np.linalg.pinv(Xs.T @ Xs)
    predy = yy - u
    s0 = float(W.sum())
    tw = float(W.multiply(W).sum() + W.multiply(W.T).sum())
    s1 = 0.5 * float((W + W.T).multiply(W + W.T).sum())
    Tt, S0, S1 = T * tw, T * s0, T * s1
    sig2n = float(u @ u) / n
    wu = _lag(W, e).reshape(n)
    wy = _lag(W, y).reshape(n)
    wxb = _lag(W, predy.reshape(T, N)).reshape(n)
    xwxb = Xs.T @ wxb
    nj = (wxb @ wxb - xwxb @ XtXi @ xwxb + Tt * sig2n) / sig2n
    lme = (float(u @ wu) / sig2n) ** 2 / Tt
    lml = (float(u @ wy) / sig2n) ** 2 / nj
    # Moran's I of regression residuals (Cliff & Ord moments)
    I = n / S0 * float(u @ wu) / float(u @ u)
    WX = np.stack([_lag(W, X[:, :, j]).reshape(n) for j in range(k)], axis=1)
    WtX = np.stack([_lag(W.T, X[:, :, j]).reshape(n) for j in range(k)], axis=1)
    trA = np.trace(XtXi @ (Xs.T @ WX))
    UX = 0.5 * (WX + WtX)
    A = XtXi @ (Xs.T @ UX)
    B = XtXi @ (UX.T @ UX)
    eI = -(n * trA) / (S0 * (n - k))
    vI = (n**2 / (S0**2 * (n - k) * (n - k + 2.0))) * (
        S1 + 2.0 * np.trace(A @ A) - 4.0 * np.trace(B) - (2.0 * trA**2) / (n - k)
    )
    z = (I - eI) / np.sqrt(vI)
    return {
        "moran_residuals": (float(I), float(z), float(2.0 * stats.norm.sf(abs(z)))),
        "lm_error": (float(lme), float(stats.chi2.sf(lme, 1))),
        "lm_lag": (float(lml), float(stats.chi2.sf(lml, 1))),
    }


def residual_diagnostics(equations: dict, W, years, *, q1: str, q2: str, weights: str) -> pd.DataFrame:
    """``haken_residual_diagnostics.csv`` rows of one ordering.

    Parameters
    ----------
    equations : dict
        ``{"q1": (y, X, e), "q2": (y, X, e)}`` with ``y``, ``e`` of shape
        ``(T, N)`` and ``X`` of shape ``(T, N, k)`` (regions in the order of W).
    W : array or sparse matrix (N, N)
    years : sequence of int
        The ``T`` transition years (first year of each transition).
    q1, q2, weights : str
        Labels of the rows.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESIDUAL_DIAGNOSTICS_COLUMNS` (Moran's I with its
        ``z`` as an extra column): pooled rows first, then one block per year.
    """
    rows = []
    for eq, (y, X, e) in equations.items():
        scopes = [("pooled", None, slice(None))] + [("year", int(t), slice(i, i + 1)) for i, t in enumerate(years)]
        for scope, year, sl in scopes:
            res = residual_tests(y[sl], X[sl], e[sl], W)
            base = {"q1": q1, "q2": q2, "equation": eq, "weights": weights, "scope": scope, "year": year}
            I, z, p = res["moran_residuals"]
            rows.append({**base, "test": "moran_residuals", "statistic": I, "df": np.nan, "p": p, "z": z})
            for test in ("lm_lag", "lm_error"):
                stat, p = res[test]
                rows.append({**base, "test": test, "statistic": stat, "df": 1.0, "p": p})
    out = pd.DataFrame(rows)
    out["year"] = out["year"].astype("Int64")
    return out[RESIDUAL_DIAGNOSTICS_COLUMNS + ["z"]]
