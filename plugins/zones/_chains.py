"""The Markov-chain numbers of :mod:`.markov`, computed by nqpspatial (vectorised NumPy).

Each function reproduces PySAL's ``giddy`` 2.3 (and the ``mapclassify`` /
``libpysal`` / ``esda`` pieces it calls) operation for operation, so the
counts are equal and the probabilities, statistics and p-values are equal
to the last bit: the classification (``mapclassify.Quantiles``: SciPy's
``scoreatpercentile`` at ``100/k, 200/k, ...``, collapsed to the distinct
bounds, then ``bin1d``), the classic transition counts (``giddy.markov.Markov``),
the spatial Markov chain with its lag classes and its tests
(``giddy.markov.Spatial_Markov``: Bickenbach-Bode ``Q`` and ``LR`` from
``homogeneity``, Rey's ``chi2`` per lag class and in total), the modal
(categorical) lag with libpysal's ``ties="tryself"`` rule and its random
tie-breaks drawn in the same order from the same seeded ``RandomState``, and
the LISA Markov chain (``giddy.markov.LISA_Markov``: local Moran quadrants of
each period).  ``tests/test_zones_chains.py`` compares every function with
giddy on several panels (small, ties, empty classes, discrete, pooled and
relative classes, a county-scale slice).

Importing giddy pulls in quantecon, numba and mapclassify (about 8 s at run
time); the transition loops over regions and periods run in Python there.
Here the import is free and the loops are array operations.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "TIES_MESSAGE",
    "quantile_bins",
    "bin_ids",
    "quantile_classes",
    "transition_counts",
    "homogeneity",
    "chi2_test",
    "categorical_lag",
    "SpatialMarkov",
    "spatial_markov",
    "lisa_quadrants",
]

#: The start of mapclassify's message when ties leave fewer than ``k`` distinct quantile bounds.
TIES_MESSAGE = "Not enough unique values"


def quantile_bins(y, k: int) -> tuple[np.ndarray, bool]:
    """Upper bounds of ``k`` quantile classes (``mapclassify.classifiers.quantile``).

    Parameters
    ----------
    y : array_like
        Values (flattened).
    k : int
        Number of classes asked for.

    Returns
    -------
    bins : numpy.ndarray
        The distinct values of SciPy's ``scoreatpercentile(y, p)`` at
        ``p = 100/k, 200/k, ..., 100`` (``fraction`` interpolation), sorted;
        the last is the maximum.
    short : bool
        True when ties leave fewer than ``k`` bounds (mapclassify warns
        then; the callers decide what to say).
    """
    from scipy import stats

    y = np.asarray(y).ravel()
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)
    if p[-1] > 100.0:
        p[-1] = 100.0
    q = np.unique(np.asarray(stats.scoreatpercentile(y, p)))
    return q, len(q) < k


def bin_ids(x, bins) -> np.ndarray:
    """Class of each value: ``j`` when ``bins[j-1] < x <= bins[j]`` (``mapclassify.classifiers.bin1d``).

    Values above the last bound or not comparable (NaN) get 0, as there.

    Parameters
    ----------
    x : array_like
    bins : array_like
        Increasing upper bounds.

    Returns
    -------
    numpy.ndarray of int, the shape of ``x``.
    """
    x = np.asarray(x)
    bins = np.asarray(bins)
    left = np.r_[-np.inf, bins[:-1]]
    out = np.zeros(x.shape, dtype=int)
    for j in range(len(bins) - 1, -1, -1):
        out += (x > left[j]) * (x <= bins[j]) * j
    return out


def quantile_classes(y, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """``mapclassify.Quantiles(y, k)``: (class of each value, bounds, ties shortened the bounds)."""
    y = np.asarray(y)
    bins, short = quantile_bins(y, k)
    return bin_ids(y.ravel(), bins).reshape(y.shape), bins, short


def transition_counts(class_ids, k: int, lag_ids=None, m: int | None = None) -> np.ndarray:
    """Counts of moves between consecutive periods (``giddy.markov.Markov.transitions``).

    Parameters
    ----------
    class_ids : array_like of int
        (n x t) classes ``0..k-1``.
    k : int
        Number of classes.
    lag_ids : array_like of int, optional
        (n x t) lag classes ``0..m-1``: the counts are then conditioned on
        the lag class at the start of each move (``Spatial_Markov.T``).
    m : int, optional
        Number of lag classes.

    Returns
    -------
    numpy.ndarray of float
        (k x k), or (m x k x k) with ``lag_ids``.
    """
    c = np.asarray(class_ids, dtype=np.int64)
    src, dst = c[:, :-1].ravel(), c[:, 1:].ravel()
    if lag_ids is None:
        return np.bincount(src * k + dst, minlength=k * k).reshape(k, k).astype(float)
    lag = np.asarray(lag_ids, dtype=np.int64)[:, :-1].ravel()
    return np.bincount((lag * k + src) * k + dst, minlength=m * k * k).reshape(m, k, k).astype(float)


def homogeneity(M) -> dict:
    """Bickenbach-Bode homogeneity tests of transition matrices (``giddy.markov.homogeneity``).

    Parameters
    ----------
    M : array_like
        (m x k x k) transition counts of ``m`` regimes.

    Returns
    -------
    dict
        ``Q``, ``LR``, ``dof``, ``Q_p_value``, ``LR_p_value``.
    """
    from scipy import stats

    M = np.asarray(M, dtype=float)
    T = M.sum(axis=0)
    n_i = T.sum(axis=1)
    A_i = (T > 0).sum(axis=1)
    p_ij = (1.0 / (n_i + (n_i == 0) * 1.0))[:, None] * T
    den = p_ij + 1.0 * (p_ij == 0)
    b_i = np.zeros_like(A_i)
    Q, LR = 0.0, 0.0
    for nijm in M:
        nim = nijm.sum(axis=1)
        b_i = b_i + 1.0 * (nim > 0)
        p_ijm = (1.0 / (nim + (nim == 0) * 1.0))[:, None] * nijm
        qijm = nim[:, None] * ((p_ijm - p_ij) ** 2 / den)
        Q = Q + qijm.sum()
        mask = (nijm > 0) * (p_ij > 0)
        unmask = 1.0 * (mask == 0)
        lr = nijm * np.log((mask * p_ijm + unmask) / (mask * p_ij + unmask))
        LR = LR + lr.sum()
    dof = int(((b_i - 1) * (A_i - 1)).sum())
    LR = LR * 2.0
    return {
        "Q": Q,
        "LR": LR,
        "dof": dof,
        "Q_p_value": 1 - stats.chi2.cdf(Q, dof),
        "LR_p_value": 1 - stats.chi2.cdf(LR, dof),
    }


def chi2_test(T1, T2) -> tuple[float, float, int]:
    """Chi-square test of counts ``T1`` against the probabilities of ``T2`` (``giddy.markov.chi2``).

    Returns
    -------
    (statistic, p_value, dof)
        Degrees of freedom ``(rows of T1 with moves - 1) x (rows of T2 with moves - 1)``.
    """
    from scipy import stats

    T1, T2 = np.asarray(T1, dtype=float), np.asarray(T2, dtype=float)
    rs2 = T2.sum(axis=1)
    rs1 = T1.sum(axis=1)
    dof = (int((rs1 > 0).sum()) - 1) * (int((rs2 > 0).sum()) - 1)
    rs2 = rs2 + (rs2 == 0)
    E = rs1[:, None] * ((1 / rs2)[:, None] * T2)
    num = T1 - E
    num = np.multiply(num, num)
    E = E + (E == 0)
    stat = (num / E).sum()
    return stat, 1 - stats.chi2.cdf(stat, dof), dof


def _neighbour_table(w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n x d) neighbour positions and weights of a libpysal ``W`` in its own order, and the degrees."""
    id2i = w.id2i
    order = w.id_order
    deg = np.array([len(w.neighbors[i]) for i in order], dtype=int)
    d = int(deg.max()) if len(deg) else 0
    nb = np.zeros((len(order), d), dtype=np.int64)
    wt = np.zeros((len(order), d), dtype=float)
    for r, i in enumerate(order):
        pairs = dict(zip(w.neighbors[i], w.weights[i]))  # as W.__iter__ gives them
        nb[r, : len(pairs)] = [id2i[j] for j in pairs]
        wt[r, : len(pairs)] = list(pairs.values())
        deg[r] = len(pairs)
    return nb, wt, deg


def categorical_lag(w, class_ids, k: int, rng: np.random.RandomState) -> np.ndarray:
    """Modal class of each region's neighbours (``libpysal.weights.lag_categorical(w, y, ties="tryself")``).

    The neighbours' weights are tallied per class in the order of ``w``; a
    tie for the largest tally is broken by adding the mean neighbour weight
    to the region's own class, and a tie that remains is broken by
    ``rng.choice`` among the tied classes, region by region in ``w``'s
    order, one period after the other (the draws libpysal makes from
    NumPy's global state).

    Parameters
    ----------
    w : libpysal.weights.W
    class_ids : array_like of int
        (n x t) classes ``0..k-1`` in ``w.id_order``.
    k : int
    rng : numpy.random.RandomState

    Returns
    -------
    numpy.ndarray of int
        (n x t).
    """
    c = np.asarray(class_ids, dtype=np.int64)
    n, t = c.shape
    nb, wt, deg = _neighbour_table(w)
    tally = np.zeros((n, t, k))
    cols = np.arange(t)
    for p in range(nb.shape[1]):
        rows = np.flatnonzero(deg > p)
        lab = c[nb[rows, p]]  # (rows x t) class of the p-th neighbour
        tally[rows[:, None], cols[None, :], lab] += wt[rows, p][:, None]
    top = tally.max(axis=2)
    tied = (tally == top[:, :, None]).sum(axis=2) > 1
    out = tally.argmax(axis=2)
    for j in range(t):  # libpysal lags one period after the other, region by region
        for r in np.flatnonzero(tied[:, j]):
            tl = tally[r, j].copy()
            tl[c[r, j]] += np.mean(list(wt[r, : deg[r]]))
            winners = np.where(tl == tl.max())[0]
            out[r, j] = int(np.argmax(tl)) if len(winners) <= 1 else int(rng.choice(np.squeeze(winners)))
    return out


class SpatialMarkov(dict):
    """The results of :func:`spatial_markov` (a dict with attribute access).

    Keys: ``T`` (m x k x k counts), ``transitions`` (k x k), ``lag_cutoffs``
    (pooled lag bounds without the maximum, else None), ``lag_ties`` (ties
    left fewer distinct lag bounds than asked for), ``Q``, ``LR``,
    ``dof_hom``, ``Q_p_value``, ``LR_p_value``, ``chi2`` (list of
    ``(statistic, p_value, dof)`` per lag class), ``x2``, ``x2_dof``,
    ``x2_pvalue``.
    """

    __getattr__ = dict.__getitem__


def spatial_markov(
    y,
    w,
    *,
    k: int,
    m: int | None = None,
    fixed: bool = True,
    discrete: bool = False,
    rng: np.random.RandomState | None = None,
) -> SpatialMarkov:
    """Spatial Markov chain (``giddy.markov.Spatial_Markov(y, w, k, m, fixed, discrete)``).

    Parameters
    ----------
    y : array_like
        (n x t) values in ``w.id_order`` (classes ``0..k-1`` when ``discrete``).
    w : libpysal.weights.W
        Row-standardized weights.
    k, m : int
        Classes of ``y`` and of its spatial lag (``m`` defaults to ``k``).
    fixed : bool, default True
        Pooled quantile bounds (from all region-years) or per-period ones.
    discrete : bool, default False
        ``y`` holds classes; the lag class is the neighbours' modal class
        (:func:`categorical_lag`, ties broken with ``rng``).
    rng : numpy.random.RandomState, optional
        Needed when ``discrete``.

    Returns
    -------
    SpatialMarkov
    """
    y = np.asarray(y)
    m = k if m is None else m
    lag_cutoffs, lag_ties = None, False
    if discrete:
        classes = np.unique(y)
        k = m = len(classes)
        cid = np.searchsorted(classes, y)
        lag = categorical_lag(w, cid, k, rng)
    else:
        ly = w.sparse * y
        if fixed:
            cid, bins, _ = quantile_classes(y, k)
            k = len(bins)
            lag, lbins, lag_ties = quantile_classes(ly, m)
            m, lag_cutoffs = len(lbins), lbins[:-1]
        else:
            cid = np.empty(y.shape, dtype=int)
            lag = np.empty(y.shape, dtype=int)
            for j in range(y.shape[1]):
                cid[:, j] = quantile_classes(y[:, j], k)[0]
                lag[:, j], _, short = quantile_classes(ly[:, j], m)
                lag_ties = lag_ties or short
    transitions = transition_counts(cid, k)
    T = transition_counts(cid, k, lag, m)
    ht = homogeneity(T)
    chi = [chi2_test(T[i], transitions) for i in range(T.shape[0])]
    x2 = sum([c[0] for c in chi])
    x2_dof = k * (k - 1) * (k - 1)
    from scipy import stats

    return SpatialMarkov(
        T=T,
        transitions=transitions,
        lag_cutoffs=lag_cutoffs,
        lag_ties=lag_ties,
        Q=ht["Q"],
        LR=ht["LR"],
        dof_hom=ht["dof"],
        Q_p_value=ht["Q_p_value"],
        LR_p_value=ht["LR_p_value"],
        chi2=chi,
        x2=x2,
        x2_dof=x2_dof,
        x2_pvalue=1 - stats.chi2.cdf(x2, x2_dof),
    )


def lisa_quadrants(y, w) -> np.ndarray:
    """Local Moran quadrant of every region and period (``esda.Moran_Local(y_t, w).q``).

    1 HH (value and lag above the mean), 2 LH, 3 LL, 4 HL; the value is
    ``z = (y - mean) / sd`` and its lag ``w.sparse * z``, per period.

    Parameters
    ----------
    y : array_like
        (n x t) values in ``w.id_order``.
    w : libpysal.weights.W
        Row-standardized weights.

    Returns
    -------
    numpy.ndarray of int
        (n x t).
    """
    y = np.asarray(y, dtype=float)
    W = w.sparse
    q = np.empty(y.shape, dtype=int)
    for j in range(y.shape[1]):  # one period at a time: the same sums (mean, sd, lag) as esda's
        yj = np.ascontiguousarray(y[:, j])
        z = yj - yj.mean()
        with np.errstate(all="ignore"):
            z /= yj.std()
        zp, lp = z > 0, (W * z) > 0
        q[:, j] = 1 * (zp * lp) + 2 * ((1 - zp) * lp) + 3 * ((1 - zp) * (1 - lp)) + 4 * (zp * (1 - lp))
    return q


def warn_ties(k: int, got: int) -> None:
    """mapclassify's warning when ties leave ``got`` < ``k`` quantile classes (kept for the same behaviour)."""
    warnings.warn(
        f"{TIES_MESSAGE} in array to form {k} classes. Setting k to {got}.",
        UserWarning,
        stacklevel=3,
    )
