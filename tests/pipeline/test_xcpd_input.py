"""XCP-D outputs as input: measured without cleaning again, recorded as XCP-D's denoising."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_SPEC, in_process_runs
from dmnpharm.cli import main
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.pipeline import Study
from dmnpharm.pipeline._orchestrator import resolve_config, study_kind
from dmnpharm.simulate import SignalSpec, simulate_study, write_xcpd_study

#: 4 subjects x 2 sessions x 100 volumes with a little more motion, so that XCP-D censors some.
_SPEC = replace(
    SMALL_SPEC,
    design=replace(SMALL_SPEC.design, n_subjects=4),
    signal=SignalSpec(n_volumes=100, repetition_time=1.5, mean_fd=0.2),
)


@pytest.fixture(scope="module")
def xcpd_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Write the study as XCP-D 0.10.6 outputs, interpolated, with a network mapping file.

    Returns the BIDS folder, XCP-D's atlas table and the mapping.
    """
    base = tmp_path_factory.mktemp("xcpd")
    root = write_xcpd_study(simulate_study(_SPEC), base / "study", output_type="interpolated")
    table = root / "derivatives/xcp_d/atlases/atlas-seitzman300/atlas-seitzman300_dseg.tsv"
    mapping = base / "networks.tsv"
    mapping.write_text("name\tnetwork\nVentralAttention\tVAN\n", encoding="utf-8")
    return root, table, mapping


def test_folder_is_recognised_and_cleaning_refused(xcpd_study: tuple[Path, Path, Path]) -> None:
    """The BIDS folder and the XCP-D folder are both XCP-D studies; re-cleaning is refused."""
    root, table, mapping = xcpd_study
    assert study_kind(root) == "xcpd"
    assert study_kind(root / "derivatives" / "xcp_d") == "xcpd"
    from dmnpharm.atlases import load_atlas

    config = resolve_config(AnalysisConfig(atlas=load_atlas(table, mapping)), root, "xcpd")
    assert config.denoise.done_by == "XCP-D 0.10.6"
    assert not config.gsr_sensitivity
    from dmnpharm.signal import DenoiseConfig

    with pytest.raises(InputError, match="already denoised"):
        resolve_config(AnalysisConfig(denoise=DenoiseConfig("24p")), root, "xcpd")


def test_runs_drop_xcpd_outliers_and_keep_its_motion(xcpd_study: tuple[Path, Path, Path]) -> None:
    """Interpolated volumes XCP-D flagged are left out; FD comes from its motion file."""
    root, table, mapping = xcpd_study
    from dmnpharm.atlases import load_atlas
    from dmnpharm.pipeline._work import execute_run

    config = AnalysisConfig(atlas=load_atlas(table, mapping))
    plan = Study.from_folder(root).plan(config)
    assert len(plan.runs) == 8
    flagged = [r for r in plan.runs if r.task.xcpd is not None and r.task.xcpd.outlier_volumes]
    assert flagged, "the simulated motion should make XCP-D flag some volumes"
    run = flagged[0]
    assert run.task.xcpd is not None
    n_flagged = len(run.task.xcpd.outlier_volumes)
    assert run.task.n_volumes == 100 - n_flagged
    cfg = resolve_config(config, root, "xcpd")
    outcome = execute_run(replace(run.task, config=cfg))
    assert outcome.error is None
    assert outcome.processed is not None
    record = outcome.processed.record
    assert record["n_volumes"] == 100 - n_flagged
    assert record["n_censored"] == 0
    assert np.isfinite(outcome.processed.qc["mean_fd"])


def test_run_end_to_end_records_xcpd(xcpd_study: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """``dmnpharm run STUDY --atlas TABLE --network-map MAP`` measures and records XCP-D."""
    root, table, mapping = xcpd_study
    out = tmp_path / "out"
    args = ["run", str(root), "--atlas", str(table), "--network-map", str(mapping)]
    with in_process_runs(tmp_path / "cache"):
        assert main([*args, "--out", str(out), "--permutations", "50", "-q"]) == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["xcpd_version"] == "0.10.6"
    assert provenance["config"]["denoise"]["done_by"] == "XCP-D 0.10.6"
    assert "denoised by XCP-D 0.10.6" in provenance["denoising"]
    assert provenance["n_runs"] == 8
    assert "none here: denoised by XCP-D 0.10.6" in (out / "report.html").read_text()
