"""Spatial weights assembly in the core (nqpspatial.spatial): one island routine, builders that
handle islands themselves, keywords read once."""

from __future__ import annotations

import numpy as np
import pytest

gpd = pytest.importorskip("geopandas")
from shapely.geometry import box  # noqa: E402

from nqpspatial import registry  # noqa: E402
from nqpspatial.spatial import (  # noqa: E402
    build_weights,
    connect_components,
    graph_from_coo,
    link_islands,
    nearest_by_boundary,
)


def _layer(boxes, crs="EPSG:3857"):
    ids = [f"r{k}" for k in range(len(boxes))]
    return ids, gpd.GeoDataFrame({"region": ids}, geometry=[box(*b) for b in boxes], crs=crs).set_index("region")


class _Ring:
    """Links each region to the one `step` places later, except the last (an isolate on purpose)."""

    name = "ring2"
    params = {"step": 1}
    needs = frozenset()

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", step=1, **kw):
        assert "base_dir" not in kw, "base_dir passed to a builder that does not name it"
        n = len(ids)
        i = np.arange(n - 1)
        return graph_from_coo(i, (i + step) % (n - 1), np.ones(n - 1), ids)


class _RingOwnIslands(_Ring):
    name = "ring3"
    handles_islands = True


def test_a_builder_that_handles_islands_is_left_alone():
    ids, layer = _layer([(k, 0, k + 1, 1) for k in range(5)])
    with registry.registered("weights", "ring2", _Ring()), registry.registered("weights", "ring3", _RingOwnIslands()):
        linked = build_weights("ring2", ids, geometry=layer)
        own = build_weights("ring3", ids, geometry=layer)
    assert linked.islands == ("r4",) and len(linked.links) == 1 and linked.links["neighbor"].iloc[0] == "r3"
    assert own.island_policy == "builder" and len(own.links) == 0
    assert own.raw_graph.cardinalities["r4"] == 0
    assert "decides about regions without neighbours itself" in own.notes[0]


def test_nearest_by_boundary_is_exact_beyond_the_centroid_candidates():
    # r1 is a long strip whose centroid is far from r0 but whose boundary is 1 unit away;
    # r2..r6 are small squares nearer by centroid but farther by boundary
    boxes = [(0, 0, 1, 1), (2, -500, 3, 500)] + [(0, 6 + 3 * k, 1, 7 + 3 * k) for k in range(5)]
    ids, layer = _layer(boxes)
    src, nb, km = nearest_by_boundary(layer, ids, ["r0"], candidates=2)
    assert (src, nb) == ("r0", "r1") and km == pytest.approx(1e-3)


def test_connect_components_links_until_connected():
    ids, layer = _layer([(0, 0, 1, 1), (1, 0, 2, 1), (5, 0, 6, 1), (6, 0, 7, 1), (20, 0, 21, 1)])
    raw = graph_from_coo([0, 1, 2, 3], [1, 0, 3, 2], np.ones(4), ids)
    graph, links = connect_components(raw, ids, layer)
    assert graph.n_components == 1
    # the isolate r4 (smallest component) first, to its nearest region r3; then {r0, r1} to r2
    assert links[["island", "neighbor"]].values.tolist() == [["r4", "r3"], ["r1", "r2"]]
    assert links["km"].tolist() == pytest.approx([0.013, 0.003])


def test_connect_components_on_a_large_layer_projects_the_centroids_once(monkeypatch):
    """Above 50 regions the centroid candidates are computed once for every component; same links as computing
    them per component."""
    from nqpspatial.spatial import _islands

    # a 9 x 9 lattice of touching squares (one component) and six scattered single squares
    boxes = [(x, y, x + 1, y + 1) for y in range(9) for x in range(9)]
    boxes += [(30 + 7 * k, 3 * k, 31 + 7 * k, 3 * k + 1) for k in range(6)]
    ids, layer = _layer(boxes, crs="EPSG:4326")
    adj = [
        (a, b)
        for a in range(81)
        for b in range(81)
        if a != b and layer.geometry.iloc[a].touches(layer.geometry.iloc[b])
    ]
    raw = graph_from_coo([a for a, _ in adj], [b for _, b in adj], np.ones(len(adj)), ids)
    calls = []
    real = _islands.centroid_points
    monkeypatch.setattr(_islands, "centroid_points", lambda *a, **k: calls.append(1) or real(*a, **k))
    graph, links = connect_components(raw, ids, layer)
    assert graph.n_components == 1 and len(links) == 6 and len(calls) == 1
    monkeypatch.setattr(_islands, "_centroids_once", lambda geometry, ids: None)  # the per-component path
    _, per_component = connect_components(raw, ids, layer)
    assert links.equals(per_component)


def test_one_routine_links_islands_for_weights_and_geodata():
    from nqpspatial.geodata import province_layer, province_neighbors

    nb = province_neighbors("queen", island="nearest")
    codes = sorted(nb)
    layer = province_layer(codes)
    raw = build_weights("queen", codes, geometry=layer, islands="keep", transform="b").raw_graph
    _, links = link_islands(raw, codes, layer)
    assert links[["island", "neighbor"]].values.tolist() == [[460000, 440000]]
    assert nb[460000] == [440000]
