"""A run's derivative files, written by whichever process holds its results.

Workers write their own run's files (:func:`write_on_worker`) when they share
the file system with the client: the normal case on one machine and on a
cluster with a shared file system (``Execution.worker_files``). The client
then receives only what the group needs (network rows, QC, records), not the
run's cleaned signals and matrix. Results that come from the cache, runs of
the tangent estimator (whose matrices need every run) and clusters without a
shared file system are written by the client with the same function
(:func:`write_run_files`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmnpharm._utils import get_logger
from dmnpharm.config import PRIMARY
from dmnpharm.pipeline._derivatives import DerivativeWriter
from dmnpharm.pipeline._levels import split_levels
from dmnpharm.pipeline._tasks import RunTask, TaskOutcome

__all__ = ["write_on_worker", "write_run_files"]

_LOG = get_logger("pipeline")


def write_run_files(
    writer: DerivativeWriter,
    task: RunTask,
    entities: Mapping[str, str],
    outcome: TaskOutcome,
    *,
    matrix: bool = True,
) -> dict[str, Path]:
    """Write one run's derivative files: maps, time series, matrix and per-run tables.

    Parameters
    ----------
    writer : DerivativeWriter
        The analysis's derivatives dataset.
    task : RunTask
        The run (its input names the sources; its confounds give the motion table).
    entities : mapping of str to str
        The run's BIDS labels.
    outcome : TaskOutcome
        The run's slimmed outcome: its primary cleaned signals, matrix, record,
        QC, traces and voxel map files.
    matrix : bool
        Write the connectivity matrix (False for the tangent estimator, whose
        matrices are written once every run is in).

    Returns
    -------
    dict of str to Path
        ``timeseries`` and ``relmat`` when written (an excluded run has
        neither: only its voxel maps and, once cleaned, its per-run tables).
    """
    done = outcome.processed
    if done is None:
        return {}
    signals = outcome.signals
    if task.config.voxel_maps and signals is not None:
        if signals.maps_note:
            _LOG.warning("no voxel maps for %s: %s", task.label, signals.maps_note)
        writer.write_maps(entities, signals.maps)
    coverage = None if outcome.trace is None else outcome.trace.coverage
    # Shares of whole voxel counts, kept as float32 in the trace: six decimals say it all.
    fraction = None if coverage is None else np.round(coverage.astype(np.float64), 6)
    if done.excluded:
        if done.record.get("n_volumes"):  # cleaned, then left out: its QC tables say why
            writer.write_run_tables(task, entities, done.record, done.qc, fraction=fraction)
        return {}
    primary = next(c for c in done.cleaned if c.analysis == PRIMARY)
    written = {
        "timeseries": writer.write_timeseries(
            entities, primary.data, done.record, task.repetition_time, task.source
        )
    }
    writer.write_run_tables(task, entities, done.record, done.qc, fraction=fraction)
    if matrix and done.matrix is not None:
        written["relmat"] = writer.write_relmat(
            entities, done.matrix, done.record, task.repetition_time, task.source
        )
    return written


def write_on_worker(outcome: TaskOutcome, task: RunTask) -> TaskOutcome:
    """Write the run's files where it was computed; return what the client still needs.

    Parameters
    ----------
    outcome : TaskOutcome
        The slimmed outcome (as cached).
    task : RunTask
        The run; ``task.derivatives`` names the dataset to write into (None:
        nothing is written here and the outcome is returned as it is).

    Returns
    -------
    TaskOutcome
        Without the cleaned signals, matrix and voxel map files, with
        ``written`` naming the files (relative to the dataset), and its rows
        tagged with its design and split by level (``rows``: the region and
        edge rows as Arrow tables the client appends as they are).
    """
    done = outcome.processed
    if task.derivatives is None or done is None:
        return outcome
    root = Path(task.derivatives)
    writer = DerivativeWriter(root, task.config.atlas_object(), task.config)
    files = write_run_files(writer, task, dict(task.entities), outcome)
    shown = {kind: path.relative_to(root).as_posix() for kind, path in files.items()}
    rows = None
    if not done.excluded:
        config = task.config
        rows = split_levels(done.metrics, dict(task.design), config.atlas_name, config.estimator)
    lean = replace(done, cleaned=(), matrix=None, metrics=done.metrics.iloc[:0])
    return replace(outcome, processed=lean, signals=None, written=shown, rows=rows)
