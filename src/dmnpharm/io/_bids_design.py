"""The design of a BIDS study: one row per run, from the raw BIDS files or one TSV.

The rows come from ``participants.tsv`` and each subject's
``sub-<p>_sessions.tsv``, or from one explicit design TSV with
``participant_id``, ``session_id`` (and ``run``) columns; every problem is
added to the caller's list, each with its file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from dmnpharm._utils import closest_match

__all__ = ["DesignRun", "design_from_bids", "design_from_file", "merge_design"]


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


def _read_design_table(path: Path, problems: list[str]) -> pd.DataFrame | None:
    """Read a TSV as text, or report it and return None."""
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read as a TSV table ({exc})")
        return None


def design_from_bids(
    root: Path, problems: list[str], runs: Sequence[DesignRun]
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
    participants = _read_design_table(participants_path, problems)
    if participants is None:
        return None
    if "participant_id" not in participants:
        problems.append(f"{participants_path}: has no 'participant_id' column")
        return None
    rows = []
    for line, prow in enumerate(participants.to_dict(orient="records"), start=2):
        pid = str(prow["participant_id"]).strip()
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
        sessions = _read_design_table(sessions_path, problems)
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
    table = _read_design_table(path, problems)
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
