"""Simulated studies pass the official BIDS validator (``bids-validator-deno``).

The voxel-level study and the CIFTI derivatives are validated beside their shared
fixtures (tests/pipeline/test_bids_pipeline.py, test_cifti_input.py); the warnings each
kind may keep are listed in tests/bids_validity.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bids_validity import SIMULATED_DERIVATIVES_WARNINGS, assert_valid
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_xcpd_study


def test_roi_level_study_is_a_valid_derivative_dataset(small_study_template: Path) -> None:
    """Region time series are processed data: a derivative dataset, valid, described.

    Its time series and confounds tables (not in BIDS yet) and ``ground_truth.json``
    are in ``.bidsignore``; the design tables' columns are described.
    """
    described = json.loads((small_study_template / "dataset_description.json").read_text())
    assert described["DatasetType"] == "derivative"
    assert described["GeneratedBy"][0]["Name"] == "dmnpharm"
    result = assert_valid(small_study_template, SIMULATED_DERIVATIVES_WARNINGS)
    assert set(result.codes("warning")) == {"TOO_FEW_AUTHORS"}
    sessions = json.loads((small_study_template / "sessions.json").read_text())
    assert sessions["dose_mg"]["Units"] == "mg"


@pytest.mark.parametrize(
    ("version", "atlases"), [("0.10.6", "/atlases"), ("26.0.1", "/sourcedata")]
)
def test_xcpd_layouts_are_valid_derivatives(tmp_path: Path, version: str, atlases: str) -> None:
    """XCP-D's outputs, as simulated for each layout, validate with their ``.bidsignore``."""
    base = load_preset("demo-crossover", seed=4)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=2),
        signal=SignalSpec(atlas="andrews_hanna", n_volumes=25, repetition_time=2.0),
    )
    root = write_xcpd_study(simulate_study(spec), tmp_path / "study", xcpd_version=version)
    xcpd = root / "derivatives" / "xcp_d"
    assert_valid(xcpd, SIMULATED_DERIVATIVES_WARNINGS)
    assert (xcpd / ".bidsignore").read_text().splitlines()[-1] == atlases
