"""Tasks through the cache and onto the workers of an :class:`~dmnpharm.config.Execution`.

Every task is looked up in the cache first; only the missing ones are sent to
the workers. Each result is stored in the cache as it arrives and handed on,
so a killed invocation keeps every task it had finished. What a task is, how
it is keyed and what of its outcome is kept is the caller's :class:`Stage`.
A local study whose estimated work does not pay for starting a Dask cluster
runs in this process, or on a few worker processes forked from it
(:func:`plan_engine`, :func:`~dmnpharm.execution.choose_engine`,
:mod:`dmnpharm.execution._local`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmnpharm._utils import get_logger, progress
from dmnpharm.config import Execution
from dmnpharm.execution._cache import RunCache, store_entry
from dmnpharm.execution._cluster import EngineChoice, choose_engine, client
from dmnpharm.execution._local import IN_FLIGHT_PER_THREAD, compute_here

__all__ = ["IN_FLIGHT_PER_THREAD", "Stage", "dispatch", "plan_engine"]

_LOG = get_logger("execution")


@dataclass(frozen=True)
class Stage:
    """A kind of task, as the dispatcher needs to know it.

    Parameters
    ----------
    name : str
        What the progress bar says.
    work : callable
        ``work(task, reusable) -> outcome``, a module-level function (it is
        sent to worker processes); ``reusable`` is what an earlier outcome
        left in the cache under the task's first key, or None.
    keys : callable
        ``keys(task, cache) -> (reusable key or None, outcome key)``: content
        hashes of everything each result depends on.
    slim : callable
        ``slim(outcome, task) -> outcome``: what is cached and handed on.
    reusable : callable
        ``reusable(outcome)``: what to cache under the first key (or None).
    killed : callable
        ``killed(task, exc) -> outcome`` for a task whose workers kept dying.
    succeeded : callable
        ``succeeded(outcome)``: only successful outcomes are cached.
    outcome_type, reusable_type : type
        What a cache entry must be to be used (anything else is recomputed).
    cost : callable or None
        ``cost(task) -> seconds``: a task's estimated work in seconds of one
        core, to decide whether a local study is worth a Dask cluster
        (:func:`plan_engine`); None: not estimated (always Dask, locally).
    on_worker : callable or None
        ``on_worker(slimmed outcome, task) -> outcome``: what the process that
        computed a task does with its result once it is cached there (write
        its files), returning only what the client needs. Used when workers
        share the file system (``Execution.worker_files``): the worker then
        stores the cache entries itself and the result does not travel whole.
        None: every result travels to the client, which caches it.
    """

    name: str
    work: Callable[[Any, Any], Any]
    keys: Callable[[Any, RunCache], tuple[str | None, str]]
    slim: Callable[[Any, Any], Any]
    reusable: Callable[[Any], Any]
    killed: Callable[[Any, BaseException], Any]
    succeeded: Callable[[Any], bool]
    outcome_type: type
    reusable_type: type
    cost: Callable[[Any], float] | None = None
    on_worker: Callable[[Any, Any], Any] | None = None


def keep_on_worker(
    stage: Stage,
    task: Any,
    reusable: Any,
    keys: tuple[str | None, str],
    cache_root: str | None,
    reusable_cached: bool,
) -> Any:
    """Compute a task, cache its results and hand them on, in the process that computed it.

    Parameters
    ----------
    stage : Stage
        The task's kind (its ``on_worker`` is not None).
    task : object
        The task.
    reusable : object
        What the cache held under the task's first key, or None.
    keys : tuple
        The task's cache keys (computed by the client, which hashed the files).
    cache_root : str or None
        The cache folder (shared with the client); None: caching is off.
    reusable_cached : bool
        Whether ``reusable`` came from the cache (it is not stored again).

    Returns
    -------
    object
        ``stage.on_worker`` of the slimmed outcome.
    """
    outcome = stage.work(task, reusable)
    slim = stage.slim(outcome, task)
    if cache_root is not None and stage.succeeded(outcome):
        reusable_key, outcome_key = keys
        kept = stage.reusable(outcome)
        if reusable_key is not None and kept is not None and not reusable_cached:
            store_entry(Path(cache_root), "signals", reusable_key, kept)
        store_entry(Path(cache_root), "run", outcome_key, slim)
    if stage.on_worker is None:
        return slim
    return stage.on_worker(slim, task)


def plan_engine(tasks: Sequence[Any], stage: Stage, execution: Execution) -> EngineChoice:
    """Return where a stage's tasks run: this process or Dask, and why.

    The choice depends on the whole study (every task, cached or not), so an
    interrupted analysis and its resumption record the same one; when every
    task is cached no cluster starts either way.

    Parameters
    ----------
    tasks : sequence
        Every task of the study.
    stage : Stage
        Their kind (its ``cost`` estimates each task's work).
    execution : Execution
        The mode and options asked for.

    Returns
    -------
    EngineChoice
        See :func:`~dmnpharm.execution.choose_engine`.
    """
    estimate = None if stage.cost is None else float(sum(stage.cost(task) for task in tasks))
    return choose_engine(execution, len(tasks), estimate)


def _cached(
    stage: Stage, keys: list[tuple[str | None, str]], cache: RunCache
) -> tuple[dict[int, Any], list[tuple[int, Any]]]:
    """Split tasks into those whose outcome is cached and those to compute (with reusables)."""
    done: dict[int, Any] = {}
    todo: list[tuple[int, Any]] = []
    for index, (reusable_key, outcome_key) in enumerate(keys):
        hit = cache.load("run", outcome_key)
        if isinstance(hit, stage.outcome_type):
            done[index] = hit
            continue
        reusable = cache.load("signals", reusable_key) if reusable_key else None
        todo.append((index, reusable if isinstance(reusable, stage.reusable_type) else None))
    return done, todo


#: Seconds between asking the scheduler again how many worker threads there are (a batch
#: cluster's workers arrive over time; asking after every task would cost a round trip).
_RECOUNT_SECONDS = 2.0


def _window(dask_client: Any) -> int:
    """Return how many tasks may be in flight: per worker thread, at least 4."""
    try:
        threads = int(sum(dask_client.nthreads().values()))
    except (OSError, TimeoutError):
        threads = 0
    return max(4, IN_FLIGHT_PER_THREAD * threads)


def _on_workers(
    dask_client: Any,
    tasks: Sequence[Any],
    todo: list[tuple[int, Any]],
    work: Callable[[int, Any], tuple[Any, ...]],
    stage: Stage,
    keys: list[tuple[str | None, str]],
) -> Iterator[tuple[int, Any]]:
    """Submit the tasks to a Dask client; yield ``(index, outcome)`` as they complete.

    Only a window of tasks is in flight (:data:`IN_FLIGHT_PER_THREAD` per worker
    thread): each result fetched makes room for the next task, so the workers
    never hold more finished results than the window however slowly the client
    handles them. ``work(index, reusable)`` gives the function and arguments a
    worker runs.
    """
    from distributed import as_completed

    waiting = iter(todo)
    futures: dict[Any, int] = {}

    def submit(count: int) -> list[Any]:
        submitted = []
        for index, reusable in itertools.islice(waiting, count):
            future = dask_client.submit(
                *work(index, reusable),
                key=f"dmnpharm-run-{keys[index][1][:24]}-{index}",
                pure=False,
            )
            futures[future] = index
            submitted.append(future)
        return submitted

    window, counted = _window(dask_client), time.monotonic()
    running = as_completed(submit(window))  # type: ignore[no-untyped-call]
    for future in running:
        index = futures.pop(future)
        try:
            outcome = future.result()
        except Exception as exc:
            if type(exc).__name__ != "KilledWorker":
                raise
            outcome = stage.killed(tasks[index], exc)
        future.release()
        if time.monotonic() - counted >= _RECOUNT_SECONDS:
            window, counted = _window(dask_client), time.monotonic()
        # Refill before handing the outcome on: the workers compute while it is handled.
        for added in submit(max(0, window - len(futures))):
            running.add(added)  # type: ignore[no-untyped-call]
        yield index, outcome


@dataclass(eq=False)
class _Books:
    """What each task runs where, and what the client keeps of its outcome."""

    stage: Stage
    tasks: Sequence[Any]
    keys: list[tuple[str | None, str]]
    cache: RunCache
    from_cache: set[int]
    on_worker: bool = False

    def work(self, index: int, reusable: Any) -> tuple[Any, ...]:
        """Return the function a worker runs for a task, and its arguments."""
        if not self.on_worker:
            return self.stage.work, self.tasks[index], reusable
        root = None if self.cache.root is None else str(self.cache.root)
        cached = index in self.from_cache
        return (
            keep_on_worker,
            self.stage,
            self.tasks[index],
            reusable,
            self.keys[index],
            root,
            cached,
        )

    def finished(self, index: int, outcome: Any) -> tuple[int, Any]:
        """Cache a finished task's outcome (unless its worker did); return what is handed on."""
        reusable_key, outcome_key = self.keys[index]
        stage, cache = self.stage, self.cache
        if self.on_worker:  # cached where it was computed: keep its entries from being pruned
            if stage.succeeded(outcome):
                cache.claim("run", outcome_key)
                if reusable_key is not None:
                    cache.claim("signals", reusable_key)
            return index, outcome
        slim = stage.slim(outcome, self.tasks[index])
        if stage.succeeded(outcome):
            reusable = stage.reusable(outcome)
            if reusable_key is not None and reusable is not None and index not in self.from_cache:
                cache.store("signals", reusable_key, reusable)
            cache.store("run", outcome_key, slim)
        return index, slim


def dispatch(
    tasks: Sequence[Any],
    stage: Stage,
    execution: Execution,
    cache: RunCache,
    engine: EngineChoice | None = None,
) -> Iterator[tuple[int, Any]]:
    """Compute every task, from the cache where possible, yielding as they finish.

    Parameters
    ----------
    tasks : sequence
        The tasks (values a worker can receive).
    stage : Stage
        Their work, cache keys and what is kept.
    execution : Execution
        Where to compute.
    cache : RunCache
        Looked up before, and written after, each computation.
    engine : EngineChoice or None
        Where the tasks run, as the caller decided with :func:`plan_engine`
        (and recorded); None: decided here.

    Yields
    ------
    tuple
        ``(index into tasks, slimmed outcome)``, in order of completion.
    """
    keys = [stage.keys(task, cache) for task in tasks]
    cache.save_hashes()
    done, todo = _cached(stage, keys, cache)
    if cache.enabled:
        _LOG.info(
            "%d of %d runs from the cache (%s), %d to compute",
            len(done),
            len(tasks),
            cache.root,
            len(todo),
        )
    # Workers that share the file system cache (and write) their results themselves.
    books = _Books(stage, tasks, keys, cache, {i for i, r in todo if r is not None})
    books.on_worker = stage.on_worker is not None and execution.worker_files
    work, finished = books.work, books.finished

    def everything() -> Iterator[tuple[int, Any]]:
        yield from done.items()
        if not todo:
            return
        chosen = engine or plan_engine(tasks, stage, execution)
        where = chosen.engine
        if chosen.in_process and chosen.threads > 1 and not chosen.processes:
            where = f"in-process, {chosen.threads} threads"  # forked processes: the reason says
        _LOG.info("per-run work: %s (%s)", where, chosen.reason)
        # A small local study runs here: no cluster to start, no worker to import the stack.
        opened = nullcontext(None) if chosen.in_process else client(execution, len(todo))
        with opened as dask_client:
            if dask_client is None:
                computed = compute_here(todo, work, chosen.threads, processes=chosen.processes)
                for index, outcome in computed:
                    yield finished(index, outcome)
                return
            for index, outcome in _on_workers(dask_client, tasks, todo, work, stage, keys):
                yield finished(index, outcome)

    yield from progress(everything(), stage.name, total=len(tasks))
    # Every entry of this analysis is written: trim the least recently used others.
    cache.enforce_cap()
