"""Geometry for spatial weights: centroids and distances in kilometres, graphs from arrays.

Distances are always in kilometres: great-circle distances between
centroids for layers in geographic coordinates (the centroids themselves are
taken in an equal-area projection), Euclidean distances for projected
layers (converted from the layer's unit), never raw degrees.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import InputError

__all__ = [
    "EARTH_RADIUS_KM",
    "EQUAL_AREA",
    "require_geometry",
    "unit_km",
    "centroid_points",
    "pairwise_km",
    "knn_km",
    "pairs_within_km",
    "graph_from_coo",
    "graph_from_dense",
    "xyz",
    "vertex_contiguity",
]

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
EQUAL_AREA = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global (equal area)


def require_geometry(geometry, ids, who: str):
    if geometry is None:
        raise InputError(
            f"weights '{who}' needs region boundaries; set [geometry] source and id in the "
            "config (a GeoJSON, GeoPackage or Shapefile, or a bundled layer), or use a user "
            'matrix ("matrix:path=...")',
            source="config [spatial] weights",
        )
    missing = [i for i in ids if i not in geometry.index]
    if missing:
        raise InputError(
            f"the boundary layer has no geometry for region(s) {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}; add them to the boundary file or "
            "remove them from the panel",
            source="boundaries",
        )
    if geometry.crs is None:
        raise InputError(
            "the boundary layer has no coordinate reference system; set it (e.g. "
            "gdf.set_crs('EPSG:4326')) so that distances can be measured in km",
            source="boundaries",
        )
    return geometry.loc[list(ids)]


def unit_km(crs) -> float:
    try:
        factor = crs.axis_info[0].unit_conversion_factor
    except (AttributeError, IndexError):  # pragma: no cover - exotic CRS
        factor = 1.0
    return float(factor) / 1000.0


def centroid_points(geometry, ids) -> tuple[np.ndarray, bool]:
    """Centroid coordinates for distance computations.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame
        Indexed by region id, with a CRS.
    ids : sequence
        Regions, in the order wanted.

    Returns
    -------
    coords : numpy.ndarray, shape (n, 2)
        ``(lon, lat)`` in degrees when ``geographic`` (centroids computed in an
        equal-area projection and mapped back), else projected ``(x, y)`` in km.
    geographic : bool
        Whether distances are great-circle.
    """
    g = require_geometry(geometry, ids, "distance")
    gs = g.geometry
    if gs.crs.is_geographic:
        cent = gs.to_crs(EQUAL_AREA).centroid.to_crs(gs.crs)
        return np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()]), True
    cent = gs.centroid
    f = unit_km(gs.crs)
    return np.column_stack([cent.x.to_numpy() * f, cent.y.to_numpy() * f]), False


def xyz(lonlat: np.ndarray) -> np.ndarray:
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    return EARTH_RADIUS_KM * np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _chord_to_km(chord):
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / (2.0 * EARTH_RADIUS_KM), 0.0, 1.0))


def _km_to_chord(km):
    return 2.0 * EARTH_RADIUS_KM * np.sin(np.minimum(km, np.pi * EARTH_RADIUS_KM) / (2.0 * EARTH_RADIUS_KM))


def pairwise_km(coords: np.ndarray, geographic: bool) -> np.ndarray:
    """Dense matrix of distances in km between points from :func:`centroid_points`.

    Great-circle (haversine) distances when ``geographic``, Euclidean otherwise.
    """
    if geographic:
        lon = np.radians(coords[:, 0])[:, None]
        lat = np.radians(coords[:, 1])[:, None]
        a = np.sin((lat - lat.T) / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin((lon - lon.T) / 2) ** 2
        return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(-1))


def _tree_points(coords, geographic):
    return xyz(coords) if geographic else coords


def knn_km(coords, geographic, k):
    from scipy.spatial import cKDTree

    pts = _tree_points(coords, geographic)
    n = len(pts)
    if k >= n:
        raise InputError(
            f"knn: k={k} but there are only {n} regions; choose k < {n}", source="config [spatial] weights"
        )
    dist, idx = cKDTree(pts).query(pts, k=k + 1)
    # drop each point itself (it may not be first when points coincide)
    rows = np.arange(n)[:, None]
    self_mask = idx == rows
    keep = ~self_mask
    # when a point was not returned as its own neighbour, drop the farthest one
    no_self = ~self_mask.any(axis=1)
    keep[no_self, -1] = False
    idx = idx[keep].reshape(n, k)
    dist = dist[keep].reshape(n, k)
    if geographic:
        dist = _chord_to_km(dist)
    return dist, idx


def pairs_within_km(coords, geographic, threshold):
    from scipy.spatial import cKDTree

    pts = _tree_points(coords, geographic)
    tree = cKDTree(pts)
    radius = _km_to_chord(threshold) if geographic else threshold
    # a tiny relative tolerance so that a pair exactly at the threshold is kept
    d = tree.sparse_distance_matrix(tree, radius * (1 + 1e-12), output_type="coo_matrix")
    i, j, c = d.row, d.col, d.data
    off = i != j
    i, j, c = i[off], j[off], c[off]
    km = _chord_to_km(c) if geographic else c
    inside = km <= threshold * (1 + 1e-12)
    return i[inside], j[inside], km[inside]


def graph_from_coo(i, j, w, ids):
    from libpysal.graph import Graph

    n = len(ids)
    mat = sparse.csr_array((np.asarray(w, dtype=float), (np.asarray(i), np.asarray(j))), shape=(n, n))
    mat.sum_duplicates()
    mat.sort_indices()
    return Graph.from_sparse(mat, ids=np.asarray(list(ids), dtype=object) if _is_object(ids) else np.asarray(ids))


def _is_object(ids) -> bool:
    arr = np.asarray(list(ids))
    return arr.dtype.kind not in "iuf"


def graph_from_dense(mat, ids):
    mat = np.array(mat, dtype=float)
    np.fill_diagonal(mat, 0.0)
    i, j = np.nonzero(mat)
    return graph_from_coo(i, j, mat[i, j], ids)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int array by sorting (numpy's hash-based unique took 7 s on 4 million vertices)."""
    a = np.sort(a, kind="stable")
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


#: The last few contiguity results, keyed by the geometry objects themselves (shapely geometries are
#: immutable): the weights step and the zones stage ask for the same layer's queen links in one run.
_CONTIGUITY_CACHE: list = []
_CONTIGUITY_CACHE_SIZE = 4


def vertex_contiguity(geoms, rook: bool) -> tuple[np.ndarray, np.ndarray]:
    """Contiguity links by shared vertices (queen) or shared edges (rook), sorted by (i, j).

    The result for the same geometry objects in the same order is computed once: the last four
    results are kept with references to their geometries (compared by identity, so an equal but
    different layer is computed anew) and returned as copies.

    The links of libpysal's ``Graph.build_contiguity(geoms, rook=rook)`` (its default, non-strict
    vertex-set method: two polygons are queen neighbours when they share a vertex coordinate, rook
    neighbours when they share an edge between consecutive vertices of one part), computed by
    sorting instead of Python sets: time ``O(V log V)`` in the number of vertices ``V``.  Islands
    have no links.  ``tests/test_contiguity_fast.py`` compares the two on lattices, the provinces and
    (slow) the county layer.

    Parameters
    ----------
    geoms : geopandas.GeoSeries
        Polygons or multipolygons, in the order of the region ids.
    rook : bool

    Returns
    -------
    (i, j) : arrays of int
        Positions of linked regions, both directions, no self-links.
    """
    arr = np.asarray(geoms.geometry.array if hasattr(geoms, "geometry") else geoms, dtype=object)
    for key_rook, key_arr, i, j in _CONTIGUITY_CACHE:
        if key_rook == rook and len(key_arr) == len(arr) and all(a is b for a, b in zip(key_arr, arr)):
            return i.copy(), j.copy()
    i, j = _vertex_contiguity(arr, rook)
    _CONTIGUITY_CACHE.insert(0, (rook, arr.copy(), i, j))
    del _CONTIGUITY_CACHE[_CONTIGUITY_CACHE_SIZE:]
    return i.copy(), j.copy()


def _vertex_contiguity(arr: np.ndarray, rook: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`vertex_contiguity` of an object array of geometries, without the cache."""
    import pandas as pd
    import shapely

    verts, owner = shapely.get_coordinates(arr, return_index=True)
    vcode = _vertex_codes(verts)
    if rook:
        parts = shapely.get_parts(arr)
        _, part = shapely.get_coordinates(parts, return_index=True)
        ok = part[:-1] == part[1:]
        a, b = verts[:-1][ok], verts[1:][ok]
        ca, cb = vcode[:-1][ok], vcode[1:][ok]
        swap = (b[:, 0] < a[:, 0]) | ((b[:, 0] == a[:, 0]) & (b[:, 1] < a[:, 1]))
        lo, hi = np.where(swap, cb, ca), np.where(swap, ca, cb)
        code = pd.factorize(lo * (int(vcode.max()) + 1) + hi)[0]
        who = owner[:-1][ok]
    else:
        code, who = vcode, owner
    del verts, vcode
    n = int(owner.max()) + 1 if len(owner) else 0
    pairs = _sorted_unique(code.astype(np.int64) * n + who)
    del code, who, owner
    k, g = pairs // n, pairs % n
    del pairs
    gi, gj = _links_within_groups(k, g)  # each key's regions linked with each other
    del k, g
    ij = _sorted_unique(gi * max(n, 1) + gj)
    return ij // max(n, 1), ij % max(n, 1)


def _vertex_codes(verts: np.ndarray) -> np.ndarray:
    """An integer per vertex, equal exactly for equal coordinates (0.0 and -0.0 alike), by sorting.

    (Hashing the coordinates as complex numbers, as before, held about three times the memory.)
    """
    x = np.ascontiguousarray(verts[:, 0])
    y = np.ascontiguousarray(verts[:, 1])
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        np.not_equal(xs[1:], xs[:-1], out=new[1:])
        new[1:] |= ys[1:] != ys[:-1]
    del xs, ys
    code = np.empty(len(order), np.int64)
    code[order] = np.cumsum(new) - 1
    return code


def _links_within_groups(k: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed links between the owners ``g`` of each key ``k`` (sorted by k, then g; distinct within a key).

    Every ordered pair of distinct members of a key's group; a key of one owner gives none, a group of two
    (nearly every shared vertex of a boundary layer) its two links directly, without the rows x rows join
    of a self-merge.
    """
    if len(k) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    size = np.diff(np.r_[start, len(k)])
    s2 = start[size == 2]
    parts_i, parts_j = [g[s2], g[s2 + 1]], [g[s2 + 1], g[s2]]
    big = size > 2
    if big.any():
        st, sz = start[big], size[big]
        offsets = np.repeat(np.cumsum(sz) - sz, sz)
        local = np.arange(int(sz.sum())) - offsets  # position within the group
        gs = g[np.repeat(st, sz) + local]
        deg = np.repeat(sz, sz) - 1
        src = np.repeat(np.arange(len(gs)), deg)
        t = np.arange(len(src)) - np.repeat(np.cumsum(deg) - deg, deg)
        lsrc = local[src]
        partner = src - lsrc + t + (t >= lsrc)  # the group's other members, in order
        parts_i.append(gs[src])
        parts_j.append(gs[partner])
    return np.concatenate(parts_i), np.concatenate(parts_j)
