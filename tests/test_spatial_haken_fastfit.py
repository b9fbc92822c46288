"""The split (two spatial parameters) ML fit and its effect draws at speed, against dense exact references.

* the sparse log-determinant (no-pivot symmetric-mode LU when ``I - sum rho_j W_j`` is diagonally dominant,
  COLAMD with partial pivoting otherwise) equals ``numpy.linalg.slogdet`` to 1e-8;
* the fit (L-BFGS-B, then Newton steps on central differences) equals a dense reference ML (dense
  log-determinant, Nelder-Mead to 1e-10 from the reference's own start) to 1e-6;
* the effect draws' series expanded around the estimates equals one LU per draw to the series tolerance,
  is exact at the estimates and does not depend on which chunk ran first.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from libpysal.weights import lat2W
from scipy import optimize
from test_spatial_haken_series_draws import _split_lattice
from threadpoolctl import threadpool_limits

from nqpspatial.plugins.spatial_haken import _estimators, _linalg
from nqpspatial.plugins.spatial_haken._estimators import _newton_polish, fit_lag
from nqpspatial.plugins.spatial_haken._linalg import SpatialFilter
from nqpspatial.plugins.spatial_haken._panel import lag, split_weights


@pytest.mark.parametrize("rho", [(0.3, 0.2), (0.9, -0.6), (-0.5, 0.95), (0.0, 0.0)])
def test_sparse_logdet_equals_slogdet(rho):
    Ww, Wa, _ = _split_lattice()
    filt = SpatialFilter([Ww, Wa], method="sparse")
    ref = np.linalg.slogdet(np.eye(Ww.shape[0]) - rho[0] * Ww.toarray() - rho[1] * Wa.toarray())[1]
    assert filt.logdet(rho) == pytest.approx(ref, abs=1e-8)
    assert filt.matrix(rho).toarray() == pytest.approx(np.eye(Ww.shape[0]) - rho[0] * Ww - rho[1] * Wa, abs=0)
    # the fill-reducing ordering comes from the pattern, not the values: the same bits whatever came first
    other = SpatialFilter([Ww, Wa], method="sparse")
    other.logdet((0.0, 0.7))
    assert other.logdet(rho) == filt.logdet(rho)


def test_sparse_logdet_without_diagonal_dominance_pivots():
    """Binary (not row-standardized) weights: ``sum |rho_j| |W_j|`` has rows above 1, so the LU pivots."""
    w = lat2W(15, 14, rook=False)
    C = sp.csr_array(w.sparse)
    groups = (np.arange(C.shape[0]) % 14 >= 7).astype(int)
    Cw, Ca = split_weights(C, groups)
    filt = SpatialFilter([Cw, Ca], method="sparse")
    rho = (0.13, 0.1)
    assert filt._radius(np.array([rho])) > 1.0
    sign, ref = np.linalg.slogdet(np.eye(C.shape[0]) - rho[0] * Cw.toarray() - rho[1] * Ca.toarray())
    assert filt.logdet(rho) == pytest.approx(ref, abs=1e-8)


def _sdm_panel(Ww, Wa, T=6, seed=0):
    """A panel ``y_t = rho_w Ww y_t + rho_a Wa y_t + x_t b + Ww x_t t_w + Wa x_t t_a + e`` (exact draw)."""
    N = Ww.shape[0]
    rng = np.random.default_rng(seed)
    A = np.eye(N) - 0.35 * Ww.toarray() - 0.15 * Wa.toarray()
    x = rng.uniform(0.2, 0.8, (T, N))
    y = np.linalg.solve(A, (0.9 * x + 0.1 * lag(Ww, x) - 0.05 * lag(Wa, x) + rng.normal(0, 0.05, (T, N))).T).T
    return y, [x, lag(Ww, x), lag(Wa, x)]


def _dense_reference(y, Xcols, Ws):
    """Concentrated ML with a dense log-determinant, Nelder-Mead to 1e-12 from a coarse grid's best point."""
    T1, N = y.shape
    n = T1 * N
    X = np.column_stack([c.reshape(-1) for c in Xcols])
    Y = np.column_stack([y.reshape(-1)] + [lag(W, y).reshape(-1) for W in Ws])
    E = Y - X @ np.linalg.lstsq(X, Y, rcond=None)[0]
    dense = [W.toarray() for W in Ws]

    def f(r):
        c = np.concatenate([[1.0], -r])
        return (
            0.5 * n * np.log(c @ E.T @ E @ c / n)
            - T1 * np.linalg.slogdet(np.eye(N) - sum(ri * D for ri, D in zip(r, dense)))[1]
        )

    grid = [np.array([a, b]) for a in np.linspace(-0.6, 0.8, 5) for b in np.linspace(-0.6, 0.8, 5)]
    with threadpool_limits(1):  # small dense determinants: threads only add overhead
        start = min(grid, key=f)
        opts = {"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000}
        res = optimize.minimize(f, start, method="Nelder-Mead", options=opts)
    assert res.success
    rho = res.x
    beta = np.linalg.lstsq(X, y.reshape(-1) - sum(r * lag(W, y).reshape(-1) for r, W in zip(rho, Ws)), rcond=None)[0]
    return rho, beta


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_split_fit_equals_dense_reference(method, monkeypatch):
    Ww, Wa, _ = _split_lattice(13, 12)  # N = 156: the sparse path factors by LU
    y, Xcols = _sdm_panel(Ww, Wa)
    used = []
    minimize = _estimators.optimize.minimize
    monkeypatch.setattr(
        _estimators.optimize, "minimize", lambda *a, **k: used.append(k.get("method")) or minimize(*a, **k)
    )
    fit = fit_lag(y, Xcols, ["x", "wx_w", "wx_a"], [Ww, Wa], ["rho_within", "rho_across"], method=method)
    assert used == ["L-BFGS-B"]  # Newton finished the search (no Nelder-Mead fallback)
    rho, beta = _dense_reference(y, Xcols, [Ww, Wa])
    np.testing.assert_allclose(fit.params[3:], rho, atol=1e-6)
    np.testing.assert_allclose(fit.params[:3], beta, atol=1e-6)
    assert np.array_equal(fit.info["filter"].center, fit.params[3:])  # the draws' series expands around them


def test_newton_polish_reaches_the_optimum_of_a_smooth_function():
    # a smooth, non-quadratic function with its minimum at (0.3, -0.2)
    def f(x):
        d = x - np.array([0.3, -0.2])
        return 1e4 * (d[0] ** 2 + 0.5 * d[0] * d[1] + 2 * d[1] ** 2) + 1e3 * d[0] ** 4 - np.log1p(-(x[0] ** 2)) * 0

    got = _newton_polish(f, np.array([0.25, -0.1]), f(np.array([0.25, -0.1])), -0.999, 0.999)
    assert got is not None
    np.testing.assert_allclose(got[0], [0.3, -0.2], atol=1e-9)
    # an indefinite Hessian: no Newton step (the caller polishes by Nelder-Mead instead)
    saddle = lambda x: x[0] ** 2 - x[1] ** 2  # noqa: E731
    assert _newton_polish(saddle, np.array([0.1, 0.1]), saddle(np.array([0.1, 0.1])), -0.999, 0.999) is None


def _stats(filt, rhos, Ww, Wa, groups, xs, series=True):
    filt.series_draws = series
    return filt.effect_stats_many(rhos, [Ww, Wa], groups, xs)


def test_centred_series_equals_lu_per_draw_and_is_exact_at_the_centre():
    Ww, Wa, groups = _split_lattice()
    N = Ww.shape[0]
    rng = np.random.default_rng(7)
    centre = np.array([0.55, 0.4])
    rhos = centre + np.column_stack([rng.normal(0, 0.02, 12), rng.normal(0, 0.05, 12)])
    xs = {"q1": rng.uniform(0.1, 0.9, N), "q2": rng.uniform(0.1, 0.9, N)}
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.center = centre
    P, c = filt._series_plan(rhos)
    assert np.array_equal(c, centre) and P < 40  # around the centre the series is short
    assert SpatialFilter([Ww, Wa], method="sparse")._series_plan(rhos)[0] > 2 * P  # around 0
    new = _stats(filt, rhos, Ww, Wa, groups, xs)
    old = _stats(SpatialFilter([Ww, Wa], method="sparse"), rhos, Ww, Wa, groups, xs, series=False)
    for key in ("ones", "q1", "q2"):
        for f in "dtw":
            np.testing.assert_allclose(new[key][f], old[key][f], rtol=1e-11, atol=1e-12)
    # at the centre the series is the exact solve (degree 0)
    assert filt._series_plan(centre[None, :])[0] == 0
    at = _stats(filt, centre[None, :], Ww, Wa, groups, xs)
    Minv = np.linalg.inv(np.eye(N) - centre[0] * Ww.toarray() - centre[1] * Wa.toarray())
    for j, M in enumerate([np.eye(N), Ww.toarray(), Wa.toarray()]):
        assert at["ones"]["t"][0, j] == pytest.approx((Minv @ M).sum() / N, rel=1e-12)
        assert at["q2"]["t"][0, j] == pytest.approx((Minv @ M @ xs["q2"]).sum() / N, rel=1e-12)


@pytest.mark.parametrize("hold", [True, False])
def test_centred_series_chunks_get_the_same_numbers_whatever_ran_first(hold, monkeypatch):
    """Extended from the held state, rebuilt with a margin, or rebuilt after pickling: the same bits."""
    if not hold:
        monkeypatch.setattr(_linalg, "SERIES_STATE_MAX_BYTES", 0)
    Ww, Wa, groups = _split_lattice()
    rng = np.random.default_rng(8)
    centre = np.array([0.5, 0.3])
    wide = centre + np.column_stack([rng.normal(0, 0.05, 5), rng.normal(0, 0.1, 5)])  # longer series, cached first
    narrow = centre + np.column_stack([rng.normal(0, 0.01, 5), rng.normal(0, 0.02, 5)])

    def filt():
        f = SpatialFilter([Ww, Wa], method="sparse")
        f.center = centre
        return f

    reused = filt()
    reused.effect_stats_many(centre[None, :], [Ww, Wa], groups, {})  # the point estimates first (degree 0)
    reused.effect_stats_many(wide, [Ww, Wa], groups, {})
    a = reused.effect_stats_many(narrow, [Ww, Wa], groups, {})
    b = filt().effect_stats_many(narrow, [Ww, Wa], groups, {})
    assert all((v["builder"] is not None) == hold for v in reused._series_cache.values())
    copy = pickle.loads(pickle.dumps(reused))  # as sent to a worker: the tables without the builders
    assert all(v["builder"] is None for v in copy._series_cache.values())
    c = copy.effect_stats_many(wide * 1.02, [Ww, Wa], groups, {})
    d = filt().effect_stats_many(wide * 1.02, [Ww, Wa], groups, {})
    for f in "dtw":
        assert np.array_equal(a["ones"][f], b["ones"][f])
        assert np.array_equal(c["ones"][f], d["ones"][f])
    reused.release_series_state()
    assert all(v["builder"] is None for v in reused._series_cache.values())


def test_small_estimates_expand_around_zero():
    """Around small estimates the series from 0 is barely longer and needs no solves: it is taken."""
    Ww, Wa, _ = _split_lattice()
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.center = np.array([0.08, 0.05])
    rhos = filt.center + np.array([[0.02, -0.05], [-0.01, 0.06]])
    P, c = filt._series_plan(rhos)
    assert np.array_equal(c, np.zeros(2))
    got = filt.effect_stats_many(rhos, [Ww, Wa], None, {})
    N = Ww.shape[0]
    for k, rho in enumerate(rhos):
        Minv = np.linalg.inv(np.eye(N) - rho[0] * Ww.toarray() - rho[1] * Wa.toarray())
        assert got["ones"]["t"][k, 1] == pytest.approx((Minv @ Ww.toarray()).sum() / N, rel=1e-12)
    assert np.array_equal(filt._series_plan(filt.center[None, :])[1], filt.center)  # the point: exact solve


def test_centre_outside_the_unit_ball_falls_back_to_zero():
    Ww, Wa, _ = _split_lattice()
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.center = np.array([0.99, 0.97])
    assert np.array_equal(filt._series_center(), np.zeros(2))
    filt.center = np.array([0.4, np.nan])
    assert np.array_equal(filt._series_center(), np.zeros(2))


def test_centred_series_truncation_error_is_within_its_bound():
    """Cut at a low degree P, the row sums' error stays below ``q^(P+1) / (1 - q) / (1 - r0) ||M x||_inf``."""
    Ww, Wa, groups = _split_lattice()
    N = Ww.shape[0]
    centre = np.array([0.5, 0.3])
    rhos = np.array([[0.56, 0.18], [0.47, 0.41], [0.52, 0.3]])
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.center = centre
    r0 = filt._radius(centre[None, :])
    q = filt._radius(rhos - centre) / (1 - r0)
    mats = [None, Ww, Wa]
    alphas, S = filt._series_table(60, centre, mats, None, [np.ones(N)])
    for P in (2, 4, 6):
        keep = alphas.sum(axis=1) <= P
        powers = np.prod((rhos - centre)[:, None, :] ** alphas[keep][None, :, :], axis=2)
        t = powers @ S[keep][:, 1, 0, :] / N
        bound = q ** (P + 1) / (1 - q) / (1 - r0)
        for k, rho in enumerate(rhos):
            Minv = np.linalg.inv(np.eye(N) - rho[0] * Ww.toarray() - rho[1] * Wa.toarray())
            for j, M in enumerate([np.eye(N), Ww.toarray(), Wa.toarray()]):
                err = abs(t[k, j] - (Minv @ M).sum() / N)
                assert err <= bound * np.max(np.abs(M.sum(axis=1)))
        assert bound < 0.1  # the check is not empty: errors of order 1e-2 .. 1e-5 are bounded, not zero


@pytest.mark.slow
def test_split_sdm_draws_do_not_depend_on_the_backend():
    """The sparse split path (centred series, held builders) gives the same tables in-process and on two processes."""
    import libpysal
    import pandas as pd
    from libpysal.graph import Graph

    from nqpspatial.backends import open_backend
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel, simulate_panel

    g = Graph.from_W(libpysal.weights.lat2W(13, 12, rook=False))  # 156 regions: the sparse (LU and series) path
    ids = np.asarray(g.unique_ids)
    zones = pd.Series(np.where(np.arange(len(ids)) % 12 < 6, "west", "east"), index=ids)
    truth = {
        "q1": {"q1": 0.8, "q1q2": -0.2, "theta_q1": 0.08, "theta_q1q2": 0.04, "rho": 0.4},
        "q2": {"q2": 0.35, "q1sq": 0.7, "theta_q2": 0.075, "theta_q1sq": 0.15, "rho": 0.3},
    }
    df = simulate_panel("sdm", g, truth, periods=6, sigma=0.02, seed=3)

    def fit(backend=None):
        mod = SpatialHakenModel(df, "q1", "q2", g, model="sdm", split=zones, method="sparse")
        return mod.fit(draws=500, seed=4, backend=backend)

    a = fit()
    with open_backend("processes", workers=2) as be:
        b = fit(be)
    for name in ("estimates", "effects", "marginal_effects", "identification"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
