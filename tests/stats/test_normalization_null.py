"""Single-arm normalization: the control reference's own noise is inside the null."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dmnpharm.stats import ModelSpec, normalization
from dmnpharm.stats._normalization import distance_change

SPEC = ModelSpec(within="time", contrast=("post", "pre"))


def null_study(rng: np.random.Generator, n_patients: int, n_controls: int) -> pd.DataFrame:
    """Patients 1.5 SD from controls; nobody changes between pre and post."""
    rows = []
    for s in range(n_patients + n_controls):
        patient = s < n_patients
        trait = rng.normal(size=3) + (1.5 if patient else 0.0)
        for time in ("pre", "post"):
            values = trait + rng.normal(0, 0.7, 3)
            for m in range(3):
                rows.append(
                    {
                        "participant_id": f"sub-{s:03d}",
                        "group": "patient" if patient else "control",
                        "time": time,
                        "measure": f"m{m}",
                        "value": values[m],
                    }
                )
    return pd.DataFrame(rows)


def test_ten_controls_give_about_five_percent_false_positives() -> None:
    """150 null studies, 20 patients and 10 controls: FPR near 0.05 (it was 0.18-0.28)."""
    rng = np.random.default_rng(3)
    rates = []
    for seed in range(150):
        result = normalization(null_study(rng, 20, 10), SPEC, "patient", "control", 199, seed)
        rates.append((result.results["p_uncorrected"] < 0.05).mean())
    assert 0.02 <= float(np.mean(rates)) <= 0.085, np.mean(rates)


def test_the_single_arm_test_says_what_it_cannot_claim(rng: np.random.Generator) -> None:
    """The scheme names the swaps and points to the arm comparison."""
    result = normalization(null_study(rng, 12, 8), SPEC, "patient", "control", 99)
    scheme = result.results["exchangeability"].iloc[0]
    assert "swapped independently" in scheme
    assert "regression to the mean" in scheme
    assert "--between arm" in scheme
    assert result.results["n"].iloc[0] == 12


def test_distance_change_is_computed_per_time_point_reference() -> None:
    """Patients' |x - control mean| / control SD, after minus before, by hand."""
    before = np.array([[0.0], [2.0], [5.0]])
    after = np.array([[1.0], [3.0], [4.0]])
    control = np.array([True, True, False])
    sd = np.std([0.0, 2.0], ddof=1)
    expected = abs(4.0 - 2.0) / sd - abs(5.0 - 1.0) / sd
    assert distance_change(before, after, control, ~control)[0, 0] == expected
