"""Wild-year bootstrap of SLX-Haken (``[spatial_haken] bootstrap_scheme = "wild-year"``, issue 15).

References: the recursive resample with every multiplier equal to 1 reproduces the observed panel (so the
spatial lags of the simulated states are those of the data); the bootstrap's point estimates equal the
SLX fit's; the aspatial bootstrap (no W) is unchanged by the extension (tests/test_haken_inference.py).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from libpysal.graph import Graph

from nqpspatial.errors import ConfigError
from nqpspatial.haken.wild import _dgp, _payload, _simulate
from nqpspatial.plugins.spatial_haken import SpatialHakenModel, simulate_panel
from nqpspatial.plugins.spatial_haken.stage import SpatialHakenStage, stage
from nqpspatial.plugins.spatial_haken.wild import BOOTSTRAP_COLUMNS, _design, _slx_slopes, slx_wild_year
from nqpspatial.testing import make_context

SLX = {
    "q1": {"q1": 1.0, "q1q2": -0.25, "theta_q1": 0.1, "theta_q1q2": 0.05},
    "q2": {"q2": 0.4, "q1sq": 0.8, "theta_q2": 0.1, "theta_q1sq": 0.2},
}


@pytest.fixture(scope="module")
def graph():
    polys = [shapely.box(i, j, i + 1, j + 1) for j in range(6) for i in range(5)]
    polys.append(shapely.box(5, 0, 6, 1))
    return Graph.build_contiguity(gpd.GeoSeries(polys), rook=True)


def _fit(graph, effects="none"):
    df = simulate_panel("slx", graph, SLX, periods=10, sigma=0.01, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SpatialHakenModel(df, "q1", "q2", graph, model="slx", effects=effects).fit(draws=20, seed=0)


@pytest.mark.parametrize("effects", ["none", "region", "year"])
def test_unit_multipliers_reproduce_the_panel(graph, effects):
    res = _fit(graph, effects)
    design, W = _design(res)
    coefs = _slx_slopes(design)
    p = _payload(design, coefs, False, None, W=W)
    dg = [_dgp(eq, eq["coef"], True) for eq in p["eqs"]]
    S1, S2, Y1, Y2 = _simulate(p, dg[0], dg[1], np.ones((1, p["T"])))
    np.testing.assert_allclose(Y1[0], design.y1, atol=1e-12)
    np.testing.assert_allclose(Y2[0], design.y2, atol=1e-12)
    np.testing.assert_allclose(S1[0], design.Z1["lag"], atol=1e-12)
    # the spatial columns are W applied to each period's states (region order of the design)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    assert list(design.Z1.columns[:4]) == ["lag", "inter", "wlag", "winter"]
    assert design._lsdv == [None, None]  # no dummy columns


def test_bootstrap_estimates_equal_the_slx_fit_and_are_reproducible(graph):
    res = _fit(graph)
    a = slx_wild_year(res, 99, seed=7)
    b = slx_wild_year(res, 99, seed=7)
    assert list(a.table.columns) == BOOTSTRAP_COLUMNS
    assert a.table.equals(b.table)
    t = a.table.set_index("term")
    p1, p2 = res.params("q1"), res.params("q2")
    assert t.at["gamma1", "estimate"] == pytest.approx(1 - p1["q1"], abs=1e-10)
    assert t.at["b", "estimate"] == pytest.approx(p2["q1sq"], abs=1e-10)
    assert t.at["theta_q1q2", "estimate"] == pytest.approx(p1["theta_q1q2"], abs=1e-10)
    assert (t["ci_low"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_high"]).all()
    assert t.loc[["gamma1", "a", "gamma2", "b"], "p"].between(0, 1).all()
    assert a.boot.weights == "webb" and "wild-year" in a.method


def test_stage_bootstrap_table_and_refusals():
    ctx = make_context(side=4, periods=8)
    cfg = {
        **SpatialHakenStage.config_keys,
        "models": ["slx"],
        "effects_draws": 20,
        "order": ["A", "B"],
        "bootstrap_scheme": "wild-year",
        "bootstrap": 49,
        "model_selection": False,
    }
    out = stage.run(ctx, cfg)
    tab = out.tables["spatial_haken_bootstrap"]
    assert list(tab.columns) == ["model", "weights", "q1", "q2"] + BOOTSTRAP_COLUMNS
    assert out.info["bootstrap_scheme"] == "wild-year"
    spec = SpatialHakenStage.spec
    with pytest.raises(ConfigError, match="covers SLX"):
        spec.coerce({**cfg, "models": ["slx", "sar"]}, ctx)


@pytest.mark.parametrize("effects", ["none", "year", "region", "two-way"])
def test_grouped_sums_path_equals_the_previous_implementation(graph, effects):
    """Issue 19: the SLX bootstrap on the grouped-sums path (none, year, region) and the generic one (two-way) gives the
    numbers of the frozen pre-issue-19 implementation (tests/_wild_reference.py) to rounding: 1e-11 here, as the
    four collinear SLX regressors leave the reference's batched products about 1e-12 from exact arithmetic (see
    tests/test_haken_wild_fast.py for the comparison with exact arithmetic).  The reference bootstrap reads the
    dummy-column SLX design of tests/_wild_lsdv_reference.py."""
    import _wild_lsdv_reference as lsdv
    import _wild_reference as ref

    from nqpspatial.haken import wild

    res = _fit(graph, effects)
    design, W = _design(res)
    p = _payload(design, _slx_slopes(design), False, None, W=W)
    assert (wild._grouped_plan(p) is None) == (effects == "two-way")
    new = slx_wild_year(res, 40, seed=2).table
    old = lsdv.slx_wild_year(res, 40, seed=2, bootstrap=ref.wild_year_bootstrap).table
    assert new[["term", "weights_kind", "n_distinct", "ci_method"]].equals(
        old[["term", "weights_kind", "n_distinct", "ci_method"]]
    )
    num = ["estimate", "ci_low", "ci_high", "std_err", "p", "verdict_share"]
    coef = new["term"] != "ratio"
    np.testing.assert_allclose(
        new.loc[coef, num].to_numpy(float), old.loc[coef, num].to_numpy(float), rtol=1e-11, atol=1e-11
    )
    # the ratio with a true gamma1 of 0 (SLX["q1"]["q1"] = 1): its draws amplify rounding by 1/|gamma1|
    np.testing.assert_allclose(new.loc[~coef, num].to_numpy(float), old.loc[~coef, num].to_numpy(float), rtol=1e-8)
