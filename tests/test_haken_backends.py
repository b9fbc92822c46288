"""Haken cluster bootstrap on the execution backends: identical draws for one seed everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial.backends import DaskBackend, InProcessBackend, ProcessBackend
from nqpspatial.haken import HakenModel, identify, simulate_panel
from nqpspatial.haken.bootstrap import BOOTSTRAP_CHUNK, draw_counts
from nqpspatial.haken.stage import HakenStage
from nqpspatial.stage import StageContext

B = 2 * BOOTSTRAP_CHUNK + 345  # two full chunks and a partial one


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=10, q1_start=(0.3, 0.6), seed=7, names=("NQP", "NTU"))


@pytest.fixture(scope="module")
def fe_panel():
    rng = np.random.default_rng(5)
    eff = (rng.normal(0, 0.005, 31), rng.normal(0, 0.005, 31))
    return simulate_panel(-0.03, 0.2, 0.5, 0.3, n_periods=10, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)


def _fits(be, panel, fe_panel, seed):
    pooled = HakenModel(panel, "NQP", "NTU", intercept=True).fit(
        bootstrap=B, seed=seed, backend=be, bootstrap_scheme="region"
    )
    jk = HakenModel(fe_panel, "q1", "q2", effects="region").fit(
        bootstrap=B, seed=seed, jackknife=True, backend=be, bootstrap_scheme="region"
    )
    return pooled, jk


def test_counts_are_chunks_of_the_spawned_children():
    """Chunk i of the counts comes from the i-th child of SeedSequence(seed) (numpy's own spawn)."""
    n = 31
    W = draw_counts(2024, n, B)
    kids = np.random.SeedSequence(2024).spawn(3)
    sizes = [BOOTSTRAP_CHUNK, BOOTSTRAP_CHUNK, B - 2 * BOOTSTRAP_CHUNK]
    ref = np.vstack([np.random.default_rng(k).multinomial(n, np.full(n, 1 / n), size=s) for k, s in zip(kids, sizes)])
    assert W.shape == (B, n) and np.array_equal(W, ref)
    assert (W.sum(axis=1) == n).all()


@pytest.mark.dask
def test_identical_bootstrap_on_every_backend(panel, fe_panel):
    """In-process, 2 local processes and a real distributed.LocalCluster with 2 workers."""
    ref = _fits(InProcessBackend(), panel, fe_panel, seed=11)
    default = _fits(None, panel, fe_panel, seed=11)
    backends = [ProcessBackend(2)]
    pytest.importorskip("distributed")
    backends.append(DaskBackend(workers=2))
    try:
        for got in [default] + [_fits(be, panel, fe_panel, seed=11) for be in backends]:
            for g, r in zip(got, ref):
                pd.testing.assert_frame_equal(g.bootstrap.draws, r.bootstrap.draws, check_exact=True)
                pd.testing.assert_frame_equal(g.estimates, r.estimates, check_exact=True)
        # the ordering identification through the cluster equals the in-process one
        a = identify(panel, ["NQP", "NTU"], bootstrap=B, seed=3, backend=backends[-1], bootstrap_scheme="region")
        b = identify(panel, ["NQP", "NTU"], bootstrap=B, seed=3, bootstrap_scheme="region")
        # the default wild-year bootstrap through the cluster too (two chunks of 250 resamples)
        a = identify(panel, ["NQP", "NTU"], bootstrap=300, seed=3, backend=backends[-1])
        b = identify(panel, ["NQP", "NTU"], bootstrap=300, seed=3)
        pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
        pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
        # a different seed changes the draws (on the cluster too)
        other = _fits(backends[-1], panel, fe_panel, seed=12)
        for o, r in zip(other, ref):
            assert not np.allclose(o.bootstrap.draws.to_numpy(), r.bootstrap.draws.to_numpy())
            assert o.estimates["ci_low"].tolist() != r.estimates["ci_low"].tolist()
    finally:
        for be in backends:
            be.close()


def test_same_seed_same_draws_generator_and_int(panel):
    a = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=np.random.default_rng(8), bootstrap_scheme="region")
    b = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=np.random.default_rng(8), bootstrap_scheme="region")
    c = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=8, bootstrap_scheme="region")
    d = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=8, bootstrap_scheme="region")
    pd.testing.assert_frame_equal(a.bootstrap.draws, b.bootstrap.draws, check_exact=True)
    pd.testing.assert_frame_equal(c.bootstrap.draws, d.bootstrap.draws, check_exact=True)
    e = HakenModel(panel, "NQP", "NTU").fit(bootstrap=B, seed=9, bootstrap_scheme="region")
    assert not np.allclose(c.bootstrap.draws.to_numpy(), e.bootstrap.draws.to_numpy())


@pytest.mark.dask
def test_stage_uses_the_configured_backend(panel):
    """[run] workers = 2 runs the stage's bootstrap on a LocalCluster: same tables as in-process."""
    pytest.importorskip("distributed")
    cfg = {"bootstrap": 600, "break_bootstrap": 0}  # three chunks of the wild-year bootstrap

    def ctx(config):
        return StageContext(config=config, panel=panel, subsystems=["NQP", "NTU"], indices=panel, seed=1)

    local = HakenStage().run(ctx({}), cfg)
    dask = HakenStage().run(ctx({"run": {"workers": 2}}), cfg)
    assert local.info["bootstrap_backend"] == "<InProcessBackend>"
    assert dask.info["bootstrap_backend"].startswith("<DaskBackend")
    assert set(local.tables) == set(dask.tables)
    for name in local.tables:
        pd.testing.assert_frame_equal(dask.tables[name], local.tables[name], check_exact=True, obj=name)
