"""The run log file: every record at its level, without changing what the console shows."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmnpharm._utils import get_logger, log_to_file


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def console() -> Iterator[_Collect]:
    """Attach a collecting handler to the package logger at WARNING, as ``--quiet`` would."""
    logger = get_logger()
    handler = _Collect()
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    saved = logger.level
    logger.setLevel(logging.WARNING)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(saved)


def test_file_gets_info_the_console_does_not(tmp_path: Path, console: _Collect) -> None:
    """INFO reaches the file although the logger was at WARNING; the console is unchanged."""
    logger = get_logger("pipeline")
    with log_to_file(tmp_path / "run.log", logging.INFO) as path:
        logger.debug("detail")
        logger.info("progress")
        logger.warning("careful")
    text = path.read_text()
    assert "INFO dmnpharm.pipeline: progress" in text
    assert "WARNING dmnpharm.pipeline: careful" in text
    assert "detail" not in text
    assert console.messages == ["careful"]
    package = get_logger()
    assert package.level == logging.WARNING
    assert package.propagate
    assert not any(isinstance(h, logging.FileHandler) for h in package.handlers)
    assert all(not h.filters for h in package.handlers)
    logger.info("after")
    assert "after" not in path.read_text()


@pytest.mark.usefixtures("console")
def test_debug_level_and_root_handlers(tmp_path: Path) -> None:
    """At DEBUG the file has everything; a root handler sees only what it saw before."""
    root = logging.getLogger()
    seen = _Collect()
    root.addHandler(seen)
    try:
        with log_to_file(tmp_path / "run.log", logging.DEBUG) as path:
            get_logger("store").debug("fine detail")
            get_logger("store").error("broken")
    finally:
        root.removeHandler(seen)
    assert "DEBUG dmnpharm.store: fine detail" in path.read_text()
    assert seen.messages == ["broken"]
