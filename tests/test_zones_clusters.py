"""Spatially constrained clustering (plugins/zones/clusters.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import connected_components

from nqpspatial.errors import InputError
from nqpspatial.plugins.zones import cluster_regions, contiguity_graph, trajectory_features

gpd = pytest.importorskip("geopandas")
from shapely.geometry import box  # noqa: E402

from _mexico import mexico_layer, mexico_long  # noqa: E402


def island_layer():
    """3 x 3 grid, a long 'north' strip touching it, and a thin island east of cell r22.

    By boundary distance the island's nearest region is r22 (0.1 away); by centroid it is
    'north' (3.2 against 5.1), so the test tells the two rules apart.
    """
    geoms, ids = [], []
    for i in range(3):
        for j in range(3):
            ids.append(f"r{i}{j}")
            geoms.append(box(j, i, j + 1, i + 1))
    ids += ["north", "island"]
    geoms += [box(0, 3, 9, 4), box(3.1, 2.3, 12.0, 2.5)]
    return gpd.GeoDataFrame({"region": ids}, geometry=geoms).set_index("region")


def panel_for(ids, periods=6, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, len(ids))
    trend = rng.normal(0.02, 0.01, len(ids))
    rows = [
        {"region": r, "year": 2010 + t, "x": base[i] + trend[i] * t + rng.normal(0, 0.01)}
        for i, r in enumerate(ids)
        for t in range(periods)
    ]
    return pd.DataFrame(rows)


def test_island_linked_to_nearest_by_boundary():
    layer = island_layer()
    g, links = contiguity_graph(layer)
    assert g.n_components == 1
    assert list(g.unique_ids) == list(layer.index)
    assert links[["region", "neighbor"]].values.tolist() == [["island", "r22"]]
    assert links["distance"].iloc[0] == pytest.approx(0.1)
    nb = g.neighbors
    assert "island" in nb["r22"] and "r22" in nb["island"]  # symmetric link


def test_multi_region_component_is_attached():
    layer = island_layer()
    extra = gpd.GeoDataFrame({"region": ["p1", "p2"]}, geometry=[box(-5, 0, -4, 1), box(-4, 0, -3.5, 1)])
    layer = pd.concat([layer, extra.set_index("region")])
    g, links = contiguity_graph(layer)
    assert g.n_components == 1
    # the smallest component (the island) goes first, then the pair {p1, p2} joins r00 (3.0 away)
    assert links[["region", "neighbor"]].values.tolist() == [["island", "r22"], ["p2", "r00"]]


def test_contiguity_graph_names_missing_boundaries():
    with pytest.raises(InputError, match="nowhere"):
        contiguity_graph(island_layer(), ["r00", "nowhere"])


def _connected(graph, ids, members):
    idx = [ids.index(m) for m in members]
    sub = graph.sparse[idx][:, idx]
    return connected_components(sub, directed=False)[0] == 1


def test_clusters_seeded_contiguous_and_compared():
    layer = island_layer()
    ids = sorted(layer.index)
    data = panel_for(ids)
    groups = pd.Series(["west" if r.startswith("r") and r[2] < "2" else "east" for r in ids], index=ids)
    state = np.random.get_state()
    a = cluster_regions(data, "x", layer, groups=groups, k=3, min_region_size=2, seed=7, scheme_name="halves")
    after = np.random.get_state()
    assert all(np.array_equal(s, t) for s, t in zip(state[1:2], after[1:2]))  # global state restored
    b = cluster_regions(data, "x", layer, groups=groups, k=3, min_region_size=2, seed=7, scheme_name="halves")
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    pd.testing.assert_frame_equal(a.comparison, b.comparison)
    g, _ = contiguity_graph(layer, ids)
    cl = a.clusters
    assert set(cl["method"]) == {"skater", "ward", "maxp", "kmeans"}
    for m in ("skater", "ward"):
        sub = cl[cl["method"] == m]
        assert sub["cluster"].nunique() == 3
        for _, members in sub.groupby("cluster")["region"]:
            assert _connected(g, ids, list(members)), f"{m} cluster not contiguous"
    maxp = cl[cl["method"] == "maxp"]
    assert maxp.groupby("cluster").size().min() >= 2  # the floor
    for _, members in maxp.groupby("cluster")["region"]:
        assert _connected(g, ids, list(members))
    # comparison: ARI equals sklearn's, contingency covers every region once
    from sklearn.metrics import adjusted_rand_score

    comp = a.comparison
    for m, sub in cl.groupby("method"):
        ari = comp.query("kind == 'ari' and method == @m")["ari"].iloc[0]
        assert ari == pytest.approx(adjusted_rand_score(groups.loc[sub["region"]], sub["cluster"]))
        cont = comp.query("kind == 'contingency' and method == @m")
        assert cont["count"].sum() == len(ids)
        assert len(cont) == 2 * sub["cluster"].nunique()  # zeros included
    assert "skater" in a.summary().as_text()


def test_kmeans_only_needs_no_geometry():
    ids = [f"r{i:02d}" for i in range(20)]
    data = panel_for(ids, seed=3)
    r1 = cluster_regions(data, "x", methods=["kmeans"], k=4, seed=1)
    r2 = cluster_regions(data, "x", methods=["kmeans"], k=4, seed=1)
    pd.testing.assert_frame_equal(r1.clusters, r2.clusters)
    with pytest.raises(InputError, match="boundaries"):
        cluster_regions(data, "x", methods=["ward"], k=4, seed=1)


def test_bad_arguments():
    layer = island_layer()
    data = panel_for(sorted(layer.index))
    with pytest.raises(InputError, match="unknown cluster method"):
        cluster_regions(data, "x", layer, methods=["dbscan"], seed=0)
    with pytest.raises(InputError, match="between 2 and the number of regions"):
        cluster_regions(data, "x", layer, k=50, seed=0)
    with pytest.raises(InputError, match="seed"):
        cluster_regions(data, "x", layer, k=3)


def test_trajectory_features_standardized_per_period():
    data = panel_for([f"r{i}" for i in range(8)])
    Z = trajectory_features(data, "x")
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0, ddof=0), 1, atol=1e-12)


def test_mexico_shapefile_runs_and_reproduces():
    layer, cols = mexico_layer(crs=None)
    long = mexico_long(layer, cols)
    kw = dict(groups=layer["HANSON98"].astype(int), k=5, seed=2024, scheme_name="hanson98")
    a = cluster_regions(long, "pcgdp", layer, **kw)
    b = cluster_regions(long, "pcgdp", layer, **kw)
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    assert len(a.links) == 0  # Mexico's states are all contiguous
    assert a.clusters.groupby("method")["region"].nunique().eq(32).all()


GEODATA = Path(__import__("nqpspatial.geodata", fromlist=["_"]).__file__).parent / "data"


def _provinces():
    """The bundled 31-province layer (through province_layer once geodata offers it)."""
    if not (GEODATA / "provinces.geojson").exists():
        pytest.skip("bundled province layer not built yet")
    layer = gpd.read_file(GEODATA / "provinces.geojson").set_index("code")
    import nqpspatial.geodata as geodata

    if hasattr(geodata, "province_layer"):
        layer = geodata.province_layer(list(layer.index))
    return layer


def test_31_provinces_with_hainan():
    layer = _provinces()
    assert len(layer) == 31
    ids = sorted(layer.index)
    hainan = next(r for r in ids if str(r).startswith("46"))
    guangdong = next(r for r in ids if str(r).startswith("44"))
    data = panel_for(ids, periods=10, seed=5)
    schemes = pd.read_csv(GEODATA / "schemes.csv")
    eight = schemes[schemes["scheme"] == "eight-zones"].set_index("code")["group"]
    eight.index = eight.index.astype(type(ids[0]))
    res = cluster_regions(data, "x", layer, groups=eight, k=8, min_region_size=3, seed=11, scheme_name="eight-zones")
    # Hainan has no land neighbour; by boundary distance Guangdong is nearest (methods note, section 5)
    assert res.links[["region", "neighbor"]].values.tolist() == [[hainan, guangdong]]
    cl = res.clusters
    assert (cl.groupby("method")["region"].nunique() == 31).all()
    assert cl.query("method in ['skater', 'ward', 'kmeans']").groupby("method")["cluster"].nunique().eq(8).all()
    again = cluster_regions(data, "x", layer, groups=eight, k=8, min_region_size=3, seed=11, scheme_name="eight-zones")
    pd.testing.assert_frame_equal(res.clusters, again.clusters)


def test_contiguity_graph_has_libpysal_links_plus_the_added_ones():
    """The zones' clustering graph: exactly Graph.build_contiguity's queen links, plus the links to islands."""
    from libpysal.graph import Graph

    import nqpspatial.geodata as geodata

    layer = geodata.province_layer()
    ids = list(layer.index)
    g, links = contiguity_graph(layer)
    ref = Graph.build_contiguity(layer.geometry.reset_index(drop=True), rook=False).sparse.tocoo()
    want = {(ids[a], ids[b]) for a, b in zip(ref.row, ref.col)}
    got = {(a, b) for a, nb in g.neighbors.items() for b in nb}
    added = {(r, n) for r, n in links[["region", "neighbor"]].itertuples(index=False)}
    assert got == want | added | {(n, r) for r, n in added}
    assert added  # Hainan (and other islands) linked
