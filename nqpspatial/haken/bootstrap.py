"""Vectorised cluster (region) bootstrap of the Haken regressions.

A cluster bootstrap resample draws ``n`` regions with replacement; the OLS
estimate of the resample only depends on the per-region cross products, so

.. math::

    \\hat\\beta^{*}_b = \\Big(\\sum_i w_{bi} X_i'X_i\\Big)^{-1} \\sum_i w_{bi} X_i'y_i

with ``w_b`` the multinomial counts of draw ``b``.  The per-region sums are
computed once; the resamples are cut into chunks of a fixed size
(:data:`BOOTSTRAP_CHUNK`), and each chunk draws its ``size x n`` counts with
its own Generator (chunk ``i`` uses the ``i``-th child of the run's
:class:`numpy.random.SeedSequence`, see :mod:`nqpspatial.backends`) and
solves its systems in one batched :func:`numpy.linalg.solve`.  Memory is
bounded by one chunk per worker, and the draws depend only on the seed, so
every execution backend (in-process, local processes, Dask) and every
worker count gives the same numbers.  With region fixed effects the data are
within-transformed first (a region drawn twice has the same within data), and
the split-panel jackknife is a fixed linear combination of three such
estimates, so it is bootstrapped the same way.
"""

from __future__ import annotations

import numpy as np

from ..backends import plan_chunks, run_chunks, threadsafe

__all__ = ["BOOTSTRAP_CHUNK", "region_cross_products", "draw_counts", "batched_estimates", "cluster_bootstrap"]

#: Resamples per chunk (fixed, so the draws never depend on the backend or worker count).
BOOTSTRAP_CHUNK = 1000


def region_cross_products(X: np.ndarray, y: np.ndarray, codes: np.ndarray, n_regions: int):
    """Per-region ``X'X`` and ``X'y``.

    Parameters
    ----------
    X : ndarray, shape (N, k)
    y : ndarray, shape (N,)
    codes : ndarray of int, shape (N,)
        Region code (0 .. n_regions - 1) of each row.
    n_regions : int

    Returns
    -------
    XX : ndarray, shape (n_regions, k, k)
    Xy : ndarray, shape (n_regions, k)
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    codes = np.asarray(codes, dtype=np.intp)
    N, k = X.shape
    n = int(n_regions)
    # grouped sums, one column at a time (np.bincount adds a region's rows in row order): memory and
    # time linear in the rows; the dense region-by-row indicator used before (n_regions x N, 1.2 GB at
    # county scale) agrees to rounding (tests/test_haken_bootstrap.py compares the two to 1e-12)
    outer = X[:, :, None] * X[:, None, :]
    XX = np.empty((n, k, k))
    for a in range(k):
        for b in range(a, k):
            XX[:, a, b] = np.bincount(codes, weights=outer[:, a, b], minlength=n)
            XX[:, b, a] = XX[:, a, b]
    Xy = np.empty((n, k))
    for a in range(k):
        Xy[:, a] = np.bincount(codes, weights=X[:, a] * y, minlength=n)
    return XX, Xy


def _multinomial(rng: np.random.Generator, n_regions: int, size: int) -> np.ndarray:
    return rng.multinomial(n_regions, np.full(n_regions, 1.0 / n_regions), size=int(size)).astype(float)


def draw_counts(seed, n_regions: int, B: int, chunk_size: int = BOOTSTRAP_CHUNK) -> np.ndarray:
    """Multinomial counts of ``B`` cluster resamples of ``n_regions`` regions.

    The counts :func:`cluster_bootstrap` draws for the same ``seed``: chunk
    ``i`` of ``chunk_size`` resamples comes from
    :func:`nqpspatial.backends.chunk_rng` ``(seed, i)``.  ``HakenModel.fit``
    seeds the run from its Generator, so ``draw_counts(default_rng(s), ...)``
    gives the counts of ``fit(seed=default_rng(s))``.

    Parameters
    ----------
    seed : int, SeedSequence or numpy.random.Generator
        See :func:`nqpspatial.backends.seed_sequence` (a Generator gives one
        integer to seed the run).
    n_regions : int
    B : int
        Number of resamples.
    chunk_size : int, default :data:`BOOTSTRAP_CHUNK`

    Returns
    -------
    ndarray of float, shape (B, n_regions)
    """
    tasks = plan_chunks(B, seed, chunk_size)
    if not tasks:
        return np.zeros((0, int(n_regions)))
    return np.vstack([_multinomial(t.rng(), n_regions, t.size) for t in tasks])


def _solve(W: np.ndarray, XX: np.ndarray, Xy: np.ndarray) -> np.ndarray:
    n, k, _ = XX.shape
    A = (W @ XX.reshape(n, k * k)).reshape(-1, k, k)
    rhs = W @ Xy
    try:
        return np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # a singular resample (e.g. too few distinct regions): least squares
        # through the pseudo-inverse, resample by resample in one batch
        return np.einsum("bij,bj->bi", np.linalg.pinv(A), rhs)


def batched_estimates(W: np.ndarray, parts) -> np.ndarray:
    """Bootstrap coefficient draws of one equation.

    Parameters
    ----------
    W : ndarray, shape (B, n_regions)
        Resample counts from :func:`draw_counts`.
    parts : sequence of (weight, XX, Xy)
        The estimator as a linear combination of OLS estimates (one part for
        plain OLS; three for the split-panel jackknife: ``(2, full)``,
        ``(-1/2, first half)``, ``(-1/2, second half)``).

    Returns
    -------
    ndarray, shape (B, k)
    """
    out = None
    for weight, XX, Xy in parts:
        est = weight * _solve(W, XX, Xy)
        out = est if out is None else out + est
    return out


@threadsafe
def _bootstrap_chunk(payload, task) -> list:
    """One chunk: draw its counts with the chunk's Generator, estimate every equation."""
    n_regions, equations = payload
    W = _multinomial(task.rng(), n_regions, task.size)
    return [batched_estimates(W, parts) for parts in equations]


def cluster_bootstrap(
    equations, n_regions: int, B: int, *, seed, backend=None, chunk_size: int = BOOTSTRAP_CHUNK
) -> list:
    """Cluster-bootstrap draws of several equations sharing the same resamples.

    Parameters
    ----------
    equations : sequence of parts
        One ``parts`` list per equation (see :func:`batched_estimates`);
        every equation is estimated on the same resampled regions.
    n_regions : int
        Number of clusters (regions).
    B : int
        Number of resamples.
    seed : int, SeedSequence or numpy.random.Generator
        The run's seed (see :func:`nqpspatial.backends.seed_sequence`).
    backend : backend object, optional
        From :func:`nqpspatial.backends.open_backend`; default in-process.
        The result does not depend on it.
    chunk_size : int, default :data:`BOOTSTRAP_CHUNK`
        Resamples per chunk (bounds the memory of one chunk to
        ``chunk_size x n_regions`` counts plus the batched systems).

    Returns
    -------
    list of ndarray
        One ``(B, k)`` array per equation, resamples in draw order.
    """
    eqs = [list(parts) for parts in equations]
    payload = (int(n_regions), eqs)
    parts = run_chunks(_bootstrap_chunk, payload, int(B), seed=seed, chunk_size=chunk_size, backend=backend)
    if not parts:
        return [np.zeros((0, eq[0][1].shape[1])) for eq in eqs]
    return [np.vstack([p[e] for p in parts]) for e in range(len(eqs))]
