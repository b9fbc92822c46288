"""Spatial diagnostics of the Haken equations.

LM lag, LM error, their robust forms and the SARMA test (Anselin, Bera,
Florax & Yoon 1996) on the pooled aspatial Haken residuals, with the
block-diagonal weights ``I_T' kron W`` (never formed); Moran's I of
regression residuals with its Cliff-Ord moments; likelihood-ratio tests.
The formulas are those of ``spreg.LMtests`` and ``spreg.MoranRes``, written
sparse and period by period; the tests check equality with spreg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._panel import lag

__all__ = ["lm_tests_equation", "moran_residuals", "lr_test"]


def _block_consts(W, T1: int) -> dict:
    Wc = W.tocsr()
    s0 = float(Wc.sum())
    ww = float(Wc.multiply(Wc).sum())
    wwt = float(Wc.multiply(Wc.T).sum())
    s1 = 0.5 * float((Wc + Wc.T).multiply(Wc + Wc.T).sum())
    return {"S0": T1 * s0, "S1": T1 * s1, "T": T1 * (ww + wwt)}


def lm_tests_equation(y: np.ndarray, Xcols, W) -> dict:
    """LM diagnostics of one pooled OLS equation.

    Parameters
    ----------
    y : (T', N) array
        Dependent variable.
    Xcols : list of (T', N) arrays
        Regressors (no constant is added).
    W : sparse (N, N)
        Weights; the test uses ``I_T' kron W``.

    Returns
    -------
    dict
        ``{"lm_lag": (stat, p), "lm_error": ..., "rlm_lag": ..., "rlm_error": ...,
        "lm_sarma": ..., "moran_residuals": (I, z, p)}``.
    """
    T1, N = y.shape
    X = np.column_stack([c.reshape(-1) for c in Xcols])
    yy = y.reshape(-1)
    n, k = X.shape
    XtXi = np.linalg.inv(X.T @ X)
    beta = XtXi @ (X.T @ yy)
    predy = X @ beta
    u = yy - predy
    sig2n = float(u @ u) / n
    c = _block_consts(W, T1)
    Tt = c["T"]
    wu = lag(W, u.reshape(T1, N)).reshape(-1)
    wy = lag(W, y).reshape(-1)
    wxb = lag(W, predy.reshape(T1, N)).reshape(-1)
    xwxb = X.T @ wxb
    j = (wxb @ wxb - xwxb @ XtXi @ xwxb + Tt * sig2n) / (n * sig2n)
    utwuDs = float(u @ wu) / sig2n
    utwyDs = float(u @ wy) / sig2n
    nj = n * j
    lme = utwuDs**2 / Tt
    lml = utwyDs**2 / nj
    rlme = (utwuDs - Tt * utwyDs / nj) ** 2 / (Tt * (1.0 - Tt / nj))
    rlml = (utwyDs - utwuDs) ** 2 / (nj - Tt)
    sarma = (utwyDs - utwuDs) ** 2 / (nj - Tt) + lme
    out = {
        name: (float(v), float(stats.chi2.sf(v, df)))
        for name, v, df in [
            ("lm_lag", lml, 1),
            ("lm_error", lme, 1),
            ("rlm_lag", rlml, 1),
            ("rlm_error", rlme, 1),
            ("lm_sarma", sarma, 2),
        ]
    }
    out["moran_residuals"] = _moran_ols(u, wu, X, XtXi, W, T1, c)
    return out


def _moran_ols(u, wu, X, XtXi, W, T1, c):
    n, k = X.shape
    N = W.shape[0]
    I = n / c["S0"] * float(u @ wu) / float(u @ u)
    Xr = [X[:, i].reshape(T1, N) for i in range(k)]
    WX = np.column_stack([lag(W, x).reshape(-1) for x in Xr])
    WtX = np.column_stack([lag(W.T, x).reshape(-1) for x in Xr])
    trA = np.trace(XtXi @ (X.T @ WX))
    UX = 0.5 * (WX + WtX)
    A = XtXi @ (X.T @ UX)
    B = XtXi @ (UX.T @ UX)
    eI = -(n * trA) / (c["S0"] * (n - k))
    vI = (n**2 / (c["S0"] ** 2 * (n - k) * (n - k + 2.0))) * (
        c["S1"] + 2.0 * np.trace(A @ A) - 4.0 * np.trace(B) - (2.0 * trA**2) / (n - k)
    )
    z = (I - eI) / np.sqrt(vI)
    return float(I), float(z), float(2.0 * stats.norm.sf(abs(z)))


def moran_residuals(resid: np.ndarray, W) -> float:
    """Moran's I of pooled ``(T', N)`` residuals with ``I_T' kron W``."""
    T1, N = resid.shape
    u = resid.reshape(-1)
    wu = lag(W, resid).reshape(-1)
    S0 = T1 * float(W.sum())
    return float(len(u) / S0 * (u @ wu) / (u @ u))


def lr_test(ll_full: float, ll_restricted: float, df: int) -> tuple[float, float]:
    """Likelihood-ratio statistic ``2 (ll_full - ll_restricted)`` and its chi2 p-value."""
    stat = 2.0 * (ll_full - ll_restricted)
    return float(stat), float(stats.chi2.sf(max(stat, 0.0), df))


def diagnostics_frame(rows: list[dict]) -> pd.DataFrame:
    """The tidy diagnostics table from row dicts."""
    cols = ["model", "weights", "q1", "q2", "equation", "test", "statistic", "df", "p"]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df.columns:
            df[c] = np.nan
    return df[cols + [c for c in df.columns if c not in cols]]
