"""Study adapters: each kind of input folder becomes the same list of runs to analyse.

An adapter reads and validates its folder (everything, before any heavy work)
and returns a :class:`StudyPlan`: the runs as per-run tasks, the design, every
input file, and what the provenance should say about the input. The rest of
the pipeline does not know which kind of folder it came from. Here:
:func:`plan_roi` (region time-series folders, as ``dmnpharm simulate`` writes
them) and :func:`plan_bids` (BIDS with fMRIPrep derivatives, NIfTI or CIFTI);
XCP-D outputs and run tables have theirs in ``_xcpd_plan`` and ``_table_plan``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.execution import checking_workers
from dmnpharm.io import (
    BoldRun,
    RoiRun,
    RoiStudy,
    discover_study,
    load_roi_study,
    read_bids_filter,
)
from dmnpharm.pipeline._tasks import RunTask

__all__ = ["BidsOptions", "StudyPlan", "StudyRun", "bids_task", "plan_bids", "plan_roi"]

_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")


@dataclass(frozen=True, eq=False)
class StudyRun:
    """One run ready for per-run work, from either kind of study.

    Parameters
    ----------
    design : dict
        The run's design row (``participant_id``, ``session_id``, ``condition`` ...).
    task : RunTask
        Its per-run work (files and choices), as sent to a worker.
    entities : mapping of str to str
        BIDS labels of the run without prefixes (``sub``, ``ses``, ``task``,
        ``run``, ``space``), for the derivatives' file names.
    """

    design: dict[str, Any]
    task: RunTask
    entities: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The run's input file, naming it in messages."""
        return self.task.label

    @property
    def source(self) -> str:
        """The input file relative to the study folder (names the run in records)."""
        return self.task.source

    @property
    def repetition_time(self) -> float:
        """Seconds."""
        return self.task.repetition_time


@dataclass(frozen=True, eq=False)
class StudyPlan:
    """A validated study as the pipeline sees it, whatever its folder's kind.

    Parameters
    ----------
    root : Path
        The study folder.
    runs : list of StudyRun
        Every run, in design order.
    design : pandas.DataFrame
        One row per run.
    inputs : list of Path
        Every file the results depend on (design tables, data, confounds,
        masks, sidecars), sorted, without repeats.
    record : dict
        What the provenance says about the input besides its files (space,
        images read, how regions were extracted).
    summary : str
        One line for the log: participants, runs, space, atlas.
    """

    root: Path
    runs: list[StudyRun]
    design: pd.DataFrame
    inputs: list[Path]
    record: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def ground_truth(self) -> dict[str, Any] | None:
        """Return a simulated study's planted effects (``ground_truth.json``), if any.

        Returns
        -------
        dict or None
            The file's content, shown beside the estimates in the report.
        """
        truth = self.root / "ground_truth.json"
        if not truth.is_file():
            return None
        content: dict[str, Any] = json.loads(truth.read_text(encoding="utf-8"))
        return content


def _design_files(root: Path) -> list[Path]:
    return [root / "participants.tsv", *root.glob("sub-*/sub-*_sessions.tsv")]


def _inputs(root: Path, runs: list[StudyRun]) -> list[Path]:
    files = _design_files(root) + [Path(f) for r in runs for f in r.task.input_files()]
    return sorted(set(files))


def _roi_entities(run: RoiRun) -> dict[str, str]:
    """BIDS labels of an ROI-level run: the design's subject and session, the file's task.

    A file name without ``task-`` is a resting-state run (``task-rest``), as
    the ROI-level format is for resting-state studies.
    """
    named = dict(_ENTITY.findall(run.path.name.removesuffix("_timeseries.tsv")))
    return {
        "sub": run.participant_id.removeprefix("sub-"),
        "ses": run.session_id.removeprefix("ses-"),
        "task": named.get("task", "rest"),
        "run": run.run,
        "space": named.get("space", ""),
    }


def _roi_run(study: RoiStudy, row: pd.Series, run: RoiRun, config: AnalysisConfig) -> StudyRun:
    stem = run.path.name.split("_atlas-")[0]
    confounds = run.path.parent / f"{stem}_desc-confounds_timeseries.tsv"
    task = RunTask(
        label=str(run.path),
        source=run.path.relative_to(study.root).as_posix(),
        kind="roi",
        data_file=str(run.path),
        repetition_time=run.repetition_time,
        config=config,
        confounds=str(confounds) if confounds.is_file() else None,
        n_volumes=int(row["n_volumes"]),
    )
    return StudyRun({str(k): v for k, v in row.items()}, task, _roi_entities(run))


def plan_roi(root: Path, config: AnalysisConfig, options: BidsOptions | None = None) -> StudyPlan:
    """Read and validate an ROI-level study folder.

    Parameters
    ----------
    root : Path
        The folder (``participants.tsv``, ``sub-*/ses-*/func/*_timeseries.tsv``).
    config : AnalysisConfig
        With the atlas resolved: every run's header must name its regions.
    options : BidsOptions or None
        Its participant label and participants query select participants.

    Returns
    -------
    StudyPlan
        Runs, design and inputs. Each run's signals are checked here and read
        again by its task, not held.
    """
    atlas = config.atlas_object()
    opts = options or BidsOptions()
    study = load_roi_study(
        root,
        atlas.name,
        atlas.labels,
        keep_data=False,
        participant_label=opts.participant_label or None,
        participants_query=opts.participants,
        workers=checking_workers(config.execution),
    )
    runs = [
        _roi_run(study, row, run, config)
        for (_, row), run in zip(study.design.iterrows(), study.runs, strict=True)
    ]
    summary = (
        f"{study.design['participant_id'].nunique()} participants, {len(study.runs)} runs, "
        f"atlas {study.atlas}"
    )
    record = {"selection": study.selection} if study.selection is not None else {}
    return StudyPlan(study.root, runs, study.design, _inputs(study.root, runs), record, summary)


@dataclass(frozen=True)
class BidsOptions:
    """Which runs and participants of a study are analysed, besides the space.

    Parameters
    ----------
    derivatives : str, Path or None
        fMRIPrep (or XCP-D) folder (default ``<study>/derivatives/fmriprep``).
    task : str or None
        Only runs of this task.
    res : str or None
        Resolution entity (``res-``), when the space has several.
    design : str, Path or None
        One explicit design TSV instead of ``participants.tsv`` and the
        sessions files.
    den : str or None
        Density entity (``den-``, CIFTI), when the space has several.
    bids_filter : str, Path or None
        A BIDS filter file, as fMRIPrep's ``--bids-filter-file`` takes it
        (its ``bold`` query selects the runs: acquisition, echo, run ...).
    participant_label : tuple of str
        Only these participants (with or without ``sub-``); empty: all.
    participants : str or None
        A query on the participants table, e.g. ``"group == 'patient'"``.
    repetition_time_table : str, Path or None
        Run tables: a TSV giving ``repetition_time`` per value of a column the
        run table shares (e.g. per site).
    repetition_time : float or None
        XCP-D outputs whose files record no repetition time: seconds, for
        every run (a file that records another is refused).
    """

    derivatives: str | Path | None = None
    task: str | None = None
    res: str | None = None
    design: str | Path | None = None
    den: str | None = None
    bids_filter: str | Path | None = None
    participant_label: tuple[str, ...] = ()
    participants: str | None = None
    repetition_time_table: str | Path | None = None
    repetition_time: float | None = None

    def selects_participants(self) -> bool:
        """Return whether a participant label or query narrows the study.

        Returns
        -------
        bool
            True with ``participant_label`` or ``participants``.
        """
        return bool(self.participant_label) or self.participants is not None


def bids_task(run: BoldRun, study_path: Path, config: AnalysisConfig) -> RunTask:
    """Describe one preprocessed BOLD run's per-run work as a task.

    Parameters
    ----------
    run : BoldRun
        A run found by :func:`dmnpharm.io.discover_study`.
    study_path : Path
        The BIDS folder; the task names the run by its path relative to it.
    config : AnalysisConfig
        Analysis choices, atlas resolved.

    Returns
    -------
    RunTask
        The image, its confounds and mask, repetition time and volumes.
    """
    return RunTask(
        label=str(run.bold),
        source=run.bold.relative_to(study_path).as_posix(),
        kind="bids",
        data_file=str(run.bold),
        repetition_time=float(run.repetition_time or 0.0),
        config=config,
        confounds=None if run.confounds is None else str(run.confounds),
        mask=None if run.mask is None else str(run.mask),
        n_volumes=run.n_volumes,
    )


def _bids_run(run: BoldRun, row: pd.Series, root: Path, config: AnalysisConfig) -> StudyRun:
    # Every entity that tells this run from another (acq, ce, rec, dir, run, echo, ...)
    # names its derivatives, in BIDS order; res/den/desc belong to the input image only.
    entities = {k: v for k, v in run.entities.items() if k not in ("res", "den", "desc", "cohort")}
    entities["sub"] = run.participant_id.removeprefix("sub-")
    entities["ses"] = run.session_id.removeprefix("ses-")
    return StudyRun({str(k): v for k, v in row.items()}, bids_task(run, root, config), entities)


def _bids_record(
    config: AnalysisConfig, space: str, desc: str, image_atlas: bool
) -> dict[str, Any]:
    """Return what the provenance says of a BIDS study's input: space, images, extraction."""
    return {
        "space": space,
        "bold_images": f"desc-{desc}_bold",
        "extraction": (
            "labels image resampled to each run's grid by nearest neighbour"
            if image_atlas
            else f"spheres of {config.radius_mm:g} mm around the atlas coordinates"
        ),
        "voxel_maps": (
            "ALFF, fALFF (0.01-0.08 Hz, unfiltered cleaning) and PCC/aMPFC seed maps "
            "(Andrews-Hanna 2010 centres, 8 mm) per run in "
            "derivatives/dmnpharm/sub-*/[ses-*/]func/"
            if config.voxel_maps
            else None
        ),
    }


def _atlas_fits_runs(atlas: Any, bolds: list[Path], config: AnalysisConfig) -> list[str]:
    """Name runs an atlas cannot be measured on: CIFTI runs need a dlabel, images a volume."""
    cifti = [b for b in bolds if b.name.endswith(".dtseries.nii")]
    dlabel = atlas.image.endswith(".dlabel.nii")
    where = atlas.source or atlas.name
    if cifti and not dlabel:
        return [
            f"{cifti[0]} (and {len(cifti) - 1} other CIFTI runs) holds grayordinates; the atlas "
            f"{where} is not a CIFTI parcellation: give --atlas a .dlabel.nii with its .tsv "
            "(index, name, network)"
        ]
    volume = [b for b in bolds if not b.name.endswith(".dtseries.nii")]
    if volume and dlabel:
        return [
            f"{volume[0]} is a volume image but the atlas {where} is a CIFTI dlabel: analyse "
            "the CIFTI runs (--space fsLR) or give a volume atlas"
        ]
    if cifti and config.voxel_maps:
        return [f"{cifti[0]}: voxel maps (--voxel-maps) are made from volume images only"]
    return []


def plan_bids(
    root: Path, config: AnalysisConfig, options: BidsOptions | None = None, deep: bool = False
) -> StudyPlan:
    """Discover and validate a BIDS study with fMRIPrep derivatives.

    Parameters
    ----------
    root : Path
        Raw BIDS folder with ``derivatives/fmriprep`` (or ``options.derivatives``).
    config : AnalysisConfig
        Its space; the ``aroma`` strategy reads fMRIPrep's AROMA-denoised
        images instead of the preprocessed ones; voxel maps need brain masks.
    options : BidsOptions or None
        Derivatives folder, task, resolution and design file.
    deep : bool
        Also read every image through (CRC of its compressed data).

    Returns
    -------
    StudyPlan
        Runs, design, inputs and the input's record.
    """
    opts = options or BidsOptions()
    desc = "smoothAROMAnonaggr" if config.denoise.strategy == "aroma" else "preproc"
    study = discover_study(
        root,
        config.space,
        opts.res,
        opts.derivatives,
        opts.task,
        opts.design,
        desc,
        deep,
        den=opts.den,
        bids_filter=read_bids_filter(opts.bids_filter) if opts.bids_filter else None,
        participant_label=opts.participant_label or None,
        participants_query=opts.participants,
    )
    atlas = config.atlas_object()
    atlas_problems = _atlas_fits_runs(atlas, [run.bold for run in study.runs], config)
    if atlas_problems:
        raise StudyValidationError(str(root), atlas_problems)
    if not atlas.image and not all(math.isfinite(c) for xyz in atlas.coords for c in xyz):
        raise StudyValidationError(
            str(root),
            [
                f"atlas {atlas.name!r} ({atlas.source or 'given in Python'}) has regions without "
                "coordinates and no labels image, so nothing can be extracted from images: "
                "give a labels image with its table, or a table with x, y, z columns "
                "(a regions table suits ROI-level folders only)"
            ],
        )
    runs = [
        _bids_run(run, row, root, config)
        for run, (_, row) in zip(study.runs, study.design.iterrows(), strict=True)
    ]
    if config.voxel_maps:
        unmasked = [run.label for run in runs if run.task.mask is None]
        if unmasked:
            raise StudyValidationError(
                str(root),
                [
                    f"{label}: voxel maps need the run's brain mask, none was found"
                    for label in unmasked
                ],
            )
    summary = (
        f"{study.design['participant_id'].nunique()} participants, {len(study.runs)} runs in "
        f"{study.space}, atlas {atlas.name}"
    )
    record = _bids_record(config, study.space, desc, bool(atlas.image))
    record["selection"] = study.selection
    return StudyPlan(root, runs, study.design, _inputs(root, runs), record, summary)
