"""The wild-year bootstrap's fixed-effect partialling with a sparse region indicator equals the dense one."""

import warnings

import numpy as np
import pytest

from nqpspatial.haken import HakenModel, simulate_panel, wild


def _dense_partial(codes, tcodes, n_regions, n_years, effects, A):
    # the pre-issue-19 algorithm: dense (rows x regions) and (rows x years) indicators
    n = len(codes)
    Ty = np.zeros((n, n_years))
    Ty[np.arange(n), tcodes] = 1.0
    Ty = Ty[:, Ty.sum(axis=0) > 0]
    reg = np.zeros((n, n_regions))
    reg[np.arange(n), codes] = 1.0
    Rg = reg[:, reg.sum(axis=0) > 0]
    rcount, rlocal = Rg.sum(axis=0), np.argmax(Rg, axis=1)
    if effects in ("region", "two-way"):
        A = A - ((A @ Rg) / rcount)[:, rlocal]
    if effects == "two-way":
        D = Ty[:, 1:]
        D = D - Rg @ ((Rg.T @ D) / rcount[:, None])
        A = A - (A @ (np.linalg.pinv(D.T @ D) @ D.T).T) @ D.T
    return A


@pytest.mark.parametrize("effects", ["region", "two-way"])
def test_sparse_partial_equals_dense(effects):
    rng = np.random.default_rng(2)
    n_regions, n_years = 25, 7
    codes = np.repeat(np.arange(n_regions), n_years)
    tcodes = np.tile(np.arange(n_years), n_regions)
    keep = rng.random(len(codes)) > 0.1  # unbalanced, and region 3 absent
    keep &= codes != 3
    codes, tcodes = codes[keep], tcodes[keep]
    A = rng.normal(size=(6, len(codes)))
    lay = wild._Layout(codes, tcodes, n_regions, n_years, effects)
    got = lay.partial(A)
    ref = _dense_partial(codes, tcodes, n_regions, n_years, effects, A)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    M = rng.normal(size=(4, 3, len(codes)))
    np.testing.assert_allclose(lay.year_sums(M), M @ lay.Ty, rtol=1e-12, atol=1e-12)
    assert lay.n_fe == {"region": 24, "two-way": 24 + 6}[effects]


def test_wild_year_fit_unchanged_to_rounding(monkeypatch):
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=12, n_periods=8, q1_start=(0.3, 0.6), seed=5)
    model = HakenModel(panel, "q1", "q2")
    new = model.fit(bootstrap=60, seed=1)

    class Dense(wild._Layout):
        def partial(self, A):
            return _dense_partial(self.codes, self.tcodes, self.N, self.T, self.effects, A)

        def year_sums(self, M):
            return M @ self.Ty

    monkeypatch.setattr(wild, "_Layout", Dense)
    old = model.fit(bootstrap=60, seed=1)
    a, b = new.estimates, old.estimates
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("effects", ["region", "two-way"])  # without effects the grouped sums take no batches
def test_batches_inside_a_chunk_do_not_change_the_numbers(monkeypatch, effects):
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=12, n_periods=8, q1_start=(0.3, 0.6), seed=5)
    model = HakenModel(panel, "q1", "q2", effects=effects)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short-panel warning of fixed effects
        whole = model.fit(bootstrap=40, seed=3)
        monkeypatch.setattr(wild, "BATCH_CELLS", 7 * 30)  # batches of 3 resamples (7 x 12 rows)
        batched = model.fit(bootstrap=40, seed=3)
    assert whole.estimates.equals(batched.estimates)


def test_a_diverged_resample_gives_nan_not_an_error(monkeypatch):
    """A resample whose simulated path overflowed (inf cross products) beside a singular one used to send the whole
    batch to pinv, which raised "SVD did not converge"; now the diverged resample's estimates are NaN (left out of
    the bootstrap as invalid) and the others are computed as before."""
    rng = np.random.default_rng(4)
    codes = np.repeat(np.arange(5), 4)
    tcodes = np.tile(np.arange(4), 5)
    lay = wild._Layout(codes, tcodes, 5, 4, "none")
    x = rng.normal(size=(3, codes.size))
    y = rng.normal(size=(3, codes.size))
    x[1] = 0.0  # singular cross-product matrix (finite)
    x[2, 3] = np.inf  # overflowed path
    pinv = np.linalg.pinv

    def strict_pinv(a, *args, **kwargs):  # LAPACK's SVD may fail on non-finite input ("SVD did not converge")
        if not np.isfinite(a).all():
            raise np.linalg.LinAlgError("SVD did not converge")
        return pinv(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "pinv", strict_pinv)
    beta, Ainv, _S, _f, _X, _e = wild._fit_batch([x, x**2], y, lay)
    assert np.isnan(beta[2]).all() and np.isnan(Ainv[2]).all()
    assert np.isfinite(beta[0]).all()
    ref, *_ = np.linalg.lstsq(np.column_stack([x[0], x[0] ** 2]), y[0], rcond=None)
    np.testing.assert_allclose(beta[0], ref, rtol=1e-10)
