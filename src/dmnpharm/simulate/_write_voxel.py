"""Write a simulated study at voxel level, in the layout fMRIPrep writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dmnpharm._utils import fill_doc, sha256_file, staged_output_dir
from dmnpharm.io import write_tsv
from dmnpharm.simulate._study import SimulatedStudy
from dmnpharm.simulate._voxel import write_bold_run, write_mask
from dmnpharm.simulate._voxel_grid import brain_mask, region_label_volume
from dmnpharm.simulate._write import json_file, session_table, visible_participants

__all__ = ["VOXEL_SPACE", "write_voxel_study"]

#: fMRIPrep space and resolution entities of the written images.
VOXEL_SPACE = "space-MNI152NLin2009cAsym_res-2"


@fill_doc
def write_voxel_study(
    study: SimulatedStudy, dest: str | Path, radius_mm: float = 5.0, overwrite: bool = False
) -> Path:
    """Write a simulated study as raw BIDS tables plus fMRIPrep-style derivatives.

    Each region's signal fills a sphere of ``radius_mm`` around its atlas
    coordinate on the 2 mm MNI152NLin2009cAsym grid, with independent voxel
    noise sized so that the sphere mean carries about the ROI-level form's
    thermal noise; other brain voxels carry the global signal and noise.
    Layout: ``participants.tsv``, ``sub-*/sub-*_sessions.tsv``,
    ``dataset_description.json``, and under ``derivatives/fmriprep/sub-*/ses-*/func/``
    the ``*_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz``,
    ``*_desc-brain_mask.nii.gz`` and ``*_desc-confounds_timeseries.tsv`` with JSON
    sidecars giving ``RepetitionTime``; ``ground_truth.json`` at the top.

    Parameters
    ----------
    %(simulated_study)s
    dest : str or Path
        Output folder, written atomically (staging folder, then rename).
    radius_mm : float
        Sphere radius of each region.
    %(overwrite)s

    Returns
    -------
    Path
        ``dest``.
    """
    with staged_output_dir(dest, overwrite=overwrite) as root:
        _write(study, root, radius_mm)
    return Path(dest)


#: Signal units per unit of image intensity relative to each voxel's baseline: one
#: unit of region signal is a 1 % intensity change, as BOLD fluctuations are.
SIGNAL_FRACTION = 0.01


def _write(study: SimulatedStudy, root: Path, radius_mm: float) -> None:
    sig = study.spec.signal
    version = study.ground_truth["dmnpharm_version"]
    write_tsv(visible_participants(study), root / "participants.tsv")
    json_file(
        root / "dataset_description.json",
        {
            "Name": f"dmnpharm simulated study ({study.spec.name})",
            "BIDSVersion": "1.9.0",
            "DatasetType": "raw",
        },
    )
    for pid, table in session_table(study):
        write_tsv(table, root / pid / f"{pid}_sessions.tsv")
    fmriprep = root / "derivatives" / "fmriprep"
    json_file(
        fmriprep / "dataset_description.json",
        {
            "Name": "simulated fMRIPrep-style derivatives",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [
                {
                    "Name": "dmnpharm",
                    "Version": version,
                    "Description": "simulation in fMRIPrep's output layout",
                }
            ],
        },
    )
    mask = brain_mask()
    labels = region_label_volume(study.atlas, radius_mm=radius_mm, mask=mask)
    per_region = np.bincount(labels.ravel())[1:]
    voxel_noise = sig.thermal_noise_sd * float(np.sqrt(np.median(per_region)))
    rng = np.random.default_rng([study.spec.seed, 1])
    for run in study.runs:
        func = fmriprep / run.participant_id / run.session_id / "func"
        stem = f"{run.participant_id}_{run.session_id}_task-rest"
        bold = func / f"{stem}_{VOXEL_SPACE}_desc-preproc_bold.nii.gz"
        write_bold_run(
            bold,
            run.signals.bold + run.signals.nuisance,
            run.signals.global_signal * sig.global_loading,
            labels,
            mask,
            rng,
            voxel_noise,
            sig.repetition_time,
            signal_fraction=SIGNAL_FRACTION,
        )
        json_file(
            bold.with_name(bold.name.replace(".nii.gz", ".json")),
            {"RepetitionTime": sig.repetition_time, "SkullStripped": False, "TaskName": "rest"},
        )
        write_mask(func / f"{stem}_{VOXEL_SPACE}_desc-brain_mask.nii.gz", mask)
        confounds = func / f"{stem}_desc-confounds_timeseries.tsv"
        write_tsv(run.signals.confounds.round(6), confounds)
        json_file(
            confounds.with_suffix(".json"),
            {"RepetitionTime": sig.repetition_time, **run.signals.confounds_meta},
        )
    truth = dict(study.ground_truth)
    atlas = study.atlas
    regions: dict[str, object] = (
        {
            "regions": "labels image resampled to the grid by nearest neighbour",
            "atlas_image": Path(atlas.image).name,
            "atlas_image_sha256": sha256_file(Path(atlas.image)),
        }
        if atlas.image
        else {"regions": "spheres around the atlas coordinates", "sphere_radius_mm": radius_mm}
    )
    truth["voxel_layout"] = {
        "space": VOXEL_SPACE,
        **regions,
        "voxel_noise_sd": voxel_noise,
        "signal_fraction": SIGNAL_FRACTION,
        "intensity_model": "baseline_v * (1 + signal_fraction * (region signal + voxel noise))",
    }
    json_file(root / "ground_truth.json", truth)
