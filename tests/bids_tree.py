"""Tiny fMRIPrep trees for tests: BOLD images with sidecars, masks and confounds, by entities."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from dmnpharm.io._bids_filter import parse_entities

SPACE = "space-MNI152NLin2009cAsym_res-2"
N_VOLUMES = 17
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def func_folder(root: Path, raw: str) -> Path:
    """Return (and make) the func folder of a run named by its raw entities."""
    ent = parse_entities(raw)
    folder = root / "derivatives" / "fmriprep" / f"sub-{ent['sub']}"
    if "ses" in ent:
        folder = folder / f"ses-{ent['ses']}"
    folder = folder / "func"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_run(
    root: Path,
    raw: str,
    image: str = SPACE,
    confounds: str | None = None,
    n_volumes: int = N_VOLUMES,
) -> Path:
    """Write a BOLD image ``<raw>_<image>_desc-preproc_bold`` with sidecar, mask and confounds.

    ``confounds`` names the raw entities of the confounds file (default ``raw``);
    the mask carries the image's entities without ``echo``.
    """
    folder = func_folder(root, raw)
    bold = folder / f"{raw}_{image}_desc-preproc_bold.nii.gz"
    data = np.zeros((3, 4, 5, n_volumes), np.int16)
    nib.save(nib.Nifti1Image(data, AFFINE), bold)
    (folder / f"{raw}_{image}_desc-preproc_bold.json").write_text('{"RepetitionTime": 2.0}')
    no_echo = "_".join(p for p in raw.split("_") if not p.startswith("echo-"))
    mask = folder / f"{no_echo}_{image}_desc-brain_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((3, 4, 5), np.uint8), AFFINE), mask)
    table = pd.DataFrame({"global_signal": np.arange(n_volumes, dtype=float)})
    table.to_csv(
        folder / f"{confounds or raw}_desc-confounds_timeseries.tsv", sep="\t", index=False
    )
    return bold


def add_participants(root: Path, ids: list[str]) -> None:
    """Write participants.tsv (group and age per participant) and the fMRIPrep description."""
    groups = ["patient" if i % 2 == 0 else "control" for i in range(len(ids))]
    table = pd.DataFrame(
        {"participant_id": ids, "group": groups, "age": [20 + 7 * i for i in range(len(ids))]}
    )
    table.to_csv(root / "participants.tsv", sep="\t", index=False)
    deriv = root / "derivatives" / "fmriprep"
    deriv.mkdir(parents=True, exist_ok=True)
    (deriv / "dataset_description.json").write_text('{"DatasetType": "derivative"}')


def two_acquisitions(root: Path) -> Path:
    """Write 3 participants with one run each in acquisitions mb4 and mb8."""
    add_participants(root, ["sub-01", "sub-02", "sub-03"])
    for sub in ("01", "02", "03"):
        for acq in ("mb4", "mb8"):
            add_run(root, f"sub-{sub}_task-rest_acq-{acq}")
    return root
