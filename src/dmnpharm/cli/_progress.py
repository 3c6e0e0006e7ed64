"""A progress display for command steps that do not count their own items.

Library loops that know their length (per-run work, permutations, power's
sample sizes) draw a bar through :func:`dmnpharm._utils.progress`. A step that
is one library call without such a loop (simulating a study, writing it,
a prediction) gets a spinner with the elapsed time from the command instead,
so that no step of more than a few seconds leaves the terminal silent. Like
the bars it is drawn only at a terminal and not under ``--quiet``
(:func:`dmnpharm._utils.progress_enabled`), on standard error, and leaves
nothing behind.

Do not wrap a call that draws its own bar: two live displays on two consoles
overwrite each other's lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dmnpharm._utils import progress_enabled

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["step"]


@contextmanager
def step(description: str, console: Console | None = None) -> Iterator[None]:
    """Show a spinner, ``description`` and the elapsed time while the block runs.

    Parameters
    ----------
    description : str
        What the step does, e.g. ``"writing 80 runs at voxel level"``.
    console : rich.console.Console or None
        Where to draw; None draws on standard error, and only when
        :func:`dmnpharm._utils.progress_enabled` says a person is watching.
        A console given is always drawn on.

    Yields
    ------
    None
        While the step runs.
    """
    if console is None and not progress_enabled():
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    target = console if console is not None else Console(stderr=True)
    with Progress(*columns, console=target, transient=True) as display:
        display.add_task(description, total=None)
        yield
