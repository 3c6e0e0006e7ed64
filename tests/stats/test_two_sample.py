"""Two-sample permutation test: against scipy, exact enumeration, and calibration."""

import numpy as np
import pytest
from scipy import stats as sps

from dmnpharm.exceptions import InputError
from dmnpharm.stats import two_sample_permutation_test


def test_statistic_and_parametric_p_match_scipy_welch(rng: np.random.Generator) -> None:
    """Welch t, df and its p-value equal scipy.stats.ttest_ind(equal_var=False)."""
    values = rng.normal(size=(23, 4)) * np.array([1, 2, 3, 4])
    labels = np.arange(23) < 9
    values[labels] *= 2.0
    out = two_sample_permutation_test(values, labels, n_permutations=200, seed=1)
    ref = sps.ttest_ind(values[labels], values[~labels], equal_var=False)
    np.testing.assert_allclose(out["statistic"], ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(out["p_parametric"], ref.pvalue, rtol=1e-8)
    np.testing.assert_allclose(out["df"], ref.df, rtol=1e-10)
    np.testing.assert_allclose(
        out["estimate"], values[labels].mean(axis=0) - values[~labels].mean(axis=0)
    )


def test_exact_p_matches_scipy_permutation_test(rng: np.random.Generator) -> None:
    """With every relabelling enumerated, p equals scipy.stats.permutation_test's exact p."""
    a, b = rng.normal(0.8, 1, 6), rng.normal(0, 1.5, 5)
    values = np.concatenate([a, b])
    labels = np.arange(11) < 6
    out = two_sample_permutation_test(values, labels, n_permutations=10_000)
    assert out["exact"][0] == 1.0
    assert out["n_permutations"][0] == 462  # C(11, 6)

    def welch(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return sps.ttest_ind(x, y, equal_var=False, axis=axis).statistic

    ref = sps.permutation_test(
        (a, b), welch, permutation_type="independent", n_resamples=np.inf, vectorized=True
    )
    assert out["p_uncorrected"][0] == pytest.approx(ref.pvalue, rel=1e-9)


def test_hedges_g_closed_form(rng: np.random.Generator) -> None:
    """Hedges' g is the pooled-SD standardized difference times 1 - 3 / (4 df - 1)."""
    a, b = rng.normal(1, 1, 10), rng.normal(0, 1, 14)
    out = two_sample_permutation_test(np.concatenate([a, b]), np.arange(24) < 10, 100)
    pooled = np.sqrt((9 * a.var(ddof=1) + 13 * b.var(ddof=1)) / 22)
    expected = (a.mean() - b.mean()) / pooled * (1 - 3 / (4 * 22 - 1))
    assert out["effect_size_g"][0] == pytest.approx(expected, rel=1e-12)


def _null_rates(rng: np.random.Generator, scale_a: float) -> tuple[float, float, float]:
    """Rejection rates at 0.05 over 1000 null datasets of 8 measures, groups of 7 and 13."""
    values = rng.normal(size=(1000, 20, 8))
    values[:, :7] *= scale_a
    labels = np.arange(20) < 7
    unc, par, fwer = [], [], []
    for i in range(1000):
        out = two_sample_permutation_test(values[i], labels, n_permutations=199, seed=i)
        unc.append(out["p_uncorrected"] <= 0.05)
        par.append(out["p_parametric"] <= 0.05)
        fwer.append(out["p_fwer"].min() <= 0.05)
    return float(np.mean(unc)), float(np.mean(par)), float(np.mean(fwer))


def test_null_rejection_rate_is_alpha(rng: np.random.Generator) -> None:
    """With exchangeable subjects about 5 % of tests reject, per measure and family-wise.

    8000 tests: the uncorrected rate lies within 0.05 +/- 0.012 (5 binomial SE);
    the max-|t| FWER rate over 1000 datasets within 0.05 +/- 0.025.
    """
    unc, par, fwer = _null_rates(rng, 1.0)
    assert unc == pytest.approx(0.05, abs=0.012)
    assert par == pytest.approx(0.05, abs=0.012)
    assert fwer == pytest.approx(0.05, abs=0.025)


def test_null_with_unequal_variances_is_near_alpha(rng: np.random.Generator) -> None:
    """Behrens-Fisher null (4-fold variance ratio, 7 vs 13): documented mild liberalness.

    Measured 6.1 % for the permutation p and 4.9 % for Welch's parametric p; the
    test bounds the permutation rate by 8 % and the parametric one by 0.05 +/- 0.012.
    """
    unc, par, _ = _null_rates(rng, 2.0)
    assert unc < 0.08
    assert par == pytest.approx(0.05, abs=0.012)


def test_rejects_bad_input() -> None:
    """Small groups, wrong label length and non-finite values raise InputError."""
    with pytest.raises(InputError, match="at least 2"):
        two_sample_permutation_test(np.arange(5.0), [True, False, False, False, False])
    with pytest.raises(InputError, match="labels"):
        two_sample_permutation_test(np.arange(5.0), [True, False])
    with pytest.raises(InputError, match="non-finite"):
        two_sample_permutation_test(np.array([1.0, np.nan, 2, 3]), [True, True, False, False])
