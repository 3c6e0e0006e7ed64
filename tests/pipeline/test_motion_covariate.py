"""Motion in the paired model: the adjusted check beside the test, and --motion-covariate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.cli import main
from dmnpharm.simulate import (
    Effect,
    SignalSpec,
    load_preset,
    simulate_study,
    write_simulated_study,
)

FAST = ["--permutations", "99", "--no-gsr-sensitivity", "-q"]


@pytest.fixture(scope="module")
def moving_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write a crossover where the drug raises head motion a lot (0.15 mm mean FD)."""
    spec = load_preset("demo-crossover", seed=4)
    spec = replace(
        spec,
        design=replace(spec.design, n_subjects=10),
        signal=SignalSpec(n_volumes=100),
        effects=(*spec.effects, Effect("motion", 0.15)),
    )
    return write_simulated_study(simulate_study(spec), tmp_path_factory.mktemp("moving") / "s")


def test_motion_imbalance_brings_the_adjusted_test_beside_the_primary(
    moving_study: Path, tmp_path: Path
) -> None:
    """Imbalanced motion: results_motion_adjusted.tsv and a report table, primary unchanged."""
    out = tmp_path / "out"
    assert main(["run", str(moving_study), "--out", str(out), *FAST]) == 0
    adjusted = pd.read_csv(out / "group" / "results_motion_adjusted.tsv", sep="\t")
    primary = pd.read_csv(out / "group" / "results.tsv", sep="\t")
    assert list(adjusted["measure"]) == list(primary["measure"])
    assert not adjusted["estimate"].equals(primary["estimate"])
    html = (out / "report.html").read_text()
    assert "Estimates as tested and at equal mean FD" in html
    # --motion-covariate makes the adjusted test the primary one
    other = tmp_path / "adjusted"
    assert main(["run", str(moving_study), "--out", str(other), *FAST, "--motion-covariate"]) == 0
    adjusted_primary = pd.read_csv(other / "group" / "results.tsv", sep="\t")
    pd.testing.assert_series_equal(adjusted_primary["estimate"], adjusted["estimate"])
    assert "change at equal mean_fd" in (other / "group" / "model.txt").read_text()


def test_motion_covariate_is_refused_for_a_between_design(tmp_path: Path) -> None:
    """A between-subject model takes subject-level covariates: usage error, exit 2."""
    assert main(["validate", str(tmp_path), "--between", "group", "--motion-covariate"]) == 2
