"""Chinese text in the report's figures: drawn with a CJK font, or ASCII labels and one warning."""

from __future__ import annotations

import configparser
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from nqpspatial.errors import NqpWarning
from nqpspatial.report import build_report
from nqpspatial.report import fonts as report_fonts
from nqpspatial.report.figures import FigureWriter, weights_figure
from nqpspatial.testing import make_context

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


def _demo_weights():
    """The demo's indicator list (English labels with the Chinese name in brackets) with equal weights."""
    import importlib.resources

    with importlib.resources.as_file(importlib.resources.files("nqpspatial.demo") / "indicators.csv") as p:
        ind = pd.read_csv(p, comment="#")
    w = ind[["subsystem", "indicator"]].copy()
    w["weight"] = 1.0 / w.groupby("subsystem")["indicator"].transform("size")
    labels = {i: f"{i} {lab}" for i, lab in zip(ind["indicator"], ind["label"])}
    return ind, w, labels


def _glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_english_weights_chart_draws_the_chinese_glyphs(tmp_path):
    """The demo's weights chart in English mode: every Chinese character drawn, no missing-glyph warning."""
    policy = report_fonts.GlyphPolicy.detect("en")
    if policy.cjk_font is None:
        pytest.skip("no CJK font installed (pip install 'nqpspatial[cjk]' or apt-get install fonts-noto-cjk)")
    _, w, labels = _demo_weights()
    writer = FigureWriter(tmp_path, ("svg",), policy=policy)
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught, plt.rc_context(writer.rc()):
        warnings.simplefilter("always")
        writer.save(weights_figure(w, "en", labels, policy=policy), "weights")
    assert _glyph_warnings(caught) == []
    svg = (tmp_path / "weights.svg").read_text(encoding="utf-8")
    assert "LastResort" not in svg  # matplotlib's box glyph for characters no font has
    assert re.search(r'id="NotoSansCJK|id="[A-Za-z]*CJK', svg)
    assert "研发经费投入强度" in svg  # matplotlib writes each text as a comment before its glyphs


def test_demo_like_report_in_english_has_no_missing_glyph(tmp_path):
    """A report whose indicator labels hold Chinese text, in English: no missing-glyph warning, no box glyph."""
    if report_fonts.find_cjk_font() is None:
        pytest.skip("no CJK font installed")
    ind, w, _ = _demo_weights()
    ctx = make_context()
    ctx.indicators = ind
    ctx.tables = {"indicator_weights": w, "indices": ctx.indices}
    ctx.out_dir = tmp_path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build_report(ctx, {"formats": ["svg"]})
    assert _glyph_warnings(caught) == []
    assert not [x for x in caught if issubclass(x.category, NqpWarning)]
    assert out.info["font"] == report_fonts.find_cjk_font()
    for svg in (tmp_path / "figures").glob("*.svg"):
        assert "LastResort" not in svg.read_text(encoding="utf-8"), svg.name


def test_without_a_cjk_font_labels_fall_back_to_ascii_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(report_fonts, "find_cjk_font", lambda: None)
    ind, w, _ = _demo_weights()
    ctx = make_context()
    ctx.indicators = ind
    ctx.subsystems = ["新质生产力", "新型城镇化"]
    w = w.assign(subsystem=w["subsystem"].map({"NQP": "新质生产力", "NTU": "新型城镇化"}))
    ctx.tables = {"indicator_weights": w, "indices": ctx.indices}
    ctx.out_dir = tmp_path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build_report(ctx, {"formats": ["svg"]})
    ours = [x for x in caught if issubclass(x.category, NqpWarning)]
    assert len(ours) == 1, [str(x.message) for x in ours]
    assert issubclass(ours[0].category, report_fonts.FontWarning)
    msg = str(ours[0].message)
    assert "nqpspatial[cjk]" in msg and "fonts-noto-cjk" in msg
    assert _glyph_warnings(caught) == []
    svg = (tmp_path / "figures" / "weights.svg").read_text(encoding="utf-8")
    assert "LastResort" not in svg
    assert "<!-- rd_intensity -->" in svg and "研发" not in svg  # the indicator code stands for the label
    assert "新质生产力" not in svg and "S1" in svg  # subsystems named S1, S2 (the warning says which is which)
    assert "S1 = 新质生产力" in msg
    assert out.info["font"] is None


def test_zh_without_font_warns_once(tmp_path, monkeypatch):
    monkeypatch.setattr(report_fonts, "find_cjk_font", lambda: None)
    ind, w, _ = _demo_weights()
    ctx = make_context()
    ctx.indicators = ind
    ctx.tables = {"indicator_weights": w, "indices": ctx.indices}
    ctx.out_dir = tmp_path
    with pytest.warns(report_fonts.FontWarning) as rec:
        out = build_report(ctx, {"language": "zh", "formats": ["svg"]})
    assert len([r for r in rec if issubclass(r.category, NqpWarning)]) == 1
    assert out.info["figure_language"] == "en"


def test_cjk_extra_names_an_openly_licensed_font_package():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    extras = cfg["options.extras_require"]
    cjk = [x.strip() for x in extras["cjk"].strip().splitlines() if x.strip()]
    assert cjk and cjk[0].startswith(report_fonts.FONT_PACKAGE)
    assert any(x.startswith(report_fonts.FONT_PACKAGE) for x in extras["test"].splitlines())
    doc = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    assert report_fonts.FONT_PACKAGE in doc and "SIL Open Font License" in doc


def test_the_font_package_is_found_without_system_fonts(monkeypatch):
    pytest.importorskip("noto_cjk_sans_otc")
    from importlib.metadata import metadata

    assert "OFL" in (metadata(report_fonts.FONT_PACKAGE).get("License-Expression") or "")
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setattr(report_fonts, "_cache", {})
    font = report_fonts.find_cjk_font()
    assert font is not None and "CJK" in font
    path = font_manager.findfont(font_manager.FontProperties(family=font), fallback_to_default=False)
    assert "noto_cjk_sans_otc" in path or "CJK" in path
