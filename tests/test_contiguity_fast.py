"""The sorted-vertex contiguity gives exactly libpysal Graph.build_contiguity's links.

On the 2,848-county layer: `python benchmarks/run_all.py --only contiguity` (equal links, both timings).
"""

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from libpysal.graph import Graph

from nqpspatial.spatial._geometry import vertex_contiguity


def _libpysal_links(gs, rook):
    mat = sp.csr_array(Graph.build_contiguity(gs.reset_index(drop=True), rook=rook).sparse)
    i, j = mat.nonzero()
    order = np.lexsort((j, i))
    return i[order], j[order]


def _check(gs, rook):
    i, j = vertex_contiguity(gs.reset_index(drop=True), rook=rook)
    ri, rj = _libpysal_links(gs, rook)
    assert np.array_equal(i, ri) and np.array_equal(j, rj)
    return len(i)


@pytest.mark.parametrize("rook", [False, True])
def test_lattice_with_island_multipolygon_and_hole(rook):
    cells = [shapely.box(x, y, x + 1, y + 1) for y in range(6) for x in range(7)]
    cells[10] = shapely.MultiPolygon([shapely.box(3, 1, 4, 2), shapely.box(20, 20, 21, 21)])  # far part
    cells.append(shapely.box(50, 50, 51, 51))  # an island
    cells.append(
        shapely.Polygon(shapely.box(30, 30, 34, 34).exterior.coords, [shapely.box(31, 31, 33, 33).exterior.coords])
    )
    cells.append(shapely.box(31, 31, 33, 33))  # fills the hole: shares the hole's edges
    cells.append(shapely.box(-1.0, -1.0, -0.0, -0.0))  # touches cell 0 at a corner written -0.0
    gs = gpd.GeoSeries(cells)
    n = _check(gs, rook)
    assert n > 0


def test_rook_and_queen_differ_on_corner_touch():
    gs = gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2), shapely.box(1, 0, 2, 1)])
    qi, _ = vertex_contiguity(gs, rook=False)
    ri, _ = vertex_contiguity(gs, rook=True)
    assert len(qi) == 6 and len(ri) == 4


@pytest.mark.parametrize("rook", [False, True])
def test_provinces_layer(rook):
    geodata = pytest.importorskip("nqpspatial.geodata")
    gdf = geodata.load_layer("provinces")
    assert _check(gdf.geometry, rook) > 0


def test_links_within_groups_equal_every_ordered_pair_of_a_key():
    from nqpspatial.spatial._geometry import _links_within_groups

    rng = np.random.default_rng(0)
    for _ in range(300):
        m = int(rng.integers(0, 40))
        kg = np.unique(np.c_[rng.integers(0, 8, m), rng.integers(0, 6, m)], axis=0) if m else np.zeros((0, 2), int)
        k, g = kg[:, 0], kg[:, 1]
        gi, gj = _links_within_groups(k, g)
        brute = sorted((a, b) for key in set(k.tolist()) for a in g[k == key] for b in g[k == key] if a != b)
        assert sorted(zip(gi.tolist(), gj.tolist())) == brute
