"""Zone summary, kernel density, convergence and obstacle degree (plugins/zones)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from _mexico import DECADES, mexico_csv, mexico_layer, mexico_long
from nqpspatial.artifacts import HakenOutcome
from nqpspatial.errors import InputError
from nqpspatial.plugins.zones import (
    beta_convergence,
    contiguity_graph,
    convergence,
    count_modes,
    kernel_density,
    obstacle_degree,
    zones_summary,
)


@pytest.fixture(scope="module")
def mexico():
    wide, long = mexico_csv()
    groups = wide.set_index("State")["hanson98"].astype(int).astype(str)
    return wide, long, groups


# ---------------------------------------------------------------- summary


def test_zones_summary_equals_groupby(mexico):
    _, long, groups = mexico
    tab = zones_summary(long, "pcgdp", groups, scheme_name="hanson98")
    assert list(tab.columns) == [
        "variable",
        "scheme",
        "year",
        "level",
        "group",
        "n",
        "mean",
        "median",
        "sd",
        "cv",
        "min",
        "max",
    ]
    merged = long.assign(group=groups.reindex(long["region"]).to_numpy())
    for (yr, g), sub in merged.groupby(["year", "group"]):
        row = tab[(tab["year"] == yr) & (tab["group"] == g) & (tab["level"] == "group")].iloc[0]
        v = sub["pcgdp"].to_numpy()
        assert row["n"] == v.size
        assert row["mean"] == pytest.approx(v.mean())
        assert row["median"] == pytest.approx(np.median(v))
        assert row["sd"] == pytest.approx(v.std(ddof=1))
        assert row["cv"] == pytest.approx(v.std(ddof=1) / v.mean())
        assert (row["min"], row["max"]) == (v.min(), v.max())
    nat = tab[tab["level"] == "national"]
    assert len(nat) == len(DECADES) and (nat["n"] == 32).all()


def test_haken_by_zone_is_defensive():
    from nqpspatial.plugins.zones import haken_by_zone

    tabs, notes = haken_by_zone(None)
    assert tabs == {} and "no Haken" in notes[0]

    # the Haken stage's own per-group fit ([haken] by = "group") is taken as it is, groups in order
    fit = SimpleNamespace(
        by="group", identification_table=lambda: pd.DataFrame({"group": ["b", "a"], "gamma1": [0.1, 0.2]})
    )
    tabs, notes = haken_by_zone(HakenOutcome(identification=SimpleNamespace(chosen=("A", "B")), fit=fit))
    assert list(tabs) == ["zones_haken_fits"]
    # a fit that cannot give per-group rows becomes a note, never an error
    broken = SimpleNamespace(by="group", identification_table=lambda: 1 / 0)
    t2, n2 = haken_by_zone(HakenOutcome(identification=SimpleNamespace(chosen=("A", "B")), fit=broken))
    assert t2 == {} and "not tabulated" in n2[0]
    assert list(tabs["zones_haken_fits"]["group"]) == ["a", "b"]


# ---------------------------------------------------------------- density


def test_density_matches_scipy_silverman(mexico):
    from scipy.stats import gaussian_kde

    _, long, groups = mexico
    res = kernel_density(long, "pcgdp", groups, grid_size=101)
    d = res.density
    y = long.loc[long["year"] == 1940, "pcgdp"].to_numpy()
    row = d[(d["year"] == 1940) & (d["level"] == "national")].iloc[0]
    # Silverman (1986) normal-reference rule: h = (3n/4)^(-1/5) * sample sd
    assert row["bandwidth"] == pytest.approx((3 * y.size / 4) ** (-0.2) * y.std(ddof=1), rel=1e-12)
    curve = res.curves.query("year == 1940 and level == 'national'")
    np.testing.assert_allclose(curve["density"], gaussian_kde(y, bw_method="silverman")(curve["x"]), rtol=1e-12)
    assert row["peak"] == pytest.approx(curve["density"].max())
    assert row["location"] == curve["x"].iloc[int(np.argmax(curve["density"]))]
    # integrates to about 1 on the padded grid
    assert np.trapezoid(curve["density"], curve["x"]) == pytest.approx(1.0, abs=0.02)
    # groups: one row per (year, group); group '4' has 2 states -> a density exists
    assert len(d) == len(DECADES) * (1 + groups.nunique())


def test_count_modes():
    x = np.linspace(-6, 6, 400)
    one = np.exp(-(x**2) / 2)
    two = np.exp(-((x - 2.5) ** 2) / 0.5) + 0.8 * np.exp(-((x + 2.5) ** 2) / 0.5)
    assert count_modes(one) == 1
    assert count_modes(two) == 2
    assert count_modes(np.r_[two, two[::-1]]) == 4
    assert count_modes(two + 1e-4 * np.exp(-((x - 5.5) ** 2) / 0.01)) == 2  # ripple below 1 % ignored
    assert count_modes(np.linspace(0, 1, 10)) == 1  # monotone: the peak at the right edge


def test_density_degenerate_group_gets_note():
    data = pd.DataFrame(
        {"region": ["a", "b", "c", "d"] * 2, "year": [1] * 4 + [2] * 4, "x": [1.0, 1.0, 2.0, 3.0, 1.0, 1.0, 2.0, 4.0]}
    )
    groups = pd.Series({"a": "g1", "b": "g1", "c": "g2", "d": "g2"})
    d = kernel_density(data, "x", groups).density
    g1 = d[d["group"] == "g1"]
    assert g1["bandwidth"].isna().all() and g1["note"].str.contains("fewer than two").all()


# ---------------------------------------------------------------- convergence


def test_beta_equals_statsmodels_ols(mexico):
    import statsmodels.api as sm

    wide, long, groups = mexico
    res = convergence(long, "pcgdp", groups).table
    beta = res[(res["kind"] == "beta") & (res["level"] == "national")].iloc[0]
    x0, xT = wide["pcgdp1940"].to_numpy(), wide["pcgdp2000"].to_numpy()
    fit = sm.OLS(np.log(xT / x0) / 60, sm.add_constant(np.log(x0))).fit()
    assert beta["beta"] == pytest.approx(fit.params[1], rel=1e-12)
    assert beta["alpha"] == pytest.approx(fit.params[0], rel=1e-12)
    assert beta["se"] == pytest.approx(fit.bse[1], rel=1e-12)
    assert beta["p"] == pytest.approx(fit.pvalues[1], rel=1e-10)
    assert beta["converges"] == bool(fit.params[1] < 0)
    lam = -np.log(1 + fit.params[1] * 60) / 60
    assert beta["speed"] == pytest.approx(lam) and beta["half_life"] == pytest.approx(np.log(2) / lam)
    # club: the OLS on one group's states only
    g = "3"
    members = groups[groups == g].index
    sub = wide.set_index("State").loc[members]
    fit_g = sm.OLS(np.log(sub["pcgdp2000"] / sub["pcgdp1940"]) / 60, sm.add_constant(np.log(sub["pcgdp1940"]))).fit()
    row = res[(res["kind"] == "beta") & (res["group"] == g)].iloc[0]
    assert row["beta"] == pytest.approx(fit_g.params.iloc[1], rel=1e-12)
    # years stay whole numbers (sigma rows fill year, beta rows first_year/last_year; a float
    # column would write 1940.0 to convergence.csv)
    for col in ("year", "first_year", "last_year"):
        assert pd.api.types.is_integer_dtype(res[col]), col
    assert beta["first_year"] == 1940 and beta["last_year"] == 2000
    # sigma: sample sd and cv by year
    sig = res[(res["kind"] == "sigma") & (res["level"] == "national")]
    np.testing.assert_allclose(sig["sd"], wide[[f"pcgdp{d}" for d in DECADES]].std(ddof=1).to_numpy())


def test_beta_convergence_function_recovers_simulated_beta():
    rng = np.random.default_rng(0)
    x0 = rng.lognormal(0, 0.5, 400)
    g = 0.05 - 0.02 * np.log(x0) + rng.normal(0, 0.001, 400)
    r = beta_convergence(x0, x0 * np.exp(10 * g), 10)
    assert r["beta"] == pytest.approx(-0.02, abs=3e-4) and r["converges"]


def test_spatial_lag_equals_spreg(mexico):
    from spreg import ML_Lag

    _, long, _ = mexico
    layer, cols = mexico_layer(crs=None)
    shp = mexico_long(layer, cols, value_name="x")
    ids = sorted(layer.index)
    graph, _ = contiguity_graph(layer, ids)
    res = convergence(shp, "x", graph=graph, spatial_lag=True).table
    ml = res[res["model"] == "ml_lag"].iloc[0]
    w = graph.transform("r").to_W()
    assert list(w.id_order) == ids
    x0 = layer.loc[ids, "PCGDP1940"].to_numpy(float)
    xT = layer.loc[ids, "PCGDP2000"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", module="spreg")
        ref = ML_Lag((np.log(xT / x0) / 60).reshape(-1, 1), np.log(x0).reshape(-1, 1), w)
    assert ml["beta"] == pytest.approx(float(ref.betas[1][0]), rel=1e-8)
    assert ml["rho"] == pytest.approx(float(ref.rho), rel=1e-8)


def test_convergence_refuses_non_positive(mexico):
    _, long, groups = mexico
    bad = long.copy()
    bad.loc[(bad["region"] == "Sonora") & (bad["year"] == 2000), "pcgdp"] = 0.0
    with pytest.raises(InputError, match=r"'pcgdp'.*'Sonora'.*2000"):
        convergence(bad, "pcgdp", groups)
    with pytest.raises(InputError, match="spatial_lag"):
        convergence(long, "pcgdp", spatial_lag=True)


def _minmax_index(long):
    """Mexico's pcgdp min-max normalized over the pooled panel: an index in [0, 1] with an exact 0 and 1."""
    idx = long.copy()
    lo, hi = idx["pcgdp"].min(), idx["pcgdp"].max()
    idx["pcgdp"] = (idx["pcgdp"] - lo) / (hi - lo)
    return idx


def test_index_shift_maps_the_index_before_the_logarithms(mexico):
    import statsmodels.api as sm

    wide, long, groups = mexico
    idx = _minmax_index(long)
    assert (idx["pcgdp"] == 0).any()
    with pytest.raises(InputError, match="'pcgdp'"):  # as stored, the 0 refuses the logarithm
        convergence(idx, "pcgdp", groups)
    s = 0.002
    res = convergence(idx, "pcgdp", groups, index_shift=s).table
    beta = res[(res["kind"] == "beta") & (res["level"] == "national")].iloc[0]
    w = idx.pivot(index="region", columns="year", values="pcgdp").sort_index()
    x0, xT = s + (1 - 2 * s) * w[1940].to_numpy(), s + (1 - 2 * s) * w[2000].to_numpy()
    assert x0.min() == pytest.approx(s) and max(x0.max(), xT.max()) == pytest.approx(1 - s)
    fit = sm.OLS(np.log(xT / x0) / 60, sm.add_constant(np.log(x0))).fit()
    assert beta["beta"] == pytest.approx(fit.params[1], rel=1e-12)
    assert beta["se"] == pytest.approx(fit.bse[1], rel=1e-12)
    # every beta row says how the index was mapped; sigma rows keep the values as stored
    b = res[res["kind"] == "beta"]
    assert b["note"].str.contains(r"mapped into \[0.002, 0.998\]").all()
    sig = res[(res["kind"] == "sigma") & (res["level"] == "national")]
    np.testing.assert_allclose(sig["sd"], w.std(ddof=1).to_numpy(), rtol=1e-12)
    assert sig["note"].isna().all()
    # a shift of 0 is the identity: positive data give the rows of values as stored
    plain = convergence(long, "pcgdp", groups).table
    pd.testing.assert_frame_equal(convergence(long, "pcgdp", groups, index_shift=0.0).table, plain)


def test_index_shift_is_checked(mexico):
    _, long, groups = mexico
    with pytest.raises(InputError, match=r"index in \[0, 1\].*'pcgdp'"):
        convergence(long, "pcgdp", groups, index_shift=0.002)  # raw GDP is not an index
    for bad in (-0.1, 0.5, "0.002", True):
        with pytest.raises(InputError, match="index_shift"):
            convergence(_minmax_index(long), "pcgdp", groups, index_shift=bad)


# ---------------------------------------------------------------- obstacles


def _obstacle_inputs(seed=0):
    rng = np.random.default_rng(seed)
    regions, years = [f"R{i}" for i in range(6)], [2020, 2021, 2022]
    norm = pd.DataFrame([{"region": r, "year": y} for r in regions for y in years])
    names = ["a1", "a2", "a3", "b1", "b2"]
    for c in names:
        norm[c] = rng.uniform(0, 1, len(norm))
    weights = pd.DataFrame(
        {
            "subsystem": ["A", "A", "A", "B", "B"],
            "dimension": ["econ", "econ", "tech", "d", "d"],
            "indicator": names,
            "direction": [1, 1, -1, 1, 1],
            "weight": [0.5, 0.3, 0.2, 0.6, 0.4],
            "method": "critic",
        }
    )
    return norm, weights


def test_obstacles_sum_to_100_and_match_formula():
    norm, weights = _obstacle_inputs()
    res = obstacle_degree(norm, weights)
    t = res.table
    sums = t.groupby(["region", "year", "subsystem", "level"])["obstacle"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 100.0, atol=1e-10)
    # hand formula for one cell
    r = norm.iloc[4]
    w = weights.set_index("indicator")["weight"]
    dev = {c: w[c] * (1 - r[c]) for c in ["a1", "a2", "a3"]}
    tot = sum(dev.values())
    row = t[(t["region"] == r["region"]) & (t["year"] == r["year"]) & (t["name"] == "a3")].iloc[0]
    assert row["obstacle"] == pytest.approx(100 * dev["a3"] / tot)
    econ = t[(t["region"] == r["region"]) & (t["year"] == r["year"]) & (t["name"] == "econ")].iloc[0]
    assert econ["obstacle"] == pytest.approx(100 * (dev["a1"] + dev["a2"]) / tot)
    # rank 1 is the largest obstacle
    cell = t[(t["region"] == "R0") & (t["year"] == 2020) & (t["subsystem"] == "A") & (t["level"] == "indicator")]
    assert cell.sort_values("rank")["obstacle"].is_monotonic_decreasing
    assert "obstacle" in res.summary().as_text()


def test_obstacles_no_deviation_and_missing_indicator():
    norm, weights = _obstacle_inputs()
    norm.loc[0, ["b1", "b2"]] = 1.0
    res = obstacle_degree(norm, weights)
    cell = res.table[(res.table["region"] == "R0") & (res.table["year"] == 2020) & (res.table["subsystem"] == "B")]
    assert cell["obstacle"].isna().all() and any("no deviation" in n for n in res.notes)
    with pytest.raises(InputError, match="b2"):
        obstacle_degree(norm.drop(columns="b2"), weights)
