"""The paired test against scipy, brute-force enumeration, and its calibration."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dmnpharm.exceptions import InputError
from dmnpharm.stats import RESULT_COLUMNS, paired_differences, paired_test, sign_flip_test


def _table(a: np.ndarray, b: np.ndarray, measure: str = "m") -> pd.DataFrame:
    n = a.size
    ids = [f"sub-{i:02d}" for i in range(n)]
    return pd.DataFrame(
        {
            "participant_id": ids * 2,
            "condition": ["drug"] * n + ["placebo"] * n,
            "measure": measure,
            "value": np.concatenate([a, b]),
        }
    )


def test_parametric_part_matches_scipy_ttest_rel(rng: np.random.Generator) -> None:
    """t, p and the 95% CI agree with scipy.stats.ttest_rel to 1e-10."""
    drug = rng.normal(0.2, 1.0, 23)
    placebo = rng.normal(0.0, 1.0, 23) + 0.5 * drug
    row = paired_test(_table(drug, placebo), ("drug", "placebo"), n_permutations=200).iloc[0]
    ref = sps.ttest_rel(drug, placebo)
    ci = ref.confidence_interval(0.95)
    assert row["statistic"] == pytest.approx(ref.statistic, abs=1e-10)
    assert row["p_parametric"] == pytest.approx(ref.pvalue, abs=1e-10)
    assert row["ci_low"] == pytest.approx(ci.low, abs=1e-10)
    assert row["ci_high"] == pytest.approx(ci.high, abs=1e-10)
    assert row["estimate"] == pytest.approx(np.mean(drug - placebo), abs=1e-12)
    assert row["df"] == 22
    assert row["n"] == 23
    assert list(paired_test(_table(drug, placebo), ("drug", "placebo"), 10).columns) == list(
        RESULT_COLUMNS
    )


def test_exact_enumeration_matches_brute_force(rng: np.random.Generator) -> None:
    """With 2**n <= n_permutations every flip is used; p equals a brute-force count."""
    d = rng.normal(0.5, 1.0, size=(8, 3))
    res = sign_flip_test(d, n_permutations=256)
    assert res["exact"][0] == 1.0
    t_obs = np.abs(res["statistic"])
    t_all = []
    for signs in itertools.product([1.0, -1.0], repeat=8):
        flipped = d * np.asarray(signs)[:, None]
        t_all.append(np.abs(sps.ttest_1samp(flipped, 0.0).statistic))
    t_all_arr = np.asarray(t_all)
    expected = (t_all_arr >= t_obs * (1 - 1e-10)).mean(axis=0)
    expected_max = (t_all_arr.max(axis=1)[:, None] >= t_obs * (1 - 1e-10)).mean(axis=0)
    np.testing.assert_allclose(res["p_uncorrected"], expected)
    np.testing.assert_allclose(res["p_fwer"], expected_max)


def test_random_flips_are_seeded_and_bounded(rng: np.random.Generator) -> None:
    """Same seed, same p; p is never below 1/(B+1); FWER p >= uncorrected p."""
    d = rng.normal(0.3, 1.0, size=(30, 5))
    first = sign_flip_test(d, n_permutations=999, seed=4)
    again = sign_flip_test(d, n_permutations=999, seed=4)
    other = sign_flip_test(d, n_permutations=999, seed=5)
    np.testing.assert_array_equal(first["p_uncorrected"], again["p_uncorrected"])
    assert not np.array_equal(first["p_uncorrected"], other["p_uncorrected"])
    assert first["exact"][0] == 0.0
    assert np.all(first["p_uncorrected"] >= 1 / 1000)
    assert np.all(first["p_fwer"] >= first["p_uncorrected"])


def test_permutation_p_tracks_parametric_p(rng: np.random.Generator) -> None:
    """For normal data the permutation p is close to Student's t p."""
    d = rng.normal(0.0, 1.0, size=(25, 40))
    d[:, :10] += 0.5
    res = sign_flip_test(d, n_permutations=4000, seed=1)
    assert np.max(np.abs(res["p_uncorrected"] - res["p_parametric"])) < 0.05


@pytest.mark.parametrize("n_subjects", [6, 15])
def test_calibrated_under_the_null(rng: np.random.Generator, n_subjects: int) -> None:
    """Under a true null about 5% of tests reject at alpha 0.05, per test and family-wise.

    600 null datasets of 4 correlated measures; the binomial 99.9% band around 0.05
    for 600 draws is about [0.025, 0.083] (the FWER test with exact enumeration at
    n = 6 is conservative by the granularity of 64 flips, so only its upper bound binds).
    """
    mix = np.linalg.cholesky(np.full((4, 4), 0.5) + 0.5 * np.eye(4))
    reject, reject_fwer = [], []
    for _ in range(600):
        d = rng.standard_normal((n_subjects, 4)) @ mix.T
        res = sign_flip_test(d, n_permutations=500, seed=int(rng.integers(1 << 31)))
        reject.append(res["p_uncorrected"][0] < 0.05)
        reject_fwer.append(np.any(res["p_fwer"] < 0.05))
    assert np.mean(reject) < 0.083
    assert np.mean(reject_fwer) < 0.083
    if n_subjects > 10:
        assert np.mean(reject) > 0.025
        assert np.mean(reject_fwer) > 0.025


def test_fdr_is_benjamini_hochberg(rng: np.random.Generator) -> None:
    """p_fdr equals scipy's Benjamini-Hochberg of the permutation p-values."""
    frames = []
    for k in range(6):
        frames.append(_table(rng.normal(0.3 * (k % 2), 1, 12), rng.normal(0, 1, 12), f"m{k}"))
    res = paired_test(pd.concat(frames), ("drug", "placebo"), n_permutations=300)
    np.testing.assert_allclose(
        res["p_fdr"], sps.false_discovery_control(res["p_uncorrected"], method="bh")
    )


def test_runs_are_averaged_within_condition() -> None:
    """Two runs of one condition count once, as their mean."""
    table = pd.DataFrame(
        {
            "participant_id": ["s1", "s1", "s1", "s2", "s2"],
            "condition": ["drug", "drug", "placebo", "drug", "placebo"],
            "measure": "m",
            "value": [1.0, 3.0, 0.5, 4.0, 1.0],
        }
    )
    diffs = paired_differences(table, "drug", "placebo")
    assert diffs.loc["s1", "m"] == pytest.approx(1.5)
    assert diffs.loc["s2", "m"] == pytest.approx(3.0)


def test_incomplete_subject_and_unknown_condition() -> None:
    """A subject with one condition and a misspelt condition are named."""
    table = pd.DataFrame(
        {
            "participant_id": ["s1", "s1", "s2"],
            "condition": ["drug", "placebo", "placebo"],
            "measure": "m",
            "value": [1.0, 0.0, 2.0],
        }
    )
    with pytest.raises(InputError, match="s2 has only placebo"):
        paired_differences(table, "drug", "placebo")
    with pytest.raises(InputError, match="did you mean 'placebo'"):
        paired_differences(table, "drug", "Placebo")
    with pytest.raises(InputError, match="at least 2 subjects"):
        sign_flip_test(np.ones((1, 2)))


def test_all_zero_differences_give_p_one(rng: np.random.Generator) -> None:
    """A measure that never differs has t = 0 and p = 1, and does not disturb the others."""
    d = np.column_stack([np.zeros(12), rng.normal(1.0, 1.0, 12)])
    res = sign_flip_test(d, n_permutations=300)
    assert res["statistic"][0] == 0.0
    assert res["p_uncorrected"][0] == 1.0
    assert res["p_fwer"][0] == 1.0
    assert res["p_uncorrected"][1] < 0.05
