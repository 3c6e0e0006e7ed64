"""Choosing what a study analyses: a BIDS filter file, participant labels, a participants query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bids_tree import two_acquisitions
from dmnpharm.cli import main
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.pipeline import Study


def test_filter_file_picks_one_acquisition_and_names_the_derivatives(tmp_path: Path) -> None:
    """Two acquisitions are refused; the filter file's choice is planned and named acq-mb8."""
    root = tmp_path / "study"
    root.mkdir()
    two_acquisitions(root)
    with pytest.raises(StudyValidationError, match="acquisition"):
        Study.from_folder(root).plan()
    chosen = tmp_path / "filter.json"
    chosen.write_text(json.dumps({"bold": {"acquisition": "mb8"}}), encoding="utf-8")
    plan = Study.from_folder(root, bids_filter=chosen).plan()
    assert len(plan.runs) == 3
    assert all("_acq-mb8_" in Path(run.task.data_file).name for run in plan.runs)
    assert all(run.entities["acq"] == "mb8" for run in plan.runs)
    assert plan.record["selection"]["bids_filter"]["bold"] == {"acquisition": "mb8"}
    assert set(plan.design["acq"]) == {"mb8"}


def test_participant_labels_and_query_through_the_cli(small_study: Path) -> None:
    """``--participant-label`` and ``--participants`` narrow an ROI study before it is read."""
    (small_study / "sub-08" / "ses-1" / "func").joinpath("broken.tsv").write_text("x")
    base = ["validate", str(small_study), "-q"]
    assert main([*base, "--participant-label", "01", "sub-02", "03", "04"]) == 0
    assert main([*base, "--participants", "sequence == 'drug-placebo'"]) == 0
    plan = Study.from_folder(small_study, participants="sequence == 'drug-placebo'").plan()
    kept = set(plan.design["participant_id"])
    assert kept
    assert all(seq == "drug-placebo" for seq in plan.design["sequence"])
    assert plan.record["selection"]["n_after"] == len(kept)
    assert main([*base, "--participants", "sequense == 'x'"]) == 1
