"""Progress bars: drawn for a person at a terminal, never in pipes, logs or --quiet."""

from __future__ import annotations

import logging
import sys

import pytest

from dmnpharm._utils import get_logger, progress, progress_enabled


def test_not_a_terminal_draws_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """In a pipe (as in CI) the items pass through and stderr stays empty."""
    assert list(progress([1, 2, 3], "counting")) == [1, 2, 3]
    assert capsys.readouterr().err == ""
    assert not progress_enabled()


def test_terminal_draws_a_bar_unless_quiet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal a bar is drawn on stderr; at WARNING level (--quiet) it is not."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    logger = get_logger()
    monkeypatch.setattr(logger, "level", logging.INFO)
    assert progress_enabled()
    assert list(progress(list(range(5)), "measuring runs")) == [0, 1, 2, 3, 4]
    assert "measuring runs" in capsys.readouterr().err
    monkeypatch.setattr(logger, "level", logging.WARNING)
    assert not progress_enabled()
    assert list(progress([1, 2], "quiet")) == [1, 2]
    assert "quiet" not in capsys.readouterr().err
