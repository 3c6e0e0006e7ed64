"""Where per-run tasks run: this process, a local Dask cluster, or any Dask cluster.

The client (the ``dmnpharm run`` process) looks every run up in the cache,
sends only the missing ones to the workers, stores each result in the cache
as it arrives and hands it on. Results therefore never depend on where they
were computed, a killed invocation keeps every run it had finished, and a
worker that dies mid-task has its task rerun on another worker by Dask's
scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from dmnpharm._utils import get_logger
from dmnpharm.config import Execution
from dmnpharm.exceptions import InputError
from dmnpharm.execution._cache import RunCache, default_cache_dir
from dmnpharm.execution._local import MALLOC_TRIM_SETTING, ahead, local_cluster, take_ahead

__all__ = [
    "CLUSTER_START_SECONDS",
    "MALLOC_TRIM_SETTING",
    "EngineChoice",
    "choose_engine",
    "client",
    "cluster_ahead",
    "local_workers",
    "make_cache",
]

_LOG = get_logger("execution")

#: Wall seconds a local Dask cluster costs before its workers compute anything, on the
#: 2-core development machine, otherwise idle: starting the scheduler and two worker
#: processes (0.6-0.9 s), each worker importing SciPy, nilearn and dmnpharm (0.6 s, in
#: parallel; 1.2 s of CPU each) and closing (0.2 s): 1.44-1.74 s, median 1.44 s
#: (``benchmarks/bench_demo.py threshold``, benchmarks/README.md). A study whose
#: per-run work is estimated below what this buys back runs in the client process
#: instead (:func:`choose_engine`).
CLUSTER_START_SECONDS = 1.5


@dataclass(frozen=True)
class EngineChoice:
    """Where per-run tasks run, and why.

    Parameters
    ----------
    engine : str
        ``in-process`` (one after another in this process) or
        ``dask.distributed``.
    reason : str
        Why, in words (recorded in the provenance).
    estimated_seconds : float or None
        The estimated per-run work of the whole study, in seconds of one core
        (None when not estimated).
    workers : int or None
        Local worker processes the estimate was weighed against.
    """

    engine: str
    reason: str
    estimated_seconds: float | None = None
    workers: int | None = None

    @property
    def in_process(self) -> bool:
        """Whether the tasks run in this process (no Dask cluster)."""
        return self.engine == "in-process"

    def describe(self) -> dict[str, Any]:
        """Return the choice for the provenance (the estimate rounded to 0.1 s)."""
        estimate = None if self.estimated_seconds is None else round(self.estimated_seconds, 1)
        return {"engine": self.engine, "engine_reason": self.reason, "estimated_run_s": estimate}


def choose_engine(
    execution: Execution, n_tasks: int, estimated_seconds: float | None
) -> EngineChoice:
    """Decide whether a local study's tasks are worth a Dask cluster.

    A local cluster of ``w`` single-threaded workers costs about
    :data:`CLUSTER_START_SECONDS` of wall time and then divides the work by at
    most ``w``; it is faster than this process only when the work ``W``
    exceeds ``CLUSTER_START_SECONDS * w / (w - 1)`` (3 s on two cores). Below
    that, and on one core, the tasks run in this process. Only the local mode
    without ``workers`` decides: ``synchronous`` always runs in-process, and a
    scheduler address, a batch cluster or an explicit number of workers
    always gets Dask.

    Parameters
    ----------
    execution : Execution
        The mode and options.
    n_tasks : int
        Tasks of the study.
    estimated_seconds : float or None
        Their estimated work in seconds of one core (None: not known, Dask).

    Returns
    -------
    EngineChoice
        The engine and the reason.
    """
    mode = execution.mode
    if mode == "synchronous":
        return EngineChoice("in-process", "asked for (scheduler synchronous)", estimated_seconds)
    if mode != "local":
        return EngineChoice("dask.distributed", f"asked for ({mode})", estimated_seconds)
    if execution.workers is not None:
        return EngineChoice(
            "dask.distributed",
            f"asked for ({execution.workers} local workers)",
            estimated_seconds,
            execution.workers,
        )
    workers = local_workers(n_tasks)
    if workers < 2:
        return EngineChoice(
            "in-process", "one worker: a cluster adds its start-up and no parallelism", None, 1
        )
    if estimated_seconds is None:
        return EngineChoice("dask.distributed", "work not estimated", None, workers)
    breakeven = CLUSTER_START_SECONDS * workers / (workers - 1)
    if estimated_seconds < breakeven:
        reason = (
            f"estimated per-run work {estimated_seconds:.1f} s is below the {breakeven:.1f} s "
            f"a local cluster of {workers} workers needs to pay for its start"
        )
        return EngineChoice("in-process", reason, estimated_seconds, workers)
    reason = (
        f"estimated per-run work {estimated_seconds:.1f} s is above the {breakeven:.1f} s "
        f"a local cluster of {workers} workers needs to pay for its start"
    )
    return EngineChoice("dask.distributed", reason, estimated_seconds, workers)


def make_cache(execution: Execution) -> RunCache:
    """Return the cache an execution's settings ask for.

    Parameters
    ----------
    execution : Execution
        Its ``cache`` and ``cache_dir``.

    Returns
    -------
    RunCache
        Disabled without ``cache``; else in ``cache_dir`` or the default folder.
    """
    if not execution.cache:
        return RunCache(None)
    folder = execution.cache_dir if execution.cache_dir is not None else default_cache_dir()
    return RunCache(folder)


def local_workers(n_tasks: int, requested: int | None = None) -> int:
    """Return the worker processes of a local cluster: one per core, one thread each.

    Parameters
    ----------
    n_tasks : int
        Runs to compute (no more workers than that are started).
    requested : int or None
        Asked for by the user.

    Returns
    -------
    int
        At least 1.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(requested or cores or 1, max(n_tasks, 1)))


def _batch_cluster(execution: Execution) -> Any:
    try:
        import dask_jobqueue
    except ImportError:
        raise InputError(
            f"--cluster {execution.cluster} needs dask-jobqueue; install it with "
            "pip install 'dmnpharm[hpc]'"
        ) from None
    kind = {
        "slurm": getattr(dask_jobqueue, "SLURMCluster"),  # noqa: B009 (not re-exported for mypy)
        "pbs": getattr(dask_jobqueue, "PBSCluster"),  # noqa: B009
    }
    options: dict[str, Any] = {}
    if execution.memory_limit is not None:
        options["memory"] = execution.memory_limit
    try:
        cluster = kind[str(execution.cluster)](**options)
    except ValueError as exc:
        raise InputError(
            f"cannot start a {execution.cluster} cluster ({exc}); set cores and memory (and "
            "queue, account, walltime) in ~/.config/dask/jobqueue.yaml"
        ) from None
    return cluster


def cluster_ahead(
    execution: Execution, n_tasks: int, estimated_seconds: float | None, preload: Sequence[str]
) -> AbstractContextManager[None]:
    """Start the local cluster a study's tasks will need while the client still prepares them.

    Parameters
    ----------
    execution : Execution
        The mode and options: only the local mode starts anything ahead.
    n_tasks : int
        Tasks of the study (all of them: cached ones are not known yet).
    estimated_seconds : float or None
        Their estimated work (:func:`choose_engine` decides as dispatch will).
    preload : sequence of str
        Modules the workers import as they start.

    Returns
    -------
    contextlib.AbstractContextManager
        Inside it :func:`client` takes the started cluster; a cluster nobody
        took (the analysis stopped, or every task came from the cache) is
        closed on the way out.
    """
    engine = choose_engine(execution, n_tasks, estimated_seconds)
    wanted = execution.mode == "local" and not engine.in_process and n_tasks > 0
    workers = local_workers(n_tasks, execution.workers)
    return ahead(wanted, workers, execution.memory_limit, preload)


@contextmanager
def client(execution: Execution, n_tasks: int, preload: Sequence[str] = ()) -> Iterator[Any]:
    """Yield a Dask client for an execution's mode, and close it afterwards.

    Parameters
    ----------
    execution : Execution
        Where to run: a new local cluster (one single-threaded worker process
        per core, at most ``n_tasks``), a running scheduler, or batch jobs.
    n_tasks : int
        Tasks to be run, to size a local or batch cluster.
    preload : sequence of str
        Modules a local cluster's workers import as they start (the tasks' code).

    Yields
    ------
    distributed.Client or None
        None when the execution is synchronous (run in this process).
    """
    mode = execution.mode
    if mode == "synchronous":
        yield None
        return
    from distributed import Client

    with ExitStack() as stack:
        if mode == "address":
            try:
                client = stack.enter_context(
                    Client(execution.address, timeout="30s")  # type: ignore[no-untyped-call]
                )
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {execution.address!r} ({exc}); check "
                    "the address (tcp://host:port) and that the scheduler is running"
                ) from None
        else:
            if mode == "local":
                workers = local_workers(n_tasks, execution.workers)
                memory = execution.memory_limit
                cluster = take_ahead(workers, memory, preload)
                if cluster is None:
                    cluster = local_cluster(workers, memory, preload)
                _LOG.info("local Dask cluster: %d worker processes x 1 thread", workers)
            else:
                cluster = _batch_cluster(execution)
                cluster.scale(execution.workers or min(max(n_tasks, 1), 100))
                _LOG.info("%s cluster: %s", mode, cluster.job_script().splitlines()[0])
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        yield client
