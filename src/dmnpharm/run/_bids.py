"""``dmnpharm run`` on a BIDS study with fMRIPrep derivatives: discover, extract, clean."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import get_logger, sha256_file
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.extract import extract_timeseries
from dmnpharm.io import BoldRun, discover_study
from dmnpharm.run._config import RunConfig
from dmnpharm.run._pipeline import RunResult, StudyRun, _check_design_pairs, _finish

__all__ = ["execute_bids"]

_LOG = get_logger("run")


def _load(run: BoldRun, atlas: Atlas, config: RunConfig) -> npt.NDArray[np.float64]:
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
    study_path: Path, staging: Path, config: RunConfig, recorded_study: str
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

    Returns
    -------
    RunResult
        Tables and paths (inside ``staging``).
    """
    study = discover_study(study_path, space=config.space)
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
            partial(_load, run, atlas, config),
            run.confounds,
            float(run.repetition_time or 0.0),
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
        "extraction": (
            "labels image resampled to each run's grid by nearest neighbour"
            if atlas.image
            else f"spheres of {config.radius_mm:g} mm around the atlas coordinates"
        ),
        "inputs": {
            p.relative_to(study_path).as_posix(): sha256_file(p) for p in sorted(set(files))
        },
    }
    truth_file = study_path / "ground_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else None
    return _finish(runs, study.design, staging, config, provenance, truth)
