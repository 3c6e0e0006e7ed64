"""The voxel-level form: fMRIPrep layout, and agreement with the ROI-level form."""

import json
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiLabelsMasker

from dmnpharm.metrics import run_fc_metrics
from dmnpharm.simulate import (
    MNI_RES2_AFFINE,
    VOXEL_SPACE,
    SignalSpec,
    brain_mask,
    load_preset,
    region_label_volume,
    simulate_study,
    write_voxel_study,
)


def test_voxel_form_layout_and_agreement_with_roi_form(tmp_path: Path) -> None:
    """Sphere means of the written images track the ROI-level signals of the same spec.

    Per region, the correlation between the voxel-extracted and the ROI-level series
    is above 0.8 for at least 90% of regions (both carry independent thermal-level
    noise of similar size), and within-DMN FC agrees within 0.1 Fisher z.
    """
    base = load_preset("demo-crossover", seed=3)
    spec = replace(
        base, design=replace(base.design, n_subjects=2), signal=SignalSpec(n_volumes=40)
    )
    study = simulate_study(spec)
    root = write_voxel_study(study, tmp_path / "vox")
    assert (root / "participants.tsv").is_file()
    assert (root / "sub-01" / "sub-01_sessions.tsv").is_file()
    func = root / "derivatives" / "fmriprep" / "sub-01" / "ses-1" / "func"
    bold = func / f"sub-01_ses-1_task-rest_{VOXEL_SPACE}_desc-preproc_bold.nii.gz"
    image = nib.load(bold)
    assert image.shape == (97, 115, 97, 40)
    assert image.header.get_zooms()[3] == 2.0
    assert (func / f"sub-01_ses-1_task-rest_{VOXEL_SPACE}_desc-brain_mask.nii.gz").is_file()
    confounds = pd.read_csv(
        func / "sub-01_ses-1_task-rest_desc-confounds_timeseries.tsv", sep="\t"
    )
    assert len(confounds) == 40
    layout = json.loads((root / "ground_truth.json").read_text())["voxel_layout"]
    assert layout["signal_fraction"] == 0.01
    assert layout["sphere_radius_mm"] == 5.0
    labels = region_label_volume(study.atlas, radius_mm=5.0, mask=brain_mask())
    labels_img = nib.Nifti1Image(labels, np.array(MNI_RES2_AFFINE))
    masker = NiftiLabelsMasker(labels_img, standardize=None, strategy="mean")
    extracted = masker.fit_transform(image)
    assert extracted.shape == (40, study.atlas.n_regions)
    roi = next(r for r in study.runs if (r.participant_id, r.session_id) == ("sub-01", "ses-1"))
    corr = [np.corrcoef(extracted[:, i], roi.data[:, i])[0, 1] for i in range(roi.data.shape[1])]
    assert np.mean(np.asarray(corr) > 0.8) >= 0.9
    voxel_fc = run_fc_metrics(extracted, study.atlas)["dmn_within_fc"]
    roi_fc = run_fc_metrics(roi.data, study.atlas)["dmn_within_fc"]
    assert abs(voxel_fc - roi_fc) < 0.1


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
def test_schaefer_layout_is_recovered_by_a_labels_masker(tmp_path: Path) -> None:
    """With a Schaefer atlas, sources fill its parcels; nilearn's labels masker recovers them.

    Extracting the written images with NiftiLabelsMasker on the original Schaefer
    image (resampled by nilearn to the data) correlates above 0.8 with the ROI-level
    series for at least 90 % of parcels, and within-DMN FC agrees within 0.1.
    """
    base = load_preset("demo-crossover", seed=4)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=2),
        signal=SignalSpec(atlas="schaefer100_7", n_volumes=40),
    )
    study = simulate_study(spec)
    root = write_voxel_study(study, tmp_path / "vox")
    layout = json.loads((root / "ground_truth.json").read_text())["voxel_layout"]
    assert layout["regions"].startswith("labels image")
    func = root / "derivatives" / "fmriprep" / "sub-02" / "ses-2" / "func"
    image = nib.load(func / f"sub-02_ses-2_task-rest_{VOXEL_SPACE}_desc-preproc_bold.nii.gz")
    masker = NiftiLabelsMasker(study.atlas.image, standardize=None, strategy="mean")
    extracted = masker.fit_transform(image)
    assert extracted.shape == (40, 100)
    roi = next(r for r in study.runs if (r.participant_id, r.session_id) == ("sub-02", "ses-2"))
    corr = [np.corrcoef(extracted[:, i], roi.data[:, i])[0, 1] for i in range(100)]
    assert np.mean(np.asarray(corr) > 0.8) >= 0.9
    voxel_fc = run_fc_metrics(extracted, study.atlas)["dmn_within_fc"]
    roi_fc = run_fc_metrics(roi.data, study.atlas)["dmn_within_fc"]
    assert abs(voxel_fc - roi_fc) < 0.1
