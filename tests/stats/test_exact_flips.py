"""Sign flips are enumerated when there are no more than asked for, and reported as such."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dmnpharm.stats import Exchangeability, ModelSpec, analyse, permutation_glm
from dmnpharm.stats._glm import draw_permutations, permutation_count

FLIPS = Exchangeability("sign-flip", None, "sign flips")


def test_every_non_identity_flip_is_drawn_once() -> None:
    """For 5 rows and 10,000 asked: the 31 non-identity sign vectors, each once."""
    assert permutation_count(FLIPS, 5, 10_000) == (31, True)
    assert permutation_count(FLIPS, 5, 30) == (30, False)
    assert permutation_count(Exchangeability(), 5, 10_000) == (10_000, False)
    flips = draw_permutations(FLIPS, 5, 10_000, np.random.default_rng(0))
    rows = {tuple(row) for row in flips.astype(int)}
    assert len(rows) == 31
    assert (1, 1, 1, 1, 1) not in rows


def test_exact_glm_p_values_equal_a_brute_force_enumeration(rng: np.random.Generator) -> None:
    """Intercept with a covariate, 7 subjects: p equals counting t over all 128 flips."""
    n = 7
    covariate = rng.normal(size=n)
    x = np.column_stack([np.ones(n), covariate - covariate.mean()])
    y = rng.normal(0.4, 1.0, size=(n, 2))
    res = permutation_glm(y, x, [1, 0], FLIPS, n_permutations=10_000, seed=3)
    assert res.exact
    assert res.n_permutations == 127
    # Freedman-Lane with sign flips: the nuisance part (covariate) is fitted, its
    # residuals flipped, the full model refitted; the observed labelling is the identity.
    nuisance = x[:, 1:]
    fitted = nuisance @ np.linalg.lstsq(nuisance, y, rcond=None)[0]
    resid = y - fitted

    def t_of(values: np.ndarray) -> np.ndarray:
        beta, *_ = np.linalg.lstsq(x, values, rcond=None)
        r = values - x @ beta
        sigma2 = (r**2).sum(axis=0) / (n - 2)
        se = np.sqrt(sigma2 * np.linalg.inv(x.T @ x)[0, 0])
        return beta[0] / se

    observed = np.abs(t_of(y))
    null = np.array(
        [np.abs(t_of(np.array(s)[:, None] * resid)) for s in itertools.product([1, -1], repeat=n)]
    )
    expected = (null >= observed * (1 - 1e-10)).sum(axis=0) / 2**n
    np.testing.assert_allclose(res.p_uncorrected, expected)
    assert res.p_uncorrected.min() >= 1 / 2**n


def test_a_model_reports_every_flip_not_the_count_asked_for(rng: np.random.Generator) -> None:
    """Paired model of 8 subjects with a covariate: 256 flips, exact, smallest p stated."""
    rows = []
    for s in range(8):
        age = 20 + 3 * s
        for condition, shift in (("placebo", 0.0), ("drug", 0.5)):
            rows.append(
                {
                    "participant_id": f"sub-{s}",
                    "condition": condition,
                    "age": age,
                    "measure": "m1",
                    "value": rng.normal() + shift,
                }
            )
    table = pd.DataFrame(rows)
    for covariates in ((), ("age",)):
        spec = ModelSpec(within="condition", contrast=("drug", "placebo"), covariates=covariates)
        result = analyse(table, spec, 10_000)
        assert result.results["n_permutations"].tolist() == [256]
        assert "all 256 flips (exact)" in result.summary
        assert result.results["p_uncorrected"].iloc[0] >= 1 / 256 - 1e-12


@pytest.mark.parametrize(
    ("flips", "expected"),
    [
        (
            "sign flips; all 256 flips (exact)",
            "all 256 sign flips (exact enumeration; smallest attainable p 0.0039)",
        ),
        ("sign flips; 10000 random flips, seed 0", "10000 random sign flips (seed 0)"),
    ],
)
def test_the_methods_text_says_which_flips(flips: str, expected: str) -> None:
    """The report's wording follows the flips the results used."""
    from dmnpharm.config import Inference
    from dmnpharm.report._study_report import _flips_used

    assert _flips_used(flips, Inference(n_permutations=10_000, seed=0)) == expected
