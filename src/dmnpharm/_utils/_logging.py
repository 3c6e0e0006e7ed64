"""The package logger. The library logs; only the CLI adds console handlers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOGGER_NAME", "get_logger", "log_to_file"]

LOGGER_NAME = "dmnpharm"

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the package logger or one of its children.

    Parameters
    ----------
    name : str or None
        Child name (e.g. ``"run"``); ``None`` gives the package logger itself.

    Returns
    -------
    logging.Logger
        A logger under ``dmnpharm``; no handler is attached here.
    """
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


class _AtLeast(logging.Filter):
    """Pass records at or above a level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


class _Forward(logging.Handler):
    """Hand records on to the ancestors' handlers, as propagation would.

    Python's last-resort handler (warnings to stderr) is used, as by
    propagation, only when neither the package logger's own handlers nor any
    ancestor's exist.
    """

    def __init__(self, parent: logging.Logger, level: int, own_handlers: bool) -> None:
        super().__init__(level)
        self.parent = parent
        self.own_handlers = own_handlers

    def emit(self, record: logging.LogRecord) -> None:
        found = self.own_handlers
        node: logging.Logger | None = self.parent
        while node is not None:
            for handler in node.handlers:
                found = True
                if record.levelno >= handler.level:
                    handler.handle(record)
            node = node.parent if node.propagate else None
        last = logging.lastResort
        if not found and last is not None and record.levelno >= last.level:
            last.handle(record)


@contextmanager
def log_to_file(path: str | Path, level: int = logging.INFO) -> Iterator[Path]:
    """Copy the package's log records at ``level`` and above into a file.

    If the package logger would drop such records (its effective level is
    higher), it is lowered for the duration, and the extra records are kept
    from every other handler, the caller's included: what the console shows
    does not change. Everything is restored on exit.

    Parameters
    ----------
    path : str or Path
        The log file (created or truncated).
    level : int
        Lowest level written, e.g. ``logging.INFO`` or ``logging.DEBUG``.

    Yields
    ------
    Path
        The log file.
    """
    logger = get_logger()
    file = Path(path)
    handler = logging.FileHandler(file, mode="w", encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FORMAT))
    saved_level, saved_propagate = logger.level, logger.propagate
    effective = logger.getEffectiveLevel()
    guard = _AtLeast(effective)
    guarded = list(logger.handlers) if level < effective else []
    forward = None
    if level < effective:
        logger.setLevel(level)
        for other in guarded:
            other.addFilter(guard)
        if logger.propagate and logger.parent is not None:
            forward = _Forward(logger.parent, effective, bool(guarded))
            logger.propagate = False
            logger.addHandler(forward)
    logger.addHandler(handler)
    try:
        yield file
    finally:
        logger.removeHandler(handler)
        handler.close()
        if forward is not None:
            logger.removeHandler(forward)
        for other in guarded:
            other.removeFilter(guard)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate
