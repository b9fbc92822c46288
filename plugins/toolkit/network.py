"""Spatial association networks from a modified gravity model.

Pure functions: no pipeline context, no config dicts.

* :func:`great_circle_km`, :func:`economic_distance`, :func:`gravity_matrix`
  and :func:`binarize` build a directed network from a variable.
* :func:`network_summary` (density, Krackhardt's connectedness, hierarchy
  and efficiency), :func:`centralities` (degrees, closeness, betweenness;
  equal to networkx), :func:`concor` and :func:`block_roles` (four roles
  after Burt 1976) and :func:`qap` (QAP correlation and regression with
  permutation p-values on :mod:`nqpspatial.backends`) analyse it.
* :func:`association_networks` runs the chain for every variable and year and
  returns a :class:`NetworkResults`; :func:`plot_network` draws one network on
  the map.

Formulas and conventions: ``docs/network.md``.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

__all__ = [
    "EARTH_RADIUS_KM",
    "THRESHOLDS",
    "ROLES",
    "great_circle_km",
    "economic_distance",
    "gravity_matrix",
    "binarize",
    "network_summary",
    "centralities",
    "concor",
    "block_roles",
    "qap",
    "QAPResults",
    "PairTerm",
    "DenseTerm",
    "GreatCircleTerm",
    "DifferenceTerm",
    "SparseTerm",
    "association_networks",
    "NetworkResults",
    "plot_network",
]

#: Mean Earth radius (IUGG), km, of the great-circle distances.
EARTH_RADIUS_KM = 6371.0088
#: Rules that turn the gravity matrix into links.
THRESHOLDS = ("row-mean", "row-median", "global-mean")
#: Block roles (English, Chinese).
ROLES = {
    "net beneficiary": "净受益板块",
    "bilateral spillover": "双向溢出板块",
    "net spillover": "净溢出板块",
    "broker": "经纪人板块",
}


# --------------------------------------------------------------------------- building the network
def _unit_vectors(lon, lat) -> np.ndarray:
    lo = np.radians(np.asarray(lon, dtype=float))
    la = np.radians(np.asarray(lat, dtype=float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _arc_km(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle km between unit vectors (rows): ``R atan2(|u x v|, u . v)``, accurate at every distance."""
    cx = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    cy = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    cz = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1] + u[..., 2] * v[..., 2]
    return EARTH_RADIUS_KM * np.arctan2(np.sqrt(cx * cx + cy * cy + cz * cz), dot)


def great_circle_km(lon, lat) -> np.ndarray:
    """Great-circle distances (km) between all pairs of points on a sphere of radius 6371.0088 km.

    The central angle is ``atan2(|u x v|, u . v)`` of the points' unit
    vectors (well conditioned at all distances; equal to the haversine
    formula up to rounding).

    Parameters
    ----------
    lon, lat : array_like
        Degrees.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Zero diagonal.
    """
    u = _unit_vectors(lon, lat)
    d = _arc_km(u[:, None, :], u[None, :, :])
    np.fill_diagonal(d, 0.0)
    return d


def economic_distance(distance, level, ids=None) -> np.ndarray:
    """Economic-geographic distance ``D_ij / |g_i - g_j|`` (Liu, Liu & Sun 2015).

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Geographic distances.
    level : array_like, shape (n,)
        An economic level per region, e.g. GDP per capita.
    ids : sequence, optional
        Region ids for messages.

    Raises
    ------
    InputError
        Two regions with the same level (infinite gravity).
    """
    D = np.asarray(distance, dtype=float)
    g = np.asarray(level, dtype=float)
    gap = np.abs(g[:, None] - g[None, :])
    np.fill_diagonal(gap, 1.0)
    if not (gap > 0).all():
        i, j = np.argwhere(gap == 0)[0]
        who = (ids[i], ids[j]) if ids is not None else (int(i), int(j))
        raise InputError(
            f"economic distance: regions {who[0]!r} and {who[1]!r} have the same economic level "
            f'({g[i]:g}), so D / |g_i - g_j| is infinite; use distance = "great-circle"'
        )
    out = D / gap
    np.fill_diagonal(out, 0.0)
    return out


def gravity_matrix(mass, distance, *, decay: float = 2.0, share=None, ids=None) -> np.ndarray:
    """Directed gravity ``y_ij = k_ij M_i M_j / D_ij^b`` with ``k_ij = x_i / (x_i + x_j)``.

    Parameters
    ----------
    mass : array_like, shape (n,)
        Non-negative masses ``M`` (the variable, or a geometric mean of it
        with other masses such as population and GDP).
    distance : array_like, shape (n, n)
        Positive distances off the diagonal.
    decay : float, default 2
        Distance-decay exponent ``b``.
    share : array_like, shape (n,), optional
        The variable ``x`` of the contribution share ``k_ij`` (default: the
        masses).
    ids : sequence, optional
        Region ids for messages.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Zero diagonal; ``k_ij = 0`` when ``x_i = x_j = 0``.
    """
    M = np.asarray(mass, dtype=float)
    x = M if share is None else np.asarray(share, dtype=float)
    D = np.asarray(distance, dtype=float)
    if M.ndim != 1 or D.shape != (M.size, M.size):
        raise InputError(f"gravity needs n masses and an (n, n) distance matrix, got {M.shape} and {D.shape}")
    if not np.isfinite(M).all() or (M < 0).any() or x.shape != M.shape or not np.isfinite(x).all() or (x < 0).any():
        raise InputError("gravity masses and shares must be n finite values >= 0")
    bad = ~(D > 0)
    np.fill_diagonal(bad, False)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        who = (ids[i], ids[j]) if ids is not None else (int(i), int(j))
        raise InputError(
            f"regions {who[0]!r} and {who[1]!r} are at distance 0 (the same point): merge them or fix the geometry"
        )
    del bad
    # y_ij = ((k_ij M_i) M_j) / D_ij^b, in place on one (n, n) buffer; k_ij = 0 where x_i = x_j = 0
    tot = np.add.outer(x, x)
    tot[tot == 0] = 1.0  # there x_i = 0, so k_ij = 0 / 1 = 0
    Y = np.divide(x[:, None], tot, out=tot)
    Y *= M[:, None]
    Y *= M[None, :]
    Dd = D ** float(decay)
    np.fill_diagonal(Dd, 1.0)
    Y /= Dd
    np.fill_diagonal(Y, 0.0)
    return Y


def binarize(gravity, rule: str = "row-mean") -> np.ndarray:
    """Links ``i -> j`` where the gravity exceeds a threshold.

    Parameters
    ----------
    gravity : array_like, shape (n, n)
    rule : {"row-mean", "row-median", "global-mean"}
        Threshold: the mean of row ``i`` over ``j != i`` (the usual rule),
        its median, or the mean of every off-diagonal cell.

    Returns
    -------
    numpy.ndarray of int8, shape (n, n)
        ``1`` where ``y_ij`` is strictly above the threshold; zero diagonal.
    """
    Y = np.asarray(gravity, dtype=float)
    n = Y.shape[0]
    off = ~np.eye(n, dtype=bool)
    if rule == "row-mean":
        thr = Y.sum(axis=1) / (n - 1)
        A = Y > thr[:, None]
    elif rule == "row-median":
        vals = np.where(off, Y, np.nan)
        A = Y > np.nanmedian(vals, axis=1)[:, None]
    elif rule == "global-mean":
        A = Y > Y[off].mean()
    else:
        raise InputError(f"threshold {rule!r}: use one of {list(THRESHOLDS)}")
    A &= off
    return A.astype(np.int8)


# --------------------------------------------------------------------------- structure
def _reach_counts(A, src, dst) -> tuple[int, int]:
    """(unordered pairs reachable at least one way, unordered pairs reachable both ways).

    ``A`` is the sparse adjacency, ``src, dst`` its links.
    """
    from scipy.sparse.csgraph import connected_components

    k, lab = connected_components(A, directed=True, connection="strong")
    size = np.bincount(lab, minlength=k).astype(np.int64)
    sym = int((size * (size - 1) // 2).sum())
    cs, cd = lab[src], lab[dst]
    keep = cs != cd
    succ = [set() for _ in range(k)]
    for a, b in zip(cs[keep].tolist(), cd[keep].tolist()):
        succ[a].add(b)
    # Tarjan's labels from scipy are not topological: order by a DFS post-order on the condensation
    order, seen = [], np.zeros(k, dtype=bool)
    for root in range(k):
        if seen[root]:
            continue
        stack = [(root, iter(succ[root]))]
        seen[root] = True
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                order.append(node)
                stack.pop()
            elif not seen[nxt]:
                seen[nxt] = True
                stack.append((nxt, iter(succ[nxt])))
    reach = np.zeros((k, k), dtype=bool)
    for c in order:  # post-order: successors first
        for d in succ[c]:
            reach[c] |= reach[d]
            reach[c, d] = True
    cross = int((reach * np.outer(size, size)).sum())
    return sym + cross, sym


def network_summary(A) -> dict:
    """Density and Krackhardt's (1994) connectedness, hierarchy and efficiency.

    ``density = L / (N (N - 1))``; ``connectedness = 1 - V / (N (N - 1) / 2)``
    with ``V`` the unordered pairs in different weak components;
    ``hierarchy = 1 - K / max K`` with ``K`` the unordered pairs that reach
    each other both ways and ``max K`` those reachable at least one way;
    ``efficiency = 1 - M / max M`` with ``M`` the links of the symmetrized
    network beyond ``n_c - 1`` in each weak component ``c`` and ``max M =
    sum_c (n_c (n_c - 1) / 2 - (n_c - 1))``.

    Parameters
    ----------
    A : array_like, shape (n, n)
        0/1 adjacency (``A_ij = 1``: link ``i -> j``), zero diagonal.

    Returns
    -------
    dict
        ``n, links, density, connectedness, hierarchy, efficiency,
        components, reciprocity`` (share of links whose reverse exists).
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components

    A = np.asarray(A)
    n = A.shape[0]
    if n < 3:
        raise InputError(f"a network needs at least 3 regions, got {n}")
    src, dst = np.nonzero(A)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    L = int(src.size)
    Asp = csr_array((np.ones(L, dtype=np.int8), (src, dst)), shape=(n, n))
    S = (Asp + Asp.T).tocoo()  # the symmetrized network: |A or A'| cells, each unordered pair twice
    mutual = 2 * L - S.nnz  # ordered pairs linked both ways
    ncomp, lab = connected_components(S.tocsr(), directed=False)
    size = np.bincount(lab).astype(np.int64)
    pairs = n * (n - 1) // 2
    same = int((size * (size - 1) // 2).sum())
    und_links = np.bincount(lab[S.row[S.row < S.col]], minlength=ncomp)
    redundant = int((und_links - (size - 1)).sum())
    max_red = int((size * (size - 1) // 2 - (size - 1)).sum())
    reach, sym = _reach_counts(Asp, src, dst)
    return {
        "n": n,
        "links": L,
        "density": L / (n * (n - 1)),
        "connectedness": same / pairs,
        "hierarchy": 1.0 - sym / reach if reach else float("nan"),
        "efficiency": 1.0 - redundant / max_red if max_red else float("nan"),
        "components": int(ncomp),
        "reciprocity": float(mutual / L) if L else float("nan"),
    }


def _bfs_levels(A):
    """All-sources BFS: distances (-1 unreachable), shortest-path counts, and per-level (s, v) index arrays."""
    from scipy.sparse import csr_array

    n = A.shape[0]
    Asp = csr_array(A.astype(np.float64))
    dist = np.full((n, n), -1, dtype=np.int32)
    sigma = np.zeros((n, n))
    idx = np.arange(n)
    dist[idx, idx] = 0
    sigma[idx, idx] = 1.0
    levels = [(idx, idx)]
    F = csr_array((np.ones(n), (idx, idx)), shape=(n, n))
    d = 0
    while F.nnz:
        d += 1
        P = (F @ Asp).tocoo()
        r, c, v = P.row, P.col, P.data
        new = dist[r, c] < 0
        r, c, v = r[new], c[new], v[new]
        if not r.size:
            break
        dist[r, c] = d
        sigma[r, c] = v
        levels.append((r, c))
        F = csr_array((v, (r, c)), shape=(n, n))
    return dist, sigma, levels


def _closeness(dist: np.ndarray, axis: int) -> np.ndarray:
    """networkx closeness (Wasserman-Faust improved) from distances to (axis 0) or from (axis 1) each node."""
    n = dist.shape[0]
    reach = dist >= 0
    tot = np.where(reach, dist, 0).sum(axis=axis).astype(float)
    r = reach.sum(axis=axis).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(tot > 0, (r - 1.0) / tot, 0.0)
    if n > 1:
        c = c * (r - 1.0) / (n - 1.0)
    return c


def _betweenness(A, dist, sigma, levels) -> np.ndarray:
    """Brandes' dependency accumulation, vectorized over sources by BFS level (directed, unnormalized)."""
    from scipy.sparse import csr_array

    n = A.shape[0]
    AT = csr_array(A.T.astype(np.float64))
    delta = np.zeros((n, n))
    for d in range(len(levels) - 1, 1, -1):
        r, c = levels[d]
        M = csr_array(((1.0 + delta[r, c]) / sigma[r, c], (r, c)), shape=(n, n))
        T = (M @ AT).tocoo()
        keep = dist[T.row, T.col] == d - 1
        rr, cc = T.row[keep], T.col[keep]
        delta[rr, cc] += sigma[rr, cc] * T.data[keep]
    return delta.sum(axis=0)


def centralities(A, ids=None, *, closeness: bool = True, betweenness: bool = True) -> pd.DataFrame:
    """Degrees, closeness and betweenness of every region (networkx's definitions).

    Parameters
    ----------
    A : array_like, shape (n, n)
        0/1 adjacency, zero diagonal.
    ids : sequence, optional
        Region ids (default 0..n-1).
    closeness, betweenness : bool
        Compute the path-based measures (all-pairs BFS).

    Returns
    -------
    pandas.DataFrame
        ``region, in_degree, out_degree, degree, in_degree_centrality,
        out_degree_centrality, degree_centrality`` (networkx:
        ``degree / (n - 1)``), ``closeness_in`` (networkx
        ``closeness_centrality`` of the directed graph: distances *to* the
        node), ``closeness_out`` (of the reversed graph), ``closeness``
        (of the symmetrized, undirected graph) and ``betweenness``
        (``betweenness_centrality``, directed, normalized by ``(n-1)(n-2)``).
    """
    A = (np.asarray(A) != 0).astype(np.int8)
    n = A.shape[0]
    np.fill_diagonal(A, 0)
    ids = list(range(n)) if ids is None else list(ids)
    ind, outd = A.sum(axis=0).astype(int), A.sum(axis=1).astype(int)
    out = pd.DataFrame(
        {
            "region": ids,
            "in_degree": ind,
            "out_degree": outd,
            "degree": ind + outd,
            "in_degree_centrality": ind / (n - 1),
            "out_degree_centrality": outd / (n - 1),
            "degree_centrality": (ind + outd) / (n - 1),
        }
    )
    if closeness or betweenness:
        dist, sigma, levels = _bfs_levels(A)
        if closeness:
            out["closeness_in"] = _closeness(dist, axis=0)
            out["closeness_out"] = _closeness(dist, axis=1)
        if betweenness:
            b = _betweenness(A, dist, sigma, levels)
            out["betweenness"] = b / ((n - 1) * (n - 2)) if n > 2 else b
    return out


# --------------------------------------------------------------------------- blocks
def _corr(M: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Column correlations; constant columns correlate 0 with the others (1 with themselves)."""
    Z = np.asarray(M, dtype=dtype)
    Z = Z - Z.mean(axis=0)
    s = np.sqrt((Z * Z).sum(axis=0))
    ok = s > 0
    Z[:, ok] /= s[ok]
    C = Z.T @ Z
    np.fill_diagonal(C, 1.0)
    return np.clip(C, -1.0, 1.0, out=C)


def _two_blocks(C: np.ndarray) -> np.ndarray | None:
    """The split when every entry's sign matches a two-group pattern (None otherwise)."""
    first = C[0] >= 0
    sign = C >= 0
    want = first[:, None] == first[None, :]
    return first if np.array_equal(sign, want) else None


def concor(A, *, depth: int = 2, max_iter: int = 100, tol: float = 1e-6) -> np.ndarray:
    """CONCOR partition (Breiger, Boorman & Arabie 1975) of a directed network.

    Each region's profile is its column of ``A`` (links received) stacked on
    its row (links sent).  The correlation matrix of the profiles is
    correlated again (single precision throughout) until every entry is
    within ``tol`` of +-1, or the signs of all entries have formed the same
    two-group pattern in two consecutive rounds, or ``max_iter`` rounds have
    run; the regions then split by the sign of their correlation with the
    first region of the group (0 goes with it).  The split is repeated
    ``depth`` times, giving up to ``2^depth`` blocks (a group of one region
    is not split).

    Returns
    -------
    numpy.ndarray of int
        Block number (1-based, in order of the first member) per region.
    """
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    prof = np.vstack([A, A.T])
    groups = [np.arange(n)]
    for _ in range(depth):
        nxt = []
        for g in groups:
            if g.size < 2:
                nxt.append(g)
                continue
            C = _corr(prof[:, g], np.float32)
            last = None
            for _ in range(max_iter):
                if (np.abs(np.abs(C) - 1.0) <= tol).all():
                    break
                split = _two_blocks(C)
                if split is not None and last is not None and np.array_equal(split, last):
                    break
                last = split
                C = _corr(C, np.float32)
            first = C[0] >= 0
            a, b = g[first], g[~first]
            nxt.extend([x for x in (a, b) if x.size])
        groups = nxt
    lab = np.zeros(n, dtype=np.int64)
    for g in groups:
        lab[g] = g.min()
    _, lab = np.unique(lab, return_inverse=True)
    return lab + 1


def block_roles(A, blocks) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Block ties and the four roles of Burt (1976) as read in spatial-network studies.

    For block ``k`` with ``n_k`` members: ``internal`` links among its
    members, ``sent`` links to other blocks, ``received`` links from other
    blocks, the expected internal ratio ``(n_k - 1) / (N - 1)`` and the
    actual one ``internal / (internal + sent)``.  Roles: actual >= expected
    and ``received > sent``: net beneficiary; actual >= expected and
    ``received <= sent``: bilateral spillover; actual < expected and
    ``received <= sent``: net spillover; actual < expected and
    ``received > sent``: broker.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Blocks (``block, n, internal, sent, received, expected_ratio,
        actual_ratio, role, role_zh``) and block densities (``from_block,
        to_block, links, density, image``; ``image`` = 1 where the density
        is at least the whole network's density).
    """
    A = (np.asarray(A) != 0).astype(np.int64)
    b = np.asarray(blocks)
    n = A.shape[0]
    ks = np.unique(b)
    H = np.zeros((ks.size, ks.size), dtype=np.int64)
    pos = np.searchsorted(ks, b)
    np.add.at(H, (pos[:, None].repeat(n, 1), pos[None, :].repeat(n, 0)), A)
    size = np.bincount(pos, minlength=ks.size)
    dens_all = A.sum() / (n * (n - 1))
    rows, drows = [], []
    for i, k in enumerate(ks):
        internal = int(H[i, i])
        sent = int(H[i].sum() - internal)
        received = int(H[:, i].sum() - internal)
        exp = (size[i] - 1) / (n - 1)
        act = internal / (internal + sent) if internal + sent else 0.0
        if act >= exp:
            role = "net beneficiary" if received > sent else "bilateral spillover"
        else:
            role = "broker" if received > sent else "net spillover"
        rows.append(
            {
                "block": int(k),
                "n": int(size[i]),
                "internal": internal,
                "sent": sent,
                "received": received,
                "expected_ratio": exp,
                "actual_ratio": act,
                "role": role,
                "role_zh": ROLES[role],
            }
        )
        for j, kk in enumerate(ks):
            cells = size[i] * (size[j] - (1 if i == j else 0))
            d = H[i, j] / cells if cells else float("nan")
            drows.append(
                {
                    "from_block": int(k),
                    "to_block": int(kk),
                    "links": int(H[i, j]),
                    "density": d,
                    "image": int(d >= dens_all) if d == d else 0,
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(drows)


# --------------------------------------------------------------------------- QAP
class PairTerm:
    """An explanatory matrix of QAP given by a rule on pairs of regions.

    Subclasses give ``dense()`` (the full matrix, zero diagonal) and
    ``values(i, j)`` (its cells at index arrays), so that permutations
    never gather from a large dense matrix.
    """

    n: int

    def dense(self) -> np.ndarray:
        i, j = np.divmod(np.arange(self.n * self.n), self.n)
        out = self.values(i, j).reshape(self.n, self.n)
        np.fill_diagonal(out, 0.0)
        return out

    def values(self, i, j) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class DenseTerm(PairTerm):
    """A given (n, n) matrix."""

    def __init__(self, matrix):
        self.M = np.array(matrix, dtype=float)
        self.n = self.M.shape[0]
        np.fill_diagonal(self.M, 0.0)
        self.symmetric = self.M.ndim == 2 and self.M.shape[0] == self.M.shape[1] and np.array_equal(self.M, self.M.T)

    def dense(self):
        return self.M.copy()

    def _matrix(self):
        return self.M

    def values(self, i, j):
        return self.M[i, j]


class GreatCircleTerm(PairTerm):
    """Great-circle distance (km) between the regions' points.

    The matrix is computed once; permutations gather from it (the links of a
    region are consecutive, so each permutation reads one row per region).
    """

    def __init__(self, lon, lat):
        self.u = _unit_vectors(lon, lat)
        self.n = self.u.shape[0]
        self._D = None

    def dense(self):
        if self._D is None:
            out = np.empty((self.n, self.n))
            for a in range(0, self.n, 256):  # row blocks keep the temporaries small
                out[a : a + 256] = _arc_km(self.u[a : a + 256, None, :], self.u[None, :, :])
            np.fill_diagonal(out, 0.0)
            self._D = out
        return self._D.copy()

    def values(self, i, j):
        return self._matrix()[i, j]

    def _matrix(self):
        if self._D is None:
            self.dense()
        return self._D


class DifferenceTerm(PairTerm):
    """Absolute difference ``|x_i - x_j|`` of a regional variable."""

    def __init__(self, x):
        self.x = np.asarray(x, dtype=float)
        self.n = self.x.size

    def dense(self):
        out = np.abs(self.x[:, None] - self.x[None, :])
        np.fill_diagonal(out, 0.0)
        return out

    def values(self, i, j):
        return np.abs(self.x[i] - self.x[j])


class SparseTerm(PairTerm):
    """A sparse matrix (e.g. 0/1 contiguity); permutations sum over its non-zero cells."""

    def __init__(self, matrix):
        from scipy.sparse import coo_array

        M = coo_array(matrix)
        keep = (M.row != M.col) & (M.data != 0)
        self.r, self.c, self.w = M.row[keep].astype(np.int64), M.col[keep].astype(np.int64), M.data[keep].astype(float)
        self.n = M.shape[0]

    def dense(self):
        out = np.zeros((self.n, self.n))
        np.add.at(out, (self.r, self.c), self.w)
        return out

    def values(self, i, j):
        return self.dense()[i, j]


class _Links:
    """The cells of ``Y`` a permutation statistic runs over, grouped by row (row index ascending).

    ``rows`` repeats each row index by its count, so ``x[rows]`` is
    ``np.repeat(x, count)``, far cheaper than a gather.
    """

    def __init__(self, a, b, v, n):
        self.b, self.v = b.astype(np.intp), v
        self.count = np.bincount(a, minlength=n)

    def rows_of(self, z):
        return np.repeat(z, self.count)


def _qap_links(Y):
    """Directed links of ``Y`` and, for symmetric terms, its unordered pairs with weights ``Y_ab + Y_ba``."""
    n = Y.shape[0]
    a, b = np.nonzero(Y)
    full = _Links(a, b, Y[a, b], n)
    S = np.triu(Y + Y.T, 1)
    ua, ub = np.nonzero(S)
    return full, _Links(ua, ub, S[ua, ub], n)


def _qap_chunk(payload, task):
    """Permuted cross-products sum(X_k * Y_pi) for the permutations of one chunk.

    ``Y_pi[a, b] = Y[pi(a), pi(b)]``, so ``sum X * Y_pi`` runs over the links
    ``(a, b)`` of ``Y`` with ``X`` read at ``(pinv(a), pinv(b))``; a symmetric
    ``X`` runs over the unordered pairs with weight ``Y_ab + Y_ba`` (fewer
    reads).  Matrix terms gather through one flat index shared by all of
    them, difference terms from their permuted vectors, sparse terms from
    ``Y``.
    """
    full, sym, Yd, terms, n = payload
    rng = task.rng()
    out = np.empty((task.size, len(terms)))
    groups = _term_groups(terms)
    for i in range(task.size):
        p = rng.permutation(n)
        pinv = np.empty(n, dtype=np.intp)
        pinv[p] = np.arange(n)
        for links, mats, diffs in ((full, *groups["full"]), (sym, *groups["sym"])):
            if mats:
                flat = links.rows_of(pinv * n)
                flat += pinv[links.b]
                for k in mats:
                    out[i, k] = links.v @ np.take(terms[k]._matrix().ravel(), flat)
            for k in diffs:  # |x[pinv a] - x[pinv b]|: permute the short vector once
                z = terms[k].x[pinv]
                d = links.rows_of(z)
                d -= z[links.b]
                out[i, k] = links.v @ np.abs(d, out=d)
        for k in groups["sparse"]:
            t = terms[k]
            out[i, k] = t.w @ Yd[p[t.r], p[t.c]]
        if groups["other"]:
            ra, rb = full.rows_of(pinv), pinv[full.b]
            for k in groups["other"]:
                out[i, k] = full.v @ terms[k].values(ra, rb)
    return out


def _term_groups(terms) -> dict:
    """Positions of the terms by how permutations evaluate them: (matrix, difference) over the full or
    the symmetric links, sparse, and other :class:`PairTerm` subclasses (through ``values``)."""
    g = {"full": ([], []), "sym": ([], []), "sparse": [], "other": []}
    for k, t in enumerate(terms):
        if isinstance(t, SparseTerm):
            g["sparse"].append(k)
        elif isinstance(t, DifferenceTerm):
            g["sym"][1].append(k)
        elif isinstance(t, GreatCircleTerm):
            g["sym"][0].append(k)
        elif isinstance(t, DenseTerm):
            g["sym" if t.symmetric else "full"][0].append(k)
        else:
            g["other"].append(k)
    return g


class QAPResults(Results):
    """QAP correlations and regression of one dependent network.

    Attributes
    ----------
    table : pandas.DataFrame
        ``kind`` (correlation or regression), ``term``, ``estimate`` (r or
        b), ``std_estimate`` (standardized b), ``p`` (two-sided: share of
        permutations with ``|stat| >= |observed|``, counting the observed),
        ``p_greater``, ``p_less``, ``r2``, ``adj_r2``, ``n_cells``,
        ``permutations``.
    draws : numpy.ndarray
        The permuted cross-products (permutations x terms).
    """

    def __init__(self, table, draws, options):
        self._set("table", table)
        self._set("draws", draws)
        self._set("options", dict(options))
        self._freeze()

    def summary(self) -> Summary:
        """The QAP table."""
        return Summary(
            title="QAP correlation and regression",
            facts={"permutations": self.options["permutations"]},
            tables={"QAP": object.__getattribute__(self, "table")},
            notes=("Y-permutation QAP (Krackhardt 1988): rows and columns of the dependent matrix permuted together",),
        )


def qap(
    Y, X: Mapping[str, np.ndarray], *, permutations: int = 999, seed=0, backend=None, chunk_size: int = 100
) -> QAPResults:
    """QAP correlation of ``Y`` with each ``X`` and QAP (Y-permutation) regression of ``Y`` on all of them.

    Off-diagonal cells only.  Each permutation ``pi`` (drawn with
    ``Generator.permutation(n)``) relabels the rows and columns of ``Y``
    together, ``Y_pi[i, j] = Y[pi(i), pi(j)]``; ``p = (1 + #{|s_pi| >=
    |s|}) / (1 + P)`` with a relative tolerance of 1e-12 on the comparison.
    The statistics of ``Y_pi`` need only the cross-products ``sum X_k
    Y_pi``, computed over the non-zero cells of ``Y``.  Permutations run in
    chunks on :mod:`nqpspatial.backends` (chunk ``i`` draws from the
    ``i``-th child of ``SeedSequence(seed)``).

    Parameters
    ----------
    Y : array_like, shape (n, n)
        Dependent matrix (e.g. the 0/1 network).
    X : mapping of str to array_like (n, n) or PairTerm
        Explanatory matrices: arrays, or :class:`PairTerm` objects
        (:class:`GreatCircleTerm`, :class:`DifferenceTerm`,
        :class:`SparseTerm`) that permutations evaluate without gathering
        from a dense matrix.
    permutations : int, default 999
    seed : int, SeedSequence or Generator
    backend : optional
        From :func:`nqpspatial.backends.open_backend`.
    chunk_size : int
        Permutations per chunk (fixed: results do not depend on the backend).

    Returns
    -------
    QAPResults
    """
    from nqpspatial.backends import run_chunks

    Y = np.asarray(Y, dtype=float)
    n = Y.shape[0]
    names = list(X)
    if not names:
        raise InputError("QAP needs at least one explanatory matrix")
    off = ~np.eye(n, dtype=bool)
    terms, Xs = [], []
    for k in names:
        t = X[k] if isinstance(X[k], PairTerm) else DenseTerm(X[k])
        M = t.dense()
        if M.shape != (n, n) or not np.isfinite(M[off]).all():
            raise InputError(f"QAP matrix {k!r} must be a finite ({n}, {n}) matrix")
        terms.append(t)
        Xs.append(M)
    Y = Y.copy()
    Y[~off] = 0.0
    m = n * (n - 1)
    sx = np.array([M.sum() for M in Xs])
    G = np.array([[(a * b).sum() for b in Xs] for a in Xs])  # X'X without the constant
    sy, syy = Y.sum(), (Y * Y).sum()
    if syy * m - sy * sy <= 0:
        raise InputError("QAP: the dependent matrix is constant off the diagonal")
    ea, eb = np.nonzero(Y)
    ev = Y[ea, eb]
    xy = np.array([ev @ M[ea, eb] for M in Xs])
    full, sym = _qap_links(Y)
    parts = run_chunks(
        _qap_chunk, (full, sym, Y, terms, n), int(permutations), seed=seed, chunk_size=chunk_size, backend=backend
    )
    draws = np.vstack(parts) if parts else np.empty((0, len(names)))
    vx = G.diagonal() - sx**2 / m
    K = len(names)
    XtX = np.empty((K + 1, K + 1))
    XtX[0, 0], XtX[0, 1:], XtX[1:, 0], XtX[1:, 1:] = m, sx, sx, G
    try:
        inv = np.linalg.inv(XtX)
    except np.linalg.LinAlgError:
        raise InputError(f"QAP regression: the explanatory matrices {names} are collinear") from None

    def stats(cross):  # cross: (..., K) -> correlations (..., K), betas (..., K+1)
        r = (cross - sx * sy / m) / np.sqrt(vx * (syy - sy * sy / m))
        rhs = np.concatenate([np.full(cross.shape[:-1] + (1,), sy), cross], axis=-1)
        return r, rhs @ inv.T

    r_obs, b_obs = stats(xy)
    r_perm, b_perm = stats(draws)

    def pvals(obs, perm):
        tol = 1e-12 * max(1.0, abs(obs))
        P = perm.shape[0]
        return (
            (1 + np.sum(np.abs(perm) >= abs(obs) - tol)) / (P + 1),
            (1 + np.sum(perm >= obs - tol)) / (P + 1),
            (1 + np.sum(perm <= obs + tol)) / (P + 1),
        )

    rss = syy - b_obs @ np.concatenate([[sy], xy])
    tss = syy - sy * sy / m
    r2 = 1.0 - rss / tss
    adj = 1.0 - (1.0 - r2) * (m - 1) / (m - K - 1)
    sd_x = np.sqrt(vx / (m - 1))
    sd_y = np.sqrt(tss / (m - 1))
    rows = []
    for k, name in enumerate(names):
        p, pg, pl = pvals(r_obs[k], r_perm[:, k])
        rows.append(
            {
                "kind": "correlation",
                "term": name,
                "estimate": r_obs[k],
                "std_estimate": r_obs[k],
                "p": p,
                "p_greater": pg,
                "p_less": pl,
                "r2": r_obs[k] ** 2,
                "adj_r2": np.nan,
            }
        )
    for k, name in enumerate(["intercept"] + names):
        p, pg, pl = pvals(b_obs[k], b_perm[:, k])
        std = b_obs[k] * sd_x[k - 1] / sd_y if k else np.nan
        rows.append(
            {
                "kind": "regression",
                "term": name,
                "estimate": b_obs[k],
                "std_estimate": std,
                "p": p,
                "p_greater": pg,
                "p_less": pl,
                "r2": r2,
                "adj_r2": adj,
            }
        )
    table = pd.DataFrame(rows).assign(n_cells=m, permutations=int(permutations))
    return QAPResults(table, draws, {"permutations": int(permutations), "terms": names})


# --------------------------------------------------------------------------- panel driver
class NetworkResults(Results):
    """Spatial association networks of a panel.

    Attributes
    ----------
    edges : pandas.DataFrame
        ``variable, year, from, to, gravity``: one row per link.
    structure : pandas.DataFrame
        ``variable, year, n, links, density, connectedness, hierarchy,
        efficiency, components, reciprocity``.
    nodes : pandas.DataFrame
        Per region: degrees, closeness and betweenness (detail years), block
        and role.
    blocks, block_density : pandas.DataFrame
        Block roles and block densities (detail years).
    qap : pandas.DataFrame
        QAP correlation and regression rows (detail years).
    options : dict
    """

    _TABLES = ("edges", "structure", "nodes", "blocks", "block_density", "qap")

    def __init__(self, tables: dict, options: dict):
        for k in self._TABLES:
            self._set(k, tables[k])
        self._set("options", dict(options))
        self._freeze()

    def summary(self) -> Summary:
        """Network structure per year and the QAP table."""
        o = object.__getattribute__(self, "options")
        tables = {"Network structure": object.__getattribute__(self, "structure")}
        q = object.__getattribute__(self, "qap")
        if len(q):
            tables["QAP"] = q
        return Summary(
            title="Spatial association network",
            facts={k: str(o[k]) for k in ("variables", "distance", "decay", "threshold")},
            tables=tables,
        )

    def __repr__(self) -> str:
        o = object.__getattribute__(self, "options")
        return f"<NetworkResults variables={o['variables']!r}>"


def _masses(g: pd.DataFrame, v: str, mass_columns: Sequence[str], y) -> np.ndarray:
    """Geometric mean of the variable and the extra mass columns (0 when any of them is 0)."""
    cols = [v, *mass_columns]
    vals = g[cols].to_numpy(float)
    if not np.isfinite(vals).all() or (vals < 0).any():
        raise InputError(f"gravity masses {cols} must be non-negative numbers: a missing or negative value in year {y}")
    return np.exp(np.log(np.where(vals > 0, vals, 1.0)).mean(axis=1)) * (vals > 0).all(axis=1)


def association_networks(
    data: pd.DataFrame,
    variables: Sequence[str],
    points: pd.DataFrame,
    *,
    region: str = "region",
    year: str = "year",
    decay: float = 2.0,
    distance: str = "great-circle",
    economic_column: str | None = None,
    mass_columns: Sequence[str] = (),
    threshold: str = "row-mean",
    years: Iterable | None = None,
    detail_years: Iterable | None = None,
    blocks: str = "concor",
    qap_matrices: Mapping[str, object] | None = None,
    permutations: int = 999,
    seed=0,
    backend=None,
) -> NetworkResults:
    """Build and analyse the association network of each variable per year.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year rows with the variables (and mass / economic columns).
    variables : sequence of str
        Variables whose networks are built (masses ``M_i`` of the gravity).
    points : pandas.DataFrame
        ``lon, lat`` by region (e.g. :func:`~nqpspatial.plugins.toolkit.centres.region_points`).
    region, year : str
        Column names.
    decay : float, default 2
        Distance-decay exponent.
    distance : {"great-circle", "economic"}
        Great-circle km, or great-circle km divided by the gap in
        ``economic_column`` (Liu, Liu & Sun 2015).
    economic_column : str, optional
        Column of the economic level (e.g. GDP per capita) for ``"economic"``.
    mass_columns : sequence of str
        Further masses: ``M_i`` is the geometric mean of the variable and
        these columns (e.g. population and GDP give the cube-root form).
    threshold : {"row-mean", "row-median", "global-mean"}
    years : iterable, optional
        Years whose networks are built and summarised (default all).
    detail_years : iterable, optional
        Years with the links, closeness, betweenness, blocks and QAP
        (default the last); degrees and the structure table cover every
        year.
    blocks : {"concor", "none"}
    qap_matrices : mapping, optional
        Explanatory matrices by name: an (n, n) array or :class:`PairTerm`,
        or a callable ``f(year_table, ids) -> array or PairTerm`` evaluated
        per year (``year_table`` sorted by region, ``ids`` its region ids).
        Empty: no QAP.
    permutations : int
    seed, backend
        Randomness and execution backend of the QAP permutations.

    Returns
    -------
    NetworkResults
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    if not variables:
        raise InputError("no variable given for the association network")
    if distance not in ("great-circle", "economic"):
        raise InputError(f'distance = {distance!r}: use "great-circle" or "economic"')
    if distance == "economic" and not economic_column:
        raise InputError('distance = "economic" needs economic_column (e.g. GDP per capita)')
    if blocks not in ("concor", "none"):
        raise InputError(f'blocks = {blocks!r}: use "concor" or "none"')
    need = [region, year, *variables, *mass_columns] + ([economic_column] if distance == "economic" else [])
    miss = [c for c in dict.fromkeys(need) if c not in data.columns]
    if miss:
        raise InputError(f"columns {miss} are not in the data")
    unknown = sorted(set(data[region]) - set(points.index), key=str)
    if unknown:
        raise InputError(f"regions {unknown[:10]} have no geometry")
    allyears = sorted(data[year].unique().tolist())
    years = allyears if years is None else [y for y in allyears if y in set(years)]
    detail = {years[-1]} if detail_years is None else set(detail_years) & set(years)
    qap_matrices = dict(qap_matrices or {})
    edges, summ, nodes, brows, drows, qrows = [], [], [], [], [], []
    rng = np.random.default_rng(seed if not isinstance(seed, np.random.Generator) else seed.integers(2**63))
    qap_seeds = {}
    cache: dict = {}
    for y in years:
        g = data[data[year] == y].sort_values(region, kind="stable")
        ids = g[region].tolist()
        if len(ids) != len(set(ids)):
            raise InputError(f"year {y}: a region appears twice")
        if cache.get("ids") != ids:
            cache = {
                "ids": ids,
                "D": great_circle_km(points.loc[ids, "lon"].to_numpy(float), points.loc[ids, "lat"].to_numpy(float)),
            }
        D = cache["D"]
        if distance == "economic":
            D = economic_distance(D, g[economic_column].to_numpy(float), ids)
        for v in variables:
            key = {"variable": v, year: y}
            M = _masses(g, v, mass_columns, y)
            Yg = gravity_matrix(M, D, decay=decay, share=g[v].to_numpy(float), ids=ids)
            A = binarize(Yg, threshold)
            summ.append({**key, **network_summary(A)})
            full = y in detail
            if full:
                src, dst = np.nonzero(A)
                edges.append(
                    pd.DataFrame(
                        {
                            **key,
                            "from": np.asarray(ids, dtype=object)[src],
                            "to": np.asarray(ids, dtype=object)[dst],
                            "gravity": Yg[src, dst],
                        }
                    )
                )
            nd, bt, bd = _nodes_and_blocks(A, ids, key, region, year, full and blocks == "concor", full)
            if bt is not None:
                brows.append(bt)
                drows.append(bd)
            nodes.append(nd)
            if full and qap_matrices:
                mats = {k: (f(g, ids) if callable(f) else f) for k, f in qap_matrices.items()}
                qap_seeds[(v, y)] = int(rng.integers(0, 2**31 - 1))
                qr = qap(A, mats, permutations=permutations, seed=qap_seeds[(v, y)], backend=backend)
                qrows.append(qr.table.assign(**key))
    first = ["variable", year]
    tables = {
        "edges": _cat(edges),
        "structure": pd.DataFrame(summ),
        "nodes": _cat(nodes),
        "blocks": _front(_cat(brows, ["block"]), first),
        "block_density": _front(_cat(drows, ["from_block"]), first),
        "qap": _front(_cat(qrows, ["kind"]), first),
    }
    opts = {
        "variables": variables,
        "distance": distance,
        "decay": decay,
        "threshold": threshold,
        "mass_columns": list(mass_columns),
        "economic_column": economic_column,
        "years": years,
        "detail_years": sorted(detail),
        "blocks": blocks,
        "permutations": int(permutations),
        "qap_seeds": {f"{k[0]}:{k[1]}": s for k, s in qap_seeds.items()},
        "region": region,
        "year": year,
    }
    return NetworkResults(tables, opts)


def _nodes_and_blocks(A, ids, key: dict, region: str, year: str, blocks: bool, paths: bool):
    """Region table of one network (with block and role when ``blocks``) and its block tables (or None)."""
    nd = centralities(A, ids, closeness=paths, betweenness=paths)
    nd.insert(0, year, key[year])
    nd.insert(0, "variable", key["variable"])
    nd = nd.rename(columns={"region": region})
    if not blocks:
        return nd, None, None
    lab = concor(A)
    bt, bd = block_roles(A, lab)
    nd["block"] = lab
    nd["role"] = bt.set_index("block").loc[lab, "role"].to_numpy()
    return nd, bt.assign(**key), bd.assign(**key)


def _cat(parts: list, cols=None) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def _front(tab: pd.DataFrame, first: list) -> pd.DataFrame:
    for c in first:
        if c not in tab.columns:
            tab[c] = pd.Series(dtype=object)
    return tab[first + [c for c in tab.columns if c not in first]]


# --------------------------------------------------------------------------- figure
def plot_network(
    results: NetworkResults,
    points: pd.DataFrame,
    geometry=None,
    *,
    variable: str | None = None,
    year=None,
    crs=None,
    ax=None,
    language: str = "en",
):
    """The association network of one variable and year drawn on the map.

    Parameters
    ----------
    results : NetworkResults
    points : pandas.DataFrame
        ``x, y`` (drawing coordinates, e.g. projected metres) by region.
    geometry : geopandas.GeoDataFrame, optional
        Boundaries underneath (re-projected to ``crs`` when given).
    variable, year : optional
        Default: the first variable and the last detail year.
    crs : optional
        CRS of ``points`` (to re-project ``geometry``).
    ax : matplotlib Axes, optional
    language : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    o = results.options
    Y = o["year"]
    variable = variable or o["variables"][0]
    year = year if year is not None else (o["detail_years"] or o["years"])[-1]
    e = results.edges
    e = e[(e["variable"] == variable) & (e[Y] == year)]
    nd = results.nodes
    nd = nd[(nd["variable"] == variable) & (nd[Y] == year)].set_index(o["region"])
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    if geometry is not None:
        (geometry.to_crs(crs) if crs is not None else geometry).plot(
            ax=ax, color="#f4f4f4", edgecolor="#bbbbbb", linewidth=0.3
        )
    a = points.loc[e["from"], ["x", "y"]].to_numpy(float)
    b = points.loc[e["to"], ["x", "y"]].to_numpy(float)
    alpha = 0.5 if len(e) < 500 else max(0.05, 150.0 / len(e))
    ax.add_collection(LineCollection(np.stack([a, b], axis=1), colors="#3060a0", linewidths=0.5, alpha=alpha, zorder=2))
    deg = nd.reindex(points.index)["degree"].fillna(0).to_numpy(float)
    size = 8 + 60 * deg / max(deg.max(), 1)
    ax.scatter(points["x"], points["y"], s=size, c="#c03030", zorder=3, edgecolors="white", linewidths=0.4)
    zh = language == "zh"
    ax.set_title(f"{variable} {year}: " + ("空间关联网络" if zh else "spatial association network"))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.autoscale_view()
    return fig
