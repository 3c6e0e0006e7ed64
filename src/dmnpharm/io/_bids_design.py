"""The design of a BIDS study: one row per run, from the raw BIDS files or one TSV.

The rows come from ``participants.tsv`` and each subject's
``sub-<p>_sessions.tsv``, or from one explicit design TSV with
``participant_id``, ``session_id`` (and ``run``) columns; every problem is
added to the caller's list, each with its file and line. Only the sessions
files of the participants selected are read. The entities that tell runs'
versions apart (``acq``, ``echo`` ..., :data:`DESIGN_ENTITIES`) become design
columns when a run of the study has them.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError
from dmnpharm.io._select import select_participants
from dmnpharm.io._text_tables import read_text_table

__all__ = [
    "DESIGN_ENTITIES",
    "DesignRun",
    "design_from_bids",
    "design_from_file",
    "merge_design",
    "participants_table",
    "select_bids_participants",
    "study_design",
]

_LOG = get_logger("io")

#: Entities added to the design as columns, each only when a run of the study has it.
DESIGN_ENTITIES = ("acq", "ce", "rec", "dir", "echo", "part", "chunk", "cohort", "den")


class DesignRun(Protocol):
    """What the design needs of a run; :class:`dmnpharm.io.BoldRun` has it all."""

    @property
    def participant_id(self) -> str:
        """``sub-<label>``."""

    @property
    def session_id(self) -> str:
        """``ses-<label>``, or ``""`` without sessions."""

    @property
    def task(self) -> str:
        """Task label."""

    @property
    def run(self) -> str:
        """Run label, or ``""``."""

    @property
    def repetition_time(self) -> float | None:
        """Seconds."""

    @property
    def n_volumes(self) -> int:
        """Volumes in the image."""

    @property
    def bold(self) -> Path:
        """The BOLD image."""


def design_from_bids(
    root: Path,
    problems: list[str],
    runs: Sequence[DesignRun],
    participants: Collection[str] | None = None,
) -> pd.DataFrame | None:
    """Return the design rows of ``participants.tsv`` and each subject's sessions file.

    Parameters
    ----------
    root : Path
        The raw BIDS folder.
    problems : list of str
        Problems found so far; this function's are appended.
    runs : sequence of DesignRun
        The runs found, to tell a subject with sessions from one without.
    participants : collection of str or None
        Only these ``participant_id`` (their sessions files alone are read);
        None for all.

    Returns
    -------
    pandas.DataFrame or None
        One row per participant (without sessions) or per session, with a
        ``_source`` column naming its file and line; None when
        ``participants.tsv`` is missing or unusable.
    """
    participants_path = root / "participants.tsv"
    if not participants_path.is_file():
        problems.append(f"{participants_path}: is missing; list every participant_id in it")
        return None
    listed = read_text_table(participants_path, problems)
    if listed is None:
        return None
    if "participant_id" not in listed:
        problems.append(f"{participants_path}: has no 'participant_id' column")
        return None
    rows = []
    for line, prow in enumerate(listed.to_dict(orient="records"), start=2):
        pid = str(prow["participant_id"]).strip()
        if participants is not None and pid not in participants:
            continue
        sessions_path = root / pid / f"{pid}_sessions.tsv"
        if not sessions_path.is_file():
            with_sessions = sorted({r.session_id for r in runs if r.participant_id == pid} - {""})
            if with_sessions:
                problems.append(
                    f"{sessions_path}: is missing, but {pid} has runs in "
                    f"{', '.join(with_sessions)}; list each session_id with its condition"
                )
                continue
            rows.append({**prow, "session_id": "", "_source": f"{participants_path}, line {line}"})
            continue
        sessions = read_text_table(sessions_path, problems)
        if sessions is None:
            continue
        if "session_id" not in sessions:
            problems.append(f"{sessions_path}: has no 'session_id' column")
            continue
        for s_line, srow in enumerate(sessions.to_dict(orient="records"), start=2):
            rows.append({**prow, **srow, "_source": f"{sessions_path}, line {s_line}"})
    return pd.DataFrame(rows)


def design_from_file(path: Path, problems: list[str]) -> pd.DataFrame | None:
    """Return the rows of an explicit design TSV.

    Parameters
    ----------
    path : Path
        The design TSV, with ``participant_id`` and ``session_id`` columns.
    problems : list of str
        Problems found so far; this function's are appended.

    Returns
    -------
    pandas.DataFrame or None
        The table with a ``_source`` column naming each row's file and line;
        None when it cannot be read or lacks a required column.
    """
    table = read_text_table(path, problems)
    if table is None:
        return None
    for column in ("participant_id", "session_id"):
        if column not in table:
            hint = closest_match(column, [str(c) for c in table.columns])
            fix = f"; did you mean '{hint}'?" if hint else ""
            problems.append(f"{path}: has no '{column}' column{fix}")
            return None
    return table.assign(_source=[f"{path}, line {i}" for i in range(2, len(table) + 2)])


def merge_design(
    runs: Sequence[DesignRun],
    table: pd.DataFrame,
    problems: list[str],
    listing: Path | None = None,
) -> pd.DataFrame:
    """Return one design row per run; rows without data and data without rows are problems.

    Parameters
    ----------
    runs : sequence of DesignRun
        The study's runs.
    table : pandas.DataFrame
        Design rows with a ``_source`` column, from :func:`design_from_bids`
        or :func:`design_from_file`.
    problems : list of str
        Problems found so far; this function's are appended.
    listing : Path or None
        The file that lists the participants (``participants.tsv`` or the
        design TSV), named when a run's participant is not in it.

    Returns
    -------
    pandas.DataFrame
        One row per run with a design row, in the order of ``runs``: the
        design columns, ``participant_id``, ``session_id``, ``task``, ``run``,
        ``repetition_time`` and ``n_volumes``.
    """
    table = table.copy()
    table["participant_id"] = table["participant_id"].astype(str).str.strip()
    table["session_id"] = table["session_id"].astype(str).str.strip()
    if "run" not in table:
        table["run"] = ""
    keys = table[["participant_id", "session_id", "run"]].astype(str)
    duplicated = keys.duplicated(keep=False)
    for source in table.loc[duplicated, "_source"]:
        problems.append(f"{source}: duplicate design row (same participant, session, run)")
    index: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in table.to_dict(orient="records"):
        entry = {str(k): v for k, v in record.items()}
        index[(str(entry["participant_id"]), str(entry["session_id"]), str(entry["run"]))] = entry
    rows, used = [], set()
    listed = set(table["participant_id"])

    def design_missing(run: DesignRun) -> bool:
        """Tell whether the subject's whole sessions file is missing (reported once)."""
        missing = run.participant_id not in listed
        return missing and any(f"{run.participant_id}_sessions.tsv" in p for p in problems)

    unlisted: set[str] = set()
    for run in runs:
        row = index.get((run.participant_id, run.session_id, run.run)) or index.get(
            (run.participant_id, run.session_id, "")
        )
        if row is None and design_missing(run):
            continue
        if row is None and run.participant_id not in listed and listing is not None:
            if run.participant_id not in unlisted:
                unlisted.add(run.participant_id)
                problems.append(
                    f"{listing}: has no row for {run.participant_id}, whose runs were found "
                    f"(e.g. {run.bold}); add the participant, or remove their runs"
                )
            continue
        if row is None:
            if design_missing(run):
                continue
            problems.append(
                f"{run.bold}: has no design row for {run.participant_id} "
                f"{run.session_id or '(no session)'}; add it to the sessions file or design TSV"
            )
            continue
        used.add(str(row["_source"]))
        rows.append(
            {
                **{k: v for k, v in row.items() if k != "_source"},
                "participant_id": run.participant_id,
                "session_id": run.session_id,
                "task": run.task,
                "run": run.run,
                "repetition_time": run.repetition_time,
                "n_volumes": run.n_volumes,
            }
        )
    for source in table["_source"]:
        if source not in used:
            problems.append(f"{source}: design row has no BOLD run in the chosen space")
    return pd.DataFrame(rows)


def participants_table(
    root: Path, design: Path | None, derivatives: Path
) -> tuple[pd.DataFrame, str]:
    """Return the table participants are selected from, and its file.

    Parameters
    ----------
    root : Path
        The raw BIDS folder.
    design : Path or None
        The explicit design TSV, used when ``participants.tsv`` is missing.
    derivatives : Path
        The derivatives folder, whose ``sub-*`` folders list the participants
        when neither table exists.

    Returns
    -------
    table : pandas.DataFrame
        ``participants.tsv`` (or the design TSV) as text; else one
        ``participant_id`` column of the subjects found.
    where : str
        Its file, for messages and records.

    Raises
    ------
    InputError
        When the table cannot be read.
    """
    listing = root / "participants.tsv"
    if not listing.is_file() and design is not None:
        listing = design
    if not listing.is_file():
        found = sorted(e.name for e in os.scandir(derivatives) if e.name.startswith("sub-"))
        return pd.DataFrame({"participant_id": found}), f"{derivatives} (no participants.tsv)"
    try:
        table = pd.read_csv(listing, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{listing}: cannot be read as a TSV table ({exc})") from None
    return table, str(listing)


def select_bids_participants(
    root: Path,
    design: Path | None,
    derivatives: Path,
    labels: Sequence[str] | None,
    query: str | None,
) -> tuple[set[str] | None, dict[str, Any] | None]:
    """Return the participants a study keeps, by label and participants query.

    Parameters
    ----------
    root, design, derivatives : Path
        As :func:`participants_table` takes them.
    labels : sequence of str or None
        Participant labels, with or without ``sub-``.
    query : str or None
        Expression over the columns of the participants table.

    Returns
    -------
    kept : set of str or None
        The ``participant_id`` kept; None (all) when neither is given.
    record : dict or None
        From :func:`select_participants`; None when neither is given.
    """
    if labels is None and query is None:
        return None, None
    table, where = participants_table(root, design, derivatives)
    kept, record = select_participants(table, labels, query, where)
    _LOG.info("kept %d of %d participants", record["n_after"], record["n_before"])
    return set(kept["participant_id"].astype(str).str.strip()), record


def _entity_columns(
    rows: pd.DataFrame, runs: Sequence[DesignRun], listing: Path, problems: list[str]
) -> pd.DataFrame:
    """Insert after ``run`` a column per entity of :data:`DESIGN_ENTITIES` some run has."""
    present = [k for k in DESIGN_ENTITIES if any(getattr(r, k, "") for r in runs)]
    for key in reversed(present):
        if key in rows:
            problems.append(
                f"{listing}: has a column '{key}', the name of the BIDS entity dmnpharm adds to "
                "the design from the file names; rename the column"
            )
            continue
        rows.insert(list(rows.columns).index("run") + 1, key, [getattr(r, key, "") for r in runs])
    return rows


def study_design(
    root: Path,
    design: Path | None,
    runs: Sequence[DesignRun],
    problems: list[str],
    participants: Collection[str] | None = None,
) -> pd.DataFrame | None:
    """Return one design row per run, with the entities that tell versions apart.

    Parameters
    ----------
    root : Path
        The raw BIDS folder.
    design : Path or None
        An explicit design TSV instead of ``participants.tsv`` and the sessions files.
    runs : sequence of DesignRun
        The study's runs (entities such as ``acq`` are read when they have them).
    problems : list of str
        Problems found so far; this function's are appended.
    participants : collection of str or None
        Only these ``participant_id``: the other rows are dropped, and their
        sessions files not read. None for all.

    Returns
    -------
    pandas.DataFrame or None
        As :func:`merge_design`, with a column per entity of
        :data:`DESIGN_ENTITIES` that a run has (``""`` for runs without),
        after ``run``; None when no design table could be read.
    """
    if design is not None:
        table = design_from_file(design, problems)
        if table is not None and participants is not None:
            ids = table["participant_id"].astype(str).str.strip()
            table = table[ids.isin(list(participants))]
    else:
        table = design_from_bids(root, problems, runs, participants)
    if table is None:
        return None
    listing = design if design is not None else root / "participants.tsv"
    rows = merge_design(runs, table, problems, listing)
    return _entity_columns(rows, runs, listing, problems) if len(rows) == len(runs) else rows
