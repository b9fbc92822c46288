"""Execution backends for Monte Carlo, bootstrap and permutation work.

Work of ``n`` independent draws is split into chunks of a *fixed* size
(:data:`DEFAULT_CHUNK`, independent of the number of workers).  Chunk ``i``
draws its random numbers from its own Generator, the ``i``-th child of the
run's :class:`numpy.random.SeedSequence` (``SeedSequence(seed).spawn(...)[i]``).
A chunk's result therefore depends only on the seed and the chunk index, so
the same seed gives identical results on every backend and with any number
of workers, and memory is bounded by one chunk per worker.  Every chunk runs
with single-threaded BLAS/OpenMP (``threadpoolctl``), as Dask workers do:
a multi-threaded BLAS splits a matrix product differently and changes the
last bits of the result.

Backends
--------
``inprocess`` (default)
    Chunks run one after another in the calling process; each chunk is
    vectorised.
``processes``
    A :class:`concurrent.futures.ProcessPoolExecutor` with ``workers``
    local processes; the shared payload is sent once per worker.
``dask``
    A ``distributed`` cluster: ``scheduler="tcp://host:port"`` connects to a
    running scheduler, ``workers=N`` starts a
    ``distributed.LocalCluster(n_workers=N, threads_per_worker=1,
    processes=True)``.  The payload is scattered to every worker once.

Usage::

    from nqpspatial.backends import open_backend, run_chunks

    def chunk_fn(payload, task):          # module-level (picklable)
        rng = task.rng()
        return rng.normal(size=(task.size, payload["k"])).sum(axis=0)

    with open_backend("dask", workers=2) as be:
        parts = run_chunks(chunk_fn, {"k": 3}, 10_000, seed=1, backend=be)

The pipeline passes ``nqpspatial run --workers N`` / ``--scheduler ADDRESS``
through ``[run] workers`` and ``[run] scheduler``; :func:`backend_from_config`
reads them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import InputError

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_THREADS",
    "BACKENDS",
    "ChunkTask",
    "plan_chunks",
    "seed_sequence",
    "chunk_rng",
    "InProcessBackend",
    "ProcessBackend",
    "DaskBackend",
    "open_backend",
    "backend_from_config",
    "shared_backends",
    "run_chunks",
]

#: Default number of draws per chunk (fixed: results never depend on the worker count).
DEFAULT_CHUNK = 250
#: Names accepted by :func:`open_backend`.
BACKENDS = ("auto", "inprocess", "processes", "dask")
#: How long :class:`DaskBackend` tries to reach a scheduler given by address.
CONNECT_TIMEOUT = "30s"


# --------------------------------------------------------------------------- seeds and chunks
def seed_sequence(seed) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` behind ``seed``.

    Parameters
    ----------
    seed : int, sequence of int, numpy.random.SeedSequence or numpy.random.Generator
        A Generator contributes one 63-bit integer drawn from it (so passing
        the same Generator state gives the same sequence).

    Returns
    -------
    numpy.random.SeedSequence
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    if seed is None:
        raise InputError("a seed is required for reproducible chunked work: pass an int or a Generator")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.SeedSequence(int(seed))
    try:
        return np.random.SeedSequence([int(s) for s in seed])
    except (TypeError, ValueError):
        raise InputError(
            f"seed must be an int, a list of ints, a SeedSequence or a Generator, got {type(seed).__name__}"
        ) from None


def chunk_rng(seed, index: int) -> np.random.Generator:
    """Generator of chunk ``index``: the ``index``-th child of ``seed_sequence(seed)``.

    Equal to ``np.random.default_rng(seed_sequence(seed).spawn(index + 1)[index])``
    for a fresh sequence, but needs no knowledge of the other chunks.
    """
    ss = seed_sequence(seed)
    child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(index),), pool_size=ss.pool_size)
    return np.random.default_rng(child)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of draws.

    Attributes
    ----------
    index : int
        Chunk number (0-based).
    start, stop : int
        Draws ``start .. stop - 1`` of the whole run.
    entropy, spawn_key, pool_size
        The run's seed sequence (see :meth:`rng`).
    """

    index: int
    start: int
    stop: int
    entropy: Any
    spawn_key: tuple
    pool_size: int

    @property
    def size(self) -> int:
        """Number of draws in the chunk."""
        return self.stop - self.start

    def rng(self) -> np.random.Generator:
        """The chunk's Generator (depends on the seed and :attr:`index` only)."""
        parent = np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key, pool_size=self.pool_size)
        return chunk_rng(parent, self.index)


def plan_chunks(n_items: int, seed, chunk_size: int = DEFAULT_CHUNK) -> list[ChunkTask]:
    """Split ``n_items`` draws into fixed-size chunks with their seeds.

    Parameters
    ----------
    n_items : int
        Total number of draws (>= 0).
    seed : int, SeedSequence or Generator
        See :func:`seed_sequence`.
    chunk_size : int
        Draws per chunk (the last chunk may be smaller).

    Returns
    -------
    list of ChunkTask
    """
    n_items, chunk_size = int(n_items), int(chunk_size)
    if n_items < 0:
        raise InputError(f"the number of draws must be >= 0, got {n_items}")
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    ss = seed_sequence(seed)
    return [
        ChunkTask(i, s, min(s + chunk_size, n_items), ss.entropy, tuple(ss.spawn_key), ss.pool_size)
        for i, s in enumerate(range(0, n_items, chunk_size))
    ]


# --------------------------------------------------------------------------- backends
def _one_thread():
    """Context limiting BLAS/OpenMP pools to one thread (a chunk's bits must not depend on the core count)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn, a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _call_chunk(fn, payload, task):
    """``fn(payload, task)`` with single-threaded BLAS (the task function of every backend)."""
    with _one_thread():
        return fn(payload, task)


#: Threads of the in-process backend by default (at most the usable cores): two chunks in flight at a
#: time bound the memory of the largest chunks (the wild bootstrap's are about 300 MB at county scale).
DEFAULT_THREADS = 2


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def threadsafe(fn: Callable) -> Callable:
    """Mark a chunk function that the in-process backend may run on several threads at once.

    The function must only read its payload (no cache filled on first use) and spend most of its time
    in NumPy, SciPy or BLAS calls, which release the interpreter lock.  Its results do not depend on the
    thread that runs it: every chunk draws from its own generator and runs with single-threaded BLAS.
    """
    fn.nqpspatial_threadsafe = True
    return fn


class InProcessBackend:
    """Run chunks in this process (the default).

    Chunk functions marked with :func:`threadsafe` run on up to ``threads`` threads (default
    :data:`DEFAULT_THREADS`, at most :func:`usable_cores`); the others one after another.  The results
    are the same either way (in chunk order, each chunk from its own generator, single-threaded BLAS).

    Parameters
    ----------
    threads : int, optional
        Threads for thread-safe chunk functions; 1 runs every chunk one after another.
    """

    name = "inprocess"
    workers = 1

    def __init__(self, threads: int | None = None):
        self.threads = int(threads) if threads is not None else min(DEFAULT_THREADS, usable_cores())
        if self.threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")

    def map(self, fn: Callable, payload, tasks: Sequence[ChunkTask], progress=None) -> list:
        """``[fn(payload, task) for task in tasks]`` in task order."""
        n = min(self.threads, len(tasks))
        with _one_thread():  # process-wide: set once here, not per chunk, when chunks run on threads
            if n > 1 and getattr(fn, "nqpspatial_threadsafe", False):
                from concurrent.futures import ThreadPoolExecutor

                pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="nqpspatial-chunk")
                try:
                    futures = [pool.submit(fn, payload, t) for t in tasks]
                    it = futures if progress is None else progress(futures, total=len(futures), desc="chunks")
                    return [f.result() for f in it]
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
            it = tasks if progress is None else progress(tasks, total=len(tasks), desc="chunks")
            return [fn(payload, t) for t in it]

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "<InProcessBackend>"


_PAYLOAD: Any = None


def _init_worker(payload) -> None:
    global _PAYLOAD
    _PAYLOAD = payload


def _call_in_worker(fn, task):
    return _call_chunk(fn, _PAYLOAD, task)


class ProcessBackend:
    """Local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`).

    Parameters
    ----------
    workers : int, optional
        Number of processes (default: the number of CPUs).
    """

    name = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")

    def map(self, fn: Callable, payload, tasks: Sequence[ChunkTask], progress=None) -> list:
        """Run ``fn(payload, task)`` for every task in a fresh pool; results in task order."""
        from concurrent.futures import ProcessPoolExecutor

        if not tasks:
            return []
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)), initializer=_init_worker, initargs=(payload,)
        ) as pool:
            futures = [pool.submit(_call_in_worker, fn, t) for t in tasks]
            it = futures if progress is None else progress(futures, total=len(futures), desc="chunks")
            return [f.result() for f in it]

    def close(self) -> None:
        """Pools are closed after every :meth:`map`."""

    def __repr__(self) -> str:
        return f"<ProcessBackend workers={self.workers}>"


class DaskBackend:
    """A Dask ``distributed`` cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    workers : int, optional
        Without ``scheduler``: start a ``LocalCluster`` of this many
        single-threaded worker processes (default 2).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - distributed is a dependency of the test env
            raise InputError(
                'the dask backend (--workers / --scheduler) needs dask.distributed: pip install "nqpspatial[dask]"'
            ) from None
        self._cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); check the address "
                    "given with --scheduler or [run] scheduler (e.g. tcp://host:8786) and that the "
                    "scheduler is running, or use --workers N for a local cluster",
                    source="--scheduler",
                ) from None
        else:
            n = int(workers or 2)
            if n < 1:
                raise InputError(f"workers must be >= 1, got {workers}")
            self._cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
            )
            self.client = Client(self._cluster)
        self.scheduler = scheduler
        self.workers = len(self.client.scheduler_info().get("workers", {})) or workers

    def map(self, fn: Callable, payload, tasks: Sequence[ChunkTask], progress=None) -> list:
        """Scatter ``payload`` to every worker once, run the tasks, gather in task order."""
        if not tasks:
            return []
        # hash=False: a fresh key per call.  With content hashing, equal data sent
        # by two successive runs shares one key, and the scheduler may release it
        # (ending the first run) while the second run's tasks wait for it.
        shared = self.client.scatter(payload, broadcast=True, hash=False)
        futures = [self.client.submit(_call_chunk, fn, shared, t, pure=False) for t in tasks]
        return self.client.gather(futures)

    def close(self) -> None:
        """Close the client (and the local cluster it started)."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster({self.workers} workers)"
        return f"<DaskBackend {where}>"


@contextlib.contextmanager
def open_backend(kind: str = "auto", *, workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """Open an execution backend for the duration of a ``with`` block.

    Parameters
    ----------
    kind : {"auto", "inprocess", "processes", "dask"}
        ``"auto"``: Dask when ``scheduler`` or ``workers`` is given (as
        ``nqpspatial run --scheduler/--workers``), else in-process.
    workers : int, optional
        Processes (``processes``) or LocalCluster workers (``dask``).
    scheduler : str, optional
        Address of a running Dask scheduler.

    Yields
    ------
    InProcessBackend, ProcessBackend or DaskBackend
    """
    if kind not in BACKENDS:
        raise InputError(f"backend = {kind!r}: use one of {', '.join(BACKENDS)}", source="config")
    if kind == "auto":
        kind = "dask" if (scheduler or workers) else "inprocess"
    key = (kind, workers, scheduler)
    if _SHARED is not None and key in _SHARED:
        yield _SHARED[key]
        return
    if kind == "inprocess":
        be = InProcessBackend()
    elif kind == "processes":
        be = ProcessBackend(workers)
    else:
        be = DaskBackend(scheduler=scheduler, workers=workers)
    if _SHARED is not None:  # kept open for the rest of the run, closed by shared_backends()
        _SHARED[key] = be
        yield be
        return
    try:
        yield be
    finally:
        be.close()


_SHARED: dict | None = None  # backends kept open by shared_backends(), keyed by (kind, workers, scheduler)


@contextlib.contextmanager
def shared_backends() -> Iterator[None]:
    """Reuse each backend opened inside the block, and close them all at its end.

    The pipeline runs its stages inside this block, so ``--workers N``
    starts one local cluster per run rather than one per stage.  Results do
    not change: every chunk draws from its own seed whichever worker runs it.
    Nested use is a no-op.
    """
    global _SHARED
    if _SHARED is not None:
        yield
        return
    _SHARED = {}
    try:
        yield
    finally:
        opened, _SHARED = _SHARED, None
        for be in opened.values():
            be.close()


def backend_from_config(config: dict, kind: str = "auto"):
    """:func:`open_backend` with ``[run] workers`` and ``[run] scheduler`` of a resolved config."""
    run = (config or {}).get("run", {}) or {}
    return open_backend(kind, workers=run.get("workers"), scheduler=run.get("scheduler"))


def run_chunks(
    fn: Callable, payload, n_items: int, *, seed, chunk_size: int = DEFAULT_CHUNK, backend=None, progress=None
) -> list:
    """Run ``fn(payload, task)`` over fixed-size chunks of ``n_items`` draws.

    Parameters
    ----------
    fn : callable
        Module-level function ``fn(payload, task: ChunkTask)``; must draw its
        randomness from ``task.rng()`` only.
    payload : object
        Read-only data shared by all chunks (picklable for the process and
        Dask backends).
    n_items : int
        Number of draws.
    seed : int, SeedSequence or Generator
        The run's seed (see :func:`seed_sequence`).
    chunk_size : int
        Draws per chunk; keep it fixed to keep results reproducible.
    backend : backend object, optional
        From :func:`open_backend`; default in-process.
    progress : callable, optional
        ``progress(iterable, total=, desc=)`` wrapper (in-process and processes).

    Returns
    -------
    list
        One result per chunk, in chunk order.
    """
    tasks = plan_chunks(n_items, seed, chunk_size)
    be = backend if backend is not None else InProcessBackend()
    return be.map(fn, payload, tasks, progress=progress)
