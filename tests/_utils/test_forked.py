"""Worker processes forked from this one: when allowed, and an ordered map over them."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from pathlib import Path

import pytest

from dmnpharm._utils._forked import (
    WORKER_OOM_SCORE_ADJ,
    can_fork,
    fork_pool,
    forked_map,
    forking,
    start_worker,
    usable_cores,
)

#: The process the tests run in (a forked worker inherits the value, not the pid).
_HERE = os.getpid()

needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only"
)


def _square_and_pid(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def _broken_at(bad: int, item: int) -> int:
    if item == bad:
        raise ValueError(f"item {item} is broken")
    return item


def _dies_once_forked(item: int) -> int:
    if item == 7 and os.getpid() != _HERE:
        os._exit(3)  # a worker killed mid-task
    return -item


@needs_fork
def test_items_are_mapped_in_order_on_forked_workers() -> None:
    """The serial comprehension's results, computed by two other processes."""
    got = forked_map(_square_and_pid, list(range(40)), workers=2, chunk=4)
    assert [value for value, _ in got] == [i * i for i in range(40)]
    pids = {pid for _, pid in got}
    assert _HERE not in pids
    assert 1 <= len(pids) <= 2


def test_few_items_or_one_worker_stay_here() -> None:
    """Fewer than two chunks, or one worker: computed in this process."""
    for items, workers in ((list(range(7)), 2), (list(range(40)), 1)):
        got = forked_map(_square_and_pid, items, workers=workers, chunk=4)
        assert got == [(i * i, _HERE) for i in items]


def test_the_first_error_is_raised_here() -> None:
    """An exception in a worker reaches the caller as it would one after another."""
    with pytest.raises(ValueError, match="item 13 is broken"):
        forked_map(functools.partial(_broken_at, 13), list(range(40)), workers=2, chunk=4)


@needs_fork
def test_a_dead_worker_means_checking_again_here(caplog: pytest.LogCaptureFixture) -> None:
    """A worker killed mid-chunk: everything is computed here instead, with a warning."""
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        got = forked_map(_dies_once_forked, list(range(30)), workers=2, chunk=3)
    assert got == [-i for i in range(30)]
    assert "a worker process died" in caplog.text


def _oom_score() -> int:
    return int(Path("/proc/self/oom_score_adj").read_text())


@needs_fork
def test_the_kernel_kills_a_worker_before_this_process() -> None:
    """A forked worker's oom_score_adj is this process's plus WORKER_OOM_SCORE_ADJ (<= 1000)."""
    here = _oom_score()
    pool = fork_pool(2)
    assert pool is not None
    with pool, forking():
        worker = pool.submit(_oom_score).result()
    assert worker == min(1000, here + WORKER_OOM_SCORE_ADJ)
    assert _oom_score() == here  # this process is left as it was


def test_a_worker_is_prepared_even_where_its_score_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No /proc to write (or no permission): preparing a worker does not fail."""
    import dmnpharm._utils._forked as forked_module

    class _Unwritable:
        def __init__(self, *_: object) -> None:
            pass

        def read_text(self) -> str:
            raise PermissionError("read-only /proc")

    monkeypatch.setattr(forked_module, "keep_freed_memory", lambda: False)
    monkeypatch.setattr(forked_module, "Path", _Unwritable)
    start_worker()  # nothing raised, nothing changed
    if sys.platform.startswith("linux"):
        assert isinstance(_oom_score(), int)


def test_no_fork_while_another_thread_runs(another_python_thread: threading.Thread) -> None:
    """Another Python thread (it could hold a lock at the fork): no fork, same results."""
    assert another_python_thread.is_alive()
    assert not can_fork()
    got = forked_map(_square_and_pid, list(range(40)), workers=2, chunk=4)
    assert got == [(i * i, _HERE) for i in range(40)]
    assert usable_cores() >= 1


def _no_semaphores(*_: object, **__: object) -> None:
    raise OSError("[Errno 38] Function not implemented (no /dev/shm)")


def test_without_working_semaphores_everything_runs_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A system whose process queues cannot be made: mapped here, and the log says why."""
    import dmnpharm._utils._forked as forked_module

    monkeypatch.setattr(forked_module, "ProcessPoolExecutor", _no_semaphores)
    monkeypatch.setattr(forked_module, "can_fork", lambda: True)
    with caplog.at_level(logging.INFO, logger="dmnpharm"):
        got = forked_map(_square_and_pid, list(range(40)), workers=2, chunk=4)
    assert got == [(i * i, _HERE) for i in range(40)]
    assert "no worker processes here (OSError" in caplog.text
