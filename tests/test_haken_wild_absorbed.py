"""The wild-year bootstrap on the absorbed design equals the dummy-column one (issue 19).

``tests/_wild_lsdv_reference.py`` keeps the bootstrap's previous data-generating process: the payload read the
dummy-column (LSDV) design ``_Design.X1``/``X2`` (one column per region), fitted the restricted equations by
``lstsq`` on all its columns and formed the per-row offsets ``X[:, k:] @ coef[k:]``; the SLX bootstrap built the
same design with the spatial lags.  The new code uses the slope columns and the absorbed fixed effects
(``haken.within``).  With the same seed both draw the same multipliers; the offsets of the unrestricted process
are the same numbers bit for bit, the residuals and the restricted slopes agree to 1e-15 (another summation
order), so the coefficient draws, intervals and standard errors agree to 1e-12, the ratio ``|gamma2|/|gamma1|``
(whose draws amplify rounding by ``1/|gamma1|``, up to 5,000 here) to 1e-10 relative, and the p-values, the
verdict share and the counts exactly.
"""

from __future__ import annotations

import warnings

import _wild_lsdv_reference as ref
import numpy as np
import pandas as pd
import pytest

from _wild_compare import assert_same_bootstrap
from nqpspatial.haken import HakenModel, simulate_panel, wild
from nqpspatial.haken.model import _Design

TOL = {"rtol": 1e-12, "atol": 1e-12}
RATIO_TOL = {"rtol": 1e-10, "atol": 1e-12}
TERMS = {"gamma1", "a", "gamma2", "b", "k1", "k2"}


def _panel(unbalanced=False, n_periods=9):
    panel = simulate_panel(
        -0.1, 0.35, 0.6, 0.35, n_regions=31, n_periods=n_periods, q1_start=(0.3, 0.6), year_shock_sd=0.01, seed=5
    )
    if unbalanced:
        first, last = panel["region"].iloc[0], panel["region"].iloc[-1]
        drop = (panel["region"] == first) & (panel["year"] < panel["year"].min() + 3)
        drop |= (panel["region"] == last) & (panel["year"] > panel["year"].max() - 2)
        panel = panel[~drop].reset_index(drop=True)
    return panel


def _fit(model, B, seed, **fit_kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short-panel warning of region effects
        return model.fit(bootstrap=B, seed=seed, bootstrap_scheme="wild-year", **fit_kw)


def _both(model, B, seed, monkeypatch, **fit_kw):
    new = _fit(model, B, seed, **fit_kw).bootstrap
    with monkeypatch.context() as m:
        m.setattr(wild, "wild_year_bootstrap", ref.wild_year_bootstrap)
        old = _fit(model, B, seed, **fit_kw).bootstrap
    return new, old


def _assert_same(a, b, coef_tol=1e-12):
    assert_same_bootstrap(a, b, coef_tol, RATIO_TOL)


CASES = [
    ({}, {}),
    ({"intercept": True}, {}),
    ({"effects": "year"}, {}),
    ({"effects": "region"}, {}),
    ({"effects": "two-way"}, {}),
    ({"effects": "region"}, {"correction": "jackknife"}),
    ({"effects": "region"}, {"correction": "analytic"}),
    ({"effects": "two-way"}, {"correction": "jackknife"}),
    ({"effects": "two-way"}, {"correction": "analytic"}),
]
IDS = ["none", "intercept", "year", "region", "two-way", "region-jk", "region-an", "two-way-jk", "two-way-an"]


@pytest.mark.parametrize(("model_kw", "fit_kw"), CASES, ids=IDS)
def test_bootstrap_equals_the_dummy_column_reference(model_kw, fit_kw, monkeypatch):
    model = HakenModel(_panel(), "q1", "q2", **model_kw)
    new, old = _both(model, 80, 3, monkeypatch, **fit_kw)
    assert new.weights == "webb"
    _assert_same(new, old)
    assert (new.pvalues < 1).any()  # the restricted resamples are informative: a test that can fail


@pytest.mark.parametrize("effects", ["none", "year", "region", "two-way"])
def test_bootstrap_equals_the_reference_on_an_unbalanced_panel_with_rademacher_weights(effects, monkeypatch):
    model = HakenModel(_panel(unbalanced=True, n_periods=14), "q1", "q2", effects=effects)
    new, old = _both(model, 60, 4, monkeypatch)
    assert new.weights == "rademacher"
    _assert_same(new, old)


def _captured(model, monkeypatch, **fit_kw):
    """The design and coefficients a fit hands to the bootstrap."""
    seen = {}
    orig = wild.wild_year_bootstrap

    def capture(design, coefs, B, **kw):
        seen["design"], seen["coefs"] = design, coefs
        return orig(design, coefs, B, **kw)

    with monkeypatch.context() as m:
        m.setattr(wild, "wild_year_bootstrap", capture)
        _fit(model, 3, 0, **fit_kw)
    return seen["design"], seen["coefs"]


@pytest.mark.parametrize(("model_kw", "fit_kw"), CASES, ids=IDS)
def test_data_generating_processes_equal_the_reference(model_kw, fit_kw, monkeypatch):
    """Offsets, residuals and restricted slopes of every resample set: the unrestricted offsets are the dummy-column
    product's numbers exactly, the rest agree to 1e-14."""
    model = HakenModel(_panel(unbalanced=True), "q1", "q2", **model_kw)
    design, coefs = _captured(model, monkeypatch, **fit_kw)
    corr = fit_kw.get("correction")
    args = (design, coefs, corr == "jackknife", 2 if corr == "analytic" else None)
    new, old = wild._payload(*args), ref._payload(*args)
    for p in (new, old):
        p["null_terms"] = TERMS
    new, old = wild._prepare_dgps(new), ref._prepare_dgps(old)
    for n_dgp, o_dgp in zip(new["dgp_free"], old["dgp_free"]):
        assert n_dgp[:2] == o_dgp[:2]
        np.testing.assert_array_equal(n_dgp[2], o_dgp[2])
        np.testing.assert_allclose(n_dgp[3], o_dgp[3], rtol=0, atol=1e-15)
    assert new["dgp_restricted"].keys() == old["dgp_restricted"].keys()
    assert len(new["dgp_restricted"]) == 2 * len(design.slope_cols())
    k = len(design.slope_cols())
    for key, (n_dgp, n_coef) in new["dgp_restricted"].items():
        o_dgp, o_coef = old["dgp_restricted"][key]
        np.testing.assert_allclose(n_coef, o_coef[:k], rtol=0, atol=1e-14)
        for i in (2, 3):
            np.testing.assert_allclose(n_dgp[i], o_dgp[i], rtol=0, atol=1e-14)
    # the residuals are the within residuals of the (bias-corrected) slopes
    for e, (y, Z) in enumerate((design.equation(0), design.equation(1))):
        cols = design.slope_cols()
        want = design.absorbed.residualize(y - Z[cols].to_numpy(float) @ coefs[e][cols].to_numpy(float))
        np.testing.assert_allclose(new["dgp_free"][e][3], want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("effects", ["region", "two-way"])
def test_bootstrap_builds_no_dummy_columns(effects, monkeypatch):
    """The wild-year bootstrap of a fit with region effects reads the slope columns and the absorbed effects only:
    reading the dummy-column design raises."""

    def refuse(self):
        raise AssertionError("the dummy-column design was read")

    monkeypatch.setattr(_Design, "X1", property(refuse))
    monkeypatch.setattr(_Design, "X2", property(refuse))
    model = HakenModel(_panel(), "q1", "q2", effects=effects)
    design, _ = _captured(model, monkeypatch, correction="analytic")
    assert design._lsdv == [None, None]
    res = _fit(model, 20, 1)
    assert res._design._lsdv == [None, None] and res.bootstrap.B == 20
    with pytest.raises(AssertionError, match="dummy-column design"):
        design.X1  # noqa: B018  (the patch is active: the test above would have caught a read)


# --------------------------------------------------------------------------- SLX
@pytest.fixture(scope="module")
def graph():
    import geopandas as gpd
    import shapely
    from libpysal.graph import Graph

    polys = [shapely.box(i, j, i + 1, j + 1) for j in range(6) for i in range(5)]
    polys.append(shapely.box(5, 0, 6, 1))
    return Graph.build_contiguity(gpd.GeoSeries(polys), rook=True)


SLX = {
    "q1": {"q1": 0.9, "q1q2": -0.25, "theta_q1": 0.1, "theta_q1q2": 0.05},
    "q2": {"q2": 0.4, "q1sq": 0.8, "theta_q2": 0.1, "theta_q1sq": 0.2},
}


def _slx(graph, effects, intercept=False):
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel
    from nqpspatial.plugins.spatial_haken import simulate_panel as slx_panel

    df = slx_panel("slx", graph, SLX, periods=10, sigma=0.01, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SpatialHakenModel(df, "q1", "q2", graph, model="slx", effects=effects, intercept=intercept)
        return model.fit(draws=20, seed=0)


@pytest.mark.parametrize(
    ("effects", "intercept"),
    [("none", False), ("none", True), ("year", False), ("region", False), ("two-way", False)],
    ids=["none", "intercept", "year", "region", "two-way"],
)
def test_slx_bootstrap_equals_the_dummy_column_reference(graph, effects, intercept, monkeypatch):
    from nqpspatial.plugins.spatial_haken import wild as slx_wild

    res = _slx(graph, effects, intercept)
    design, W = slx_wild._design(res)
    old_design, _ = ref._design(res)
    assert design._lsdv == [None, None]
    new_c = slx_wild._slx_slopes(design)
    old_c = [
        pd.Series(np.linalg.lstsq(X.to_numpy(float), y, rcond=None)[0], index=X.columns)
        for X, y in ((old_design.X1, old_design.y1), (old_design.X2, old_design.y2))
    ]
    for n_c, o_c in zip(new_c, old_c):
        np.testing.assert_allclose(n_c.to_numpy(), o_c[n_c.index].to_numpy(), rtol=0, atol=1e-12)
    new = slx_wild.slx_wild_year(res, 60, seed=2)
    old_boot = ref.wild_year_bootstrap(old_design, old_c, 60, seed=2, W=W)
    assert new.boot.weights == "webb"
    _assert_same(new.boot, old_boot, coef_tol=1e-11)
    if not intercept:  # the previous table had no row for k1, k2 (a KeyError with an intercept)
        old = ref.slx_wild_year(res, 60, seed=2)
        assert new.table[["term", "weights_kind", "n_distinct", "ci_method"]].equals(
            old.table[["term", "weights_kind", "n_distinct", "ci_method"]]
        )
        num = ["estimate", "ci_low", "ci_high", "std_err"]
        np.testing.assert_allclose(new.table[num].to_numpy(float), old.table[num].to_numpy(float), rtol=1e-10)
        np.testing.assert_array_equal(new.table["p"].to_numpy(), old.table["p"].to_numpy())
    else:
        t = new.table.set_index("term")
        assert t.at["k1", "estimate"] == pytest.approx(new_c[0]["const"], abs=0)
        assert t.at["k2", "p"] == new.boot.pvalues["k2"]
    assert (new.table["p"] < 1).any()


def test_slx_bootstrap_builds_no_dummy_columns(graph, monkeypatch):
    from nqpspatial.plugins.spatial_haken import wild as slx_wild

    def refuse(self):
        raise AssertionError("the dummy-column design was read")

    res = _slx(graph, "region")
    monkeypatch.setattr(_Design, "X1", property(refuse))
    monkeypatch.setattr(_Design, "X2", property(refuse))
    out = slx_wild.slx_wild_year(res, 20, seed=1)
    t = out.table.set_index("term")
    assert len(t) == 9 and t["p"].drop(index="ratio").notna().all()


@pytest.mark.parametrize("effects", ["none", "year", "region", "two-way"])
def test_absorbed_fitted_is_the_dummy_product(effects):
    """``Absorbed.fitted(r)``: the dummy columns times the effect coefficients (:meth:`Absorbed.values`), built here
    densely; ``r`` minus it is the within residual."""
    from nqpspatial.haken.model import prepare_panel

    design = _Design(prepare_panel(_panel(unbalanced=True), "q1", "q2"), False, effects)
    ab = design.absorbed
    r = np.random.default_rng(1).normal(size=design.nobs) + np.arange(design.nobs) % 7
    D = np.zeros((design.nobs, len(ab.names)))
    n_r = len(ab.region_names)
    if ab.region_fe:
        D[np.arange(design.nobs), design.codes] = 1.0
    for j, name in enumerate(ab.year_names):
        D[:, n_r + j] = design.year == int(name[5:-1])
    want = D @ ab.values(r).to_numpy()
    got = ab.fitted(r)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(r - got, ab.residualize(r), rtol=0, atol=1e-13)
    assert (got == 0).all() == (effects == "none")
