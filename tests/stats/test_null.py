"""The permutation nulls returned with a group model reproduce its p-values exactly."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.stats import (
    NULL_MEASURE_LIMIT,
    Exchangeability,
    ModelSpec,
    PermutationNull,
    analyse,
    mixed_model,
    normalization,
    permutation_glm,
    sign_flip_test,
)

MEASURES = ("m1", "m2", "m3", "m4")
SPECS = {
    "paired": ModelSpec(within="condition", contrast=("drug", "placebo")),
    "paired + covariate": ModelSpec(
        within="condition", contrast=("drug", "placebo"), covariates=("age",)
    ),
    "interaction": ModelSpec(within="condition", contrast=("drug", "placebo"), between="group"),
    "brain-behaviour": ModelSpec(
        within="condition", contrast=("drug", "placebo"), test_covariate="rating"
    ),
    "repeated F": ModelSpec(within="condition"),
    "trend": ModelSpec(within="condition", trend="dose_mg"),
    "groups + site": ModelSpec(between="group", covariates=("age",), block="site"),
    "covariate": ModelSpec(test_covariate="rating"),
}


def _table(
    rng: np.random.Generator,
    n: int,
    levels: tuple[str, ...] = ("placebo", "drug"),
    measures: tuple[str, ...] = MEASURES,
) -> pd.DataFrame:
    """Long table of n subjects x levels x measures with a planted effect on the first."""
    rows = []
    for s in range(n):
        base = rng.normal(0, 1, len(measures))
        age, rating = rng.uniform(20, 60), rng.normal(50, 10)
        for k, level in enumerate(levels):
            noise = rng.normal(0, 1, len(measures))
            for j, measure in enumerate(measures):
                rows.append(
                    {
                        "participant_id": f"sub-{s:02d}",
                        "condition": level,
                        "dose_mg": 10.0 * k,
                        "group": "patient" if s % 2 else "control",
                        "site": f"site{s % 3}",
                        "age": age,
                        "rating": rating,
                        "measure": measure,
                        "value": base[j] + noise[j] + 0.9 * k * (j == 0),
                    }
                )
    return pd.DataFrame(rows)


def _recount(
    null: PermutationNull, observed: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Count p-values from the null by hand: at least as extreme, (count + 1) / (B + 1)."""
    assert null.per_measure is not None
    two_sided = null.statistic == "t"
    values = np.abs(null.per_measure) if two_sided else null.per_measure
    target = (np.abs(observed) if two_sided else observed) * (1 - 1e-10)
    count = (values >= target).sum(axis=0)
    count_max = (null.maximum[:, None] >= target).sum(axis=0)
    b = null.per_measure.shape[0]
    if null.exact:
        return count / b, count_max / b
    return (count + 1) / (b + 1), (count_max + 1) / (b + 1)


@pytest.mark.parametrize("name", list(SPECS))
def test_null_reproduces_the_reported_p_values(rng: np.random.Generator, name: str) -> None:
    """Every design: the returned null, counted by hand, gives p_uncorrected and p_fwer."""
    levels = ("a", "b", "c") if name in ("repeated F", "trend") else ("placebo", "drug")
    table = _table(rng, 17, levels)
    result = analyse(table, SPECS[name], n_permutations=499, seed=3, n_bootstrap=0)
    null = result.null
    assert null is not None
    assert null.measures == MEASURES
    assert null.per_measure is not None
    assert null.per_measure.shape == (499, len(MEASURES))
    assert null.maximum.shape == (499,)
    assert null.statistic == ("F" if name == "repeated F" else "t")
    observed = result.results["statistic"].to_numpy()
    p_unc, p_fwer = _recount(null, observed)
    np.testing.assert_array_equal(p_unc, result.results["p_uncorrected"].to_numpy())
    np.testing.assert_array_equal(p_fwer, result.results["p_fwer"].to_numpy())
    np.testing.assert_array_equal(null.p_uncorrected(observed), p_unc)
    np.testing.assert_array_equal(null.p_fwer(observed), p_fwer)
    largest = np.abs(null.per_measure) if null.statistic == "t" else null.per_measure
    np.testing.assert_allclose(null.maximum, largest.max(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(null.for_measure("m2"), null.per_measure[:, 1])


def test_exact_enumeration_counts_the_identity_once(rng: np.random.Generator) -> None:
    """With 2**n <= B every flip is enumerated: p = count / 2**n, identity included."""
    table = _table(rng, 8)
    result = analyse(table, SPECS["paired"], n_permutations=999, n_bootstrap=0)
    null = result.null
    assert null is not None
    assert null.exact
    assert null.n_permutations == 2**8
    observed = result.results["statistic"].to_numpy()
    p_unc, p_fwer = _recount(null, observed)
    np.testing.assert_array_equal(p_unc, result.results["p_uncorrected"].to_numpy())
    np.testing.assert_array_equal(p_fwer, result.results["p_fwer"].to_numpy())
    assert null.per_measure is not None
    # the identity flip is a row of the null: its t is the observed t
    hits = np.isclose(null.per_measure, observed[None, :], rtol=1e-9).all(axis=1)
    assert hits.sum() == 1


def test_sign_flip_null_is_the_flipped_t(rng: np.random.Generator) -> None:
    """Each row of the sign-flip null is the one-sample t of the flipped differences."""
    d = rng.normal(0.3, 1.0, (12, 3))
    out = sign_flip_test(d, n_permutations=50, seed=5)
    flips = 1.0 - 2.0 * np.random.default_rng(5).integers(0, 2, size=(50, 12), dtype=np.int8)
    flipped = flips[:, :, None] * d[None]
    t = flipped.mean(axis=1) / (flipped.std(axis=1, ddof=1) / np.sqrt(12))
    np.testing.assert_allclose(out["null_statistic"], t, rtol=1e-9)
    np.testing.assert_allclose(out["null_maximum"], np.abs(t).max(axis=1), rtol=1e-9)


def test_many_measures_keep_only_the_maximum(rng: np.random.Generator) -> None:
    """Above the limit only the max-statistic null is kept; it still gives p_fwer."""
    k = NULL_MEASURE_LIMIT + 1
    d = rng.normal(0.0, 1.0, (10, k))
    d[:, 0] += 1.5
    out = sign_flip_test(d, n_permutations=200, seed=1)
    assert out["null_statistic"].shape == (200, 0)
    null = PermutationNull("t", out["null_maximum"])
    np.testing.assert_array_equal(null.p_fwer(out["statistic"]), out["p_fwer"])
    with pytest.raises(InputError, match="only the maximum"):
        null.p_uncorrected(out["statistic"])
    with pytest.raises(InputError, match="only the maximum"):
        null.for_measure("m1")
    y = rng.normal(size=(14, k))
    x = np.column_stack([np.ones(14), rng.normal(size=14)])
    res = permutation_glm(y, x, [0, 1], Exchangeability(), n_permutations=99, seed=2)
    assert res.null is not None
    assert res.null.per_measure is None
    np.testing.assert_array_equal(res.null.p_fwer(res.statistic), res.p_fwer)


def test_fwer_threshold_separates_significant_statistics(rng: np.random.Generator) -> None:
    """Any statistic above the 5 % critical value has p_fwer <= 0.05; the value itself not."""
    table = _table(rng, 15)
    null = analyse(table, SPECS["paired"], n_permutations=999, n_bootstrap=0).null
    assert null is not None
    c = null.fwer_threshold(0.05)
    assert np.isfinite(c)
    assert null.p_fwer([c * (1 + 1e-6)])[0] <= 0.05
    assert null.p_fwer([c])[0] > 0.05
    few = PermutationNull("t", np.abs(rng.normal(size=9)))
    assert few.fwer_threshold(0.05) == np.inf  # 1/(9+1) > 0.05: unreachable
    with pytest.raises(InputError, match="alpha"):
        null.fwer_threshold(1.5)
    with pytest.raises(InputError, match="not in the permutation null"):
        null.for_measure("nope")


def test_normalization_and_mixed_model_nulls(rng: np.random.Generator) -> None:
    """Normalization returns its null (both paths); the mixed model has none."""
    table = _table(rng, 16, ("pre", "post"))
    table["group"] = np.where(table["participant_id"] < "sub-06", "control", "patient")
    table["arm"] = np.where(table["participant_id"] < "sub-11", "drug", "placebo")
    spec = ModelSpec(within="condition", contrast=("post", "pre"))
    arms = ModelSpec(
        within="condition",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("drug", "placebo"),
    )
    for model in (spec, arms):
        result = normalization(table, model, "patient", "control", n_permutations=199)
        assert result.null is not None
        observed = result.results["statistic"].to_numpy()
        p_unc, p_fwer = _recount(result.null, observed)
        np.testing.assert_array_equal(p_unc, result.results["p_uncorrected"].to_numpy())
        np.testing.assert_array_equal(p_fwer, result.results["p_fwer"].to_numpy())
    assert mixed_model(table, spec).null is None


def test_null_tally_counts_as_by_hand(rng: np.random.Generator) -> None:
    """Streamed in two batches, the tally gives the p-values counted on the whole null."""
    from dmnpharm.stats._null import NullTally

    observed = np.array([2.0, -0.5, 1.0])
    null = rng.normal(size=(99, 3))
    tally = NullTally(observed, 99)
    tally.add(0, null[:40])
    tally.add(40, null[40:])
    p, p_fwer, kept = tally.result()
    expected = ((np.abs(null) >= np.abs(observed) * (1 - 1e-10)).sum(axis=0) + 1) / 100
    np.testing.assert_array_equal(p, expected)
    maxima = np.abs(null).max(axis=1)
    expected_fwer = [((maxima >= abs(o) * (1 - 1e-10)).sum() + 1) / 100 for o in observed]
    np.testing.assert_array_equal(p_fwer, expected_fwer)
    assert kept.per_measure is not None
    np.testing.assert_array_equal(kept.per_measure, null)
