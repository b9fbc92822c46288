"""The background writer of a run's files (``nqpspatial.pipeline._Writer``): order, errors, cancellation."""

from __future__ import annotations

import errno
import threading

import pytest

from nqpspatial.pipeline import _Writer


def test_jobs_run_in_order_and_results_are_boxed():
    w = _Writer()
    seen, box = [], []
    for i in range(50):
        w.submit(seen.append, i)
    w.submit(lambda: "done", box=box)
    w.wait()
    w.close()
    assert seen == list(range(50)) and box == ["done"]


def test_an_error_reaches_the_main_thread_and_stops_later_jobs():
    w = _Writer()
    seen = []

    def fail():
        raise OSError(errno.ENOSPC, "No space left on device")

    w.submit(fail)
    w.submit(seen.append, 1)  # queued behind the failure: not run
    with pytest.raises(OSError) as info:
        w.wait()
    assert info.value.errno == errno.ENOSPC and seen == []
    w.close()


def test_the_next_submission_raises_a_finished_jobs_error():
    w = _Writer()

    def fail():
        raise ValueError("bad table")

    w.submit(fail)
    w._jobs.join()
    with pytest.raises(ValueError, match="bad table"):
        w.submit(print, "never")
    w.close()


def test_close_with_cancel_finishes_the_current_job_and_drops_the_rest():
    w = _Writer()
    started, release = threading.Event(), threading.Event()
    seen = []

    def slow():
        started.set()
        release.wait(5)
        seen.append("slow")

    w.submit(slow)
    for i in range(5):
        w.submit(seen.append, i)
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    w.close(cancel=True)  # returns only after the running job ended
    assert seen == ["slow"] and not w._thread.is_alive()
