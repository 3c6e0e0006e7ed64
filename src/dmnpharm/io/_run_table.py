"""A run table: region time series listed in one table, for data not in a BIDS layout.

One row per run::

    participant_id  session_id  path                               site  group
    sub-01          ses-1       ts/sub-01_rois_cc200.1D.gz         NYU   drug
    02                          /data/abide/02_rois_cc200.1D.gz    KKI   none

``participant_id`` (``sub-`` is added when missing) and ``path`` (the
time-series file, see :func:`read_region_timeseries`; relative paths are
relative to the table's folder) are required; ``session_id`` (``ses-`` added)
and ``run`` are optional; every other column is a design column (group, age,
sex, site, condition, ...), kept as written.

The repetition time of each run comes from a ``repetition_time`` column of the
table, or from a repetition-time table: a TSV or CSV with ``repetition_time``
and one key column that the run table also has (``site``, ``scanner``, ...),
one row per key value. A run whose cell in the column is blank takes its key's
value; a run given both, with different values, is refused. Nothing is ever
assumed: a run without a repetition time is a problem naming its line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._utils import closest_match
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io._roi_study import RoiRun
from dmnpharm.io._timeseries_files import read_timeseries_checked, timeseries_format

__all__ = ["MAX_REPETITION_TIME", "RunTableStudy", "load_run_table"]

#: Longest repetition time accepted, in seconds; larger values are taken for milliseconds.
MAX_REPETITION_TIME = 30.0

_TR = "repetition_time"
#: Columns with a meaning of their own: not design columns.
_OWN = ("participant_id", "session_id", "run", "path", _TR)


@dataclass(frozen=True, eq=False)
class RunTableStudy:
    """A validated run table: the design, one row per run, and the runs.

    Parameters
    ----------
    table : Path
        The run table.
    root : Path
        Its folder; relative ``path`` cells are relative to it.
    design : pandas.DataFrame
        One row per run (same order as ``runs``): ``participant_id``,
        ``session_id`` (``""`` when absent), ``run``, every design column of
        the table (as written), ``repetition_time`` (seconds), ``n_volumes``
        and ``path`` (as written in the table).
    runs : tuple of RoiRun
        The runs, their files resolved (``data`` empty unless kept).
    record : dict
        For the provenance: the table, the repetition-time table and key,
        and where each run's repetition time came from
        (``repetition_times``: one entry per key value or column value,
        with the number of runs).
    """

    table: Path
    root: Path
    design: pd.DataFrame
    runs: tuple[RoiRun, ...]
    record: dict[str, Any] = field(default_factory=dict)


def _read(path: Path, what: str) -> pd.DataFrame:
    """Read a TSV or CSV table as stripped strings (empty cells ``""``)."""
    sep = {".tsv": "\t", ".csv": ","}.get(path.suffix.lower())
    if sep is None:
        raise StudyValidationError(
            str(path), [f"{path}: the {what} must be a .tsv (tab-separated) or .csv file"]
        )
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StudyValidationError(
            str(path), [f"{path}: cannot be read as the {what} ({exc})"]
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    for column in table.columns:
        table[column] = table[column].str.strip()
    return table


def _missing_column(table: pd.DataFrame, column: str, path: Path) -> str:
    hint = closest_match(column, [str(c) for c in table.columns])
    fix = f"; did you mean '{hint}'? Rename that column" if hint else f"; add a '{column}' column"
    return f"{path}: has no '{column}' column (columns: {', '.join(table.columns)}){fix}"


def _seconds(cell: str, where: str, problems: list[str]) -> float | None:
    """Parse a repetition time in seconds, or name the problem."""
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        problems.append(
            f"{where}: repetition_time {cell!r} is not a positive number of seconds; give it "
            "for every run (e.g. 2.0)"
        )
        return None
    if value > MAX_REPETITION_TIME:
        problems.append(
            f"{where}: repetition_time {cell!r} is over {MAX_REPETITION_TIME:g} s; it looks "
            f"like milliseconds: give seconds ({value / 1000:g}?)"
        )
        return None
    return value


@dataclass(frozen=True)
class _TrTable:
    """A repetition-time table read: its file, key column, value per key, keys in error."""

    path: Path
    key: str
    by_key: dict[str, tuple[float, int]]  # key value -> (seconds, line)
    broken: frozenset[str] = frozenset()  # keys whose row is wrong (named already)


def _tr_key(path: Path, tr_table: pd.DataFrame, runs: pd.DataFrame) -> tuple[str, str]:
    """Return the key column shared with the run table, or ``""`` and the problem."""
    others = [c for c in tr_table.columns if c != _TR]
    shared = [c for c in others if c in runs.columns and c not in _OWN]
    if len(shared) == 1:
        return shared[0], ""
    if shared:
        return "", (
            f"{path}: has several columns the run table also has ({', '.join(shared)}); keep "
            "only the one that decides the repetition time"
        )
    return "", (
        f"{path}: has no key column the run table also has (columns: "
        f"{', '.join(others) or 'none besides repetition_time'}); give one column, e.g. "
        "'site', whose values are those of the run table's column of that name"
    )


def _read_tr_table(path: Path, runs: pd.DataFrame, problems: list[str]) -> _TrTable | None:
    """Read a repetition-time table (one row per key value), adding its problems.

    Returns None when the table cannot be used at all (no ``repetition_time`` or
    key column); rows in error are named and their keys marked broken.
    """
    if not path.is_file():
        raise InputError(f"repetition-time table '{path}' does not exist; check the path")
    table = _read(path, "repetition-time table")
    if _TR not in table.columns:
        problems.append(_missing_column(table, _TR, path))
        return None
    key, problem = _tr_key(path, table, runs)
    if not key:
        problems.append(problem)
        return None
    values: dict[str, tuple[float, int]] = {}
    broken: set[str] = set()
    for line, (value, cell) in enumerate(zip(table[key], table[_TR], strict=True), start=2):
        if not value:
            problems.append(f"{path}, line {line}: '{key}' is empty; name the {key}")
        elif value in values or value in broken:
            first = f" (first on line {values[value][1]})" if value in values else ""
            problems.append(
                f"{path}, line {line}: {key} '{value}' is listed twice{first}; give each "
                f"{key} one repetition time"
            )
        elif (seconds := _seconds(cell, f"{path}, line {line}", problems)) is not None:
            values[value] = (seconds, line)
        else:
            broken.add(value)
    return _TrTable(path, key, values, frozenset(broken))


def _run_tr(
    row: pd.Series,
    where: str,
    tr_table: _TrTable | None,
    problems: list[str],
    unusable: bool = False,
) -> tuple[float, str] | None:
    """Return a run's repetition time and where it came from, or name why there is none.

    ``unusable``: a repetition-time table was given but cannot be used (its
    problem is named), so runs without a column value are not named again.
    """
    cell = str(row.get(_TR, ""))
    given = _seconds(cell, where, problems) if cell else None
    if cell and given is None:
        return None
    if tr_table is None:
        if given is None and not unusable:
            problems.append(
                f"{where}: has no repetition_time; fill the column, or give a "
                "repetition-time table (e.g. one row per site)"
            )
            return None
        return None if given is None else (given, f"column {_TR}")
    value = str(row[tr_table.key])
    found = tr_table.by_key.get(value)
    if found is None:
        if given is not None:
            return given, f"column {_TR}"
        if value in tr_table.broken:
            return None  # its row in the repetition-time table is named already
        if not value:
            problems.append(
                f"{where}: '{tr_table.key}' is empty, so the run has no repetition time; "
                f"give its {tr_table.key} (or a repetition_time)"
            )
            return None
        hint = closest_match(value, list(tr_table.by_key))
        fix = f"; did you mean '{hint}'?" if hint else f"; add a row for '{value}'"
        problems.append(
            f"{where}: {tr_table.key} '{value}' has no row in {tr_table.path}, so the run "
            f"has no repetition time{fix}"
        )
        return None
    if given is not None and not math.isclose(given, found[0], rel_tol=1e-6):
        problems.append(
            f"{where}: repetition_time {given:g} s differs from {found[0]:g} s given for "
            f"{tr_table.key} '{value}' in {tr_table.path}, line {found[1]}; give one"
        )
        return None
    return found[0], f"{tr_table.path}, line {found[1]} ({tr_table.key} {value})"


def _label(value: str, prefix: str) -> str:
    return value if not value or value.startswith(prefix) else f"{prefix}{value}"


@dataclass(eq=False)
class _Scan:
    """A run table being loaded: the runs, design rows, TR sources and problems found."""

    path: Path
    labels: Sequence[str]
    keep_data: bool
    tr_table: _TrTable | None
    tr_unusable: bool = False
    problems: list[str] = field(default_factory=list)
    runs: list[RoiRun] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    seen: dict[tuple[str, str, str], int] = field(default_factory=dict)


def _data_file(scan: _Scan, cell: str, where: str) -> Path | None:
    """Resolve a ``path`` cell against the table's folder; name what is wrong with it."""
    if not cell:
        scan.problems.append(f"{where}: 'path' is empty; name the run's time-series file")
        return None
    file = Path(
        os.path.normpath(Path(cell) if Path(cell).is_absolute() else scan.path.parent / cell)
    )
    if timeseries_format(file) is None:
        scan.problems.append(
            f"{where}: path '{cell}' is not a time-series file dmnpharm reads; give .tsv, "
            ".csv or .1D (AFNI), each optionally gzipped (.gz)"
        )
        return None
    if not file.is_file():
        scan.problems.append(f"{where}: path '{cell}' does not exist (looked for {file})")
        return None
    return file


def _scan_row(scan: _Scan, line: int, row: pd.Series, columns: list[str]) -> None:
    """Check and read one row's run; keep it and its design row when usable."""
    where = f"{scan.path}, line {line}"
    pid = _label(str(row["participant_id"]), "sub-")
    ses = _label(str(row.get("session_id", "")), "ses-")
    run = str(row.get("run", ""))
    if not pid:
        scan.problems.append(f"{where}: 'participant_id' is empty; give every row a value")
    key = (pid, ses, run)
    if pid and key in scan.seen:
        scan.problems.append(
            f"{where}: participant {pid}{f', session {ses}' if ses else ''}"
            f"{f', run {run}' if run else ''} is listed twice (first on line {scan.seen[key]}); "
            "give each run its own session_id or run"
        )
    scan.seen.setdefault(key, line)
    tr = _run_tr(row, where, scan.tr_table, scan.problems, scan.tr_unusable)
    file = _data_file(scan, str(row["path"]), where)
    if file is None:
        return
    found: list[str] = []
    data = read_timeseries_checked(file, scan.labels, found)
    scan.problems += [f"{where}: {problem}" for problem in found]
    if data is None or tr is None or not pid:
        return
    kept = data if scan.keep_data else np.empty((0, data.shape[1]))
    scan.runs.append(RoiRun(pid, ses, run, file, tr[0], kept))
    scan.sources.append(tr[1])
    design = {c: row[c] for c in columns if c not in _OWN}
    scan.rows.append(
        {
            "participant_id": pid,
            "session_id": ses,
            "run": run,
            **design,
            _TR: tr[0],
            "n_volumes": int(data.shape[0]),
            "path": str(row["path"]),
        }
    )


def _tr_record(scan: _Scan) -> list[dict[str, Any]]:
    """Where the runs' repetition times came from: one entry per source, with its runs."""
    counted: dict[tuple[str, float], int] = {}
    for source, run in zip(scan.sources, scan.runs, strict=True):
        counted[(source, run.repetition_time)] = counted.get((source, run.repetition_time), 0) + 1
    return [{"from": source, _TR: seconds, "runs": n} for (source, seconds), n in counted.items()]


def load_run_table(
    table: str | Path,
    *,
    repetition_time_table: str | Path | None = None,
    labels: Sequence[str],
    keep_data: bool = False,
) -> RunTableStudy:
    """Read, validate and load a run table: one row per run, time series anywhere.

    Every row is checked and every file read before anything is returned;
    all problems are reported together, each naming the table's line (and
    the file's line and column for a bad time series).

    Parameters
    ----------
    table : str or Path
        ``.tsv`` or ``.csv``: ``participant_id``, ``path``, optionally
        ``session_id``, ``run`` and ``repetition_time`` (seconds), and any
        design columns (see :mod:`dmnpharm.io._run_table`).
    repetition_time_table : str, Path or None
        ``.tsv`` or ``.csv`` with ``repetition_time`` and one key column the
        run table also has (e.g. ``site``), one row per key value. Runs with
        a blank ``repetition_time`` (or without the column) take their key's.
    labels : sequence of str
        The atlas's region labels, in order: each file's columns are matched
        to them (see :func:`dmnpharm.io._timeseries_files.read_region_timeseries`).
    keep_data : bool
        Keep every run's signals in memory. False: each file is read and
        checked, but its run holds an empty (0 x regions) array.

    Returns
    -------
    RunTableStudy
        The design (one row per run), the runs and the provenance record.

    Raises
    ------
    InputError
        The table or the repetition-time table does not exist.
    StudyValidationError
        One or more problems, all listed, each with its file and line: a
        missing column, an empty or repeated id, a file that is missing or
        cannot be read, a run without a repetition time (key absent from the
        repetition-time table) or with two that differ, a key listed twice,
        a repetition time that is not a positive number of seconds.
    """
    path = Path(table)
    if not path.is_file():
        raise InputError(f"run table '{path}' does not exist; check the path")
    runs = _read(path, "run table")
    problems = [
        _missing_column(runs, c, path) for c in ("participant_id", "path") if c not in runs
    ]
    if "n_volumes" in runs.columns:
        problems.append(
            f"{path}: has an 'n_volumes' column; dmnpharm counts each file's volumes itself: "
            "rename or drop the column"
        )
    if runs.empty:
        problems.append(f"{path}: has a header but no run; list one run per line")
    tr_problems: list[str] = []
    tr_table = None
    if repetition_time_table is not None:
        tr_table = _read_tr_table(Path(repetition_time_table), runs, tr_problems)
    if problems:  # the run table's rows cannot be read
        raise StudyValidationError(str(path), problems + tr_problems)
    unusable = repetition_time_table is not None and tr_table is None
    scan = _Scan(path, labels, keep_data, tr_table, unusable, tr_problems)
    columns = [str(c) for c in runs.columns]
    for line, (_, row) in enumerate(runs.iterrows(), start=2):
        _scan_row(scan, line, row, columns)
    if scan.problems:
        design = pd.DataFrame(scan.rows) if scan.rows else None
        raise StudyValidationError(str(path), scan.problems, design=design)
    record = {
        "run_table": str(path),
        "repetition_time_table": None if tr_table is None else str(tr_table.path),
        "repetition_time_key": None if tr_table is None else tr_table.key,
        "repetition_times": _tr_record(scan),
    }
    return RunTableStudy(path, path.parent, pd.DataFrame(scan.rows), tuple(scan.runs), record)
