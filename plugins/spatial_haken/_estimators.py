"""Equation-level estimators: OLS (SLX), ML spatial lag (SAR/SDM), ML spatial error (SEM).

Each works on one Haken equation stacked over ``T' = T - 1`` transitions
(time-major), with the block-diagonal weights ``I_T' kron W`` never formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from ._linalg import SpatialFilter
from ._panel import lag

__all__ = ["EqFit", "fit_ols", "fit_lag", "fit_error", "demean", "year_basis"]

LN2PI = np.log(2.0 * np.pi)


@dataclass
class EqFit:
    """Raw fit of one equation.

    Attributes
    ----------
    names : list of str
        Coefficient names (regressors, then spatial parameters).
    params, vcov : numpy.ndarray
        Estimates and their asymptotic covariance.
    sigma2 : float
        Residual variance used for inference.
    loglik : float
        Gaussian log-likelihood at the estimates (ML variance).
    n_obs : int
        Stacked observations (N x T').
    resid : numpy.ndarray
        ``(T', N)`` residuals.
    r2 : float
        ``1 - SSR/TSS`` (TSS uncentered without intercept or region effects).
    spatial : list of str
        Names of the spatial parameters (rho/lambda) among ``names``.
    info : dict
        Method facts (log-det method, bounds...).
    """

    names: list
    params: np.ndarray
    vcov: np.ndarray
    sigma2: float
    loglik: float
    n_obs: int
    resid: np.ndarray
    r2: float
    spatial: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of coefficients (regressors and spatial parameters)."""
        return len(self.params)


def demean(arr: np.ndarray) -> np.ndarray:
    """Within transformation of a ``(T', N)`` array (region means over time removed)."""
    return arr - arr.mean(axis=0, keepdims=True)


def year_basis(N: int) -> np.ndarray:
    """``N x (N-1)`` orthonormal basis ``F`` of the vectors orthogonal to the constant (``F F' = I - 11'/N``).

    The transformation ``F'`` of Lee & Yu (2010) removes year effects from a spatial panel whose weights
    have unit row sums; the basis is the normalized Helmert contrasts (deterministic).
    """
    F = np.zeros((N, N - 1))
    for j in range(1, N):
        F[:j, j - 1] = 1.0
        F[j, j - 1] = -float(j)
        F[:, j - 1] /= np.sqrt(j * (j + 1.0))
    return F


def _stack(cols) -> np.ndarray:
    return np.column_stack([c.reshape(-1) for c in cols])


def _r2(y: np.ndarray, u: np.ndarray, centered: bool) -> float:
    yy = y.reshape(-1)
    tss = np.sum((yy - yy.mean()) ** 2) if centered else np.sum(yy**2)
    return float(1.0 - np.sum(u**2) / tss)


def fit_ols(y, Xcols, names, *, fe: bool = False, centered: bool = False, absorbed: int | None = None) -> EqFit:
    """OLS with classical standard errors (SLX-Haken and the aspatial model).

    With ``fe`` the data are already within-transformed and the degrees of
    freedom subtract the N region effects; ``absorbed`` gives the number of
    absorbed effects instead (year or two-way effects).
    """
    T1, N = y.shape
    X = _stack(Xcols)
    yy = y.reshape(-1)
    n, k = X.shape
    XtX = X.T @ X
    beta = np.linalg.solve(XtX, X.T @ yy)
    u = yy - X @ beta
    ssr = float(u @ u)
    dof = n - k - (int(absorbed) if absorbed is not None else N if fe else 0)
    s2 = ssr / dof
    vcov = s2 * np.linalg.inv(XtX)
    s2ml = ssr / n
    ll = -0.5 * n * (LN2PI + np.log(s2ml) + 1.0)
    return EqFit(
        list(names), beta, vcov, s2, float(ll), n, u.reshape(T1, N), _r2(y, u, centered or fe), [], {"estimator": "OLS"}
    )


#: Step of the central differences of the Newton polish (the spatial parameters lie in (-1, 1)).
NEWTON_STEP = 1e-5


def _optimize(clik, filt: SpatialFilter, m: int, start=None, tol: float = 1e-10):
    """Minimize the concentrated negative log-likelihood over the spatial parameters.

    One parameter: bounded Brent search to ``tol``.  Several (a zone split): L-BFGS-B, then Newton steps
    on central-difference derivatives (:func:`_newton_polish`); when Newton cannot improve (an
    indefinite Hessian, a step out of bounds), Nelder-Mead polishes instead.
    """
    lo, hi = filt.bounds()
    if m == 1:
        res = optimize.minimize_scalar(clik, bounds=(lo, hi), method="bounded", options={"xatol": tol, "maxiter": 500})
        return np.array([res.x]), float(res.fun)
    x0 = np.zeros(m) if start is None else np.asarray(start, dtype=float)
    res = optimize.minimize(
        clik, x0, method="L-BFGS-B", bounds=[(lo, hi)] * m, options={"ftol": 1e-13, "gtol": 1e-7, "maxiter": 500}
    )
    x, fun = np.asarray(res.x, dtype=float), float(res.fun)
    got = _newton_polish(clik, x, fun, lo, hi)
    if got is not None:
        return got
    res2 = optimize.minimize(clik, x, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 2000})
    if res2.fun <= fun and np.all((res2.x > lo) & (res2.x < hi)):
        return np.asarray(res2.x, dtype=float), float(res2.fun)
    return x, fun


def _fd_derivatives(f, x: np.ndarray, fx: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of ``f`` at ``x`` (``2 m + m (m - 1)`` evaluations)."""
    m = len(x)
    E = np.eye(m) * h
    fp = np.array([f(x + E[i]) for i in range(m)])
    fm = np.array([f(x - E[i]) for i in range(m)])
    g = (fp - fm) / (2.0 * h)
    H = np.diag((fp - 2.0 * fx + fm) / h**2)
    for i in range(m):
        for j in range(i + 1, m):
            fpp = f(x + E[i] + E[j])
            fmm = f(x - E[i] - E[j])
            # f(x + h ei + h ej) + f(x - h ei - h ej) = 2 f + h^2 (H_ii + H_jj + 2 H_ij) + O(h^4)
            H[i, j] = H[j, i] = (fpp + fmm - fp[i] - fm[i] - fp[j] - fm[j] + 2.0 * fx) / (2.0 * h**2)
    return g, H


def _newton_polish(f, x: np.ndarray, fx: float, lo: float, hi: float, max_iter: int = 20):
    """Newton steps from ``x`` until the step is below 1e-10; None when a step cannot be taken.

    The concentrated likelihood is smooth in the spatial parameters; with central differences of step
    ``h = 1e-5`` the gradient's error is of order ``h^2 f''' / 6`` plus rounding ``eps |f| / h``, which
    moves the optimum by about 1e-10 at county scale (far below the 1e-6 the tests ask for).
    """
    h = NEWTON_STEP
    for _ in range(max_iter):
        if np.any(x - h <= lo) or np.any(x + h >= hi):
            return None
        g, H = _fd_derivatives(f, x, fx, h)
        if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(H) <= 0):
            return None
        step = -np.linalg.solve(H, g)
        if np.max(np.abs(step)) < 1e-10:
            return x, fx
        t = 1.0
        while t > 1e-3:
            xn = x + t * step
            if np.all((xn > lo) & (xn < hi)):
                fn = f(xn)
                if fn <= fx:
                    break
            t *= 0.5
        else:
            return x, fx  # no decrease along the Newton direction: at the optimum to rounding
        x, fx = xn, fn
        if np.max(np.abs(t * step)) < 1e-10:
            return x, fx
    return x, fx


def _stacked(y, Xcols, Ws):
    """``T', N, n = T' N``, stacked X, stacked y and the stacked spatial lags ``W_j y``."""
    T1, N = y.shape
    return (T1, N, T1 * N, _stack(Xcols), y.reshape(-1), [lag(W, y).reshape(-1) for W in Ws])


def fit_lag(
    y,
    Xcols,
    names,
    Ws,
    rho_names,
    *,
    method: str = "auto",
    fe: bool = False,
    centered: bool = False,
    sigma_correction: float = 1.0,
    probes: int = 64,
    trace_seed: int = 0,
    start=None,
) -> EqFit:
    """ML spatial lag: ``y_t = sum_j rho_j W_j y_t + X_t beta + e_t`` pooled over t.

    The likelihood is concentrated in rho (Anselin 1988, ch. 12) and the
    asymptotic variance comes from the analytic information matrix.
    ``sigma_correction`` multiplies the ML residual variance used for
    inference (``T'/(T'-1)`` with region effects, Lee & Yu 2010).
    """
    T1, N, n, X, yy, Wy = _stacked(y, Xcols, Ws)
    XtX = X.T @ X
    XtXi = np.linalg.inv(XtX)
    B = XtXi @ (X.T @ np.column_stack([yy] + Wy))
    E = np.column_stack([yy] + Wy) - X @ B
    gram = E.T @ E
    filt = SpatialFilter(Ws, method=method, probes=probes, seed=trace_seed)
    m = len(Ws)

    def clik(r):
        c = np.concatenate([[1.0], -np.atleast_1d(r)])
        ssr = float(c @ gram @ c)
        return 0.5 * n * np.log(ssr / n) - T1 * filt.logdet(r)

    rho, fun = _optimize(clik, filt, m, start)
    filt.center = rho  # the effect draws' series expands around the estimates
    c = np.concatenate([[1.0], -rho])
    beta = B @ c
    u = E @ c
    s2ml = float(u @ u) / n
    ll = -fun - 0.5 * n * LN2PI - 0.5 * n
    s2 = s2ml * sigma_correction
    # information matrix: (beta, rho_1..m, sigma2)
    xb = (X @ beta).reshape(T1, N)
    solve = filt.solver(rho)
    Z = solve(xb.T)  # N x T'
    GXb = [np.asarray(W @ Z).T.reshape(-1) for W in Ws]
    trG, trGG, trGtG = filt.traces(rho)
    k = X.shape[1]
    info = np.zeros((k + m + 1, k + m + 1))
    info[:k, :k] = XtX / s2
    for j in range(m):
        info[:k, k + j] = info[k + j, :k] = X.T @ GXb[j] / s2
        for l in range(m):
            info[k + j, k + l] = T1 * (trGG[j, l] + trGtG[j, l]) + GXb[j] @ GXb[l] / s2
        info[k + j, -1] = info[-1, k + j] = T1 * trG[j] / s2
    info[-1, -1] = n / (2.0 * s2**2)
    vcov = np.linalg.inv(info)[:-1, :-1]
    params = np.concatenate([beta, rho])
    return EqFit(
        list(names) + list(rho_names),
        params,
        vcov,
        s2,
        float(ll),
        n,
        u.reshape(T1, N),
        _r2(y, u, centered or fe),
        list(rho_names),
        {"estimator": "ML lag", "logdet": filt.logdet_method, "method": filt.method, "filter": filt},
    )


def fit_error(
    y,
    Xcols,
    names,
    Ws,
    lam_names,
    *,
    method: str = "auto",
    fe: bool = False,
    centered: bool = False,
    sigma_correction: float = 1.0,
    probes: int = 64,
    trace_seed: int = 0,
    start=None,
) -> EqFit:
    """ML spatial error: ``y_t = X_t beta + u_t``, ``u_t = sum_j lambda_j W_j u_t + e_t``."""
    T1, N, n, X, yy, Wy = _stacked(y, Xcols, Ws)
    WX = [np.column_stack([lag(W, c).reshape(-1) for c in Xcols]) for W in Ws]
    filt = SpatialFilter(Ws, method=method, probes=probes, seed=trace_seed)
    m = len(Ws)

    def gls(lam):
        lam = np.atleast_1d(lam)
        ys = yy - sum(l * w for l, w in zip(lam, Wy))
        Xs = X - sum(l * w for l, w in zip(lam, WX))
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        e = ys - Xs @ b
        return b, e, Xs

    def clik(lam):
        _, e, _ = gls(lam)
        return 0.5 * n * np.log(float(e @ e) / n) - T1 * filt.logdet(lam)

    lam, fun = _optimize(clik, filt, m, start)
    beta, e, Xs = gls(lam)
    s2ml = float(e @ e) / n
    ll = -fun - 0.5 * n * LN2PI - 0.5 * n
    s2 = s2ml * sigma_correction
    trG, trGG, trGtG = filt.traces(lam)
    k = X.shape[1]
    info = np.zeros((k + m + 1, k + m + 1))
    info[:k, :k] = Xs.T @ Xs / s2
    for j in range(m):
        for l in range(m):
            info[k + j, k + l] = T1 * (trGG[j, l] + trGtG[j, l])
        info[k + j, -1] = info[-1, k + j] = T1 * trG[j] / s2
    info[-1, -1] = n / (2.0 * s2**2)
    vcov = np.linalg.inv(info)[:-1, :-1]
    u = yy - X @ beta  # structural residuals (spatially correlated)
    params = np.concatenate([beta, lam])
    return EqFit(
        list(names) + list(lam_names),
        params,
        vcov,
        s2,
        float(ll),
        n,
        u.reshape(T1, N),
        _r2(y, u, centered or fe),
        list(lam_names),
        {
            "estimator": "ML error",
            "logdet": filt.logdet_method,
            "method": filt.method,
            "filter": filt,
            "innovations": e.reshape(T1, N),
        },
    )
