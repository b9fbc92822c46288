"""Report stage on a synthetic run context (4 x 4 lattice) with small tables in the output contract."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from nqpspatial.artifacts import IndicatorWeights
from nqpspatial.errors import ConfigError
from nqpspatial.haken.grades import DEFAULT_LABELS
from nqpspatial.report import REPORT_KEYS, build_report, report_stage
from nqpspatial.report import fonts as report_fonts
from nqpspatial.report.html import json_for_script
from nqpspatial.report.maps import classify, fisher_jenks, svg_paths
from nqpspatial.testing import check_plugin, make_context

pytest.importorskip("matplotlib")

CJK_NOTO = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans CJK HK")
EVIL = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'
# an external URL anywhere in an attribute that would make the browser fetch something
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)|url\(\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def _start_tags(page: str) -> list:
    """(tag, attributes) of every start tag, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    tags = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, attrs))

    P().feed(page)
    return tags


def _fake_tables(ctx) -> dict:
    """Small tables with the contract columns of every analysis the report shows."""
    idx = ctx.indices
    rng = np.random.default_rng(1)
    regions = sorted(idx["region"].unique())
    years = sorted(idx["year"].unique())
    co = pd.DataFrame({"region": idx["region"], "year": idx["year"], "q1": idx["A"], "q2": idx["B"]})
    g1, a, g2, b = -0.05, 0.10, 0.60, 0.30
    co["V"] = g1 * co["q1"] ** 2 / 2 + a * b * co["q1"] ** 4 / (4 * g2)
    co["d"] = np.nan
    co["h"] = (co["q1"] - co["q1"].min()) / (co["q1"].max() - co["q1"].min())
    co["grade"] = [DEFAULT_LABELS[min(int(h * 10), 9)] for h in co["h"]]
    co["strategy"] = "potential-normalized"
    ident = pd.DataFrame(
        {
            "q1": ["A", "B"],
            "q2": ["B", "A"],
            "gamma1": [g1, 0.2],
            "a": [a, 0.1],
            "gamma2": [g2, 0.01],
            "b": [b, 0.1],
            "p_gamma2": [1e-6, 0.5],
            "adiabatic": [True, False],
            "chosen": [True, False],
            "reason": ["passes", "gamma2 not significant"],
        }
    )
    est = pd.DataFrame(
        {
            "q1": "A",
            "q2": "B",
            "term": ["gamma1", "a", "gamma2", "b"],
            "estimate": [g1, a, g2, b],
            "std_err": 0.01,
            "t": 5.0,
            "p": 1e-4,
            "ci_low": [g1 - 0.02, a - 0.02, g2 - 0.02, b - 0.02],
            "ci_high": [g1 + 0.02, a + 0.02, g2 + 0.02, b + 0.02],
        }
    )
    qs = np.sqrt(-g1 / (a * b / g2))
    pot = pd.DataFrame(
        {
            "q1": ["A"],
            "q2": ["B"],
            "case": [1],
            "q1_star": [qs],
            "V_star": [g1 * qs**2 / 2 + a * b * qs**4 / (4 * g2)],
            "map_stable": [True],
            "linear": [0.0],
            "quadratic": [g1],
            "quartic": [a * b / g2],
        }
    )
    stages = co.groupby("year")[["q1", "q2", "h"]].mean().reset_index().assign(scope="national", group="national")
    tests = pd.DataFrame(
        {"test": ["sup-F"], "equation": ["joint"], "break_year": [years[4]], "statistic": [9.0], "p": [0.02]}
    )
    moran = pd.DataFrame(
        [
            {
                "variable": v,
                "weights": "queen",
                "year": y,
                "I": rng.uniform(-0.2, 0.6),
                "EI": -1 / 15,
                "VI_norm": 0.02,
                "z_norm": 1.0,
                "p_norm": 0.3,
                "p_sim": rng.uniform(0, 0.2),
                "permutations": 99,
            }
            for v in ("A", "h")
            for y in years
        ]
    )
    quads = np.array(["HH", "LL", "LH", "HL", "ns"])
    lisa = pd.DataFrame(
        [
            {
                "variable": v,
                "weights": "queen",
                "year": y,
                "region": r,
                "Ii": 0.1,
                "z_sim": 0.0,
                "p_sim": 0.5,
                "quadrant": "HH",
                "cluster": quads[rng.integers(0, 5)],
            }
            for v in ("A", "h")
            for y in years
            for r in regions
        ]
    )
    she = pd.DataFrame(
        {
            "model": "slx",
            "weights": "queen",
            "q1": "A",
            "q2": "B",
            "equation": ["q1", "q1", "q2"],
            "term": ["gamma1", "theta_q1", "theta_q2"],
            "estimate": [-0.05, 0.1, 0.2],
            "std_err": 0.01,
            "z": 3.0,
            "p": [0.001, 0.2, 0.04],
        }
    )
    sheff = pd.DataFrame(
        {
            "model": "sar",
            "weights": "queen",
            "q1": "A",
            "q2": "B",
            "equation": "q1",
            "term": "q1",
            "effect": ["direct", "indirect", "total"],
            "estimate": [0.9, 0.1, 1.0],
            "ci_low": [0.8, 0, 0.9],
            "ci_high": [1, 0.2, 1.1],
            "p": [0, 0.04, 0],
        }
    )
    dg = pd.DataFrame(
        [
            {
                "variable": "h",
                "scheme": "halves",
                "year": y,
                "G": 0.2,
                "G_within": 0.05,
                "G_between": 0.1,
                "G_transvariation": 0.05,
                "share_within": 0.25,
                "share_between": 0.5,
                "share_transvariation": 0.25,
            }
            for y in years
        ]
    )
    mk = pd.DataFrame(
        [
            {
                "variable": "h",
                "kind": "classic",
                "from": i,
                "to": j,
                "from_label": f"c{i}",
                "to_label": f"c{j}",
                "count": 3,
                "probability": (0.7 if i == j else 0.1),
            }
            for i in range(4)
            for j in range(4)
        ]
    )
    grid = np.linspace(0, 1, 50)
    dc = pd.concat(
        [
            pd.DataFrame(
                {
                    "variable": "h",
                    "year": y,
                    "level": "national",
                    "group": "all",
                    "x": grid,
                    "density": np.exp(-((grid - 0.1 * k) ** 2) / 0.02),
                }
            )
            for k, y in enumerate(years)
        ]
    )
    cl = pd.DataFrame(
        {
            "variable": "h",
            "region": regions * 2,
            "method": ["skater"] * 16 + ["kmeans"] * 16,
            "cluster": list(rng.integers(1, 4, 32)),
        }
    )
    rob = pd.DataFrame({"spec": ["full", "2010-2014"], "adiabatic": [True, True], "gamma2": [0.6, 0.55]})
    return {
        "indicator_weights": ctx.get(IndicatorWeights).table,
        "indices": idx,
        "coevolution": co,
        "haken_identification": ident,
        "haken_estimates": est,
        "haken_potential": pot,
        "stages": stages,
        "stages_tests": tests,
        "moran_global": moran,
        "lisa": lisa,
        "spatial_haken_estimates": she,
        "spatial_haken_effects": sheff,
        "dagum_gini": dg,
        "markov_transitions": mk,
        "density_curves": dc,
        "clusters": cl,
        "robustness": rob,
    }


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A report over every kind of table, with a malicious region name and study name."""
    ctx = make_context()
    ctx.geometry = ctx.geometry.assign(name=[EVIL if r == "r00" else f"Region {r}" for r in ctx.geometry.index])
    ctx.config = {"name": f"study {EVIL}", "data": {"synthetic": False}, "report": {}}
    ctx.tables = _fake_tables(ctx)
    ctx.out_dir = tmp_path_factory.mktemp("report")
    out = build_report(ctx, {})
    return ctx, out, (ctx.out_dir / "report.html").read_text(encoding="utf-8")


def test_every_section_with_data_is_shown(full_run):
    ctx, out, page = full_run
    # the core's sections, then each analysis's in run order (nqpspatial.runner.plan)
    assert out.info["sections"] == [
        "findings",
        "map",
        "data",
        "weights",
        "haken",
        "coevolution",
        "stages",
        "spatial",
        "zones",
        "spatial_haken",
        "robustness",
    ]
    assert out.info["sections_without_data"] == ["local_haken", "centres", "detector", "network"]
    for key in out.info["sections"]:
        assert f"<section id='{key}'>" in page
    # default map years: first, the sup-F turning year, last
    assert out.info["map_years"] == [2010, 2014, 2017]
    figs = set(out.info["figures"])
    # one indicator per subsystem: no chart of bars of length one
    assert not any(f.startswith("weights.") for f in figs)
    for name in (
        "potential",
        "map_q1",
        "map_q2",
        "map_h",
        "map_grade",
        "trajectories",
        "moran_global",
        "lisa_h",
        "lisa_a",
        "dagum_h",
        "markov_classic_h",
        "density_h",
        "clusters",
    ):
        assert {f"{name}.png", f"{name}.svg"} <= figs, name
        assert (ctx.out_dir / "figures" / f"{name}.svg").stat().st_size > 1000
    assert out.warnings == []


def test_sections_without_tables_are_omitted_and_listed(tmp_path):
    ctx = make_context()
    ctx.tables = {"indicator_weights": ctx.get(IndicatorWeights).table, "indices": ctx.indices}
    ctx.out_dir = tmp_path
    out = build_report(ctx, {})
    assert out.info["sections"] == ["findings", "map", "data", "weights"]
    assert out.info["sections_without_data"] == [
        "haken",
        "coevolution",
        "stages",
        "spatial",
        "zones",
        "spatial_haken",
        "local_haken",
        "robustness",
        "centres",
        "detector",
        "network",
    ]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Sections without data in this run: Haken identification" in page
    assert "<section id='zones'>" not in page
    assert not (tmp_path / "latex").exists()  # no Haken tables, nothing to export


def test_user_text_is_escaped(full_run):
    _, _, page = full_run
    assert EVIL not in page
    tags = _start_tags(page)
    assert not any(name for name, attrs in tags if any(a.startswith("on") for a, _ in attrs))  # no event handler
    assert all(dict(attrs).get("src", "").startswith("data:image/png;base64,") for name, attrs in tags if name == "img")
    assert html.escape(f"study {EVIL}") in page  # the title, escaped
    # the region name travels in the map's JSON with <, > and & escaped
    assert json_for_script(EVIL)[1:-1] in page
    assert "\\u003cscript\\u003e" in page
    # only our two scripts are in the page (the map script and its JSON data)
    assert page.count("<script") == 2


def test_no_external_resources(full_run):
    _, _, page = full_run
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "<link" not in page and "@import" not in page
    # figures are inline data URIs
    assert re.search(r"src='data:image/png;base64,", page)
    # the regex would catch an external reference
    assert EXTERNAL.search("<img src='https://example.org/a.png'>")
    assert EXTERNAL.search('<script src="//cdn.example.org/x.js">')


def test_map_data_and_paths(full_run):
    ctx, _, page = full_run
    assert page.count("<path data-i=") == 16
    paths, w, h = svg_paths(ctx.geometry)
    assert len(paths) == 16 and w == 800.0 and h == pytest.approx(800.0, rel=0.01)  # a square lattice near the equator
    # the first lattice cell (lon 0-1, lat 0-1) lies bottom-left in SVG coordinates
    xs = [float(p.split(",")[0]) for p in re.findall(r"[\d.]+,[\d.]+", paths[0])]
    ys = [float(p.split(",")[1]) for p in re.findall(r"[\d.]+,[\d.]+", paths[0])]
    assert min(xs) == 0.0 and max(ys) == pytest.approx(h, abs=0.2)


def test_latex_exports(full_run):
    ctx, out, _ = full_run
    files = set(out.info["latex"])
    assert {
        "haken_identification.tex",
        "haken_estimates.tex",
        "haken_potential.tex",
        "spatial_haken_estimates.tex",
        "spatial_haken_effects.tex",
        "haken_regression.tex",
        "tables.tex",
    } == files
    tex = (ctx.out_dir / "latex" / "haken_estimates.tex").read_text(encoding="utf-8")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    # identifying columns first, the term as the Greek letter, one minus sign, one p-value format
    assert "A & B & $\\gamma_1$ & $-$0.0500 & 0.0100 & 5.0000 & $<$ 0.001" in tex
    assert "\\input{spatial_haken_effects}" in (ctx.out_dir / "latex" / "tables.tex").read_text()


def test_synthetic_banner(tmp_path):
    ctx = make_context()
    ctx.tables = {"indices": ctx.indices}
    ctx.out_dir = tmp_path
    ctx.config = {"name": "my study", "data": {"synthetic": True}}
    build_report(ctx, {"figures": False})
    assert "class='banner'" in (tmp_path / "report.html").read_text(encoding="utf-8")
    ctx.config = {"name": "A SYNTHETIC panel", "data": {}}
    out = build_report(ctx, {"figures": False})
    assert out.info["synthetic_banner"]
    ctx.config = {"name": "my study", "data": {"synthetic": False}}
    out = build_report(ctx, {"figures": False})
    assert not out.info["synthetic_banner"]
    assert "class='banner'" not in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert not (tmp_path / "figures").exists()


def test_no_output_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = make_context()
    ctx.tables = _fake_tables(ctx)
    out = report_stage.run(ctx, dict(REPORT_KEYS))
    assert list(tmp_path.iterdir()) == []
    assert out.tables == {} and "no output folder" in out.notes[0]


def test_contract_and_config_errors(tmp_path):
    check_plugin("analyses", report_stage)
    assert report_stage.name == "report" and report_stage.order == 1000
    ctx = make_context()
    ctx.tables = {"indices": ctx.indices}
    ctx.out_dir = tmp_path
    with pytest.raises(ConfigError, match=r"\[report\] years = \[1999\].*2010-2017"):
        build_report(ctx, {"years": [1999]})
    with pytest.raises(ConfigError, match=r"\[report\] formats"):
        build_report(ctx, {"formats": ["gif"]})
    with pytest.raises(ConfigError, match=r"\[report\] language"):
        build_report(ctx, {"language": "fr"})
    out = build_report(ctx, {"years": [2012, 2011], "formats": ["png"]})
    assert out.info["map_years"] == [2011, 2012]


def test_chinese_labels_with_a_cjk_font(tmp_path):
    font = report_fonts.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    ctx = make_context()
    ctx.tables = _fake_tables(ctx)
    ctx.out_dir = tmp_path
    out = build_report(ctx, {"language": "zh", "formats": ["svg"]})
    assert out.warnings == []
    assert out.info["figure_language"] == "zh" and out.info["font"] == font
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<html lang='zh-CN'>" in page and "哈肯模型序参量识别与稳定性" in page
    # matplotlib writes each text as a comment followed by its glyphs, whose ids name the font
    svg = (tmp_path / "figures" / "potential.svg").read_text(encoding="utf-8")
    assert "<!-- 势函数 V(q1)" in svg
    title = svg[svg.index("<!-- 势函数 V(q1)") :]
    assert re.search(r'id="NotoSansCJK|id="[A-Za-z]*CJK', title[:20000]) or font not in CJK_NOTO
    from matplotlib import font_manager

    assert "CJK" in font_manager.findfont(font_manager.FontProperties(family=font), fallback_to_default=False)


def test_chinese_without_font_falls_back_to_english_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(report_fonts, "find_cjk_font", lambda: None)
    ctx = make_context()
    ctx.tables = _fake_tables(ctx)
    ctx.out_dir = tmp_path
    with pytest.warns(report_fonts.FontWarning) as rec:
        out = build_report(ctx, {"language": "zh", "formats": ["svg"]})
    msgs = [str(r.message) for r in rec if issubclass(r.category, report_fonts.FontWarning)]
    assert len(msgs) == 1 and "no CJK font" in msgs[0] and "English" in msgs[0]
    assert out.info["figure_language"] == "en" and out.info["language"] == "zh"
    svg = (tmp_path / "figures" / "potential.svg").read_text(encoding="utf-8")
    assert "<!-- Potential function V(q1)" in svg and "势" not in svg
    assert "CJK" not in svg


def test_a_failing_section_is_reported_and_the_rest_written(tmp_path):
    ctx = make_context()
    tabs = _fake_tables(ctx)
    tabs["dagum_gini"] = tabs["dagum_gini"].assign(year="not a year", share_within="x")  # broken table
    ctx.tables = tabs
    ctx.out_dir = tmp_path
    out = build_report(ctx, {"figures": True, "formats": ["png"]})
    assert len(out.warnings) == 1 and "report section 'zones'" in out.warnings[0]
    assert "spatial" in out.info["sections"] and (tmp_path / "report.html").exists()


@pytest.mark.parametrize("n,k", [(31, 4), (93, 5), (250, 7)])
def test_fisher_jenks_equals_mapclassify(n, k):
    mapclassify = pytest.importorskip("mapclassify")
    y = np.random.default_rng(n).lognormal(size=n)
    np.testing.assert_allclose(fisher_jenks(y, k), mapclassify.FisherJenks(y, k=k).bins, rtol=0, atol=0)
    np.testing.assert_allclose(classify(np.r_[y, np.nan], k), mapclassify.FisherJenks(y, k=k).bins)
    assert list(classify([0.1, 0.2, 0.2], 5)) == [0.1, 0.2]
