"""The synthetic demo study: generator, committed files, parameter recovery."""

from __future__ import annotations

import importlib.resources
import json
import tomllib

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import nqpspatial.demo as demo
from nqpspatial.demo import generate as gen

OFF = dict(spatial=False, region_effects=False, break_2020=False)


def haken_ols(df, q1, q2, region="region", year="year"):
    """Discrete Haken system by two no-intercept OLS fits (methods note section 3)."""
    df = df.sort_values([region, year])
    nxt = df.groupby(region, sort=False)[[q1, q2]].shift(-1)
    m = nxt[q1].notna().to_numpy()
    x1, x2 = df.loc[m, q1].to_numpy(), df.loc[m, q2].to_numpy()
    y1, y2 = nxt.loc[m, q1].to_numpy(), nxt.loc[m, q2].to_numpy()
    r1 = sm.OLS(y1, np.column_stack([x1, x1 * x2])).fit()
    r2 = sm.OLS(y2, np.column_stack([x2, x1**2])).fit()
    est = {"gamma1": 1 - r1.params[0], "a": -r1.params[1], "gamma2": 1 - r2.params[0], "b": r2.params[1]}
    se = {"gamma1": r1.bse[0], "a": r1.bse[1], "gamma2": r2.bse[0], "b": r2.bse[1]}
    p = {"gamma1": r1.pvalues[0], "a": r1.pvalues[1], "gamma2": r2.pvalues[0], "b": r2.pvalues[1]}
    return est, se, p


def critic_indices(data):
    from nqpspatial.weighting import compute_weights

    ind = data["indicators"].copy()
    ind["direction"] = ind["direction"].map({"+": 1, "-": -1})
    return compute_weights(data["panel"], ind).indices


def test_haken_recovery_on_latent_series_without_spatial_region_break():
    """Acceptance: within 3 SE of the truth (all four parameters) in >= 9 of 10 seeds."""
    truth = gen.PARAMETERS
    hits = 0
    for seed in range(10):
        lat = gen.generate(seed, **OFF)["latent"]
        est, se, _ = haken_ols(lat, "q1", "q2")
        hits += all(abs(est[k] - truth[k]) <= 3 * se[k] for k in ("gamma1", "a", "gamma2", "b"))
    assert hits >= 9


def test_noise_free_process_is_the_exact_haken_map():
    lat = gen.generate(3, noise=False, **OFF)["latent"]
    est, _, _ = haken_ols(lat, "q1", "q2")
    for k in ("gamma1", "a", "gamma2", "b"):
        assert est[k] == pytest.approx(gen.PARAMETERS[k], abs=1e-9)


def test_break_2020_changes_gamma1_exactly_from_2020():
    lat = gen.generate(5, noise=False, spatial=False, region_effects=False)["latent"]
    before, _, _ = haken_ols(lat[lat["year"] <= 2020], "q1", "q2")
    after, _, _ = haken_ols(lat[lat["year"] >= 2020], "q1", "q2")
    assert before["gamma1"] == pytest.approx(gen.PARAMETERS["gamma1"], abs=1e-9)
    assert after["gamma1"] == pytest.approx(gen.PARAMETERS["gamma1_post"], abs=1e-9)


def test_switches_change_only_their_component():
    base = gen.generate(7, **OFF)["latent"]
    same = gen.generate(7, **OFF)["latent"]
    pd.testing.assert_frame_equal(base, same)
    for switch in ("spatial", "region_effects", "break_2020"):
        other = gen.generate(7, **{**OFF, switch: True})["latent"]
        first = base["year"] == 2014
        np.testing.assert_array_equal(other.loc[first, "q1"], base.loc[first, "q1"])
        assert not np.allclose(other["q1"], base["q1"]), switch


def test_spatial_term_uses_queen_with_hainan_linked_to_guangdong():
    prov = gen._provinces()
    W = gen._weights_matrix(prov["code"].tolist())
    pos = {c: i for i, c in enumerate(prov["code"])}
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    hainan, guangdong = pos[460000], pos[440000]
    assert W[hainan, guangdong] == 1.0  # Guangdong is Hainan's only neighbour
    assert W[guangdong, hainan] > 0
    assert W[pos[110000], pos[140000]] == 0 and W[pos[110000], pos[130000]] > 0
    # the spatial term actually reaches Hainan: switching it on changes Hainan's path
    a = gen.generate(2, noise=False, region_effects=False, break_2020=False, spatial=False)["latent"]
    b = gen.generate(2, noise=False, region_effects=False, break_2020=False, spatial=True)["latent"]
    h = (a["code"] == 460000) & (a["year"] == 2015)
    q = a.loc[(a["year"] == 2014)].set_index("code")["q1"]
    expected = b.loc[h, "q1"].item() - a.loc[h, "q1"].item()
    assert expected == pytest.approx(gen.PARAMETERS["theta1"] * q[440000], rel=1e-9)


def test_latents_inside_unit_interval_and_indicators_monotone():
    for seed in range(5):
        data = gen.generate(seed)
        lat = data["latent"]
        assert ((lat[["q1", "q2"]] > 0) & (lat[["q1", "q2"]] < 1)).all().all()
    data = gen.generate(1, noise=False)
    panel, lat, ind = data["panel"], data["latent"], data["indicators"]
    for row in ind.itertuples():
        q = lat["q1"] if row.subsystem == "NQP" else lat["q2"]
        rho = pd.Series(panel[row.indicator]).corr(q, method="spearman")
        assert rho > 0.99 if row.direction == "+" else rho < -0.99, row.indicator


def test_indicator_system_structure():
    ind = demo.load_demo()["indicators"]
    assert list(ind.columns) == ["indicator", "subsystem", "dimension", "direction", "label", "unit"]
    assert 28 <= len(ind) <= 32
    dims = ind.groupby("subsystem")["dimension"].unique().map(set).to_dict()
    assert dims["NQP"] == {"new engine", "new business forms", "new models"}
    assert dims["NTU"] == {"population", "economic", "living", "ecological", "urban-rural integration"}
    costs = set(ind.loc[ind["direction"] == "-", "indicator"])
    assert {"unemployment_rate", "urban_rural_income_ratio", "wastewater_pc"} <= costs


def test_east_west_gradient_in_starting_levels():
    for seed in (gen.DEFAULT_SEED, 1, 2):
        reg = gen.generate(seed)["regions"]
        assert reg["q1_start"].corr(reg["lon"], method="spearman") > 0.5
        means = reg.groupby("belt")["q1_start"].mean()
        assert means["East"] > means["Central"] > means["West"]


def test_committed_files_equal_generator_output(tmp_path):
    gen.write(tmp_path, seed=gen.DEFAULT_SEED)
    for name in ("panel.csv", "indicators.csv", "latent.csv"):
        fresh = pd.read_csv(tmp_path / name, comment="#")
        committed = pd.read_csv(demo.demo_file(name), comment="#")
        pd.testing.assert_frame_equal(fresh, committed, check_exact=False, rtol=1e-9, atol=1.5e-6)
    assert json.loads((tmp_path / "truth.json").read_text(encoding="utf-8")) == demo.load_truth()


def test_synthetic_label_everywhere():
    truth = demo.load_truth()
    for name in ("panel.csv", "indicators.csv", "latent.csv"):  # the file header says it
        first = demo.demo_file(name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# SYNTHETIC DATA"), name
    assert truth["synthetic"] is True and "SYNTHETIC" in truth["note"]
    assert truth["seed"] == gen.DEFAULT_SEED
    assert truth["parameters"] == gen.PARAMETERS
    cfg = tomllib.loads(demo.config_path().read_text(encoding="utf-8"))
    assert "synthetic" in cfg["name"]
    assert cfg["data"]["synthetic"] is True
    assert cfg["weighting"]["method"] == "critic"
    assert cfg["haken"]["order"] == "auto"
    assert cfg["regions"]["scheme"] == "eight-zones"
    assert cfg["spatial"]["weights"] == ["queen"]
    assert cfg["run"]["seed"] == gen.DEFAULT_SEED
    readme = importlib.resources.files("nqpspatial.demo").joinpath("README.md")
    if readme.is_file():  # README is in the repository, not necessarily installed
        assert "SYNTHETIC" in readme.read_text(encoding="utf-8")


def test_panel_regions_are_chinese_province_names():
    from nqpspatial.geodata import match_regions

    panel = demo.load_demo()["panel"]
    assert panel.shape == (310, 32)
    codes = match_regions(panel["region"])
    assert len(codes) == 31 and codes.index[0] == "北京市"
    assert sorted(panel["year"].unique()) == list(range(2014, 2024))


@pytest.fixture(scope="module")
def committed_indices():
    return critic_indices(demo.load_demo())


def test_pipeline_indices_recover_order_parameter_and_stable_point(committed_indices):
    """CRITIC indices of the committed panel: NQP is the order parameter, real stable point."""
    est, se, p = haken_ols(committed_indices, "NQP", "NTU")
    assert est["gamma2"] > 0 and abs(est["gamma2"]) > abs(est["gamma1"]) and p["gamma2"] < 0.05
    assert est["gamma1"] < 0 and est["a"] * est["b"] > 0  # ordered case: q1* real
    q1_star = np.sqrt(-est["gamma1"] * est["gamma2"] / (est["a"] * est["b"]))
    assert 0 < q1_star < 2
    rev, _, _ = haken_ols(committed_indices, "NTU", "NQP")
    assert not (rev["gamma2"] > 0 and abs(rev["gamma2"]) > abs(rev["gamma1"]))


def test_pipeline_indices_show_2020_turning_point_and_gradient(committed_indices):
    idx = committed_indices.copy()
    mean = idx.groupby("year")["NQP"].mean()
    before = (mean[2020] - mean[2014]) / 6
    after = (mean[2023] - mean[2020]) / 3
    assert after < 0.75 * before
    reg = gen.generate(gen.DEFAULT_SEED)["regions"].set_index("region")
    start = idx[idx["year"] == 2014].set_index("region")["NQP"]
    assert start.corr(reg.loc[start.index, "lon"], method="spearman") > 0.5


def test_demo_pipeline_robust_over_seeds():
    """The order-parameter verdict holds for other seeds too (not only the committed one)."""
    for seed in (1, 2, 3):
        est, _, p = haken_ols(critic_indices(gen.generate(seed)), "NQP", "NTU")
        assert est["gamma2"] > abs(est["gamma1"]) and p["gamma2"] < 0.05 and est["gamma1"] < 0
        assert est["a"] > 0 and est["b"] > 0


def test_end_to_end_default_run(tmp_path):
    """`nqpspatial run` with no config: demo with geometry and eight zones; the pipeline recovers the truth."""
    from nqpspatial.pipeline import run

    res = run(None, out=tmp_path / "out", quiet=True, report=False)
    assert res.info["synthetic"] is True
    stages = {s["name"]: s for s in res.info["stages"]}
    assert stages["geometry"]["status"] == "ok"
    notes = " ".join(stages["geometry"]["notes"])
    assert "bundled province layer" in notes and "eight-zones" in notes
    assert stages["haken"]["status"] == "ok"
    ident = res.table("haken_identification")
    chosen = ident[ident["chosen"].astype(bool)].iloc[0]
    assert (chosen["q1"], chosen["q2"]) == ("NQP", "NTU")  # NQP is the order parameter
    assert chosen["gamma2"] > abs(chosen["gamma1"]) and chosen["gamma1"] < 0 and chosen["a"] * chosen["b"] > 0
    # default inference: the restricted wild-year bootstrap (docs/inference.md); gamma2 stays significant
    assert "wild-year bootstrap" in chosen["se_method"] and chosen["p_gamma2"] < 0.05
    # the demo's residuals are spatially dependent (its process has spatial terms), and the run says so
    diag = res.table("haken_residual_diagnostics")
    pooled = diag[(diag["scope"] == "pooled") & (diag["q1"] == "NQP")].set_index(["equation", "test"])
    assert pooled.at[("q1", "moran_residuals"), "statistic"] > 0.15 and pooled.at[("q1", "lm_error"), "p"] < 1e-4
    assert "aspatial inference ignores cross-regional dependence" in " ".join(stages["haken"]["notes"])
    tests = res.table("stages_tests")
    sup = tests[tests["test"] == "sup-F"].iloc[0]
    assert int(sup["break_year"]) == 2020 and sup["p"] < 0.05  # the 2020 turning point
    assert set(res.table("coevolution")["region"]) == set(demo.load_demo()["panel"]["region"])  # input ids kept


def test_the_demo_emits_no_warning_from_outside_nqpspatial(demo_run_and_warnings):
    """Issue 17, item 7: every warning of the demo run (report included) is one of ours (an NqpWarning), and
    run.json records no third-party warning text either."""
    import json

    from nqpspatial.errors import NqpWarning

    res, caught = demo_run_and_warnings
    foreign = [f"{w.category.__name__} ({w.filename}:{w.lineno}): {w.message}" for w in caught]
    foreign = [f for f, w in zip(foreign, caught) if not issubclass(w.category, NqpWarning)]
    assert foreign == []
    run = json.loads((res.out_dir / "run.json").read_text(encoding="utf-8"))
    recorded = [w for s in run["stages"] for w in s["warnings"]] + list(run.get("warnings") or [])
    for text in recorded:
        assert not any(k in text for k in ("RuntimeWarning", "FutureWarning", "UserWarning", "DeprecationWarning"))
    assert (res.out_dir / "report.html").exists()
