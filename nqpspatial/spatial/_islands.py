"""Regions without neighbours: one routine links them, for every stage and for geodata.

* :func:`nearest_by_boundary` finds, for a group of regions, the nearest
  region outside the group, measured between boundaries (polygon to
  polygon, not centroids) in kilometres;
* :func:`link_islands` adds a symmetric link from every isolate of a graph
  to its nearest region (the ``islands = "nearest"`` policy);
* :func:`connect_components` links components until the graph is connected
  (what spatially constrained clustering needs); an isolate is a component
  of one region, so both use the same measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from ..errors import InputError
from ._geometry import EQUAL_AREA, centroid_points, graph_from_coo, require_geometry, unit_km, xyz

__all__ = ["nearest_by_boundary", "link_islands", "connect_components", "empty_links"]


def empty_links() -> pd.DataFrame:
    """The (empty) table of added links: ``island, neighbor, km``."""
    return pd.DataFrame(
        {
            "island": pd.Series([], dtype=object),
            "neighbor": pd.Series([], dtype=object),
            "km": pd.Series([], dtype=float),
        }
    )


def _metric_crs(gs, sources: Sequence):
    """A CRS in metres around ``sources`` and the factor to km (azimuthal equidistant on geographic layers).

    A layer without a CRS is measured in its own units, read as metres."""
    if gs.crs is None:
        return None, 1.0 / 1000.0
    if gs.crs.is_geographic:
        import geopandas as gpd

        centre = gs.loc[list(sources)].to_crs(EQUAL_AREA).union_all().centroid
        c = gpd.GeoSeries([centre], crs=EQUAL_AREA).to_crs(gs.crs).iloc[0]
        return f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m +no_defs", 1.0 / 1000.0
    return gs.crs, unit_km(gs.crs)


def nearest_by_boundary(
    geometry, ids: Sequence, sources: Sequence, *, candidates: int = 50, centroids=None
) -> tuple[Any, Any, float]:
    """The region outside ``sources`` nearest to any region inside, by boundary distance.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame
        Boundaries indexed by region id, with a CRS.
    ids : sequence
        The regions considered (``sources`` among them).
    sources : sequence
        The group (an island, or a connected component).
    candidates : int
        On layers larger than this, only the ``candidates`` regions nearest
        by centroid are measured first; then every region whose bounding
        box lies nearer than the best boundary distance found is measured
        too, so the answer is exact.
    centroids : tuple, optional
        ``(position of each id, centroid_points(geometry, ids))`` computed once by the caller (linking
        many islands projects the layer once instead of once per island; the same numbers).

    Returns
    -------
    source, neighbor : hashable
        The pair that realises the distance (``source`` in ``sources``).
    km : float
        Boundary distance in km (0 when they touch).

    Notes
    -----
    Geographic layers are measured in an azimuthal equidistant projection
    centred on the group (distances from its centre are true); projected
    layers in their own CRS.  Ties go to the earliest pair in ``ids`` order.
    """
    if geometry is None:
        require_geometry(geometry, ids, "island policy 'nearest'")
    gs = geometry.geometry
    missing = [i for i in ids if i not in gs.index]
    if missing:
        require_geometry(geometry, ids, "island policy 'nearest'")  # names the regions without boundary
    inside = set(sources)
    others = [i for i in ids if i not in inside]
    if not others:
        raise InputError("linking islands needs at least two regions", source="config [spatial] islands")
    crs, factor = _metric_crs(gs, list(sources))
    project = (lambda x: x) if crs is None else (lambda x: x.to_crs(crs))
    src = project(gs.loc[list(sources)])
    measure = others
    if len(others) > candidates and gs.crs is not None:
        if centroids is not None:  # computed once for every region by link_islands
            pos, all_coords, geo = centroids
            coords = all_coords[[pos[i] for i in list(sources) + others]]
        else:
            coords, geo = centroid_points(geometry, list(sources) + others)
        pts = xyz(coords) if geo else coords
        d = np.sqrt(((pts[len(inside) :, None, :] - pts[None, : len(inside), :]) ** 2).sum(-1)).min(1)
        measure = [others[k] for k in np.sort(np.argsort(d, kind="stable")[:candidates])]
    best = _measure(src, project(gs.loc[measure]), factor)
    if len(measure) < len(others):
        # every region whose bounding box is nearer than the best distance could be nearer still
        measured = set(measure)
        rest = [i for i in others if i not in measured]
        boxes = project(gs.loc[rest].envelope)
        barr = np.asarray(boxes.array, dtype=object)
        bb = shapely.bounds(barr)
        near = np.zeros(len(rest), dtype=bool)
        for geom in src:
            # the box-to-geometry distance only where the box-to-box distance (a lower bound) allows it
            maybe = np.flatnonzero(~near & (_lower_bound(shapely.bounds(geom), bb) * factor < best[2]))
            near[maybe] = shapely.distance(barr[maybe], geom) * factor < best[2]
        if near.any():
            extra = _measure(src, project(gs.loc[[r for r, k in zip(rest, near) if k]]), factor)
            if extra[2] < best[2]:
                best = extra
    return best


def _lower_bound(box, boxes: np.ndarray) -> np.ndarray:
    """A lower bound of the distance between geometries with bounds ``box`` and ``boxes`` (n x 4).

    The distance between the bounding boxes, shrunk by a relative 1e-9 so that rounding can never
    put it above the distance GEOS computes between the geometries themselves."""
    dx = np.maximum(np.maximum(boxes[:, 0] - box[2], box[0] - boxes[:, 2]), 0.0)
    dy = np.maximum(np.maximum(boxes[:, 1] - box[3], box[1] - boxes[:, 3]), 0.0)
    return np.hypot(dx, dy) * (1.0 - 1e-9)


def _measure(src, targets, factor) -> tuple[Any, Any, float]:
    """The (source, target, km) pair of least boundary distance; ties: first source, then first target.

    Per source, the targets are measured in order of their bounding-box distance (a lower bound) and
    only while that bound does not exceed the least distance found: a target left out is farther than
    the least distance, so the pair, the distance and the tie order are those of measuring every
    target (``tests/test_islands_fast.py`` compares with the full measurement)."""
    best = (None, None, np.inf)
    tarr = np.asarray(targets.array, dtype=object)
    tb = shapely.bounds(tarr)
    for sid, geom in src.items():
        lb = _lower_bound(shapely.bounds(geom), tb) * factor
        order = np.argsort(lb, kind="stable")
        dist = np.full(len(tarr), np.inf)
        done, low = 0, np.inf
        step = 4
        while done < len(order) and lb[order[done]] <= low:
            batch = order[done : done + step]
            batch = batch[lb[batch] <= low]
            dist[batch] = shapely.distance(tarr[batch], geom) * factor
            low = min(low, float(dist[batch].min()))
            done += step
            step *= 2
        pos = int(np.argmin(dist))
        if dist[pos] < best[2]:
            best = (sid, targets.index[pos], float(dist[pos]))
    return best


def _add_links(raw, ids, rows) -> Any:
    """Add symmetric links to ``raw``: weight 1 in a binary graph, else the largest weight of the
    neighbour's row (the island counts as the neighbour's strongest link), or of the whole graph when
    that row is empty too."""
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
    coo = sparse.coo_array(mat.tocsr())
    return graph_from_coo(coo.row, coo.col, coo.data, ids)


def _centroids_once(geometry, ids: list):
    """The ``centroids`` argument of :func:`nearest_by_boundary` for many calls on one layer (projected once)."""
    if geometry is None or len(ids) <= 50 or geometry.geometry.crs is None:
        return None
    coords, geo = centroid_points(geometry, ids)
    return {r: k for k, r in enumerate(ids)}, coords, geo


def link_islands(raw, ids: Sequence, geometry, islands: Sequence | None = None) -> tuple[Any, pd.DataFrame]:
    """Link every region without neighbours to its nearest region by boundary distance.

    Parameters
    ----------
    raw : libpysal.graph.Graph
        The graph over ``ids`` (in that order).
    ids : sequence
        Region ids.
    geometry : geopandas.GeoDataFrame
        Boundaries indexed by region id.
    islands : sequence, optional
        The isolates (default: ``raw.isolates``, in ``ids`` order).

    Returns
    -------
    graph : libpysal.graph.Graph
        ``raw`` with a symmetric link island <-> nearest region added (weight
        1 in a binary graph, else the largest weight of the neighbour's row).
    links : pandas.DataFrame
        ``island, neighbor, km``.
    """
    ids = list(ids)
    if islands is None:
        isolated = set(raw.isolates)
        found = [i for i in ids if i in isolated]
    else:
        found = list(islands)
    if not found:
        return raw, empty_links()
    cents = _centroids_once(geometry, ids)
    rows = [nearest_by_boundary(geometry, ids, [isl], centroids=cents) for isl in found]
    return _add_links(raw, ids, rows), pd.DataFrame(rows, columns=["island", "neighbor", "km"])


def connect_components(raw, ids: Sequence, geometry) -> tuple[Any, pd.DataFrame]:
    """Link components of a graph until it is connected.

    While the graph has more than one component, the smallest component
    (ties: the one holding the earliest id) is linked to the nearest region
    outside it by boundary distance (:func:`nearest_by_boundary`).

    Parameters
    ----------
    raw : libpysal.graph.Graph
        The graph over ``ids``.
    ids : sequence
        Region ids, in the graph's order.
    geometry : geopandas.GeoDataFrame
        Boundaries indexed by region id.

    Returns
    -------
    graph : libpysal.graph.Graph
        The connected graph.
    links : pandas.DataFrame
        ``island, neighbor, km`` of the added links (``island`` is the
        region of the linked component).
    """
    from scipy.sparse.csgraph import connected_components

    ids = list(ids)
    graph = raw
    rows = []
    cents = None
    while True:
        n_comp, labels = connected_components(sparse.csr_array(graph.sparse), directed=False)
        if n_comp <= 1:
            break
        counts = np.bincount(labels)
        smallest = [lab for lab in range(n_comp) if counts[lab] == counts.min()]
        first = min(smallest, key=lambda lab: int(np.flatnonzero(labels == lab)[0]))
        members = [ids[k] for k in np.flatnonzero(labels == first)]
        if cents is None:
            cents = _centroids_once(geometry, ids)
        row = nearest_by_boundary(geometry, ids, members, centroids=cents)
        rows.append(row)
        graph = _add_links(graph, ids, [row])
    links = pd.DataFrame(rows, columns=["island", "neighbor", "km"]) if rows else empty_links()
    return graph, links
