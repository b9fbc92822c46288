"""The [sensitivity] and [robustness] stages: pipeline runs, contract checks, tables against direct fits."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

import nqpspatial
from nqpspatial import registry
from nqpspatial.artifacts import IndicatorWeights, SpatialWeightsSet
from nqpspatial.errors import ConfigError
from nqpspatial.haken import identify
from nqpspatial.pipeline import default_config_path
from nqpspatial.robustness import robustness_stage, robustness_table, sensitivity_stage
from nqpspatial.robustness.sensitivity import REGION_COLUMNS, SUMMARY_COLUMNS
from nqpspatial.robustness.table import ROBUSTNESS_COLUMNS, variant_windows
from nqpspatial.testing import check_analysis, make_context


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo study with [sensitivity] (200 draws) and [robustness], written with figures."""
    cfg = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    for k in ("zones", "scenarios"):
        cfg.pop(k, None)
    cfg["sensitivity"] = {"draws": 200, "methods": ["entropy", "equal"]}
    cfg["robustness"] = {"rolling_window": 6, "spatial_draws": 50}
    out = tmp_path_factory.mktemp("demo") / "out"
    with (
        registry.registered("analyses", "sensitivity", sensitivity_stage),
        registry.registered("analyses", "robustness", robustness_stage),
    ):
        return nqpspatial.run(cfg, base_dir=default_config_path().parent, out=out, quiet=True)


def test_demo_tables_and_figures(demo_run):
    r = demo_run
    s, reg, rob = r.table("sensitivity_summary"), r.table("sensitivity_regions"), r.table("robustness")
    assert list(s.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert list(reg.columns[: len(REGION_COLUMNS)]) == REGION_COLUMNS
    assert list(rob.columns[: len(ROBUSTNESS_COLUMNS)]) == ROBUSTNESS_COLUMNS
    for f in ("sensitivity_summary.csv", "sensitivity_regions.csv", "robustness.csv"):
        assert (r.out_dir / "tables" / f).exists()
    assert (r.out_dir / "figures" / "robustness.png").stat().st_size > 1000
    assert (r.out_dir / "figures" / "sensitivity.png").stat().st_size > 1000
    stage = {x["name"]: x for x in r.info["stages"]}
    assert stage["sensitivity"]["status"] == "ok" and stage["robustness"]["status"] == "ok"
    assert 0 <= stage["sensitivity"]["info"]["verdict_share"] <= 1
    assert -1 <= stage["sensitivity"]["info"]["spearman_mean"] <= 1
    # rank stability reported per period, methods side by side
    years = sorted(r.table("indices")["year"].unique())
    sp = s[(s["kind"] == "rank") & (s["statistic"] == "spearman") & (s["source"] == "dirichlet")]
    assert sorted(sp["year"].dropna().astype(int)) == years
    assert {"entropy", "equal"} <= set(s["source"])
    assert {"h_entropy", "grade_equal", "rank_entropy"} <= set(reg.columns)


def test_sensitivity_baseline_equals_the_haken_stage(demo_run):
    r = demo_run
    co = r.table("coevolution").set_index(["region", "year"])
    reg = r.table("sensitivity_regions").set_index(["region", "year"]).loc[co.index]
    assert np.allclose(reg["h_baseline"], co["h"], rtol=0, atol=1e-12)
    assert (reg["grade_baseline"].astype(int).to_numpy() == co["grade_class"].astype(int).to_numpy()).all()
    ident = r.table("haken_identification").set_index(["q1", "q2"])
    s = r.table("sensitivity_summary")
    par = s[(s["kind"] == "parameter") & (s["source"] == "dirichlet")]
    for _, row in par.iterrows():
        if row["statistic"] in ("gamma1", "a", "gamma2", "b", "ratio"):
            assert row["baseline"] == pytest.approx(ident.at[(row["q1"], row["q2"]), row["statistic"]], rel=1e-10)


def test_robustness_rows_equal_direct_fits(demo_run):
    r = demo_run
    rob = r.table("robustness")
    ident = r.table("haken_identification").set_index(["q1", "q2"])
    base = rob[rob["kind"] == "baseline"].set_index(["q1", "q2"])
    for col in ("gamma1", "a", "gamma2", "b", "ratio"):
        assert np.allclose(base[col], ident.loc[base.index, col], rtol=1e-12)
    idx = r.table("indices")[["region", "year", "NQP", "NTU"]]
    # a sub-period and a zone, refitted directly with the Haken model
    sub = rob[rob["kind"] == "subperiod"].iloc[0]
    ref = identify(idx, ["NQP", "NTU"], window=(int(sub["first_year"]), int(sub["last_year"])), bootstrap=0)
    row = ref.table.set_index(["q1", "q2"]).loc[(sub["q1"], sub["q2"])]
    assert sub["gamma2"] == pytest.approx(row["gamma2"], rel=1e-12)
    jk = rob[rob["variant"] == "region effects, analytic bias correction"].set_index(["q1", "q2"])
    assert "Hahn & Kuersteiner" in jk["detail"].iloc[0]  # the fixed-effects row names its correction
    ref = identify(idx, ["NQP", "NTU"], effects="region", correction="analytic", bootstrap=0).table.set_index(
        ["q1", "q2"]
    )
    for col in ("gamma1", "a", "gamma2", "b", "p_gamma2"):
        assert np.allclose(jk[col], ref.loc[jk.index, col], rtol=1e-8, atol=1e-300)
    assert (jk["adiabatic"].astype(bool) == ref.loc[jk.index, "adiabatic"].astype(bool)).all()
    zone = rob[rob["kind"] == "zone"].iloc[0]
    scheme = registry.get("schemes", "eight-zones").load(list(idx["region"].unique()))
    g = zone["variant"].removeprefix("zone ")
    zidx = idx[idx["region"].map(scheme) == g]
    zref = identify(zidx, ["NQP", "NTU"], bootstrap=0).table.set_index(["q1", "q2"])
    assert zone["gamma1"] == pytest.approx(zref.at[(zone["q1"], zone["q2"]), "gamma1"], rel=1e-12)
    assert zone["n_obs"] == zref.at[(zone["q1"], zone["q2"]), "n_obs"]
    # spatial variant: the SAR plugin's identification row under the published queen weights
    sar = rob[(rob["kind"] == "spatial") & (rob["model"] == "sar")].iloc[0]
    graph = r.get(SpatialWeightsSet).get("queen").graph
    fit = registry.get("models", "sar").fit(idx, sar["q1"], sar["q2"], graph, draws=50, seed=0)
    ref_sar = fit.identification.set_index("reading").loc["system"]  # [spatial_haken] reading default
    assert sar["reading"] == "system"
    assert sar["gamma2"] == pytest.approx(ref_sar["gamma2"], rel=1e-8)
    assert bool(sar["adiabatic"]) == bool(ref_sar["adiabatic"])
    assert set(rob["kind"]) == {"baseline", "subperiod", "rolling", "zone", "specification", "spatial"}
    # rolling windows of 6 years over 2014-2023: 5 windows
    assert rob.loc[rob["kind"] == "rolling", "variant"].nunique() == 5


def test_variant_windows():
    subs, roll = variant_windows(range(2014, 2024), 5)
    assert subs == [(2014, 2018), (2019, 2023)]
    assert roll[0] == (2014, 2018) and roll[-1] == (2019, 2023) and len(roll) == 6
    subs, roll = variant_windows(range(2014, 2021), 0)  # 7 years: halves share 2017
    assert subs == [(2014, 2017), (2017, 2020)] and roll == []
    subs, _ = variant_windows(range(2014, 2024), 0, [[2014, 2019], [2020, 2023]])
    assert subs == [(2014, 2019), (2020, 2023)]


def test_contract_on_the_synthetic_context():
    check_analysis(sensitivity_stage, make_context())
    check_analysis(robustness_stage, make_context())


def test_stage_run_directly_and_bad_config(tmp_path):
    ctx = make_context(periods=10)
    out = sensitivity_stage.run(ctx, {"draws": 50, "concentration": "uniform", "methods": ["equal"]})
    assert set(out.tables) == {"sensitivity_summary", "sensitivity_regions"}
    assert out.info["draws"] == 50 and out.info["concentration"] == "uniform on the simplex"
    out = robustness_stage.run(ctx, {"weights": ["rook"], "models": ["slx"], "rolling_window": 0})
    rob = out.tables["robustness"]
    assert "slx (rook)" in set(rob["variant"]) and "rolling" not in set(rob["kind"])
    for key, value in (("draws", -1), ("concentration", "flat"), ("methods", ["magic"]), ("backend", "gpu")):
        with pytest.raises(ConfigError, match=key):
            sensitivity_stage.run(ctx, {key: value})
    for key, value in (("rolling_window", 2), ("models", ["nope"]), ("zones", "yes")):
        with pytest.raises(ConfigError, match=key):
            robustness_stage.run(ctx, {key: value})


def test_sensitivity_skips_when_indices_are_given():
    ctx = make_context()
    ctx.artifacts.pop(IndicatorWeights)  # the study gave indices: no indicator weighting ran
    out = sensitivity_stage.run(ctx, {})
    assert out.status == "skipped" and "indices" in out.notes[0]


def test_robustness_table_without_scheme_or_weights():
    ctx = make_context(periods=9)
    res = robustness_table(ctx.indices, ["A", "B"], rolling_window=4, specifications=False)
    assert set(res.table["kind"]) == {"baseline", "subperiod", "rolling"}
    boot = robustness_table(ctx.indices, ["A", "B"], rolling_window=0, specifications=False, bootstrap=49, seed=1)
    fast = robustness_table(ctx.indices, ["A", "B"], rolling_window=0, specifications=False)
    assert np.allclose(boot.table["gamma2"], fast.table["gamma2"], rtol=1e-10)
    assert boot.table["verdict_share"].between(0, 1).all()
    assert res.order == ("A", "B")
    assert 0.0 <= res.verdict_share() <= 1.0
    assert "Robustness" in res.summary().as_text()


def test_spatial_variants_follow_the_reading():
    """Issue 14: robustness.csv's spatial variants use the chosen reading (total or direct effects)."""
    from libpysal.graph import Graph

    ctx = make_context(side=4, periods=8)
    g = Graph.build_contiguity(ctx.geometry, rook=False)
    out = {}
    for reading in ("system", "local"):
        res = robustness_table(
            ctx.indices,
            ["A", "B"],
            rolling_window=0,
            specifications=False,
            subperiods=[],
            graphs={"queen": g},
            models=["sar"],
            spatial_draws=20,
            seed=1,
            spatial_reading=reading,
        )
        out[reading] = res.table[res.table["kind"] == "spatial"].set_index(["q1", "q2"])
        assert (out[reading]["reading"] == reading).all()
    fit = registry.get("models", "sar").fit(ctx.indices, "A", "B", g, draws=20, seed=0)
    ident = fit.identification.set_index("reading")
    for reading in ("system", "local"):
        assert out[reading].loc[("A", "B"), "gamma1"] == pytest.approx(ident.loc[reading, "gamma1"], rel=1e-10)
