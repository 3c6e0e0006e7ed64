"""dmnpharm run on a voxel-level (BIDS + fMRIPrep) simulated study."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.exceptions import StudyValidationError
from dmnpharm.run import RunConfig, run_study
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import (
    Effect,
    SignalSpec,
    load_preset,
    simulate_study,
    write_voxel_study,
)


@pytest.fixture(scope="module")
def voxel_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write 8 subjects x 2 sessions x 60 volumes with within-DMN FC 0.10 lower on drug."""
    base = load_preset("demo-crossover", seed=5)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=8),
        signal=SignalSpec(n_volumes=60),
        effects=(Effect("within_fc", -0.10, "DMN"),),
    )
    return write_voxel_study(simulate_study(spec), tmp_path_factory.mktemp("v") / "study")


def test_run_recovers_the_planted_effect_from_images(voxel_study: Path, tmp_path: Path) -> None:
    """Discover, extract, clean (acompcor), measure, test: the estimate is near -0.10.

    8 subjects: the paired SE is about 0.03, so the estimate must lie within 3 SE
    of the planted change; QC, exclusions and the extraction are recorded.
    """
    config = RunConfig(n_permutations=255, denoise=DenoiseConfig("acompcor"))
    result = run_study(voxel_study, tmp_path / "out", config)
    row = result.results.set_index("measure").loc["dmn_within_fc"]
    se = (row["ci_high"] - row["ci_low"]) / (2 * 2.365)  # t(0.975, 7)
    assert abs(row["estimate"] + 0.10) < 3 * se
    assert row["n"] == 8
    out = tmp_path / "out"
    qc = pd.read_csv(out / "group" / "qc.tsv", sep="\t")
    assert len(qc) == 16
    assert qc["mean_fd"].gt(0).all()
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["extraction"].startswith("spheres of 5 mm")
    assert provenance["config"]["denoise"]["name"] == "acompcor"
    assert "acompcor" in provenance["denoising"] or "CompCor" in provenance["denoising"]
    assert len(provenance["cleaning_per_run"]) == 16
    assert set(result.metrics["strategy"]) == {"acompcor"}


def test_a_corrupt_run_stops_or_is_left_out_by_option(voxel_study: Path, tmp_path: Path) -> None:
    """A truncated image is named; with allow_failures the others go on and it is listed."""
    study = Path(shutil.copytree(voxel_study, tmp_path / "study"))
    func = study / "derivatives" / "fmriprep" / "sub-03" / "ses-2" / "func"
    bold = next(func.glob("*_desc-preproc_bold.nii.gz"))
    bold.write_bytes(bold.read_bytes()[: bold.stat().st_size // 2])
    config = RunConfig(n_permutations=99)
    with pytest.raises(StudyValidationError, match="sub-03_ses-2"):
        run_study(study, tmp_path / "out", config)
    assert not (tmp_path / "out").exists()
    result = run_study(study, tmp_path / "out2", replace(config, allow_failures=True))
    exclusions = pd.read_csv(tmp_path / "out2" / "group" / "exclusions.tsv", sep="\t")
    text = " ".join(exclusions["exclusion"])
    assert "failed and left out" in text
    assert "sub-03" in text
    assert result.results["n"].eq(7).all()
