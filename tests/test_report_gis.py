"""regions.gpkg: the GIS hand-off (boundaries and a wide layer per per-region table)."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import pytest
from test_report import _fake_tables

from nqpspatial.report import build_report
from nqpspatial.report.gis import FIXED_DATE, region_layers, write_regions_gpkg
from nqpspatial.testing import make_context

pyogrio = pytest.importorskip("pyogrio")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ctx = make_context()
    tabs = _fake_tables(ctx)
    tabs["haken_potential"] = pd.concat(
        [tabs["haken_potential"].assign(region=r) for r in sorted(ctx.indices["region"].unique())], ignore_index=True
    )
    ctx.tables = tabs
    ctx.out_dir = tmp_path_factory.mktemp("gis")
    out = build_report(ctx, {"figures": False})
    return ctx, out


def test_regions_gpkg_opens_with_pyogrio_and_holds_the_listed_layers(run):
    ctx, out = run
    path = ctx.out_dir / "regions.gpkg"
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert layers == ["regions", "indices", "coevolution", "lisa", "zones", "steady_states"]
    assert out.info["gpkg"] == {"file": "regions.gpkg", "layers": layers}
    ids = sorted(ctx.indices["region"].unique())
    for name in layers:
        gdf = pyogrio.read_dataframe(path, layer=name)
        assert sorted(gdf["region"]) == ids, name  # one row per region
        assert gdf.crs.to_epsg() == 4326 and gdf.geometry.notna().all()
    co = pyogrio.read_dataframe(path, layer="coevolution").set_index("region")
    t = ctx.tables["coevolution"]
    for r, y in (("r00", 2010), ("r13", 2017)):
        row = t[(t["region"] == r) & (t["year"] == y)].iloc[0]
        assert co.loc[r, f"h_{y}"] == pytest.approx(row["h"]) and co.loc[r, f"grade_{y}"] == row["grade"]
    idx = pyogrio.read_dataframe(path, layer="indices").set_index("region")
    assert {f"A_{y}" for y in range(2010, 2018)} <= set(idx.columns)
    lisa = pyogrio.read_dataframe(path, layer="lisa").set_index("region")
    lt = ctx.tables["lisa"]
    one = lt[(lt["variable"] == "h") & (lt["year"] == 2012) & (lt["region"] == "r02")].iloc[0]
    assert lisa.loc["r02", "h_queen_2012"] == one["cluster"]
    zones = pyogrio.read_dataframe(path, layer="zones").set_index("region")
    assert zones.loc["r00", "group"] == ctx.scheme["r00"] and {"cluster_skater", "cluster_kmeans"} <= set(zones)
    ss = pyogrio.read_dataframe(path, layer="steady_states")
    assert ss["q1_star"].notna().all()


def test_two_writes_are_byte_identical(tmp_path, run):
    ctx, _ = run
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    write_regions_gpkg(a, ctx.geometry, ctx.tables, scheme=ctx.scheme)
    time.sleep(1.1)  # GDAL's own time stamp would differ by now
    write_regions_gpkg(b, ctx.geometry, ctx.tables, scheme=ctx.scheme)
    assert _digest(a) == _digest(b)
    # the fixed date is what makes it so: with another date the bytes differ
    import nqpspatial.report.gis as gis

    old = gis.FIXED_DATE
    try:
        gis.FIXED_DATE = "2001-02-03T04:05:06.000Z"
        write_regions_gpkg(b, ctx.geometry, ctx.tables, scheme=ctx.scheme)
    finally:
        gis.FIXED_DATE = old
    assert _digest(a) != _digest(b)
    assert FIXED_DATE.startswith("2000")


def test_geometry_is_simplified_above_10000_regions(monkeypatch, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    import nqpspatial.report.gis as gis

    monkeypatch.setattr(gis, "SIMPLIFY_ABOVE", 20)
    circles = [Point(i % 5 * 3, i // 5 * 3).buffer(1.0, quad_segs=64) for i in range(25)]
    geo = gpd.GeoSeries(circles, index=[f"c{i}" for i in range(25)], crs="EPSG:3857")
    write_regions_gpkg(tmp_path / "s.gpkg", geo, {})
    back = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="regions")
    import shapely

    assert (
        shapely.get_num_coordinates(back.geometry.to_numpy()).sum()
        < 0.5 * shapely.get_num_coordinates(geo.to_numpy()).sum()
    )


def test_layers_are_wide_by_year():
    t = pd.DataFrame(
        {"region": ["a", "a", "b", "b"], "year": [1, 2, 1, 2], "q1": np.arange(4.0), "h": [0.1, 0.2, 0.3, 0.4]}
    )
    layers = region_layers({"coevolution": t})
    co = layers["coevolution"]
    assert list(co.index) == ["a", "b"] and list(co.columns) == ["q1_1", "q1_2", "h_1", "h_2"]
    assert co.loc["b", "h_2"] == 0.4
