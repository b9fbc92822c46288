"""Numerical core of GW-Haken: region cross-products, local fits, criteria, local sandwiches.

Every local fit is built from each region's cross-products ``A_i = X_i'X_i``,
``c_i = X_i'y_i`` (``X_i``: the region's transitions), so a fit at every
location costs two products of the ``N x N`` kernel matrix with an
``N x k(k+1)`` matrix and ``N`` small solves; no ``N x N x k`` array is
formed.  Pure functions; see ``docs/local_haken.md`` for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from nqpspatial.errors import ModelError

__all__ = [
    "EquationData",
    "equation_data",
    "local_coefficients",
    "criterion_value",
    "local_fit",
    "permutation_statistics",
    "COND_MAX",
]

#: Local normal matrices with a larger condition number count as singular.
COND_MAX = 1e13
LN2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class EquationData:
    """One Haken equation's transitions and their per-region cross-products.

    Attributes
    ----------
    X : numpy.ndarray, shape (n, k)
        Regressors of every transition (own lag, interaction term, constant).
    y : numpy.ndarray, shape (n,)
        Next-period values.
    codes : numpy.ndarray, shape (n,)
        Region index (0..N-1) of each transition.
    A : numpy.ndarray, shape (N, k, k)
        ``X_i'X_i`` per region.
    c : numpy.ndarray, shape (N, k)
        ``X_i'y_i`` per region.
    syy, sy, m : numpy.ndarray, shape (N,)
        ``y_i'y_i``, the sum of ``y_i`` and the number of transitions per region.
    """

    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    A: np.ndarray
    c: np.ndarray
    syy: np.ndarray
    sy: np.ndarray
    m: np.ndarray

    @property
    def n(self) -> int:
        """Number of transitions."""
        return len(self.y)

    @property
    def k(self) -> int:
        """Number of local coefficients."""
        return self.X.shape[1]

    @property
    def N(self) -> int:
        """Number of regions (locations)."""
        return self.A.shape[0]


def _by_region(values: np.ndarray, codes: np.ndarray, N: int) -> np.ndarray:
    """Sums of the rows of ``values`` (n x p) by region: N x p."""
    out = np.zeros((N, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def equation_data(X, y, codes, N: int) -> EquationData:
    """Cross-products of one equation by region (see :class:`EquationData`)."""
    X = np.ascontiguousarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    codes = np.asarray(codes, dtype=int)
    k = X.shape[1]
    outer = (X[:, :, None] * X[:, None, :]).reshape(len(y), k * k)
    A = _by_region(outer, codes, N).reshape(N, k, k)
    c = _by_region(X * y[:, None], codes, N)
    s = _by_region(np.column_stack([y * y, y, np.ones_like(y)]), codes, N)
    return EquationData(X, y, codes, A, c, s[:, 0], s[:, 1], s[:, 2])


def _dot(K, M: np.ndarray) -> np.ndarray:
    """``K @ M`` for a dense or sparse kernel matrix."""
    out = K @ M
    return np.asarray(out)


def _square(K):
    return K.multiply(K).tocsr() if sp.issparse(K) else K * K


def _diag(K) -> np.ndarray:
    return np.asarray(K.diagonal()) if sp.issparse(K) else np.diag(K).copy()


def _inverse(M: np.ndarray) -> np.ndarray:
    """Batched inverse of (N, k, k) normal matrices; ModelError when one is (nearly) singular."""
    cond = np.linalg.cond(M)
    bad = ~np.isfinite(cond) | (cond > COND_MAX)
    if bad.any():
        raise ModelError(
            f"{int(bad.sum())} local fit(s) have a singular design (too few regions with "
            "weight, or collinear terms); use a larger bandwidth"
        )
    return np.linalg.inv(M)


def local_coefficients(K, eq: EquationData, *, leave_out: bool = False):
    """Local coefficients at every location.

    ``beta_j = (sum_i K_ji A_i)^-1 sum_i K_ji c_i``.  With ``leave_out`` the
    location's own region is left out (``A_(j) - K_jj A_j``): the
    leave-one-region-out fit of the cross-validation criterion.

    Returns
    -------
    tuple
        ``(beta, Ainv)`` of shapes ``(N, k)`` and ``(N, k, k)``.

    Raises
    ------
    ModelError
        A local design is singular.
    """
    N, k = eq.N, eq.k
    AK = _dot(K, eq.A.reshape(N, k * k)).reshape(N, k, k)
    cK = _dot(K, eq.c)
    if leave_out:
        d = _diag(K)
        AK = AK - d[:, None, None] * eq.A
        cK = cK - d[:, None] * eq.c
    Ainv = _inverse(AK)
    beta = np.einsum("nij,nj->ni", Ainv, cK)
    return beta, Ainv


def _residuals(eq: EquationData, beta: np.ndarray) -> np.ndarray:
    """Residual of every transition at its own region's local coefficients."""
    return eq.y - np.einsum("nk,nk->n", eq.X, beta[eq.codes])


def _trace_s(K, eq: EquationData, Ainv: np.ndarray) -> float:
    """``tr(S) = sum_j K_jj tr(A_(j)^-1 A_j)`` (diagonal of the hat matrix of the transitions)."""
    return float(np.sum(_diag(K) * np.einsum("nij,nji->n", Ainv, eq.A)))


def aicc(rss: float, n: int, tr_s: float) -> float:
    """Corrected AIC of a GW fit (Fotheringham, Brunsdon & Charlton 2002, eq. 2.33).

    ``n log(RSS/n) + n log(2 pi) + n (n + tr S) / (n - 2 - tr S)``;
    infinite when ``n - 2 - tr S <= 0``.
    """
    den = n - 2.0 - tr_s
    if den <= 0 or not rss > 0:
        return math.inf
    return n * math.log(rss / n) + n * LN2PI + n * (n + tr_s) / den


def criterion_value(K, eq: EquationData, kind: str) -> float:
    """AICc or leave-one-region-out CV of the local fits with kernel matrix ``K``.

    Infinite when a local design is singular (the search then moves away).
    """
    try:
        if kind == "cv":
            beta, _ = local_coefficients(K, eq, leave_out=True)
            e = _residuals(eq, beta)
            return float(e @ e) / eq.n
        beta, Ainv = local_coefficients(K, eq)
    except ModelError:
        return math.inf
    e = _residuals(eq, beta)
    return aicc(float(e @ e), eq.n, _trace_s(K, eq, Ainv))


def local_fit(K, eq: EquationData, *, se: str = "cluster") -> dict:
    """Local coefficients with standard errors, diagnostics and local R^2.

    Parameters
    ----------
    K : array or sparse array, shape (N, N)
        Kernel weights at the chosen bandwidth.
    eq : EquationData
    se : {"cluster", "gwr"}
        ``"cluster"``: region-clustered local sandwich
        ``c A_(j)^-1 [sum_i K_ji^2 g_i g_i'] A_(j)^-1`` with the region
        scores ``g_i = X_i' e_i`` (residuals at each region's own local
        coefficients) and ``c = N/(N-1) (n-1)/(n - tr S)``.  ``"gwr"``: the
        GWR formula ``sigma^2 A_(j)^-1 [sum_i K_ji^2 A_i] A_(j)^-1`` with
        ``sigma^2 = RSS/(n - tr S)`` (independent transitions).

    Returns
    -------
    dict
        ``beta, bse (N, k), resid (n,), rss, tr_s, sigma2, aicc, aic, df,
        local_r2 (N,)``.
    """
    N, k, n = eq.N, eq.k, eq.n
    beta, Ainv = local_coefficients(K, eq)
    e = _residuals(eq, beta)
    rss = float(e @ e)
    tr_s = _trace_s(K, eq, Ainv)
    K2 = _square(K)
    if se == "gwr":
        meat = _dot(K2, eq.A.reshape(N, k * k)).reshape(N, k, k)
        scale = rss / (n - tr_s)
        df = n - 1
    else:
        g = _by_region(eq.X * e[:, None], eq.codes, N)
        meat = _dot(K2, (g[:, :, None] * g[:, None, :]).reshape(N, k * k)).reshape(N, k, k)
        scale = N / (N - 1.0) * (n - 1.0) / (n - tr_s)
        df = N - 1
    cov = scale * np.einsum("nij,njl,nml->nim", Ainv, meat, Ainv)
    bse = np.sqrt(np.clip(np.einsum("nii->ni", cov), 0.0, None))
    # local R^2 (Fotheringham et al. 2002, eqs 9.8-9.10): kernel-weighted sums over the transitions
    rss_i = np.bincount(eq.codes, e * e, minlength=N)
    sw = _dot(K, eq.m)
    swy = _dot(K, eq.sy)
    tss = _dot(K, eq.syy) - swy * swy / sw
    r2 = 1.0 - _dot(K, rss_i) / tss
    ll = -0.5 * n * (LN2PI + math.log(rss / n) + 1.0)
    return {
        "beta": beta,
        "bse": bse,
        "resid": e,
        "rss": rss,
        "tr_s": tr_s,
        "sigma2": rss / (n - tr_s),
        "aicc": aicc(rss, n, tr_s),
        "aic": -2.0 * ll + 2.0 * (tr_s + 1.0),
        "df": df,
        "local_r2": r2,
    }


def _inverse_lenient(M: np.ndarray) -> np.ndarray:
    """Batched inverse; a singular local design under a permutation gets the pseudo-inverse."""
    try:
        return np.linalg.inv(M)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(M)


def _indicator(codes: np.ndarray, N: int) -> sp.csr_array:
    n = len(codes)
    return sp.csr_array((np.ones(n), (codes, np.arange(n))), shape=(N, n))


def permutation_statistics(K, eq: EquationData, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spread of the local coefficients when regions are permuted over the locations.

    Parameters
    ----------
    K : array or sparse array, shape (N, N)
        Kernel weights (held fixed).
    eq : EquationData
    perms : numpy.ndarray of int, shape (B, N)
        Row ``b`` puts region ``perms[b, j]`` (all its transitions) at
        location ``j``; the identity gives the observed statistics.

    Returns
    -------
    tuple of numpy.ndarray, shapes (B, k)
        ``(weighted, variance)``: the precision-weighted variance
        ``sum_j w_j (beta_j - beta_w)^2 / N`` with ``w_j = 1/se_j^2`` (the
        region-clustered local sandwich) and ``beta_w`` the weighted mean;
        and the plain variance of the local coefficients (ddof 0).
    """
    N, k, n = eq.N, eq.k, eq.n
    B = perms.shape[0]
    cols = np.arange(B)
    stacked = np.concatenate([eq.A.reshape(N, k * k), eq.c], axis=1)
    R = _dot(K, stacked[perms.T].reshape(N, -1)).reshape(N, B, k * k + k)
    Ainv = _inverse_lenient(R[..., : k * k].reshape(N, B, k, k))
    beta = np.einsum("nbij,nbj->nbi", Ainv, R[..., k * k :])
    loc = np.argsort(perms, axis=1)  # loc[b, i]: location of region i
    e = eq.y[:, None] - np.einsum("nk,nbk->nb", eq.X, beta[loc[:, eq.codes].T, cols])
    g = _dot(_indicator(eq.codes, N), (eq.X[:, None, :] * e[:, :, None]).reshape(n, B * k)).reshape(N, B, k)
    gg = (g[..., :, None] * g[..., None, :])[perms.T, cols]  # location j holds region perms[b, j]
    meat = _dot(_square(K), gg.reshape(N, -1)).reshape(N, B, k, k)
    tr_s = np.einsum("n,nbij,nbji->b", _diag(K), Ainv, eq.A[perms.T])
    scale = N / (N - 1.0) * (n - 1.0) / (n - tr_s)
    var_beta = scale[None, :, None] * np.einsum("nbij,nbjl,nbil->nbi", Ainv, meat, Ainv)
    w = 1.0 / np.clip(var_beta, 1e-300, None)
    mean_w = (w * beta).sum(axis=0) / w.sum(axis=0)
    weighted = (w * (beta - mean_w) ** 2).mean(axis=0)
    return weighted, beta.var(axis=0)
