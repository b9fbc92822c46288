"""The first-party spatial weights builders (plugins of the group ``nqpspatial.weights``).

Each builder returns the *raw* graph over exactly the requested ids; the
contract is :class:`nqpspatial.contracts.WeightsBuilder`.  Parsing a
specification, the island policy, the transformation and the
:class:`~nqpspatial.spatial.SpatialWeights` object live in the core
(:mod:`nqpspatial.spatial`); the builders are registered through entry
points exactly as a third party's would be.

Distances are always in kilometres: great-circle distances between
centroids for layers in geographic coordinates (the centroids themselves are
taken in an equal-area projection), Euclidean distances for projected
layers (converted from the layer's unit), never raw degrees.

For backward compatibility this module re-exports the core names
(``build_weights``, ``SpatialWeights``, ``parse_spec``, ...); new code
imports them from :mod:`nqpspatial.spatial` (or ``nqpspatial``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from nqpspatial.errors import ConfigError, InputError
from nqpspatial.spatial import (
    EARTH_RADIUS_KM,
    ISLAND_POLICIES,
    TRANSFORMS,
    SpatialWeights,
    build_weights,
    builder_params,
    centroid_points,
    get_builder,
    pairwise_km,
    parse_spec,
    spec_slug,
)
from nqpspatial.spatial._geometry import graph_from_coo as _graph_from_coo
from nqpspatial.spatial._geometry import graph_from_dense as _graph_from_dense
from nqpspatial.spatial._geometry import knn_km as _knn_km
from nqpspatial.spatial._geometry import pairs_within_km as _pairs_within_km
from nqpspatial.spatial._geometry import require_geometry as _require_geometry
from nqpspatial.spatial._weights import _nearest

__all__ = [
    "SpatialWeights",
    "WeightsBuilder",
    "build_weights",
    "parse_spec",
    "spec_slug",
    "centroid_points",
    "pairwise_km",
    "boundary_nearest",
    "economic_matrix",
    "BUILDERS",
    "EARTH_RADIUS_KM",
    "ISLAND_POLICIES",
    "TRANSFORMS",
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


def boundary_nearest(geometry, ids, island, candidates: int = 50) -> tuple[Any, float]:
    """Nearest other region of ``island`` by boundary distance (see :func:`nqpspatial.spatial.nearest_by_boundary`).

    Returns
    -------
    neighbor : hashable
        Region id of the nearest region.
    km : float
        Boundary distance in km (0 when they touch).
    """
    from nqpspatial.spatial import nearest_by_boundary

    _, nb, km = nearest_by_boundary(geometry, ids, [island], candidates=candidates)
    return nb, km


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

    def build(
        self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params
    ):  # pragma: no cover - abstract
        """Return the raw :class:`libpysal.graph.Graph` over ``ids``."""
        raise NotImplementedError

    def _params(self, params: Mapping) -> dict:
        return builder_params(self, dict(params))

    def _check_dense(self, ids) -> None:
        """Refuse before allocating when the dense N x N matrix would not fit in the machine's memory."""
        from nqpspatial.resources import check_dense

        check_dense(
            len(ids),
            key=f"[spatial] weights = {self.name!r}",
            fix="Use a sparse builder (queen, rook, knn, distance_band, or inverse_distance with cutoff=...).",
        )

    def __repr__(self) -> str:
        return f"<weights builder {self.name!r}>"


class _Contiguity(WeightsBuilder):
    needs = frozenset({"geometry"})
    params: dict = {}

    def __init__(self, rook: bool):
        self.rook = rook
        self.name = "rook" if rook else "queen"
        self.description = "regions sharing an edge" if rook else "regions sharing an edge or a vertex"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Binary contiguity graph: libpysal ``Graph.build_contiguity``'s links, by sorting shared vertices.

        :func:`nqpspatial.spatial._geometry.vertex_contiguity` gives exactly the links of
        ``Graph.build_contiguity(geometry, rook=...)`` in ``O(V log V)`` for ``V`` vertices (libpysal's
        Python sets took 20 s on the 2,848 counties).
        """
        from nqpspatial.spatial._geometry import vertex_contiguity

        self._params(params)
        g = _require_geometry(geometry, ids, self.name)
        i, j = vertex_contiguity(g.geometry.reset_index(drop=True), rook=self.rook)
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
        raise ConfigError(
            f"weights '{name}': {key} must be a positive number (km where a distance), got {value!r}",
            source="config [spatial] weights",
        )
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
            self._check_dense(ids)
            d = pairwise_km(coords, geo)
            np.fill_diagonal(d, np.inf)
            if np.any(d == 0):
                raise InputError(
                    "inverse_distance: two regions have the same centroid (distance 0 km); "
                    "fix the boundaries or use another weights builder",
                    source="boundaries",
                )
            w = d**-power
            np.fill_diagonal(w, 0.0)
            return _graph_from_dense(w, ids)
        i, j, km = _pairs_within_km(coords, geo, cutoff)
        if np.any(km == 0):
            raise InputError(
                "inverse_distance: two regions have the same centroid (distance 0 km)", source="boundaries"
            )
        return _graph_from_coo(i, j, km**-power, ids)


_KERNELS = ("triangular", "parabolic", "gaussian", "bisquare", "cosine", "exponential", "boxcar")


class _Kernel(WeightsBuilder):
    name = "kernel"
    params = {"kernel": "triangular", "bandwidth": None, "k": None}
    needs = frozenset({"geometry"})
    description = (
        "kernel K(d_ij / h) of centroid distances in km; fixed bandwidth h (km) or "
        "adaptive h_i = distance to the k-th nearest region"
    )

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
            raise ConfigError(
                f"kernel: unknown kernel {kern!r} (did you mean '{_nearest(str(kern), _KERNELS)}'?); "
                f"accepted: {', '.join(_KERNELS)}",
                source="config [spatial] weights",
            )
        bw = _positive(self.name, "bandwidth", p["bandwidth"], allow_none=True)
        k = p["k"]
        if bw is not None and k is not None:
            raise ConfigError(
                "kernel: give either bandwidth (fixed, km) or k (adaptive), not both", source="config [spatial] weights"
            )
        coords, geo = centroid_points(geometry, ids)
        n = len(ids)
        if bw is not None:
            self._check_dense(ids)
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
        raise ConfigError(
            f"weights '{who}' needs variable=<panel column>, e.g. \"{who}:variable={cols[0] if cols else 'gdp_pc'}\"; "
            f"available: {', '.join(map(str, cols))}",
            source="config [spatial] weights",
        )
    if variable not in panel.columns:
        cols = [c for c in panel.columns if c not in (region, year)]
        raise ConfigError(
            f"weights '{who}': variable '{variable}' is not a panel column"
            f" (did you mean '{_nearest(str(variable), cols)}'?); available: "
            f"{', '.join(map(str, cols))}",
            source="config [spatial] weights",
        )
    vals = pd.to_numeric(panel[variable], errors="coerce")
    if vals.isna().any():
        bad = panel.loc[vals.isna(), [region, year]].head(5).to_dict("records")
        raise InputError(
            f"weights '{who}': column '{variable}' has missing or non-numeric cells, e.g. {bad}; "
            "fill them or choose another variable",
            source="panel",
        )
    means = vals.groupby(panel[region].to_numpy()).mean()
    missing = [i for i in ids if i not in means.index]
    if missing:
        raise InputError(f"weights '{who}': region(s) {missing[:10]} have no rows in the panel", source="panel")
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
        raise InputError(
            "economic weights: the variable has the same period mean in every region; "
            "choose a variable that differs between regions",
            source="panel",
        )
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
        self._check_dense(ids)
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
        self._check_dense(ids)
        if isinstance(phi, bool) or not isinstance(phi, (int, float)) or not 0 <= phi <= 1:
            raise ConfigError(f"nested: phi must be in [0, 1], got {phi!r}", source="config [spatial] weights")
        geo_spec = str(p["geo"]).replace(";", ",")
        gname, gparams = parse_spec(geo_spec)
        if gname in ("nested", "economic"):
            raise ConfigError(
                f"nested: geo must be a geographic weights builder, got '{gname}'", source="config [spatial] weights"
            )
        gb = get_builder(gname)
        builder_params(gb, gparams)
        geo_graph = gb.build(ids, geometry=geometry, panel=panel, scheme=scheme, region=region, year=year, **gparams)
        wg = _row_standardize(geo_graph.sparse.toarray())
        xbar = _region_means(panel, ids, p["variable"], region, year, self.name)
        we, _ = economic_matrix(xbar)
        we = _row_standardize(we)
        return _graph_from_dense(phi * wg + (1 - phi) * we, ids)


class _Block(WeightsBuilder):
    name = "block"
    params: dict = {}
    needs = frozenset({"scheme"})
    description = "binary: regions in the same group of the region scheme"

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
        """Block graph: w_ij = 1 when i and j (i != j) are in the same scheme group."""
        self._params(params)
        if scheme is None:
            raise InputError(
                "weights 'block' needs a region scheme; set [regions] scheme to a bundled "
                'scheme (e.g. "eight-zones") or a CSV with columns region and group',
                source="config [spatial] weights",
            )
        missing = [i for i in ids if i not in scheme.index]
        if missing:
            raise InputError(
                f"weights 'block': region(s) {missing[:10]} have no group in the region scheme", source="region scheme"
            )
        self._check_dense(ids)
        groups = scheme.reindex(list(ids)).to_numpy()
        codes = pd.factorize(groups)[0]
        same = codes[:, None] == codes[None, :]
        return _graph_from_dense(same.astype(float), ids)


class _Matrix(WeightsBuilder):
    name = "matrix"
    params = {"path": None}
    needs: frozenset = frozenset()
    description = "a user matrix: CSV (focal, neighbor, weight), GAL or GWT file"

    def build(
        self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", base_dir=None, **params
    ):
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
            raise ConfigError(
                "matrix: give path=<file> (CSV focal,neighbor,weight / .gal / .gwt)", source="config [spatial] weights"
            )
        fp = Path(str(path))
        if not fp.is_absolute() and base_dir is not None:
            fp = Path(base_dir) / fp
        if not fp.exists():
            raise InputError(
                f"weights file {fp} does not exist; check matrix:path (relative to the config file's folder)",
                source=str(fp),
            )
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
                raise InputError(
                    f"weights CSV needs columns focal, neighbor, weight; found {', '.join(map(str, table.columns))}",
                    source=str(fp),
                )
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
                raise InputError(
                    f"column '{col}' names region(s) {unknown[:10]} that are not in the panel; "
                    "fix the ids (they must equal the panel's region ids)",
                    source=str(fp),
                )
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

BUILDERS: dict[str, WeightsBuilder] = {
    b.name: b for b in (queen, rook, knn, distance_band, inverse_distance, kernel, economic, nested, block, matrix)
}


BUILDERS: dict[str, WeightsBuilder] = {
    b.name: b for b in (queen, rook, knn, distance_band, inverse_distance, kernel, economic, nested, block, matrix)
}
