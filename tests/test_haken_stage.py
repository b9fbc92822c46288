"""Identification and the pipeline stages (HakenStage, ScenarioStage)."""

import numpy as np
import pandas as pd
import pytest

from nqpspatial.artifacts import HakenOutcome
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.haken import HakenStage, ScenarioStage, identify, simulate_panel
from nqpspatial.haken.results import IDENTIFICATION_COLUMNS
from nqpspatial.haken.stage import HAKEN_CONFIG
from nqpspatial.stage import Analysis, StageContext

OUTPUTS = [
    "haken_identification",
    "haken_estimates",
    "haken_potential",
    "coevolution",
    "coupling_coordination",
    "stages",
]


def ctx_for(df, subsystems=("NQP", "NTU"), scheme=None, seed=1):
    return StageContext(config={}, panel=df, subsystems=list(subsystems), indices=df, scheme=scheme, seed=seed)


@pytest.fixture(scope="module")
def good():
    return simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=10, q1_start=(0.3, 0.6), names=("NQP", "NTU"), seed=21)


@pytest.fixture(scope="module")
def failing():
    """Two unrelated random walks: no ordering has a significantly damped servo variable."""
    rng = np.random.default_rng(3)
    n, T = 31, 10
    a = 0.5 + np.cumsum(rng.normal(0, 0.01, (T, n)), 0)
    b = 0.5 + np.cumsum(rng.normal(0, 0.01, (T, n)), 0)
    return pd.DataFrame(
        {
            "region": np.repeat([f"R{i:02d}" for i in range(n)], T),
            "year": np.tile(np.arange(2014, 2014 + T), n),
            "NQP": a.T.ravel(),
            "NTU": b.T.ravel(),
        }
    )


def test_identify_auto_fixed_and_columns(good):
    idr = identify(good, ["NTU", "NQP"], bootstrap=99, seed=1)
    assert list(idr.table.columns[: len(IDENTIFICATION_COLUMNS)]) == IDENTIFICATION_COLUMNS
    assert idr.chosen == ("NQP", "NTU") and idr.table["chosen"].sum() == 1
    fixed = identify(good, ["NQP", "NTU"], order=["NTU", "NQP"], bootstrap=0)
    assert fixed.chosen == ("NTU", "NQP") and "does NOT hold" in fixed.verdict
    with pytest.raises(InputError, match="order"):
        identify(good, ["NQP", "NTU"], order=["NQP", "XX"])


def test_identify_three_subsystems_all_ordered_pairs(good):
    df = good.assign(THIRD=good["NTU"] * 0.5 + 0.2)
    idr = identify(df, ["NQP", "NTU", "THIRD"], bootstrap=0)
    assert len(idr.table) == 6


def test_stage_contract(good):
    st = HakenStage()
    assert isinstance(st, Analysis) and st.name == "haken" and st.requires == ("pair", "indices") and st.order == 30
    for key in (
        "order",
        "coevolution",
        "bootstrap",
        "se",
        "alpha",
        "min_ratio",
        "intercept",
        "effects",
        "window",
        "by",
        "grades",
        "break_year",
    ):
        assert key in st.config_keys
    out = st.run(ctx_for(good), {"bootstrap": 199, "break_bootstrap": 99})
    for name in OUTPUTS:
        assert name in out.tables
    assert list(out.tables["coevolution"].columns[:9]) == [
        "region",
        "year",
        "q1",
        "q2",
        "V",
        "d",
        "h",
        "grade",
        "strategy",
    ]
    assert list(out.tables["coupling_coordination"].columns[:10]) == [
        "region",
        "year",
        "U1",
        "U2",
        "C",
        "C_corrected",
        "T",
        "D",
        "D_corrected",
        "grade",
    ]
    assert list(out.tables["haken_potential"].columns[:6]) == ["q1", "q2", "case", "q1_star", "V_star", "map_stable"]
    assert list(out.tables["haken_estimates"].columns[:9]) == [
        "q1",
        "q2",
        "term",
        "estimate",
        "std_err",
        "t",
        "p",
        "ci_low",
        "ci_high",
    ]
    h = out.get(HakenOutcome)
    assert (h.q1, h.q2) == ("NQP", "NTU") and h.order == ("NQP", "NTU") and h.potential.case == 1
    # what later stages read: the coevolution table and the fit options
    pd.testing.assert_frame_equal(h.coevolution, out.tables["coevolution"])
    assert {"intercept", "effects", "se", "window"} <= set(h.results.options)
    assert h.strategy == "distance-normalized" and out.info["strategy"] == "distance-normalized"
    assert out.tables["coevolution"]["h"].between(0, 1).all()
    # U1 of coupling = chosen order parameter values
    cc = out.tables["coupling_coordination"].merge(good, on=["region", "year"])
    assert np.array_equal(cc["U1"].to_numpy(), cc["NQP"].to_numpy())
    # same seed -> same tables
    again = st.run(ctx_for(good), {"bootstrap": 199, "break_bootstrap": 99})
    pd.testing.assert_frame_equal(out.tables["haken_estimates"], again.tables["haken_estimates"])
    # scenarios
    ctx = ctx_for(good).absorb(out)
    sc = ScenarioStage()
    assert sc.optional and sc.consumes == (HakenOutcome,)
    so = sc.run(ctx, {"periods": 3, "shocks": [{"name": "up", "regions": ["R01"], "q1_growth": 1.5}]})
    assert set(so.tables["scenarios"]["scenario"]) == {"baseline", "up"}


def test_stage_when_no_ordering_passes(failing):
    out = HakenStage().run(ctx_for(failing), {"bootstrap": 0})
    assert list(out.tables) == ["haken_identification"]
    assert out.artifacts == []  # no HakenOutcome: the stages that consume it are skipped
    assert not out.tables["haken_identification"]["chosen"].any()
    assert "no ordering" in " ".join(out.notes)
    assert out.info["identification"]["chosen"] is None and "skipped" in out.info


def test_stage_region_effects_and_by_group(good):
    scheme = pd.Series({f"R{i + 1:02d}": ("East" if i < 12 else "West") for i in range(31)})
    out = HakenStage().run(
        ctx_for(good, scheme=scheme), {"effects": "region", "jackknife": True, "bootstrap": 99, "break_bootstrap": 0}
    )
    pot = out.tables["haken_potential"]
    assert "region" in pot.columns and len(pot) == 31
    out2 = HakenStage().run(ctx_for(good, scheme=scheme), {"effects": "region", "bootstrap": 0, "break_bootstrap": 0})
    assert any("Nickell" in w for w in out2.warnings)
    out3 = HakenStage().run(
        ctx_for(good, scheme=scheme), {"by": "group", "bootstrap": 99, "break_year": 2019, "break_bootstrap": 49}
    )
    assert set(out3.tables["haken_estimates"]["group"]) == {"East", "West"}
    assert set(out3.tables["stages"]["scope"]) == {"national", "group"}
    assert "chow" in set(out3.tables["stages_tests"]["test"])


@pytest.mark.parametrize(
    "cfg,key",
    [
        ({"se": "robust"}, "se"),
        ({"order": ["NQP", "GDP"]}, "order"),
        ({"coevolution": "entropy"}, "coevolution"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"window": [2020, 2015]}, "window"),
        ({"grades": [0, 0.5, 0.3]}, "grades"),
        ({"intercept": True, "effects": "region"}, "intercept"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_config_errors_name_the_key(good, cfg, key):
    with pytest.raises(ConfigError) as exc:
        HakenStage().run(ctx_for(good), cfg)
    assert key in str(exc.value)


def test_by_group_without_scheme_is_config_error(good):
    with pytest.raises(ConfigError, match="scheme"):
        HakenStage().run(ctx_for(good), {"by": "group", "bootstrap": 0})


def test_unsupported_strategy_is_reported_not_computed():
    # case 3 (no stable point): 'distance' must not produce numbers
    df = simulate_panel(-0.02, -0.1, 0.6, 0.6, n_periods=10, q1_start=(0.22, 0.3), names=("NQP", "NTU"), seed=4)
    out = HakenStage().run(ctx_for(df), {"coevolution": "distance", "bootstrap": 0, "break_bootstrap": 0})
    assert "coevolution" not in out.tables
    assert any("stable point" in w for w in out.warnings)
    auto = HakenStage().run(ctx_for(df), {"bootstrap": 0, "break_bootstrap": 0})
    assert auto.get(HakenOutcome).strategy == "potential-normalized"
    assert auto.tables["coevolution"]["d"].isna().all()
    assert auto.tables["haken_potential"]["q1_star"].isna().all()


def test_defaults_documented():
    assert HAKEN_CONFIG["order"] == "auto" and HAKEN_CONFIG["bootstrap"] == 999 and HAKEN_CONFIG["break_year"] is None


CASE3 = dict(gamma1=-0.02, a=-0.1, gamma2=0.6, b=0.6)


def test_unsupported_strategy_leaves_scenario_h_empty_and_stages_keep_h():
    """coevolution = 'distance' without a stable point: no h anywhere, never another strategy's numbers."""
    df = simulate_panel(**CASE3, n_periods=10, q1_start=(0.22, 0.3), names=("NQP", "NTU"), seed=4)
    out = HakenStage().run(ctx_for(df), {"coevolution": "distance", "bootstrap": 0, "break_bootstrap": 0})
    # stages.csv keeps its documented columns (h empty)
    st = out.tables["stages"]
    assert {"h", "h_change"} <= set(st.columns) and st["h"].isna().all()
    ctx = ctx_for(df).absorb(out)
    so = ScenarioStage().run(ctx, {"periods": 2})
    sc = so.tables["scenarios"]
    assert sc["h"].isna().all() and sc["d"].isna().all()
    assert any("stable point" in n for n in so.notes)
    # V(q1) itself is defined: it equals the potential evaluated at the projected q1
    assert sc["V"].notna().all()
    pots = out.get(HakenOutcome).potentials()
    for r, g in sc.groupby("region"):
        p, q = pots[r], g["q1"].to_numpy()
        # V = -k1 q + A q^2/2 + B q^4/4 (methods note, section 6)
        np.testing.assert_allclose(
            g["V"].to_numpy(), p.linear * q + p.quadratic * q**2 / 2 + p.quartic * q**4 / 4, rtol=1e-10, atol=1e-14
        )
    assert any("q1, q2 and V projected; d, h and grades left empty" in n for n in so.notes)


def test_regions_without_stable_point_are_named_with_region_effects():
    rng = np.random.default_rng(2)
    eff = (rng.normal(0, 0.002, 31), rng.normal(0, 0.002, 31))
    df = simulate_panel(**CASE3, n_periods=10, q1_start=(0.22, 0.3), region_effects=eff, names=("NQP", "NTU"), seed=rng)
    out = HakenStage().run(ctx_for(df), {"effects": "region", "jackknife": True, "bootstrap": 0, "break_bootstrap": 0})
    pot = out.tables["haken_potential"]
    missing = pot.loc[pot["q1_star"].isna(), "region"].tolist()
    assert missing  # the case-3 system leaves regions without a stable point
    assert out.info["regions_without_stable_point"] == missing
    assert any("no stable point exists" in n and missing[0] in n for n in out.notes)


def test_break_year_outside_the_data_is_a_config_error(good):
    with pytest.raises(ConfigError, match=r"\[haken\] break_year = 2030.*2015.*2022"):
        HakenStage().run(ctx_for(good), {"break_year": 2030, "bootstrap": 0, "break_bootstrap": 0})
