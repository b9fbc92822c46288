"""The optional [zones] pipeline stage (plugins/zones/stage.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nqpspatial.artifacts import HakenOutcome, IndicatorWeights
from nqpspatial.errors import ConfigError
from nqpspatial.plugins.zones import ZonesStage, convergence, markov_chains, zones_stage
from nqpspatial.testing import check_plugin, make_context

ISSUE_TABLES = {
    "zones_summary",
    "dagum_gini",
    "dagum_pairs",
    "clusters",
    "clusters_vs_zones",
    "markov_transitions",
    "spatial_markov",
    "convergence",
    "obstacles",
}


def _cfg(**kw):
    return {"enabled": True, **dict(ZonesStage.config_keys), **kw}


@pytest.fixture(scope="module")
def default_run():
    ctx = make_context(side=4, periods=8, seed=1)
    return ctx, zones_stage.run(ctx, _cfg())


def test_contract():
    check_plugin("analyses", zones_stage)
    assert zones_stage.name == "zones" and zones_stage.optional and zones_stage.order == 70
    assert zones_stage.requires == ("scheme",)


def test_default_run_writes_the_issue_tables(default_run):
    ctx, out = default_run
    assert ISSUE_TABLES <= set(out.tables)
    assert list(out.tables["dagum_gini"].columns[:10]) == [
        "variable",
        "scheme",
        "year",
        "G",
        "G_within",
        "G_between",
        "G_transvariation",
        "share_within",
        "share_between",
        "share_transvariation",
    ]
    assert list(out.tables["clusters"].columns) == ["variable", "region", "method", "cluster"]
    assert set(out.tables["clusters"]["method"]) == {"skater", "ward", "maxp", "kmeans"}
    assert list(out.tables["obstacles"].columns) == ["region", "year", "subsystem", "level", "name", "obstacle", "rank"]
    assert out.info["variables"] == ["A", "B"]  # subsystem indices; no Haken published
    # values as stored: the summary's national mean equals the raw mean of the index
    s = out.tables["zones_summary"]
    row = s[(s["variable"] == "A") & (s["level"] == "national") & (s["year"] == 2012)].iloc[0]
    assert row["mean"] == pytest.approx(ctx.indices.loc[ctx.indices["year"] == 2012, "A"].mean())


def test_same_seed_same_tables(default_run):
    ctx, out = default_run
    again = zones_stage.run(make_context(side=4, periods=8, seed=1), _cfg())
    for name in ("clusters", "clusters_vs_zones", "spatial_markov", "dagum_gini"):
        pd.testing.assert_frame_equal(out.tables[name], again.tables[name])


def test_no_geometry_skips_spatial_parts_with_notes():
    ctx = make_context(geometry=False)
    out = zones_stage.run(ctx, _cfg(analyses=["clusters", "markov", "convergence"], spatial_lag=True))
    assert "clusters" not in out.tables and "spatial_markov" not in out.tables
    assert "markov_transitions" in out.tables and "convergence" in out.tables
    text = " ".join(out.notes)
    assert "clusters skipped" in text and "spatial and LISA Markov skipped" in text
    assert "spatial-lag convergence skipped" in text


def test_kmeans_alone_runs_without_geometry():
    out = zones_stage.run(
        make_context(geometry=False), _cfg(analyses=["clusters"], cluster_methods=["kmeans"], clusters=3)
    )
    assert set(out.tables["clusters"]["method"]) == {"kmeans"}


def test_config_errors():
    ctx = make_context()
    with pytest.raises(ConfigError, match="unknown.*'gini'"):
        zones_stage.run(ctx, _cfg(analyses=["gini"]))
    with pytest.raises(ConfigError, match="cluster_methods"):
        zones_stage.run(ctx, _cfg(cluster_methods=["dbscan"]))
    with pytest.raises(ConfigError, match="'nope'.*available"):
        zones_stage.run(ctx, _cfg(variables=["nope"]))
    with pytest.raises(ConfigError, match="clusters"):
        zones_stage.run(ctx, _cfg(clusters=0))
    with pytest.raises(ConfigError, match=r"classes must be a whole number >= 2, not 1"):
        zones_stage.run(ctx, _cfg(classes=1))
    with pytest.raises(ConfigError, match="number of regions"):
        zones_stage.run(ctx, _cfg(analyses=["clusters"], clusters=40))


def test_raw_panel_column_as_variable():
    ctx = make_context()
    out = zones_stage.run(ctx, _cfg(variables=["a"], analyses=["summary", "dagum"]))
    assert out.info["variable_sources"] == {"a": "panel"}
    assert set(out.tables["dagum_gini"]["variable"]) == {"a"}


def _fake_haken(ctx, strategy="test", window=None) -> HakenOutcome:
    """A Haken outcome holding only a co-evolution table with h (a 0 in it) and grades."""
    idx = ctx.indices
    h = (idx["A"] - idx["A"].min()) / (idx["A"].max() - idx["A"].min())  # min-max: has an exact 0
    grade = pd.cut(h, [-0.01, 0.3, 0.6, 1.0], labels=["low", "mid", "high"]).astype(str)
    table = pd.DataFrame(
        {
            "region": idx["region"],
            "year": idx["year"],
            "q1": idx["A"],
            "q2": idx["B"],
            "V": -h,
            "d": 1 - h,
            "h": h,
            "grade": grade,
            "strategy": strategy,
        }
    )
    if window is not None:
        table = table[table["year"] >= window]
    return HakenOutcome(identification=SimpleNamespace(chosen=("A", "B")), coevolution=table)


def test_haken_variables_grades_zeros_and_log_refusals():
    ctx = make_context(side=4, periods=8, seed=2)
    ctx.provide(_fake_haken(ctx))
    out = zones_stage.run(ctx, _cfg(analyses=["summary", "dagum", "markov", "convergence"]))
    assert out.info["variables"] == ["A", "B", "h"]
    classes = out.tables["markov_classes"]
    pooled = classes[(classes["variable"] == "h") & (classes["classes"] == "pooled")]
    assert list(pooled["label"]) == ["low", "mid", "high"]
    # Dagum and Theil take the 0 as it is (0 ln 0 = 0)
    assert "h" in set(out.tables["dagum_gini"]["variable"])
    assert "h" in set(out.tables["theil"]["variable"])
    # h of an unknown (not normalized) strategy is not known to be an index: beta convergence keeps it as
    # stored and refuses the 0, naming variable, region and year
    notes = " ".join(out.notes)
    assert "Theil skipped" not in notes and "convergence skipped for 'h'" in notes
    zero = ctx.indices.loc[ctx.indices["A"].idxmin()]
    assert f"'{zero['region']}' in year {zero['year']}" in notes
    assert out.info["convergence_shift"]["as_stored"] == ["h"]
    # a normalized strategy's h is an index in [0, 1]: mapped like the subsystem indices
    ctx.provide(_fake_haken(ctx, strategy="distance-normalized"))
    out = zones_stage.run(ctx, _cfg(analyses=["convergence"]))
    assert out.info["convergence_shift"]["mapped"] == ["A", "B", "h"]
    beta = out.tables["convergence"].query("kind == 'beta'")
    assert set(beta["variable"]) == {"A", "B", "h"}
    assert beta["note"].str.contains(r"mapped into \[0.002, 0.998\]").all()


def test_convergence_shift_maps_indices_only():
    ctx = make_context(side=4, periods=8, seed=2)
    idx = ctx.indices.copy()
    idx["A"] = (idx["A"] - idx["A"].min()) / (idx["A"].max() - idx["A"].min())  # min-max: an exact 0
    ctx.indices = idx
    out = zones_stage.run(ctx, _cfg(analyses=["convergence"], variables=["A", "a"]))
    info = out.info["convergence_shift"]
    assert info["shift"] == 0.002 and info["mapped"] == ["A"] and info["as_stored"] == ["a"]
    conv = out.tables["convergence"]
    beta_a = conv.query("kind == 'beta' and variable == 'a'")
    assert beta_a["note"].isna().all()  # a raw panel column: values as stored
    ref = convergence(idx, "A", ctx.scheme, index_shift=0.002, scheme_name=ctx.scheme_name).table
    pd.testing.assert_frame_equal(conv[conv["variable"] == "A"].reset_index(drop=True), ref, check_dtype=False)
    # 0: values as stored, so the 0 of the index refuses the logarithm (a note, as before)
    out0 = zones_stage.run(ctx, _cfg(analyses=["convergence"], variables=["A"], convergence_shift=0))
    assert "convergence" not in out0.tables and "convergence skipped for 'A'" in " ".join(out0.notes)
    assert out0.info["convergence_shift"]["mapped"] == []
    for bad in (0.5, -0.01, "0.002", True):
        with pytest.raises(ConfigError, match="convergence_shift"):
            zones_stage.run(ctx, _cfg(analyses=["convergence"], convergence_shift=bad))


def test_markov_classes_key():
    ctx = make_context(side=4, periods=8, seed=1)
    both = zones_stage.run(ctx, _cfg(analyses=["markov"]))  # default "both"
    t = both.tables["markov_transitions"]
    assert set(t["classes"].dropna()) == {"pooled", "relative"} and t.loc[t["kind"] == "lisa", "classes"].isna().all()
    assert set(both.tables["spatial_markov"]["classes"]) == {"pooled", "relative"}
    cl = both.tables["markov_classes"]
    assert cl.loc[cl["classes"] == "pooled", "year"].isna().all()
    assert set(cl.loc[cl["classes"] == "relative", "year"]) == set(range(2010, 2018))
    assert both.info["markov"]["classes"] == "both"
    pooled = zones_stage.run(ctx, _cfg(analyses=["markov"], markov_classes="pooled"))
    ref = markov_chains(ctx.indices, ["A", "B"], pooled_graph(ctx), classes=5, seed=pooled.info["seed"])
    pd.testing.assert_frame_equal(pooled.tables["markov_transitions"], ref.transitions)
    pd.testing.assert_frame_equal(pooled.tables["spatial_markov"], ref.spatial)
    p = pooled.tables["markov_transitions"]
    pd.testing.assert_frame_equal(p, t[t["classes"] != "relative"].reset_index(drop=True))
    rel = zones_stage.run(ctx, _cfg(analyses=["markov"], markov_classes="relative"))
    assert set(rel.tables["markov_classes"]["classes"]) == {"relative"}
    with pytest.raises(ConfigError, match="markov_classes"):
        zones_stage.run(ctx, _cfg(analyses=["markov"], markov_classes="fixed"))


def pooled_graph(ctx):
    from nqpspatial.plugins.zones import contiguity_graph

    return contiguity_graph(ctx.geometry, sorted(ctx.indices["region"].unique()))[0]


def test_with_the_real_haken_stage():
    haken_stage = pytest.importorskip("nqpspatial.haken.stage")
    ctx = make_context(side=4, periods=10, seed=0)
    hs = haken_stage.HakenStage()
    cfg = {**dict(hs.config_keys), "bootstrap": 0, "break_bootstrap": 0}
    ctx.absorb(hs.run(ctx, cfg))
    if ctx.get(HakenOutcome) is None:
        pytest.skip("no ordering identified on the synthetic panel")
    out = zones_stage.run(ctx, _cfg(analyses=["summary", "markov"]))
    assert "h" in out.info["variables"]
    fits = out.tables["zones_haken_fits"]
    assert set(fits["group"]) == set(ctx.scheme) and {"gamma1", "a", "gamma2", "b"} <= set(fits.columns)
    turns = out.tables["zones_turning_points"]
    assert set(turns["group"]) == set(ctx.scheme)
    assert turns["turning_point"].between(2010, 2019).all()


def test_pipeline_writes_zone_tables(study):
    """End to end through nqpspatial.pipeline.run with the stage registered in-process."""
    from nqpspatial import registry
    from nqpspatial.pipeline import run

    pd.DataFrame({"region": [f"R{i}" for i in range(1, 7)], "group": ["g1", "g1", "g1", "g2", "g2", "g2"]}).to_csv(
        study.root / "scheme.csv", index=False
    )
    study.write(
        extra="""
        [regions]
        scheme = "scheme.csv"
        [zones]
        analyses = ["summary", "dagum", "markov", "obstacles"]
        classes = 3
        """
    )
    with registry.registered("analyses", "zones", zones_stage):
        run(study.config, out=study.out, quiet=True, report=False)
    tables = study.out / "tables"
    for name in ("zones_summary", "dagum_gini", "dagum_pairs", "markov_transitions", "obstacles"):
        assert (tables / f"{name}.csv").exists(), name
    obstacles = pd.read_csv(tables / "obstacles.csv", encoding="utf-8-sig")
    sums = obstacles.dropna(subset=["obstacle"]).groupby(["region", "year", "subsystem", "level"])["obstacle"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 100.0, atol=1e-9)
    gini = pd.read_csv(tables / "dagum_gini.csv", encoding="utf-8-sig")
    parts = gini[["G_within", "G_between", "G_transvariation"]].sum(axis=1)
    np.testing.assert_allclose(parts, gini["G"], atol=1e-12)


def test_haken_window_keeps_each_variable_its_own_coverage():
    ctx = make_context(side=4, periods=8, seed=2)
    ctx.provide(_fake_haken(ctx, window=2012))  # a window
    out = zones_stage.run(ctx, _cfg(analyses=["summary", "dagum"]))
    s = out.tables["zones_summary"]
    assert set(s.loc[s["variable"] == "h", "year"]) == set(range(2012, 2018))
    assert set(s.loc[s["variable"] == "A", "year"]) == set(range(2010, 2018))
    assert "h" in set(out.tables["dagum_gini"]["variable"])


@pytest.fixture(scope="module")
def demo_context():
    """The bundled demo study up to the zones stage (data, weights, boundaries, scheme, Haken), built with the
    public API and the demo's own config (no full pipeline run)."""
    from nqpspatial import compute_weights, registry
    from nqpspatial.config import load_config, resolve_config, stage_spec
    from nqpspatial.demo import config_path, demo_file
    from nqpspatial.geodata import province_layer
    from nqpspatial.panel import load_panel
    from nqpspatial.stage import StageContext

    analyses = registry.load_all("analyses")
    raw, _ = load_config(config_path())
    cfg = resolve_config(raw, {n: stage_spec(a) for n, a in analyses.items()})
    d = cfg["data"]
    panel = load_panel(demo_file(d["panel"]), demo_file(d["indicators"]), region=d["region"], year=d["year"])
    w = cfg["weighting"]
    res = compute_weights(
        panel.values,
        panel.indicators,
        method=w["method"],
        normalization=w["normalization"],
        critic_conflict=w["critic_conflict"],
        critic_cost=w["critic_cost"],
        levels=int(w["levels"]),
        zero_variance=w["zero_variance"],
    )
    regions = panel.regions
    ctx = StageContext(
        config=cfg,
        panel=panel.values,
        subsystems=panel.subsystems,
        indices=res.indices,
        indicators=panel.indicators,
        geometry=province_layer(regions),
        scheme=registry.get("schemes", cfg["regions"]["scheme"]).load(regions),
        scheme_name=cfg["regions"]["scheme"],
        seed=int(cfg["run"]["seed"]),
    )
    ctx.provide(IndicatorWeights(table=res.weights, normalized=res.normalized))
    ctx.absorb(analyses["haken"].run(ctx, cfg["haken"]))
    return ctx, cfg


def test_demo_reports_theil_and_beta_convergence(demo_context):
    """Issue 17 item 9: with the default min-max normalization the demo's NQP index and h have an exact 0
    (Xinjiang, 2014); Theil (0 ln 0 = 0) and beta convergence (index mapped into [0.002, 0.998]) still run."""
    ctx, cfg = demo_context
    assert (ctx.indices["NQP"] == 0).any()  # the reason both were skipped before
    out = zones_stage.run(ctx, {**dict(cfg["zones"]), "analyses": ["dagum", "convergence"]})
    assert out.info["variables"] == ["NQP", "NTU", "h"]
    assert not [n for n in out.notes if "skipped" in n], out.notes
    theil = out.tables["theil"]
    assert set(theil["variable"]) == {"NQP", "NTU", "h"} and len(theil) == 3 * 10
    assert theil["T"].gt(0).all() and np.isfinite(theil[["T_between", "T_within"]]).all().all()
    beta = out.tables["convergence"].query("kind == 'beta' and level == 'national' and model == 'ols'")
    assert set(beta["variable"]) == {"NQP", "NTU", "h"}
    assert beta[["beta", "se", "p"]].notna().all().all()
    assert beta["note"].str.contains(r"mapped into \[0.002, 0.998\]").all()
    assert out.info["convergence_shift"]["shift"] == 0.002
    assert out.info["convergence_shift"]["mapped"] == ["NQP", "NTU", "h"]
