"""The wild-year bootstrap's grouped-sums path equals the previous implementation (issue 19).

``tests/_wild_reference.py`` is a frozen copy of ``nqpspatial/haken/wild.py`` before the fast path (every
resample re-simulated into resamples x rows arrays and re-estimated by batched matrix products).  With the
same seed both give the same multipliers and simulated paths; the estimates come from year-level sums in the
new code, so they agree to rounding: the coefficient draws and intervals to 1e-12 (relative, and absolute for
values near zero; 1e-11 with an intercept, whose collinear design leaves the reference about 5e-13 from the
exact estimate), the p-values and counts (distinct draws, invalid resamples) exactly.  The ratio
|gamma2|/|gamma1| is |1 - c2|/|1 - c1|, whose relative condition is about |c1|/|gamma1| (10 to 100 here), so its
draws and interval agree to 1e-10.  ``test_grouped_sums_are_closer_to_exact_arithmetic`` shows which of the two is
right: against OLS in exact rational arithmetic on the same simulated paths the new estimates are within 1e-14,
the reference's within about 1e-12.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import _wild_reference as ref
import numpy as np
import pandas as pd
import pytest

from _wild_compare import assert_same_bootstrap
from nqpspatial.haken import HakenModel, simulate_panel, wild

TOL = {"rtol": 1e-12, "atol": 1e-12}
RATIO_TOL = {"rtol": 1e-10, "atol": 1e-10}


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


def _assert_same(a, b, tol=1e-12):
    assert_same_bootstrap(a, b, tol, RATIO_TOL)


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
    _assert_same(*_fits(panel, 60, 1, **kw), tol=1e-11 if kw.get("intercept") else 1e-12)


@pytest.mark.parametrize("effects", ["none", "year", "region"])
def test_fast_path_equals_the_reference_with_rademacher_weights_and_an_unbalanced_panel(effects):
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=15, n_periods=14, q1_start=(0.3, 0.6), seed=2)
    drop = (panel["region"] == panel["region"].iloc[0]) & (panel["year"] < panel["year"].min() + 3)
    drop |= (panel["region"] == panel["region"].iloc[-1]) & (panel["year"] > panel["year"].max() - 2)
    a, b = _fits(panel[~drop].reset_index(drop=True), 50, 4, effects=effects)
    assert a.weights == "rademacher"
    _assert_same(a, b)


def test_fast_path_equals_the_reference_on_a_mid_size_panel():
    """300 regions x 20 periods (5,700 rows, Rademacher weights), 120 resamples in one chunk."""
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=300, n_periods=20, q1_start=(0.3, 0.6), seed=11)
    _assert_same(*_fits(panel, 120, 7))


@pytest.mark.slow
@pytest.mark.parametrize("effects", ["year", "region"])
def test_fast_path_equals_the_reference_on_a_mid_size_panel_with_effects(effects):
    """150 regions x 20 periods with year or region effects (the LSDV fit itself dominates the time)."""
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=150, n_periods=20, q1_start=(0.3, 0.6), seed=11)
    _assert_same(*_fits(panel, 60, 8, effects=effects))


def _grouped_payload(design):
    """The bootstrap payload of a design (no effects) at its least-squares coefficients, with the grouped-sums plan."""
    cols = design.slope_cols()
    coefs = [
        pd.Series(np.linalg.lstsq(Z[cols].to_numpy(float), y, rcond=None)[0], index=cols)
        for Z, y in ((design.Z1, design.y1), (design.Z2, design.y2))
    ]
    p = wild._payload(design, coefs, False)
    p["plan"] = wild._grouped_plan(p)
    return p


def test_fast_path_keeps_the_divergence_handling():
    """An explosive map: resamples whose paths overflowed get NaN estimates (left out as invalid) as before, and
    those whose paths stayed near the data's scale agree with the reference.  In between (paths beyond about
    1e30) both lose every digit: the reference's products return arbitrary finite numbers, the grouped sums the
    data-generating coefficients with zero standard errors, which leaves these resamples out as invalid."""
    from nqpspatial.haken.model import _Design, prepare_panel

    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=8, n_periods=20, q1_start=(0.3, 0.6), seed=5)
    design = _Design(prepare_panel(panel, "q1", "q2"), False, "none")
    p = _grouped_payload(design)
    Wm = wild.draw_multipliers(np.random.default_rng(5), 200, p["T"])
    # shocks 200 times the residuals: a share of the resamples leaves the map's basin and overflows
    dg = [(*d[:3], 200.0 * d[3], d[4]) for d in (wild._dgp(eq, eq["coef"]) for eq in p["eqs"])]
    with np.errstate(all="ignore"):
        new = wild._grouped_estimate(p, dg[0], dg[1], Wm, [eq["coef"][:2] for eq in p["eqs"]])
        paths = ref._simulate(p, dg[0], dg[1], Wm)
        old = ref._estimate(p, *paths)
    size = np.max([np.abs(a).max(axis=1) for a in paths], axis=0)
    overflowed = ~np.isfinite(size)
    assert 0 < overflowed.sum() < len(Wm) and (size < 10).sum() > 20
    for got, want in zip(new, old):
        got, want = got.reshape(len(Wm), -1), want.reshape(len(Wm), -1)
        assert np.isnan(got[overflowed]).all() and np.isnan(want[overflowed]).all()
        np.testing.assert_allclose(got[size < 10], want[size < 10], rtol=1e-11, atol=1e-12)


def _exact_ols(X, y, years):
    """Slopes and year-clustered CR1 standard errors in exact rational arithmetic (the floats taken as exact)."""
    n, k = X.shape
    Xf = [[Fraction(float(v)) for v in row] for row in X]
    yf = [Fraction(float(v)) for v in y]
    A = [[sum(Xf[i][a] * Xf[i][b] for i in range(n)) for b in range(k)] for a in range(k)]
    M = [A[a][:] + [Fraction(int(a == b)) for b in range(k)] for a in range(k)]
    for c in range(k):  # Gauss-Jordan inverse
        piv = next(i for i in range(c, k) if M[i][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        M[c] = [v / M[c][c] for v in M[c]]
        for i in range(k):
            if i != c:
                M[i] = [vi - M[i][c] * vc for vi, vc in zip(M[i], M[c])]
    Ai = [row[k:] for row in M]
    r = [sum(Xf[i][a] * yf[i] for i in range(n)) for a in range(k)]
    beta = [sum(Ai[a][b] * r[b] for b in range(k)) for a in range(k)]
    e = [yf[i] - sum(Xf[i][a] * beta[a] for a in range(k)) for i in range(n)]
    T = sorted(set(years.tolist()))
    S = [[sum(Xf[i][a] * e[i] for i in range(n) if years[i] == t) for a in range(k)] for t in T]
    meat = [[sum(s[a] * s[b] for s in S) for b in range(k)] for a in range(k)]
    f = Fraction(len(T), len(T) - 1) * Fraction(n - 1, n - k)
    var = [f * sum(Ai[a][c] * meat[c][d] * Ai[d][a] for c in range(k) for d in range(k)) for a in range(k)]
    return np.array([float(b) for b in beta]), np.sqrt([float(v) for v in var])


def test_grouped_sums_are_closer_to_exact_arithmetic():
    """On the same simulated paths (the intercept design, the worst conditioned), the grouped sums' slopes are
    within 5e-14 of OLS in exact arithmetic and their CR1 standard errors within 1e-12 (relative); the reference
    (batched products of the partialled rows) is the one that differs by up to 1e-12."""
    from nqpspatial.haken.model import _Design, prepare_panel

    panel = simulate_panel(
        -0.1, 0.35, 0.6, 0.35, n_regions=12, n_periods=9, q1_start=(0.3, 0.6), year_shock_sd=0.01, seed=5
    )
    design = _Design(prepare_panel(panel, "q1", "q2"), True, "none")
    p = _grouped_payload(design)
    Wm = wild.draw_multipliers(np.random.default_rng(0), 3, p["T"])
    dg = [wild._dgp(eq, eq["coef"]) for eq in p["eqs"]]
    new = wild._grouped_estimate(p, dg[0], dg[1], Wm, [eq["coef"][:3] for eq in p["eqs"]])
    S1, S2, Y1, Y2 = ref._simulate(p, dg[0], dg[1], Wm)
    np.testing.assert_array_equal(wild._simulate(p, dg[0], dg[1], Wm)[3], Y2)  # the same paths
    old = ref._estimate(p, S1, S2, Y1, Y2)
    worse = 0
    for b in range(len(Wm)):
        ones = np.ones(S1.shape[1])
        designs = (
            (np.column_stack([S1[b], S1[b] * S2[b], ones]), Y1[b]),
            (np.column_stack([S2[b], S1[b] ** 2, ones]), Y2[b]),
        )
        for e, (X, y) in enumerate(designs):
            beta, se = _exact_ols(X, y, p["tcodes"])
            err_new, err_old = np.abs(new[e][b] - beta).max(), np.abs(old[e][b] - beta).max()
            assert err_new < 5e-14
            worse += err_new > err_old
            np.testing.assert_allclose(new[2 + e][b], se, rtol=1e-12)
    assert worse <= 1
