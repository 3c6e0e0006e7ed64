"""Tasks computed without a cluster: in order, on threads or on forked worker processes."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dmnpharm.execution._local import (
    IN_FLIGHT_PER_THREAD,
    POOL_RESTARTS,
    can_fork,
    compute_here,
)

#: The process the tests run in (a forked worker inherits the value, not the pid).
_HERE = os.getpid()

needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only"
)


def _slow_square(task: int, reusable: Any) -> int:
    del reusable
    time.sleep(0.002 * (task % 3))  # finish out of order
    if task == 13:
        raise ValueError("task 13 is broken")
    return task * task


def _pid(task: int, reusable: Any) -> tuple[int, int]:
    del reusable
    time.sleep(0.01)
    return task, os.getpid()


def _dies_when_forked(task: int, reusable: Any) -> int:
    del reusable
    if task == 5 and os.getpid() != _HERE:
        os._exit(3)  # a worker killed mid-task (by the kernel's OOM killer, say)
    return task * task


def _dies_first_time(task: int, marker: str) -> tuple[int, int]:
    """Kill the worker the first time task 5 runs anywhere (the marker file records it)."""
    if task == 5 and not Path(marker).exists():
        Path(marker).touch()
        os._exit(3)
    return task * task, os.getpid()


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_outcomes_come_in_order_from_a_window(processes: bool) -> None:
    """Three workers: outcomes in the tasks' order, at most 12 started ahead, as one by one."""
    started: list[int] = []

    def work(index: int, reusable: Any) -> tuple[Any, ...]:
        started.append(index)  # called here, as each task starts
        return _slow_square, index, reusable

    todo = [(i, None) for i in range(12)]
    consumed = []
    for index, outcome in compute_here(todo, work, 3, processes=processes):
        # Never more than the window of 3 x 4 (and the one refilled) beyond those handed on.
        assert len(started) - len(consumed) <= 3 * IN_FLIGHT_PER_THREAD + 1
        consumed.append((index, outcome))
    serial = list(compute_here(todo, work, 1))
    assert consumed == serial == [(i, i * i) for i in range(12)]


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_a_failing_task_raises_at_its_turn_and_stops_the_rest(processes: bool) -> None:
    """Tasks before the broken one are handed on; later ones not yet started never run."""
    calls: list[int] = []

    def work(index: int, reusable: Any) -> tuple[Any, ...]:
        calls.append(index)
        return _slow_square, index, reusable

    handed: list[int] = []
    todo = [(i, None) for i in range(200)]
    outcomes = compute_here(todo, work, 2, processes=processes)
    with pytest.raises(ValueError, match="task 13 is broken"):
        handed.extend(index for index, _ in outcomes)
    assert handed == list(range(13))
    assert max(calls) < 13 + 2 * IN_FLIGHT_PER_THREAD + 2


@needs_fork
def test_processes_are_forked_from_this_one() -> None:
    """Each task runs in one of two other processes; none here."""
    assert can_fork()
    todo = [(i, None) for i in range(10)]
    got = list(compute_here(todo, lambda i, r: (_pid, i, r), 2, processes=True))
    assert [index for index, _ in got] == list(range(10))
    pids = {pid for _, (_, pid) in got}
    assert _HERE not in pids
    assert 1 <= len(pids) <= 2


@needs_fork
def test_a_dead_worker_process_is_replaced_by_new_forked_workers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed once: half as many are forked anew; every outcome comes, in order."""
    marker = str(tmp_path / "died")
    todo = [(i, None) for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        got = list(
            compute_here(todo, lambda i, _: (_dies_first_time, i, marker), 4, processes=True)
        )
    assert [(index, square) for index, (square, _) in got] == [(i, i * i) for i in range(20)]
    pids = [pid for _, (_, pid) in got]
    assert _HERE not in pids
    assert len(set(pids[5:])) <= 2  # from the death on: the two new workers' runs
    assert "forking 2 new worker processes" in caplog.text
    assert "on threads" not in caplog.text


@needs_fork
def test_a_dead_worker_process_leaves_its_runs_to_threads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A task that kills every forked worker: after the restarts, threads here finish it."""
    todo = [(i, None) for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        got = list(compute_here(todo, lambda i, r: (_dies_when_forked, i, r), 2, processes=True))
    assert got == [(i, i * i) for i in range(20)]
    assert caplog.text.count("forking 1 new worker process ") == POOL_RESTARTS
    assert f"died (out of memory?) {POOL_RESTARTS + 1} times" in caplog.text
    assert "on 1 thread in" in caplog.text


def test_no_fork_while_another_thread_runs(
    another_python_thread: threading.Thread, caplog: pytest.LogCaptureFixture
) -> None:
    """A second Python thread (which could hold a lock at the fork) means threads, logged."""
    assert another_python_thread.is_alive()
    todo = [(i, None) for i in range(6)]
    with caplog.at_level(logging.INFO, logger="dmnpharm"):
        got = list(compute_here(todo, lambda i, r: (_pid, i, r), 2, processes=True))
    assert {pid for _, (_, pid) in got} == {_HERE}
    assert "the runs go to threads, not forked processes" in caplog.text


def test_without_working_semaphores_the_runs_use_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process pool can be made here: the same outcomes, from threads of this process."""
    import dmnpharm._utils._forked as forked_module

    def no_pool(*_: object, **__: object) -> None:
        raise OSError("[Errno 38] Function not implemented")

    monkeypatch.setattr(forked_module, "ProcessPoolExecutor", no_pool)
    todo = [(i, None) for i in range(6)]
    got = list(compute_here(todo, lambda i, r: (_pid, i, r), 2, processes=True))
    assert [index for index, _ in got] == list(range(6))
    assert {pid for _, (_, pid) in got} == {_HERE}
