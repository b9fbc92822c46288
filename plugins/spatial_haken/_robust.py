"""Dependence-robust covariances of the spatial Haken equations (``[spatial_haken] se``).

The Gaussian log-likelihood of one equation stacked over ``T'`` transition
years and ``N`` regions,

    l = sum_{t,i} l_it,   l_it = -1/2 log(2 pi s2) + [log A(r)]_ii - e_it^2 / (2 s2),

splits into region-year contributions: ``[log A]_ii`` is the i-th diagonal
element of the matrix logarithm of ``A(r) = I - sum_j r_j W_j`` (their sum
is ``log |A|``), with derivative ``-(G_j)_ii``, ``G_j = W_j A^-1``.  For the
parameters ``theta = (beta, r, s2)`` the score contributions are

* SAR/SDM (``e = y - sum_j r_j W_j y - X beta``):
  ``x_it e_it / s2``, ``(W_j y)_it e_it / s2 - (G_j)_ii``, ``-1/(2 s2) + e_it^2/(2 s2^2)``;
* SEM (``e = A (y - X beta)``, ``u = y - X beta``):
  ``(A X)_it e_it / s2``, ``(W_j u)_it e_it / s2 - (G_j)_ii``, the same variance score;
* SLX (OLS): the first and the last of these.

``H`` is the analytic observed Hessian of ``l`` (lag: ``H_rr = -(W_j y)'(W_l y)/s2 - T' tr(G_j G_l)``;
error: ``H_b,r_j = -((A X)'(W_j u) + (W_j X)' e)/s2``).  The covariance is the sandwich
``H^-1 B H^-1`` at the ML estimates (``s2`` the ML variance), the rows and columns of ``s2`` dropped:

* ``"driscoll-kraay"`` (Driscoll & Kraay 1998): ``B = sum_{|j|<=L} (1 - |j|/(L+1)) sum_t xi_t xi_{t+j}'``
  with ``xi_t = sum_i s_it`` and ``L`` the bandwidth (default ``floor(4 (T'/100)^(2/9))``,
  :func:`nqpspatial.haken.inference.bartlett_bandwidth`);
* ``"twoway"`` (Cameron, Gelbach & Miller 2011): ``B = c_R sum_i s_i s_i' + c_T sum_t xi_t xi_t' -
  sum_it s_it s_it'`` with ``s_i = sum_t s_it``, ``c_G = G/(G-1)``; a covariance with a negative
  eigenvalue has those eigenvalues set to zero (as the aspatial two-way option).

No further small-sample factor is applied.  Tested against scores and a Hessian from finite
differences of ``l_it`` (``tests/test_spatial_haken_inference.py``).
"""

from __future__ import annotations

import numpy as np

from nqpspatial.haken.inference import bartlett_bandwidth

from ._panel import lag

__all__ = ["SE_METHODS", "score_hessian", "robust_cov", "se_label"]

SE_METHODS = ("ml", "driscoll-kraay", "twoway")


def se_label(se: str, bandwidth=None) -> str:
    """Short description of a covariance method (run.json, the estimates' ``se_method``)."""
    if se == "ml":
        return "ml (inverse information matrix)"
    if se == "driscoll-kraay":
        return f"driscoll-kraay (Bartlett kernel, bandwidth {bandwidth}; sandwich of region-year scores)"
    return "twoway (clustered by region and year; sandwich of region-year scores)"


def _dense(W) -> np.ndarray:
    return W.toarray() if hasattr(W, "toarray") else np.asarray(W, dtype=float)


def score_hessian(kind: str, y, Xcols, Ws, params) -> tuple[np.ndarray, np.ndarray]:
    """Region-year score contributions and the observed Hessian of one equation.

    Parameters
    ----------
    kind : {"ols", "lag", "error"}
        SLX (OLS), SAR/SDM (spatial lag) or SEM (spatial error).
    y : numpy.ndarray
        ``(T', N)`` dependent variable (already transformed for fixed effects).
    Xcols : list of numpy.ndarray
        ``(T', N)`` regressors.
    Ws : list of sparse or dense matrices
        Weights carrying a spatial parameter (empty for ``"ols"``).
    params : numpy.ndarray
        Coefficients ``(beta, r)``; the ML variance is computed here.

    Returns
    -------
    scores : numpy.ndarray
        ``(T', N, p)`` with ``p = k + m + 1`` (the last one the variance).
    hessian : numpy.ndarray
        ``(p, p)``.
    """
    T1, N = y.shape
    X = np.column_stack([c.reshape(-1) for c in Xcols])
    yy = y.reshape(-1)
    k = X.shape[1]
    Ws = list(Ws) if kind != "ols" else []
    m = len(Ws)
    beta, r = np.asarray(params[:k], float), np.asarray(params[k : k + m], float)
    Wd = [_dense(W) for W in Ws]
    if kind == "lag":
        D = [lag(W, y).reshape(-1) for W in Ws]
        e = yy - X @ beta - sum(rj * d for rj, d in zip(r, D))
        Xs = X
    elif kind == "error":
        u = yy - X @ beta
        D = [lag(W, u.reshape(T1, N)).reshape(-1) for W in Ws]
        e = u - sum(rj * d for rj, d in zip(r, D))
        WX = [np.column_stack([lag(W, c).reshape(-1) for c in Xcols]) for W in Ws]
        Xs = X - sum(rj * wx for rj, wx in zip(r, WX))
    else:
        D, e, Xs = [], yy - X @ beta, X
    n = len(e)
    s2 = float(e @ e) / n
    Dm = np.column_stack([Xs] + D) if D else Xs
    p = k + m + 1
    S = np.zeros((n, p))
    S[:, : k + m] = Dm * e[:, None] / s2
    G = []
    if m:
        Ainv = np.linalg.inv(np.eye(N) - sum(rj * w for rj, w in zip(r, Wd)))
        G = [w @ Ainv for w in Wd]
        for j in range(m):
            S[:, k + j] -= np.tile(np.diag(G[j]), T1)
    S[:, -1] = -0.5 / s2 + e * e / (2.0 * s2 * s2)
    H = np.zeros((p, p))
    H[: k + m, : k + m] = -(Dm.T @ Dm) / s2
    for j in range(m):
        for l_ in range(m):
            H[k + j, k + l_] -= T1 * float(np.sum(G[j] * G[l_].T))
        if kind == "error":
            H[:k, k + j] -= WX[j].T @ e / s2
            H[k + j, :k] = H[:k, k + j]
    H[: k + m, -1] = H[-1, : k + m] = -(Dm.T @ e) / s2**2
    H[-1, -1] = n / (2.0 * s2**2) - float(e @ e) / s2**3
    return S.reshape(T1, N, p), H


def _meat(scores: np.ndarray, se: str, bandwidth) -> tuple[np.ndarray, int | None]:
    T1, N, p = scores.shape
    xi = scores.sum(axis=1)
    if se == "driscoll-kraay":
        L = bartlett_bandwidth(T1) if bandwidth is None else int(bandwidth)
        if L < 0 or L >= T1:
            raise ValueError(f"the Driscoll-Kraay bandwidth must lie in [0, {T1 - 1}] for {T1} periods, got {L}")
        B = xi.T @ xi
        for j in range(1, L + 1):
            Gm = xi[j:].T @ xi[:-j]
            B += (1.0 - j / (L + 1.0)) * (Gm + Gm.T)
        return B, L
    si = scores.sum(axis=0)
    flat = scores.reshape(-1, p)
    B = (N / (N - 1.0)) * (si.T @ si) + (T1 / (T1 - 1.0)) * (xi.T @ xi) - flat.T @ flat
    return B, None


def robust_cov(kind: str, y, Xcols, Ws, params, se: str, bandwidth=None) -> tuple[np.ndarray, dict]:
    """Sandwich covariance ``H^-1 B H^-1`` of ``(beta, r)`` (see the module docstring).

    Returns
    -------
    cov : numpy.ndarray
        ``(k + m, k + m)``.
    info : dict
        ``bandwidth`` (Driscoll-Kraay) and ``psd_fix`` (two-way, when eigenvalues were set to zero).
    """
    scores, H = score_hessian(kind, y, Xcols, Ws, params)
    B, L = _meat(scores, se, bandwidth)
    Hi = np.linalg.inv(H)
    V = Hi @ B @ Hi
    V = 0.5 * (V + V.T)[:-1, :-1]
    info = {"bandwidth": L} if L is not None else {}
    if se == "twoway":
        w, U = np.linalg.eigh(V)
        if w.min() < 0:
            V = (U * np.maximum(w, 0.0)) @ U.T
            info["psd_fix"] = True
    return V, info
