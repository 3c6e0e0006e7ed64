"""Where per-run tasks run: this process, a local Dask cluster, or any Dask cluster.

The client (the ``dmnpharm run`` process) looks every run up in the cache,
sends only the missing ones to the workers, stores each result in the cache
as it arrives and hands it on. Results therefore never depend on where they
were computed, a killed invocation keeps every run it had finished, and a
worker that dies mid-task has its task rerun on another worker by Dask's
scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from dmnpharm._utils import get_logger
from dmnpharm._utils._allocator import ALLOCATOR_ENVIRON
from dmnpharm._utils._forked import can_fork, usable_cores
from dmnpharm.config import Execution
from dmnpharm.exceptions import InputError
from dmnpharm.execution._cache import RunCache, default_cache_dir

__all__ = [
    "IN_PROCESS_THREADS",
    "THREADS_BREAKEVEN_SECONDS",
    "THREAD_SPEEDUP",
    "WORKER_EFFICIENCY",
    "EngineChoice",
    "breakeven_seconds",
    "checking_workers",
    "choose_engine",
    "client",
    "local_workers",
    "make_cache",
]

_LOG = get_logger("execution")

#: The Dask setting of the environment its nanny starts workers with (ours get
#: :data:`~dmnpharm._utils._allocator.ALLOCATOR_ENVIRON`, not Dask's
#: ``MALLOC_TRIM_THRESHOLD_=65536``).
_ENVIRON_SETTING = "distributed.nanny.pre-spawn-environ"


#: Most threads that compute runs in this process when no cluster is started. A run's
#: work holds the GIL for part of its time (pandas, the TSV text, Python loops between
#: NumPy calls), so threads share cores less well than worker processes; two were measured
#: (``benchmarks/bench_demo.py engines``), more were not.
IN_PROCESS_THREADS = 2

#: Per-run work, in seconds of one core, above which a local Dask cluster of two workers
#: finishes the per-run stage sooner than two threads in this process. Measured on the
#: 2-core development machine by ``benchmarks/bench_demo.py engines`` (ROI-level
#: crossover studies of 40 to 480 runs, both engines on the same studies, two
#: invocations, 14 timings): the stage took ``-2.0 + 1.01 W`` s on threads, ``2.4 +
#: 0.875 W`` s on the cluster and ``-1.6 + 1.48 W`` s one run after another; the lines
#: cross at 32.8 s. Below it the cluster's start (about 3.5 s with its workers' imports)
#: costs more than it gains. Used only where workers cannot be forked from this process
#: (:func:`choose_engine`): forked workers beat the cluster at every size measured.
THREADS_BREAKEVEN_SECONDS = 33.0

#: The threads' speed-up over one run after another in those timings (1.48 / 1.01):
#: ``S`` of :func:`breakeven_seconds`.
THREAD_SPEEDUP = 1.47

#: The share of two workers' time the runs themselves took in those timings
#: (1.48 / (2 x 0.875)); the rest is Dask's (results sent back, scheduler, the
#: client's event loop): ``E`` of :func:`breakeven_seconds`.
WORKER_EFFICIENCY = 0.85


@dataclass(frozen=True)
class EngineChoice:
    """Where per-run tasks run, and why.

    Parameters
    ----------
    engine : str
        ``in-process`` (in this process, on ``threads`` threads) or
        ``dask.distributed``.
    reason : str
        Why, in words (recorded in the provenance).
    estimated_seconds : float or None
        The estimated per-run work of the whole study, in seconds of one core
        (None when not estimated).
    workers : int or None
        Local worker processes the estimate was weighed against.
    threads : int
        Runs computed at once without a cluster (1: one after another); 1
        for Dask.
    processes : bool
        Whether those ``threads`` are worker processes forked from this one
        rather than threads (:func:`~dmnpharm._utils._forked.can_fork` held
        when the choice was made). If another Python thread runs when they
        would start, threads are used and the log says so.
    """

    engine: str
    reason: str
    estimated_seconds: float | None = None
    workers: int | None = None
    threads: int = 1
    processes: bool = False

    @property
    def in_process(self) -> bool:
        """Whether the tasks run in this process (no Dask cluster)."""
        return self.engine == "in-process"

    def describe(self) -> dict[str, Any]:
        """Return the choice for the provenance (the estimate rounded to 0.1 s)."""
        estimate = None if self.estimated_seconds is None else round(self.estimated_seconds, 1)
        return {
            "engine": self.engine,
            "engine_reason": self.reason,
            "estimated_run_s": estimate,
            "threads": self.threads if self.in_process else None,
            "forked_processes": self.processes if self.in_process else None,
        }


def breakeven_seconds(workers: int) -> float:
    """Return the per-run work above which a local cluster of ``workers`` beats threads.

    :data:`THREADS_BREAKEVEN_SECONDS` was measured with two workers against
    two threads. With ``w`` workers the cluster's share of the work shrinks as
    ``2 / w`` while its start and the threads' speed stay, so the breakeven
    moves to ``W2 (1 / S - 1 / (2 E)) / (1 / S - 1 / (w E))`` with the measured
    ``S`` and ``E`` (:data:`THREAD_SPEEDUP`, :data:`WORKER_EFFICIENCY`).

    Parameters
    ----------
    workers : int
        Local worker processes (at least 2).

    Returns
    -------
    float
        Seconds of one core.
    """
    two = 1 / THREAD_SPEEDUP - 1 / (2 * WORKER_EFFICIENCY)
    more = 1 / THREAD_SPEEDUP - 1 / (workers * WORKER_EFFICIENCY)
    return THREADS_BREAKEVEN_SECONDS * two / more


def choose_engine(
    execution: Execution, n_tasks: int, estimated_seconds: float | None
) -> EngineChoice:
    """Decide where a local study's tasks run: forked processes, threads or a Dask cluster.

    Where worker processes can be forked from this one (Linux, with no other
    Python thread running here: :func:`~dmnpharm._utils._forked.can_fork`), the
    tasks run on one forked process per core, however many there are. Forked
    workers start at once with the stack this process imported, share no GIL,
    and hand results back through a pipe rather than through a scheduler and
    its event loop: they beat a local cluster at every size measured, the
    demo's 80 runs to a 2,000-subject cohort (``benchmarks/bench_demo.py``,
    ``benchmarks/bench_cohort.py``, docs/scaling.md). A worker that dies is
    replaced (:func:`~dmnpharm.execution._local.compute_here`).

    Elsewhere (macOS, Windows, a notebook kernel's own threads), a local
    cluster of ``w`` single-threaded workers costs its start, and each run
    costs more on a worker than in this process (its results travel back);
    threads in this process start at once but share the GIL. Below the
    measured breakeven (:func:`breakeven_seconds`, 33 s of per-run work on two
    cores) the tasks run on :data:`IN_PROCESS_THREADS` threads here; above it a
    local cluster computes them, with its memory limits and its restarts of
    workers that die. On one core they run in this process one after another.

    Only the local mode without ``workers`` decides: ``synchronous`` always
    runs in-process one run at a time, ``threads`` on ``workers`` threads
    (default: one per core, at most :data:`IN_PROCESS_THREADS`), and a
    scheduler address, a batch cluster, an explicit number of local workers
    or a memory limit per worker always gets Dask.

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
    if mode == "threads":
        threads = local_workers(n_tasks, execution.workers or IN_PROCESS_THREADS)
        return EngineChoice(
            "in-process", "asked for (scheduler threads)", estimated_seconds, None, threads
        )
    if mode != "local":
        return EngineChoice("dask.distributed", f"asked for ({mode})", estimated_seconds)
    if execution.workers is not None:
        return EngineChoice(
            "dask.distributed",
            f"asked for ({execution.workers} local workers)",
            estimated_seconds,
            execution.workers,
        )
    if execution.memory_limit is not None:  # forked workers have no limit of their own
        return EngineChoice(
            "dask.distributed",
            f"asked for (a memory limit of {execution.memory_limit} per worker, which a local "
            "cluster enforces)",
            estimated_seconds,
            local_workers(n_tasks),
        )
    workers = local_workers(n_tasks)
    if workers < 2:
        return EngineChoice(
            "in-process", "one worker: a cluster adds its start-up and no parallelism", None, 1
        )
    if can_fork():
        reason = (
            f"{workers} worker processes forked from this one: no cluster to start, and "
            "faster than a local Dask cluster at every study size measured"
        )
        return EngineChoice("in-process", reason, estimated_seconds, workers, workers, True)
    if estimated_seconds is None:
        return EngineChoice("dask.distributed", "work not estimated", None, workers)
    breakeven = breakeven_seconds(workers)
    threads = min(workers, IN_PROCESS_THREADS)
    above = estimated_seconds >= breakeven
    reason = (
        f"estimated per-run work {estimated_seconds:.1f} s is {'above' if above else 'below'} "
        f"the {breakeven:.1f} s above which a local cluster of {workers} workers beats "
        f"{threads} threads here"
    )
    if above:
        return EngineChoice("dask.distributed", reason, estimated_seconds, workers)
    return EngineChoice("in-process", reason, estimated_seconds, workers, threads)


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


@contextmanager
def _environ_restored(names: Iterable[str]) -> Iterator[None]:
    """Put back these environment variables as they were (Dask's nanny sets them here).

    Yields
    ------
    None
    """
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
    return max(1, min(requested or usable_cores(), max(n_tasks, 1)))


def checking_workers(execution: Execution) -> int:
    """Return the processes that may read a study's files while it is validated.

    Validation reads every run's files before any run is computed; on a
    cohort that is thousands of small files, read on worker processes forked
    from this one where that is safe (:func:`~dmnpharm._utils._forked.forked_map`).

    Parameters
    ----------
    execution : Execution
        ``synchronous`` and ``threads`` keep everything in this process (1);
        otherwise one per core, at most ``workers`` when given.

    Returns
    -------
    int
        At least 1.
    """
    if execution.in_process:
        return 1
    return max(1, min(execution.workers or usable_cores(), usable_cores()))


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


@contextmanager
def client(execution: Execution, n_tasks: int) -> Iterator[Any]:
    """Yield a Dask client for an execution's mode, and close it afterwards.

    Parameters
    ----------
    execution : Execution
        Where to run: a new local cluster (one single-threaded worker process
        per core, at most ``n_tasks``), a running scheduler, or batch jobs.
    n_tasks : int
        Tasks to be run, to size a local or batch cluster.

    Yields
    ------
    distributed.Client or None
        None when the execution is synchronous (run in this process).
    """
    mode = execution.mode
    if mode == "synchronous":
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

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
                # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which
                # also fixes glibc's mmap threshold: every large array is then a fresh
                # mmap, page-faulted in and unmapped on free. Reading and cleaning a run
                # allocates many such arrays; with the setting a run took 1.4 s instead
                # of 0.9 s (benchmarks/README.md). Ours keep their freed memory instead
                # (dmnpharm._utils._allocator). Workers here run short tasks and exit.
                environ = {f"{_ENVIRON_SETTING}.{k}": v for k, v in ALLOCATOR_ENVIRON.items()}
                with dask.config.set(environ), _environ_restored(ALLOCATOR_ENVIRON):
                    cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        memory_limit=execution.memory_limit or "auto",
                        # Any free port: another cluster on Dask's default 8787 (a second
                        # analysis, a notebook) must not stop this one from starting.
                        dashboard_address=":0",
                        silence_logs=logging.ERROR,
                    )
                _LOG.info("local Dask cluster: %d worker processes x 1 thread", workers)
            else:
                cluster = _batch_cluster(execution)
                cluster.scale(execution.workers or min(max(n_tasks, 1), 100))
                _LOG.info("%s cluster: %s", mode, cluster.job_script().splitlines()[0])
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        yield client
