"""Progress bars for steps that take more than a moment, shown only to a person watching."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sized
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


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield the items, drawing a transient rich progress bar on standard error.

    Parameters
    ----------
    items : iterable
        What to iterate over: a sequence (its length sets the bar) or any
        iterable with ``total`` (e.g. results as a cluster completes them).
    description : str
        Shown beside the bar, e.g. ``"cleaning and measuring runs"``.
    total : int or None
        Number of items when ``items`` has no length.

    Yields
    ------
    object
        Each item, in order.
    """
    count = total if total is not None else (len(items) if isinstance(items, Sized) else None)
    if not progress_enabled() or (count is not None and count < 2):
        yield from items
        return
    from rich.console import Console
    from rich.progress import track

    yield from track(
        items,
        description=description,
        total=count,
        console=Console(stderr=True),
        transient=True,
    )
