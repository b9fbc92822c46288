"""Least squares with region and year fixed effects absorbed (no dummy columns).

A regression ``y = X beta + D delta + u`` whose fixed effects ``D`` are region dummies, year dummies
or both gives the same ``beta`` and residuals as the regression of ``M_D y`` on ``M_D X``, ``M_D`` the
projection off the span of ``D`` (Frisch-Waugh-Lovell; Frisch & Waugh 1933, Lovell 1963).  Here
``M_D`` is applied without building ``D``:

* region effects: the deviation of every column from its region mean (the within transformation);
* year effects: the few year dummies (one per transition year; with two-way effects every year but
  the first), region-demeaned when there are region effects, are partialled out by least squares.
  This is exact on unbalanced panels as well (the year columns are few, so no alternating
  projections are needed).

The slope covariances are the slope block of the dummy-column fit's.  Every sandwich the Haken fits
use has the form ``(X'X)^-1 X' Omega X (X'X)^-1`` and the slope rows of ``(X'X)^-1 X'`` are
``(X~'X~)^-1 X~'`` (``X~ = M_D X``), so the block is computed from ``X~`` and the residuals alone:
classical, HC1, clustered by region, clustered by region and year (Cameron, Gelbach & Miller 2011)
and Driscoll-Kraay.  Degrees of freedom and small-sample factors count the dummy columns as
statsmodels does on the dummy design (``df_resid = n - rank``; the cluster factor
``G/(G-1) (n-1)/(n-K)`` with ``K`` every column).  The fixed effects themselves follow from the
residual ``y - X b`` of any slopes ``b`` (also bias-corrected ones): the year coefficients by least
squares on the demeaned year dummies, the region coefficients as region means of what is left.
Memory and time grow linearly with the rows; tests/test_haken_within.py compares every option with
the dummy-column fit through statsmodels to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["Absorbed", "EquationFit", "absorbed_ols", "absorbed_slopes"]

#: Covariance types of :func:`absorbed_ols` (the Haken models' ``se`` options).
SE_TYPES = ("classical", "hc1", "cluster", "driscoll-kraay", "twoway")


def _group_sums(A: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Column sums of ``A`` (n_rows, k) within each code 0..n-1 -> (n, k)."""
    return np.stack([np.bincount(codes, A[:, j], minlength=n) for j in range(A.shape[1])], axis=1)


class Absorbed:
    """Region and year fixed effects of a set of rows, partialled out without dummy columns.

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (n,)
        Region code of each row, ``0 .. len(regions) - 1``.
    tcodes : numpy.ndarray of int, shape (n,)
        Year code of each row, ``0 .. len(years) - 1``.
    regions, years : list
        Labels of the codes (effect names ``region[<label>]``, ``year[<label>]``).
    effects : {"none", "region", "year", "two-way"}
        Which effects are absorbed; two-way effects drop the first year's dummy (the region dummies
        span the constant).

    Attributes
    ----------
    n_columns : int
        Number of dummy columns the effects stand for.
    rank : int
        Rank of those columns (what they take from the residual degrees of freedom).
    names : list of str
        Effect names in dummy-column order (regions, then years).
    """

    def __init__(self, codes, tcodes, regions, years, effects: str):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.tcodes = np.asarray(tcodes, dtype=np.int64)
        self.regions, self.years = list(regions), list(years)
        self.region_fe = effects in ("region", "two-way")
        self.year_fe = effects in ("year", "two-way")
        self.count = np.bincount(self.codes, minlength=len(self.regions)).astype(float)
        cols = list(range(1 if effects == "two-way" else 0, len(self.years))) if self.year_fe else []
        self.year_names = [f"year[{self.years[j]}]" for j in cols]
        self.region_names = [f"region[{r}]" for r in self.regions] if self.region_fe else []
        self.names = self.region_names + self.year_names
        rank_e = 0
        self._E = self._Ew = self._Ginv = None
        if cols:
            E = (self.tcodes[:, None] == np.asarray(cols)[None, :]).astype(float)  # n x (T or T-1): few columns
            Ew = self.demean(E)
            w, V = np.linalg.eigh(Ew.T @ Ew)  # the demeaned year dummies' Gram matrix (T x T)
            tol = (np.sqrt(max(w.max(), 0.0)) * max(E.shape) * np.finfo(float).eps) ** 2
            keep = w > tol
            rank_e = int(keep.sum())
            self._E, self._Ew = E, Ew
            self._Ginv = (V[:, keep] / w[keep]) @ V[:, keep].T  # pseudo-inverse of Ew'Ew
        self.n_columns = len(self.names)
        self.rank = (len(self.regions) if self.region_fe else 0) + rank_e

    def demean(self, A: np.ndarray) -> np.ndarray:
        """Deviations from region means (region effects), else ``A`` unchanged (1-D or 2-D)."""
        if not self.region_fe:
            return A
        A = np.asarray(A, float)
        one = A.ndim == 1
        A2 = A[:, None] if one else A
        means = _group_sums(A2, self.codes, len(self.regions)) / self.count[:, None]
        out = A2 - means[self.codes]
        return out[:, 0] if one else out

    def residualize(self, A: np.ndarray) -> np.ndarray:
        """``M_D A``: ``A`` (1-D or 2-D) with every fixed effect partialled out."""
        A = self.demean(np.asarray(A, float))
        if self._Ew is not None:
            A = A - self._Ew @ (self._Ginv @ (self._Ew.T @ A))
        return A

    def values(self, r: np.ndarray) -> pd.Series:
        """Effect coefficients of the dummy-column fit given the partial residual ``r = y - X b``.

        The least-squares coefficients of ``r`` on the dummy columns (minimum norm where they are
        collinear): year coefficients from the demeaned year dummies, region coefficients the region
        means of ``r`` minus the fitted year part.
        """
        r = np.asarray(r, float)
        out = []
        g = np.zeros(0)
        if self._E is not None:
            g = self._Ginv @ (self._Ew.T @ self.demean(r))
        if self.region_fe:
            rest = r - self._E @ g if self._E is not None else r
            out.append(np.bincount(self.codes, rest, minlength=len(self.regions)) / self.count)
        out.append(g)
        return pd.Series(np.concatenate(out), index=self.names, dtype=float)

    def fitted(self, r: np.ndarray) -> np.ndarray:
        """Per-row sum of the fixed effects fitted to the partial residual ``r`` (zeros without effects).

        The dummy-column product ``D delta`` with ``delta`` :meth:`values` of ``r``, formed by indexing: each
        row's region coefficient plus its year coefficient (none for the first year with two-way effects), the
        same sum the product forms (the other terms are exact zeros).  ``r - fitted(r)`` is
        :meth:`residualize` of ``r`` to rounding.
        """
        r = np.asarray(r, float)
        out = np.zeros(len(r))
        delta = self.values(r).to_numpy()
        n_r = len(self.region_names)
        if self.region_fe:
            out += delta[:n_r][self.codes]
        if self._E is not None:
            g = np.zeros(len(self.years))
            g[len(self.years) - len(self.year_names) :] = delta[n_r:]  # two-way: the first year has no column
            out += g[self.tcodes]
        return out


def absorbed_slopes(y, X, absorbed: Absorbed) -> np.ndarray:
    """Slopes of ``y`` on ``X`` with the fixed effects of ``absorbed`` (no covariance)."""
    Xw = absorbed.residualize(np.asarray(X, float))
    return np.linalg.lstsq(Xw, absorbed.residualize(np.asarray(y, float)), rcond=None)[0]


def _cluster_meat(scores: np.ndarray, groups: np.ndarray, n: int, n_cols: int) -> tuple[np.ndarray, int]:
    """CR1 meat ``G/(G-1) (n-1)/(n-K) sum_g s_g s_g'`` of one clustering, and ``G``."""
    uniq, inv = np.unique(groups, return_inverse=True)
    G = len(uniq)
    s = _group_sums(scores, inv, G)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.float64(G) / (G - 1.0) * (n - 1.0) / (n - n_cols)
    return factor * (s.T @ s), G


class EquationFit:
    """One equation fitted with absorbed fixed effects (what the Haken results read).

    Attributes
    ----------
    params : pandas.Series
        Slopes, then the fixed effects (names as dummy columns: ``region[<id>]``, ``year[<t>]``).
    bse : pandas.Series
        Standard errors of the slopes.
    resid, fittedvalues : numpy.ndarray
        Residuals and fitted values of the full (dummy-column) regression.
    df_resid : float
        ``n - rank`` of the dummy-column design.
    df : float
        Degrees of freedom of the t reference distribution: ``df_resid``, ``G - 1`` clustered by
        region (``min(G_region, G_year) - 1`` two-way) or ``T - 1`` with Driscoll-Kraay.
    exog : numpy.ndarray, shape (n, k)
        The slope regressors (no dummy columns).
    nobs, n_columns : int
        Rows, and columns of the dummy-column design.
    ssr, centered_tss, rsquared : float
    info : dict
        ``bandwidth`` (Driscoll-Kraay); ``psd_fix`` when the two-way covariance of the slopes had a
        negative eigenvalue, set to zero (Cameron, Gelbach & Miller 2011, section 2.3).
    """

    def __init__(self, y, X, names, absorbed: Absorbed, *, se: str = "classical", bandwidth=None):
        if se not in SE_TYPES:
            raise ValueError(f"se={se!r}: use one of {list(SE_TYPES)}")
        y = np.asarray(y, float)
        X = np.asarray(X, float)
        Xw, yw = absorbed.residualize(X), absorbed.residualize(y)
        beta, _, rank_x, _ = np.linalg.lstsq(Xw, yw, rcond=None)
        e = yw - Xw @ beta
        n, k = X.shape
        self.names = list(names)
        self.exog = X
        self.nobs = n
        self.n_columns = k + absorbed.n_columns
        self.df_resid = float(n - (int(rank_x) + absorbed.rank))
        self.resid = e
        self.fittedvalues = y - e
        self.ssr = float(e @ e)
        self.centered_tss = float(np.sum((y - y.mean()) ** 2))
        self.rsquared = 1.0 - self.ssr / self.centered_tss
        self.params = pd.concat([pd.Series(beta, index=self.names), absorbed.values(y - X @ beta)])
        self.se = se
        self.info = {}
        Ainv = np.linalg.pinv(Xw.T @ Xw)
        V, self.df = self._cov(Xw, e, Ainv, absorbed, se, bandwidth)
        self._cov_params = pd.DataFrame((V + V.T) / 2.0, index=self.names, columns=self.names)
        self.bse = pd.Series(np.sqrt(np.maximum(np.diag(V), 0.0)), index=self.names)

    def _cov(self, Xw, e, Ainv, absorbed, se, bandwidth):
        n = self.nobs
        if se == "classical":
            return self.ssr / self.df_resid * Ainv, self.df_resid
        if se == "driscoll-kraay":
            from .inference import driscoll_kraay_cov

            V, L = driscoll_kraay_cov(Xw, e, absorbed.tcodes, bandwidth=bandwidth, n_params=self.n_columns)
            self.info["bandwidth"] = L
            return V, float(len(np.unique(absorbed.tcodes)) - 1)
        scores = Xw * e[:, None]
        if se == "hc1":
            return n / self.df_resid * (Ainv @ (scores.T @ scores) @ Ainv), self.df_resid
        meat, G = _cluster_meat(scores, absorbed.codes, n, self.n_columns)
        if se == "cluster":
            return Ainv @ meat @ Ainv, float(G - 1)
        meat_t, Gt = _cluster_meat(scores, absorbed.tcodes, n, self.n_columns)
        both = absorbed.codes * (int(absorbed.tcodes.max()) + 1) + absorbed.tcodes
        meat_b, _ = _cluster_meat(scores, both, n, self.n_columns)
        V = Ainv @ (meat + meat_t - meat_b) @ Ainv
        w, U = np.linalg.eigh((V + V.T) / 2.0)
        if w.min() < 0:  # V_region + V_year - V_both need not be PSD: negative eigenvalues set to 0
            V = (U * np.maximum(w, 0.0)) @ U.T
            self.info["psd_fix"] = True
        return V, float(min(G, Gt) - 1)

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the slopes (the ``se`` type's; a copy)."""
        return self._cov_params.copy()


def absorbed_ols(y, X, names, absorbed: Absorbed, *, se: str = "classical", bandwidth=None) -> EquationFit:
    """OLS of ``y`` on ``X`` and the fixed effects of ``absorbed``, with the ``se`` covariance of the slopes.

    Parameters
    ----------
    y : array_like, shape (n,)
    X : array_like, shape (n, k)
        The slope regressors (no dummy columns).
    names : list of str
        Names of the ``k`` slopes.
    absorbed : Absorbed
        The rows' fixed effects.
    se : {"classical", "hc1", "cluster", "driscoll-kraay", "twoway"}
        Covariance of the slopes: classical OLS, HC1, clustered by region, Driscoll & Kraay (1998,
        Bartlett kernel), clustered by region and by year.
    bandwidth : int, optional
        Driscoll-Kraay bandwidth (default the rule of :func:`~nqpspatial.haken.inference.bartlett_bandwidth`).

    Returns
    -------
    EquationFit
    """
    return EquationFit(y, X, names, absorbed, se=se, bandwidth=bandwidth)
