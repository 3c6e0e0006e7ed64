"""A fixed-seed subset of benchmarks/calibration.py, with tolerances that can fail.

The harness itself runs 1,000 null studies per design (docs/calibration.md). Here
100 studies of 3 measures each (300 tests) give a per-measure false-positive rate
with a Monte-Carlo SE of about 0.0126, so a calibrated design lies in 0.05 +/- 0.038
(3 SE) and a design as liberal as most of the ones issue 18 found (0.09-0.42) falls
outside.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration.py"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dmnpharm_calibration", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "design",
    ["paired-motion-adjusted", "group-x-time-sd3-g", "between-sites-lognormal-equal-sd"],
)
def test_default_designs_are_calibrated(design: str) -> None:
    """Run-covariate paired model, G with sign flips, and G with permutations: near 0.05."""
    row = _harness().calibrate(design, studies=100, alpha=0.05, seed=11)
    assert abs(row["fpr_per_measure"] - 0.05) < 0.038, row
    assert row["fwer"] < 0.05 + 3 * (0.05 * 0.95 / 100) ** 0.5, row


def test_the_harness_detects_a_biased_design() -> None:
    """Motion that differs between conditions, left unadjusted, is caught as liberal."""
    row = _harness().calibrate("paired-motion-unadjusted", studies=100, alpha=0.05, seed=11)
    assert row["fpr_per_measure"] > 0.1, row
