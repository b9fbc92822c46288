"""Execution backends: identical results on every backend and worker count for one seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial.backends import (
    ChunkTask,
    DaskBackend,
    InProcessBackend,
    ProcessBackend,
    chunk_rng,
    open_backend,
    plan_chunks,
    run_chunks,
    seed_sequence,
)
from nqpspatial.errors import InputError
from nqpspatial.robustness import weight_sensitivity
from nqpspatial.robustness.sensitivity import _draw_chunk


def test_chunk_generators_are_the_spawned_children():
    ss = np.random.SeedSequence(2024)
    kids = ss.spawn(5)
    for i, kid in enumerate(kids):
        a = chunk_rng(2024, i).random(4)
        b = np.random.default_rng(kid).random(4)
        assert np.array_equal(a, b)
    tasks = plan_chunks(1001, 2024, chunk_size=250)
    assert [(t.start, t.stop) for t in tasks] == [(0, 250), (250, 500), (500, 750), (750, 1000), (1000, 1001)]
    assert np.array_equal(tasks[3].rng().random(3), np.random.default_rng(kids[3]).random(3))
    assert isinstance(tasks[0], ChunkTask) and tasks[-1].size == 1


def test_seed_sequence_inputs():
    assert seed_sequence(5).entropy == 5
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    assert seed_sequence(g1).entropy == seed_sequence(g2).entropy
    with pytest.raises(InputError):
        seed_sequence(None)
    with pytest.raises(InputError):
        plan_chunks(10, 1, chunk_size=0)
    with pytest.raises(InputError, match="backend"):
        with open_backend("threads"):
            pass


def _weights_payload():
    w0 = np.array([0.2, 0.3, 0.5, 0.6, 0.4])
    return (w0, [np.arange(3), np.arange(3, 5)], 20.0)


@pytest.fixture(scope="module")
def small_study():
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    regions = list(pd.unique(d["panel"]["region"]))[:10]
    panel = d["panel"][d["panel"]["region"].isin(regions)].reset_index(drop=True)
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    r = compute_weights(panel, ind)
    return r.normalized, r.weights


def _run(be, normalized, weights, seed):
    res = weight_sensitivity(normalized, weights, draws=60, concentration=10.0, seed=seed, chunk_size=16, backend=be)
    return res


@pytest.mark.dask
def test_identical_results_on_every_backend(small_study):
    """In-process, 2 local processes, and a real distributed.LocalCluster with 1 and 2 workers."""
    normalized, weights = small_study
    ref = _run(InProcessBackend(), normalized, weights, seed=11)
    draws_ref = np.vstack(run_chunks(_draw_chunk, _weights_payload(), 37, seed=11, chunk_size=8))
    backends = [ProcessBackend(2)]
    pytest.importorskip("distributed")
    for n in (1, 2):
        backends.append(DaskBackend(workers=n))
    try:
        for be in backends:
            got = _run(be, normalized, weights, seed=11)
            pd.testing.assert_frame_equal(got.table, ref.table, check_exact=True, obj=repr(be))
            pd.testing.assert_frame_equal(got.regions, ref.regions, check_exact=True, obj=repr(be))
            pd.testing.assert_frame_equal(got.draws, ref.draws, check_exact=True, obj=repr(be))
            d = np.vstack(run_chunks(_draw_chunk, _weights_payload(), 37, seed=11, chunk_size=8, backend=be))
            assert np.array_equal(d, draws_ref), repr(be)
        # a different seed changes the numbers (on the cluster too)
        other = _run(backends[-1], normalized, weights, seed=12)
        assert not np.array_equal(other.draws["gamma2"].to_numpy(), ref.draws["gamma2"].to_numpy())
    finally:
        for be in backends:
            be.close()


def test_results_do_not_depend_on_the_number_of_chunks_in_flight(small_study):
    """Chunk size fixed: splitting the run over more workers cannot change any draw."""
    w = _weights_payload()
    a = np.vstack(run_chunks(_draw_chunk, w, 100, seed=4, chunk_size=10))
    tasks = plan_chunks(100, 4, chunk_size=10)
    b = np.vstack([_draw_chunk(w, t) for t in reversed(tasks)][::-1])
    assert np.array_equal(a, b)
    c = np.vstack(run_chunks(_draw_chunk, w, 100, seed=5, chunk_size=10))
    assert not np.array_equal(a, c)


@pytest.mark.dask
def test_dask_successive_runs_with_equal_payloads():
    """Equal data sent by successive runs must not share (and lose) one scattered key."""
    pytest.importorskip("distributed")
    be = DaskBackend(workers=1)
    try:
        ref = np.vstack(run_chunks(_draw_chunk, _weights_payload(), 24, seed=3, chunk_size=8))
        for _ in range(4):
            got = np.vstack(run_chunks(_draw_chunk, _weights_payload(), 24, seed=3, chunk_size=8, backend=be))
            assert np.array_equal(got, ref)
    finally:
        be.close()


def test_chunks_do_not_depend_on_the_blas_thread_count():
    """Dask workers run single-threaded BLAS; in-process chunks of a 31-region study must give the same bits.

    With two BLAS threads OpenBLAS splits the products of a 250-draw chunk differently from one thread,
    which changed the last bits of the sensitivity draws (and so h_sd) between in-process and Dask runs.
    """
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    r = compute_weights(d["panel"], ind)
    with threadpoolctl.threadpool_limits(2):
        many = weight_sensitivity(r.normalized, r.weights, draws=250, seed=5, chunk_size=250)
    with threadpoolctl.threadpool_limits(1):
        one = weight_sensitivity(r.normalized, r.weights, draws=250, seed=5, chunk_size=250)
    pd.testing.assert_frame_equal(many.draws, one.draws, check_exact=True)
    pd.testing.assert_frame_equal(many.regions, one.regions, check_exact=True)


@pytest.mark.dask
def test_unreachable_scheduler_is_a_user_error(monkeypatch):
    """A wrong --scheduler address names the address and the fix (CLI exit 2), not an internal error."""
    pytest.importorskip("distributed")
    import socket

    import nqpspatial.backends as B

    monkeypatch.setattr(B, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=rf"tcp://127\.0\.0\.1:{port}.*--scheduler"):
        with open_backend("auto", scheduler=f"tcp://127.0.0.1:{port}"):
            pass


def _thread_name(payload, task):
    import threading

    return task.index, threading.current_thread().name


def test_in_process_threads_run_only_marked_chunk_functions(small_study):
    """Threaded and sequential in-process runs give the same bits; unmarked functions stay on the caller's thread."""
    import threading

    from nqpspatial.backends import threadsafe
    from nqpspatial.haken import HakenModel, simulate_panel

    normalized, weights = small_study
    one = weight_sensitivity(normalized, weights, draws=600, seed=3, chunk_size=50, backend=InProcessBackend(1))
    two = weight_sensitivity(normalized, weights, draws=600, seed=3, chunk_size=50, backend=InProcessBackend(2))
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    pd.testing.assert_frame_equal(one.regions, two.regions, check_exact=True)
    panel = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=10, q1_start=(0.3, 0.6), seed=7)
    fits = [HakenModel(panel, "q1", "q2").fit(bootstrap=999, seed=1, backend=InProcessBackend(k)) for k in (1, 2)]
    pd.testing.assert_frame_equal(fits[0].estimates, fits[1].estimates, check_exact=True)
    main = threading.current_thread().name
    tasks = plan_chunks(8, 1, chunk_size=1)
    assert {name for _, name in InProcessBackend(2).map(_thread_name, None, tasks)} == {main}
    marked = threadsafe(lambda payload, task: _thread_name(payload, task))
    out = InProcessBackend(2).map(marked, None, tasks)
    assert [i for i, _ in out] == list(range(8)) and main not in {name for _, name in out}
    with pytest.raises(InputError, match="threads"):
        InProcessBackend(0)
