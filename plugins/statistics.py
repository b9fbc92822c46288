"""Spatial autocorrelation statistics (the ``nqpspatial.statistics`` plugin kind).

Contract of a statistics plugin
-------------------------------
A statistics plugin is a module-level object (registered under the
``nqpspatial.statistics`` entry-point group) with

``name`` : str
    ``"moran"``, ``"geary"``, ``"getis_ord"``, ``"moran_bivariate"``,
    ``"lisa"``, ``"gistar"`` for the first-party ones.
``table`` : str
    The output table its rows go to (``moran_global``, ``geary``,
    ``getis_ord``, ``moran_bivariate``, ``lisa``, ``gistar``).
``bivariate`` : bool
    Whether ``compute`` needs a second variable ``y``.
``compute(values, graph, *, rng, permutations, alpha, fdr, y=None)``
    ``values`` is a :class:`pandas.DataFrame` whose index holds the region
    ids (any order: they are aligned to ``graph.unique_ids``) and whose
    columns are the periods; values are used as stored.  ``graph`` is the
    transformed :class:`libpysal.graph.Graph`.  ``rng`` is a
    :class:`numpy.random.Generator` (the only source of randomness).
    ``permutations`` = 0 disables permutation inference (``p_sim`` NaN).
    Optionally a keyword ``backend`` (an execution backend of
    :mod:`nqpspatial.backends`, None = in-process); the stage passes it only
    to plugins whose ``compute`` accepts it, and the results must not depend
    on it.  Returns a DataFrame with a ``year`` column (and ``region`` for local
    statistics) plus the statistic's columns, *without* ``variable`` and
    ``weights`` (the pipeline stage adds them).

Speed
-----
All permutation inference is batched: one set of permutations is drawn per
call and shared by every period; permuted values of all periods are pushed
through one sparse matrix product per chunk of permutations (global
statistics; chunk ``i`` of a fixed size draws from
``nqpspatial.backends.chunk_rng(rng, i)`` and the chunks run on the given
execution backend, so the numbers are the same on every backend) or one
dense product per chunk of regions (conditional permutation for local
statistics, in chunks of permutations on the backend as well), so there is no Python loop over
permutations and no just-in-time compilation.  Memory is bounded by
chunking (about ``_CHUNK_ELEMENTS`` floats per chunk).

Conventions follow esda (checked against it in the tests): local Moran is
scaled by ``n - 1`` (``I_i = (n - 1) z_i sum_j w_ij z_j / sum_k z_k^2``),
pseudo p-values are ``(extremes + 1) / (permutations + 1)`` where
``extremes`` counts the simulated values at least as large as the observed
one, or those smaller when that is the smaller tail (esda's "directed"
rule), quadrants are coded as in esda (``z > 0`` is "high").  Regions
without neighbours get no p-value (NaN) and the cluster label ``isolated``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import sparse, stats

from nqpspatial.backends import threadsafe
from nqpspatial.errors import InputError

__all__ = [
    "StatisticPlugin",
    "moran",
    "geary",
    "getis_ord",
    "moran_bivariate",
    "lisa",
    "gistar",
    "STATISTICS",
    "fdr_threshold",
]

_CHUNK_ELEMENTS = 8_000_000  # floats per working block of global statistics (64 MB)
_PREFETCH_MIN_N = 5_000  # draw permutations in a helper thread from this many regions on
_SINGLE_MIN_N = 5_000  # permuted global products in single precision from this many regions on
_LOCAL_CHUNK_ELEMENTS = 8_000_000  # floats per block of local statistics (64 MB)
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _align(values: pd.DataFrame, graph, what: str = "values") -> tuple[np.ndarray, list]:
    ids = list(graph.unique_ids)
    if not isinstance(values, pd.DataFrame):
        raise InputError(f"{what} must be a DataFrame (index: region ids, columns: periods)")
    if values.index.has_duplicates:
        dup = values.index[values.index.duplicated()].unique().tolist()[:10]
        raise InputError(f"{what}: duplicate region ids {dup}", source="panel")
    pos = values.index.get_indexer(ids)
    missing = [ids[k] for k in np.flatnonzero(pos < 0)]
    if missing:
        raise InputError(f"{what}: no values for region(s) {missing[:10]} of the weights", source="panel")
    sub = values.iloc[pos]
    arr = sub.to_numpy(dtype=float)
    if np.isnan(arr).any():
        r, c = np.nonzero(np.isnan(arr))
        cells = [(ids[a], sub.columns[b]) for a, b in zip(r[:10], c[:10])]
        raise InputError(f"{what}: missing values at (region, year) {cells}", source="panel")
    return arr, list(sub.columns)


def _csr(graph) -> sparse.csr_array:
    mat = sparse.csr_array(graph.sparse, dtype=float)
    mat.sort_indices()
    return mat


def _s012(mat: sparse.csr_array) -> tuple[float, float, float]:
    s0 = float(mat.sum())
    sym = mat + mat.T
    s1 = float(0.5 * sym.multiply(sym).sum())
    rs = np.asarray(mat.sum(axis=1)).ravel()
    cs = np.asarray(mat.sum(axis=0)).ravel()
    s2 = float(((rs + cs) ** 2).sum())
    return s0, s1, s2


def _fold_p(larger: np.ndarray, permutations: int) -> np.ndarray:
    larger = np.asarray(larger, dtype=float)
    low = (permutations - larger) < larger
    larger = np.where(low, permutations - larger, larger)
    return (larger + 1.0) / (permutations + 1.0)


def _geq(sim, obs):
    # count mathematically equal values as ">=" despite rounding
    return sim >= obs - 1e-12 * (np.abs(obs) + 1e-300)


def _perm_chunk_size(n: int, t: int) -> int:
    return int(max(1, min(1000, _CHUNK_ELEMENTS // max(1, 3 * n * t))))


def _permutation_tasks(rng, n: int, permutations: int, t: int):
    """Fixed-size permutation chunks of the run seeded by ``rng`` (see :mod:`nqpspatial.backends`).

    The chunk size depends on the data size only (never on the backend), and
    chunk ``i`` draws from the ``i``-th child of the run's SeedSequence.
    """
    from nqpspatial.backends import plan_chunks

    return plan_chunks(permutations, rng, _perm_chunk_size(n, t))


def _draw_permutations(task, n: int) -> np.ndarray:
    """(task.size x n) int32 permutation matrix of one chunk, from the chunk's Generator."""
    base = np.arange(n, dtype=np.int32)
    return task.rng().permuted(np.broadcast_to(base, (task.size, n)), axis=1)


def _permutation_batches(tasks, n: int):
    """Yield the permutation matrices of ``tasks`` in order."""
    for task in tasks:
        yield _draw_permutations(task, n)


def _prefetched(batches, enabled: bool):
    """Iterate ``batches``, drawing the next batch in a helper thread meanwhile.

    numpy's ``Generator.permuted`` releases the GIL, so drawing the next
    permutations overlaps with the sparse products of the current ones.  The
    generator is advanced by one thread only, in order, so the draws (and the
    results) are identical with and without prefetching.
    """
    if not enabled:
        yield from batches
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(next, batches, None)
        while True:
            batch = fut.result()
            if batch is None:
                return
            fut = pool.submit(next, batches, None)
            yield batch


def _quadform_products(X, Y, mat, rc, perm, work: dict):
    """Products of one permutation chunk: (c x T) quadratic forms and the (c x T) linear terms (or None).

    ``work`` (kept by the caller across chunks) holds the previous chunk's
    large blocks until the new ones exist: freeing them first lets the
    allocator hand the pages back to the system, and touching fresh pages
    for every chunk doubles the cost on large layers.
    """
    n, t = Y.shape
    c = perm.shape[0]
    yp = work["yp"] = np.take(Y, perm.T, axis=0)  # (n, c, T); np.take is much faster than Y[perm.T]
    lag = work["lag"] = (mat @ yp.reshape(n, c * t)).reshape(n, c, t)
    if X is None:
        q = np.einsum("ict,ict->ct", yp, lag)
    else:
        q = np.einsum("it,ict->ct", X, lag)
    lin = np.einsum("ict,i->ct", yp * yp, rc) if rc is not None else None
    return q, lin


_WORKER_BLOCKS: dict = {}  # work blocks of _quadform_products, per worker process


@threadsafe
def _quadform_chunk(payload, task):
    """One permutation chunk on an execution backend (draws from the chunk's own Generator)."""
    X, Y, mat, rc = payload
    return _quadform_products(X, Y, mat, rc, _draw_permutations(task, Y.shape[0]), _WORKER_BLOCKS)


def _global_quadforms(X: np.ndarray, Y: np.ndarray, mat, rng, permutations: int, rc=None, backend=None):
    """sum_i X[i,t] (W Y_perm)[i,t] for each permutation of the rows of Y (or of X when Y is X).

    When ``Y is X`` both factors are permuted (univariate statistics);
    otherwise only ``Y`` is permuted.  One permutation of the regions is
    shared by all periods.  Returns (permutations x T); with ``rc`` also the
    linear term ``sum_i Y_perm[i,t]^2 rc_i`` for the same permutations.

    The permutations are drawn in fixed-size chunks, chunk ``i`` from
    :func:`nqpspatial.backends.chunk_rng` ``(rng, i)`` (``rng`` gives one
    integer to seed the run), so the statistics are identical in-process and
    on any ``backend`` (:func:`nqpspatial.backends.open_backend`) and
    worker count.  In-process, the next chunk's permutations are drawn in a
    helper thread from ``_PREFETCH_MIN_N`` regions on.

    From ``_SINGLE_MIN_N`` regions on, the permuted products are computed in
    single precision (relative error of a permuted statistic about 1e-5 of
    its scale, far below the Monte Carlo error of a p-value; it halves the
    memory traffic).  Observed statistics are always double precision.
    """
    n, t = Y.shape
    same = Y is X
    if n >= _SINGLE_MIN_N:
        Y = np.ascontiguousarray(Y, dtype=np.float32)
        X = Y if same else np.ascontiguousarray(X, dtype=np.float32)
        mat = sparse.csr_array(mat, dtype=np.float32)
        rc = None if rc is None else np.asarray(rc, dtype=np.float32)
    tasks = _permutation_tasks(rng, n, permutations, t)
    xa = None if same else X
    if backend is None or getattr(backend, "name", "") == "inprocess":
        work: dict = {}
        parts = [
            _quadform_products(xa, Y, mat, rc, perm, work)
            for perm in _prefetched(_permutation_batches(tasks, n), n >= _PREFETCH_MIN_N)
        ]
        work.clear()
    else:
        parts = backend.map(_quadform_chunk, (xa, Y, mat, rc), tasks)
    out = np.empty((permutations, t))
    lin = np.empty((permutations, t)) if rc is not None else None
    for task, (q, li) in zip(tasks, parts):
        out[task.start : task.stop] = q
        if rc is not None:
            lin[task.start : task.stop] = li
    return (out, lin) if rc is not None else out


def _sample_without_replacement(rng: np.random.Generator, n: int, size: int, permutations: int) -> np.ndarray:
    """(permutations x size) indices, each row an ordered uniform sample without replacement of range(n)."""
    size = min(size, n)
    if size * 4 >= n or n <= 64:
        return rng.permuted(np.broadcast_to(np.arange(n, dtype=np.int64), (permutations, n)), axis=1)[:, :size]
    # Floyd's algorithm vectorised over permutations, then a random order
    chosen = np.empty((permutations, size), dtype=np.int64)
    for m, j in enumerate(range(n - size, n)):
        cand = rng.integers(0, j + 1, size=permutations)
        if m:
            dup = (chosen[:, :m] == cand[:, None]).any(axis=1)
            cand = np.where(dup, j, cand)
        chosen[:, m] = cand
    return rng.permuted(chosen, axis=1)


def _off_diagonal(mat: sparse.csr_array) -> sparse.csr_array:
    coo = sparse.coo_array(mat)
    keep = (coo.row != coo.col) & (coo.data != 0)
    off = sparse.csr_array((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=mat.shape)
    off.sort_indices()
    return off


class _Neighbors:
    """Padded off-diagonal neighbour structure of a CSR matrix."""

    def __init__(self, mat: sparse.csr_array):
        n = mat.shape[0]
        self.n = n
        self.self_w = mat.diagonal().astype(float)
        off = _off_diagonal(mat)
        self.card = np.diff(off.indptr)
        self.kmax = int(self.card.max()) if n else 0
        self.wpad = np.zeros((n, max(self.kmax, 1)))
        self.npad = np.zeros((n, max(self.kmax, 1)), dtype=np.int64)
        rows = np.repeat(np.arange(n), self.card)
        cols = np.arange(off.nnz) - np.repeat(off.indptr[:-1], self.card)
        self.wpad[rows, cols] = off.data
        self.npad[rows, cols] = off.indices
        self.islands = (self.card == 0) & (self.self_w == 0)


def _lags_of_sample(X: np.ndarray, nb: _Neighbors, P: np.ndarray, reduce):
    """Conditional-permutation spatial lags of a drawn sample, chunked over regions.

    For each region i, permutation p and period t the lag is
    ``w_ii X[i,t] + sum_m w_im X[s_pm, t]`` where ``s_p`` is an ordered
    uniform sample of k_i regions other than i, the same draw for every
    period.  ``P`` is one (permutations x (kmax + 1)) sample of all regions
    (:func:`_sample_without_replacement`); region i uses its first k_i
    entries, with the entry k_i substituted where i itself was drawn (this
    gives an exact uniform sample of the others).

    ``reduce(start, stop, lags)`` receives lags of shape (c, T, permutations)
    for regions start..stop-1 (permutations last, so that reductions run
    over contiguous memory).
    """
    n, t = X.shape
    K = nb.kmax
    permutations = P.shape[0]
    if P.shape[1] < K + 1:  # K = n - 1: pad with a dummy column never used
        P = np.column_stack([P, np.zeros((permutations, K + 1 - P.shape[1]), dtype=np.int64)])
    G = X[P[:, :K]]  # (perms, K, T)
    Gk = np.ascontiguousarray(np.transpose(G, (1, 2, 0))).reshape(max(K, 1), t * permutations) if K else None
    # corrections: region i drawn at position m < k_i in permutation p
    pp, mm = np.nonzero(P[:, :K] >= 0) if K else (np.array([], int), np.array([], int))
    ii = P[pp, mm]
    valid = mm < nb.card[ii]
    pp, mm, ii = pp[valid], mm[valid], ii[valid]
    repl = P[pp, nb.card[ii]]
    order = np.argsort(ii, kind="stable")
    pp, mm, ii, repl = pp[order], mm[order], ii[order], repl[order]
    bounds = np.searchsorted(ii, np.arange(n + 1))
    has_self = bool(np.any(nb.self_w != 0))
    chunk = int(max(1, min(n, _LOCAL_CHUNK_ELEMENTS // max(1, permutations * t))))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        c = stop - start
        if K:
            lags = (nb.wpad[start:stop, :K] @ Gk).reshape(c, t, permutations)
        else:
            lags = np.zeros((c, t, permutations))
        a, b = bounds[start], bounds[stop]
        if b > a:
            li = ii[a:b]
            lags[li - start, :, pp[a:b]] += nb.wpad[li, mm[a:b]][:, None] * (X[repl[a:b]] - X[li])
        if has_self:
            lags += (nb.self_w[start:stop, None] * X[start:stop])[:, :, None]
        reduce(start, stop, lags)


_LOCAL_PERM_CHUNK = 250  # permutations per chunk of the local statistics (fixed: backend-independent)


@threadsafe
def _local_chunk(payload, task):
    """One chunk of conditional permutations: partial sums for :func:`_local_summary`.

    Draws the chunk's sample from its own Generator and returns, per region
    and period, the number of permuted statistics at least as extreme as the
    observed one (on the side of ``a``), and the sum and the sum of squares of
    the permuted minus the observed lags.
    """
    X, nb, lag_obs, a = payload
    n, t = X.shape
    P = _sample_without_replacement(task.rng(), n, nb.kmax + 1, task.size)
    larger = np.zeros((n, t))
    s1 = np.zeros((n, t))
    s2 = np.zeros((n, t))

    def reduce(start, stop, lags):
        obs = lag_obs[start:stop]
        lags -= obs[:, :, None]
        tol = (1e-12 * (np.abs(obs) + 1e-300))[:, :, None]
        ge = np.count_nonzero(lags >= -tol, axis=2)
        le = np.count_nonzero(lags <= tol, axis=2)
        f = a[start:stop]
        larger[start:stop] = np.where(f > 0, ge, np.where(f < 0, le, task.size))
        s1[start:stop] = lags.sum(2)
        s2[start:stop] = np.einsum("ctp,ctp->ct", lags, lags)

    _lags_of_sample(X, nb, P, reduce)
    return larger, s1, s2


def _local_summary(X, nb, lag_obs, a, rng, permutations: int, backend=None):
    """Conditional-permutation summaries of local statistics ``a * lag`` (per region and period).

    The permutations are drawn in chunks of :data:`_LOCAL_PERM_CHUNK`, chunk
    ``i`` from :func:`nqpspatial.backends.chunk_rng` ``(rng, i)``; the chunks
    run on ``backend`` (default in-process) and their partial sums are added
    in chunk order, so the numbers do not depend on the backend or the
    worker count.

    Returns
    -------
    larger : ndarray (n, T)
        Permuted statistics at least as extreme as the observed one.
    mean, std : ndarray (n, T)
        Mean and standard deviation of the permuted statistics.
    """
    from nqpspatial.backends import run_chunks

    a = np.broadcast_to(a, lag_obs.shape)
    parts = run_chunks(
        _local_chunk, (X, nb, lag_obs, a), permutations, seed=rng, chunk_size=_LOCAL_PERM_CHUNK, backend=backend
    )
    larger, s1, s2 = (np.sum([p[k] for p in parts], axis=0) for k in range(3))
    md = s1 / permutations
    var = s2 / permutations - md * md
    return larger, a * (md + lag_obs), np.abs(a) * np.sqrt(np.maximum(var, 0.0))


def fdr_threshold(pvalues, alpha: float) -> float:
    """Benjamini-Hochberg cut-off as computed by ``esda.fdr`` (NaN p-values ignored).

    A region is significant when ``p < threshold``.
    """
    from esda import fdr

    p = np.asarray(pvalues, dtype=float)
    p = p[~np.isnan(p)]
    if p.size == 0:
        return float("nan")
    return float(fdr(p, alpha))


def _zstat_p(z):
    return 2.0 * stats.norm.sf(np.abs(z))


# --------------------------------------------------------------------------
# plugins
# --------------------------------------------------------------------------


class StatisticPlugin:
    """Base class of the first-party statistics plugins (see the module doc)."""

    name: str = ""
    table: str = ""
    bivariate: bool = False
    local: bool = False
    description: str = ""

    def compute(
        self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None
    ):  # pragma: no cover
        """Return the statistic for every period (see the module doc)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<statistic {self.name!r} -> {self.table}>"


def _with_simulation(out: pd.DataFrame, obs, sim, expected: str, permutations: int, n: int) -> pd.DataFrame:
    """Add the permutation columns (``p_sim``, ``expected``, ``z_sim``), ``permutations`` and ``n``.

    ``sim`` is the (permutations x periods) array of simulated statistics, or None when no
    permutations were asked for (the three permutation columns are then NaN).
    """
    out["p_sim"], out[expected], out["z_sim"] = np.nan, np.nan, np.nan
    if sim is not None:
        out["p_sim"] = _fold_p(_geq(sim, obs).sum(0), permutations)
        out[expected] = sim.mean(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["z_sim"] = (obs - sim.mean(0)) / sim.std(0)
    out["permutations"] = permutations
    out["n"] = n
    return out


#: Fewest regions for which a statistic is computed: the randomisation variances divide by (n-1)(n-2)(n-3).
MIN_REGIONS = 4
_KEEP = ("year", "region", "permutations", "n", "note")


def _too_few(n: int) -> str:
    return (
        f"not computed: {n} region(s); spatial statistics need at least {MIN_REGIONS} (the randomisation "
        "variances divide by (n-1)(n-2)(n-3))"
    )


def _floor_note(n: int, permutations: int) -> str:
    """A note when the n! distinct permutations of n regions are no more than the permutations drawn."""
    if not permutations or n >= 10:  # 10! = 3628800 exceeds any practical number of permutations
        return ""
    count = math.factorial(n)
    if count > permutations:
        return ""
    return (
        f"{n} regions have only {n}! = {count} distinct permutations, no more than the {permutations} drawn: "
        f"the pseudo p-value cannot meaningfully fall below about 1/{count}"
    )


def _guard(out: pd.DataFrame, n: int, permutations: int, no_neighbour=None) -> pd.DataFrame:
    """Empty the statistics that cannot mean anything and say why in a ``note`` column.

    A layer of fewer than :data:`MIN_REGIONS` regions gets no statistic at
    all; a local statistic of a region without neighbours (``no_neighbour``,
    one flag per row) is emptied too.  When ``n! <= permutations`` the
    pseudo p-value's floor is noted.
    """
    out = out.copy()
    stat_cols = [c for c in out.columns if c not in _KEEP]
    if n < MIN_REGIONS:
        for c in stat_cols:
            out[c] = None if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]) else np.nan
        out["note"] = _too_few(n)
        return out
    note = _floor_note(n, permutations)
    out["note"] = note
    if no_neighbour is not None and np.any(no_neighbour):
        mask = np.asarray(no_neighbour, dtype=bool)
        for c in stat_cols:
            if c in ("cluster", "quadrant", "crit"):
                continue
            out.loc[mask, c] = np.nan
        out.loc[mask, "note"] = "no neighbour: local statistic not computed" + (f"; {note}" if note else "")
    return out


def _critical(p_sim: np.ndarray, alpha: float, fdr: bool, permutations: int) -> np.ndarray:
    """Per-period significance threshold: ``alpha``, or the FDR threshold of each period's p-values."""
    t = p_sim.shape[1]
    if fdr and permutations:
        return np.array([fdr_threshold(p_sim[:, j], alpha) for j in range(t)])
    return np.full(t, float(alpha))


def _check_perms(permutations):
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 0:
        raise InputError(
            f"permutations must be a non-negative integer, got {permutations!r}", source="config [spatial] permutations"
        )
    return int(permutations)


class _Moran(StatisticPlugin):
    name = "moran"
    table = "moran_global"
    description = "global Moran's I (Moran 1950; Cliff & Ord 1981)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Global Moran's I per period: normal and randomisation moments, permutation p."""
        permutations = _check_perms(permutations)
        X, years = _align(values, graph)
        mat = _csr(graph)
        n = X.shape[0]
        s0, s1, s2 = _s012(mat)
        Z = X - X.mean(0)
        ss = (Z * Z).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            I = n / s0 * (Z * (mat @ Z)).sum(0) / ss
            EI = -1.0 / (n - 1)
            v_norm = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - EI**2
            z_norm = (I - EI) / np.sqrt(v_norm)
            p_norm = _zstat_p(z_norm)
            k = ((Z**4).sum(0) / n) / (ss / n) ** 2
            A = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
            B = k * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
            v_rand = (A - B) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - EI**2
            z_rand = (I - EI) / np.sqrt(v_rand)
        out = pd.DataFrame(
            {
                "year": years,
                "I": I,
                "EI": EI,
                "VI_norm": v_norm,
                "z_norm": z_norm,
                "p_norm": p_norm,
                "VI_rand": v_rand,
                "z_rand": z_rand,
                "p_rand": _zstat_p(z_rand),
            }
        )
        sim = None
        if permutations:
            q = _global_quadforms(Z, Z, mat, rng, permutations, backend=backend)
            with np.errstate(divide="ignore", invalid="ignore"):
                sim = n / s0 * q / ss
        return _guard(_with_simulation(out, I, sim, "EI_sim", permutations, n), n, permutations)


class _Geary(StatisticPlugin):
    name = "geary"
    table = "geary"
    description = "Geary's C (Geary 1954)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Geary's C per period with esda's normal/randomisation variances and permutation p."""
        permutations = _check_perms(permutations)
        X, years = _align(values, graph)
        mat = _csr(graph)
        n = X.shape[0]
        s0, s1, s2 = _s012(mat)
        Z = X - X.mean(0)
        ss = (Z * Z).sum(0)
        rc = np.asarray(mat.sum(axis=1)).ravel() + np.asarray(mat.sum(axis=0)).ravel()
        quad = (Z * (mat @ Z)).sum(0)
        num = ((Z * Z) * rc[:, None]).sum(0) - 2.0 * quad  # sum_ij w_ij (z_i - z_j)^2
        with np.errstate(divide="ignore", invalid="ignore"):
            C = (n - 1) * num / (2.0 * s0 * ss)
            k = ((Z**4).sum(0) / n) / ((ss / n) ** 2)
            n2 = n * n
            A = (n - 1) * s1 * (n2 - 3 * n + 3 - (n - 1) * k)
            B = 0.25 * ((n - 1) * s2 * (n2 + 3 * n - 6 - (n2 - n + 2) * k))
            Cc = s0 * s0 * (n2 - 3 - (n - 1) ** 2 * k)
            v_rand = (A - B + Cc) / (n * (n - 2) * (n - 3) * s0 * s0)
            v_norm = (1 / (2 * (n + 1) * s0 * s0)) * ((2 * s1 + s2) * (n - 1) - 4 * s0 * s0)
            z_norm = (C - 1.0) / np.sqrt(v_norm)
            z_rand = (C - 1.0) / np.sqrt(v_rand)
        # esda reports one-tailed normal p-values for Geary's C (the tail of the observed sign)
        out = pd.DataFrame(
            {
                "year": years,
                "C": C,
                "EC": 1.0,
                "VC_norm": v_norm,
                "z_norm": z_norm,
                "p_norm": stats.norm.sf(np.abs(z_norm)),
                "VC_rand": v_rand,
                "z_rand": z_rand,
                "p_rand": stats.norm.sf(np.abs(z_rand)),
            }
        )
        sim = None
        if permutations:
            # sum_ij w_ij (z_pi(i) - z_pi(j))^2 = sum_i z_pi(i)^2 rc_i - 2 z_pi' W z_pi
            q, lin = _global_quadforms(Z, Z, mat, rng, permutations, rc=rc, backend=backend)
            sim = (n - 1) * (lin - 2.0 * q) / (2.0 * s0 * ss)
        return _guard(_with_simulation(out, C, sim, "EC_sim", permutations, n), n, permutations)


class _GetisOrd(StatisticPlugin):
    name = "getis_ord"
    table = "getis_ord"
    description = "global Getis-Ord G on binary weights (Getis & Ord 1992)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Global G per period, with binary weights (as esda and Getis & Ord 1992)."""
        permutations = _check_perms(permutations)
        X, years = _align(values, graph)
        mat = _csr(graph)
        mat = sparse.csr_array((np.ones_like(mat.data), mat.indices, mat.indptr), shape=mat.shape)
        mat.eliminate_zeros()
        mat = sparse.csr_array((np.ones(mat.nnz), mat.indices, mat.indptr), shape=mat.shape)
        n = X.shape[0]
        s0, s1, s2 = _s012(mat)
        sy = X.sum(0)
        sy2 = (X * X).sum(0)
        den = sy * sy - sy2
        with np.errstate(divide="ignore", invalid="ignore"):
            G = (X * (mat @ X)).sum(0) / den
            EG = s0 / (n * (n - 1))
            n2 = n * n
            b0 = (n2 - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0
            b1 = -((n2 - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
            b2 = -(2 * n * s1 - (n + 3) * s2 + 6 * s0 * s0)
            b3 = 4 * (n - 1) * s1 - 2 * (n + 1) * s2 + 8 * s0 * s0
            b4 = s1 - s2 + s0 * s0
            sy3, sy4 = (X**3).sum(0), (X**4).sum(0)
            EG2 = b0 * sy2**2 + b1 * sy4 + b2 * sy**2 * sy2 + b3 * sy * sy3 + b4 * sy**4
            EG2 = EG2 / (den**2 * n * (n - 1) * (n - 2) * (n - 3))
            VG = EG2 - EG**2
            z_norm = (G - EG) / np.sqrt(VG)
        out = pd.DataFrame(
            {
                "year": years,
                "G": G,
                "EG": EG,
                "VG": VG,
                "z_norm": z_norm,
                # esda: one-sided p of |z|
                "p_norm": stats.norm.sf(np.abs(z_norm)),
            }
        )
        sim = None
        if permutations:
            q = _global_quadforms(X, X, mat, rng, permutations, backend=backend)
            with np.errstate(invalid="ignore", divide="ignore"):  # a constant period: NaN, guarded below
                sim = q / den
        return _guard(_with_simulation(out, G, sim, "EG_sim", permutations, n), n, permutations)


class _MoranBV(StatisticPlugin):
    name = "moran_bivariate"
    table = "moran_bivariate"
    bivariate = True
    description = "bivariate Moran: x against the spatial lag of y (Anselin, Syabri & Smirnov 2002)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Bivariate Moran ``I = zx' W zy / (n - 1)`` per period (esda's ``Moran_BV``)."""
        permutations = _check_perms(permutations)
        if y is None:
            raise InputError("moran_bivariate needs a second variable y")
        X, years = _align(values, graph)
        Y, years_y = _align(y, graph, what="y values")
        if list(years) != list(years_y):
            raise InputError("moran_bivariate: x and y have different periods", source="panel")
        mat = _csr(graph)
        n = X.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            zx = (X - X.mean(0)) / X.std(0, ddof=1)
            zy = (Y - Y.mean(0)) / Y.std(0, ddof=1)
            I = (zx * (mat @ zy)).sum(0) / (n - 1)
        out = pd.DataFrame({"year": years, "I": I})
        sim = None
        if permutations:
            q = _global_quadforms(zx, zy, mat, rng, permutations, backend=backend)
            sim = q / (n - 1)
        return _guard(_with_simulation(out, I, sim, "EI_sim", permutations, n), n, permutations)


def _local_frame(ids, years, cols: dict) -> pd.DataFrame:
    n, t = len(ids), len(years)
    data = {"year": np.repeat(np.asarray(years), n), "region": np.tile(np.asarray(ids, dtype=object), t)}
    for k, v in cols.items():
        data[k] = np.asarray(v).T.reshape(-1) if np.ndim(v) == 2 else v
    return pd.DataFrame(data)


class _Lisa(StatisticPlugin):
    name = "lisa"
    table = "lisa"
    local = True
    description = "local Moran's I with conditional permutation inference (Anselin 1995)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Local Moran per region and period (esda's n - 1 scaling), quadrant and cluster labels."""
        permutations = _check_perms(permutations)
        X, years = _align(values, graph)
        ids = list(graph.unique_ids)
        mat = _csr(graph)
        n, t = X.shape
        with np.errstate(divide="ignore", invalid="ignore"):
            Z = (X - X.mean(0)) / X.std(0)
        den = (Z * Z).sum(0)
        scale = (n - 1) / den
        lag = mat @ Z
        Ii = scale * Z * lag
        quad = np.where(Z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
        nb = _Neighbors(mat)
        p_sim = np.full((n, t), np.nan)
        z_sim = np.full((n, t), np.nan)
        EI_sim = np.full((n, t), np.nan)
        if permutations:
            # I_i under permutation = scale_t z_it lag: affine in the lag
            larger, EI_sim, sd = _local_summary(Z, nb, lag, scale[None, :] * Z, rng, permutations, backend)
            p_sim = _fold_p(larger, permutations)
            with np.errstate(divide="ignore", invalid="ignore"):
                z_sim = (Ii - EI_sim) / sd
        p_sim[nb.islands] = np.nan
        z_sim[nb.islands] = np.nan
        cluster = np.full((n, t), "ns", dtype=object)
        crit = _critical(p_sim, alpha, fdr, permutations)
        labels = np.vectorize(QUADRANTS.get, otypes=[object])(quad)
        sig = p_sim < crit[None, :]
        cluster[sig] = labels[sig]
        cluster[nb.islands] = "isolated"
        out = _local_frame(
            ids,
            years,
            {
                "Ii": Ii,
                "EI_sim": EI_sim,
                "z_sim": z_sim,
                "p_sim": p_sim,
                "quadrant": labels,
                "cluster": cluster,
                "crit": np.broadcast_to(crit, (n, t)),
            },
        )
        return _guard(out, n, permutations, np.tile(nb.islands, t))


class _GiStar(StatisticPlugin):
    name = "gistar"
    table = "gistar"
    local = True
    description = "local Getis-Ord Gi* (Ord & Getis 1995)"

    def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None, backend=None):
        """Gi* with a self-weight equal to each row's largest weight, then row-standardized.

        Matches ``esda.G_Local(y, graph.assign_self_weight(rowmax), transform="R", star=True)``.
        """
        permutations = _check_perms(permutations)
        X, years = _align(values, graph)
        ids = list(graph.unique_ids)
        mat = _csr(graph)
        n, t = X.shape
        off = _off_diagonal(mat)
        rowmax = np.asarray(off.max(axis=1).toarray()).ravel() if off.nnz else np.zeros(n)
        rowmax = np.where(rowmax > 0, rowmax, 1.0)
        star = sparse.csr_array(off + sparse.diags_array(rowmax))
        rs = np.asarray(star.sum(axis=1)).ravel()
        star = sparse.csr_array(sparse.diags_array(1.0 / rs) @ star)
        star.sort_indices()
        total = X.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            Gs = (star @ X) / total
            wi = np.asarray(star.sum(axis=1)).ravel()
            N = n
            mean = total / N
            var = (X * X).sum(0) / N - mean**2
            EG = wi / N
            VG = (wi * (N - wi) / (N - 1) / N**2)[:, None] * (var / mean**2)[None, :]
            Zs = (Gs - EG[:, None]) / np.sqrt(VG)
        nb = _Neighbors(star)
        islands = np.diff(off.indptr) == 0
        p_sim = np.full((n, t), np.nan)
        z_sim = np.full((n, t), np.nan)
        if permutations:
            larger, m, sd = _local_summary(
                X, nb, star @ X, np.broadcast_to(1.0 / total, (n, t)), rng, permutations, backend
            )
            p_sim = _fold_p(larger, permutations)
            with np.errstate(divide="ignore", invalid="ignore"):
                z_sim = (Gs - m) / sd
        p_norm = stats.norm.sf(np.abs(Zs))
        p_sim[islands] = np.nan
        z_sim[islands] = np.nan
        p_norm[islands] = np.nan
        crit = _critical(p_sim, alpha, fdr, permutations)
        sig = p_sim < crit[None, :]
        hot = Gs > EG[:, None]
        cluster = np.full((n, t), "ns", dtype=object)
        cluster[sig & hot] = "hot"
        cluster[sig & ~hot] = "cold"
        cluster[islands] = "isolated"
        out = _local_frame(
            ids,
            years,
            {
                "Gi": Gs,
                "EGi": np.broadcast_to(EG[:, None], (n, t)),
                "z_norm": Zs,
                "p_norm": p_norm,
                "z_sim": z_sim,
                "p_sim": p_sim,
                "cluster": cluster,
            },
        )
        return _guard(out, n, permutations, np.tile(islands, t))


moran = _Moran()
geary = _Geary()
getis_ord = _GetisOrd()
moran_bivariate = _MoranBV()
lisa = _Lisa()
gistar = _GiStar()

STATISTICS: dict[str, StatisticPlugin] = {p.name: p for p in (moran, geary, getis_ord, moran_bivariate, lisa, gistar)}
