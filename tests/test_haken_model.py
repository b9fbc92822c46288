"""Estimation of the Haken model: equality with statsmodels, SEs, bootstrap, input errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from nqpspatial.errors import InputError
from nqpspatial.haken import HakenModel, ShortPanelWarning, simulate_panel
from nqpspatial.haken.bootstrap import draw_counts

TRUE = dict(gamma1=-0.1, a=0.35, gamma2=0.6, b=0.35)


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), seed=7, names=("NQP", "NTU"))


def lagged(df, q1="NQP", q2="NTU"):
    """Independent construction of the lagged design (plain pandas)."""
    d = df.sort_values(["region", "year"]).copy()
    d["y1"] = d.groupby("region")[q1].shift(-1)
    d["y2"] = d.groupby("region")[q2].shift(-1)
    d = d.dropna(subset=["y1"])
    return d


@pytest.mark.parametrize("intercept,effects", [(False, "none"), (True, "none"), (False, "region")])
def test_point_estimates_equal_statsmodels(panel, intercept, effects):
    d = lagged(panel)
    X1 = pd.DataFrame({"q1": d["NQP"], "q1q2": d["NQP"] * d["NTU"]})
    X2 = pd.DataFrame({"q2": d["NTU"], "q1sq": d["NQP"] ** 2})
    if intercept:
        X1, X2 = sm.add_constant(X1), sm.add_constant(X2)
    if effects == "region":
        dum = pd.get_dummies(d["region"], dtype=float)
        X1, X2 = pd.concat([X1, dum], axis=1), pd.concat([X2, dum], axis=1)
    r1 = sm.OLS(d["y1"], X1).fit()
    r2 = sm.OLS(d["y2"], X2).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        res = HakenModel(panel, "NQP", "NTU", intercept=intercept, effects=effects).fit(bootstrap=0)
    p = res.params
    assert abs(p["gamma1"] - (1 - r1.params["q1"])) < 1e-10
    assert abs(p["a"] - (-r1.params["q1q2"])) < 1e-10
    assert abs(p["gamma2"] - (1 - r2.params["q2"])) < 1e-10
    assert abs(p["b"] - r2.params["q1sq"]) < 1e-10
    assert abs(res.bse["gamma1"] - r1.bse["q1"]) < 1e-10
    assert abs(res.bse["b"] - r2.bse["q1sq"]) < 1e-10
    if intercept:
        assert abs(p["k1"] - r1.params["const"]) < 1e-10
    # centered R2 of the q1 equation
    assert abs(res.rsquared["q1"] - (1 - r1.ssr / r1.centered_tss)) < 1e-10
    if effects == "region":
        eff = res.region_effects.set_index("region")
        assert abs(eff.at["R05", "k1"] - r1.params["R05"]) < 1e-10


@pytest.mark.parametrize("se,kw", [("hc1", dict(cov_type="HC1")), ("cluster", "cluster")])
def test_robust_standard_errors_and_pvalues(panel, se, kw):
    d = lagged(panel)
    X1 = pd.DataFrame({"q1": d["NQP"], "q1q2": d["NQP"] * d["NTU"]})
    if kw == "cluster":
        kw = dict(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["region"])[0]})
    r1 = sm.OLS(d["y1"], X1).fit(use_t=True, **kw)
    res = HakenModel(panel, "NQP", "NTU", se=se).fit(bootstrap=0)
    assert abs(res.bse["gamma1"] - r1.bse["q1"]) < 1e-10
    assert abs(res.bse["a"] - r1.bse["q1q2"]) < 1e-10
    # p of gamma1 tests gamma1 = 0, i.e. coefficient = 1: statsmodels' own t_test
    tt = r1.t_test((np.eye(2), np.array([1.0, 0.0])))
    assert abs(res.pvalues["gamma1"] - tt.pvalue.ravel()[0]) < 1e-12
    assert abs(res.pvalues["a"] - r1.pvalues["q1q2"]) < 1e-12


def test_vectorised_bootstrap_equals_statsmodels_loop(panel):
    """The batched solve reproduces statsmodels OLS on explicitly resampled regions."""
    B = 15
    res = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=np.random.default_rng(3), bootstrap_scheme="region")
    W = draw_counts(np.random.default_rng(3), 31, B)  # same stream as inside fit
    regions = list(pd.unique(panel["region"]))
    d = lagged(panel)
    for b in range(B):
        parts = [d[d["region"] == r] for r, c in zip(regions, W[b]) for _ in range(int(c))]
        s = pd.concat(parts)
        r1 = sm.OLS(s["y1"].to_numpy(), np.column_stack([s["NQP"], s["NQP"] * s["NTU"]])).fit()
        r2 = sm.OLS(s["y2"].to_numpy(), np.column_stack([s["NTU"], s["NQP"] ** 2])).fit()
        row = res.bootstrap.draws.iloc[b]
        assert abs(row["gamma1"] - (1 - r1.params[0])) < 1e-10
        assert abs(row["a"] + r1.params[1]) < 1e-10
        assert abs(row["gamma2"] - (1 - r2.params[0])) < 1e-10
        assert abs(row["b"] - r2.params[1]) < 1e-10


def test_bootstrap_reproducible_and_seed_dependent(panel):
    a = HakenModel(panel, "NQP", "NTU").fit(bootstrap=199, seed=11, bootstrap_scheme="region")
    b = HakenModel(panel, "NQP", "NTU").fit(bootstrap=199, seed=11, bootstrap_scheme="region")
    c = HakenModel(panel, "NQP", "NTU").fit(bootstrap=199, seed=12, bootstrap_scheme="region")
    pd.testing.assert_frame_equal(a.bootstrap.draws, b.bootstrap.draws)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert not np.allclose(a.bootstrap.draws.to_numpy(), c.bootstrap.draws.to_numpy())
    assert a.estimates["ci_low"].tolist() != c.estimates["ci_low"].tolist()


def test_results_immutable_and_summary(panel):
    res = HakenModel(panel, "NQP", "NTU").fit(bootstrap=99, seed=1)
    with pytest.raises(AttributeError):
        res.params = None
    est = res.estimates
    est.loc[0, "estimate"] = 99.0
    assert res.estimates.loc[0, "estimate"] != 99.0
    s = res.summary()
    assert "gamma2" in s.as_text() and "passes" in s.as_text()
    assert "<table" in s.as_html() and r"\toprule" in s.as_latex()
    assert list(res.estimates["term"]) == ["gamma1", "a", "gamma2", "b"]


def test_input_not_mutated(panel):
    before = panel.copy()
    HakenModel(panel.sample(frac=1, random_state=0), "NQP", "NTU").fit(bootstrap=0)
    pd.testing.assert_frame_equal(panel, before)


def test_shuffled_rows_give_same_estimates(panel):
    a = HakenModel(panel, "NQP", "NTU").fit(bootstrap=0).params
    b = HakenModel(panel.sample(frac=1, random_state=1), "NQP", "NTU").fit(bootstrap=0).params
    assert np.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d.drop(columns="NTU"), "not found"),
        (lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate region-year"),
        (lambda d: d.assign(NQP=d["NQP"].where(d.index != 3)), "missing"),
        (lambda d: d[~((d["region"] == "R02") & (d["year"] == 2017))], "missing [2017]"),
    ],
)
def test_input_errors(panel, mutate, needle):
    with pytest.raises(InputError) as exc:
        HakenModel(mutate(panel), "NQP", "NTU")
    assert needle in str(exc.value)


def test_bad_options():
    df = simulate_panel(**TRUE, n_periods=5, seed=1)
    with pytest.raises(InputError, match="se="):
        HakenModel(df, "q1", "q2", se="robust")
    with pytest.raises(InputError, match="intercept"):
        HakenModel(df, "q1", "q2", intercept=True, effects="region")
    with pytest.raises(InputError, match="groups"):
        HakenModel(df, "q1", "q2", by="group")


def test_window_restricts_years(panel):
    res = HakenModel(panel, "NQP", "NTU", window=[2016, 2021]).fit(bootstrap=0)
    assert res.years == (2016, 2021) and res.nobs == 31 * 5


def test_short_panel_warning_with_region_effects(panel):
    with pytest.warns(ShortPanelWarning, match="Nickell"):
        HakenModel(panel, "NQP", "NTU", effects="region").fit(bootstrap=0)


def test_by_group_and_region(panel):
    groups = pd.Series({f"R{i + 1:02d}": ("A" if i < 15 else "B") for i in range(31)})
    res = HakenModel(panel, "NQP", "NTU", by="group", groups=groups).fit(bootstrap=49, seed=2)
    assert set(res.units) == {"A", "B"}
    sub = panel[panel["region"].map(groups) == "A"]
    direct = HakenModel(sub, "NQP", "NTU").fit(bootstrap=0).params
    assert np.allclose(res.units["A"].params, direct, atol=1e-12)
    assert set(res.potential_table()["group"]) == {"A", "B"}
    byr = HakenModel(panel, "NQP", "NTU", by="region").fit(bootstrap=0)
    assert len(byr.units) == 31 and "region" in byr.estimates


def test_fixed_effects_coefficients_recorded_by_jackknife_equal_plain_fit():
    rng = np.random.default_rng(8)
    eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
    df = simulate_panel(-0.03, 0.2, 0.5, 0.3, n_periods=10, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)
    jk = HakenModel(df, "q1", "q2", effects="region").fit(bootstrap=0, jackknife=True)
    with pytest.warns(ShortPanelWarning):
        fe = HakenModel(df, "q1", "q2", effects="region").fit(bootstrap=0)
    assert abs(fe.params["gamma1"] - (1 - jk.jackknife["eq1"]["full"]["lag"])) < 1e-12
    assert abs(fe.params["b"] - jk.jackknife["eq2"]["full"]["inter"]) < 1e-12


def test_fixed_effects_corrections_do_what_the_bias_study_shows():
    """Reduced version of the bias study of docs/inference.md (converging paths, 31 x 10, 40 panels).

    Demo truth (gamma1 = -0.10, a = 0.15, gamma2 = 0.70, b = 0.84), region
    intercepts N(0, 0.005^2), shocks sd 0.01, q1 starting in U(0.1, 0.5).
    Fixed-effects OLS over-estimates gamma2 and b (Nickell); the split-panel
    jackknife over-corrects gamma1 (its bias changes sign) while it shrinks
    the bias of gamma2; the analytic correction shrinks the bias of gamma1,
    gamma2 and b without changing its sign, but does not remove it.
    """
    tr = pd.Series(dict(gamma1=-0.10, a=0.15, gamma2=0.70, b=0.84))
    fe, jk, an = [], [], []
    for s in range(40):
        rng = np.random.default_rng(500 + s)
        eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
        df = simulate_panel(**tr, n_periods=10, noise_sd=0.01, q1_start=(0.1, 0.5), region_effects=eff, seed=rng)
        res = HakenModel(df, "q1", "q2", effects="region").fit(bootstrap=0, jackknife=True)
        jk.append(res.params[tr.index])
        c1, c2 = res.jackknife["eq1"]["full"], res.jackknife["eq2"]["full"]
        fe.append(pd.Series(dict(gamma1=1 - c1["lag"], a=-c1["inter"], gamma2=1 - c2["lag"], b=c2["inter"])))
        an.append(HakenModel(df, "q1", "q2", effects="region").fit(bootstrap=0, correction="analytic").params[tr.index])
    bias_fe, bias_jk, bias_an = (pd.DataFrame(x).mean() - tr for x in (fe, jk, an))
    assert bias_fe["gamma2"] > 0.03 and bias_fe["b"] > 0.03 and bias_fe["gamma1"] > 0  # the problem is real
    assert bias_jk["gamma1"] < 0 < bias_fe["gamma1"]  # over-correction
    assert abs(bias_jk["gamma2"]) < abs(bias_fe["gamma2"])
    for t in ("gamma1", "gamma2", "b"):
        assert 0 < bias_an[t] < bias_fe[t], t  # shrinks, same sign
    assert bias_an["gamma2"] > 0.1 * bias_fe["gamma2"]  # not removed


def test_jackknife_bootstrap_runs_and_is_centered():
    rng = np.random.default_rng(5)
    eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
    df = simulate_panel(-0.03, 0.2, 0.5, 0.3, n_periods=10, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)
    res = HakenModel(df, "q1", "q2", effects="region").fit(
        bootstrap=199, seed=1, jackknife=True, bootstrap_scheme="region"
    )
    med = res.bootstrap.draws[["gamma1", "gamma2"]].median()
    assert abs(med["gamma2"] - res.params["gamma2"]) < 3 * res.bse["gamma2"]
    assert res.jackknife is not None and "eq1" in res.jackknife


def test_empty_window_names_the_data_years(panel):
    with pytest.raises(InputError, match=r"window \[2030, 2040\].*2014-2023"):
        HakenModel(panel, "NQP", "NTU", window=[2030, 2040])


def test_verdict_reason_tells_the_ratio_from_the_threshold():
    """A ratio just above (or below) min_ratio is printed with the digits that show it."""
    from nqpspatial.haken.results import adiabatic_verdict

    ratio, holds, reason = adiabatic_verdict(-0.5, 0.50015, 1e-6)
    assert holds and "|gamma2|/|gamma1| = 1.0003 > 1" in reason
    ratio, holds, reason = adiabatic_verdict(-0.5, 0.49985, 1e-6)
    assert not holds and "|gamma2|/|gamma1| = 0.9997 is not > 1" in reason
    assert "= 3.6 > 1" in adiabatic_verdict(-0.1, 0.36, 1e-6)[2]


# ---------------------------------------------------------------- marginal effects (issue 14)
@pytest.mark.filterwarnings("ignore::nqpspatial.haken.model.ShortPanelWarning")
@pytest.mark.parametrize(
    "opts", [dict(), dict(effects="region"), dict(intercept=True)], ids=["pooled", "region-effects", "intercept"]
)
def test_marginal_effects_equal_finite_differences(opts):
    """Average marginal effects = central finite differences of the fitted map averaged over the sample."""
    from nqpspatial.haken import HakenModel, simulate_panel

    df = simulate_panel(gamma1=-0.1, a=0.35, gamma2=0.6, b=0.35, n_regions=12, n_periods=8, seed=4)
    res = HakenModel(df, "q1", "q2", **opts).fit(bootstrap=199, seed=2)
    me = res.marginal_effects().set_index(["equation", "wrt"])
    p = res.params
    start = res._panel_std.sort_values(["region", "year"]).groupby("region").head(7)  # t = 1..T-1
    q1, q2 = start["q1"].to_numpy(), start["q2"].to_numpy()

    def f(x1, x2):  # the fitted map; intercepts/effects shift both sides of a difference equally
        return ((1 - p["gamma1"]) * x1 - p["a"] * x1 * x2, (1 - p["gamma2"]) * x2 + p["b"] * x1 * x1)

    h = 1e-4
    for wrt, (d1, d2) in (("q1", (h, 0.0)), ("q2", (0.0, h))):
        up, dn = f(q1 + d1, q2 + d2), f(q1 - d1, q2 - d2)
        for k, eq in enumerate(("q1", "q2")):
            fd = np.mean((up[k] - dn[k]) / (2 * h))
            assert me.loc[(eq, wrt), "estimate"] == pytest.approx(fd, abs=1e-6)
    assert (me["ci_low"] <= me["estimate"]).all() and (me["estimate"] <= me["ci_high"]).all()
    assert me["ci_method"].str.startswith("cluster bootstrap percentile (B = 199").all()
    assert list(res.marginal_effects().columns) == [
        "q1",
        "q2",
        "equation",
        "wrt",
        "estimate",
        "ci_low",
        "ci_high",
        "ci_method",
    ]


def test_marginal_effects_delta_method_without_bootstrap():
    """Without the bootstrap: t intervals by the delta method; dq2'/dq2 = 1 - gamma2 has gamma2's interval."""
    from nqpspatial.haken import HakenModel, simulate_panel

    df = simulate_panel(gamma1=-0.1, a=0.35, gamma2=0.6, b=0.35, n_regions=12, n_periods=8, seed=4)
    res = HakenModel(df, "q1", "q2").fit(bootstrap=0)
    me = res.marginal_effects().set_index(["equation", "wrt"])
    lo, hi = res.conf_int.loc["gamma2"]
    assert me.loc[("q2", "q2"), "ci_low"] == pytest.approx(1 - hi, abs=1e-12)
    assert me.loc[("q2", "q2"), "ci_high"] == pytest.approx(1 - lo, abs=1e-12)
    assert me["ci_method"].str.startswith("t interval, delta method").all()
