"""Stages: trajectories, Chow test, sup-F power and size."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from nqpspatial.errors import InputError
from nqpspatial.haken import break_tests, simulate_panel, trajectories

TRUE = dict(gamma1=-0.1, a=0.35, gamma2=0.6, b=0.35)


def test_chow_equals_statsmodels_f_test():
    df = simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), seed=3)
    res = break_tests(df, "q1", "q2", break_year=2019, bootstrap=0)
    d = df.sort_values(["region", "year"]).copy()
    d["y1"] = d.groupby("region")["q1"].shift(-1)
    d = d.dropna()
    D = (d["year"] >= 2019).astype(float)
    X = pd.DataFrame({"x1": d["q1"], "x2": d["q1"] * d["q2"]})
    Xu = pd.concat([X, X.mul(D, axis=0).add_suffix("_post")], axis=1)
    r = sm.OLS(d["y1"], Xu).fit()
    ft = r.f_test("x1_post = 0, x2_post = 0")
    row = res.chow.set_index("equation").loc["q1"]
    assert row["statistic"] == pytest.approx(float(np.squeeze(ft.fvalue)), rel=1e-9)
    assert row["p"] == pytest.approx(float(ft.pvalue), rel=1e-7)
    assert row["df2"] == r.df_resid


def test_sup_f_path_candidates_and_reproducibility():
    df = simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), seed=4)
    a = break_tests(df, "q1", "q2", bootstrap=199, seed=1)
    b = break_tests(df, "q1", "q2", bootstrap=199, seed=1)
    # 9 transition years 2014-2022, 15 % trimming keeps >= 2 years per regime
    assert a.path["break_year"].tolist() == list(range(2016, 2022))
    assert a.p_value == b.p_value and a.sup_f == pytest.approx(a.path["W"].max())
    t = a.table()
    assert {"chow", "sup-F", "F-path"} >= set(t["test"])


def test_sup_f_power_and_size():
    """Acceptance: a 0.1 shift in gamma1 in 2019 (31 x 10, sd 0.005) is found in >= 90 % of 50
    panels (and placed at 2019 in >= 90 %); without a break the test rejects in <= 10 % (alpha = 0.05)."""
    hits = false = located = 0
    for s in range(50):
        brk = simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), break_year=2019, after={"gamma1": 0.0}, seed=s)
        r = break_tests(brk, "q1", "q2", bootstrap=499, seed=s)
        hits += r.p_value < 0.05
        located += r.turning_point == 2019
        null = simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), seed=500 + s)
        false += break_tests(null, "q1", "q2", bootstrap=499, seed=s).p_value < 0.05
    assert hits >= 45
    assert located >= 45
    assert false <= 5


def test_break_tests_with_region_effects_run():
    rng = np.random.default_rng(1)
    eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
    df = simulate_panel(**TRUE, n_periods=10, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)
    r = break_tests(df, "q1", "q2", effects="region", break_year=2018, bootstrap=99, seed=1)
    assert 0 < r.p_value <= 1 and np.isfinite(r.chow["statistic"]).all()
    with pytest.raises(InputError, match="break_year"):
        break_tests(df, "q1", "q2", break_year=2030, bootstrap=0)


def test_trajectories_brute_force():
    df = simulate_panel(**TRUE, n_periods=5, seed=2).assign(h=lambda d: d["q1"] * 0.5)
    scheme = pd.Series({f"R{i + 1:02d}": ("E" if i % 2 else "W") for i in range(31)})
    t = trajectories(df, scheme)
    nat = t[t["scope"] == "national"].set_index("year")
    assert np.allclose(nat["q1"], df.groupby("year")["q1"].mean())
    e = t[(t["scope"] == "group") & (t["group"] == "E")].set_index("year")
    ref = df[df["region"].map(scheme) == "E"].groupby("year")["h"].mean()
    assert np.allclose(e["h"], ref) and (e["n_regions"] == 15).all()
    assert np.isnan(e["h_change"].iloc[0]) and np.isclose(e["h_change"].iloc[1], ref.iloc[1] - ref.iloc[0])


@pytest.mark.parametrize("effects", ["none", "region", "year", "two-way"])
def test_sup_f_bootstrap_on_region_sums_equals_the_row_level_reference(effects):
    """The grouped-sums bootstrap gives the row-level (0.1.0) resamples' statistics to rounding, from the
    same draws, so the p-value is the same."""
    from _break_reference import sup_f_draws_rows
    from nqpspatial.haken import stages as st
    from nqpspatial.haken.model import _Design, prepare_panel

    rng = np.random.default_rng(7)
    eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
    df = simulate_panel(
        **TRUE,
        n_periods=10,
        q1_start=(0.3, 0.6),
        region_effects=eff,
        break_year=2019,
        after={"gamma1": -0.05},
        seed=rng,
    )
    d = _Design(prepare_panel(df, "q1", "q2"), False, effects)
    eqs = st._break_equations(d)
    cands = list(range(2016, 2022))
    B = 301
    ref = sup_f_draws_rows(d, eqs, cands, B, 5)
    got = st._sup_f_draws(d, eqs, cands, B, 5)
    assert got.shape == ref.shape == (B,)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    res = break_tests(df, "q1", "q2", effects=effects, bootstrap=B, seed=5)
    assert res.p_value == (1 + np.sum(ref >= res.sup_f)) / (B + 1)
