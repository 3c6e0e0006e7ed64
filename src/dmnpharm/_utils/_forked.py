"""Worker processes forked from this one: when that is safe, and an ordered map over them.

A forked worker starts at once with everything this process has imported (a
fresh interpreter spends about 2 s importing dmnpharm's stack) and shares no
GIL with it. Forking is safe only where the platform allows it and when no
other Python thread runs here: a thread holding a lock at the fork would leave
that lock held in the child for ever.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from dmnpharm._utils._allocator import keep_freed_memory
from dmnpharm._utils._logging import get_logger

__all__ = [
    "WORKER_OOM_SCORE_ADJ",
    "call_beside",
    "can_fork",
    "fork_pool",
    "fork_supported",
    "forked_map",
    "forking",
    "start_worker",
    "usable_cores",
]

_LOG = get_logger("execution")

#: Added to a forked worker's ``oom_score_adj`` (Linux, -1000 to 1000): when memory runs out,
#: the kernel kills a worker, whose runs are computed again, rather than the process that
#: holds the analysis. Raising one's own score needs no privilege.
WORKER_OOM_SCORE_ADJ = 500

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def fork_supported() -> bool:
    """Return whether this platform forks worker processes safely.

    Returns
    -------
    bool
        True on Linux when the ``fork`` start method exists. macOS is left
        out: system libraries there are not safe to use after a fork.
    """
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def can_fork() -> bool:
    """Return whether worker processes may be forked from this process now.

    Returns
    -------
    bool
        True when :func:`fork_supported` and this process runs no Python
        thread besides the main one.
    """
    return fork_supported() and threading.active_count() == 1


def usable_cores() -> int:
    """Return the cores this process may run on (its CPU affinity where known).

    Returns
    -------
    int
        At least 1.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def forking() -> Iterator[None]:
    """Silence Python 3.12+'s warning that a process with other OS threads forks.

    Used around the calls that start forked workers, after :func:`can_fork`
    found no other Python thread: the OS threads left are the BLAS library's
    idle pool, which does not hold Python's locks.

    Yields
    ------
    None
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", Warning)
        yield


def start_worker() -> None:
    """Prepare a forked worker process before its first task.

    It keeps the memory it frees
    (:func:`~dmnpharm._utils._allocator.keep_freed_memory`) and, on Linux,
    raises its ``/proc/self/oom_score_adj`` by :data:`WORKER_OOM_SCORE_ADJ`, so
    that the kernel's out-of-memory killer picks a worker before the parent.
    Where that file cannot be written, nothing else changes.
    """
    keep_freed_memory()
    score = Path("/proc/self/oom_score_adj")
    with suppress(OSError, ValueError):  # no /proc (not Linux), or not writable
        now = int(score.read_text())
        score.write_text(str(min(1000, now + WORKER_OOM_SCORE_ADJ)))


def fork_pool(workers: int) -> ProcessPoolExecutor | None:
    """Return a pool of ``workers`` processes to be forked from this one, if one can be made.

    Parameters
    ----------
    workers : int
        Processes (forked at the pool's first submission).

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor or None
        None where the system lacks what its queues need (a working
        ``sem_open``: some containers mount no ``/dev/shm``); the log says so
        and the caller works without processes. Each worker is prepared by
        :func:`start_worker`.
    """
    try:
        return ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=start_worker,
        )
    except (OSError, ImportError, NotImplementedError) as exc:
        kind = type(exc).__name__
        _LOG.info("no worker processes here (%s: %s); working in this process", kind, exc)
        return None


def forked_map(
    function: Callable[[_Item], _Result],
    items: Sequence[_Item],
    *,
    workers: int,
    chunk: int = 16,
) -> list[_Result]:
    """Return ``[function(item) for item in items]``, on forked worker processes if worth it.

    Parameters
    ----------
    function : callable
        Picklable (a module-level function or a :func:`functools.partial` of
        one); run in the workers.
    items : sequence
        Picklable items.
    workers : int
        Processes to use at most (1: everything here, one after another).
    chunk : int
        Items sent to a worker at a time. Fewer than two chunks' worth of
        items are mapped here: forking would not pay.

    Returns
    -------
    list
        The results in the items' order, exactly as the serial comprehension
        gives them. The first exception raised by ``function`` is raised here.
        If a worker process dies (killed for its memory, say), everything is
        computed again here, with a warning.
    """
    workers = min(workers, len(items) // max(chunk, 1))
    if workers < 2 or not can_fork():
        return [function(item) for item in items]
    pool = fork_pool(workers)
    if pool is None:
        return [function(item) for item in items]
    try:
        with forking():
            results = pool.map(function, items, chunksize=chunk)  # forks every worker
        return list(results)
    except BrokenProcessPool:
        _LOG.warning("a worker process died (out of memory?); checking again in this process")
    finally:
        # On an error (or Ctrl-C) the chunks not yet started are dropped, not waited for.
        pool.shutdown(wait=True, cancel_futures=True)
    return [function(item) for item in items]


def call_beside(
    function: Callable[..., _Result], args: tuple[object, ...], meanwhile: Callable[[], object]
) -> _Result:
    """Return ``function(*args)``, run in a forked process while ``meanwhile()`` runs here.

    The two run at once, each on its own core and under its own GIL: imports,
    say, which a thread could not overlap with pure-Python work here.

    Parameters
    ----------
    function : callable
        A module-level function (it is sent to the process by name). Its result
        is pickled back, so it should be small.
    args : tuple
        Its picklable arguments.
    meanwhile : callable
        Called here, with no argument, while ``function`` runs; its result is
        ignored. It must start no thread.

    Returns
    -------
    object
        What ``function`` returned. Where no process can be forked (see
        :func:`can_fork`) it runs here after ``meanwhile``. If its process dies
        (killed for its memory, say), it runs again here, with a warning. An
        exception it raises is raised here.
    """
    pool = fork_pool(1) if can_fork() else None
    if pool is None:
        meanwhile()
        return function(*args)
    try:
        with forking():
            future = pool.submit(function, *args)  # forks the process
        meanwhile()
        return future.result()
    except BrokenProcessPool:
        _LOG.warning("a worker process died (out of memory?); working in this process")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return function(*args)
