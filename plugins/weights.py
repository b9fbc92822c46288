"""Spatial weights builders (the ``nqpspatial.weights`` plugin kind).

Contract of a weights plugin
----------------------------
A weights plugin is a module-level object (registered under the
``nqpspatial.weights`` entry-point group) with

``name`` : str
    The name used in a specification, e.g. ``"knn"`` in ``"knn:k=5"``.
``params`` : dict
    Every accepted parameter with its default.  A specification naming any
    other key is refused with a :class:`~nqpspatial.errors.ConfigError`.
``needs`` : set of str
    A subset of ``{"geometry", "panel", "scheme"}``: the inputs ``build``
    reads.  The pipeline refuses to build it when one of them is missing.
``build(ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params)``
    Returns the *raw* (untransformed) :class:`libpysal.graph.Graph` over
    exactly ``ids``, in that order.  Regions without neighbours are encoded
    as libpysal does (a self-loop of weight 0); the island policy and the
    transformation are applied afterwards by :func:`build_weights`, never by
    the builder.  ``geometry`` is a GeoDataFrame indexed by region id,
    ``panel`` a long DataFrame with ``region`` and ``year`` columns and
    ``scheme`` a Series region id -> group.

Distances are always in kilometres: great-circle distances between
centroids for layers in geographic coordinates (the centroids themselves are
taken in an equal-area projection), Euclidean distances for projected
layers (converted from the layer's unit), never raw degrees.

Specifications
--------------
``"name"`` or ``"name:key=value,key=value"``; values are parsed as int,
float, bool (``true``/``false``), ``none`` or str.  The nested builder takes
a geographic specification as ``geo=<spec>``; separate the inner
parameters with ``;`` (``nested:phi=0.4,geo=inverse_distance:power=2;cutoff=1500``).

The public entry point is :func:`build_weights`, which returns a
:class:`SpatialWeights` results object.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from nqpspatial.errors import ConfigError, InputError, PluginError
from nqpspatial.results import Results, Summary

__all__ = [
    "SpatialWeights",
    "WeightsBuilder",
    "build_weights",
    "parse_spec",
    "spec_slug",
    "centroid_points",
    "pairwise_km",
    "boundary_nearest",
    "BUILDERS",
    "queen",
    "rook",
    "knn",
    "distance_band",
    "inverse_distance",
    "kernel",
    "economic",
    "nested",
    "block",
    "matrix",
]

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
ISLAND_POLICIES = ("nearest", "keep", "drop")
TRANSFORMS = ("r", "b", "o", "d", "v")
_EQUAL_AREA = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global (equal area)


# --------------------------------------------------------------------------
# specification parsing
# --------------------------------------------------------------------------

def _parse_value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_spec(spec: str) -> tuple[str, dict]:
    """Split a weights specification into a builder name and parameters.

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:key=value,key=value"``.

    Returns
    -------
    name : str
    params : dict
        Values parsed as int, float, bool, None or str.

    Raises
    ------
    ConfigError
        Empty name or a pair without ``=``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"weights specification {spec!r} is empty; write e.g. \"queen\" or \"knn:k=5\"",
                          source="config [spatial] weights")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    params: dict[str, Any] = {}
    if rest.strip():
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ConfigError(
                    f"weights specification {spec!r}: {part!r} is not a key=value pair; "
                    "write e.g. \"knn:k=5\"", source="config [spatial] weights")
            params[key.strip()] = _parse_value(value)
    return name, params


def spec_slug(spec: str) -> str:
    """File-name slug of a specification: letters, digits and ``_`` only.

    ``"knn:k=5"`` -> ``"knn_k_5"``; ``"distance_band:threshold=250.5"`` ->
    ``"distance_band_threshold_250_5"``.
    """
    slug = re.sub(r"[^0-9A-Za-z]+", "_", spec.strip())
    return slug.strip("_") or "weights"


def _nearest(word: str, choices) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.0)
    return match[0] if match else ""


# --------------------------------------------------------------------------
# geometry helpers (kilometres)
# --------------------------------------------------------------------------

def _require_geometry(geometry, ids, who: str):
    if geometry is None:
        raise InputError(f"weights '{who}' needs region boundaries; set [geometry] source and id in the "
                         "config (a GeoJSON, GeoPackage or Shapefile, or a bundled layer), or use a user "
                         "matrix (\"matrix:path=...\")", source="config [spatial] weights")
    missing = [i for i in ids if i not in geometry.index]
    if missing:
        raise InputError(f"the boundary layer has no geometry for region(s) {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}; add them to the boundary file or "
                         "remove them from the panel", source="boundaries")
    if geometry.crs is None:
        raise InputError("the boundary layer has no coordinate reference system; set it (e.g. "
                         "gdf.set_crs('EPSG:4326')) so that distances can be measured in km",
                         source="boundaries")
    return geometry.loc[list(ids)]


def _unit_km(crs) -> float:
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
    g = _require_geometry(geometry, ids, "distance")
    gs = g.geometry
    if gs.crs.is_geographic:
        cent = gs.to_crs(_EQUAL_AREA).centroid.to_crs(gs.crs)
        return np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()]), True
    cent = gs.centroid
    f = _unit_km(gs.crs)
    return np.column_stack([cent.x.to_numpy() * f, cent.y.to_numpy() * f]), False


def _xyz(lonlat: np.ndarray) -> np.ndarray:
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
        a = (np.sin((lat - lat.T) / 2) ** 2
             + np.cos(lat) * np.cos(lat.T) * np.sin((lon - lon.T) / 2) ** 2)
        return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def _tree_points(coords, geographic):
    return _xyz(coords) if geographic else coords


def _knn_km(coords, geographic, k):
    from scipy.spatial import cKDTree

    pts = _tree_points(coords, geographic)
    n = len(pts)
    if k >= n:
        raise InputError(f"knn: k={k} but there are only {n} regions; choose k < {n}",
                         source="config [spatial] weights")
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


def _pairs_within_km(coords, geographic, threshold):
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


def _graph_from_coo(i, j, w, ids):
    from libpysal.graph import Graph

    n = len(ids)
    mat = sparse.csr_array((np.asarray(w, dtype=float), (np.asarray(i), np.asarray(j))), shape=(n, n))
    mat.sum_duplicates()
    mat.sort_indices()
    return Graph.from_sparse(mat, ids=np.asarray(list(ids), dtype=object) if _is_object(ids) else np.asarray(ids))


def _is_object(ids) -> bool:
    arr = np.asarray(list(ids))
    return arr.dtype.kind not in "iuf"


def _graph_from_dense(mat, ids):
    mat = np.array(mat, dtype=float)
    np.fill_diagonal(mat, 0.0)
    i, j = np.nonzero(mat)
    return _graph_from_coo(i, j, mat[i, j], ids)


def boundary_nearest(geometry, ids, island, candidates: int = 50) -> tuple[Any, float]:
    """Nearest other region of ``island`` by boundary (polygon-to-polygon) distance.

    Distances are measured in an azimuthal equidistant projection centred on
    the island (geographic layers) or in the layer's own projected CRS.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame
        Indexed by region id, with a CRS.
    ids : sequence
        Candidate regions (the island itself is skipped).
    island : hashable
        The island's region id.
    candidates : int
        For layers above this size only the ``candidates`` nearest regions by
        centroid (and every region whose bounding box is nearer than the
        farthest of them) are measured.

    Returns
    -------
    neighbor : hashable
        Region id of the nearest region.
    km : float
        Boundary distance in km (0 when they touch).
    """
    g = _require_geometry(geometry, ids, "island policy 'nearest'")
    gs = g.geometry
    others = [i for i in ids if i != island]
    if not others:
        raise InputError("island policy 'nearest' needs at least two regions", source="config [spatial] islands")
    if gs.crs.is_geographic:
        c = gs.loc[[island]].to_crs(_EQUAL_AREA).centroid.to_crs(gs.crs).iloc[0]
        crs = f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m +no_defs"
        factor = 1.0 / 1000.0
    else:
        crs = gs.crs
        factor = _unit_km(gs.crs)
    sub = gs.loc[others]
    if len(others) > candidates:
        coords, geo = centroid_points(geometry, [island] + others)
        if geo:
            xyz = _xyz(coords)
            dist = np.sqrt(((xyz[1:] - xyz[0]) ** 2).sum(1))
        else:
            dist = np.sqrt(((coords[1:] - coords[0]) ** 2).sum(1))
        order = np.argsort(dist, kind="stable")[:candidates]
        sub = sub.iloc[np.sort(order)]
    proj = sub.to_crs(crs)
    isl = gs.loc[[island]].to_crs(crs).iloc[0]
    dist_km = proj.distance(isl).to_numpy() * factor
    pos = int(np.argmin(dist_km))
    return sub.index[pos], float(dist_km[pos])


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------

class WeightsBuilder:
    """Base class of the first-party weights builders (see the module doc).

    Subclasses set ``name``, ``params``, ``needs`` and implement ``build``.
    """

    name: str = ""
    params: dict = {}
    needs: frozenset = frozenset()
    description: str = ""

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year",
              **params):  # pragma: no cover - abstract
        """Return the raw :class:`libpysal.graph.Graph` over ``ids``."""
        raise NotImplementedError

    def _params(self, params: Mapping) -> dict:
        unknown = [k for k in params if k not in self.params]
        if unknown:
            k = unknown[0]
            accepted = ", ".join(self.params) or "(none)"
            hint = _nearest(k, self.params)
            raise ConfigError(f"weights '{self.name}' has no parameter '{k}'"
                              + (f" (did you mean '{hint}'?)" if hint else "")
                              + f"; accepted: {accepted}", source="config [spatial] weights")
        out = dict(self.params)
        out.update(params)
        return out

    def __repr__(self) -> str:
        return f"<weights builder {self.name!r}>"


class _Contiguity(WeightsBuilder):
    needs = frozenset({"geometry"})
    params: dict = {}

    def __init__(self, rook: bool):
        self.rook = rook
        self.name = "rook" if rook else "queen"
        self.description = ("regions sharing an edge" if rook else "regions sharing an edge or a vertex")

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Binary contiguity graph (libpysal ``Graph.build_contiguity``)."""
        from libpysal.graph import Graph

        self._params(params)
        g = _require_geometry(geometry, ids, self.name)
        gs = g.geometry.reset_index(drop=True)
        graph = Graph.build_contiguity(gs, rook=self.rook)
        mat = graph.sparse
        mat = sparse.csr_array(mat)
        i, j = mat.nonzero()
        return _graph_from_coo(i, j, np.ones(len(i)), ids)


class _KNN(WeightsBuilder):
    name = "knn"
    params = {"k": 5}
    needs = frozenset({"geometry"})
    description = "the k nearest regions by centroid distance (binary, asymmetric)"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Binary k-nearest-neighbour graph on centroid distances in km."""
        p = self._params(params)
        k = p["k"]
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"knn: k must be a positive integer, got {k!r}", source="config [spatial] weights")
        coords, geo = centroid_points(geometry, ids)
        _, idx = _knn_km(coords, geo, k)
        n = len(ids)
        return _graph_from_coo(np.repeat(np.arange(n), k), idx.ravel(), np.ones(n * k), ids)


def _positive(name, key, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"weights '{name}': {key} must be a positive number (km where a distance), "
                          f"got {value!r}", source="config [spatial] weights")
    return float(value)


class _DistanceBand(WeightsBuilder):
    name = "distance_band"
    params = {"threshold": None}
    needs = frozenset({"geometry"})
    description = "binary: regions whose centroids are within `threshold` km"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Binary distance-band graph; ``threshold`` in km (default: the smallest
        band that gives every region a neighbour)."""
        p = self._params(params)
        coords, geo = centroid_points(geometry, ids)
        thr = _positive(self.name, "threshold", p["threshold"], allow_none=True)
        if thr is None:
            d1, _ = _knn_km(coords, geo, 1)
            thr = float(d1.max())
        i, j, _ = _pairs_within_km(coords, geo, thr)
        return _graph_from_coo(i, j, np.ones(len(i)), ids)


class _InverseDistance(WeightsBuilder):
    name = "inverse_distance"
    params = {"power": 1.0, "cutoff": None}
    needs = frozenset({"geometry"})
    description = "w_ij = d_ij^-power (d in km), optionally zero beyond `cutoff` km"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Inverse-distance graph, ``w_ij = d_ij ** -power`` for ``d_ij <= cutoff`` (km)."""
        p = self._params(params)
        power = _positive(self.name, "power", p["power"])
        cutoff = _positive(self.name, "cutoff", p["cutoff"], allow_none=True)
        coords, geo = centroid_points(geometry, ids)
        if cutoff is None:
            d = pairwise_km(coords, geo)
            np.fill_diagonal(d, np.inf)
            if np.any(d == 0):
                raise InputError("inverse_distance: two regions have the same centroid (distance 0 km); "
                                 "fix the boundaries or use another weights builder", source="boundaries")
            w = d ** -power
            np.fill_diagonal(w, 0.0)
            return _graph_from_dense(w, ids)
        i, j, km = _pairs_within_km(coords, geo, cutoff)
        if np.any(km == 0):
            raise InputError("inverse_distance: two regions have the same centroid (distance 0 km)",
                             source="boundaries")
        return _graph_from_coo(i, j, km ** -power, ids)


_KERNELS = ("triangular", "parabolic", "gaussian", "bisquare", "cosine", "exponential", "boxcar")


class _Kernel(WeightsBuilder):
    name = "kernel"
    params = {"kernel": "triangular", "bandwidth": None, "k": None}
    needs = frozenset({"geometry"})
    description = ("kernel K(d_ij / h) of centroid distances in km; fixed bandwidth h (km) or "
                   "adaptive h_i = distance to the k-th nearest region")

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Kernel graph using ``libpysal.kernels.kernel`` on distances in km.

        ``bandwidth`` (km) gives a fixed bandwidth; otherwise the bandwidth of
        region i is its distance to its ``k``-th nearest region (default k = 5)
        times 1 + 1e-7, and only those k regions are neighbours.  Self-weights
        are excluded.
        """
        from libpysal.kernels import kernel as lps_kernel

        p = self._params(params)
        kern = p["kernel"]
        if kern not in _KERNELS:
            raise ConfigError(f"kernel: unknown kernel {kern!r} (did you mean '{_nearest(str(kern), _KERNELS)}'?); "
                              f"accepted: {', '.join(_KERNELS)}", source="config [spatial] weights")
        bw = _positive(self.name, "bandwidth", p["bandwidth"], allow_none=True)
        k = p["k"]
        if bw is not None and k is not None:
            raise ConfigError("kernel: give either bandwidth (fixed, km) or k (adaptive), not both",
                              source="config [spatial] weights")
        coords, geo = centroid_points(geometry, ids)
        n = len(ids)
        if bw is not None:
            d = pairwise_km(coords, geo)
            w = lps_kernel(d, bw, kernel=kern, taper=True, decay=False)
            return _graph_from_dense(w, ids)
        k = 5 if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"kernel: k must be a positive integer, got {k!r}", source="config [spatial] weights")
        dist, idx = _knn_km(coords, geo, k)
        h = dist[:, -1] * (1 + 1e-7)
        w = lps_kernel(dist / h[:, None], 1.0, kernel=kern, taper=True, decay=False)
        return _graph_from_coo(np.repeat(np.arange(n), k), idx.ravel(), np.asarray(w).ravel(), ids)


def _region_means(panel, ids, variable, region, year, who):
    if panel is None:
        raise InputError(f"weights '{who}' needs the panel", source="config [spatial] weights")
    if variable is None:
        cols = [c for c in panel.columns if c not in (region, year)]
        raise ConfigError(f"weights '{who}' needs variable=<panel column>, e.g. \"{who}:variable={cols[0] if cols else 'gdp_pc'}\"; "
                          f"available: {', '.join(map(str, cols))}", source="config [spatial] weights")
    if variable not in panel.columns:
        cols = [c for c in panel.columns if c not in (region, year)]
        raise ConfigError(f"weights '{who}': variable '{variable}' is not a panel column"
                          f" (did you mean '{_nearest(str(variable), cols)}'?); available: "
                          f"{', '.join(map(str, cols))}", source="config [spatial] weights")
    vals = pd.to_numeric(panel[variable], errors="coerce")
    if vals.isna().any():
        bad = panel.loc[vals.isna(), [region, year]].head(5).to_dict("records")
        raise InputError(f"weights '{who}': column '{variable}' has missing or non-numeric cells, e.g. {bad}; "
                         "fill them or choose another variable", source="panel")
    means = vals.groupby(panel[region].to_numpy()).mean()
    missing = [i for i in ids if i not in means.index]
    if missing:
        raise InputError(f"weights '{who}': region(s) {missing[:10]} have no rows in the panel",
                         source="panel")
    return means.reindex(list(ids)).to_numpy(dtype=float)


def economic_matrix(xbar: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense economic-distance weights ``1 / |xbar_i - xbar_j|`` (zero diagonal).

    Tied pairs (``xbar_i == xbar_j``, i != j) get the largest finite weight
    of the matrix, ``1 / min positive |xbar_i - xbar_j|``.

    Returns
    -------
    W : numpy.ndarray
    ties : int
        Number of tied ordered pairs.
    """
    x = np.asarray(xbar, dtype=float)
    diff = np.abs(x[:, None] - x[None, :])
    off = ~np.eye(len(x), dtype=bool)
    pos = diff[off & (diff > 0)]
    if pos.size == 0:
        raise InputError("economic weights: the variable has the same period mean in every region; "
                         "choose a variable that differs between regions", source="panel")
    ties = off & (diff == 0)
    with np.errstate(divide="ignore"):
        w = np.where(off, 1.0 / diff, 0.0)
    w[ties] = 1.0 / pos.min()
    return w, int(ties.sum())


class _Economic(WeightsBuilder):
    name = "economic"
    params = {"variable": None}
    needs = frozenset({"panel"})
    description = "w_ij = 1 / |xbar_i - xbar_j|, xbar = the region's mean of `variable` over the period"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Dense economic-distance graph (see :func:`economic_matrix`)."""
        p = self._params(params)
        xbar = _region_means(panel, ids, p["variable"], region, year, self.name)
        w, _ = economic_matrix(xbar)
        return _graph_from_dense(w, ids)


def _row_standardize(mat: np.ndarray) -> np.ndarray:
    rs = mat.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(rs > 0, mat / np.where(rs > 0, rs, 1.0), 0.0)
    return out


class _Nested(WeightsBuilder):
    name = "nested"
    params = {"phi": 0.5, "geo": "inverse_distance", "variable": None}
    needs = frozenset({"geometry", "panel"})
    description = "phi * W_geo + (1 - phi) * W_econ, both row-standardized first"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Nested economic-geographic graph ``phi W_geo + (1 - phi) W_econ``."""
        p = self._params(params)
        phi = p["phi"]
        if isinstance(phi, bool) or not isinstance(phi, (int, float)) or not 0 <= phi <= 1:
            raise ConfigError(f"nested: phi must be in [0, 1], got {phi!r}", source="config [spatial] weights")
        geo_spec = str(p["geo"]).replace(";", ",")
        gname, gparams = parse_spec(geo_spec)
        if gname in ("nested", "economic"):
            raise ConfigError(f"nested: geo must be a geographic weights builder, got '{gname}'",
                              source="config [spatial] weights")
        gb = _get_builder(gname)
        geo_graph = gb.build(ids, geometry=geometry, panel=panel, scheme=scheme, region=region, year=year,
                             **_builder_params(gb, gparams))
        wg = _row_standardize(geo_graph.sparse.toarray())
        xbar = _region_means(panel, ids, p["variable"], region, year, self.name)
        we, _ = economic_matrix(xbar)
        we = _row_standardize(we)
        return _graph_from_dense(phi * wg + (1 - phi) * we, ids)


def _builder_params(builder, params):
    """Validate ``params`` against ``builder.params`` (first-party builders) and return them."""
    if isinstance(builder, WeightsBuilder):
        builder._params(params)
    else:
        _check_params(builder, params)
    return params


class _Block(WeightsBuilder):
    name = "block"
    params: dict = {}
    needs = frozenset({"scheme"})
    description = "binary: regions in the same group of the region scheme"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Block graph: w_ij = 1 when i and j (i != j) are in the same scheme group."""
        self._params(params)
        if scheme is None:
            raise InputError("weights 'block' needs a region scheme; set [regions] scheme to a bundled "
                             "scheme (e.g. \"eight-zones\") or a CSV with columns region and group",
                             source="config [spatial] weights")
        missing = [i for i in ids if i not in scheme.index]
        if missing:
            raise InputError(f"weights 'block': region(s) {missing[:10]} have no group in the region scheme",
                             source="region scheme")
        groups = scheme.reindex(list(ids)).to_numpy()
        codes = pd.factorize(groups)[0]
        same = codes[:, None] == codes[None, :]
        return _graph_from_dense(same.astype(float), ids)


class _Matrix(WeightsBuilder):
    name = "matrix"
    params = {"path": None}
    needs: frozenset = frozenset()
    description = "a user matrix: CSV (focal, neighbor, weight), GAL or GWT file"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year",
              base_dir=None, **params):
        """Read a user weights file; ids not in the file become islands.

        Raises
        ------
        InputError
            Missing file, bad columns, ids not among the panel's regions,
            negative or missing weights.
        """
        p = self._params(params)
        path = p["path"]
        if not path:
            raise ConfigError("matrix: give path=<file> (CSV focal,neighbor,weight / .gal / .gwt)",
                              source="config [spatial] weights")
        fp = Path(str(path))
        if not fp.is_absolute() and base_dir is not None:
            fp = Path(base_dir) / fp
        if not fp.exists():
            raise InputError(f"weights file {fp} does not exist; check matrix:path (relative to the "
                             "config file's folder)", source=str(fp))
        suffix = fp.suffix.lower()
        if suffix in (".gal", ".gwt"):
            from libpysal.graph import read_gal, read_gwt

            try:
                g = read_gal(fp) if suffix == ".gal" else read_gwt(fp)
            except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
                raise InputError(f"cannot read weights file: {exc}; check its format", source=str(fp)) from exc
            adj = g.adjacency.reset_index()
            adj = adj[adj["focal"] != adj["neighbor"]]
            table = adj.rename(columns={"focal": "focal", "neighbor": "neighbor"})
        elif suffix in (".csv", ".txt"):
            from nqpspatial.io import read_table

            table = read_table(fp, what="weights matrix")
            need = {"focal", "neighbor", "weight"}
            if not need.issubset(table.columns):
                raise InputError(f"weights CSV needs columns focal, neighbor, weight; found "
                                 f"{', '.join(map(str, table.columns))}", source=str(fp))
        else:
            raise InputError(f"unknown weights file type '{suffix}'; use .csv, .gal or .gwt", source=str(fp))
        wts = pd.to_numeric(table["weight"], errors="coerce")
        bad = wts.isna() | (wts < 0)
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()[:10]
            raise InputError(f"weights must be non-negative numbers; bad rows (file lines) {rows}", source=str(fp))
        lookup = {str(i): i for i in ids}
        lookup.update({i: i for i in ids})

        def _map(col):
            out, unknown = [], []
            for v in table[col].tolist():
                key = v if v in lookup else str(v).strip()
                if key not in lookup and isinstance(v, float) and float(v).is_integer():
                    key = str(int(v))
                if key in lookup:
                    out.append(lookup[key])
                else:
                    unknown.append(v)
            if unknown:
                raise InputError(f"column '{col}' names region(s) {unknown[:10]} that are not in the panel; "
                                 "fix the ids (they must equal the panel's region ids)", source=str(fp))
            return out

        focal, neigh = _map("focal"), _map("neighbor")
        pos = {i: k for k, i in enumerate(ids)}
        fi = np.array([pos[f] for f in focal], dtype=int)
        nj = np.array([pos[v] for v in neigh], dtype=int)
        w = wts.to_numpy(dtype=float)
        off = fi != nj
        return _graph_from_coo(fi[off], nj[off], w[off], ids)


queen = _Contiguity(rook=False)
rook = _Contiguity(rook=True)
knn = _KNN()
distance_band = _DistanceBand()
inverse_distance = _InverseDistance()
kernel = _Kernel()
economic = _Economic()
nested = _Nested()
block = _Block()
matrix = _Matrix()

BUILDERS: dict[str, WeightsBuilder] = {b.name: b for b in
                                       (queen, rook, knn, distance_band, inverse_distance, kernel,
                                        economic, nested, block, matrix)}


def _find_plugin(kind: str, name: str, first_party: Mapping[str, Any], unknown):
    """Look a plugin up: the registry first, then the first-party ones in ``first_party``.

    A ``PluginError`` from the registry propagates; a name neither knows raises
    ``unknown(known)``, where ``known`` holds the first-party names, then the registry's.
    """
    try:
        from nqpspatial import registry  # type: ignore[attr-defined]
    except ImportError:
        registry = None
    known = dict.fromkeys(first_party)
    if registry is not None and hasattr(registry, "get"):
        try:
            return registry.get(kind, name)
        except PluginError:
            raise
        except Exception:  # noqa: BLE001 - unknown to the registry: try the first-party list
            try:
                known.update(dict.fromkeys(registry.names(kind)))
            except Exception:  # noqa: BLE001
                pass
    if name not in first_party:
        raise unknown(known)
    return first_party[name]


def _get_builder(name: str):
    """Look a weights builder up (registry first, then the first-party ones)."""
    return _find_plugin("weights", name, BUILDERS, lambda known: ConfigError(
        f"unknown weights builder '{name}' (did you mean '{_nearest(name, known)}'?); "
        f"available: {', '.join(map(str, known))}", source="config [spatial] weights"))


def _check_params(builder, params):
    accepted = dict(getattr(builder, "params", {}) or {})
    for k in params:
        if k not in accepted:
            hint = _nearest(k, accepted)
            raise ConfigError(f"weights '{getattr(builder, 'name', builder)}' has no parameter '{k}'"
                              + (f" (did you mean '{hint}'?)" if hint else "")
                              + f"; accepted: {', '.join(accepted) or '(none)'}",
                              source="config [spatial] weights")


# --------------------------------------------------------------------------
# SpatialWeights and build_weights
# --------------------------------------------------------------------------

def _graph_table(graph) -> pd.DataFrame:
    adj = graph.adjacency.reset_index()
    adj = adj[~((adj["focal"] == adj["neighbor"]) & (adj["weight"] == 0))]
    return adj[["focal", "neighbor", "weight"]].reset_index(drop=True)


class SpatialWeights(Results):
    """A spatial weights matrix built from a specification.

    Attributes
    ----------
    graph : libpysal.graph.Graph
        The transformed graph used by the statistics, over :attr:`ids`.
    raw_graph : libpysal.graph.Graph
        The graph after the island policy, before the transformation.
    spec : str
        The specification as given (e.g. ``"knn:k=5"``).
    name : str
        The builder's name.
    params : dict
        The parameters used (defaults filled in).
    slug : str
        File-name slug (e.g. ``"knn_k_5"``).
    transform : str
        libpysal transformation code applied (``"r"`` by default).
    island_policy : str
        ``"nearest"``, ``"keep"`` or ``"drop"``.
    islands : tuple
        Region ids without neighbours in the builder's raw graph.
    links : pandas.DataFrame
        Links added by the ``nearest`` policy: ``island, neighbor, km``.
    ids : tuple
        Regions of :attr:`graph`, in order (``drop`` removes the islands).
    table : pandas.DataFrame
        ``focal, neighbor, weight`` of :attr:`graph` (the ``weights_<slug>`` table).
    summary_row : dict
        ``name, n, islands, island_policy, mean_neighbors, components`` plus
        ``slug, transform, island_ids, dropped``.
    """

    def __init__(self, *, graph, raw_graph, spec, name, params, transform, island_policy, islands, links,
                 ids, notes=()):
        self.graph = graph
        self.raw_graph = raw_graph
        self.spec = spec
        self.name = name
        self.params = dict(params)
        self.slug = spec_slug(spec)
        self.transform = transform
        self.island_policy = island_policy
        self.islands = tuple(islands)
        self.links = links
        self.ids = tuple(ids)
        self.notes = tuple(notes)
        card = np.asarray(graph.cardinalities.to_numpy(), dtype=float)
        self.summary_row = {
            "name": spec,
            "n": int(graph.n),
            "islands": len(self.islands),
            "island_policy": island_policy,
            "mean_neighbors": float(card.mean()) if len(card) else float("nan"),
            "components": int(graph.n_components),
            "slug": self.slug,
            "transform": transform,
            "island_ids": ";".join(map(str, self.islands)),
            "dropped": ";".join(map(str, self.islands)) if island_policy == "drop" else "",
        }
        self._freeze()

    @property
    def table(self) -> pd.DataFrame:
        """``focal, neighbor, weight`` rows of the transformed graph (no isolate self-loops)."""
        return _graph_table(self.graph)

    def summary(self) -> Summary:
        """Key facts: size, islands and how they were handled, mean neighbours, components."""
        facts = dict(self.summary_row)
        tables = {}
        if len(self.links):
            tables["island links (nearest by boundary distance)"] = self.links
        return Summary(title=f"Spatial weights {self.spec}", facts=facts, tables=tables, notes=self.notes)


def _parse_and_get(spec):
    name, params = parse_spec(spec)
    builder = _get_builder(name)
    if isinstance(builder, WeightsBuilder):
        full = builder._params(params)
    else:
        _check_params(builder, params)
        full = dict(getattr(builder, "params", {}) or {})
        full.update(params)
    return name, params, full, builder


#: Builders that form a dense N x N matrix (its size is checked against the machine's memory first).
_DENSE = ("inverse_distance", "kernel", "economic", "nested", "block")


def build_weights(spec: str, ids, *, geometry=None, panel=None, scheme=None, islands: str = "nearest",
                  transform: str = "r", region: str = "region", year: str = "year",
                  base_dir=None) -> SpatialWeights:
    """Build spatial weights from a specification string.

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:key=value,..."``, e.g. ``"queen"``, ``"knn:k=5"``,
        ``"economic:variable=gdp_pc"``.
    ids : sequence
        Region ids, in the order of the graph.
    geometry : geopandas.GeoDataFrame, optional
        Boundaries indexed by region id (needed by geographic builders and by
        the ``nearest`` island policy).
    panel : pandas.DataFrame, optional
        Long panel with ``region`` and ``year`` columns (economic, nested).
    scheme : pandas.Series, optional
        Region id -> group (block).
    islands : {"nearest", "keep", "drop"}
        What to do with regions that have no neighbour: link each to its
        nearest region by boundary distance (both directions), keep them
        isolated (zero lag; local statistics label them ``isolated``), or
        drop them from the weights (statistics then run on the other regions
        and the dropped ids are listed in ``weights_summary``).
    transform : str, default "r"
        libpysal transformation: ``r`` row-standardized, ``b`` binary,
        ``o`` original, ``d`` doubly standardized, ``v`` variance stabilizing.
    region, year : str
        Column names in ``panel``.
    base_dir : path, optional
        Folder that relative ``matrix:path=`` values are resolved against.

    Returns
    -------
    SpatialWeights

    Raises
    ------
    ConfigError
        Unknown builder, parameter, island policy or transform.
    InputError
        Missing inputs for the builder (boundaries, panel column, scheme).
    """
    if islands not in ISLAND_POLICIES:
        raise ConfigError(f"islands = {islands!r} is not a policy (did you mean '{_nearest(str(islands), ISLAND_POLICIES)}'?); "
                          f"use one of {', '.join(ISLAND_POLICIES)}", source="config [spatial] islands")
    t = str(transform).lower()
    if t not in TRANSFORMS:
        raise ConfigError(f"transform = {transform!r} is not a libpysal transformation; use one of "
                          f"{', '.join(TRANSFORMS)}", source="config [spatial] transform")
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise InputError("region ids passed to the weights builder are not unique", source="panel")
    name, given, full, builder = _parse_and_get(spec)
    if name in _DENSE and not (name == "inverse_distance" and given.get("cutoff") is not None):
        from nqpspatial.resources import check_dense

        check_dense(len(ids), key=f"[spatial] weights = {spec!r}",
                    fix="Use a sparse builder (queen, rook, knn, distance_band, or inverse_distance with cutoff=...).")
    kwargs = dict(geometry=geometry, panel=panel, scheme=scheme, region=region, year=year)
    if name == "matrix" and isinstance(builder, _Matrix):
        kwargs["base_dir"] = base_dir
    raw = builder.build(ids, **kwargs, **given)
    raw_ids = list(raw.unique_ids)
    if raw_ids != ids:
        raise PluginError(f"weights builder '{name}' returned a graph over different ids or order than "
                          "requested (contract: exactly `ids`, in that order)")
    found = [i for i in ids if i in set(raw.isolates)]
    notes = []
    links = pd.DataFrame({"island": pd.Series([], dtype=object), "neighbor": pd.Series([], dtype=object),
                          "km": pd.Series([], dtype=float)})
    graph_raw = raw
    kept_ids = ids
    if found:
        if islands == "nearest":
            if geometry is None:
                raise InputError(f"weights '{spec}' leaves region(s) {found[:10]} without neighbours and the "
                                 "island policy 'nearest' needs boundaries to find their nearest region; give "
                                 "boundaries or set [spatial] islands = \"keep\" or \"drop\"",
                                 source="config [spatial] islands")
            rows = []
            for isl in found:
                nb, km = boundary_nearest(geometry, ids, isl)
                rows.append((isl, nb, km))
            links = pd.DataFrame(rows, columns=["island", "neighbor", "km"])
            graph_raw = _link_islands(raw, ids, rows)
            notes.append("islands linked to their nearest region by boundary distance: "
                         + ", ".join(f"{a}-{b} ({km:.1f} km)" for a, b, km in rows))
        elif islands == "drop":
            kept_ids = [i for i in ids if i not in set(found)]
            if len(kept_ids) < 3:
                raise InputError(f"island policy 'drop' leaves {len(kept_ids)} regions; use 'nearest' or 'keep'",
                                 source="config [spatial] islands")
            graph_raw = raw.subgraph(kept_ids)
            graph_raw = _graph_from_coo(*_coo(graph_raw.sparse), kept_ids)
            notes.append(f"islands dropped from the weights (statistics use the other {len(kept_ids)} regions; "
                         f"dropped: {', '.join(map(str, found))})")
        else:
            notes.append(f"islands kept without neighbours: {', '.join(map(str, found))}")
    graph = graph_raw if t == "o" else graph_raw.transform(t.upper())
    return SpatialWeights(graph=graph, raw_graph=graph_raw, spec=spec.strip(), name=name, params=full,
                          transform=t, island_policy=islands, islands=found, links=links, ids=kept_ids,
                          notes=notes)


def _coo(mat):
    mat = sparse.coo_array(mat)
    return mat.row, mat.col, mat.data


def _link_islands(raw, ids, rows):
    """Add symmetric links island <-> nearest region to the raw graph.

    The link weight is 1 in a binary graph; in a weighted graph it is the
    largest weight in the neighbour's row (the island counts as the
    neighbour's strongest link), or the largest weight of the whole graph
    when that row is empty too.
    """
    base = sparse.csr_array(raw.sparse.astype(float))
    mat = sparse.lil_array(base)
    pos = {i: k for k, i in enumerate(ids)}
    data = base.data[base.data != 0]
    binary = data.size == 0 or bool(np.all(data == 1.0))
    top = float(data.max()) if data.size else 1.0
    for isl, nb, _ in rows:
        a, b = pos[isl], pos[nb]
        if binary:
            w = 1.0
        else:
            row = base[[b], :].toarray().ravel()
            w = float(row.max()) if row.max() > 0 else top
        mat[a, b] = w
        mat[b, a] = w
    return _graph_from_coo(*_coo(mat.tocsr()), ids)
