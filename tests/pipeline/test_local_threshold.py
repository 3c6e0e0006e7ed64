"""A small local study runs in-process; a large one gets a Dask cluster; the choice is recorded."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import dmnpharm.execution._dispatch as dispatch_module
from dmnpharm import AnalysisConfig, Execution
from dmnpharm.execution import RunCache, Stage, dispatch
from dmnpharm.execution._cluster import (
    IN_PROCESS_THREADS,
    THREAD_SPEEDUP,
    THREADS_BREAKEVEN_SECONDS,
    WORKER_EFFICIENCY,
    EngineChoice,
    breakeven_seconds,
    choose_engine,
)
from dmnpharm.execution._dispatch import plan_engine
from dmnpharm.pipeline._tasks import RunTask
from dmnpharm.pipeline._work import RUN_STAGE, estimated_run_seconds


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the machine look like the 2-core one the threshold was measured on."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


@pytest.fixture
def no_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process one that cannot fork workers (macOS, Windows, a notebook's threads)."""
    import dmnpharm.execution._cluster as cluster_module

    monkeypatch.setattr(cluster_module, "can_fork", lambda: False)


def test_the_choice_follows_the_mode_and_the_estimated_work(
    two_cores: None, no_fork: None
) -> None:
    """Without forking: two threads below the measured breakeven, a cluster above it."""
    del two_cores, no_fork
    local = Execution(scheduler="local")
    breakeven = breakeven_seconds(2)
    assert breakeven == pytest.approx(THREADS_BREAKEVEN_SECONDS)
    small = choose_engine(local, 40, breakeven * 0.9)
    assert small.in_process
    assert small.threads == IN_PROCESS_THREADS == 2
    assert "below" in small.reason
    large = choose_engine(local, 40, breakeven * 1.1)
    assert large.engine == "dask.distributed"
    assert (large.workers, large.threads) == (2, 1)
    one = choose_engine(local, 1, 1000.0)  # one task: one worker, no gain
    assert (one.in_process, one.threads) == (True, 1)
    assert choose_engine(local, 40, None).engine == "dask.distributed"
    serial = choose_engine(Execution(scheduler="synchronous"), 40, 1e6)
    assert (serial.in_process, serial.threads) == (True, 1)
    threads = choose_engine(Execution(scheduler="threads"), 40, 1e6)
    assert (threads.in_process, threads.threads) == (True, 2)
    assert choose_engine(Execution(scheduler="threads", workers=3), 40, 1.0).threads == 3
    assert choose_engine(Execution(scheduler="threads", workers=3), 2, 1.0).threads == 2
    assert choose_engine(Execution(scheduler="local", workers=2), 40, 0.1).engine == (
        "dask.distributed"
    )
    assert choose_engine(Execution(scheduler="tcp://h:1"), 40, 0.1).engine == "dask.distributed"
    record = small.describe()
    assert record["engine"] == "in-process"
    assert record["threads"] == 2
    assert record["estimated_run_s"] == round(breakeven * 0.9, 1)
    assert large.describe()["threads"] is None


def test_more_workers_lower_the_breakeven() -> None:
    """A cluster's share of the work shrinks with more workers; the threads' does not."""
    two, four, sixteen = breakeven_seconds(2), breakeven_seconds(4), breakeven_seconds(16)
    assert two > four > sixteen > 0
    # The closed form: W2 (1/S - 1/(2E)) / (1/S - 1/(wE)).
    speed, share = THREAD_SPEEDUP, WORKER_EFFICIENCY
    expected = two * (1 / speed - 1 / (2 * share)) / (1 / speed - 1 / (4 * share))
    assert four == pytest.approx(expected)


def _task(kind: str, volumes: int, atlas: str = "seitzman300") -> RunTask:
    config = AnalysisConfig(atlas=atlas)
    return RunTask("run", "run.tsv", kind, "run.tsv", 2.0, config, n_volumes=volumes)


def test_the_run_estimate_grows_with_volumes_regions_and_images() -> None:
    """The measured model: ~0.1 s for 200 volumes x 300 regions; images add extraction."""
    roi = estimated_run_seconds(_task("roi", 200))
    assert 0.1 < roi < 0.2
    assert estimated_run_seconds(_task("roi", 400)) > roi
    assert estimated_run_seconds(_task("roi", 200, "dosenbach160")) < roi
    assert estimated_run_seconds(_task("bids", 300)) == pytest.approx(
        estimated_run_seconds(_task("roi", 300)) + 1.0
    )
    plan = plan_engine([_task("roi", 200)] * 80, RUN_STAGE, Execution(scheduler="synchronous"))
    assert plan.estimated_seconds == pytest.approx(80 * roi)


def _square(task: int, reusable: Any) -> int:
    del reusable
    return task * task


def _keys(task: int, cache: RunCache) -> tuple[str | None, str]:
    return None, cache.key("square", {"task": task})


def _first(value: Any, *_: Any) -> Any:
    return value


def _nothing(*_: Any) -> None:
    return None


def _always(*_: Any) -> bool:
    return True


def _stage(seconds_per_task: float) -> Stage:
    return Stage(
        name="squares",
        work=_square,
        keys=_keys,
        slim=_first,
        reusable=_nothing,
        killed=_nothing,
        succeeded=_always,
        outcome_type=int,
        reusable_type=int,
        cost=lambda _task: seconds_per_task,
    )


def test_dispatch_starts_no_cluster_below_the_threshold(
    two_cores: None, no_fork: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without forking: below the breakeven the local loop computes; above it a cluster."""
    del two_cores, no_fork
    started: list[int] = []

    @contextlib.contextmanager
    def fake_client(execution: Execution, n_tasks: int) -> Iterator[None]:
        del execution
        started.append(n_tasks)
        yield None  # compute in-process all the same: only whether it was asked matters

    monkeypatch.setattr(dispatch_module, "client", fake_client)
    local = Execution(scheduler="local")
    tasks = list(range(10))
    cheap = dict(dispatch(tasks, _stage(0.1), local, RunCache(tmp_path / "a")))
    assert cheap == {t: t * t for t in tasks}
    assert started == []
    costly = dict(dispatch(tasks, _stage(10.0), local, RunCache(tmp_path / "b")))
    assert costly == cheap
    assert started == [10]
    started.clear()
    again = dict(dispatch(tasks, _stage(10.0), local, RunCache(tmp_path / "b")))
    assert again == cheap
    assert started == []  # everything cached: no cluster either way


def test_the_choice_is_the_same_for_an_interrupted_and_a_resumed_study(
    two_cores: None, no_fork: None
) -> None:
    """The whole study decides, not what is left to compute: provenance stays identical."""
    del two_cores, no_fork
    tasks = [_task("roi", 200)] * 80
    local = Execution(scheduler="local")
    first = plan_engine(tasks, RUN_STAGE, local)
    assert isinstance(first, EngineChoice)
    assert first == plan_engine(tasks, replace(RUN_STAGE), local)
    assert (first.engine, first.threads) == ("in-process", 2)  # the demo's 80 runs: ~8 s
    assert plan_engine(tasks * 25, RUN_STAGE, local).engine == "dask.distributed"


class _Future:
    def __init__(self, value: Any, client: _Client) -> None:
        self.value, self.client = value, client

    def result(self) -> Any:
        return self.value

    def release(self) -> None:
        self.client.in_flight -= 1


class _Client:
    """Runs each submitted task at once; counts the tasks submitted and not yet released."""

    def __init__(self) -> None:
        self.in_flight = self.most = 0

    def submit(self, work: Any, task: Any, reusable: Any, **_: Any) -> _Future:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        return _Future(work(task, reusable), self)

    def nthreads(self) -> dict[str, int]:
        return {"worker-1": 1, "worker-2": 1}


class _AsCompleted:
    def __init__(self, futures: list[_Future]) -> None:
        self.queue = list(futures)

    def add(self, future: _Future) -> None:
        self.queue.append(future)

    def __iter__(self) -> Iterator[_Future]:
        while self.queue:
            yield self.queue.pop(0)


def test_only_a_window_of_tasks_is_in_flight_on_workers(
    no_fork: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two worker threads: at most 8 tasks submitted and not yet fetched, all 50 computed."""
    import distributed

    del no_fork
    monkeypatch.setattr(distributed, "as_completed", _AsCompleted)
    fake = _Client()

    @contextlib.contextmanager
    def fake_client(execution: Execution, n_tasks: int) -> Iterator[_Client]:
        del execution, n_tasks
        yield fake

    monkeypatch.setattr(dispatch_module, "client", fake_client)
    tasks = list(range(50))
    got = dict(dispatch(tasks, _stage(10.0), Execution(scheduler="local"), RunCache(tmp_path)))
    assert got == {t: t * t for t in tasks}
    assert fake.most == 2 * dispatch_module.IN_FLIGHT_PER_THREAD == 8
    assert fake.in_flight == 0


def test_a_local_study_of_any_size_forks_its_workers_where_it_can(
    two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where this process can fork: forked processes, one per core, at any size; recorded so."""
    del two_cores
    import dmnpharm.execution._cluster as cluster_module

    local = Execution(scheduler="local")
    monkeypatch.setattr(cluster_module, "can_fork", lambda: True)
    for estimate in (1.0, 1e6, None):
        forked = choose_engine(local, 40, estimate)
        assert (forked.in_process, forked.threads, forked.processes) == (True, 2, True)
        assert "forked" in forked.reason
        assert forked.describe()["forked_processes"] is True
    assert choose_engine(local, 1, 1e6).threads == 1  # one task: one after another
    monkeypatch.setattr(cluster_module, "can_fork", lambda: False)
    threads = choose_engine(local, 40, 1.0)
    assert (threads.threads, threads.processes) == (2, False)
    assert threads.describe()["forked_processes"] is False
    assert choose_engine(local, 40, 1e6).describe()["forked_processes"] is None
    assert choose_engine(local, 40, None).engine == "dask.distributed"
    # Asked-for threads stay threads; an explicit number of workers gets a cluster, and so
    # does a memory limit per worker, which forked workers could not enforce.
    monkeypatch.setattr(cluster_module, "can_fork", lambda: True)
    assert not choose_engine(Execution(scheduler="threads"), 40, 1e6).processes
    assert choose_engine(Execution(scheduler="local", workers=2), 40, 1e6).engine == (
        "dask.distributed"
    )
    limited = choose_engine(Execution(scheduler="local", memory_limit="2GiB"), 40, 1.0)
    assert (limited.engine, limited.workers) == ("dask.distributed", 2)
    assert "memory limit of 2GiB" in limited.reason


def test_dispatch_starts_no_cluster_where_it_can_fork(
    two_cores: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """However costly the study, forked workers compute it: no cluster is asked for."""
    del two_cores
    import dmnpharm.execution._cluster as cluster_module

    def no_cluster(execution: Execution, n_tasks: int) -> Iterator[None]:
        del execution
        raise AssertionError(f"a cluster was asked for ({n_tasks} tasks)")

    monkeypatch.setattr(dispatch_module, "client", no_cluster)
    monkeypatch.setattr(cluster_module, "can_fork", lambda: True)
    tasks = list(range(30))
    got = dict(dispatch(tasks, _stage(1e4), Execution(scheduler="local"), RunCache(tmp_path)))
    assert got == {t: t * t for t in tasks}
