"""``simulate`` writes every input form ``run`` reads, and ``validate`` names what it found."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmnpharm.cli import main


def test_simulate_xcpd_then_validate_says_who_denoised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An XCP-D-style study validates as XCP-D outputs, its cleaning credited to XCP-D."""
    study = tmp_path / "xcpd"
    assert main(["simulate", "--out", str(study), "--level", "xcpd", "--subjects", "2"]) == 0
    assert (study / "derivatives" / "xcp_d" / "dataset_description.json").is_file()
    capsys.readouterr()
    assert main(["validate", str(study), "--atlas", "seitzman300", "-q"]) == 0
    said = capsys.readouterr().out
    assert "XCP-D outputs: 2 participants, 4 runs" in said
    assert "denoising done by XCP-D" in said
    assert main(["validate", str(study), "--atlas", "seitzman300", "--strategy", "24p"]) == 1


def test_simulate_cifti_writes_dtseries_and_its_dlabel(tmp_path: Path) -> None:
    """The CIFTI level writes fsLR dense time series and the atlas as dlabel + table."""
    study = tmp_path / "cifti"
    assert main(["simulate", "--out", str(study), "--level", "cifti", "--subjects", "2"]) == 0
    assert len(sorted(study.rglob("*_space-fsLR_den-91k_bold.dtseries.nii"))) == 4
    atlas = study / "atlas" / "atlas-seitzman300_dseg.dlabel.nii"
    assert atlas.is_file()
    # what BIDS does not define is named for the validator (bids-validator-deno exits 0)
    assert (study / ".bidsignore").read_text().split() == ["ground_truth.json", "/atlas"]
    args = ["validate", str(study), "--space", "fsLR", "-q"]
    assert main([*args, "--atlas", str(atlas)]) == 0
    assert main(args) == 1  # a volume atlas for grayordinates is refused, with the fix


def test_acquisitions_belong_to_the_voxel_level(tmp_path: Path) -> None:
    """``--acquisitions`` with another level is a usage error."""
    args = ["simulate", "--out", str(tmp_path / "s"), "--acquisitions", "mb4", "mb8"]
    assert main(args) == 2


def test_xcpd_without_recorded_repetition_time_takes_the_option(tmp_path: Path) -> None:
    """No sidecar gives the TR: refused with the fix; ``--repetition-time`` supplies it."""
    study = tmp_path / "xcpd"
    assert main(["simulate", "--out", str(study), "--level", "xcpd", "--subjects", "2"]) == 0
    for sidecar in study.rglob("*_bold.json"):
        sidecar.unlink()
    args = ["validate", str(study), "--atlas", "seitzman300", "-q"]
    assert main(args) == 1
    assert main([*args, "--repetition-time", "2"]) == 0
    roi = tmp_path / "roi"
    assert main(["simulate", "--out", str(roi), "--subjects", "2"]) == 0
    assert main(["validate", str(roi), "--repetition-time", "2", "-q"]) == 1
