"""Progress bars for steps that take more than a moment, shown only to a person watching."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from typing import TypeVar

from dmnpharm._utils._logging import get_logger

__all__ = ["progress", "progress_enabled"]

T = TypeVar("T")


def progress_enabled() -> bool:
    """Return True when a progress bar would be seen and is wanted.

    That is when standard error is a terminal and the package logger shows INFO
    (not under ``--quiet``); in pipes, log files and tests nothing is drawn.

    Returns
    -------
    bool
        Whether :func:`progress` draws a bar.
    """
    return sys.stderr.isatty() and get_logger().getEffectiveLevel() <= logging.INFO


def progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Yield the items, drawing a transient rich progress bar on standard error.

    Parameters
    ----------
    items : sequence
        What to iterate over (its length sets the bar).
    description : str
        Shown beside the bar, e.g. ``"cleaning and measuring runs"``.

    Yields
    ------
    object
        Each item, in order.
    """
    if not progress_enabled() or len(items) < 2:
        yield from items
        return
    from rich.console import Console
    from rich.progress import track

    yield from track(items, description=description, console=Console(stderr=True), transient=True)
