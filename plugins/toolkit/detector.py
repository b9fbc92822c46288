"""The geographical detector (Wang et al. 2010; Wang & Xu 2017; Song et al. 2020).

Pure functions: no pipeline context, no config dicts.

* :func:`discretize` cuts a continuous driver into strata (equal interval,
  quantile, natural breaks (Fisher-Jenks) or geometric interval).
* :func:`factor_detector`, :func:`interaction_detector`, :func:`risk_detector`
  and :func:`ecological_detector` are the four detectors on given strata.
* :func:`optimal_discretization` is the optimal-parameters search of Song et
  al. (2020): the method and number of strata that maximize q.
* :func:`geographical_detector` runs everything on one cross-section (or a
  pooled panel) and :func:`geodetector_panel` per year; both return a
  :class:`GeoDetectorResults`.
* :func:`plot_interactions` draws the interaction q matrix as a heat map.

Formulas and conventions: ``docs/detector.md``.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

__all__ = [
    "DISCRETIZATIONS",
    "INTERACTION_TYPES",
    "discretize",
    "fisher_jenks_breaks",
    "factor_detector",
    "interaction_detector",
    "interaction_type",
    "risk_detector",
    "ecological_detector",
    "optimal_discretization",
    "geographical_detector",
    "geodetector_panel",
    "GeoDetectorResults",
    "plot_interactions",
]

#: Discretization methods of continuous drivers.
DISCRETIZATIONS = ("equal", "quantile", "natural", "geometric")
#: Interaction types (English, Chinese) by code 0-4 (Wang & Xu 2017).
INTERACTION_TYPES = {
    0: ("weaken, nonlinear", "非线性减弱"),
    1: ("weaken, uni-", "单因子非线性减弱"),
    2: ("enhance, bi-", "双因子增强"),
    3: ("independent", "独立"),
    4: ("enhance, nonlinear", "非线性增强"),
}
#: Tolerance of "q12 = q1 + q2" (independent interaction).
INDEPENDENCE_TOL = 1e-10


# --------------------------------------------------------------------------- discretization
def _jenks_table(v: np.ndarray, kmax: int) -> np.ndarray:
    """Split points of the optimal partitions of sorted ``v`` into 2..kmax classes (Fisher-Jenks DP).

    ``argm[m, b]`` is the start of the last class of the best partition of
    ``v[:b]`` into ``m`` classes.  The optimal split is monotone in ``b``
    (the cost is a concave Monge array), so each level is solved by divide
    and conquer, vectorized over all subproblems of a recursion depth.
    """
    n = v.size
    c = v - v.mean()
    s1 = np.concatenate([[0.0], np.cumsum(c)])
    s2 = np.concatenate([[0.0], np.cumsum(c * c)])

    def cost(a, b):  # SSD of v[a:b], b > a
        return (s2[b] - s2[a]) - (s1[b] - s1[a]) ** 2 / (b - a)

    prev = np.full(n + 1, np.inf)
    prev[1:] = cost(np.zeros(n, dtype=np.int64), np.arange(1, n + 1))
    argm = np.zeros((kmax + 1, n + 1), dtype=np.int64)
    for m in range(2, kmax + 1):
        cur = np.full(n + 1, np.inf)
        blo, bhi = np.array([m]), np.array([n])
        alo, ahi = np.array([m - 1]), np.array([n - 1])
        while blo.size:
            mid = (blo + bhi) // 2
            lo = np.maximum(alo, m - 1)
            hi = np.maximum(np.minimum(ahi, mid - 1), lo)
            cnt = hi - lo + 1
            off = np.concatenate([[0], np.cumsum(cnt)[:-1]])
            rep = np.repeat(np.arange(mid.size), cnt)
            a = lo[rep] + (np.arange(rep.size) - off[rep])
            val = prev[a] + cost(a, mid[rep])
            segmin = np.minimum.reduceat(val, off)
            hit = np.flatnonzero(val == segmin[rep])  # leftmost minimum of each segment
            seg = rep[hit]
            best = hit[np.concatenate([[True], seg[1:] != seg[:-1]])]
            ab = a[best]
            cur[mid] = val[best]
            argm[m, mid] = ab
            nb_lo = np.concatenate([blo, mid + 1])
            nb_hi = np.concatenate([mid - 1, bhi])
            na_lo = np.concatenate([alo, ab])
            na_hi = np.concatenate([ab, ahi])
            keep = nb_lo <= nb_hi
            blo, bhi, alo, ahi = nb_lo[keep], nb_hi[keep], na_lo[keep], na_hi[keep]
        prev = cur
    return argm


def _jenks_breaks_from(v: np.ndarray, argm: np.ndarray, k: int) -> np.ndarray:
    splits, b = [], v.size
    for m in range(k, 1, -1):
        a = int(argm[m, b])
        splits.append(a)
        b = a
    return v[np.array(sorted(splits)) - 1]


def fisher_jenks_breaks(x, k: int) -> np.ndarray:
    """Inner breaks of the Fisher-Jenks optimal (natural breaks) classification.

    Minimizes the total within-class sum of squared deviations of ``k``
    contiguous classes of the sorted values (Fisher 1958; Jenks 1977) by
    dynamic programming; the optimal split points are monotone in the
    right end (the cost is a concave Monge array), so each level is solved
    by divide and conquer, vectorized over all subproblems.

    Parameters
    ----------
    x : array_like
        Values (finite).
    k : int
        Number of classes (2 <= k <= number of values).

    Returns
    -------
    numpy.ndarray
        ``k - 1`` inner breaks: the largest value of each class but the
        last (classes are ``(b_{j-1}, b_j]``).
    """
    v = np.sort(np.asarray(x, dtype=float))
    if not 2 <= k <= v.size:
        raise InputError(f"natural breaks need 2 <= k <= n, got k = {k} for n = {v.size}")
    return _jenks_breaks_from(v, _jenks_table(v, k), k)


def _inner_breaks(x: np.ndarray, method: str, k: int, jenks=None) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if method == "equal":
        return lo + (hi - lo) * np.arange(1, k) / k
    if method == "quantile":
        return np.percentile(x, 100.0 * np.arange(1, k) / k)
    if method == "natural":
        if jenks is not None:
            kk = min(k, jenks[2])
            if jenks[1].shape[0] > kk:
                return _jenks_breaks_from(jenks[0], jenks[1], kk)
        kk = min(k, np.unique(x).size)
        return fisher_jenks_breaks(x, kk)
    if method == "geometric":
        shift = 0.0 if lo > 0 else 1.0 - lo
        a, b = lo + shift, hi + shift
        return a * (b / a) ** (np.arange(1, k) / k) - shift
    raise InputError(f"discretization {method!r}: use one of {list(DISCRETIZATIONS)}")


def discretize(x, method: str = "quantile", k: int = 5, *, _jenks=None) -> tuple[np.ndarray, np.ndarray]:
    """Cut a continuous variable into at most ``k`` strata.

    Parameters
    ----------
    x : array_like
        Finite values.
    method : {"equal", "quantile", "natural", "geometric"}
        Equal intervals of the range; quantiles (linear interpolation);
        natural breaks (Fisher-Jenks optimum, :func:`fisher_jenks_breaks`);
        geometric intervals (equal steps of ``log(x + s)`` with ``s = 0``
        when ``min x > 0``, else ``s = 1 - min x``).
    k : int, default 5
        Number of strata (>= 2).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Stratum codes ``0 .. s-1`` (empty classes dropped, so ``s <= k``) and
        the ``s + 1`` class bounds (minimum, inner breaks, maximum); stratum
        ``j`` holds ``bounds[j] < x <= bounds[j + 1]`` (the first also its
        lower bound).
    """
    v = np.asarray(x, dtype=float).ravel()
    if not np.isfinite(v).all():
        raise InputError("discretize: values must be finite (no missing cells)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError(f"the number of strata must be a whole number >= 2, got {k!r}")
    if not v.max() > v.min():
        raise InputError("discretize: the variable is constant, so it has no strata")
    inner = np.unique(_inner_breaks(v, method, int(k), _jenks))
    inner = inner[(inner >= v.min()) & (inner < v.max())]
    raw = np.digitize(v, inner, right=True)
    used = np.flatnonzero(np.bincount(raw, minlength=inner.size + 1))
    codes = (np.cumsum(np.bincount(raw, minlength=inner.size + 1) > 0) - 1)[raw]
    bounds = np.concatenate([[v.min()], inner, [v.max()]])
    bounds = np.concatenate([[bounds[0]], bounds[used + 1]])
    return codes.astype(np.int64), bounds


# --------------------------------------------------------------------------- detectors
def _codes(labels) -> tuple[np.ndarray, np.ndarray]:
    lab = np.asarray(labels).ravel()
    if lab.dtype.kind in "iu" and lab.size and lab.min() == 0 and (np.bincount(lab) > 0).all():
        return lab.astype(np.int64, copy=False), np.arange(int(lab.max()) + 1)  # already 0..s-1
    uniq, codes = np.unique(lab, return_inverse=True)
    return codes.ravel(), uniq


def _check_y(y) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if not np.isfinite(y).all():
        raise InputError("the target has missing or infinite values")
    if y.size < 3:
        raise InputError(f"the geographical detector needs at least 3 observations, got {y.size}")
    return y


def _ssw(y: np.ndarray, codes: np.ndarray):
    n_h = np.bincount(codes)
    s_h = np.bincount(codes, weights=y)
    mean_h = s_h / np.where(n_h > 0, n_h, 1)
    resid = y - mean_h[codes]
    return float(resid @ resid), n_h, mean_h


def factor_detector(y, strata, *, name: str = "factor", singletons: str = "error") -> dict:
    """Factor detector: the q statistic of one stratification and its p-value.

    ``q = 1 - SSW / SST`` with ``SSW = sum_h N_h sigma_h^2`` and ``SST = N
    sigma^2`` (Wang et al. 2010).  ``F = (N - L) q / ((L - 1)(1 - q))``
    follows a non-central F distribution with ``L - 1`` and ``N - L`` degrees
    of freedom and non-centrality ``lambda = [sum_h mean_h^2 - (sum_h
    sqrt(N_h) mean_h)^2 / N] / sigma^2`` (``sigma^2`` the population
    variance; Wang, Zhang & Fu 2016); ``p = P(F' > F)``.

    Parameters
    ----------
    y : array_like
        Target values.
    strata : array_like
        Stratum label of each observation.
    name : str
        Factor name for messages.
    singletons : {"error", "keep"}
        A stratum with one observation is refused (its variance is undefined
        and it inflates q), or kept (within-variance 0).

    Returns
    -------
    dict
        ``q, F, df1, df2, noncentrality, p, n, strata``.
    """
    y = _check_y(y)
    codes, uniq = _codes(strata)
    if codes.size != y.size:
        raise InputError(f"factor {name!r}: {codes.size} strata labels for {y.size} target values")
    ssw, n_h, mean_h = _ssw(y, codes)
    if singletons == "error" and (n_h == 1).any():
        bad = uniq[n_h == 1].tolist()
        raise InputError(
            f"factor {name!r}: strata {bad[:10]} hold a single observation, so their variance "
            "is undefined: use fewer strata, another discretization, or discretization = "
            '"optimal" (which skips such cuts)'
        )
    N, L = y.size, int(n_h.size)
    dev = y - y.mean()
    sst = float(dev @ dev)
    if not sst > 0:
        raise InputError("the target is constant, so q (1 - SSW/SST) is undefined")
    q = 1.0 - ssw / sst
    q = min(max(q, 0.0), 1.0)
    var = sst / N
    lam = (float(np.sum(mean_h**2)) - float(np.sum(np.sqrt(n_h) * mean_h)) ** 2 / N) / var
    df1, df2 = L - 1, N - L
    if L < 2 or df2 < 1:
        F, p = float("nan"), float("nan")
    elif q >= 1.0:
        F, p = float("inf"), 0.0
    else:
        from scipy.stats import ncf

        F = df2 * q / (df1 * (1.0 - q))
        p = float(ncf.sf(F, df1, df2, max(lam, 0.0)))
    return {"q": q, "F": F, "df1": df1, "df2": df2, "noncentrality": lam, "p": p, "n": N, "strata": L}


def _q(y: np.ndarray, codes: np.ndarray, sst: float) -> float:
    ssw, _, _ = _ssw(y, codes)
    return min(max(1.0 - ssw / sst, 0.0), 1.0)


def interaction_type(q1: float, q2: float, q12: float, tol: float = INDEPENDENCE_TOL) -> int:
    """Interaction type code (0-4, see :data:`INTERACTION_TYPES`) of ``q(X1 n X2)`` against ``q1``, ``q2``.

    ``q12 < min`` weaken, nonlinear; ``min <= q12 <= max`` weaken, uni-;
    ``|q12 - (q1 + q2)| <= tol`` independent; ``max < q12 < q1 + q2``
    enhance, bi-; ``q12 > q1 + q2`` enhance, nonlinear.
    """
    lo, hi = min(q1, q2), max(q1, q2)
    if q12 < lo:
        return 0
    if q12 <= hi:
        return 1
    if abs(q12 - (q1 + q2)) <= tol:
        return 3
    return 2 if q12 < q1 + q2 else 4


def interaction_detector(y, strata1, strata2) -> dict:
    """Interaction detector: q of the overlay of two stratifications.

    Every observed combination of a stratum of X1 and one of X2 is a stratum
    of ``X1 n X2``; combinations with one observation are kept (their
    within-variance is 0) and counted in ``singleton_cells``.

    Returns
    -------
    dict
        ``q1, q2, q12, type`` (code), ``interaction``, ``interaction_zh``,
        ``cells``, ``singleton_cells``.
    """
    y = _check_y(y)
    c1, _ = _codes(strata1)
    c2, _ = _codes(strata2)
    both = c1 * (int(c2.max()) + 1) + c2
    c12, _ = _codes(both)
    dev = y - y.mean()
    sst = float(dev @ dev)
    if not sst > 0:
        raise InputError("the target is constant, so q (1 - SSW/SST) is undefined")
    q1, q2, q12 = _q(y, c1, sst), _q(y, c2, sst), _q(y, c12, sst)
    t = interaction_type(q1, q2, q12)
    n_cells = np.bincount(c12)
    return {
        "q1": q1,
        "q2": q2,
        "q12": q12,
        "type": t,
        "interaction": INTERACTION_TYPES[t][0],
        "interaction_zh": INTERACTION_TYPES[t][1],
        "cells": int(n_cells.size),
        "singleton_cells": int((n_cells == 1).sum()),
    }


def risk_detector(y, strata, *, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Risk detector: stratum means and Welch t-tests between every pair of strata.

    ``t = (mean_1 - mean_2) / sqrt(s_1^2/n_1 + s_2^2/n_2)`` with the sample
    variances ``s^2`` and Welch-Satterthwaite degrees of freedom; two-sided
    p-values.  Pairs with a stratum of one observation get empty t, df
    and p.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Strata (``stratum, n, mean, sd``) and pairs (``stratum_1,
        stratum_2, mean_1, mean_2, t, df, p, significant``).
    """
    from scipy.stats import t as tdist

    y = _check_y(y)
    codes, uniq = _codes(strata)
    n = np.bincount(codes).astype(float)
    mean = np.bincount(codes, weights=y) / n
    ss = np.bincount(codes, weights=(y - mean[codes]) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, ss / (n - 1), np.nan)
    strata_tab = pd.DataFrame({"stratum": uniq, "n": n.astype(int), "mean": mean, "sd": np.sqrt(var)})
    i, j = (
        (np.array(x, dtype=np.int64) for x in zip(*itertools.combinations(range(uniq.size), 2)))
        if uniq.size > 1
        else (np.empty(0, np.int64), np.empty(0, np.int64))
    )
    a, b = var[i] / n[i], var[j] / n[j]
    se = np.sqrt(a + b)
    diff = mean[i] - mean[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
        df = np.where(se > 0, (a + b) ** 2 / (a**2 / (n[i] - 1) + b**2 / (n[j] - 1)), n[i] + n[j] - 2)
    p = np.where(se > 0, 2.0 * tdist.sf(np.abs(t), df), np.where(diff == 0, 1.0, 0.0))
    undefined = (n[i] < 2) | (n[j] < 2)
    t, df, p = (np.where(undefined, np.nan, x) for x in (t, df, p))
    pairs = pd.DataFrame(
        {
            "stratum_1": uniq[i],
            "stratum_2": uniq[j],
            "mean_1": mean[i],
            "mean_2": mean[j],
            "t": t,
            "df": df,
            "p": p,
            "significant": np.nan_to_num(p, nan=1.0) < alpha,
        }
    )
    return strata_tab, pairs


def _ecological(ssw1, ssw2, N: int, alpha: float) -> dict:
    """Vectorized ecological F test of SSW_1 / SSW_2 with N - 1, N - 1 degrees of freedom."""
    from scipy.stats import f as fdist

    s1, s2 = np.asarray(ssw1, dtype=float), np.asarray(ssw2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.where(s2 > 0, s1 / np.where(s2 > 0, s2, 1.0), np.where(s1 > 0, np.inf, np.nan))
    p = fdist.sf(F, N - 1, N - 1)
    p2 = np.minimum(1.0, 2.0 * np.minimum(fdist.cdf(F, N - 1, N - 1), p))
    p = np.where(np.isinf(F), 0.0, p)
    p2 = np.where(np.isinf(F), 0.0, p2)
    return {
        "F": F,
        "df1": np.full(F.shape, N - 1),
        "df2": np.full(F.shape, N - 1),
        "p": p,
        "p_two_sided": p2,
        "significant": np.nan_to_num(p2, nan=1.0) < alpha,
    }


def ecological_detector(y, strata1, strata2, *, alpha: float = 0.05) -> dict:
    """Ecological detector: do two factors explain the target equally well?

    ``F = [N_1 (N_2 - 1) SSW_1] / [N_2 (N_1 - 1) SSW_2]`` (Wang et al. 2010;
    Wang & Xu 2017) with ``SSW = sum_h N_h sigma_h^2``; on one sample ``N_1 =
    N_2 = N`` and ``F = SSW_1 / SSW_2 = (1 - q1) / (1 - q2)``, with ``N - 1``
    and ``N - 1`` degrees of freedom.  ``p`` is the upper tail ``P(F' > F)``
    (as R's geodetector: small when factor 2 explains the target
    significantly better than factor 1); ``p_two_sided`` is ``2 min(P(F' <
    F), P(F' > F))`` (as the Python ``geodetector`` package), and
    ``significant`` is ``p_two_sided < alpha`` (a difference either way).

    Returns
    -------
    dict
        ``F, df1, df2, p, p_two_sided, significant``.
    """
    y = _check_y(y)
    s1, _, _ = _ssw(y, _codes(strata1)[0])
    s2, _, _ = _ssw(y, _codes(strata2)[0])
    out = _ecological([s1], [s2], y.size, alpha)
    return {
        k: (bool(v[0]) if k == "significant" else (int(v[0]) if k.startswith("df") else float(v[0])))
        for k, v in out.items()
    }


def optimal_discretization(
    y, x, *, methods: Sequence[str] = DISCRETIZATIONS, strata: Iterable[int] = range(3, 9), name: str = "factor"
) -> tuple[dict, pd.DataFrame]:
    """The optimal-parameters search of Song et al. (2020).

    Every method in ``methods`` and number of strata in ``strata`` is tried;
    cuts with a stratum of one observation are inadmissible.  The admissible
    cut with the largest q wins; ties go to fewer strata, then to the order
    of ``methods``.

    Returns
    -------
    (dict, pandas.DataFrame)
        The best ``{"method", "k", "q", "codes", "bounds"}`` and the grid
        ``method, k, strata, q, admissible, chosen``.

    Raises
    ------
    InputError
        No admissible cut (every one has a singleton stratum).
    """
    y = _check_y(y)
    x = np.asarray(x, dtype=float)
    ks = sorted(set(int(s) for s in strata))
    dev = y - y.mean()
    sst = float(dev @ dev)
    if not sst > 0:
        raise InputError("the target is constant, so q (1 - SSW/SST) is undefined")
    jenks = None
    if "natural" in methods and x.max() > x.min():  # one DP serves every k
        v = np.sort(x)
        nu = int(np.count_nonzero(np.diff(v)) + 1)
        jenks = (v, _jenks_table(v, min(max(ks), nu)), nu)
    grid, best = [], None
    for k in ks:
        for m in methods:
            codes, bounds = discretize(x, m, k, _jenks=jenks)
            n_h = np.bincount(codes)
            ok = bool((n_h >= 2).all()) and n_h.size >= 2
            q = _q(y, codes, sst) if n_h.size >= 2 else float("nan")
            grid.append({"method": m, "k": k, "strata": int(n_h.size), "q": q, "admissible": ok})
            if ok and (best is None or q > best["q"]):
                best = {"method": m, "k": k, "q": q, "codes": codes, "bounds": bounds}
    grid = pd.DataFrame(grid)
    if best is None:
        raise InputError(
            f"factor {name!r}: every cut tried ({list(methods)} with {sorted(set(strata))} strata) "
            "leaves a stratum with a single observation; use fewer strata or more observations "
            "(pool the years)"
        )
    grid["chosen"] = (grid["method"] == best["method"]) & (grid["k"] == best["k"])
    return best, grid


# --------------------------------------------------------------------------- whole detector
class GeoDetectorResults(Results):
    """The four detectors for one target.

    Attributes
    ----------
    factors : pandas.DataFrame
        ``target, scope, year, factor, method, k, strata, q, F, df1, df2,
        noncentrality, p, significant, n, rank``.
    interactions : pandas.DataFrame
        ``target, scope, year, factor_1, factor_2, q_1, q_2, q_12,
        interaction, interaction_zh, cells, singleton_cells``.
    risk : pandas.DataFrame
        ``target, scope, year, factor, stratum_1, stratum_2, mean_1, mean_2,
        t, df, p, significant``.
    ecological : pandas.DataFrame
        ``target, scope, year, factor_1, factor_2, F, df1, df2, p,
        p_two_sided, significant``.
    strata : pandas.DataFrame
        ``target, scope, year, factor, stratum, lower, upper, n, mean, sd``.
    discretization : pandas.DataFrame
        The optimal-parameters grid (``factor, method, k, strata, q,
        admissible, chosen`` with the keys); empty for fixed cuts.
    options : dict
    """

    def __init__(self, tables: dict, options: dict):
        for k in ("factors", "interactions", "risk", "ecological", "strata", "discretization"):
            self._set(k, tables[k])
        self._set("options", dict(options))
        self._freeze()

    def summary(self) -> Summary:
        """Factor q statistics and the interaction types."""
        f = object.__getattribute__(self, "factors")
        i = object.__getattribute__(self, "interactions")
        o = object.__getattribute__(self, "options")
        facts = {
            "target": o["target"],
            "discretization": o["discretization"],
            "scope": o["scope"],
            "factors": len(o["drivers"]),
        }
        return Summary(
            title="Geographical detector",
            facts=facts,
            tables={
                "Factor detector": f[["scope", "year", "factor", "method", "strata", "q", "p"]],
                "Interaction detector": i[["scope", "year", "factor_1", "factor_2", "q_12", "interaction"]],
            },
            notes=("q = 1 - SSW/SST (Wang et al. 2010); p from the non-central F test (Wang, Zhang & Fu 2016)",),
        )

    def __repr__(self) -> str:
        o = object.__getattribute__(self, "options")
        return f"<GeoDetectorResults target={o['target']!r} drivers={len(o['drivers'])}>"


def _strata_of(y, x, name, *, discretization, k, methods, strata_range, categorical):
    """Codes, bounds (or None), method, k and the optimal grid (or None) of one driver."""
    xs = pd.Series(x)
    if categorical or not pd.api.types.is_numeric_dtype(xs):
        if xs.isna().any():
            raise InputError(f"driver {name!r} has missing values")
        codes, uniq = _codes(xs.astype(str).to_numpy())
        return codes, None, "categorical", int(uniq.size), None, [str(u) for u in uniq]
    v = xs.to_numpy(float)
    if not np.isfinite(v).all():
        raise InputError(f"driver {name!r} has missing or infinite values")
    if discretization == "optimal":
        best, grid = optimal_discretization(y, v, methods=methods, strata=strata_range, name=name)
        return best["codes"], best["bounds"], best["method"], best["k"], grid, None
    codes, bounds = discretize(v, discretization, k)
    return codes, bounds, discretization, k, None, None


def geographical_detector(
    data: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    *,
    discretization: str = "optimal",
    strata: int = 5,
    methods: Sequence[str] = DISCRETIZATIONS,
    strata_range: Sequence[int] = (3, 8),
    categorical: Sequence[str] = (),
    alpha: float = 0.05,
    scope: str = "pooled",
    year=None,
) -> GeoDetectorResults:
    """Factor, interaction, risk and ecological detectors on one sample.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation (region, or region-year when pooled) with the
        target and driver columns.  Not modified.
    target : str
        The explained variable (continuous).
    drivers : sequence of str
        Driver columns: numeric ones are discretized, non-numeric ones (and
        those named in ``categorical``) are used as strata.
    discretization : {"optimal", "equal", "quantile", "natural", "geometric"}
        A fixed method with ``strata`` classes, or the optimal-parameters
        search over ``methods`` x ``strata_range`` (Song et al. 2020).
    strata : int, default 5
    methods : sequence of str
        Methods searched by ``"optimal"``.
    strata_range : (int, int), default (3, 8)
        Inclusive range of the number of strata searched by ``"optimal"``.
    categorical : sequence of str
        Numeric drivers to use as given strata (codes).
    alpha : float
        Significance level of the ``significant`` columns.
    scope, year
        Labels written into every table (``"pooled"`` / ``"year"`` and the
        year).

    Returns
    -------
    GeoDetectorResults
    """
    drivers = [drivers] if isinstance(drivers, str) else list(drivers)
    if not drivers:
        raise InputError("no driver given: name at least one driver column")
    missing = [c for c in (target, *drivers) if c not in data.columns]
    if missing:
        raise InputError(f"columns {missing} are not in the data: name existing columns")
    if target in drivers:
        raise InputError(f"the target {target!r} is also a driver: remove it from the drivers")
    if discretization != "optimal" and discretization not in DISCRETIZATIONS:
        raise InputError(f'discretization {discretization!r}: use "optimal" or one of {list(DISCRETIZATIONS)}')
    lo, hi = (int(s) for s in strata_range)
    if not 2 <= lo <= hi:
        raise InputError(f"strata_range {list(strata_range)} must be [low, high] with 2 <= low <= high")
    y = _check_y(pd.to_numeric(data[target], errors="coerce").to_numpy(float))
    key = {"target": target, "scope": scope, "year": year}
    codes, frows, srows, rrows, grids = {}, [], [], [], []
    for d in drivers:
        c, bounds, method, k, grid, cats = _strata_of(
            y,
            data[d],
            d,
            discretization=discretization,
            k=strata,
            methods=methods,
            strata_range=range(lo, hi + 1),
            categorical=d in set(categorical),
        )
        fd = factor_detector(y, c, name=d)
        codes[d] = c
        frows.append(
            {
                **key,
                "factor": d,
                "method": method,
                "k": k,
                **{kk: fd[kk] for kk in ("strata", "q", "F", "df1", "df2", "noncentrality", "p")},
                "significant": bool(fd["p"] < alpha),
                "n": fd["n"],
            }
        )
        st, pairs = risk_detector(y, c, alpha=alpha)
        srows.append(_strata_table(st, bounds, cats).assign(**key, factor=d))
        rrows.append(pairs.assign(**key, factor=d, stratum_1=pairs["stratum_1"] + 1, stratum_2=pairs["stratum_2"] + 1))
        if grid is not None:
            grids.append(grid.assign(**key, factor=d))
    factors = pd.DataFrame(frows)
    factors["rank"] = factors["q"].rank(ascending=False, method="min").astype(int)
    irows, erows = _pair_tables(y, drivers, codes, key, alpha)
    icols = list(key) + [
        "factor_1",
        "factor_2",
        "q_1",
        "q_2",
        "q_12",
        "interaction",
        "interaction_zh",
        "cells",
        "singleton_cells",
    ]
    ecols = list(key) + ["factor_1", "factor_2", "F", "df1", "df2", "p", "p_two_sided", "significant"]
    rcols = list(key) + ["factor", "stratum_1", "stratum_2", "mean_1", "mean_2", "t", "df", "p", "significant"]
    gcols = list(key) + ["factor", "method", "k", "strata", "q", "admissible", "chosen"]
    scols = list(key) + ["factor", "stratum", "label", "lower", "upper", "n", "mean", "sd"]
    tables = {
        "factors": factors,
        "interactions": irows.reindex(columns=icols),
        "risk": pd.concat(rrows, ignore_index=True).reindex(columns=rcols),
        "ecological": erows.reindex(columns=ecols),
        "strata": pd.concat(srows, ignore_index=True).reindex(columns=scols),
        "discretization": (pd.concat(grids, ignore_index=True)[gcols] if grids else pd.DataFrame(columns=gcols)),
    }
    opts = {
        "target": target,
        "drivers": drivers,
        "discretization": discretization,
        "strata": strata,
        "methods": list(methods),
        "strata_range": [lo, hi],
        "scope": scope,
        "alpha": alpha,
    }
    return GeoDetectorResults(tables, opts)


def _strata_table(st: pd.DataFrame, bounds, cats) -> pd.DataFrame:
    """Strata of one driver: 1-based number, category label, class bounds, n, mean, sd."""
    j = np.arange(len(st))
    has = bounds is not None
    return pd.DataFrame(
        {
            "stratum": j + 1,
            "label": [cats[i] for i in j] if cats else "",
            "lower": bounds[j] if has else np.nan,
            "upper": bounds[j + 1] if has else np.nan,
            "n": st["n"].to_numpy(),
            "mean": st["mean"].to_numpy(),
            "sd": st["sd"].to_numpy(),
        }
    )


def _pair_tables(y, drivers, codes, key, alpha):
    """Interaction and ecological detector rows of every pair of drivers."""
    dev = y - y.mean()
    sst = float(dev @ dev)
    ssw = {d: _ssw(y, codes[d])[0] for d in drivers}
    q = {d: min(max(1.0 - ssw[d] / sst, 0.0), 1.0) for d in drivers}
    pairs = list(itertools.combinations(drivers, 2))
    irows = []
    for a, b in pairs:
        both = codes[a] * (int(codes[b].max()) + 1) + codes[b]
        c12, _ = _codes(both)
        q12 = _q(y, c12, sst)
        t = interaction_type(q[a], q[b], q12)
        n_cells = np.bincount(c12)
        irows.append(
            {
                **key,
                "factor_1": a,
                "factor_2": b,
                "q_1": q[a],
                "q_2": q[b],
                "q_12": q12,
                "interaction": INTERACTION_TYPES[t][0],
                "interaction_zh": INTERACTION_TYPES[t][1],
                "cells": int(n_cells.size),
                "singleton_cells": int((n_cells == 1).sum()),
            }
        )
    eco = _ecological([ssw[a] for a, _ in pairs], [ssw[b] for _, b in pairs], y.size, alpha)
    erows = pd.DataFrame(
        {
            **{k: [v] * len(pairs) for k, v in key.items()},
            "factor_1": [a for a, _ in pairs],
            "factor_2": [b for _, b in pairs],
            **eco,
        }
    )
    return pd.DataFrame(irows), erows


def geodetector_panel(
    data: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    *,
    region: str = "region",
    year: str = "year",
    by: str = "year",
    years: Iterable | None = None,
    **options,
) -> GeoDetectorResults:
    """:func:`geographical_detector` on each year's cross-section, or on the pooled panel.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year rows with the target and driver columns.
    target, drivers
        See :func:`geographical_detector`.
    region, year : str
        Column names.
    by : {"year", "pooled"}
        One detector per year (cross-sections of regions, the usual reading),
        or one on all region-years pooled.
    years : iterable, optional
        Years to use (default all).
    **options
        Passed to :func:`geographical_detector`.

    Returns
    -------
    GeoDetectorResults
        Tables of every year stacked (``scope`` and ``year`` columns); the
        ``year`` column is named as ``year`` and empty for pooled rows.
    """
    if by not in ("year", "pooled"):
        raise InputError(f'by = {by!r}: use "year" or "pooled"')
    if year not in data.columns:
        raise InputError(f"data has no year column {year!r}")
    sub = data if years is None else data[data[year].isin(list(years))]
    if not len(sub):
        raise InputError("no rows for the years asked")
    if by == "pooled":
        parts = [geographical_detector(sub, target, drivers, scope="pooled", year=None, **options)]
    else:
        parts = []
        for y, g in sub.groupby(year, sort=True):
            try:
                parts.append(geographical_detector(g, target, drivers, scope="year", year=y, **options))
            except InputError as exc:
                raise InputError(f"year {y}: {exc.detail}") from None
    tables = {}
    for k in ("factors", "interactions", "risk", "ecological", "strata", "discretization"):
        frames = [getattr(p, k) for p in parts]
        frames = [f for f in frames if len(f)] or frames[:1]
        t = pd.concat(frames, ignore_index=True)
        tables[k] = t.rename(columns={"year": year}) if year != "year" else t
    opts = {**parts[0].options, "scope": by, "year": year}
    return GeoDetectorResults(tables, opts)


# --------------------------------------------------------------------------- figure
def plot_interactions(results: GeoDetectorResults, *, year=None, ax=None, language: str = "en"):
    """Heat map of the interaction detector: q of every factor (diagonal) and pair.

    Parameters
    ----------
    results : GeoDetectorResults
    year : optional
        The year to draw (default: the last; ignored for pooled results).
    ax : matplotlib Axes, optional
    language : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    o = results.options
    Y = o.get("year", "year")
    f, it = results.factors, results.interactions
    if f[Y].notna().any():
        year = f[Y].dropna().max() if year is None else year
        f, it = f[f[Y] == year], it[it[Y] == year]
    names = f["factor"].tolist()
    pos = {n: i for i, n in enumerate(names)}
    M = np.full((len(names), len(names)), np.nan)
    M[np.arange(len(names)), np.arange(len(names))] = f["q"].to_numpy()
    for r in it.itertuples():
        M[pos[r.factor_1], pos[r.factor_2]] = M[pos[r.factor_2], pos[r.factor_1]] = r.q_12
    if ax is None:
        size = max(4.0, 0.45 * len(names) + 2)
        fig, ax = plt.subplots(figsize=(size + 1, size))
    else:
        fig = ax.figure
    im = ax.imshow(np.ma.masked_invalid(M), cmap="YlOrRd", vmin=0, vmax=max(1e-9, np.nanmax(M)))
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=6)
    zh = language == "zh"
    title = "交互探测 q 值" if zh else "interaction detector: q"
    ax.set_title(f"{o['target']}: {title}" + (f" ({year})" if year is not None else ""))
    fig.colorbar(im, ax=ax, shrink=0.7, label="q")
    fig.tight_layout()
    return fig
