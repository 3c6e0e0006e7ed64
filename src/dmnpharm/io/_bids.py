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

import numpy as np
import pandas as pd

from dmnpharm._utils import get_logger
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io._bids_design import design_from_bids, design_from_file, merge_design
from dmnpharm.io._integrity import ImageHeader, read_image_header

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
    header : ImageHeader or None
        The image's checked header (grid, voxel sizes).
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
    header: ImageHeader | None = field(default=None, repr=False, compare=False)

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


def _sidecar_repetition_time(bold: Path, problems: list[str]) -> float | None:
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


def _match_space(found: dict[str, list[Path]], space: str, res: str | None) -> list[Path]:
    return [
        p for p in found.get(space, []) if res is None or _entities(p.name).get("res", "") == res
    ]


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


def _bold_by_space(deriv: Path, desc: str, task: str | None) -> dict[str, list[Path]]:
    """Return the BOLD images of ``desc`` (of ``task``, when given) by their space."""
    by_space: dict[str, list[Path]] = {}
    for path in sorted(deriv.glob(f"sub-*/**/func/*_desc-{desc}_bold.nii*")):
        ent = _entities(path.name)
        if task and ent.get("task") != task:
            continue
        by_space.setdefault(ent.get("space", ""), []).append(path)
    return by_space


def _space_not_found(
    folder: Path,
    deriv: Path,
    by_space: dict[str, list[Path]],
    space: str,
    res: str | None,
    desc: str,
) -> StudyValidationError:
    """Return the error for a space (and resolution) with no BOLD image, naming those found."""
    spaces = ", ".join(sorted(s or "(none)" for s in by_space)) or "none"
    return StudyValidationError(
        str(folder),
        [
            f"{deriv}: no desc-{desc}_bold image in space '{space}'"
            f"{f' res {res}' if res else ''} (spaces found: {spaces}); choose one with space="
            + _desc_hint(desc)
        ],
    )


def _check_other_spaces(
    by_space: dict[str, list[Path]], chosen: list[Path], space: str, problems: list[str]
) -> None:
    """Report subject/sessions with BOLD in other spaces but none in ``space``."""
    chosen_keys = {(_entities(p.name).get("sub"), _entities(p.name).get("ses")) for p in chosen}
    for other, paths in sorted(by_space.items()):
        for path in paths:
            ent = _entities(path.name)
            if other != space and (ent.get("sub"), ent.get("ses")) not in chosen_keys:
                problems.append(
                    f"{path}: this subject/session has BOLD in space '{other}' but none in "
                    f"'{space}'; rerun fMRIPrep with that output space or exclude it"
                )


def _check_mask(
    path: Path, mask: Path, header: ImageHeader, problems: list[str], deep: bool
) -> None:
    """Report a brain mask that cannot be read or is not on its BOLD image's grid."""
    mask_header = read_image_header(mask, problems, deep)
    if mask_header is not None and not mask_header.same_grid(header):
        problems.append(
            f"{mask}: is on another grid (shape {mask_header.shape[:3]}) than its BOLD image "
            f"{path.name} (shape {header.shape[:3]}); use the mask fMRIPrep wrote for that run"
        )


def _bold_run(path: Path, desc: str, problems: list[str], deep: bool = False) -> BoldRun | None:
    """Return one image's run with its companion files; None when it is unreadable or not 4D."""
    ent = _entities(path.name)
    header = read_image_header(path, problems, deep)
    if header is None:
        return None
    shape = header.shape
    if len(shape) != 4:
        problems.append(f"{path}: is {len(shape)}D; a BOLD run must be 4D (x, y, z, time)")
        return None
    prefix = path.name.split("_space-")[0]
    confounds = path.parent / f"{prefix}_desc-confounds_timeseries.tsv"
    mask = _mask_for(path, desc)
    if mask.is_file():
        _check_mask(path, mask, header, problems, deep)
    repetition_time = _sidecar_repetition_time(path, problems) or header.repetition_time
    return BoldRun(
        participant_id=f"sub-{ent.get('sub', '')}",
        session_id=f"ses-{ent['ses']}" if "ses" in ent else "",
        task=ent.get("task", ""),
        run=ent.get("run", ""),
        space=ent.get("space", ""),
        res=ent.get("res", ""),
        bold=path,
        confounds=confounds if confounds.is_file() else None,
        mask=mask if mask.is_file() else None,
        repetition_time=repetition_time,
        n_volumes=shape[3],
        shape=shape,
        header=header,
    )


def _collect_runs(
    chosen: list[Path], desc: str, problems: list[str], deep: bool = False
) -> list[BoldRun]:
    """Return the runs of the chosen images, reporting duplicates, missing TRs and confounds."""
    runs: list[BoldRun] = []
    seen: dict[tuple[str, str, str, str], Path] = {}
    for path in chosen:
        run = _bold_run(path, desc, problems, deep)
        if run is None:
            continue
        if run.key in seen:
            problems.append(
                f"{path}: duplicates {seen[run.key]} (same subject, session, task, run)"
            )
            continue
        seen[run.key] = path
        if run.repetition_time is None:
            problems.append(f"{path}: no RepetitionTime in its JSON sidecar or header")
        _check_confounds(run, problems)
        runs.append(run)
    return runs


def _majority(values: list[Any]) -> Any:
    """Return the most common value (the first one seen among equals)."""
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return max(counts, key=lambda v: counts[v])


def _check_repetition_times(runs: list[BoldRun], problems: list[str]) -> None:
    """Report every run whose repetition time differs from most runs', naming each."""
    timed = [r for r in runs if r.repetition_time is not None]
    if len({r.repetition_time for r in timed}) < 2:
        return
    usual = _majority([r.repetition_time for r in timed])
    for run in timed:
        if run.repetition_time != usual:
            problems.append(
                f"{run.bold}: repetition time {run.repetition_time:g} s, while the other "
                f"runs have {usual:g} s; every run of a study must share one (exclude this run "
                "or resample it in time)"
            )


def _grid_key(header: ImageHeader) -> tuple[Any, ...]:
    return (header.shape[:3], tuple(np.round(header.affine, 2).ravel()))


def _describe_grid(header: ImageHeader) -> str:
    origin = ", ".join(f"{v:g}" for v in np.round(header.affine[:3, 3], 2))
    zooms = "x".join(f"{v:g}" for v in header.zooms[:3])
    return f"shape {header.shape[:3]}, {zooms} mm voxels, origin ({origin})"


def _check_grids(runs: list[BoldRun], problems: list[str]) -> None:
    """Report every run not on the grid most runs share (shape and affine), naming each.

    Region signals are extracted on each run's own grid, so a run moved or
    resampled differently (a wrong header, another template) would give
    silently different regions; such a run is refused.
    """
    gridded = [r for r in runs if r.header is not None]
    if not gridded:
        return
    usual_key = _majority([_grid_key(r.header) for r in gridded if r.header is not None])
    usual = next(
        r.header for r in gridded if r.header is not None and _grid_key(r.header) == usual_key
    )
    for run in gridded:
        assert run.header is not None
        if _grid_key(run.header) != usual_key and not run.header.same_grid(usual):
            problems.append(
                f"{run.bold}: is on another grid ({_describe_grid(run.header)}) than the "
                f"study's other runs ({_describe_grid(usual)}); every run must be in the same "
                "space and resolution (check its header, or rerun fMRIPrep for it)"
            )


def discover_study(
    root: str | Path,
    space: str = DEFAULT_SPACE,
    res: str | None = None,
    derivatives: str | Path | None = None,
    task: str | None = None,
    design: str | Path | None = None,
    desc: str = "preproc",
    deep: bool = False,
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
    deep : bool
        Also read every image through to check its compressed data (CRC);
        without it a truncated image is found from its header and gzip
        trailer alone.

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
    if not desc or not desc.isalnum():
        raise InputError(f"desc must be a BIDS label (letters and digits); got {desc!r}")
    by_space = _bold_by_space(deriv, desc, task)
    chosen = _match_space(by_space, space, res)
    if not chosen:
        raise _space_not_found(folder, deriv, by_space, space, res, desc)
    _check_other_spaces(by_space, chosen, space, problems)
    runs = _collect_runs(chosen, desc, problems, deep)
    _check_repetition_times(runs, problems)
    _check_grids(runs, problems)
    table = (
        design_from_file(Path(design), problems)
        if design
        else design_from_bids(folder, problems, runs)
    )
    listing = Path(design) if design else folder / "participants.tsv"
    design_rows = merge_design(runs, table, problems, listing) if table is not None else None
    if problems:
        raise StudyValidationError(str(folder), problems, design=design_rows)
    assert design_rows is not None
    _LOG.info("found %d runs in space %s under %s", len(runs), space, deriv)
    return BidsStudy(folder, deriv, space, tuple(runs), design_rows)
