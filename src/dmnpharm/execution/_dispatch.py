"""Tasks through the cache and onto the workers of an :class:`~dmnpharm.config.Execution`.

Every task is looked up in the cache first; only the missing ones are sent to
the workers. Each result is stored in the cache as it arrives and handed on,
so a killed invocation keeps every task it had finished. What a task is, how
it is keyed and what of its outcome is kept is the caller's :class:`Stage`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dmnpharm._utils import get_logger, progress
from dmnpharm.config import Execution
from dmnpharm.execution._cache import RunCache
from dmnpharm.execution._cluster import client

__all__ = ["Stage", "dispatch"]

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


def _on_workers(
    dask_client: Any,
    tasks: Sequence[Any],
    todo: list[tuple[int, Any]],
    stage: Stage,
    keys: list[tuple[str | None, str]],
) -> Iterator[tuple[int, Any]]:
    """Submit the tasks to a Dask client; yield ``(index, outcome)`` as they complete."""
    from distributed import as_completed

    futures = {
        dask_client.submit(
            stage.work,
            tasks[index],
            reusable,
            key=f"dmnpharm-run-{keys[index][1][:24]}-{index}",
            pure=False,
        ): index
        for index, reusable in todo
    }
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        index = futures[future]
        try:
            outcome = future.result()
        except Exception as exc:
            if type(exc).__name__ != "KilledWorker":
                raise
            outcome = stage.killed(tasks[index], exc)
        future.release()
        yield index, outcome


def dispatch(
    tasks: Sequence[Any], stage: Stage, execution: Execution, cache: RunCache
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
    from_cache = {index for index, reusable in todo if reusable is not None}

    def finished(index: int, outcome: Any) -> tuple[int, Any]:
        slim = stage.slim(outcome, tasks[index])
        reusable_key, outcome_key = keys[index]
        if stage.succeeded(outcome):
            reusable = stage.reusable(outcome)
            if reusable_key is not None and reusable is not None and index not in from_cache:
                cache.store("signals", reusable_key, reusable)
            cache.store("run", outcome_key, slim)
        return index, slim

    def everything() -> Iterator[tuple[int, Any]]:
        yield from done.items()
        if not todo:
            return
        with client(execution, len(todo)) as dask_client:
            if dask_client is None:
                for index, reusable in todo:
                    yield finished(index, stage.work(tasks[index], reusable))
                return
            for index, outcome in _on_workers(dask_client, tasks, todo, stage, keys):
                yield finished(index, outcome)

    yield from progress(everything(), stage.name, total=len(tasks))
