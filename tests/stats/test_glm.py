"""The permutation GLM engine: exact parametric parts, calibrated permutation p-values."""

import numpy as np
import pytest
import statsmodels.api as sm
from nilearn.mass_univariate import permuted_ols

from dmnpharm.exceptions import InputError
from dmnpharm.stats import Exchangeability, draw_permutations, permutation_glm


def _design(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])


def _null_design(rng: np.random.Generator, n: int) -> np.ndarray:
    """Intercept, two tested regressors and a nuisance regressor (last column)."""
    return np.column_stack([_design(rng, n), rng.normal(size=n)])


def test_t_and_f_equal_statsmodels_ols(rng: np.random.Generator) -> None:
    """Estimates, SEs, t, F and parametric p-values equal statsmodels OLS to 1e-8."""
    n = 31
    x = _design(rng, n)
    y = rng.normal(size=(n, 6)) + 0.6 * x[:, [1]]
    res = permutation_glm(y, x, [0, 1, 0], n_permutations=50)
    f_contrast = np.array([[0, 1, 0], [0, 0, 1]])
    res_f = permutation_glm(y, x, f_contrast, n_permutations=50)
    for k in range(6):
        fit = sm.OLS(y[:, k], x).fit()
        assert res.estimate[k] == pytest.approx(fit.params[1], rel=1e-8)
        assert res.se[k] == pytest.approx(fit.bse[1], rel=1e-8)
        assert res.statistic[k] == pytest.approx(fit.tvalues[1], rel=1e-8)
        assert res.p_parametric[k] == pytest.approx(fit.pvalues[1], rel=1e-8)
        f_test = fit.f_test(f_contrast)
        assert res_f.statistic[k] == pytest.approx(float(f_test.fvalue), rel=1e-8)
        assert res_f.p_parametric[k] == pytest.approx(float(f_test.pvalue), rel=1e-8)
    assert res.df == (1.0, n - 3.0)


def test_permutation_p_agrees_with_nilearn_permuted_ols(rng: np.random.Generator) -> None:
    """Same t; uncorrected and max-t p-values within Monte Carlo error of nilearn's.

    5,000 permutations each: the allowed gap is 4 combined binomial SE (+0.002).
    """
    n, b = 24, 5000
    tested = rng.normal(size=(n, 1))
    confound = rng.normal(size=(n, 1))
    y = rng.normal(size=(n, 5)) + tested * np.array([0.0, 0.3, 0.5, 0.7, 0.0])
    y += 0.8 * confound
    x = np.column_stack([np.ones(n), tested[:, 0], confound[:, 0]])
    ours = permutation_glm(y, x, [0, 1, 0], n_permutations=b, seed=1)
    theirs = permuted_ols(
        tested,
        y,
        confounding_vars=confound,
        model_intercept=True,
        n_perm=b,
        random_state=2,
        output_type="dict",
    )
    np.testing.assert_allclose(ours.statistic, theirs["t"][0], rtol=1e-8)
    for mine, other in ((ours.p_fwer, 10 ** -theirs["logp_max_t"][0]),):
        se = np.sqrt(2 * np.clip(other, 0.01, 0.99) * (1 - np.clip(other, 0.01, 0.99)) / b)
        assert np.all(np.abs(mine - other) < 4 * se + 0.002), (mine, other)
    single = [
        10
        ** -permuted_ols(
            tested,
            y[:, [k]],
            confounding_vars=confound,
            n_perm=b,
            random_state=3,
            output_type="dict",
        )["logp_max_t"][0, 0]
        for k in range(5)
    ]
    se = np.sqrt(2 * np.clip(single, 0.01, 0.99) * (1 - np.clip(single, 0.01, 0.99)) / b)
    assert np.all(np.abs(ours.p_uncorrected - single) < 4 * se + 0.002)


@pytest.mark.parametrize(
    ("scheme", "contrast"),
    [
        ("free", [0, 1, 0, 0]),
        ("free", [[0, 1, 0, 0], [0, 0, 1, 0]]),
        ("blocks", [0, 1, 0, 0]),
        ("sign-flip", [1, 0, 0, 0]),
    ],
)
def test_null_rates_are_alpha(rng: np.random.Generator, scheme: str, contrast: list) -> None:
    """Under the null, per-test and family-wise rejection rates at 0.05 are 0.05.

    500 datasets of 8 measures (4,000 tests): the per-test rate lies within
    0.05 +/- 0.017 (about 3.5 SE) and the FWER over datasets within 0.05 +/- 0.035.
    The nuisance regressor has a real effect, which Freedman-Lane must handle.
    """
    n, m = 20, 8
    unc, fwer = [], []
    for i in range(500):
        x = _null_design(rng, n)
        if scheme == "sign-flip":
            x[:, 1:] -= x[:, 1:].mean(axis=0)  # test the intercept; covariates centred
            y = rng.standard_t(5, size=(n, m)) + 0.7 * x[:, [3]]  # symmetric, heavy tails
            exch = Exchangeability("sign-flip")
        else:
            y = rng.normal(size=(n, m)) + 0.7 * x[:, [3]]
            blocks = np.repeat(np.arange(4), 5) if scheme == "blocks" else None
            if blocks is not None:
                y += np.repeat(rng.normal(0, 2, 4), 5)[:, None]  # block effects
                x = np.column_stack([x, np.repeat(np.eye(4)[:, 1:], 5, axis=0)])
                contrast_i = np.eye(x.shape[1])[1]
            exch = Exchangeability("permute", blocks)
        c = contrast_i if scheme == "blocks" else np.asarray(contrast)
        res = permutation_glm(y, x, c, exch, n_permutations=99, seed=i)
        unc.append(res.p_uncorrected <= 0.05)
        fwer.append(res.p_fwer.min() <= 0.05)
    assert np.mean(unc) == pytest.approx(0.05, abs=0.017)
    assert np.mean(fwer) == pytest.approx(0.05, abs=0.035)


def test_block_permutations_stay_in_their_blocks(rng: np.random.Generator) -> None:
    """Each permuted row comes from the same block, and every arrangement is reachable."""
    blocks = np.array(["a", "b", "a", "c", "b", "a"])
    perms = draw_permutations(Exchangeability("permute", blocks), 6, 3000, rng)
    assert np.all(blocks[perms] == blocks[None, :])
    assert len({tuple(p) for p in perms}) == 3 * 2 * 1 * 2  # 3! x 2! x 1!
    flips = draw_permutations(Exchangeability("sign-flip"), 5, 10, rng)
    assert set(np.unique(flips)) <= {-1.0, 1.0}


def test_engine_rejects_bad_input(rng: np.random.Generator) -> None:
    """Rank deficiency names the column; shape, finiteness and df problems are clear."""
    x = _design(rng, 10)
    dup = np.column_stack([x, 2 * x[:, 1]])
    with pytest.raises(InputError, match="dependent: d, dose2"):
        permutation_glm(
            rng.normal(size=10), dup, [0, 1, 0, 0], column_names=("i", "d", "g", "dose2")
        )
    with pytest.raises(InputError, match="rows"):
        permutation_glm(rng.normal(size=9), x, [0, 1, 0])
    with pytest.raises(InputError, match="non-finite"):
        permutation_glm(np.full(10, np.nan), x, [0, 1, 0])
    with pytest.raises(InputError, match="degrees of freedom"):
        permutation_glm(rng.normal(size=3), x[:3], [0, 1, 0])
    with pytest.raises(InputError, match="entries"):
        permutation_glm(rng.normal(size=10), x, [0, 1])


def test_progress_bar_over_permutation_batches(
    rng: np.random.Generator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal (not --quiet) a bar follows the batches; the numbers do not change."""
    import logging
    import sys

    from dmnpharm._utils import get_logger

    y = rng.normal(size=(15, 6))
    x = np.column_stack([np.ones(15), rng.normal(size=15)])
    quiet = permutation_glm(y, x, [0, 1], n_permutations=300, seed=2)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("dmnpharm.stats._glm._BATCH_BYTES", 8 * 15 * 6 * 50)  # 6 batches
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(get_logger(), "level", logging.INFO)
    shown = permutation_glm(y, x, [0, 1], n_permutations=300, seed=2)
    assert "permutations" in capsys.readouterr().err
    np.testing.assert_array_equal(shown.p_uncorrected, quiet.p_uncorrected)
    np.testing.assert_array_equal(shown.p_fwer, quiet.p_fwer)
