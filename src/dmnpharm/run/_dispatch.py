"""Per-run tasks through the cache and onto the workers of an :class:`Execution`.

Every run is looked up in the cache first; only the missing ones are sent to
the workers. Each result is stored in the cache as it arrives and handed on,
so a killed invocation keeps every run it had finished.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from dmnpharm._utils import get_logger, progress
from dmnpharm.run._cache import RunCache
from dmnpharm.run._config import PRIMARY
from dmnpharm.run._execute import Execution, client
from dmnpharm.run._tasks import RunTask, Signals, TaskOutcome
from dmnpharm.run._work import execute_run

__all__ = ["run_tasks", "task_keys"]

_LOG = get_logger("run")


def task_keys(task: RunTask, cache: RunCache) -> tuple[str | None, str]:
    """Return a run's cache keys: its signals (BIDS images only) and its results.

    Parameters
    ----------
    task : RunTask
        The run.
    cache : RunCache
        Hashes its files (reusing digests of unchanged files).

    Returns
    -------
    tuple
        The key of the extracted region signals (None for ROI-level runs,
        whose signals are a file read) and the key of the processed run.
        The signals depend on the image, mask, atlas and sphere radius (and,
        with voxel maps, on the cleaning and confounds too); the processed
        run also on the confounds and the cleaning and metric choices. Group
        options (contrast, permutations, seed, drug) are in neither.
    """
    config = task.config
    hashes = {Path(f).name: cache.file_hash(f) for f in task.input_files()}
    cleaning = {
        "denoise": config.denoise.to_dict(),
        "gsr_sensitivity": config.gsr_sensitivity,
        "confounds": {k: v for k, v in hashes.items() if "confounds" in k},
    }
    signals_key = None
    if task.kind == "bids":
        image: dict[str, Any] = {
            "bold": hashes[Path(task.data_file).name],
            "mask": None if task.mask is None else hashes[Path(task.mask).name],
            "atlas": config.atlas,
            "radius_mm": config.radius_mm,
            "repetition_time": task.repetition_time,
            "voxel_maps": config.voxel_maps,
        }
        if config.voxel_maps:
            image["cleaning"] = cleaning
        signals_key = cache.key("signals", image)
    run_key = cache.key(
        "run",
        {
            "kind": task.kind,
            "inputs": hashes,
            "signals": signals_key,
            "atlas": config.atlas,
            "repetition_time": task.repetition_time,
            "cleaning": cleaning,
            "estimator": config.estimator,
        },
    )
    return signals_key, run_key


def _slim(outcome: TaskOutcome, task: RunTask) -> TaskOutcome:
    """Keep what the run cache needs: the processed run and voxel map files, not signals."""
    maps = outcome.signals.maps if outcome.signals is not None else {}
    note = outcome.signals.maps_note if outcome.signals is not None else ""
    kept = Signals(outcome.signals.data[:0], maps, note) if outcome.signals is not None else None
    processed = outcome.processed
    if processed is not None and task.config.estimator != "tangent":
        # Only the primary cleaned signals are used again (written as derivatives);
        # the tangent estimator needs every analysis's signals for the group reference.
        primary = tuple(c for c in processed.cleaned if c.analysis == PRIMARY)
        processed = replace(
            processed, cleaned=tuple(replace(c, amplitude=c.data[:0]) for c in primary)
        )
    return replace(outcome, processed=processed, signals=kept)


def _killed(task: RunTask, exc: BaseException) -> TaskOutcome:
    return TaskOutcome(
        task.label,
        None,
        f"{task.label}: the worker running it died repeatedly ({type(exc).__name__}: {exc}); "
        "it may need more memory than a worker has (--memory-limit)",
    )


def run_tasks(
    tasks: list[RunTask], execution: Execution, cache: RunCache
) -> Iterator[tuple[int, TaskOutcome]]:
    """Compute every run's task, from the cache where possible, yielding as they finish.

    Parameters
    ----------
    tasks : list of RunTask
        The runs.
    execution : Execution
        Where to compute.
    cache : RunCache
        Looked up before, and written after, each computation.

    Yields
    ------
    tuple
        ``(index into tasks, outcome)``, in order of completion. An outcome
        holds the processed run or the error naming the run's file.
    """
    keys = [task_keys(task, cache) for task in tasks]
    cache.save_hashes()
    done: dict[int, TaskOutcome] = {}
    todo: list[tuple[int, Signals | None]] = []
    for index, (signals_key, run_key) in enumerate(keys):
        hit = cache.load("run", run_key)
        if isinstance(hit, TaskOutcome):
            done[index] = hit
            continue
        signals = cache.load("signals", signals_key) if signals_key else None
        todo.append((index, signals if isinstance(signals, Signals) else None))
    if cache.enabled:
        _LOG.info(
            "%d of %d runs from the cache (%s), %d to compute",
            len(done),
            len(tasks),
            cache.root,
            len(todo),
        )

    from_cache = {index for index, signals in todo if signals is not None}

    def finished(index: int, outcome: TaskOutcome) -> tuple[int, TaskOutcome]:
        slim = _slim(outcome, tasks[index])
        signals_key, run_key = keys[index]
        if outcome.error is None:
            fresh = index not in from_cache
            if signals_key is not None and outcome.signals is not None and fresh:
                cache.store("signals", signals_key, outcome.signals)
            cache.store("run", run_key, slim)
        return index, slim

    def everything() -> Iterator[tuple[int, TaskOutcome]]:
        yield from done.items()
        if not todo:
            return
        with client(execution, len(todo)) as dask_client:
            if dask_client is None:
                for index, signals in todo:
                    yield finished(index, execute_run(tasks[index], signals))
                return
            from distributed import as_completed

            futures = {
                dask_client.submit(
                    execute_run,
                    tasks[index],
                    signals,
                    key=f"dmnpharm-run-{keys[index][1][:24]}-{index}",
                    pure=False,
                ): index
                for index, signals in todo
            }
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                index = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:
                    if type(exc).__name__ != "KilledWorker":
                        raise
                    outcome = _killed(tasks[index], exc)
                future.release()
                yield finished(index, outcome)

    yield from progress(everything(), "cleaning and measuring runs", total=len(tasks))
