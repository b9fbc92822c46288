"""Frozen copy of ``nqpspatial.spatial._islands.nearest_by_boundary`` before the bounded search (issue 19).

The reference for ``tests/test_islands_fast.py``: every target measured in full with
``GeoSeries.distance``.  Do not edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nqpspatial.errors import InputError
from nqpspatial.spatial._geometry import EQUAL_AREA, centroid_points, require_geometry, unit_km, xyz


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


def nearest_by_boundary_reference(
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
        rest = [i for i in others if i not in set(measure)]
        boxes = project(gs.loc[rest].envelope)
        near = np.zeros(len(rest), dtype=bool)
        for geom in src:
            near |= boxes.distance(geom).to_numpy() * factor < best[2]
        if near.any():
            extra = _measure(src, project(gs.loc[[r for r, k in zip(rest, near) if k]]), factor)
            if extra[2] < best[2]:
                best = extra
    return best


def _measure(src, targets, factor) -> tuple[Any, Any, float]:
    """The (source, target, km) pair of least boundary distance; ties: first source, then first target."""
    best = (None, None, np.inf)
    for sid, geom in src.items():
        dist = targets.distance(geom).to_numpy() * factor
        pos = int(np.argmin(dist))
        if dist[pos] < best[2]:
            best = (sid, targets.index[pos], float(dist[pos]))
    return best
