"""``dmnpharm run`` on a BIDS study with fMRIPrep derivatives: discover, extract, clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dmnpharm._utils import get_logger
from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.io import BoldRun, discover_study
from dmnpharm.config._analysis import RunConfig
from dmnpharm.pipeline._orchestrator import Outputs, RunResult, StudyRun, _check_design_pairs, _finish
from dmnpharm.pipeline._tasks import RunTask

__all__ = ["bids_task", "execute_bids"]

_LOG = get_logger("run")


def bids_task(run: BoldRun, study_path: Path, config: RunConfig) -> RunTask:
    """Describe one preprocessed BOLD run's per-run work as a task.

    Parameters
    ----------
    run : BoldRun
        A run found by :func:`dmnpharm.io.discover_study`.
    study_path : Path
        The BIDS folder; the task names the run by its path relative to it.
    config : RunConfig
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


def execute_bids(
    study_path: Path, staging: Path, config: RunConfig, recorded_study: str, outputs: Outputs
) -> RunResult:
    """Analyse a BIDS study with fMRIPrep derivatives into ``staging``.

    Parameters
    ----------
    study_path : Path
        Raw BIDS folder with ``derivatives/fmriprep``.
    staging : Path
        Output folder being written.
    config : RunConfig
        Analysis choices; the atlas defaults to ``seitzman300``.
    recorded_study : str
        How the study is named in the provenance.
    outputs : Outputs
        The output folder, results store and input study, for the
        derivatives and the store.

    Returns
    -------
    RunResult
        Tables and paths (inside ``staging``).
    """
    # The aroma strategy cleans fMRIPrep's AROMA-denoised images, not the preproc ones.
    desc = "smoothAROMAnonaggr" if config.denoise.strategy == "aroma" else "preproc"
    study = discover_study(study_path, space=config.space, desc=desc)
    _check_design_pairs(study.design, config, study_path)
    atlas = load_atlas(str(config.atlas))
    _LOG.info(
        "study %s: %d participants, %d runs in %s, atlas %s, denoising %s",
        recorded_study,
        study.design["participant_id"].nunique(),
        len(study.runs),
        study.space,
        atlas.name,
        config.strategy,
    )
    runs = [
        StudyRun(
            {str(k): v for k, v in row.items()},
            bids_task(run, study_path, config),
            entities={
                "sub": run.participant_id.removeprefix("sub-"),
                "ses": run.session_id.removeprefix("ses-"),
                "task": run.task,
                "run": run.run,
                "space": run.space,
            },
        )
        for run, (_, row) in zip(study.runs, study.design.iterrows(), strict=True)
    ]
    if config.voxel_maps:
        unmasked = [run.label for run in runs if run.task.mask is None]
        if unmasked:
            raise StudyValidationError(
                str(study_path),
                [
                    f"{label}: voxel maps need the run's brain mask, none was found"
                    for label in unmasked
                ],
            )
    files = [study_path / "participants.tsv", *study_path.glob("sub-*/sub-*_sessions.tsv")]
    for run in runs:
        files += [Path(f) for f in run.task.input_files()]
    provenance: dict[str, Any] = {
        "command": "run",
        "study": recorded_study,
        "space": study.space,
        "bold_images": f"desc-{desc}_bold",
        "extraction": (
            "labels image resampled to each run's grid by nearest neighbour"
            if atlas.image
            else f"spheres of {config.radius_mm:g} mm around the atlas coordinates"
        ),
        "voxel_maps": (
            "ALFF, fALFF (0.01-0.08 Hz, unfiltered cleaning) and PCC/aMPFC seed maps "
            "(Andrews-Hanna 2010 centres, 8 mm) per run under voxel_maps/"
            if config.voxel_maps
            else None
        ),
        "inputs": outputs.input_hashes(study_path, sorted(set(files))),
    }
    truth_file = study_path / "ground_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else None
    return _finish(runs, study.design, staging, config, provenance, truth, outputs)
