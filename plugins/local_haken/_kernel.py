"""Distances, kernel weights and the golden-section bandwidth search of GW-Haken.

Pure functions on arrays; no pipeline or config knowledge.  The kernels, the
adaptive bandwidth (the distance to the ``bw``-th nearest location, the
location itself included, times 1.0000001) and the golden-section search
follow mgwr (Oshan, Li, Kang, Wolf & Fotheringham 2019) so that a
cross-section gives mgwr's bandwidth exactly.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from nqpspatial.errors import InputError

__all__ = ["KERNELS", "distance_matrix", "kernel_weights", "golden_section", "default_search", "GOLDEN_DELTA"]

#: Kernel functions accepted by :func:`kernel_weights`.
KERNELS = ("bisquare", "gaussian")
#: Section ratio of the golden-section search, ``1 - (sqrt(5) - 1) / 2`` rounded as in mgwr.
GOLDEN_DELTA = 0.38197
#: Factor applied to the adaptive bandwidth so that the bw-th neighbour keeps a positive weight (mgwr).
ADAPTIVE_EPS = 1.0000001
#: Kernel matrices with at most this share of non-zero weights are stored sparse.
SPARSE_SHARE = 0.25


def distance_matrix(coords, spherical: bool) -> np.ndarray:
    """Dense ``N x N`` distances between points.

    Parameters
    ----------
    coords : array-like, shape (N, 2)
        ``(lon, lat)`` in degrees when ``spherical``, else projected ``(x, y)``.
    spherical : bool
        Great-circle (haversine) distances in km on a sphere of radius
        6371.0088 km, else Euclidean distances in the units of ``coords``.

    Returns
    -------
    numpy.ndarray
    """
    from nqpspatial.plugins.weights import pairwise_km

    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InputError(f"coordinates must be an (N, 2) array, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise InputError("coordinates contain missing or infinite values")
    return pairwise_km(xy, bool(spherical))


def _check_bandwidth(bw, n: int, adaptive: bool) -> float:
    if bw == np.inf:
        return bw
    bw = float(bw)
    if adaptive:
        if bw != round(bw) or not 2 <= bw <= n:
            raise InputError(
                f"an adaptive bandwidth is a whole number of nearest regions from 2 to {n} "
                f"(the region itself counts), got {bw:g}"
            )
    elif not (bw > 0 and math.isfinite(bw)):
        raise InputError(f"a fixed bandwidth is a positive distance, got {bw!r}")
    return bw


def kernel_weights(
    dist: np.ndarray, bw, *, kernel: str = "bisquare", adaptive: bool = True, sorted_dist: np.ndarray | None = None
):
    """Kernel weights ``K[j, i]`` of region ``i`` in the local fit at location ``j``.

    Parameters
    ----------
    dist : numpy.ndarray, shape (N, N)
        Distances (:func:`distance_matrix`).
    bw : float
        Bandwidth: a distance (``adaptive=False``), a number of nearest
        regions including the region itself (``adaptive=True``), or
        ``numpy.inf`` (every weight 1: the pooled fit).
    kernel : {"bisquare", "gaussian"}
        ``(1 - z^2)^2`` for ``z < 1`` and 0 beyond, or ``exp(-z^2 / 2)``,
        with ``z = d / b_j``.
    adaptive : bool
        ``b_j`` is the distance from ``j`` to its ``bw``-th nearest region
        (times 1.0000001) instead of one distance for all.
    sorted_dist : numpy.ndarray, optional
        ``dist`` sorted along rows (saves the sort in repeated calls).

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_array
        ``N x N``; sparse when a bisquare kernel leaves at most a quarter of
        the weights non-zero.
    """
    if kernel not in KERNELS:
        raise InputError(f"kernel = {kernel!r}: use one of {', '.join(KERNELS)}")
    n = dist.shape[0]
    bw = _check_bandwidth(bw, n, adaptive)
    if bw == np.inf:
        return np.ones((n, n))
    if adaptive:
        sd = np.sort(dist, axis=1) if sorted_dist is None else sorted_dist
        b = sd[:, int(bw) - 1] * ADAPTIVE_EPS
        if not (b > 0).all():
            raise InputError(
                f"adaptive bandwidth {bw:g}: some region has {int(bw) - 1} or more other regions "
                "at distance 0 (duplicate coordinates); use a larger bandwidth"
            )
        z = dist / b[:, None]
    else:
        z = dist / bw
    if kernel == "gaussian":
        return np.exp(-0.5 * z * z)
    inside = z < 1.0
    w = np.where(inside, (1.0 - z * z) ** 2, 0.0)
    if inside.mean() <= SPARSE_SHARE:
        return sp.csr_array(w)
    return w


def default_search(dist: np.ndarray, *, adaptive: bool, n_local: int, transitions: float) -> tuple[float, float]:
    """Default bandwidth search interval.

    Adaptive: from the smallest number of regions whose transitions reach
    mgwr's floor of ``40 + 2 k`` observations (``k`` local coefficients),
    i.e. ``ceil((40 + 2 k) / m)`` with ``m`` transitions per region (at
    least ``k + 1`` regions), to all ``N`` regions; for a cross-section
    (``m = 1``) this is mgwr's ``[40 + 2 k, N]``.  Fixed: mgwr's half the
    smallest to twice the largest distance between regions.

    Returns
    -------
    tuple of float
        ``(low, high)``.
    """
    n = dist.shape[0]
    if adaptive:
        floor = 40 + 2 * n_local
        lo = floor if transitions <= 1.0 else max(n_local + 1, math.ceil(floor / transitions))
        return float(min(lo, n)), float(n)
    off = dist[~np.eye(n, dtype=bool)]
    return float(off.min() / 2.0), float(off.max() * 2.0)


def golden_section(
    a: float,
    c: float,
    function,
    *,
    integer: bool,
    tol: float = 1.0e-6,
    max_iter: int = 200,
    delta: float = GOLDEN_DELTA,
):
    """Golden-section search of a bandwidth criterion, step for step as mgwr's.

    Parameters
    ----------
    a, c : float
        Lower and upper end of the search interval.
    function : callable
        ``function(bw) -> float`` (AICc or CV; smaller is better).
    integer : bool
        Round the trial points (adaptive bandwidths).
    tol : float
        Stop when the two trial scores differ by at most ``tol``.
    max_iter : int
        Largest number of iterations.
    delta : float
        Section ratio.

    Returns
    -------
    tuple
        ``(bandwidth, score, history)``: the best trial rounded to two
        decimals (as mgwr; the score is that of the unrounded trial) and a
        list of every evaluated ``(bandwidth, score)``, in order.
    """
    b = a + delta * abs(c - a)
    d = c - delta * abs(c - a)
    opt_val, opt_score = b, np.inf
    diff = 1.0e9
    iters = 0
    cache: dict = {}
    history = []

    def score(x):
        if x not in cache:
            cache[x] = float(function(x))
            history.append((x, cache[x]))
        return cache[x]

    while abs(diff) > tol and iters < max_iter:
        iters += 1
        if integer:
            b = float(np.round(b))
            d = float(np.round(d))
        score_b, score_d = score(b), score(d)
        if score_b <= score_d:
            opt_val, opt_score = b, score_b
            c, d = d, b
            b = a + delta * abs(c - a)
        else:
            opt_val, opt_score = d, score_d
            a, b = b, d
            d = c - delta * abs(c - a)
        diff = score_b - score_d
        if not math.isfinite(diff):  # both sides infeasible: no progress measure
            diff = 0.0 if score_b == score_d else 1.0e9
    return float(np.round(opt_val, 2)), opt_score, history
