"""Discovery and validation of a BIDS study with fMRIPrep derivatives."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import discover_study
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_voxel_study


@pytest.fixture(scope="module")
def voxel_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write a 2-subject, 2-session voxel-level study of 20 volumes (read-only)."""
    base = load_preset("demo-crossover", seed=2)
    spec = replace(
        base, design=replace(base.design, n_subjects=2), signal=SignalSpec(n_volumes=20)
    )
    return write_voxel_study(simulate_study(spec), tmp_path_factory.mktemp("vox") / "study")


@pytest.fixture
def voxel_study(voxel_template: Path, tmp_path: Path) -> Path:
    """Return a private copy of the voxel study."""
    return Path(shutil.copytree(voxel_template, tmp_path / "study"))


def test_discovers_runs_files_and_design(voxel_template: Path) -> None:
    """Every run is found with its confounds, mask, TR and design row."""
    study = discover_study(voxel_template)
    assert len(study.runs) == 4
    run = study.runs[0]
    assert (run.participant_id, run.session_id, run.task, run.space, run.res) == (
        "sub-01",
        "ses-1",
        "rest",
        "MNI152NLin2009cAsym",
        "2",
    )
    assert run.confounds is not None
    assert run.confounds.is_file()
    assert run.mask is not None
    assert run.mask.is_file()
    assert run.repetition_time == 2.0
    assert run.n_volumes == 20
    assert list(study.design["participant_id"]) == ["sub-01", "sub-01", "sub-02", "sub-02"]
    assert set(study.design["condition"]) == {"placebo", "drug"}


def test_explicit_design_file_replaces_sessions(voxel_template: Path, tmp_path: Path) -> None:
    """A design TSV with participant_id and session_id gives the design instead."""
    design = tmp_path / "design.tsv"
    pd.DataFrame(
        {
            "participant_id": ["sub-01", "sub-01", "sub-02", "sub-02"],
            "session_id": ["ses-1", "ses-2", "ses-1", "ses-2"],
            "condition": ["a", "b", "b", "a"],
        }
    ).to_csv(design, sep="\t", index=False)
    study = discover_study(voxel_template, design=design)
    assert list(study.design["condition"]) == ["a", "b", "b", "a"]


def test_every_problem_is_listed_at_once(voxel_study: Path) -> None:
    """Nine kinds of problem, each named with its file (and row), in one error."""
    func = voxel_study / "derivatives" / "fmriprep"
    s1 = func / "sub-01" / "ses-1" / "func"
    s2 = func / "sub-01" / "ses-2" / "func"
    t1 = func / "sub-02" / "ses-1" / "func"
    t2 = func / "sub-02" / "ses-2" / "func"
    # 1 missing confounds
    (s1 / "sub-01_ses-1_task-rest_desc-confounds_timeseries.tsv").unlink()
    # 2 confounds rows != volumes, 3 an all-empty column
    conf = s2 / "sub-01_ses-2_task-rest_desc-confounds_timeseries.tsv"
    table = pd.read_csv(conf, sep="\t")
    table.iloc[:-2].assign(broken="n/a").to_csv(conf, sep="\t", index=False)
    # 4 a TR mismatch in one sidecar
    side = next(t1.glob("*_desc-preproc_bold.json"))
    side.write_text(json.dumps({"RepetitionTime": 2.5}))
    # 5 a 3D image where 4D is expected, with its own files under another run label
    bold = next(t2.glob("*_desc-preproc_bold.nii.gz"))
    img = nib.load(bold)
    three_d = bold.with_name(bold.name.replace("task-rest_", "task-rest_run-2_"))
    nib.save(nib.Nifti1Image(np.zeros(img.shape[:3], np.int16), img.affine), three_d)
    # 6 a duplicate run (uncompressed copy with the same entities)
    nib.save(img, bold.with_name(bold.name.replace(".nii.gz", ".nii")))
    # 7 space mismatch: a subject/session only in T1w space
    extra = func / "sub-03" / "ses-1" / "func"
    extra.mkdir(parents=True)
    shutil.copy(bold, extra / "sub-03_ses-1_task-rest_space-T1w_desc-preproc_bold.nii.gz")
    # 8 a design row without data
    sessions = voxel_study / "sub-02" / "sub-02_sessions.tsv"
    rows = sessions.read_text().splitlines()
    sessions.write_text("\n".join([*rows, "ses-3\tplacebo\t0.0\tn/a"]) + "\n")
    with pytest.raises(StudyValidationError) as caught:
        discover_study(voxel_study)
    text = str(caught.value)
    expected = [
        f"{s1}/sub-01_ses-1_task-rest_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz"
        ": has no confounds file",
        f"{conf}: has 18 rows but",
        f"{conf}: columns with no values at all: broken",
        "repetition time 2.5 s, while the other runs have 2 s",
        f"{three_d}: is 3D",
        "duplicates",
        "has BOLD in space 'T1w' but none in 'MNI152NLin2009cAsym'",
        f"{sessions}, line 4: design row has no BOLD run",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert len(caught.value.problems) >= len(expected)


def test_space_and_folder_errors(voxel_template: Path, tmp_path: Path) -> None:
    """An absent space lists the spaces found; a missing folder is named."""
    with pytest.raises(StudyValidationError, match="spaces found: MNI152NLin2009cAsym"):
        discover_study(voxel_template, space="MNI152NLin6Asym")
    with pytest.raises(InputError, match="does not exist"):
        discover_study(tmp_path / "nowhere")
    with pytest.raises(StudyValidationError, match="derivatives folder not found"):
        discover_study(tmp_path)


def _as_aroma_outputs(study: Path) -> None:
    """Rename the images as fMRIPrep 20-22 writes ICA-AROMA outputs (NLin6Asym, no res-)."""
    for bold in study.glob("derivatives/fmriprep/sub-*/ses-*/func/*_desc-preproc_bold.nii.gz"):
        head = bold.name.split("_space-")[0]
        bold.rename(
            bold.with_name(f"{head}_space-MNI152NLin6Asym_desc-smoothAROMAnonaggr_bold.nii.gz")
        )
        side = bold.with_name(bold.name.replace(".nii.gz", ".json"))
        side.rename(
            side.with_name(f"{head}_space-MNI152NLin6Asym_desc-smoothAROMAnonaggr_bold.json")
        )
    for mask in study.glob("derivatives/fmriprep/sub-*/ses-*/func/*_desc-brain_mask.nii.gz"):
        head = mask.name.split("_space-")[0]
        mask.rename(mask.with_name(f"{head}_space-MNI152NLin6Asym_res-2_desc-brain_mask.nii.gz"))


def test_aroma_images_are_found_with_their_mask(voxel_study: Path) -> None:
    """desc=smoothAROMAnonaggr finds the AROMA images and the res-2 mask of that space."""
    _as_aroma_outputs(voxel_study)
    study = discover_study(voxel_study, space="MNI152NLin6Asym", desc="smoothAROMAnonaggr")
    assert len(study.runs) == 4
    run = study.runs[0]
    assert run.bold.name.endswith("_desc-smoothAROMAnonaggr_bold.nii.gz")
    assert run.mask is not None
    assert run.mask.name.endswith("space-MNI152NLin6Asym_res-2_desc-brain_mask.nii.gz")
    assert run.confounds is not None
    assert run.repetition_time == 2.0
    with pytest.raises(StudyValidationError, match="--use-aroma"):
        discover_study(voxel_study, desc="smoothAROMAnonaggr")
    with pytest.raises(InputError, match="BIDS label"):
        discover_study(voxel_study, desc="bad-desc")
