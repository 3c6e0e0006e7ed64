"""CIFTI grayordinate runs through ``run``: parcel means of a dlabel, outputs also as CIFTI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from bids_validity import DERIVATIVES_WARNINGS, SIMULATED_DERIVATIVES_WARNINGS, assert_valid
from conftest import SMALL_SPEC, in_process_runs
from dmnpharm.cli import main
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.pipeline import Study
from dmnpharm.simulate import simulate_study, write_cifti_study


@pytest.fixture(scope="module")
def cifti_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write a 4-subject crossover in fMRIPrep's fsLR layout with its dlabel atlas."""
    spec = replace(SMALL_SPEC, design=replace(SMALL_SPEC.design, n_subjects=4))
    return write_cifti_study(simulate_study(spec), tmp_path_factory.mktemp("cifti") / "study")


def test_the_simulated_cifti_derivatives_are_valid_bids(cifti_study: Path) -> None:
    """fMRIPrep-style CIFTI derivatives validate; the dtseries need their .bidsignore.

    The validator (schema 1.2.7) has no rule for CIFTI BOLD series yet; the sidecars
    give ``Density`` for ``den-91k``.
    """
    fmriprep = cifti_study / "derivatives" / "fmriprep"
    assert_valid(fmriprep, SIMULATED_DERIVATIVES_WARNINGS)
    assert "*_bold.dtseries.nii" in (fmriprep / ".bidsignore").read_text().splitlines()


def test_a_volume_atlas_is_refused_for_grayordinates(cifti_study: Path) -> None:
    """Without a dlabel atlas the study is refused before any work, with the fix."""
    with pytest.raises(StudyValidationError, match=r"give --atlas a \.dlabel\.nii"):
        Study.from_folder(cifti_study).plan(AnalysisConfig(space="fsLR"))


def test_run_writes_tsv_and_cifti_derivatives(cifti_study: Path, tmp_path: Path) -> None:
    """Measures come from parcel means; each run's matrix is written as TSV and .pconn.nii."""
    atlas = cifti_study / "atlas" / "atlas-seitzman300_dseg.dlabel.nii"
    out = tmp_path / "out"
    args = ["run", str(cifti_study), "--space", "fsLR", "--atlas", str(atlas)]
    with in_process_runs(tmp_path / "cache"):
        assert (
            main([*args, "--out", str(out), "--permutations", "20", "--no-gsr-sensitivity", "-q"])
            == 0
        )
    recorded = json.loads((out / "provenance.json").read_text())["config"]["atlas"]
    assert recorded["image"].endswith(".dlabel.nii")
    # named as XCP-D 0.10 names its CIFTI outputs
    pconn = sorted((out / "derivatives").rglob("*_stat-pearsoncorrelation_boldmap.pconn.nii"))
    assert len(pconn) == 8
    assert all("_den-91k_stat-" in path.name for path in pconn)  # XCP-D names the density
    tsv = pconn[0].with_name(
        pconn[0].name.replace("_den-91k", "").replace("_boldmap.pconn.nii", "_relmat.tsv")
    )
    from_tsv = pd.read_csv(tsv, sep="\t", index_col=0, na_values="n/a").to_numpy()
    from_cifti = np.asarray(nib.load(pconn[0]).get_fdata())
    assert np.allclose(from_tsv, from_cifti, atol=1e-5, equal_nan=True)
    assert len(sorted((out / "derivatives").rglob("*_stat-mean_timeseries.ptseries.nii"))) == 8
    derivatives = out / "derivatives" / "dmnpharm"
    assert_valid(derivatives, DERIVATIVES_WARNINGS)
    assert {"*.ptseries.nii", "*.pconn.nii"} <= set(
        (derivatives / ".bidsignore").read_text().splitlines()
    )
    atlases = derivatives / "atlases" / "atlas-seitzman300"
    assert (atlases / "atlas-seitzman300_space-fsLR_dseg.dlabel.nii").is_file()
