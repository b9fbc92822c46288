"""Per-draw effect statistics of several spatial parameters: one power series for all draws vs one LU per draw."""

import numpy as np
import pytest
import scipy.sparse as sp
from libpysal.weights import lat2W

from nqpspatial.plugins.spatial_haken._linalg import SpatialFilter
from nqpspatial.plugins.spatial_haken._panel import split_weights


def _split_lattice(rows=15, cols=14, rook=False):
    """A row-standardized lattice's weights split into within- and across-quadrant parts, and the quadrants."""
    w = lat2W(rows, cols, rook=rook)
    w.transform = "r"
    W = sp.csr_array(w.sparse)
    groups = (np.arange(rows * cols) % cols >= cols // 2).astype(int) + 2 * (
        np.arange(rows * cols) // cols >= rows // 2
    )
    Ww, Wa = split_weights(W, groups)
    return Ww, Wa, groups


def _stats(series: bool, rhos, Ww, Wa, groups, xs):
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.series_draws = series
    return filt.effect_stats_many(rhos, [Ww, Wa], groups, xs)


def test_series_equals_lu_and_exact_inverse():
    Ww, Wa, groups = _split_lattice()
    N = Ww.shape[0]
    rng = np.random.default_rng(4)
    rhos = np.column_stack([rng.uniform(-0.3, 0.6, 12), rng.uniform(-0.2, 0.5, 12)])
    xs = {"q1": rng.uniform(0.1, 0.9, N), "q2": rng.uniform(0.1, 0.9, N)}
    new = _stats(True, rhos, Ww, Wa, groups, xs)
    old = _stats(False, rhos, Ww, Wa, groups, xs)
    for key in ("ones", "q1", "q2"):
        for f in "dtw":
            np.testing.assert_allclose(new[key][f], old[key][f], rtol=1e-11, atol=1e-12)
    # row sums and same-group sums against an explicit inverse (the traces are Hutchinson estimates in both)
    Z = np.eye(groups.max() + 1)[groups]
    for k in (0, 5):
        Minv = np.linalg.inv(np.eye(N) - rhos[k, 0] * Ww.toarray() - rhos[k, 1] * Wa.toarray())
        for j, M in enumerate([np.eye(N), Ww.toarray(), Wa.toarray()]):
            MW = Minv @ M
            assert new["ones"]["t"][k, j] == pytest.approx(MW.sum() / N, rel=1e-11)
            assert new["q1"]["t"][k, j] == pytest.approx(MW @ xs["q1"] @ np.ones(N) / N, rel=1e-11)
            assert new["ones"]["w"][k, j] == pytest.approx((MW @ Z)[np.arange(N), groups].sum() / N, rel=1e-11)


def test_chunks_get_the_same_numbers_whatever_ran_first():
    Ww, Wa, groups = _split_lattice()
    rng = np.random.default_rng(5)
    big = np.column_stack([rng.uniform(0.5, 0.7, 5), rng.uniform(0.0, 0.1, 5)])  # longer series, cached first
    small = np.column_stack([rng.uniform(0.0, 0.2, 5), rng.uniform(0.0, 0.2, 5)])
    filt = SpatialFilter([Ww, Wa], method="sparse")
    filt.effect_stats_many(big, [Ww, Wa], groups, {})
    reused = filt.effect_stats_many(small, [Ww, Wa], groups, {})
    fresh = SpatialFilter([Ww, Wa], method="sparse").effect_stats_many(small, [Ww, Wa], groups, {})
    for f in "dtw":
        assert np.array_equal(reused["ones"][f], fresh["ones"][f])


def test_near_unit_spatial_parameters_fall_back_to_lu():
    Ww, Wa, groups = _split_lattice()
    filt = SpatialFilter([Ww, Wa], method="sparse")
    assert filt._series_plan(np.array([[0.97, 0.97]])) is None
    assert filt._series_plan(np.array([[0.3, 0.2]])) is not None
    rhos = np.array([[0.97, 0.96]])
    got = filt.effect_stats_many(rhos, [Ww, Wa], groups, {})
    ref = _stats(False, rhos, Ww, Wa, groups, {})
    np.testing.assert_array_equal(got["ones"]["t"], ref["ones"]["t"])


def test_prepared_tables_give_the_chunk_by_chunk_numbers(monkeypatch):
    """Tables built once for every chunk (prepare_series) = chunks building and rebuilding their own, bit for bit.

    The builder's state limit is set to 0 so that chunk by chunk a table is rebuilt whenever a later chunk needs a
    higher degree (what happens from about 10,000 regions); prepared, each centre's table is built once.
    """
    from nqpspatial.plugins.spatial_haken import _linalg
    from nqpspatial.plugins.spatial_haken._draws import EquationDraws, effect_draws

    monkeypatch.setattr(_linalg, "SERIES_STATE_MAX_BYTES", 0)
    Ww, Wa, groups = _split_lattice()
    N = Ww.shape[0]
    rng = np.random.default_rng(6)
    xbar = {"q1": rng.uniform(0.1, 0.9, N), "q2": rng.uniform(0.1, 0.9, N)}

    def eqs():
        out = {}
        for eq, terms, centre in (("q1", ("q1", "q1q2"), (0.45, 0.4)), ("q2", ("q2", "q1sq"), (0.3, 0.35))):
            filt = SpatialFilter([Ww, Wa], method="sparse")
            filt.center = np.array(centre)
            mean = np.r_[0.9, -0.2, 0.05, 0.04, -0.02, 0.01, centre]
            cov = np.diag(np.r_[np.full(6, 1e-4), 4e-4, 4e-4])
            out[eq] = EquationDraws(
                mean=mean,
                cov=cov,
                beta_idx={terms[0]: 0, terms[1]: 1},
                theta_idx={terms[0]: [2, 3], terms[1]: [4, 5]},
                spatial_idx=[6, 7],
                const_idx=None,
                const_value=0.0,
                bounds=(-0.99, 0.99),
                slx_ws=[Ww, Wa],
                filt=filt,
            )
        return out

    built = []
    orig = _linalg._SeriesBuilder.extend

    def counting(self, P):
        got = orig(self, P)
        built.append(len(got[0]))
        return got

    monkeypatch.setattr(_linalg._SeriesBuilder, "extend", counting)
    prepared = effect_draws(eqs(), groups, xbar, False, 1000, seed=11, chunk_size=100)
    n_prepared = sum(built)
    built.clear()
    monkeypatch.setattr("nqpspatial.plugins.spatial_haken._draws._prepare_series", lambda *a: None)
    chunked = effect_draws(eqs(), groups, xbar, False, 1000, seed=11, chunk_size=100)
    assert set(prepared) == set(chunked)
    for k in prepared:
        np.testing.assert_array_equal(prepared[k], chunked[k], err_msg=str(k))
    assert n_prepared < sum(built)  # each table built once instead of rebuilt
