"""The geographical detector against the geodetector package, mapclassify and brute-force formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.plugins.toolkit.detector import (
    discretize,
    ecological_detector,
    factor_detector,
    fisher_jenks_breaks,
    geodetector_panel,
    geographical_detector,
    interaction_detector,
    interaction_type,
    optimal_discretization,
    plot_interactions,
    risk_detector,
)

geodetector = pytest.importorskip("geodetector")
mapclassify = pytest.importorskip("mapclassify")
from geodetector import EcologicalDetector, InteractionDetector, RiskDetector  # noqa: E402
from geodetector._stats import q_significance_test, q_statistic  # noqa: E402


def _brute_q(y, s):
    """q = 1 - sum_h N_h var_h / (N var), loops over strata (population variances)."""
    y = np.asarray(y, float)
    ssw = sum(len(y[s == h]) * np.var(y[s == h]) for h in np.unique(s))
    return 1 - ssw / (len(y) * np.var(y))


@pytest.fixture(scope="module")
def demo():
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    idx = compute_weights(d["panel"], ind).indices
    return d["panel"].merge(idx, on=["region", "year"]), ind["indicator"].tolist()


def _samples(demo):
    panel, inds = demo
    for y in (2014, 2023):  # demo cross-sections: target NQP, drivers = quantile strata of two NTU indicators
        g = panel[panel.year == y]
        yield (
            f"demo {y}",
            g["NQP"].to_numpy(),
            discretize(g[inds[-1]], "quantile", 3)[0],
            discretize(g[inds[-2]], "quantile", 3)[0],
        )
    rng = np.random.default_rng(4)
    n = 400
    x1, x2 = rng.integers(0, 5, n), rng.integers(0, 4, n)
    yield "random", rng.normal(size=n) + 0.4 * x1 + 0.2 * x2 * (x1 > 2), x1, x2


def test_q_and_p_equal_geodetector(demo):
    for label, y, s1, s2 in _samples(demo):
        for s in (s1, s2):
            fd = factor_detector(y, s)
            assert abs(fd["q"] - q_statistic(y, s)) < 1e-12, label
            assert abs(fd["q"] - _brute_q(y, s)) < 1e-12, label
            assert abs(fd["p"] - q_significance_test(y, s)) < 1e-9, label
            # F statistic by definition
            N, L = len(y), len(np.unique(s))
            assert fd["F"] == pytest.approx((N - L) / (L - 1) * fd["q"] / (1 - fd["q"]), rel=1e-12)


def test_interaction_risk_ecological_equal_geodetector(demo):
    for label, y, s1, s2 in _samples(demo):
        X = pd.DataFrame({"a": s1, "b": s2})
        ours = interaction_detector(y, s1, s2)
        if ours["singleton_cells"] == 0:  # the package drops single-observation cells
            ref = InteractionDetector().fit(X, y).pairs_[0]
            assert abs(ours["q12"] - ref["q_12"]) < 1e-12, label
            assert ours["type"] == ref["interaction_type"], label
        assert abs(ours["q12"] - _brute_q(y, s1 * 10 + s2)) < 1e-12, label
        st, pairs = risk_detector(y, s1)
        ref = RiskDetector().fit(X, y).risk_result_["a"]
        np.testing.assert_allclose(pairs["t"], ref["t_stat"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(pairs["p"], ref["p_value"], rtol=0, atol=1e-9)
        for r in pairs.itertuples():  # means are the stratum means
            assert r.mean_1 == pytest.approx(y[s1 == r.stratum_1].mean(), rel=1e-12)
        ec = ecological_detector(y, s1, s2)
        ref = EcologicalDetector().fit(X, y).eco_result_.iloc[0]
        assert abs(ec["F"] - ref["f_stat"]) < 1e-9 and abs(ec["p_two_sided"] - ref["p_value"]) < 1e-9, label
        assert ec["F"] == pytest.approx((1 - _brute_q(y, s1)) / (1 - _brute_q(y, s2)), rel=1e-12)


def test_interaction_types():
    assert interaction_type(0.3, 0.4, 0.2) == 0
    assert interaction_type(0.3, 0.4, 0.35) == 1
    assert interaction_type(0.3, 0.4, 0.5) == 2
    assert interaction_type(0.3, 0.4, 0.7) == 3
    assert interaction_type(0.3, 0.4, 0.8) == 4
    # an overlay with single-observation cells is kept (within variance 0) and counted
    y = np.array([1.0, 2, 3, 4, 5, 6])
    it = interaction_detector(y, [0, 0, 0, 1, 1, 1], [0, 1, 1, 0, 0, 1])
    assert it["singleton_cells"] == 2 and it["cells"] == 4


def test_discretizations_equal_mapclassify():
    rng = np.random.default_rng(9)
    for n in (31, 200, 1000):
        x = rng.gamma(2.0, size=n)
        for k in (3, 5, 8):
            codes, bounds = discretize(x, "equal", k)
            np.testing.assert_allclose(bounds[1:-1], mapclassify.EqualInterval(x, k=k).bins[:-1], rtol=1e-12)
            codes, bounds = discretize(x, "quantile", k)
            np.testing.assert_allclose(bounds[1:-1], mapclassify.Quantiles(x, k=k).bins[:-1], rtol=1e-12)
            np.testing.assert_array_equal(codes, mapclassify.Quantiles(x, k=k).yb)
            fj = mapclassify.FisherJenks(x, k=k)
            np.testing.assert_array_equal(fisher_jenks_breaks(x, k), fj.bins[:-1])
            np.testing.assert_array_equal(discretize(x, "natural", k)[0], fj.yb)
            codes, bounds = discretize(x, "geometric", k)  # equal steps of log(x)
            np.testing.assert_allclose(np.diff(np.log(bounds)), np.log(x.max() / x.min()) / k, rtol=1e-9)
    codes, bounds = discretize(np.array([-2.0, -1, 0, 3, 8]), "geometric", 3)  # shifted: log(x + 3)
    np.testing.assert_allclose(np.diff(np.log(bounds + 3)), np.log(11 / 1) / 3, rtol=1e-12)


def test_jenks_is_optimal_by_exhaustion():
    rng = np.random.default_rng(2)
    x = np.sort(rng.normal(size=14))
    for k in (2, 3, 4):
        best = min(
            (sum(((x[a:b] - x[a:b].mean()) ** 2).sum() for a, b in zip((0,) + c, c + (14,))), c)
            for c in itertools.combinations(range(1, 14), k - 1)
        )
        ours = fisher_jenks_breaks(x, k)
        assert np.array_equal(ours, x[np.array(best[1]) - 1])


def test_optimal_parameters_pick_the_largest_admissible_q():
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=60)
    y = np.log(x) + rng.normal(0, 0.3, 60)
    best, grid = optimal_discretization(y, x, strata=range(3, 7))
    adm = grid[grid["admissible"]]
    assert best["q"] == adm["q"].max() and grid["chosen"].sum() == 1
    assert grid.loc[grid["chosen"], "method"].iloc[0] == best["method"]
    # q of the chosen cut, recomputed
    assert _brute_q(y, best["codes"]) == pytest.approx(best["q"], abs=1e-12)


def test_singleton_strata_are_refused_with_the_fix():
    x = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 10.0])
    y = np.arange(6.0)
    codes, _ = discretize(x, "equal", 3)
    with pytest.raises(InputError, match="single observation.*fewer strata"):
        factor_detector(y, codes, name="x")
    df = pd.DataFrame({"y": y, "x": x})
    with pytest.raises(InputError, match="'x'"):
        geographical_detector(df, "y", ["x"], discretization="equal", strata=3)
    res = geographical_detector(df.assign(z=[1.0, 2, 1, 2, 1, 2]), "y", ["x", "z"], strata_range=(2, 3))
    assert res.factors["strata"].min() >= 2  # the optimal search skips singleton cuts


def test_panel_by_year_and_pooled(demo, tmp_path):
    panel, inds = demo
    drivers = inds[:3] + inds[-3:]
    res = geodetector_panel(panel, "NQP", drivers, years=[2014, 2023])
    f = res.factors
    assert set(f["year"]) == {2014, 2023} and len(f) == 12 and (f["scope"] == "year").all()
    assert len(res.interactions) == 2 * 15 and len(res.ecological) == 2 * 15
    # each year's q equals the detector on that year's cross-section alone
    one = geographical_detector(panel[panel.year == 2023], "NQP", drivers)
    np.testing.assert_allclose(f[f.year == 2023]["q"].to_numpy(), one.factors["q"].to_numpy(), rtol=0, atol=0)
    pooled = geodetector_panel(panel, "NQP", drivers, by="pooled", discretization="quantile", strata=4)
    assert (pooled.factors["scope"] == "pooled").all() and pooled.factors["n"].iloc[0] == len(panel)
    st = pooled.strata
    assert (st.groupby("factor")["n"].sum() == len(panel)).all()
    assert "Geographical detector" in res.summary().as_text()
    fig = plot_interactions(res, year=2023)
    fig.savefig(tmp_path / "i.png")
    assert (tmp_path / "i.png").stat().st_size > 1000


def test_mexico_states():
    """Mexico: per-capita GDP explained by its 1940 level (natural breaks) and the Hanson region."""
    from _mexico import mexico_layer

    g, cols = mexico_layer()
    df = g.reset_index()
    res = geographical_detector(
        df, "PCGDP2000", ["PCGDP1940", "HANSON98"], categorical=["HANSON98"], discretization="natural", strata=4
    )
    f = res.factors.set_index("factor")
    assert f.loc["HANSON98", "method"] == "categorical" and 0 < f.loc["PCGDP1940", "q"] < 1
    s = discretize(df["PCGDP1940"], "natural", 4)[0]
    assert f.loc["PCGDP1940", "q"] == pytest.approx(q_statistic(df["PCGDP2000"].to_numpy(float), s), abs=1e-12)
