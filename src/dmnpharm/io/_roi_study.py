"""Load and validate an ROI-level study folder, reporting every problem at once."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import closest_match, get_logger
from dmnpharm._utils._forked import forked_map
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io._derivatives import bids_label
from dmnpharm.io._roi_read import (
    _read_sidecar,
    _read_timeseries,
    count_volumes,
    read_roi_timeseries,
)
from dmnpharm.io._select import select_participants
from dmnpharm.io._text_tables import read_text_table

__all__ = ["RoiRun", "RoiStudy", "load_roi_study", "read_roi_timeseries"]

_LOG = get_logger("io")
_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")


@dataclass(frozen=True, eq=False)
class RoiRun:
    """One run's region time series and where it came from.

    Parameters
    ----------
    participant_id, session_id : str
        BIDS labels with their prefixes.
    run : str
        Run label without prefix; empty when the session has one run.
    path : Path
        The time-series file.
    repetition_time : float
        Seconds, from the JSON sidecar.
    data : numpy.ndarray
        Volumes x regions, float64.
    """

    participant_id: str
    session_id: str
    run: str
    path: Path
    repetition_time: float
    data: npt.NDArray[np.float64] = field(repr=False)


@dataclass(frozen=True, eq=False)
class RoiStudy:
    """A validated ROI-level study: the design, one row per run, and the runs.

    Parameters
    ----------
    root : Path
        The study folder.
    atlas : str
        Atlas registry name all runs share.
    design : pandas.DataFrame
        One row per run (same order as ``runs``): ``participant_id``,
        ``session_id``, ``run``, every column of ``participants.tsv`` and of the
        subject's sessions file (``condition`` among them), ``repetition_time``,
        ``n_volumes`` and ``path`` (relative to ``root``).
    runs : tuple of RoiRun
        The loaded runs.
    selection : dict or None
        How participants were selected (labels, query, who was left out),
        for the provenance; None when all were analysed.
    """

    root: Path
    atlas: str
    design: pd.DataFrame
    runs: tuple[RoiRun, ...]
    selection: dict[str, Any] | None = None


def _required_column(table: pd.DataFrame, column: str, path: Path, problems: list[str]) -> bool:
    if column in table.columns:
        return True
    hint = closest_match(column, [str(c) for c in table.columns])
    fix = f"; did you mean '{hint}'? Rename that column" if hint else f"; add a '{column}' column"
    problems.append(
        f"{path}: has no '{column}' column (columns: {', '.join(map(str, table.columns))}){fix}"
    )
    return False


# The two checks below run on every sessions file: plain Python over a few values is
# several times quicker than pandas' string methods on them.


def _blank_cells(table: pd.DataFrame, column: str, path: Path, problems: list[str]) -> None:
    for row, value in enumerate(table[column].tolist()):
        if not isinstance(value, str) or value.strip() in ("", "n/a"):
            problems.append(f"{path}, line {row + 2}: '{column}' is empty; give every row a value")


def _duplicates(table: pd.DataFrame, column: str, path: Path, problems: list[str]) -> None:
    seen: set[object] = set()
    for row, value in enumerate(table[column].tolist()):
        if value in seen:
            problems.append(f"{path}, line {row + 2}: {column} '{value}' is listed twice")
        seen.add(value)


def _parse_entities(path: Path) -> dict[str, str]:
    stem = path.name.removesuffix("_timeseries.tsv")
    return dict(_ENTITY.findall(stem))


@dataclass(eq=False)
class _Scan:
    """A study being loaded: what to look for, and the runs, rows and problems found."""

    folder: Path
    atlas: str
    labels: Sequence[str]
    keep_data: bool
    problems: list[str] = field(default_factory=list)
    runs: list[RoiRun] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _read_participants(root: str, path: Path, problems: list[str]) -> pd.DataFrame:
    """Read ``participants.tsv``; raise when it is unusable, report blank and repeated ids."""
    if not path.is_file():
        raise StudyValidationError(root, [f"{path}: is missing; list every participant_id in it"])
    participants = read_text_table(path, problems)
    if participants is None or not _required_column(
        participants, "participant_id", path, problems
    ):
        raise StudyValidationError(root, problems)
    _blank_cells(participants, "participant_id", path, problems)
    _duplicates(participants, "participant_id", path, problems)
    return participants


def _subject_folders(scan: _Scan, participants: pd.DataFrame, path: Path) -> list[str]:
    """Return the ``sub-*`` folders on disk, reporting those ``participants.tsv`` lacks."""
    listed = [p for p in participants["participant_id"].str.strip() if p and p != "n/a"]
    on_disk = sorted(p.name for p in scan.folder.glob("sub-*") if p.is_dir())
    for name in sorted(set(on_disk) - set(listed)):
        scan.problems.append(
            f"{scan.folder / name}: folder has no row in {path}; add a row or remove it"
        )
    return on_disk


def _read_sessions(path: Path, problems: list[str]) -> pd.DataFrame | None:
    """Read and check a subject's sessions file; None when it is missing or unusable."""
    if not path.is_file():
        problems.append(f"{path}: is missing; it must list each session_id with its condition")
        return None
    sessions = read_text_table(path, problems)
    if sessions is None:
        return None
    ok = _required_column(sessions, "session_id", path, problems)
    ok = _required_column(sessions, "condition", path, problems) and ok
    if not ok:
        return None
    _blank_cells(sessions, "condition", path, problems)
    _duplicates(sessions, "session_id", path, problems)
    return sessions


def _session_files(scan: _Scan, pid: str) -> dict[str, list[Path]]:
    """Return a subject's time-series files of the atlas, by session folder."""
    files = sorted((scan.folder / pid).glob("ses-*/func/*_atlas-*_timeseries.tsv"))
    by_session: dict[str, list[Path]] = {}
    for path in files:
        entities = _parse_entities(path)
        # The entity is the atlas's BIDS label (schaefer100x7); studies written before
        # that carry the registry name itself (atlas-schaefer100_7) in the file name.
        legacy = path.name.endswith(f"_atlas-{scan.atlas}_timeseries.tsv")
        if not legacy and entities.get("atlas", scan.atlas) not in (
            scan.atlas,
            bids_label(scan.atlas),
        ):
            _LOG.info("ignoring %s: atlas is not %s", path, scan.atlas)
            continue
        by_session.setdefault(path.parent.parent.name, []).append(path)
    return by_session


def _scan_participant(scan: _Scan, pid: str, participant_row: dict[str, Any]) -> None:
    """Load every run of one listed subject, reporting sessions without data or rows."""
    folder = scan.folder
    sessions_path = folder / pid / f"{pid}_sessions.tsv"
    sessions = _read_sessions(sessions_path, scan.problems)
    if sessions is None:
        return
    by_session = _session_files(scan, pid)
    session_ids = list(sessions["session_id"].str.strip())
    for ses in sorted(set(by_session) - set(session_ids)):
        scan.problems.append(
            f"{folder / pid / ses}: has data but no row in {sessions_path}; "
            "add the session and its condition"
        )
    for s_line, ses in enumerate(session_ids, start=2):
        paths = by_session.get(ses, [])
        if not paths:
            scan.problems.append(
                f"{sessions_path}, line {s_line}: session '{ses}' has no "
                f"*_atlas-{bids_label(scan.atlas)}_timeseries.tsv under "
                f"{folder / pid / ses / 'func'}"
            )
            continue
        session_row = {str(k): v for k, v in sessions.iloc[s_line - 2].items()}
        for path in paths:
            _load_run(scan, path, pid, ses, {**participant_row, **session_row})


def _scan_one(
    template: _Scan, participant: tuple[str, dict[str, Any]]
) -> tuple[list[str], list[RoiRun], list[dict[str, Any]]]:
    """Scan one participant into a fresh scan like ``template``; return what it found."""
    scan = _Scan(template.folder, template.atlas, template.labels, template.keep_data)
    _scan_participant(scan, *participant)
    return scan.problems, scan.runs, scan.rows


def _load_run(scan: _Scan, path: Path, pid: str, ses: str, design_row: dict[str, Any]) -> None:
    """Read and check one run; keep it and its design row when it is usable."""
    sidecar = _read_sidecar(path, scan.problems)
    if scan.keep_data:
        data = _read_timeseries(path, scan.labels, scan.problems)
        volumes = None if data is None else data.shape[0]
    else:  # checked in full, but the values are not kept (nor computed where not needed)
        volumes = count_volumes(path, scan.labels, scan.problems)
        data = np.empty((0, len(scan.labels)))
    if sidecar is None or data is None or volumes is None:
        return
    run = _parse_entities(path).get("run", "")
    repetition_time = float(sidecar["RepetitionTime"])
    scan.runs.append(RoiRun(pid, ses, run, path, repetition_time, data))
    scan.rows.append(
        {
            **design_row,
            "participant_id": pid,
            "session_id": ses,
            "run": run,
            "repetition_time": repetition_time,
            "n_volumes": volumes,
            "path": path.relative_to(scan.folder).as_posix(),
        }
    )


def load_roi_study(
    root: str | Path,
    atlas: str,
    labels: Sequence[str],
    keep_data: bool = True,
    *,
    participant_label: Sequence[str] | None = None,
    participants_query: str | None = None,
    workers: int = 1,
) -> RoiStudy:
    """Read, validate and load an ROI-level study folder.

    Every file is checked before anything is returned, and all problems are
    reported together: missing or malformed tables, design rows without data,
    data without design rows, duplicates, missing sidecars, column counts that
    differ from the atlas, non-numeric values, missing values inside a region's
    signal. A region with no value at all or a constant one is not a problem
    of the file: the run leaves it out of its measures and lists it.

    Parameters
    ----------
    root : str or Path
        Study folder (see :mod:`dmnpharm.io` for the layout).
    atlas : str
        Atlas registry name; runs whose ``atlas-`` entity differs are ignored
        with a log message.
    labels : sequence of str
        The atlas's region labels, expected as the time-series header.
    keep_data : bool
        Keep every run's signals in memory. False: each file is still read
        and checked, but its run holds an empty (0 x regions) array, so
        validating a cohort of thousands of runs needs one run's memory.
    participant_label : sequence of str or None
        Only these participants (with or without ``sub-``); the others'
        files are not read.
    participants_query : str or None
        Only the participants whose ``participants.tsv`` row satisfies this
        query (e.g. ``"group == 'patient'"``; see
        :func:`dmnpharm.io.select_participants`).
    workers : int
        Read the participants' files on up to this many worker processes
        forked from this one, where that is safe
        (:func:`~dmnpharm._utils._forked.forked_map`); 1 reads them here. The
        result, and every problem and its order, are the same either way.

    Returns
    -------
    RoiStudy
        The design (one row per run) and the loaded runs.

    Raises
    ------
    InputError
        The folder does not exist.
    StudyValidationError
        One or more problems; the message lists each with file and line.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError(f"study folder '{root}' does not exist; check the path")
    scan = _Scan(folder=folder, atlas=atlas, labels=labels, keep_data=keep_data)
    participants_path = folder / "participants.tsv"
    participants = _read_participants(str(root), participants_path, scan.problems)
    on_disk = _subject_folders(scan, participants, participants_path)
    selection = None
    if participant_label or participants_query is not None:
        participants, selection = select_participants(
            participants, participant_label, participants_query, where=str(participants_path)
        )
    ids = participants["participant_id"].str.strip().tolist()
    # In the participants' order: a problem, or a participant whose files are read.
    entries: list[str | tuple[str, dict[str, Any]]] = []
    for position, (index, pid) in enumerate(zip(participants.index, ids, strict=True)):
        line = int(index) + 2  # the file's line: the index survives the selection
        if not pid or pid == "n/a" or pid not in on_disk:
            if pid and pid != "n/a":
                entries.append(
                    f"{participants_path}, line {line}: participant '{pid}' has no folder "
                    f"{folder / pid}"
                )
            continue
        entries.append((pid, {str(k): v for k, v in participants.iloc[position].items()}))
    listed = [entry for entry in entries if not isinstance(entry, str)]
    template = _Scan(folder=folder, atlas=atlas, labels=tuple(labels), keep_data=keep_data)
    found = iter(forked_map(functools.partial(_scan_one, template), listed, workers=workers))
    for entry in entries:
        problems, runs, rows = ([entry], [], []) if isinstance(entry, str) else next(found)
        scan.problems += problems
        scan.runs += runs
        scan.rows += rows
    if scan.problems:
        design = pd.DataFrame(scan.rows) if scan.rows else None
        raise StudyValidationError(str(root), scan.problems, design=design)
    if not scan.runs:
        raise StudyValidationError(str(root), [f"{folder}: no run was found"])
    design = pd.DataFrame(scan.rows)
    for column in ("participant_id", "session_id", "run", "path"):
        design[column] = design[column].astype(str).str.strip()
    # Condition labels are kept as written: one with stray spaces is a problem the
    # design checks name, never silently another label.
    design["condition"] = design["condition"].astype(str)
    return RoiStudy(
        root=folder, atlas=atlas, design=design, runs=tuple(scan.runs), selection=selection
    )
