"""Stage and plugin-contract tests of the spatial Haken plugin."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nqpspatial.artifacts import HakenOutcome
from nqpspatial.errors import ConfigError
from nqpspatial.plugins.spatial_haken import sar, sdm, sem, slx
from nqpspatial.plugins.spatial_haken._haken import potential
from nqpspatial.plugins.spatial_haken.stage import SpatialHakenStage, stage
from nqpspatial.testing import check_plugin, make_context


@pytest.mark.parametrize("plugin", [slx, sar, sem, sdm], ids=lambda p: p.name)
def test_models_plugin_contract(plugin):
    check_plugin("models", plugin)


def test_analysis_plugin_contract():
    check_plugin("analyses", stage)
    assert stage.name == "spatial_haken" and stage.optional and stage.order == 80
    assert stage.requires == ("pair", "indices")


def test_stage_outputs_exact_tables_and_columns():
    ctx = make_context(side=4, periods=8)
    cfg = {
        **SpatialHakenStage.config_keys,
        "models": ["slx", "sar", "sem", "sdm"],
        "effects_draws": 50,
        "split_by_zone": True,
    }
    out = stage.run(ctx, cfg)
    assert set(out.tables) == {
        "model_selection",  # issue 15: model selection runs by default
        "spatial_haken_estimates",
        "spatial_haken_effects",
        "spatial_haken_diagnostics",
        "spatial_haken_identification",
        "spatial_haken_marginal_effects",
        "spatial_haken_potential",
        "spatial_haken_steady_states",
    }
    est = out.tables["spatial_haken_estimates"]
    assert list(est.columns[:10]) == [
        "model",
        "weights",
        "q1",
        "q2",
        "equation",
        "term",
        "estimate",
        "std_err",
        "z",
        "p",
    ]
    assert set(est["equation"]) == {"q1", "q2"}
    assert {"rho_within", "rho_across", "lambda_within", "theta_q1_within", "theta_q1sq_across"} <= set(est["term"])
    eff = out.tables["spatial_haken_effects"]
    assert set(eff["effect"]) == {"direct", "indirect", "total"}
    ident = out.tables["spatial_haken_identification"]
    assert len(ident) == 4 * 2 * 2  # models x orderings (no Haken stage result: both) x readings
    assert ident.groupby(["model", "reading"])["chosen"].sum().max() <= 1
    # issue 14 contract columns
    pot = out.tables["spatial_haken_potential"]
    assert list(pot.columns[:16]) == [
        "model",
        "weights",
        "q1",
        "q2",
        "reading",
        "gamma1",
        "a",
        "gamma2",
        "b",
        "case",
        "q1_star",
        "q1_star_low",
        "q1_star_high",
        "stable_share",
        "V_star",
        "map_stable",
    ]
    assert len(pot) == 4 * 2 * 2
    # the zone split leaves the uniform state undefined: the system rows say why and give the steady states
    sysrows = pot[pot["reading"] == "system"]
    assert sysrows["q1_star"].isna().all() and sysrows["note"].str.contains("zone split").all()
    steady = out.tables["spatial_haken_steady_states"]
    assert list(steady.columns) == [
        "model",
        "weights",
        "q1",
        "q2",
        "region",
        "q1_star",
        "q2_star",
        "converged",
        "iterations",
    ]
    assert len(steady) == 4 * 2 * 16
    me = out.tables["spatial_haken_marginal_effects"]
    assert list(me.columns[:10]) == [
        "model",
        "weights",
        "q1",
        "q2",
        "equation",
        "wrt",
        "effect",
        "estimate",
        "ci_low",
        "ci_high",
    ]
    assert len(me) == 4 * 2 * 4 * 3 and out.info["reading"] == "system"
    diag = out.tables["spatial_haken_diagnostics"]
    assert {
        "lm_lag",
        "lm_error",
        "rlm_lag",
        "rlm_error",
        "moran_residuals",
        "loglik",
        "aic",
        "lr_sdm_vs_sar",
        "lr_sdm_vs_slx",
    } <= set(diag["test"])
    # same run seed -> same output
    again = stage.run(ctx, cfg)
    for k in out.tables:
        np.testing.assert_array_equal(
            out.tables[k].select_dtypes("number").to_numpy(), again.tables[k].select_dtypes("number").to_numpy()
        )


def test_stage_fits_every_ordering_and_warns_on_short_fe_panel():
    """Issue 7: identification on every ordering, as in the aspatial model, even when the Haken
    stage chose one; `order` restricts the fits to one ordering."""
    ctx = make_context(side=4, periods=8)
    ctx.provide(HakenOutcome(identification=SimpleNamespace(chosen=("A", "B"))))
    cfg = {**SpatialHakenStage.config_keys, "models": ["sar"], "effects": "region", "effects_draws": 20}
    cfg["model_selection"] = False  # only the listed model (the selection adds its preferred model)
    out = stage.run(ctx, cfg)
    ident = out.tables["spatial_haken_identification"]
    assert list(zip(ident["q1"], ident["q2"])) == [("A", "B")] * 2 + [("B", "A")] * 2  # two readings each
    assert any("periods" in w for w in out.warnings)
    out = stage.run(ctx, {**cfg, "order": ["B", "A"], "reading": "local"})
    ident = out.tables["spatial_haken_identification"]
    assert list(zip(ident["q1"], ident["q2"], ident["reading"])) == [("B", "A", "local"), ("B", "A", "system")]


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("effects", "fixed", r"\[spatial_haken\] effects"),
        ("correction", "jack", r"\[spatial_haken\] correction"),
        ("effects_draws", 1, r"\[spatial_haken\] effects_draws"),
        ("models", [], r"\[spatial_haken\] models"),
        ("reading", "direct", r"\[spatial_haken\] reading"),
    ],
)
def test_stage_config_errors_name_the_key(key, value, match):
    ctx = make_context(side=4, periods=8)
    with pytest.raises(ConfigError, match=match):
        stage.run(ctx, {**SpatialHakenStage.config_keys, key: value})


def test_stage_weights_error_names_the_table():
    ctx = make_context(side=4, periods=8)
    with pytest.raises(ConfigError, match="nonsense") as exc:
        stage.run(ctx, {**SpatialHakenStage.config_keys, "weights": ["nonsense"]})
    assert "[spatial_haken] weights" in str(exc.value) and exc.value.source == "config"


def test_stage_skips_without_geometry():
    ctx = make_context(geometry=False)
    out = stage.run(ctx, {**SpatialHakenStage.config_keys})
    assert not out.tables and out.status == "skipped"
    assert "no spatial weights" in out.notes[-1] and "[geometry] source and id" in out.notes[-1]


def test_potential_matches_methods_note_vector():
    # methods note section 3 test vector: g1=-0.2, g2=0.8, a=0.5, b=0.4 -> q1*=0.894427, V*=-0.04
    pot = potential(-0.2, 0.5, 0.8, 0.4)
    assert pot["q1_star"] == pytest.approx(0.894427, abs=1e-6)
    assert pot["V_star"] == pytest.approx(-0.04, abs=1e-12)


class _OlsModel:
    """A third-party `models` plugin: pooled OLS of the q1 equation on W q1 (no effects option)."""

    name = "ols_lag"

    def fit(self, data, q1, q2, graph, *, region="region", year="year", rng=None):
        from nqpspatial.results import Results

        ids = list(graph.unique_ids)
        wide = data.pivot(index=year, columns=region, values=q1)[ids]
        W = graph.sparse.toarray()
        y, x, wx = wide.to_numpy()[1:].ravel(), wide.to_numpy()[:-1].ravel(), (wide.to_numpy()[:-1] @ W.T).ravel()
        beta = np.linalg.lstsq(np.column_stack([x, wx]), y, rcond=None)[0]
        est = pd.DataFrame(
            {
                "model": self.name,
                "weights": "W",
                "q1": q1,
                "q2": q2,
                "equation": "q1",
                "term": ["q1", "theta_q1"],
                "estimate": beta,
            }
        )

        class R(Results):
            def __init__(self):
                self.estimates = est
                self._freeze()

            def summary(self):
                from nqpspatial.results import Summary

                return Summary("ols_lag", {}, {"estimates": est})

        return R()


def test_stage_uses_registered_model_plugins():
    """`[spatial_haken] models` names any nqpspatial.models plugin, looked up through the registry."""
    from nqpspatial import registry

    ctx = make_context(side=4, periods=8)
    plugin = _OlsModel()
    check_plugin("models", plugin)
    with registry.registered("models", "ols_lag", plugin):
        # model_selection = false: only the listed models (the selection adds its preferred model)
        cfg = {**SpatialHakenStage.config_keys, "models": ["slx", "ols_lag"], "effects_draws": 20}
        out = stage.run(ctx, {**cfg, "model_selection": False})
        est = out.tables["spatial_haken_estimates"]
        assert set(est["model"]) == {"slx", "ols_lag"}
        mine = est[est["model"] == "ols_lag"]
        assert len(mine) == 2 * 2  # two terms x two orderings
        # the plugin's numbers are its own fit, passed through unchanged
        from libpysal.graph import Graph

        queen = Graph.build_contiguity(ctx.geometry, rook=False).transform("r")  # [spatial_haken] default
        direct = plugin.fit(ctx.indices, "A", "B", queen).estimates
        got = mine[mine["q1"] == "A"]["estimate"].to_numpy()
        np.testing.assert_allclose(got, direct["estimate"].to_numpy(), rtol=1e-10)
        # identification only from the models that produce it
        assert set(out.tables["spatial_haken_identification"]["model"]) == {"slx"}
        assert "in-process models plugin 'ols_lag'" in out.info["plugins"]["ols_lag"]
        # an option the plugin cannot honour is a config error naming the plugin
        with pytest.raises(ConfigError, match=r"\[spatial_haken\] effects: in-process models plugin 'ols_lag'"):
            stage.run(ctx, {**SpatialHakenStage.config_keys, "models": ["ols_lag"], "effects": "region"})
    with pytest.raises(ConfigError, match="unknown \\['ols_lag'\\]"):
        stage.run(ctx, {**SpatialHakenStage.config_keys, "models": ["ols_lag"]})
