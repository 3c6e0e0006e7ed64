"""Local Dask clusters: started when the tasks are sent, or ahead, while the client prepares.

Starting a local cluster costs over a second of wall time (the scheduler, the
worker processes, their imports), during which the client would otherwise
wait. A study whose runs will go to a local cluster can have it started in a
background thread as soon as the plan is known (:func:`start_ahead`), so that
it starts while the client still validates, hashes and looks runs up in the
cache; :func:`~dmnpharm.execution.client` then takes it (:func:`take_ahead`)
instead of starting another. A cluster started ahead and not taken (the
analysis stopped, or every run came from the cache) is closed by
:func:`discard_ahead`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dmnpharm._utils import get_logger

__all__ = ["ahead", "discard_ahead", "local_cluster", "start_ahead", "take_ahead"]

_LOG = get_logger("execution")

#: The Dask setting that gives worker processes ``MALLOC_TRIM_THRESHOLD_`` (unset for ours).
MALLOC_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def local_cluster(workers: int, memory_limit: str | None, preload: Sequence[str] = ()) -> Any:
    """Start a local cluster of single-threaded worker processes.

    Parameters
    ----------
    workers : int
        Worker processes.
    memory_limit : str or None
        Memory per worker (Dask's ``auto`` when None).
    preload : sequence of str
        Modules every worker imports as it starts (the tasks' code), so that
        the first task does not pay for them.

    Returns
    -------
    distributed.LocalCluster
        Started, on any free dashboard port.
    """
    import dask
    from distributed import LocalCluster

    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes
    # glibc's mmap threshold: every large array is then a fresh mmap, page-faulted in and
    # unmapped on free. Reading and cleaning a run allocates many such arrays; with the
    # setting a run took 1.4 s instead of 0.9 s (benchmarks/README.md). Workers here run
    # short tasks and exit.
    with dask.config.set({MALLOC_TRIM_SETTING: None}):
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            # Any free port: another cluster on Dask's default 8787 (a second analysis, a
            # notebook) must not stop this one from starting.
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            preload=list(preload),
        )


@dataclass(eq=False)
class _Ahead:
    """A local cluster being started in a background thread."""

    settings: tuple[int, str | None, tuple[str, ...]]
    thread: threading.Thread | None = None
    cluster: Any = None
    error: BaseException | None = None

    def start(self) -> None:
        workers, memory_limit, preload = self.settings
        try:
            self.cluster = local_cluster(workers, memory_limit, preload)
        except BaseException as exc:  # handed to whoever takes it: started again there
            self.error = exc


_LOCK = threading.Lock()
_PENDING: _Ahead | None = None


def start_ahead(workers: int, memory_limit: str | None, preload: Sequence[str] = ()) -> None:
    """Start a local cluster in a background thread (nothing if one is already started).

    Parameters
    ----------
    workers : int
        Worker processes.
    memory_limit : str or None
        Memory per worker.
    preload : sequence of str
        Modules the workers import as they start.
    """
    global _PENDING
    with _LOCK:
        if _PENDING is not None:
            return
        pending = _Ahead((workers, memory_limit, tuple(preload)))
        pending.thread = threading.Thread(
            target=pending.start, name="dmnpharm-cluster-ahead", daemon=True
        )
        _PENDING = pending
    pending.thread.start()


def take_ahead(workers: int, memory_limit: str | None, preload: Sequence[str] = ()) -> Any:
    """Return the cluster started ahead with these settings, once started; else None.

    Parameters
    ----------
    workers : int
        Worker processes wanted.
    memory_limit : str or None
        Memory per worker wanted.
    preload : sequence of str
        Modules the workers should have imported.

    Returns
    -------
    distributed.LocalCluster or None
        None when none was started, it failed to start, or its settings
        differ (it is then closed).
    """
    global _PENDING
    with _LOCK:
        pending, _PENDING = _PENDING, None
    if pending is None:
        return None
    if pending.thread is not None:
        pending.thread.join()
    if pending.error is not None or pending.settings != (workers, memory_limit, tuple(preload)):
        _close(pending)
        return None
    return pending.cluster


def discard_ahead() -> None:
    """Close a cluster started ahead that nobody took (waits for it to finish starting)."""
    global _PENDING
    with _LOCK:
        pending, _PENDING = _PENDING, None
    if pending is not None:
        if pending.thread is not None:
            pending.thread.join()
        _close(pending)


def _close(pending: _Ahead) -> None:
    if pending.cluster is not None:
        try:
            pending.cluster.close()
        except Exception as exc:  # closing a cluster we no longer need must not fail the run
            _LOG.debug("closing a local cluster started ahead: %s", exc)


@contextmanager
def ahead(
    wanted: bool, workers: int, memory_limit: str | None, preload: Sequence[str]
) -> Iterator[None]:
    """Start a local cluster ahead for the duration of the block, if ``wanted``.

    Parameters
    ----------
    wanted : bool
        Whether the block's tasks will go to a local cluster.
    workers : int
        Worker processes.
    memory_limit : str or None
        Memory per worker.
    preload : sequence of str
        Modules the workers import as they start.

    Yields
    ------
    None
        Inside the block :func:`take_ahead` finds the cluster; one not taken
        is closed on the way out, whether the block finished or raised.
    """
    if wanted:
        start_ahead(workers, memory_limit, preload)
    try:
        yield
    finally:
        if wanted:
            discard_ahead()
