"""Batched within-subject permutations, checked against references.

F equals AnovaRM, the trend equals OLS, p-values equal a loop over the same
permutations and the Freedman-Lane engine, and the FWER is calibrated.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from dmnpharm.exceptions import InputError
from dmnpharm.stats import (
    Exchangeability,
    ModelSpec,
    _within,
    analyse,
    permutation_glm,
    within_permutations,
    within_subject_test,
)

DOSE = np.array([0.0, 5.0, 20.0])


def _data(rng: np.random.Generator, n: int = 9, m: int = 5, effect: float = 0.0) -> np.ndarray:
    """Subjects x 3 levels x measures with subject offsets; measure 0 rises with the level."""
    y = rng.normal(size=(n, 1, m)) * 2.0 + rng.normal(size=(n, 3, m))
    y[:, :, 0] += effect * np.arange(3)
    return y


def _f_loop(y: np.ndarray) -> float:
    """Repeated-measures F of one measure (subjects x levels), sums of squares written out."""
    n, k = y.shape
    grand = y.mean()
    ss_levels = n * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_subjects = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_error = ((y - grand) ** 2).sum() - ss_levels - ss_subjects
    return float((ss_levels / (k - 1)) / (ss_error / ((n - 1) * (k - 1))))


def _t_loop(y: np.ndarray, dose: np.ndarray) -> float:
    """Return the t of the dose slope with one intercept per subject, by ordinary least squares."""
    n, k = y.shape
    x = np.column_stack([np.tile(dose, n), np.repeat(np.eye(n), k, axis=0)])
    fit = sm.OLS(y.ravel(), x).fit()
    return float(fit.tvalues[0])


def test_observed_f_equals_anova_rm(rng: np.random.Generator) -> None:
    """The closed-form F (and its p) equals statsmodels' AnovaRM, measure by measure."""
    y = _data(rng, effect=0.8)
    res = within_subject_test(y, None, 19, seed=0)
    assert res.df == (2.0, 16.0)
    for j in range(3):
        long = pd.DataFrame(
            {
                "subject": np.repeat(np.arange(9), 3),
                "level": np.tile(np.arange(3), 9),
                "value": y[:, :, j].ravel(),
            }
        )
        ref = AnovaRM(long, "value", "subject", within=["level"]).fit().anova_table
        assert res.statistic[j] == pytest.approx(ref["F Value"].iloc[0], rel=1e-10)
        assert res.p_parametric[j] == pytest.approx(ref["Pr > F"].iloc[0], rel=1e-8)


def test_observed_trend_equals_ols(rng: np.random.Generator) -> None:
    """The trend's t, slope and SE equal OLS with subject intercepts."""
    y = _data(rng, effect=0.5)
    res = within_subject_test(y, DOSE, 19, seed=0)
    n = y.shape[0]
    x = np.column_stack([np.tile(DOSE, n), np.repeat(np.eye(n), 3, axis=0)])
    for j in range(3):
        fit = sm.OLS(y[:, :, j].ravel(), x).fit()
        assert res.statistic[j] == pytest.approx(fit.tvalues[0], rel=1e-10)
        assert res.estimate[j] == pytest.approx(fit.params[0], rel=1e-10)
        assert res.se[j] == pytest.approx(fit.bse[0], rel=1e-10)
        assert res.p_parametric[j] == pytest.approx(fit.pvalues[0], rel=1e-8)


@pytest.mark.parametrize("trend", [None, DOSE])
def test_p_values_equal_a_loop_over_the_same_permutations(
    rng: np.random.Generator, trend: np.ndarray | None
) -> None:
    """Each permutation reorders each subject's levels; the loop recounts p and FWER p."""
    y = _data(rng, n=7, m=4, effect=0.6)
    b = 99
    res = within_subject_test(y, trend, b, seed=5)
    perms = within_permutations(7, 3, b, seed=5)

    def stat(values: np.ndarray) -> np.ndarray:
        if trend is None:
            return np.array([_f_loop(values[:, :, j]) for j in range(values.shape[2])])
        return np.abs([_t_loop(values[:, :, j], trend) for j in range(values.shape[2])])

    observed = stat(y)
    null = np.array([stat(np.take_along_axis(y, p[:, :, None], axis=1)) for p in perms])
    limit = observed * (1 - 1e-10)
    p_unc = ((null >= limit).sum(axis=0) + 1) / (b + 1)
    p_fwer = ((null.max(axis=1)[:, None] >= limit).sum(axis=0) + 1) / (b + 1)
    np.testing.assert_array_equal(res.p_uncorrected, p_unc)
    np.testing.assert_array_equal(res.p_fwer, p_fwer)
    kept = res.null.per_measure if trend is None else np.abs(res.null.per_measure)
    np.testing.assert_allclose(kept, null, rtol=1e-9)
    np.testing.assert_allclose(res.null.maximum, null.max(axis=1), rtol=1e-9)


@pytest.mark.parametrize("trend", [None, DOSE])
def test_equals_the_freedman_lane_engine_with_the_same_seed(
    rng: np.random.Generator, trend: np.ndarray | None
) -> None:
    """The same permutations as permutation_glm on level-major rows: the same p-values."""
    y = _data(rng, n=8, m=6, effect=0.4)
    y[:, :, 5] = 3.0  # constant measure: F = 0, p = 1
    n = y.shape[0]
    rows = np.vstack([y[:, level, :] for level in range(3)])
    subjects = np.tile(np.arange(n), 3)
    if trend is None:
        x = np.column_stack(
            [(np.repeat(np.arange(3), n) == k).astype(float) for k in (1, 2)]
            + [np.eye(n)[subjects]]
        )
        contrast = np.eye(x.shape[1])[:2]
    else:
        dose = np.repeat(trend, n)
        x = np.column_stack([dose - dose.mean(), np.eye(n)[subjects]])
        contrast = np.eye(x.shape[1])[0]
    ref = permutation_glm(rows, x, contrast, Exchangeability("permute", subjects), 199, 11)
    res = within_subject_test(y, trend, 199, seed=11)
    np.testing.assert_array_equal(res.p_uncorrected, ref.p_uncorrected)
    np.testing.assert_array_equal(res.p_fwer, ref.p_fwer)
    np.testing.assert_allclose(res.statistic, ref.statistic, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.partial_eta2, ref.partial_eta2, rtol=1e-9, atol=1e-12)
    assert res.statistic[5] == 0.0
    assert res.p_uncorrected[5] == 1.0


def test_tiles_and_batches_do_not_change_the_result(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Column tiles on threads and permutation batches: the same numbers as one block."""
    y = _data(rng, n=6, m=300)
    whole = within_subject_test(y, None, 150, seed=2)
    monkeypatch.setattr(_within, "_TILE_COLUMNS", 37)
    monkeypatch.setattr(_within, "_TILE_BYTES", 8 * 37 * 10)
    monkeypatch.setattr(_within, "_COEF_BYTES", 8 * 2 * 6 * 2 * 40)
    split = within_subject_test(y, None, 150, seed=2)
    np.testing.assert_array_equal(whole.p_uncorrected, split.p_uncorrected)
    np.testing.assert_array_equal(whole.p_fwer, split.p_fwer)
    np.testing.assert_allclose(whole.null.maximum, split.null.maximum, rtol=1e-12)


def test_family_wise_error_is_calibrated_under_the_null(rng: np.random.Generator) -> None:
    """200 null studies (8 subjects x 3 levels x 4 measures): FWER rejections near 5 %."""
    studies, alpha = 200, 0.05
    rejected = {"F": 0, "trend": 0}
    for _ in range(studies):
        y = _data(rng, n=8, m=4)
        seed = int(rng.integers(2**31))
        rejected["F"] += bool((within_subject_test(y, None, 99, seed).p_fwer <= alpha).any())
        rejected["trend"] += bool((within_subject_test(y, DOSE, 99, seed).p_fwer <= alpha).any())
    # 99.9 % binomial interval around 5 % of 200
    low, high = sps.binom.ppf(0.0005, studies, alpha), sps.binom.isf(0.0005, studies, alpha)
    for count in rejected.values():
        assert low <= count <= high


def test_analyse_repeated_models_use_the_batched_engine(rng: np.random.Generator) -> None:
    """Through analyse: the F and trend rows equal within_subject_test on the table's means."""
    y = _data(rng, n=6, m=2, effect=1.0)
    levels = ["a_placebo", "b_low", "c_high"]
    table = pd.DataFrame(
        {
            "participant_id": np.repeat([f"sub-{i}" for i in range(6)], 6),
            "condition": np.tile(np.repeat(levels, 2), 6),
            "dose_mg": np.tile(np.repeat(DOSE, 2), 6),
            "measure": np.tile(["m1", "m2"], 18),
            "value": y.reshape(-1),
        }
    )
    f = analyse(table, ModelSpec(within="condition"), 99, seed=1).results
    trend = analyse(table, ModelSpec(within="condition", trend="dose_mg"), 99, seed=1).results
    ref_f = within_subject_test(y, None, 99, seed=1)
    ref_t = within_subject_test(y, DOSE, 99, seed=1)
    np.testing.assert_allclose(f["statistic"], ref_f.statistic, rtol=1e-12)
    np.testing.assert_array_equal(f["p_fwer"], ref_f.p_fwer)
    np.testing.assert_allclose(trend["estimate"], ref_t.estimate, rtol=1e-12)
    np.testing.assert_array_equal(trend["p_uncorrected"], ref_t.p_uncorrected)


def test_bad_input_is_refused(rng: np.random.Generator) -> None:
    """Wrong shapes, non-finite values, a flat trend and no permutations are InputErrors."""
    y = _data(rng, n=4, m=2)
    with pytest.raises(InputError, match="subjects x levels x measures"):
        within_subject_test(y[:, :, 0])
    with pytest.raises(InputError, match="non-finite"):
        within_subject_test(np.where(y > 2, np.nan, y))
    with pytest.raises(InputError, match="same at every level"):
        within_subject_test(y, np.ones(3))
    with pytest.raises(InputError, match="one finite number per level"):
        within_subject_test(y, np.ones(2))
    with pytest.raises(InputError, match="positive"):
        within_subject_test(y, None, 0)
    with pytest.raises(InputError, match="2\\+ subjects"):
        within_subject_test(y[:1])
