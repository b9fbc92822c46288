"""Figure files and figures that scale: names, long panels, densities, histograms, Moran's I."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nqpspatial.report import build_report
from nqpspatial.report.figures import FigureWriter
from nqpspatial.testing import make_context

from test_report import _fake_tables

pytest.importorskip("matplotlib")

ZH = ["新质生产力", "新型城镇化"]


def _captioned_files(page: str) -> list[str]:
    return re.findall(r"<span class='file'>\(figures/([^)]*)\.\*\)</span>", page)


def test_chinese_named_subsystems_give_distinct_figure_files(tmp_path):
    ctx = make_context()
    tabs = _fake_tables(ctx)
    ren = {"A": ZH[0], "B": ZH[1]}
    ctx.subsystems = ZH
    ctx.indices = ctx.indices.rename(columns=ren)
    for name in ("lisa", "moran_global"):
        tabs[name] = tabs[name].assign(variable=tabs[name]["variable"].replace(ren))
    # LISA maps of both subsystems (and h)
    extra = tabs["lisa"][tabs["lisa"]["variable"] == ZH[0]].assign(variable=ZH[1])
    tabs["lisa"] = pd.concat([tabs["lisa"], extra], ignore_index=True)
    tabs["indices"] = ctx.indices
    ctx.tables = tabs
    ctx.out_dir = tmp_path
    out = build_report(ctx, {"formats": ["png"]})
    figs = set(out.info["figures"])
    assert {f"lisa_{ZH[0]}.png", f"lisa_{ZH[1]}.png"} <= figs
    assert "lisa.png" not in figs
    assert len(figs) == len(out.info["figures"])  # nothing written twice
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    named = _captioned_files(page)
    assert f"lisa_{ZH[0]}" in named and f"lisa_{ZH[1]}" in named
    assert len(named) == len(set(named))
    for stem in named:  # every caption names a file that exists
        assert (tmp_path / "figures" / f"{stem}.png").exists(), stem


def test_figure_names_that_slugify_alike_get_distinct_files(tmp_path):
    import matplotlib.pyplot as plt

    w = FigureWriter(tmp_path, ("png",))
    stems = [w.save_named(plt.figure(), n)[0] for n in ("lisa_A b", "lisa_a_b", "lisa_A-b", "图 1")]
    assert stems == ["lisa_a_b", "lisa_a_b_2", "lisa_a_b_3", "图_1"]
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(stems)
