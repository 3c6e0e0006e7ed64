"""The run-table adapter: region time series listed in a table become runs to measure.

A run table (:mod:`dmnpharm.io._run_table`) lists each run's time-series
file (TSV, CSV or AFNI 1D, anywhere on disk), its participant, session and
design columns, and its repetition time (a column, or a table keyed by site).
The atlas is the caller's: its labels name the files' columns (or their
order, for AFNI's ``#1..#N``). Such files come without confounds, so only
``--strategy none`` analyses them (the confound checks of
:func:`~dmnpharm.pipeline._checks.preflight` refuse any other strategy,
naming each run).

The plan's root is the deepest folder holding the tables and every
time-series file (the table's folder when the files lie under it): the
provenance names each input relative to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.io import RoiRun
from dmnpharm.io._run_table import RunTableStudy, load_run_table
from dmnpharm.pipeline._adapters import StudyPlan, StudyRun
from dmnpharm.pipeline._tasks import RunTask

__all__ = ["RUN_TABLE_SUFFIXES", "is_run_table", "plan_table"]

#: File endings of a run table given as the study.
RUN_TABLE_SUFFIXES = (".tsv", ".csv")


def is_run_table(path: str | Path) -> bool:
    """Return whether a study argument is a run table (a ``.tsv`` or ``.csv`` file).

    Parameters
    ----------
    path : str or Path
        What was given as the study.

    Returns
    -------
    bool
        True for an existing file ending in ``.tsv`` or ``.csv``.
    """
    file = Path(path)
    return file.is_file() and file.suffix.lower() in RUN_TABLE_SUFFIXES


def _absolute(path: str | Path) -> Path:
    return Path(os.path.normpath(Path(path).absolute()))


def _root(study: RunTableStudy, tr_table: Path | None) -> Path:
    """Return the deepest folder holding the tables and every run's file."""
    folders = [str(study.root), *(str(run.path.parent) for run in study.runs)]
    if tr_table is not None:
        folders.append(str(tr_table.parent))
    return Path(os.path.commonpath(folders))


def _table_run(run: RoiRun, row: dict[str, Any], root: Path, config: AnalysisConfig) -> StudyRun:
    task = RunTask(
        label=str(run.path),
        source=run.path.relative_to(root).as_posix(),
        kind="table",
        data_file=str(run.path),
        repetition_time=run.repetition_time,
        config=config,
        confounds=None,
        n_volumes=int(row["n_volumes"]),
    )
    entities = {
        "sub": run.participant_id.removeprefix("sub-"),
        "ses": run.session_id.removeprefix("ses-"),
        "task": "rest",
        "run": run.run,
        "space": "",
    }
    return StudyRun(row, task, entities)


def plan_table(
    table: Path, config: AnalysisConfig, repetition_time_table: Path | None = None
) -> StudyPlan:
    """Read and validate a run table and every file it lists.

    Parameters
    ----------
    table : Path
        The run table (``.tsv`` or ``.csv``; see
        :func:`dmnpharm.io._run_table.load_run_table`).
    config : AnalysisConfig
        With the atlas resolved: a regions table (``label``, ``network``)
        whose labels name the files' columns, in order.
    repetition_time_table : Path or None
        Repetition times by a key column of the run table (e.g. ``site``).

    Returns
    -------
    StudyPlan
        Runs (``RunTask`` of kind ``table``, without confounds), the design
        (one row per run), every input file (the tables and the time
        series), and the record: the tables, the repetition-time key and
        where each run's repetition time came from.

    Raises
    ------
    InputError
        No atlas was given, or a table does not exist.
    StudyValidationError
        Every problem of the table and its files at once, each naming the
        table's line (and the file's line and column).
    """
    if config.atlas is None:
        raise InputError(
            f"run table '{table}' names no atlas: give one whose labels are the files' "
            "columns (--atlas: a regions table with label and network, in column order)"
        )
    atlas = config.atlas_object()
    tr_table = None if repetition_time_table is None else _absolute(repetition_time_table)
    study = load_run_table(
        _absolute(table),
        repetition_time_table=tr_table,
        labels=atlas.labels,
        keep_data=False,
    )
    root = _root(study, tr_table)
    rows = [{str(k): v for k, v in row.items()} for _, row in study.design.iterrows()]
    runs = [_table_run(run, row, root, config) for run, row in zip(study.runs, rows, strict=True)]
    inputs = sorted(
        {study.table, *([tr_table] if tr_table else []), *(r.path for r in study.runs)}
    )
    record: dict[str, Any] = {"input": "run table", **study.record}
    n_subjects = study.design["participant_id"].nunique()
    summary = (
        f"{n_subjects} participants, {len(runs)} runs listed in {study.table.name}, "
        f"atlas {atlas.name}"
    )
    return StudyPlan(root, runs, study.design, inputs, record, summary)
