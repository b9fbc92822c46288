"""The ``spatial`` pipeline stage: tables, alignment, islands, config errors, end-to-end run.

Reference data: libpysal's Mexico example (per-capita GDP per decade,
mexicojoin.shp in lon/lat, EPSG:4326 set here) and the bundled 31-province
layer for Hainan (code 460000) and Guangdong (440000).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

esda = pytest.importorskip("esda")
gpd = pytest.importorskip("geopandas")
libpysal = pytest.importorskip("libpysal")

from _mexico import mexico_layer, mexico_long  # noqa: E402
from nqpspatial.artifacts import HakenOutcome, SpatialWeightsSet  # noqa: E402
from nqpspatial.errors import ConfigError  # noqa: E402
from nqpspatial.plugins import statistics as S  # noqa: E402
from nqpspatial.plugins.spatial import SpatialStage, spatial_stage  # noqa: E402
from nqpspatial.stage import StageContext  # noqa: E402


@pytest.fixture(scope="module")
def mexico():
    g, cols = mexico_layer()
    panel = mexico_long(g, cols)
    panel["lpcgdp"] = np.log(panel["pcgdp"])
    panel = panel.sort_values(["region", "year"]).reset_index(drop=True)
    return g, panel


def _ctx(panel, geometry, **kw):
    return StageContext(config={}, panel=panel, geometry=geometry, seed=2024, **kw)


CFG = {"weights": ["queen", "knn:k=4"], "permutations": 99, "bivariate": [["pcgdp", "lpcgdp"]]}


@pytest.fixture(scope="module")
def mexico_ctx(mexico):
    g, panel = mexico
    return _ctx(panel, g)


@pytest.fixture(scope="module")
def mexico_run(mexico_ctx):
    return spatial_stage.run(mexico_ctx, dict(CFG))


def test_tables_and_columns(mexico_run, mexico_ctx):
    t = mexico_run.tables
    assert {
        "moran_global",
        "geary",
        "getis_ord",
        "moran_bivariate",
        "lisa",
        "gistar",
        "weights_queen",
        "weights_knn_k_4",
        "weights_summary",
    } <= set(t)
    assert list(t["moran_global"].columns[:10]) == [
        "variable",
        "weights",
        "year",
        "I",
        "EI",
        "VI_norm",
        "z_norm",
        "p_norm",
        "p_sim",
        "permutations",
    ] or {"variable", "weights", "year", "I", "EI", "VI_norm", "z_norm", "p_norm", "p_sim", "permutations"} <= set(
        t["moran_global"].columns
    )
    assert {"variable", "weights", "year", "region", "Ii", "z_sim", "p_sim", "quadrant", "cluster"} <= set(
        t["lisa"].columns
    )
    assert list(t["weights_queen"].columns) == ["focal", "neighbor", "weight"]
    assert {"name", "n", "islands", "island_policy", "mean_neighbors", "components"} <= set(
        t["weights_summary"].columns
    )
    # 2 weights x 2 variables x 7 decades x 32 states
    assert len(t["lisa"]) == 2 * 2 * 7 * 32
    assert set(t["lisa"]["cluster"]) <= {"HH", "LL", "LH", "HL", "ns", "isolated"}
    # a stage run by hand builds its weights with the core routine and provides them to the context
    ws = mexico_ctx.get(SpatialWeightsSet)
    assert {w.slug for w in ws.by_spec.values()} == {"queen", "knn_k_4"} and not ws.complete


def test_moran_table_equals_esda_per_decade(mexico, mexico_run, mexico_ctx):
    g, panel = mexico
    sw = mexico_ctx.get(SpatialWeightsSet).get("queen")
    mg = mexico_run.tables["moran_global"]
    mg = mg[(mg.weights == "queen") & (mg.variable == "pcgdp")]
    ids = list(sw.graph.unique_ids)
    wide = panel.pivot(index="region", columns="year", values="pcgdp")
    assert len(mg) == 7
    for row in mg.itertuples():
        ref = esda.Moran(wide.loc[ids, row.year].to_numpy(), sw.graph, permutations=0)
        for col in ("I", "EI", "VI_norm", "z_norm", "p_norm"):
            assert getattr(row, col) == pytest.approx(getattr(ref, col), abs=1e-10, rel=1e-10)


def test_shuffled_rows_change_nothing(mexico, mexico_run):
    g, panel = mexico
    shuffled = panel.sample(frac=1.0, random_state=9).reset_index(drop=True)
    again = spatial_stage.run(_ctx(shuffled, g.sample(frac=1.0, random_state=4)), dict(CFG))
    for name, table in mexico_run.tables.items():
        other = again.tables[name]
        keys = [
            c
            for c in ("variable", "lag_variable", "weights", "year", "region", "focal", "neighbor", "name")
            if c in table.columns
        ]
        a = table.sort_values(keys).reset_index(drop=True)
        b = other.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, obj=name)


def test_without_boundaries_the_stage_is_skipped_with_a_note(mexico):
    g, panel = mexico
    out = spatial_stage.run(_ctx(panel, None), {"permutations": 9})
    assert not out.tables and "boundar" in out.notes[0]
    assert "[geometry] source and id" in out.notes[0]  # the config keys that fix it
    # economic weights need no boundaries (and leave no island)
    out = spatial_stage.run(
        _ctx(panel, None), {"weights": ["economic:variable=pcgdp"], "permutations": 9, "statistics": ["moran"]}
    )
    assert len(out.tables["moran_global"]) == 14


def test_unknown_names_are_config_errors(mexico):
    g, panel = mexico
    with pytest.raises(ConfigError, match="unknown variable 'pcgd'.*did you mean 'pcgdp'.*available"):
        spatial_stage.run(_ctx(panel, g), {"variables": ["pcgd"]})
    with pytest.raises(ConfigError, match="unknown statistic 'moren'.*did you mean 'moran'"):
        spatial_stage.run(_ctx(panel, g), {"statistics": ["moren"]})
    with pytest.raises(ConfigError, match="no parameter 'kk'"):
        spatial_stage.run(_ctx(panel, g), {"weights": ["knn:kk=2"]})


def test_defaults_use_indices_and_h(mexico):
    g, panel = mexico
    idx = panel[["region", "year"]].copy()
    rng = np.random.default_rng(0)
    idx["A"], idx["B"] = rng.uniform(size=len(idx)), rng.uniform(size=len(idx))
    co = idx[["region", "year"]].copy()
    co["q1"], co["q2"], co["V"], co["h"] = idx["A"], idx["B"], -idx["A"], idx["A"] * idx["B"]
    ctx = _ctx(panel[["region", "year", "pcgdp"]], g, subsystems=["A", "B"], indices=idx)
    ctx.provide(HakenOutcome(coevolution=co))
    out = spatial_stage.run(ctx, {"permutations": 9})
    assert set(out.tables["moran_global"]["variable"]) == {"A", "B", "h"}
    bv = out.tables["moran_bivariate"]
    assert set(zip(bv.variable, bv.lag_variable)) == {("A", "B"), ("B", "A")}
    out = spatial_stage.run(ctx, {"permutations": 9, "variables": ["q2", "V", "pcgdp"], "statistics": ["moran"]})
    assert set(out.tables["moran_global"]["variable"]) == {"q2", "V", "pcgdp"}
    # a panel with a single variable and no Haken stage
    single = spatial_stage.run(_ctx(panel[["region", "year", "pcgdp"]], g), {"permutations": 9})
    assert set(single.tables["lisa"]["variable"]) == {"pcgdp"}


@pytest.fixture(scope="module")
def provinces():
    from nqpspatial import geodata

    g = geodata.province_layer(None)
    ids = list(g.index)
    rng = np.random.default_rng(5)
    panel = pd.DataFrame(
        {
            "region": np.repeat(ids, 5),
            "year": np.tile(range(2019, 2024), len(ids)),
            "x": rng.lognormal(0, 0.5, 5 * len(ids)),
        }
    )
    return g, panel


def test_hainan_policies_in_the_stage(provinces):
    g, panel = provinces
    near = spatial_stage.run(_ctx(panel, g), {"permutations": 99, "statistics": ["lisa"]})
    w = near.tables["weights_queen"]
    assert ((w.focal == 460000) & (w.neighbor == 440000)).any()
    assert ((w.focal == 440000) & (w.neighbor == 460000)).any()
    assert near.tables["weights_summary"].loc[0, "island_policy"] == "nearest"
    lisa = near.tables["lisa"]
    assert lisa.loc[lisa.region == 460000, "p_sim"].notna().all()

    keep = spatial_stage.run(_ctx(panel, g), {"permutations": 99, "islands": "keep", "statistics": ["lisa", "gistar"]})
    for table in ("lisa", "gistar"):
        t = keep.tables[table]
        hn = t[t.region == 460000]
        assert len(hn) == 5 and (hn.cluster == "isolated").all() and hn.p_sim.isna().all()
    assert keep.tables["weights_summary"].loc[0, "island_policy"] == "keep"
    # the policy is recorded in every output, not only in weights_summary
    for run, policy in ((near, "nearest"), (keep, "keep")):
        for name, t in run.tables.items():
            if not name.startswith("weights_"):
                assert (t["island_policy"] == policy).all(), name

    drop = spatial_stage.run(_ctx(panel, g), {"permutations": 99, "islands": "drop", "statistics": ["lisa", "moran"]})
    t = drop.tables["lisa"]
    assert (t[t.region == 460000].cluster == "isolated").all()
    assert (drop.tables["moran_global"]["n"] == 30).all()
    assert drop.tables["weights_summary"].loc[0, "dropped"] == "460000"
    assert any("dropped" in n for n in drop.notes)


def test_same_seed_same_tables_and_fdr(provinces):
    g, panel = provinces
    cfg = {"permutations": 199, "statistics": ["lisa", "moran"], "fdr": True}
    a = spatial_stage.run(_ctx(panel, g), dict(cfg)).tables
    b = spatial_stage.run(_ctx(panel, g), dict(cfg)).tables
    pd.testing.assert_frame_equal(a["lisa"], b["lisa"])
    pd.testing.assert_frame_equal(a["moran_global"], b["moran_global"])
    lisa = a["lisa"]
    for yr, sub in lisa.groupby("year"):
        crit = esda.fdr(sub["p_sim"].to_numpy(), 0.05)
        assert sub["crit"].iloc[0] == pytest.approx(crit)
        sig = sub["p_sim"] < crit
        assert ((sub.cluster != "ns") == sig).all()


def test_first_party_statistics_pass_the_contract_check():
    from nqpspatial.testing import check_statistic as check_statistic_plugin

    for plugin in S.STATISTICS.values():
        check_statistic_plugin(plugin)


def test_broken_statistic_is_named_by_the_contract_check():
    from nqpspatial.testing import check_statistic as check_statistic_plugin

    class Positional(S.StatisticPlugin):
        name = "positional"
        table = "positional"

        def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None):
            # ignores the region ids: breaks when rows are shuffled
            return pd.DataFrame({"year": list(values.columns), "first": values.iloc[0].to_numpy()})

    with pytest.raises(AssertionError, match="'positional'.*shuffled"):
        check_statistic_plugin(Positional())


def test_stage_contract():
    assert isinstance(spatial_stage, SpatialStage)
    assert spatial_stage.name == "spatial" and spatial_stage.order == 60
    assert spatial_stage.config_keys["weights"] == ["queen"]
    assert spatial_stage.config_keys["permutations"] == 999


def test_mexico_through_the_config(tmp_path, mexico):
    """The Mexico data run through a config file with its own boundaries (acceptance)."""
    from nqpspatial import pipeline, registry

    g, panel = mexico
    panel[["region", "year", "pcgdp"]].to_csv(tmp_path / "panel.csv", index=False)
    pd.DataFrame({"indicator": ["pcgdp"], "subsystem": ["GDP"], "direction": ["+"]}).to_csv(
        tmp_path / "indicators.csv", index=False
    )
    g.reset_index()[["NAME", "geometry"]].to_file(tmp_path / "mexico.geojson", driver="GeoJSON")
    (tmp_path / "study.toml").write_text(
        'name = "mexico"\n[data]\npanel = "panel.csv"\nindicators = "indicators.csv"\n'
        '[geometry]\nsource = "mexico.geojson"\nid = "NAME"\n'
        '[spatial]\nvariables = ["pcgdp"]\npermutations = 99\nstatistics = ["moran"]\n',
        encoding="utf-8",
    )
    with registry.registered("analyses", "spatial", spatial_stage):
        res = pipeline.run(tmp_path / "study.toml", write=False, quiet=True, report=False)
    mg = res.table("moran_global")
    ids = list(g.index)
    sw = res.get(SpatialWeightsSet).get("queen")
    wide = panel.pivot(index="region", columns="year", values="pcgdp")
    assert len(mg) == 7
    for row in mg.itertuples():
        ref = esda.Moran(wide.loc[list(sw.graph.unique_ids), row.year].to_numpy(), sw.graph, permutations=0)
        for col in ("I", "EI", "VI_norm", "z_norm", "p_norm"):
            assert getattr(row, col) == pytest.approx(getattr(ref, col), abs=1e-10, rel=1e-10)
    assert sorted(sw.ids) == sorted(ids)


def test_demo_study_moran_equals_esda():
    """Acceptance on the bundled demo study (SYNTHETIC panel, 31 provinces x 2014-2023)."""
    from nqpspatial import demo, geodata

    try:
        tables = demo.load_demo()
    except (FileNotFoundError, OSError) as exc:  # pragma: no cover - demo files not generated yet
        pytest.skip(f"demo files missing: {exc}")
    panel = tables["panel"][["region", "year", "gdp_pc", "rd_intensity"]]
    geo = geodata.province_layer(list(pd.unique(panel["region"])))
    ctx = _ctx(panel, geo)
    out = spatial_stage.run(ctx, {"permutations": 0, "statistics": ["moran", "lisa"]})
    sw = ctx.get(SpatialWeightsSet).get("queen")
    w = out.tables["weights_queen"]
    assert ((w.focal == "海南省") & (w.neighbor == "广东省")).any()
    assert ((w.focal == "广东省") & (w.neighbor == "海南省")).any()
    ids = list(sw.graph.unique_ids)
    mg = out.tables["moran_global"]
    assert len(mg) == 2 * panel["year"].nunique()
    for var in ("gdp_pc", "rd_intensity"):
        wide = panel.pivot(index="region", columns="year", values=var)
        for row in mg[mg.variable == var].itertuples():
            ref = esda.Moran(wide.loc[ids, row.year].to_numpy(), sw.graph, permutations=0)
            for col in ("I", "EI", "VI_norm", "z_norm", "p_norm"):
                assert getattr(row, col) == pytest.approx(getattr(ref, col), abs=1e-10, rel=1e-10)
            lisa = out.tables["lisa"]
            sub = lisa[(lisa.variable == var) & (lisa.year == row.year)].set_index("region").loc[ids]
            ref_l = esda.Moran_Local(wide.loc[ids, row.year].to_numpy(), sw.graph, permutations=0)
            np.testing.assert_allclose(sub["Ii"].to_numpy(), ref_l.Is, rtol=1e-10, atol=1e-12)


def test_prefetching_permutations_changes_nothing(monkeypatch):
    """Large layers draw permutations in a helper thread; the draws must be identical."""
    from libpysal.graph import Graph
    from scipy import sparse

    side = 75  # 5,625 regions: above the prefetch threshold
    n = side * side
    rows = np.arange(n - 1)
    keep = (rows + 1) % side != 0
    a, b = rows[keep], rows[keep] + 1
    vert = np.arange(n - side)
    r = np.concatenate([a, b, vert, vert + side])
    c = np.concatenate([b, a, vert + side, vert])
    graph = Graph.from_sparse(sparse.csr_array((np.ones(len(r)), (r, c)), shape=(n, n))).transform("R")
    vals = pd.DataFrame(np.random.default_rng(0).normal(size=(n, 2)), index=graph.unique_ids)
    assert n >= S._PREFETCH_MIN_N
    with_thread = S.moran.compute(vals, graph, rng=np.random.default_rng(5), permutations=49)
    monkeypatch.setattr(S, "_PREFETCH_MIN_N", 10**9)
    without = S.moran.compute(vals, graph, rng=np.random.default_rng(5), permutations=49)
    pd.testing.assert_frame_equal(with_thread, without)
    # the single-precision permutation products (large layers) against double precision:
    # same permutations, so the pseudo p-values agree unless a permuted I falls within about
    # 1e-5 of the observed one (then they differ by one step, 1/(permutations + 1))
    assert n >= S._SINGLE_MIN_N
    monkeypatch.setattr(S, "_SINGLE_MIN_N", 10**9)
    double = S.moran.compute(vals, graph, rng=np.random.default_rng(5), permutations=49)
    assert np.all(np.abs(double["p_sim"] - without["p_sim"]) <= 1 / 50 + 1e-12)
    np.testing.assert_allclose(double["z_sim"], without["z_sim"], rtol=1e-3)
    np.testing.assert_array_equal(double["I"], without["I"])


def test_third_party_plugins_are_found_through_the_registry(mexico):
    from nqpspatial import registry
    from nqpspatial.plugins import weights as W

    g, panel = mexico

    class Ring(W.WeightsBuilder):
        """Each region linked to the next one in id order (a toy third-party builder)."""

        name = "ring"
        params = {"step": 1}

        def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params):
            p = self._params(params)
            n = len(ids)
            i = np.arange(n)
            return W._graph_from_coo(i, (i + p["step"]) % n, np.ones(n), ids)

    class MeanLag(S.StatisticPlugin):
        name = "mean_lag"
        table = "mean_lag"

        def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None):
            vals = values.loc[list(graph.unique_ids)]
            lag = graph.sparse @ vals.to_numpy()
            return pd.DataFrame({"year": list(vals.columns), "mean_lag": lag.mean(0)})

    with registry.registered("weights", "ring", Ring()), registry.registered("statistics", "mean_lag", MeanLag()):
        out = spatial_stage.run(
            _ctx(panel, g),
            {
                "weights": ["ring:step=2"],
                "statistics": ["mean_lag", "moran"],
                "variables": ["pcgdp"],
                "permutations": 9,
            },
        )
    assert set(out.tables) >= {"mean_lag", "moran_global", "weights_ring_step_2"}
    assert (out.tables["mean_lag"]["weights"] == "ring:step=2").all()
    wide = panel.pivot(index="region", columns="year", values="pcgdp")
    np.testing.assert_allclose(out.tables["mean_lag"]["mean_lag"], wide.mean(axis=0).to_numpy(), rtol=1e-12)
