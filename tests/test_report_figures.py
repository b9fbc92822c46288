"""Figure files and figures that scale: names, long panels, densities, histograms, Moran's I."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_report import _fake_tables

from nqpspatial.report import build_report
from nqpspatial.report.figures import FigureWriter
from nqpspatial.testing import make_context

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


def _visible_ticklabels(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text() and t.get_visible()]


def test_an_81_period_panel_renders_every_figure(tmp_path):
    import matplotlib.pyplot as plt

    from nqpspatial.report import figures as F

    ctx = make_context(periods=81)
    tabs = _fake_tables(ctx)
    tabs["moran_global"] = pd.concat(
        [tabs["moran_global"], tabs["moran_global"].assign(weights="knn6")], ignore_index=True
    )
    ctx.tables = tabs
    ctx.out_dir = tmp_path
    out = build_report(ctx, {"formats": ["png"]})
    assert out.warnings == []
    figs = set(out.info["figures"])
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
        assert f"{name}.png" in figs, name
    years = sorted(tabs["coevolution"]["year"].unique())
    assert len(years) == 81
    # readable: no legend of 81 lines, no 81 year labels
    fig = F.density_figure(tabs["density_curves"], "h")
    assert fig.axes[0].get_legend() is None and len(fig.axes) == 2  # a colour bar of the periods
    plt.close(fig)
    fig = F.dagum_figure(tabs["dagum_gini"], "h")
    fig.canvas.draw()
    assert 5 <= len(_visible_ticklabels(fig.axes[0].xaxis)) <= F.MAX_TICKS
    plt.close(fig)
    fig = F.trajectories_figure(tabs["stages"], ["q1", "q2", "h"])
    fig.canvas.draw()
    assert len(_visible_ticklabels(fig.axes[0].xaxis)) <= F.MAX_TICKS
    assert len(fig.legends[0].get_texts()) <= F.MAX_LEGEND
    plt.close(fig)


def test_moran_global_shows_every_weights_specification():
    import matplotlib.pyplot as plt

    from nqpspatial.report.figures import moran_figure

    ctx = make_context()
    mg = _fake_tables(ctx)["moran_global"]
    mg = pd.concat([mg, mg.assign(weights="knn6"), mg.assign(weights="inverse_distance")], ignore_index=True)
    fig = moran_figure(mg)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["queen", "knn6", "inverse_distance"]
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["A", "h"]
    plt.close(fig)


def test_index_densities_integrate_to_one_on_the_unit_interval():
    from scipy.integrate import quad

    from nqpspatial.plugins.zones.density import (
        gaussian_density,
        kernel_density,
        reflected_density,
    )

    rng = np.random.default_rng(3)
    y = rng.beta(0.7, 3.0, size=31)  # mass piled up at 0, as an index's often is
    bw = 0.08
    assert quad(lambda x: reflected_density(y, [x], bw)[0], 0, 1, limit=200)[0] == pytest.approx(1, abs=1e-8)
    # without reflection a fifth of the mass spills below 0
    assert quad(lambda x: gaussian_density(y, [x], bw)[0], 0, 1, limit=200)[0] < 0.9
    data = pd.DataFrame(
        {
            "region": np.repeat(np.arange(31), 2),
            "year": np.tile([1, 2], 31),
            "h": np.r_[y, rng.uniform(size=31)].reshape(2, 31).T.ravel(),
        }
    )
    res = kernel_density(data, "h", bounds=(0, 1), grid_size=801)
    for _, c in res.curves.groupby("year"):
        x, f = c["x"].to_numpy(), c["density"].to_numpy()
        assert x[0] == 0 and x[-1] == 1
        assert np.trapezoid(f, x) == pytest.approx(1, abs=1e-4)
    assert (res.density["note"] == "reflected at the bounds 0 and 1").all()
    from nqpspatial.errors import InputError

    with pytest.raises(InputError, match="outside bounds"):
        kernel_density(data.assign(h=data["h"] + 1), "h", bounds=(0, 1))


def test_a_heavy_tailed_histogram_gets_a_log_axis():
    import matplotlib.pyplot as plt

    from nqpspatial.report.figures import histogram

    rng = np.random.default_rng(0)
    heavy = np.exp(rng.normal(0, 3, 1000))
    fig, ax = plt.subplots()
    assert histogram(ax, {"a -> b": heavy})
    assert ax.get_xscale() == "log"
    counts = [p.get_height() for p in ax.patches]
    assert sum(c > 0 for c in counts) >= 20 and max(counts) < 0.2 * len(heavy)  # not one bar
    plt.close(fig)
    fig, ax = plt.subplots()
    assert not histogram(ax, {"a": rng.normal(3, 0.2, 1000)}) and ax.get_xscale() == "linear"
    plt.close(fig)
