"""Write a simulated study at voxel level, in the layout fMRIPrep writes."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc, progress, sha256_file, staged_output_dir
from dmnpharm.exceptions import InputError
from dmnpharm.io import write_tsv
from dmnpharm.simulate._study import SimulatedRun, SimulatedStudy
from dmnpharm.simulate._voxel import write_bold_run, write_mask
from dmnpharm.simulate._voxel_grid import brain_mask, region_label_volume
from dmnpharm.simulate._write import (
    json_file,
    write_fmriprep_description,
    write_raw_tables,
)

__all__ = ["VOXEL_SPACE", "write_voxel_study"]

#: fMRIPrep space and resolution entities of the written images.
VOXEL_SPACE = "space-MNI152NLin2009cAsym_res-2"
#: What ``res-2`` means, as BIDS requires in the sidecar of every file with ``res-``.
_TEMPLATE = (
    "https://templateflow.s3.amazonaws.com/tpl-MNI152NLin2009cAsym/"
    "tpl-MNI152NLin2009cAsym_res-02_T1w.nii.gz"
)
_RESOLUTION = "2 mm isotropic voxels: the MNI152NLin2009cAsym template grid at 2 mm (97x115x97)"


@fill_doc
def write_voxel_study(
    study: SimulatedStudy,
    dest: str | Path,
    radius_mm: float = 5.0,
    overwrite: bool = False,
    acquisitions: tuple[str, ...] = (),
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

    With ``acquisitions``, each run is written once per label, as
    ``*_task-rest_acq-<label>_space-...`` (image, mask and confounds), as a
    scanner that acquired the session twice would give. The first label's
    images are those written without ``acquisitions`` (same signals, same
    voxel noise, the same bytes). Every other label carries the same region
    signals with the regions shuffled (one fixed permutation per label) and
    independent voxel noise: the same signal properties, confounds and global
    signal, but no network structure, so an analysis of the wrong acquisition
    misses the planted effects. ``ground_truth.json`` says which label is which.

    Parameters
    ----------
    %(simulated_study)s
    dest : str or Path
        Output folder, written atomically (staging folder, then rename).
    radius_mm : float
        Sphere radius of each region.
    %(overwrite)s
    acquisitions : tuple of str
        ``acq-`` labels (letters and digits), e.g. ``("mb4", "mb8")``; empty
        (the default) writes each run once, without ``acq-``.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    InputError
        When an acquisition label is not a BIDS label or is repeated.
    """
    labels = _check_acquisitions(acquisitions)
    with staged_output_dir(dest, overwrite=overwrite) as root:
        _write(study, root, radius_mm, labels)
    return Path(dest)


def _check_acquisitions(acquisitions: tuple[str, ...]) -> tuple[str, ...]:
    """Return the labels, or raise when one is not a BIDS label or is repeated."""
    if isinstance(cast(object, acquisitions), str):
        raise InputError(f"acquisitions must be a tuple of labels; got {acquisitions!r}")
    for label in acquisitions:
        if not isinstance(label, str) or not label.isascii() or not label.isalnum():
            raise InputError(
                f"acquisition label {label!r} is not a BIDS label (letters and digits only)"
            )
    if len(set(acquisitions)) != len(acquisitions):
        raise InputError(f"acquisition labels {acquisitions!r} repeat a label; give each once")
    return tuple(acquisitions)


#: Signal units per unit of image intensity relative to each voxel's baseline: one
#: unit of region signal is a 1 % intensity change, as BOLD fluctuations are.
SIGNAL_FRACTION = 0.01


def _write_run(
    func: Path,
    name: str,
    run: SimulatedRun,
    order: npt.NDArray[np.intp] | None,
    labels_volume: npt.NDArray[np.integer],
    mask: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    voxel_noise: float,
    study: SimulatedStudy,
) -> None:
    """Write one run's image, sidecar, mask and confounds under the file-name stem ``name``.

    ``order`` shuffles the regions (columns of the region signals); None keeps them.
    """
    sig = study.spec.signal
    signals = run.signals.bold + run.signals.nuisance
    bold = func / f"{name}_{VOXEL_SPACE}_desc-preproc_bold.nii.gz"
    write_bold_run(
        bold,
        signals if order is None else signals[:, order],
        run.signals.global_signal * sig.global_loading,
        labels_volume,
        mask,
        rng,
        voxel_noise,
        sig.repetition_time,
        signal_fraction=SIGNAL_FRACTION,
    )
    json_file(
        bold.with_name(bold.name.replace(".nii.gz", ".json")),
        {
            "RepetitionTime": sig.repetition_time,
            "SkullStripped": False,
            "TaskName": "rest",
            "Resolution": _RESOLUTION,
            "SpatialReference": _TEMPLATE,
            "Description": "simulated preprocessed BOLD series (region signals in spheres, "
            "global signal and voxel noise elsewhere in the brain)",
        },
    )
    brain = write_mask(func / f"{name}_{VOXEL_SPACE}_desc-brain_mask.nii.gz", mask)
    json_file(
        brain.with_name(brain.name.replace(".nii.gz", ".json")),
        {
            "Resolution": _RESOLUTION,
            "SpatialReference": _TEMPLATE,
            "Type": "Brain",
            "Description": "brain mask of the simulated grid (the same for every run)",
        },
    )
    confounds = func / f"{name}_desc-confounds_timeseries.tsv"
    write_tsv(run.signals.confounds.round(6), confounds)
    json_file(
        confounds.with_suffix(".json"),
        {"RepetitionTime": sig.repetition_time, **run.signals.confounds_meta},
    )


def _write(study: SimulatedStudy, root: Path, radius_mm: float, labels: tuple[str, ...]) -> None:
    sig = study.spec.signal
    version = study.ground_truth["dmnpharm_version"]
    write_raw_tables(study, root, f"dmnpharm simulated study ({study.spec.name})")
    fmriprep = root / "derivatives" / "fmriprep"
    write_fmriprep_description(fmriprep, version, "simulation in fMRIPrep's output layout")
    mask = brain_mask()
    labels_volume = region_label_volume(study.atlas, radius_mm=radius_mm, mask=mask)
    per_region = np.bincount(labels_volume.ravel())[1:]
    voxel_noise = sig.thermal_noise_sd * float(np.sqrt(np.median(per_region)))
    rng = np.random.default_rng([study.spec.seed, 1])
    # Other acquisitions: one generator of voxel noise and one region shuffle per label.
    others = [np.random.default_rng([study.spec.seed, 2, k]) for k in range(len(labels))]
    shuffles = [
        np.random.default_rng([study.spec.seed, 3, k]).permutation(study.atlas.n_regions)
        for k in range(len(labels))
    ]
    for run in progress(study.runs, "writing voxel-level runs"):
        func = fmriprep / run.participant_id / run.session_id / "func"
        stem = f"{run.participant_id}_{run.session_id}_task-rest"
        for k, label in enumerate(labels or ("",)):
            source = rng if k == 0 else others[k]
            order = None if k == 0 else shuffles[k]
            name = f"{stem}_acq-{label}" if label else stem
            _write_run(func, name, run, order, labels_volume, mask, source, voxel_noise, study)
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
    if labels:
        truth["voxel_layout"]["acquisitions"] = {
            "labels": list(labels),
            "planted": labels[0],
            "others": "the region signals with the regions shuffled (one permutation per "
            "label) and independent voxel noise: no planted network structure",
        }
    json_file(root / "ground_truth.json", truth)
