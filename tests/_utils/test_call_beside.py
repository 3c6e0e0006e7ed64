"""``call_beside``: a function in a forked process while this one does something else."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from dmnpharm._utils import _forked
from dmnpharm._utils._forked import call_beside, can_fork
from dmnpharm.exceptions import InputError

needs_fork = pytest.mark.skipif(not can_fork(), reason="no process can be forked here")


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _refuse(message: str) -> None:
    raise InputError(message)


def _die_unless_in(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(3)  # a worker killed for its memory, say
    return "computed here"


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


def _handshake(folder: Path) -> str:
    (folder / "started").touch()
    _wait_for(folder / "answered")
    return "both ran at once"


@needs_fork
def test_the_function_runs_in_another_process_and_its_result_comes_back() -> None:
    """Another process id comes back with the value; ``meanwhile`` ran once here."""
    calls: list[str] = []
    pid, doubled = call_beside(_pid_and, (21,), lambda: calls.append("meanwhile"))
    assert pid != os.getpid()
    assert doubled == 42
    assert calls == ["meanwhile"]


@needs_fork
def test_both_run_at_once(tmp_path: Path) -> None:
    """The function waits for ``meanwhile``, which waits for the function: serial would hang."""

    def answer() -> None:
        _wait_for(tmp_path / "started")
        (tmp_path / "answered").touch()

    assert call_beside(_handshake, (tmp_path,), answer) == "both ran at once"


@needs_fork
def test_its_exception_is_raised_here() -> None:
    """An error in the forked process is raised here, with its class and message."""
    calls: list[str] = []
    with pytest.raises(InputError, match="a bad spec"):
        call_beside(_refuse, ("a bad spec",), lambda: calls.append("meanwhile"))
    assert calls == ["meanwhile"]


@needs_fork
def test_a_process_that_dies_is_replaced_by_this_one(caplog: pytest.LogCaptureFixture) -> None:
    """A forked process that exits without an answer is computed again here, said."""
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        result = call_beside(_die_unless_in, (os.getpid(),), lambda: None)
    assert result == "computed here"
    assert "worker process died" in caplog.text


def test_without_fork_everything_runs_here_meanwhile_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where nothing can be forked, ``meanwhile`` runs, then the function, both here."""
    monkeypatch.setattr(_forked, "can_fork", lambda: False)
    calls: list[str] = []

    def record(value: int) -> tuple[int, int]:
        calls.append("function")
        return _pid_and(value)

    pid, doubled = call_beside(record, (5,), lambda: calls.append("meanwhile"))
    assert (pid, doubled) == (os.getpid(), 10)
    assert calls == ["meanwhile", "function"]
