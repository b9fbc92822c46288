"""The bootstrap's per-region cross products by grouped sums agree with the dense indicator product."""

import numpy as np

from nqpspatial.haken import HakenModel, simulate_panel
from nqpspatial.haken.bootstrap import batched_estimates, draw_counts, region_cross_products


def _dense_cross_products(X, y, codes, n_regions):
    # the pre-issue-19 algorithm: a dense region-by-row indicator matrix
    N, k = X.shape
    G = np.zeros((n_regions, N))
    G[codes, np.arange(N)] = 1.0
    XX = (G @ (X[:, :, None] * X[:, None, :]).reshape(N, k * k)).reshape(n_regions, k, k)
    return XX, G @ (X * y[:, None])


def test_grouped_sums_equal_dense_indicator_product():
    rng = np.random.default_rng(3)
    n, T, k = 40, 9, 4
    codes = rng.permutation(np.repeat(np.arange(n), T))  # rows in any order
    X = rng.normal(size=(n * T, k))
    y = rng.normal(size=n * T)
    XX, Xy = region_cross_products(X, y, codes, n)
    dXX, dXy = _dense_cross_products(X, y, codes, n)
    np.testing.assert_allclose(XX, dXX, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Xy, dXy, rtol=1e-12, atol=1e-12)
    assert np.array_equal(XX, np.swapaxes(XX, 1, 2))
    # bootstrap draws from either agree to 1e-12 as well
    W = draw_counts(7, n, 200)
    a = batched_estimates(W, [(1.0, XX, Xy)])
    b = batched_estimates(W, [(1.0, dXX, dXy)])
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_region_without_rows_gives_zero_block():
    X = np.arange(12.0).reshape(6, 2)
    y = np.ones(6)
    XX, Xy = region_cross_products(X, y, np.array([0, 0, 2, 2, 2, 0]), 3)
    assert not XX[1].any() and not Xy[1].any()
    np.testing.assert_array_equal(Xy[0], X[[0, 1, 5]].sum(axis=0))


def test_model_bootstrap_matches_dense_on_small_panel(monkeypatch):
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=8, q1_start=(0.3, 0.6), seed=5)
    model = HakenModel(panel, "q1", "q2")
    new = model.fit(bootstrap=300, seed=1).bootstrap.draws
    import nqpspatial.haken.model as model_module

    monkeypatch.setattr(model_module, "region_cross_products", _dense_cross_products)
    old = model.fit(bootstrap=300, seed=1).bootstrap.draws
    num = new.select_dtypes("number").columns
    np.testing.assert_allclose(new[num].to_numpy(), old[num].to_numpy(), rtol=1e-12, atol=1e-12)
