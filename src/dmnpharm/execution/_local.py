"""Tasks computed without a cluster: one after another, on threads, or on forked processes.

A small local study does not pay for starting a Dask cluster
(:func:`~dmnpharm.execution.choose_engine`), so its runs are computed by this
process. A run's work holds the GIL for much of its time (pandas, text, Python
between NumPy calls): two threads computed the demo's 80 runs only about 1.5
times as fast as one. Worker processes forked from this one share nothing but
start at once: they inherit the imported stack, which a fresh interpreter
(spawn, forkserver, a Dask worker) spends about 2 s importing. On the 2-core
development machine the demo's 80 runs took 4.6-5.0 s on two forked processes
against 5.8 s on two threads and 9.1 s one after another, and the whole demo
9.95 s against 11.26 s on threads (``benchmarks/bench_demo.py demo``, medians;
docs/scaling.md).

Fork is used only where it is safe: on Linux, and when this process runs no
other Python thread (a thread holding a lock at the fork would leave it held in
the child). Elsewhere the same window of tasks runs on threads.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dmnpharm._utils import get_logger
from dmnpharm._utils._forked import can_fork, fork_pool, forking

__all__ = ["IN_FLIGHT_PER_THREAD", "POOL_RESTARTS", "can_fork", "compute_here"]

_LOG = get_logger("execution")

#: Tasks in flight per worker thread: enough that no worker waits for the next task, few
#: enough that finished results (about 3 MB for a 300-region run) cannot pile up in the
#: workers' memory while the client writes each run's outputs. With all 2,000 tasks of a
#: cohort submitted at once, each of two workers grew to 0.84 GiB (peak of the whole
#: command 2.6 GiB); with 2 or 8 per thread they stay near 0.35 GiB (1.0-1.06 GiB at 500
#: subjects, 1.28 GiB at 2,000); wall times of 2, 4 and 8 were within the noise of the
#: shared machine (benchmarks/README.md, bench_cohort.py).
IN_FLIGHT_PER_THREAD = 4

#: Times the forked workers are replaced after one of them died (killed for its memory,
#: say) before the runs left are computed on threads here. Dask's scheduler likewise gives
#: up on a task after its workers died three times (``distributed.scheduler.allowed-failures``).
POOL_RESTARTS = 2

Work = Callable[[int, Any], tuple[Any, ...]]


def _call(packed: tuple[Any, ...]) -> Any:
    """Run ``function(*arguments)`` from ``(function, *arguments)`` (in a worker)."""
    function, *arguments = packed
    return function(*arguments)


def compute_here(
    todo: list[tuple[int, Any]], work: Work, workers: int, *, processes: bool = False
) -> Iterator[tuple[int, Any]]:
    """Compute tasks on this machine; yield ``(index, outcome)`` in the tasks' order.

    With more than one worker, a window of :data:`IN_FLIGHT_PER_THREAD` tasks per
    worker is computed ahead while the caller handles the outcomes in order (so
    they are handed on, cached and written exactly as one after another would
    be). A task's exception is raised at its turn; the tasks not yet started
    are cancelled, and those running finish first.

    Parameters
    ----------
    todo : list of tuple
        ``(index, reusable)`` of each task to compute.
    work : callable
        ``work(index, reusable)`` gives the function to run and its arguments
        (called here, as each task is started).
    workers : int
        How many tasks run at once (1: one after another, here).
    processes : bool
        Run them in worker processes forked from this one, when
        :func:`can_fork`; otherwise on threads. Functions and arguments must
        then be picklable. If a worker process dies (killed for its memory,
        say), half as many new workers are forked for the tasks not handed on
        and the rest (in case they died for memory), up to
        :data:`POOL_RESTARTS` times; after that they run on that many threads
        here. Each time the log says so.

    Yields
    ------
    tuple
        ``(index, outcome)``.
    """
    if workers <= 1:
        for index, reusable in todo:
            yield index, _call(work(index, reusable))
        return
    waiting: Iterator[tuple[int, Any]] = iter(todo)
    forked = processes and can_fork()
    if processes and not forked:
        _LOG.info("another Python thread runs here: the runs go to threads, not forked processes")
    for restart in range(POOL_RESTARTS + 1):
        pool = fork_pool(workers) if forked and can_fork() else None
        if pool is None:
            break
        with pool:
            with forking():
                running = _start(pool, waiting, work, workers)  # forks every worker
            left = yield from _in_order(pool, running, waiting, work)
        if not left:
            return
        waiting = iter(left)
        # Half as many runs at once: if they died for memory, they now need half as much.
        workers = max(1, workers // 2)
        if restart < POOL_RESTARTS:
            _LOG.warning(
                "a worker process died (out of memory?); forking %s for the %d runs not finished",
                _counted(workers, "new worker process", "new worker processes"),
                len(left),
            )
            continue
        _LOG.warning(
            "a worker process died (out of memory?) %d times; computing the %d runs not "
            "finished on %s in this process",
            POOL_RESTARTS + 1,
            len(left),
            _counted(workers, "thread", "threads"),
        )
    with ThreadPoolExecutor(workers, thread_name_prefix="dmnpharm-run") as threads:
        yield from _in_order(threads, _start(threads, waiting, work, workers), waiting, work)


_Running = deque[tuple[int, Any, "Future[Any]"]]


def _counted(count: int, one: str, many: str) -> str:
    """Return ``"1 thread"`` or ``"2 threads"``."""
    return f"{count} {one if count == 1 else many}"


def _start(
    pool: Executor, waiting: Iterator[tuple[int, Any]], work: Work, workers: int
) -> _Running:
    """Submit the first window of tasks."""
    running: _Running = deque()
    for index, reusable in itertools.islice(waiting, IN_FLIGHT_PER_THREAD * workers):
        running.append((index, reusable, _submit(pool, work(index, reusable))))
    return running


def _in_order(
    pool: Executor, running: _Running, waiting: Iterator[tuple[int, Any]], work: Work
) -> Generator[tuple[int, Any], None, list[tuple[int, Any]]]:
    """Yield the window's outcomes in order, refilling it; return the tasks a dead pool left.

    Returns (as the generator's value) the ``(index, reusable)`` of every task not
    handed on when a worker process died, in order; an empty list otherwise.
    """
    try:
        while running:
            index, _, future = running[0]
            try:
                outcome = future.result()
            except BrokenProcessPool:
                return [(i, r) for i, r, _ in running] + list(waiting)
            running.popleft()
            for added, more in itertools.islice(waiting, 1):
                running.append((added, more, _submit(pool, work(added, more))))
            yield index, outcome
        return []
    finally:
        for _, _, future in running:
            future.cancel()


def _submit(pool: Executor, packed: tuple[Any, ...]) -> Future[Any]:
    """Submit a task; on a dead process pool, a future that says so at its turn."""
    try:
        return pool.submit(_call, packed)
    except BrokenProcessPool as exc:
        failed: Future[Any] = Future()
        failed.set_exception(exc)
        return failed
