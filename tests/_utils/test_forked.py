"""Worker processes forked from this one: when allowed, and an ordered map over them."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading

import pytest

from dmnpharm._utils._forked import can_fork, forked_map, usable_cores

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
