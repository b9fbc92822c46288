"""Dependence-robust inference of the Haken model: references, year effects, the wild-year bootstrap."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from nqpspatial.errors import InputError
from nqpspatial.haken import HakenModel, ShortPanelWarning, simulate_panel
from nqpspatial.haken.inference import bartlett_bandwidth, driscoll_kraay_cov
from nqpspatial.haken.wild import WEBB_WEIGHTS, draw_multipliers, wild_weights

TRUE = dict(gamma1=-0.1, a=0.15, gamma2=0.7, b=0.84)


@pytest.fixture(scope="module")
def demo_indices():
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=lambda t: t["direction"].map({"+": 1, "-": -1}))
    return compute_weights(d["panel"], ind).indices


def lagged(df, q1="NQP", q2="NTU"):
    d = df.sort_values(["region", "year"]).copy()
    d["y1"] = d.groupby("region")[q1].shift(-1)
    d["y2"] = d.groupby("region")[q2].shift(-1)
    return d.dropna(subset=["y1"]).reset_index(drop=True)


@pytest.mark.parametrize("effects", ["none", "region"])
def test_driscoll_kraay_equals_linearmodels_on_the_demo(demo_indices, effects):
    """Bartlett kernel, the same bandwidth given explicitly, small-sample factor n/(n - K)."""
    lm = pytest.importorskip("linearmodels")
    d = lagged(demo_indices).set_index(["region", "year"])
    res = (
        HakenModel(demo_indices, "NQP", "NTU", se="driscoll-kraay", effects=effects).fit(bootstrap=0)
        if effects == "none"
        else _quiet(
            lambda: HakenModel(demo_indices, "NQP", "NTU", se="driscoll-kraay", effects=effects).fit(bootstrap=0)
        )
    )
    bw = res.options["bandwidth"]
    assert bw == bartlett_bandwidth(9) == 2
    for y, cols, terms in (("y1", ["NQP", "q1q2"], ("gamma1", "a")), ("y2", ["NTU", "q1sq"], ("gamma2", "b"))):
        X = pd.DataFrame({"NQP": d["NQP"], "q1q2": d["NQP"] * d["NTU"], "NTU": d["NTU"], "q1sq": d["NQP"] ** 2})[cols]
        ref = lm.PanelOLS(d[y], X, entity_effects=effects == "region").fit(
            cov_type="kernel", kernel="bartlett", bandwidth=bw, debiased=True
        )
        assert np.allclose(res.bse[list(terms)].to_numpy(), ref.std_errors.to_numpy(), rtol=0, atol=1e-8)
        assert abs(res.bse[terms[0]] / ref.std_errors.iloc[0] - 1) < 1e-8


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        return fn()


def test_twoway_equals_statsmodels_two_column_clusters_on_the_demo(demo_indices):
    d = lagged(demo_indices)
    groups = np.column_stack([pd.factorize(d["region"])[0], pd.factorize(d["year"])[0]])
    res = HakenModel(demo_indices, "NQP", "NTU", se="twoway").fit(bootstrap=0)
    for y, X, terms in (
        ("y1", np.column_stack([d["NQP"], d["NQP"] * d["NTU"]]), ("gamma1", "a")),
        ("y2", np.column_stack([d["NTU"], d["NQP"] ** 2]), ("gamma2", "b")),
    ):
        ref = sm.OLS(d[y].to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        assert np.allclose(res.bse[list(terms)].to_numpy(), ref.bse, rtol=0, atol=1e-8)
        tt = ref.t_test((np.eye(2), np.array([1.0, 0.0]) if y == "y1" else np.array([1.0, 0.0])))
        assert abs(res.pvalues[terms[0]] - tt.pvalue.ravel()[0]) < 1e-10
    # the t reference uses the smaller number of clusters minus one (statsmodels): 9 years - 1
    assert res.df["gamma2"] == 8


def test_point_estimates_do_not_depend_on_the_inference(demo_indices):
    base = HakenModel(demo_indices, "NQP", "NTU").fit(bootstrap=0).params
    for se in ("hc1", "cluster", "driscoll-kraay", "twoway"):
        p = HakenModel(demo_indices, "NQP", "NTU", se=se).fit(bootstrap=0).params
        assert np.array_equal(p.to_numpy(), base.to_numpy())
    w = HakenModel(demo_indices, "NQP", "NTU").fit(bootstrap=49, seed=1, bootstrap_scheme="wild-year").params
    assert np.array_equal(w.to_numpy(), base.to_numpy())


def test_driscoll_kraay_by_hand():
    """Small example: the Bartlett-weighted sum of period score products, written out."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    e = rng.normal(size=12)
    t = np.repeat(np.arange(4), 3)
    xi = np.array([(X[t == s] * e[t == s, None]).sum(0) for s in range(4)])
    S = sum(np.outer(xi[s], xi[s]) for s in range(4))
    S = S + 0.5 * sum(np.outer(xi[s], xi[s - 1]) + np.outer(xi[s - 1], xi[s]) for s in range(1, 4))
    inv = np.linalg.inv(X.T @ X)
    V, L = driscoll_kraay_cov(X, e, t, bandwidth=1)
    assert L == 1 and np.allclose(V, inv @ S @ inv * 12 / 10)
    with pytest.raises(ValueError, match="bandwidth"):
        driscoll_kraay_cov(X, e, t, bandwidth=4)


# ---------------------------------------------------------------- year and two-way effects
@pytest.fixture(scope="module")
def shocked():
    return simulate_panel(**TRUE, n_periods=10, q1_start=(0.1, 0.5), noise_sd=0.01, year_shock_sd=0.01, seed=4)


def test_year_effects_equal_lsdv_with_year_dummies(shocked):
    d = lagged(shocked, "q1", "q2")
    dum = pd.get_dummies(d["year"], dtype=float)
    X1 = pd.concat([pd.DataFrame({"lag": d["q1"], "inter": d["q1"] * d["q2"]}), dum], axis=1)
    r1 = sm.OLS(d["y1"], X1).fit()
    res = HakenModel(shocked, "q1", "q2", effects="year").fit(bootstrap=0)
    assert abs(res.params["gamma1"] - (1 - r1.params["lag"])) < 1e-10
    assert abs(res.params["a"] + r1.params["inter"]) < 1e-10
    ye = res.year_effects.set_index("year")
    assert np.allclose(ye["k1"].to_numpy(), r1.params[dum.columns].to_numpy(), atol=1e-10)


def test_year_effects_potential_rows_and_mean_row_feeds_h(shocked):
    res = HakenModel(shocked, "q1", "q2", effects="year").fit(bootstrap=0)
    pot = res.potential_table()
    years = sorted(shocked["year"].unique())[:-1]  # transition years
    assert pot["year"].notna().sum() == len(years) and list(pot["year"].dropna()) == years
    mean_row = pot[pot["year"].isna()]
    assert len(mean_row) == 1
    ye = res.year_effects
    sys_ = next(iter(res.systems().values()))
    assert abs(sys_.k1 - ye["k1"].mean()) < 1e-12 and abs(sys_.k2 - ye["k2"].mean()) < 1e-12
    # h uses the mean-year potential (common to all regions)
    assert res.potential is not None and res.potential.row()["linear"] == mean_row["linear"].iloc[0]


def test_two_way_effects_region_rows_at_the_mean_year_intercept(shocked):
    with pytest.warns(ShortPanelWarning, match="two-way"):
        res = HakenModel(shocked, "q1", "q2", effects="two-way").fit(bootstrap=0)
    d = lagged(shocked, "q1", "q2")
    dr = pd.get_dummies(d["region"], dtype=float)
    dy = pd.get_dummies(d["year"], dtype=float).iloc[:, 1:]
    X2 = pd.concat([pd.DataFrame({"lag": d["q2"], "inter": d["q1"] ** 2}), dr, dy], axis=1)
    r2 = sm.OLS(d["y2"], X2).fit()
    assert abs(res.params["gamma2"] - (1 - r2.params["lag"])) < 1e-10
    pot = res.potential_table()
    assert len(pot) == 31 and "region" in pot
    tau = np.r_[0.0, r2.params[dy.columns].to_numpy()]
    k2 = r2.params["R07"] + tau.mean()  # the intercept of region R07 at the mean year intercept
    assert abs(res.systems()["R07"].k2 - k2) < 1e-10
    assert abs(res.year_effects["k2"].sum()) < 1e-10


def test_short_panel_warning_only_with_region_effects(shocked):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortPanelWarning)
        HakenModel(shocked, "q1", "q2", effects="year").fit(bootstrap=0)
        HakenModel(shocked, "q1", "q2").fit(bootstrap=0)
    for eff in ("region", "two-way"):
        with pytest.warns(ShortPanelWarning, match="Nickell"):
            HakenModel(shocked, "q1", "q2", effects=eff).fit(bootstrap=0)


def test_effect_options_are_checked(shocked):
    with pytest.raises(InputError, match="intercept"):
        HakenModel(shocked, "q1", "q2", intercept=True, effects="year")
    with pytest.raises(InputError, match="by='region'"):
        HakenModel(shocked, "q1", "q2", by="region", effects="two-way")
    with pytest.raises(InputError, match="bandwidth"):
        HakenModel(shocked, "q1", "q2", se="driscoll-kraay", bandwidth=9)
    with pytest.raises(InputError, match="bootstrap_scheme"):
        HakenModel(shocked, "q1", "q2").fit(bootstrap=9, bootstrap_scheme="wild")


# ---------------------------------------------------------------- wild-year bootstrap
def test_multipliers_webb_below_12_transition_years_rademacher_from_12():
    assert wild_weights(11)[0] == "webb" and wild_weights(12)[0] == "rademacher"
    W = draw_multipliers(np.random.default_rng(0), 6000, 9)
    assert set(np.round(np.unique(W), 12)) == set(np.round(WEBB_WEIGHTS, 12))
    assert abs(W.mean()) < 0.02 and abs((W**2).mean() - 1) < 0.02  # mean 0, variance 1


def test_wild_year_reports_distinct_draws_and_is_reproducible_across_backends(shocked):
    from nqpspatial.backends import open_backend

    a = HakenModel(shocked, "q1", "q2").fit(bootstrap=300, seed=5, bootstrap_scheme="wild-year")
    with open_backend("processes", workers=2) as be:
        b = HakenModel(shocked, "q1", "q2").fit(bootstrap=300, seed=5, bootstrap_scheme="wild-year", backend=be)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    boot = a.bootstrap
    assert boot.weights == "webb" and boot.n_possible == 6**9
    assert 290 <= boot.n_distinct <= 300 and "distinct draws" in a.estimates["ci_method"].iloc[0]
    c = HakenModel(shocked, "q1", "q2").fit(bootstrap=300, seed=6, bootstrap_scheme="wild-year")
    assert not a.estimates["ci_low"].equals(c.estimates["ci_low"])


def test_wild_year_rademacher_with_twenty_periods_counts_distinct_draws():
    df = simulate_panel(**TRUE, n_periods=13, q1_start=(0.1, 0.5), noise_sd=0.01, seed=1)
    res = HakenModel(df, "q1", "q2").fit(bootstrap=200, seed=1, bootstrap_scheme="wild-year")
    assert res.bootstrap.weights == "rademacher" and res.bootstrap.n_possible == 2**12
    assert res.bootstrap.n_distinct <= 200


def test_wild_year_resamples_equal_a_direct_simulation(shocked):
    """The recursive resample of one draw, re-done with HakenSystem.step and statsmodels."""
    from nqpspatial.haken import HakenSystem
    from nqpspatial.haken.model import _Design, prepare_panel
    from nqpspatial.haken.wild import _dgp, _estimate, _payload, _simulate

    panel = prepare_panel(shocked, "q1", "q2")
    design = _Design(panel, False, "none")
    fit = HakenModel(shocked, "q1", "q2").fit(bootstrap=0)
    c1, c2 = fit.equation_results[0].params, fit.equation_results[1].params
    c1.index, c2.index = ["lag", "inter"], ["lag", "inter"]
    p = _payload(design, (c1, c2), False)
    w = draw_multipliers(np.random.default_rng(3), 1, 9)
    S1, S2, Y1, Y2 = _simulate(p, _dgp(p["eqs"][0], p["eqs"][0]["coef"]), _dgp(p["eqs"][1], p["eqs"][1]["coef"]), w)
    sys_ = HakenSystem(**fit.params.to_dict())
    u1 = design.y1 - fit.equation_results[0].fittedvalues
    u2 = design.y2 - fit.equation_results[1].fittedvalues
    r = 0  # region R01, rows 0..8
    q1, q2 = shocked.loc[0, "q1"], shocked.loc[0, "q2"]
    for s in range(9):
        n1, n2 = sys_.step(q1, q2)
        q1, q2 = n1 + w[0, s] * u1[r + s], n2 + w[0, s] * u2[r + s]
        assert abs(Y1[0, r + s] - q1) < 1e-12 and abs(Y2[0, r + s] - q2) < 1e-12
    b1, b2, se1, se2, _ = _estimate(p, S1, S2, Y1, Y2)
    ref = sm.OLS(Y2[0], np.column_stack([S2[0], S1[0] ** 2])).fit(
        cov_type="cluster", cov_kwds={"groups": design.tcodes}
    )
    assert np.allclose(b2[0], ref.params) and np.allclose(se2[0], ref.bse)


def test_wild_year_p_value_of_gamma2_is_valid_under_a_unit_root():
    """Reduced version of the documented study: true gamma2 = 0, common shocks, 20 periods.

    The default calls gamma2 significant in at most 10 % of panels (1,000 in
    docs/inference.md; 40 here, at most 4 of them significant), where
    classical standard errors do so in most.
    """
    sig_w, sig_c = 0, 0
    for s in range(40):
        df = simulate_panel(
            **{**TRUE, "gamma2": 0.0},
            n_periods=20,
            q1_start=(0.1, 0.5),
            noise_sd=0.01,
            year_shock_sd=0.01,
            seed=100 + s,
        )
        w = HakenModel(df, "q1", "q2").fit(bootstrap=199, seed=s, bootstrap_scheme="wild-year")
        c = HakenModel(df, "q1", "q2").fit(bootstrap=0)
        sig_w += w.pvalues["gamma2"] < 0.05
        sig_c += c.pvalues["gamma2"] < 0.05
    assert sig_w <= 4
    assert sig_c >= 12  # the problem is real


def test_wild_year_with_effects_and_jackknife_runs(shocked):
    for eff in ("year", "two-way", "region"):
        res = _quiet(
            lambda: HakenModel(shocked, "q1", "q2", effects=eff).fit(
                bootstrap=60, seed=1, bootstrap_scheme="wild-year", jackknife=eff != "year"
            )
        )
        ci = res.conf_int
        assert (ci["ci_low"] < ci["ci_high"]).all() and res.bootstrap.n_invalid == 0
        assert res.pvalues.between(0, 1).all()


# ---------------------------------------------------------------- residual diagnostics
def test_residual_diagnostics_pooled_rows_equal_spatial_haken_diagnostics(demo_run):
    """The demo run: Haken-stage LM rows equal the spatial Haken stage's OLS rows."""
    res = demo_run.table("haken_residual_diagnostics")
    ref = demo_run.table("spatial_haken_diagnostics")
    ref = ref[(ref["model"] == "ols")]
    pooled = res[res["scope"] == "pooled"]
    assert set(pooled["test"]) == {"moran_residuals", "lm_lag", "lm_error"}
    assert len(pooled) == 2 * 2 * 3  # orderings x equations x tests
    m = pooled.merge(ref, on=["q1", "q2", "equation", "test"], suffixes=("", "_ref"))
    assert len(m) == len(pooled)
    assert np.allclose(m["statistic"], m["statistic_ref"], rtol=1e-10, atol=1e-12)
    assert np.allclose(m["p"], m["p_ref"], rtol=1e-8, atol=1e-14)
    years = res.loc[res["scope"] == "year", "year"].dropna().unique()
    assert sorted(years) == list(range(2014, 2023))
    stage = {s["name"]: s for s in demo_run.info["stages"]}["haken"]
    assert stage["info"]["residual_diagnostics"]["weights"] == "queen"
    if stage["info"]["residual_diagnostics"]["rejects"]:
        assert any("aspatial inference ignores cross-regional dependence" in n for n in stage["notes"])


def test_residual_tests_per_year_equal_spreg_on_one_cross_section():
    """One period: Moran's I of residuals and the LM tests equal spreg's on that cross-section."""
    spreg = pytest.importorskip("spreg")
    from libpysal.weights import lat2W

    from nqpspatial.haken.diagnostics import residual_tests

    w = lat2W(5, 5)
    w.transform = "r"
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.uniform(0.2, 0.8, 25), rng.uniform(0.1, 0.5, 25)])
    y = X @ np.array([0.9, 0.2]) + 0.05 * rng.normal(size=25)
    ols = spreg.ols.BaseOLS(y[:, None], X)
    lm = spreg.LMtests(ols, w, tests=["lme", "lml"])
    mr = spreg.MoranRes(ols, w, z=True)
    W = w.sparse
    res = residual_tests(y[None, :], X[None, :, :], ols.u.ravel()[None, :], W)
    assert abs(res["lm_error"][0] - lm.lme[0]) < 1e-10 and abs(res["lm_error"][1] - lm.lme[1]) < 1e-10
    assert abs(res["lm_lag"][0] - lm.lml[0]) < 1e-10
    assert abs(res["moran_residuals"][0] - mr.I) < 1e-10 and abs(res["moran_residuals"][1] - mr.zI) < 1e-8


@pytest.mark.slow
def test_default_inference_covers_under_common_shocks_200_panels():
    """Acceptance: 200 replications of the common-shock, 20-period cell of docs/inference.md.

    31 regions, demo truth, shocks of sd 0.01 plus a common year shock of sd
    0.01; the default fit (wild-year bootstrap, B = 199) covers gamma1, a,
    gamma2, b and |gamma2|/|gamma1| in at least 85 % of the panels each.
    """
    truth = {**TRUE, "ratio": TRUE["gamma2"] / abs(TRUE["gamma1"])}
    hits = []
    seeds = np.random.SeedSequence(20250901).spawn(200)
    for ss in seeds:
        rng = np.random.default_rng(ss)
        df = simulate_panel(**TRUE, n_periods=20, q1_start=(0.1, 0.5), noise_sd=0.01, year_shock_sd=0.01, seed=rng)
        fit = HakenModel(df, "q1", "q2").fit(bootstrap=199, seed=rng)
        iv = fit.bootstrap.intervals.set_index("term")
        hits.append([iv.at[t, "ci_low"] <= v <= iv.at[t, "ci_high"] for t, v in truth.items()])
    cover = np.mean(hits, axis=0)
    assert (cover >= 0.85).all(), dict(zip(truth, cover))


def test_twoway_covariance_with_a_negative_eigenvalue_is_made_psd():
    """V_region + V_year - V_HC can have a negative eigenvalue: then the slope block's is set to 0 (CGM 2011)."""
    found = None
    for s in range(60):
        df = simulate_panel(**TRUE, n_periods=10, q1_start=(0.1, 0.5), noise_sd=0.01, seed=900 + s)
        res = HakenModel(df, "q1", "q2", se="twoway").fit(bootstrap=0)
        d = lagged(df, "q1", "q2")
        groups = np.column_stack([pd.factorize(d["region"])[0], pd.factorize(d["year"])[0]])
        ref = sm.OLS(d["y2"].to_numpy(), np.column_stack([d["q2"], d["q1"] ** 2])).fit(
            cov_type="cluster", cov_kwds={"groups": groups}
        )
        w, U = np.linalg.eigh(ref.cov_params())
        if w.min() < 0:
            found = (res, ref, w, U)
            break
        assert np.allclose(res.bse[["gamma2", "b"]].to_numpy(), ref.bse, atol=1e-12)  # PSD: statsmodels'
    assert found is not None, "no panel with a non-PSD two-way covariance in 60 seeds"
    res, ref, w, U = found
    fixed = (U * np.maximum(w, 0)) @ U.T
    assert np.allclose(res.bse[["gamma2", "b"]].to_numpy(), np.sqrt(np.diag(fixed)), rtol=1e-10)
    assert np.isfinite(res.pvalues).all() and "negative eigenvalue" in res.se_method


# ---------------------------------------------------------------- the study behind the notes
def test_coverage_notes_are_the_recorded_study(shocked, monkeypatch):
    from pathlib import Path

    from nqpspatial.haken import coverage

    summary = pd.read_csv(Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "mc_inference.csv")
    assert coverage.coverage_from_summary(summary) == coverage.COVERAGE
    assert coverage.COVERAGE[("wild-year", 10)] >= 0.90 and coverage.COVERAGE[("wild-year", 20)] >= 0.90
    naive = HakenModel(shocked, "q1", "q2").fit(bootstrap=0)  # classical t intervals, 10 periods
    assert "common year shocks" in naive.inference_note and "wild-year" in naive.inference_note
    assert naive.reason.endswith(f"[inference: {naive.inference_note}]")
    row = naive.identification_row()
    assert row.at[0, "inference_note"] == naive.inference_note and "classical" in row.at[0, "se_method"]
    assert HakenModel(shocked, "q1", "q2").fit(bootstrap=49, seed=1).inference_note == ""
    # where no option reaches 90 %, the note (and the verdict's reason) say so
    monkeypatch.setattr(coverage, "COVERAGE", {k: min(v, 0.8) for k, v in coverage.COVERAGE.items()})
    worst = HakenModel(shocked, "q1", "q2").fit(bootstrap=49, seed=1)
    assert worst.inference_note.startswith("no inference option reaches 90%") and "no inference option" in worst.reason
