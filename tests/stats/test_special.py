"""Normalization towards controls and the mixed-model alternative."""

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.stats import ModelSpec, mixed_model, normalization


def _trial(rng: np.random.Generator, drug_normalizes: float) -> pd.DataFrame:
    """20 controls, 20 drug and 20 placebo patients, pre and post, one measure.

    Patients start 1.5 control-SDs above controls; the drug arm removes
    ``drug_normalizes`` of that by the second scan, placebo nothing.
    """
    rows = []
    for i in range(60):
        group, arm = (
            ("control", "none") if i < 20 else ("patient", "drug" if i < 40 else "placebo")
        )
        subject = rng.normal(0, 0.3)
        for time in ("pre", "post"):
            shift = 1.5 if group == "patient" else 0.0
            if arm == "drug" and time == "post":
                shift *= 1 - drug_normalizes
            rows.append(
                {
                    "participant_id": f"sub-{i:02d}",
                    "condition": time,
                    "group": group,
                    "arm": arm,
                    "measure": "m1",
                    "value": shift + subject + rng.normal(0, 0.5),
                }
            )
    return pd.DataFrame(rows)


def test_normalization_estimate_matches_hand_computation(rng: np.random.Generator) -> None:
    """The mean change of distance equals a direct computation; drug beats placebo."""
    table = _trial(rng, drug_normalizes=0.8)
    spec = ModelSpec(within="condition", contrast=("post", "pre"))
    res = normalization(table, spec, "patient", "control", 999).results.iloc[0]
    wide = table.pivot_table(
        index=["participant_id", "group"], columns="condition", values="value"
    )
    wide = wide.reset_index("group")
    dist = {}
    for time in ("pre", "post"):
        ctrl = wide.loc[wide["group"] == "control", time]
        pat = wide.loc[wide["group"] == "patient", time]
        dist[time] = (pat - ctrl.mean()).abs() / ctrl.std(ddof=1)
    assert res["estimate"] == pytest.approx((dist["post"] - dist["pre"]).mean(), rel=1e-10)
    assert res["n"] == 40
    arms = ModelSpec(
        within="condition",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("drug", "placebo"),
    )
    by_arm = normalization(table, arms, "patient", "control", 999)
    row = by_arm.results.iloc[0]
    assert row["estimate"] < -1.0  # drug patients end about 1.8 control SDs closer
    assert row["p_uncorrected"] < 0.01
    assert "regression to the mean" in by_arm.summary


def test_normalization_null_arm_difference_is_calibrated(rng: np.random.Generator) -> None:
    """No drug effect: the arm comparison rejects at about 5 % (300 trials, +/- 0.04)."""
    arms = ModelSpec(
        within="condition",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("drug", "placebo"),
    )
    hits = [
        normalization(_trial(rng, 0.0), arms, "patient", "control", 99, seed=i)
        .results["p_uncorrected"]
        .iloc[0]
        <= 0.05
        for i in range(300)
    ]
    assert np.mean(hits) == pytest.approx(0.05, abs=0.04)


def test_normalization_rejects_bad_input(rng: np.random.Generator) -> None:
    """Unknown group labels and missing time contrast are explained."""
    table = _trial(rng, 0.5)
    with pytest.raises(InputError, match="did you mean 'control'"):
        normalization(
            table, ModelSpec(within="condition", contrast=("post", "pre")), "patient", "contrl"
        )
    with pytest.raises(InputError, match="needs within"):
        normalization(table, ModelSpec(), "patient", "control")


def test_mixed_model_uses_incomplete_subjects(rng: np.random.Generator) -> None:
    """Balanced data: the estimate is the mean paired difference; incomplete subjects count."""
    table = _trial(rng, 0.8)
    patients = table[table["arm"] == "drug"]
    spec = ModelSpec(within="condition", contrast=("post", "pre"))
    res = mixed_model(patients, spec)
    wide = patients.pivot_table(index="participant_id", columns="condition", values="value")
    assert res.results["estimate"].iloc[0] == pytest.approx(
        (wide["post"] - wide["pre"]).mean(), rel=1e-6
    )
    assert res.results["n"].iloc[0] == 20
    partial = patients.drop(patients.index[:3:2])  # two subjects lose their "pre" run
    res_partial = mixed_model(partial, spec)
    assert res_partial.results["n"].iloc[0] == 20
    assert res_partial.results["p_parametric"].iloc[0] < 0.01
    inter = ModelSpec(
        within="condition",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("drug", "placebo"),
    )
    res_inter = mixed_model(table[table["group"] == "patient"], inter)
    assert res_inter.results["estimate"].iloc[0] < 0
    assert "random intercept" in res_inter.summary
