"""A local cluster started ahead: taken when its settings match, closed when it is not."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from dmnpharm.config import Execution
from dmnpharm.execution import _local
from dmnpharm.execution._cluster import cluster_ahead


class _FakeCluster:
    def __init__(self, settings: tuple[Any, ...]) -> None:
        self.settings = settings
        self.closed = False
        self.thread = threading.current_thread().name

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[_FakeCluster]:
    """Replace the real cluster start with a record of fake clusters."""
    made: list[_FakeCluster] = []

    def fake(workers: int, memory_limit: str | None, preload: Any = ()) -> _FakeCluster:
        made.append(_FakeCluster((workers, memory_limit, tuple(preload))))
        return made[-1]

    monkeypatch.setattr(_local, "local_cluster", fake)
    return made


def test_a_cluster_started_ahead_is_taken_once(started: list[_FakeCluster]) -> None:
    """It starts in a background thread; the first take with its settings gets it."""
    _local.start_ahead(2, None, ("json",))
    cluster = _local.take_ahead(2, None, ("json",))
    assert cluster is started[0]
    assert cluster.thread == "dmnpharm-cluster-ahead"
    assert not cluster.closed
    assert _local.take_ahead(2, None, ("json",)) is None  # taken: nothing left


def test_other_settings_close_it_and_start_none(started: list[_FakeCluster]) -> None:
    """A take with other settings (fewer tasks left to compute) closes it and gets None."""
    _local.start_ahead(2, None, ())
    assert _local.take_ahead(1, None, ()) is None
    assert started[0].closed


def test_a_cluster_nobody_took_is_closed_on_the_way_out(started: list[_FakeCluster]) -> None:
    """Every run cached, or an error: leaving the block closes the cluster."""
    with pytest.raises(RuntimeError, match="stopped"), _local.ahead(True, 2, None, ()):
        raise RuntimeError("the analysis stopped")
    assert started[0].closed
    with _local.ahead(False, 2, None, ()):
        pass
    assert len(started) == 1  # not wanted: nothing started


def test_a_failed_start_is_left_to_the_normal_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while starting ahead is not raised there: the take returns None."""

    def broken(*_: Any) -> Any:
        raise OSError("no ports")

    monkeypatch.setattr(_local, "local_cluster", broken)
    _local.start_ahead(2, None, ())
    assert _local.take_ahead(2, None, ()) is None


def test_only_a_local_study_worth_a_cluster_starts_one_ahead(
    started: list[_FakeCluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision is dispatch's: local mode, work above the breakeven, two cores or more."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    cases = [
        (Execution(scheduler="local"), 80, 8.4, True),
        (Execution(scheduler="local"), 80, 1.0, False),
        (Execution(scheduler="synchronous"), 80, 8.4, False),
        (Execution(scheduler="local"), 0, 0.0, False),
    ]
    for execution, tasks, seconds, wanted in cases:
        with cluster_ahead(execution, tasks, seconds, ()):
            assert bool(_local._PENDING) == wanted
        assert _local._PENDING is None
    assert len(started) == 1
    assert started[0].settings == (2, None, ())
    assert started[0].closed
