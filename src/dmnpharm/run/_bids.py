"""``dmnpharm run`` on a BIDS study with fMRIPrep derivatives: discover, extract, clean."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import get_logger, sha256_file
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import Extraction, VoxelMaps, extract_timeseries, extract_with_maps
from dmnpharm.io import BoldRun, discover_study
from dmnpharm.run._config import RunConfig
from dmnpharm.run._pipeline import Outputs, RunResult, StudyRun, _check_design_pairs, _finish
from dmnpharm.run._process import read_confounds

__all__ = ["execute_bids"]

_LOG = get_logger("run")


def _voxel_maps(
    run: BoldRun, atlas: Atlas, config: RunConfig, folder: Path
) -> tuple[Extraction, VoxelMaps | None]:
    """Extract the regions and, from the same read, the run's voxel maps; save the maps."""
    if run.mask is None:
        raise InputError(f"{run.bold}: voxel maps need the run's brain mask, none was found")
    confounds, meta = read_confounds(run.confounds)
    if confounds is None:
        n_volumes = run.n_volumes
        confounds = pd.DataFrame(index=range(n_volumes))
    extraction, maps = extract_with_maps(
        run.bold,
        atlas,
        run.mask,
        confounds,
        config.denoise,
        confounds_meta=meta,
        radius_mm=config.radius_mm,
        repetition_time=run.repetition_time,
    )
    stem = run.bold.name.split("_desc-")[0]
    if maps is None:
        _LOG.warning("no voxel maps for %s: %s", run.bold.name, extraction.record["voxel_maps"])
    else:
        written = maps.save(folder, stem)
        _LOG.info("wrote %d voxel maps of %s", len(written), run.bold.name)
    return extraction, maps


def _load(
    run: BoldRun, atlas: Atlas, config: RunConfig, maps_folder: Path
) -> npt.NDArray[np.float64]:
    if config.voxel_maps:
        extraction, _ = _voxel_maps(run, atlas, config, maps_folder)
    else:
        extraction = extract_timeseries(
            run.bold,
            atlas,
            mask=run.mask,
            radius_mm=config.radius_mm,
            repetition_time=run.repetition_time,
        )
    _LOG.debug("extracted %s: %s", run.bold.name, extraction.record)
    data: npt.NDArray[np.float64] = np.asarray(extraction.timeseries, dtype=np.float64)
    return data


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
            str(run.bold),
            partial(_load, run, atlas, config, staging / "voxel_maps"),
            run.confounds,
            float(run.repetition_time or 0.0),
            entities={
                "sub": run.participant_id.removeprefix("sub-"),
                "ses": run.session_id.removeprefix("ses-"),
                "task": run.task,
                "run": run.run,
                "space": run.space,
            },
            source=run.bold.relative_to(study_path).as_posix(),
        )
        for run, (_, row) in zip(study.runs, study.design.iterrows(), strict=True)
    ]
    files = [study_path / "participants.tsv", *study_path.glob("sub-*/sub-*_sessions.tsv")]
    for run in study.runs:
        files += [p for p in (run.bold, run.confounds, run.mask) if p is not None]
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
        "inputs": {
            p.relative_to(study_path).as_posix(): sha256_file(p) for p in sorted(set(files))
        },
    }
    truth_file = study_path / "ground_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else None
    return _finish(runs, study.design, staging, config, provenance, truth, outputs)
