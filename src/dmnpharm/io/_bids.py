"""Discover and validate a BIDS study with fMRIPrep derivatives, reporting every problem.

A lean parser of our own rather than pybids: dmnpharm needs a handful of entities
(``sub``, ``ses``, ``task``, ``run``, ``space``, ``res``, ``desc``) of fMRIPrep's
functional outputs, and a full BIDS index (pybids builds an SQL database of every
file and pulls in SQLAlchemy) costs seconds to minutes on large derivative trees for
nothing we use. The layout read is fMRIPrep's::

    participants.tsv, sub-<p>/[sub-<p>_sessions.tsv]            (raw BIDS design)
    derivatives/fmriprep/sub-<p>/[ses-<s>/]func/
        sub-<p>[_ses-<s>]_task-<t>[_run-<r>]_space-<S>[_res-<R>]_desc-preproc_bold.nii[.gz]
        ... the same entities ..._desc-brain_mask.nii[.gz]
        sub-<p>[_ses-<s>]_task-<t>[_run-<r>]_desc-confounds_timeseries.tsv (+ .json)

The design comes from ``participants.tsv`` + each subject's sessions file, or from
one explicit design TSV with ``participant_id``, ``session_id`` (and ``run``) columns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError, StudyValidationError

__all__ = ["DEFAULT_SPACE", "BidsStudy", "BoldRun", "discover_study"]

_LOG = get_logger("io")
_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")

#: The space picked when the user names none (fMRIPrep's default output space).
DEFAULT_SPACE = "MNI152NLin2009cAsym"


@dataclass(frozen=True)
class BoldRun:
    """One preprocessed BOLD run and its companion files.

    Parameters
    ----------
    participant_id, session_id : str
        With prefixes (``sub-01``, ``ses-1``); ``session_id`` is ``""`` without sessions.
    task, run : str
        Entity values without prefix (``run`` is ``""`` when absent).
    space, res : str
        Space and resolution entities of the image.
    bold : Path
        The ``desc-preproc_bold`` image.
    confounds : Path or None
        The ``desc-confounds_timeseries.tsv``.
    mask : Path or None
        The matching ``desc-brain_mask`` image.
    repetition_time : float or None
        Seconds, from the JSON sidecar (else the image header).
    n_volumes : int
        Volumes in the image header.
    shape : tuple of int
        Image shape.
    """

    participant_id: str
    session_id: str
    task: str
    run: str
    space: str
    res: str
    bold: Path
    confounds: Path | None
    mask: Path | None
    repetition_time: float | None
    n_volumes: int
    shape: tuple[int, ...]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """``(participant_id, session_id, task, run)``."""
        return (self.participant_id, self.session_id, self.task, self.run)

    @property
    def confounds_json(self) -> Path | None:
        """The confounds sidecar (component metadata), when present."""
        if self.confounds is None:
            return None
        side = self.confounds.with_suffix(".json")
        return side if side.is_file() else None


@dataclass(frozen=True, eq=False)
class BidsStudy:
    """A validated BIDS study with fMRIPrep derivatives.

    Parameters
    ----------
    root : Path
        The raw BIDS folder.
    derivatives : Path
        The fMRIPrep derivatives folder.
    space : str
        The space analysed.
    runs : tuple of BoldRun
        Every run, sorted by subject, session, task, run.
    design : pandas.DataFrame
        One row per run (same order): ``participant_id``, ``session_id``,
        ``task``, ``run`` and every design column.
    """

    root: Path
    derivatives: Path
    space: str
    runs: tuple[BoldRun, ...]
    design: pd.DataFrame = field(repr=False)


def _entities(name: str) -> dict[str, str]:
    return dict(_ENTITY.findall(name.split(".")[0]))


def _strip(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.endswith(suffix) else name


def _sidecar_tr(bold: Path, problems: list[str]) -> float | None:
    side = bold.with_name(_strip(_strip(bold.name, ".gz"), ".nii") + ".json")
    if not side.is_file():
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{side}: is not valid JSON ({exc})")
        return None
    value = content.get("RepetitionTime") if isinstance(content, dict) else None
    if value is None:
        return None
    if not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
        problems.append(f"{side}: RepetitionTime {value!r} is not a positive number of seconds")
        return None
    return float(value)


def _header(path: Path, problems: list[str]) -> tuple[tuple[int, ...], float | None] | None:
    try:
        img = nib.load(path)
    except Exception as exc:  # nibabel raises several types for corrupt files
        problems.append(f"{path}: cannot be read as a NIfTI image ({type(exc).__name__}: {exc})")
        return None
    if not isinstance(img, nib.spatialimages.SpatialImage):
        problems.append(f"{path}: is not a volume image")
        return None
    shape = tuple(int(s) for s in img.shape)
    zooms = img.header.get_zooms()
    tr = float(zooms[3]) if len(zooms) > 3 and zooms[3] > 0 else None
    return shape, tr


def _match_space(found: dict[str, list[Path]], space: str, res: str | None) -> list[Path]:
    return [
        p for p in found.get(space, []) if res is None or _entities(p.name).get("res", "") == res
    ]


def _read_design_table(path: Path, problems: list[str]) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read as a TSV table ({exc})")
        return None


def _design_from_bids(root: Path, problems: list[str], runs: list[BoldRun]) -> pd.DataFrame | None:
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


def _design_from_file(path: Path, problems: list[str]) -> pd.DataFrame | None:
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


def _check_confounds(run: BoldRun, problems: list[str]) -> None:
    if run.confounds is None:
        problems.append(
            f"{run.bold}: has no confounds file (expected "
            f"{run.bold.parent}/*{run.participant_id}*_desc-confounds_timeseries.tsv)"
        )
        return
    try:
        table = pd.read_csv(run.confounds, sep="\t", na_values=["n/a"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{run.confounds}: cannot be read as a TSV table ({exc})")
        return
    if len(table) != run.n_volumes:
        problems.append(
            f"{run.confounds}: has {len(table)} rows but {run.bold.name} has "
            f"{run.n_volumes} volumes; they must match one row per volume"
        )
    empty = [str(c) for c in table.columns if table[c].isna().all()]
    if empty:
        problems.append(f"{run.confounds}: columns with no values at all: {', '.join(empty)}")


def _desc_hint(desc: str) -> str:
    if desc != "smoothAROMAnonaggr":
        return ""
    return (
        "; ICA-AROMA images exist only where fMRIPrep (< 23.0) ran with --use-aroma, in space "
        "MNI152NLin6Asym: pass that space, or use fMRIPost-AROMA outputs as derivatives"
    )


def _mask_for(bold: Path, desc: str) -> Path:
    """Return the run's brain mask: same entities (AROMA images: any ``res-`` of the space)."""
    same = bold.parent / bold.name.replace(f"_desc-{desc}_bold", "_desc-brain_mask")
    if same.is_file() or desc == "preproc":
        return same
    # fMRIPrep writes the AROMA image without res- while the mask of that space has one.
    head = bold.name.split(f"_desc-{desc}_bold")[0]
    found = sorted(bold.parent.glob(f"{head}*_desc-brain_mask.nii*"))
    return found[0] if len(found) == 1 else same


def discover_study(
    root: str | Path,
    space: str = DEFAULT_SPACE,
    res: str | None = None,
    derivatives: str | Path | None = None,
    task: str | None = None,
    design: str | Path | None = None,
    desc: str = "preproc",
) -> BidsStudy:
    """Find and validate every preprocessed BOLD run of a study, listing all problems.

    Parameters
    ----------
    root : str or Path
        Raw BIDS folder (with ``participants.tsv``).
    space : str
        Output space to analyse (``space-`` entity).
    res : str, optional
        Resolution entity (``res-``) when a space has several.
    derivatives : str or Path, optional
        fMRIPrep derivatives folder; default ``root/derivatives/fmriprep``.
    task : str, optional
        Only runs of this task.
    design : str or Path, optional
        Explicit design TSV (one row per run: ``participant_id``, ``session_id``,
        optionally ``run``) instead of ``participants.tsv`` + sessions files.
    desc : str
        ``desc-`` entity of the BOLD images: ``preproc`` (default), or
        ``smoothAROMAnonaggr`` for fMRIPrep's ICA-AROMA non-aggressively
        denoised images (written by fMRIPrep before 23.0, in space
        ``MNI152NLin6Asym``), which the ``aroma`` strategy needs.

    Returns
    -------
    BidsStudy
        Runs and the design, one row per run.

    Raises
    ------
    StudyValidationError
        Listing every problem at once, each with its file (and row): missing
        confounds, volume count vs confounds rows, TR missing or mismatched,
        space not found, 3D images, design rows without data and data without
        design rows, duplicate runs, all-empty confound columns.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError(f"study folder '{folder}' does not exist")
    deriv = Path(derivatives) if derivatives else folder / "derivatives" / "fmriprep"
    problems: list[str] = []
    if not deriv.is_dir():
        raise StudyValidationError(
            str(folder), [f"{deriv}: fMRIPrep derivatives folder not found; pass derivatives="]
        )
    by_space: dict[str, list[Path]] = {}
    if not desc or not desc.isalnum():
        raise InputError(f"desc must be a BIDS label (letters and digits); got {desc!r}")
    for path in sorted(deriv.glob(f"sub-*/**/func/*_desc-{desc}_bold.nii*")):
        ent = _entities(path.name)
        if task and ent.get("task") != task:
            continue
        by_space.setdefault(ent.get("space", ""), []).append(path)
    chosen = _match_space(by_space, space, res)
    if not chosen:
        spaces = ", ".join(sorted(s or "(none)" for s in by_space)) or "none"
        raise StudyValidationError(
            str(folder),
            [
                f"{deriv}: no desc-{desc}_bold image in space '{space}'"
                f"{f' res {res}' if res else ''} (spaces found: {spaces}); choose one with space="
                + _desc_hint(desc)
            ],
        )
    chosen_keys = {(_entities(p.name).get("sub"), _entities(p.name).get("ses")) for p in chosen}
    for other, paths in sorted(by_space.items()):
        for path in paths:
            ent = _entities(path.name)
            if other != space and (ent.get("sub"), ent.get("ses")) not in chosen_keys:
                problems.append(
                    f"{path}: this subject/session has BOLD in space '{other}' but none in "
                    f"'{space}'; rerun fMRIPrep with that output space or exclude it"
                )
    runs: list[BoldRun] = []
    seen: dict[tuple[str, str, str, str], Path] = {}
    for path in chosen:
        ent = _entities(path.name)
        header = _header(path, problems)
        if header is None:
            continue
        shape, header_tr = header
        if len(shape) != 4:
            problems.append(f"{path}: is {len(shape)}D; a BOLD run must be 4D (x, y, z, time)")
            continue
        prefix = path.name.split("_space-")[0]
        confounds = path.parent / f"{prefix}_desc-confounds_timeseries.tsv"
        mask = _mask_for(path, desc)
        tr = _sidecar_tr(path, problems) or header_tr
        run = BoldRun(
            participant_id=f"sub-{ent.get('sub', '')}",
            session_id=f"ses-{ent['ses']}" if "ses" in ent else "",
            task=ent.get("task", ""),
            run=ent.get("run", ""),
            space=ent.get("space", ""),
            res=ent.get("res", ""),
            bold=path,
            confounds=confounds if confounds.is_file() else None,
            mask=mask if mask.is_file() else None,
            repetition_time=tr,
            n_volumes=shape[3],
            shape=shape,
        )
        if run.key in seen:
            problems.append(
                f"{path}: duplicates {seen[run.key]} (same subject, session, task, run)"
            )
            continue
        seen[run.key] = path
        if tr is None:
            problems.append(f"{path}: no RepetitionTime in its JSON sidecar or header")
        _check_confounds(run, problems)
        runs.append(run)
    trs = sorted({r.repetition_time for r in runs if r.repetition_time is not None})
    if len(trs) > 1:
        by_tr = {t: [r.bold.name for r in runs if r.repetition_time == t][:3] for t in trs}
        problems.append(
            "runs have different repetition times: "
            + "; ".join(f"{t:g} s ({', '.join(names)} ...)" for t, names in by_tr.items())
        )
    table = (
        _design_from_file(Path(design), problems)
        if design
        else _design_from_bids(folder, problems, runs)
    )
    design_rows = _merge_design(runs, table, problems) if table is not None else None
    if problems:
        raise StudyValidationError(str(folder), problems)
    assert design_rows is not None
    _LOG.info("found %d runs in space %s under %s", len(runs), space, deriv)
    return BidsStudy(folder, deriv, space, tuple(runs), design_rows)


def _merge_design(runs: list[BoldRun], table: pd.DataFrame, problems: list[str]) -> pd.DataFrame:
    """One design row per run; rows without data and data without rows are problems."""
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

    def design_missing(run: BoldRun) -> bool:
        """Tell whether the subject's whole sessions file is missing (reported once)."""
        missing = run.participant_id not in listed
        return missing and any(f"{run.participant_id}_sessions.tsv" in p for p in problems)

    for run in runs:
        row = index.get((run.participant_id, run.session_id, run.run)) or index.get(
            (run.participant_id, run.session_id, "")
        )
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
