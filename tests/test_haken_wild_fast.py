"""The wild-year bootstrap's grouped-sums path equals the previous implementation (issue 19).

``tests/_wild_reference.py`` is a frozen copy of ``nqpspatial/haken/wild.py`` before the fast path (every
resample re-simulated into resamples x rows arrays and re-estimated by batched matrix products).  With the
same seed both give the same multipliers and simulated paths; the estimates come from year-level sums in the
new code, so they agree to rounding: draws, standard errors, intervals and p-values to 1e-12 (relative, and
absolute for values near zero), the counts (distinct draws, invalid resamples) exactly.
"""

from __future__ import annotations

import warnings

import _wild_reference as ref
import numpy as np
import pandas as pd
import pytest

from nqpspatial.haken import HakenModel, simulate_panel, wild

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _fits(panel, B, seed, **model_kw):
    fit_kw = {k: model_kw.pop(k) for k in ("jackknife", "correction") if k in model_kw}
    model = HakenModel(panel, "q1", "q2", **model_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short-panel warning of fixed effects
        new = model.fit(bootstrap=B, seed=seed, bootstrap_scheme="wild-year", **fit_kw)
        orig = wild.wild_year_bootstrap
        wild.wild_year_bootstrap = ref.wild_year_bootstrap
        try:
            old = model.fit(bootstrap=B, seed=seed, bootstrap_scheme="wild-year", **fit_kw)
        finally:
            wild.wild_year_bootstrap = orig
    return new.bootstrap, old.bootstrap


def _assert_same(a, b):
    assert a.B == b.B and a.weights == b.weights
    assert a.n_distinct == b.n_distinct and a.n_invalid == b.n_invalid
    assert list(a.draws.columns) == list(b.draws.columns)
    np.testing.assert_allclose(a.draws.to_numpy(), b.draws.to_numpy(), equal_nan=True, **TOL)
    assert list(a.intervals["term"]) == list(b.intervals["term"])
    num = ["ci_low", "ci_high", "std_err"]
    np.testing.assert_allclose(a.intervals[num].to_numpy(), b.intervals[num].to_numpy(), **TOL)
    # p-values count |t*| >= |t|: equal unless a resample ties at rounding level
    np.testing.assert_allclose(a.pvalues.to_numpy(), b.pvalues.to_numpy(), equal_nan=True, **TOL)
    assert a.verdict_share == pytest.approx(b.verdict_share, abs=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        {},  # the default: no intercept, no effects
        {"intercept": True},
        {"effects": "year"},
        {"effects": "region"},
        {"effects": "two-way"},
        {"effects": "region", "jackknife": True},
        {"effects": "region", "correction": "analytic"},
    ],
    ids=["none", "intercept", "year", "region", "two-way", "jackknife", "analytic"],
)
def test_fast_path_equals_the_reference_on_a_small_panel(kw):
    panel = simulate_panel(
        -0.1, 0.35, 0.6, 0.35, n_regions=12, n_periods=9, q1_start=(0.3, 0.6), year_shock_sd=0.01, seed=5
    )
    _assert_same(*_fits(panel, 60, 1, **kw))


def test_fast_path_equals_the_reference_with_rademacher_weights_and_an_unbalanced_panel():
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=15, n_periods=14, q1_start=(0.3, 0.6), seed=2)
    drop = (panel["region"] == panel["region"].iloc[0]) & (panel["year"] < panel["year"].min() + 3)
    drop |= (panel["region"] == panel["region"].iloc[-1]) & (panel["year"] > panel["year"].max() - 2)
    a, b = _fits(panel[~drop].reset_index(drop=True), 50, 4)
    assert a.weights == "rademacher"
    _assert_same(a, b)


def test_fast_path_equals_the_reference_on_a_mid_size_panel():
    """300 regions x 20 periods (5,700 rows, Rademacher weights), 120 resamples in two chunks of 250 or less."""
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=300, n_periods=20, q1_start=(0.3, 0.6), seed=11)
    _assert_same(*_fits(panel, 120, 7))


def test_fast_path_keeps_the_divergence_handling():
    """A map that explodes on some resamples: those get NaN (counted invalid) as before, the others agree."""
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=8, n_periods=9, q1_start=(0.3, 0.6), seed=5)
    from nqpspatial.haken.model import _Design, prepare_panel

    design = _Design(prepare_panel(panel, "q1", "q2"), False, "none")
    coefs = (pd.Series({"lag": 1.1, "inter": -40.0}), pd.Series({"lag": 0.4, "inter": 60.0}))
    kw = {"seed": 3, "null_terms": ("gamma2",)}
    with np.errstate(all="ignore"):
        a = wild.wild_year_bootstrap(design, coefs, 40, **kw)
        b = ref.wild_year_bootstrap(design, coefs, 40, **kw)
    assert 0 < a.n_invalid < 40
    _assert_same(a, b)
