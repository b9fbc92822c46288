"""The spatial Haken stage's check for common year shocks (issue 15: inference that survives common shocks):
the F test equals statsmodels' nested-model F test, rejects on panels with year shocks and keeps its size
without them; the stage notes it when the models have no year effects."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import statsmodels.api as sm
from libpysal.graph import Graph

from nqpspatial.plugins.spatial_haken.simulate import simulate_panel
from nqpspatial.plugins.spatial_haken.stage import common_shock_test

SLX = {
    "q1": {"q1": 0.9, "q1q2": -0.15, "theta_q1": 0.05, "theta_q1q2": 0.02},
    "q2": {"q2": 0.4, "q1sq": 0.8, "theta_q2": 0.1, "theta_q1sq": 0.2},
}


@pytest.fixture(scope="module")
def graph():
    polys = [shapely.box(i, j, i + 1, j + 1) for j in range(6) for i in range(5)]
    polys.append(shapely.box(5, 0, 6, 1))
    return Graph.build_contiguity(gpd.GeoSeries(polys), rook=True)


def _panel(graph, seed, shocks):
    taus = None
    if shocks:
        rng = np.random.default_rng(1000 + seed)
        taus = {"q1": rng.normal(0, 0.01, 19), "q2": rng.normal(0, 0.01, 19)}
    return simulate_panel("slx", graph, SLX, periods=20, sigma=0.01, seed=seed, year_effects=taus)


def test_f_equals_statsmodels_nested_f_test(graph):
    df = _panel(graph, 3, shocks=True)
    tab = common_shock_test(df, "q1", "q2").set_index("equation")
    d = df.sort_values(["region", "year"]).assign(
        n1=lambda x: x.groupby("region")["q1"].shift(-1), n2=lambda x: x.groupby("region")["q2"].shift(-1)
    )
    d = d.dropna(subset=["n1", "n2"])
    years = pd.get_dummies(d["year"], drop_first=True, dtype=float).to_numpy()
    for name, y, X in (
        ("q1", d["n1"], np.column_stack([d["q1"], d["q1"] * d["q2"]])),
        ("q2", d["n2"], np.column_stack([d["q2"], d["q1"] ** 2])),
    ):
        small = sm.OLS(y.to_numpy(), sm.add_constant(X)).fit()
        big = sm.OLS(y.to_numpy(), np.column_stack([sm.add_constant(X), years])).fit()
        F, p, df1 = big.compare_f_test(small)
        assert tab.loc[name, "statistic"] == pytest.approx(F, rel=1e-9)
        assert tab.loc[name, "p"] == pytest.approx(p, rel=1e-7, abs=1e-300)
        assert tab.loc[name, "df1"] == df1 and tab.loc[name, "df2"] == big.df_resid


def test_rejects_with_common_shocks_and_keeps_its_size_without(graph):
    g = graph.transform("r")
    shocked = [common_shock_test(_panel(graph, s, True), "q1", "q2", graph=g)["p"].min() for s in range(10)]
    plain = [common_shock_test(_panel(graph, s, False), "q1", "q2", graph=g)["p"] for s in range(40)]
    assert np.mean(np.array(shocked) < 0.05) >= 0.9
    # the SLX design is the true one here: 80 tests at 5 %, about 4 rejections expected
    assert sum(int((p < 0.05).sum()) for p in plain) <= 10


def test_region_effects_variant_runs_and_rejects(graph):
    tab = common_shock_test(_panel(graph, 2, True), "q1", "q2", effects="region")
    assert (tab["p"] < 0.05).all() and (tab["df1"] == 18).all()
