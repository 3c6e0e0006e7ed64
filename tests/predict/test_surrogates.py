"""Variogram-matched spatial null maps: shape, determinism, fit and calibration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from dmnpharm.exceptions import InputError
from dmnpharm.predict import (
    empirical_variogram,
    euclidean_distance,
    spatial_p,
    variogram_surrogates,
)

#: Regions on an 11 x 9 grid (unequal sides so axis mix-ups fail), 1 unit apart.
GRID = np.stack(np.meshgrid(np.arange(11.0), np.arange(9.0), indexing="ij"), -1).reshape(-1, 2)


def smooth_maps(rng: np.random.Generator, n_maps: int, length: float = 3.0) -> np.ndarray:
    """Return ``n_maps`` Gaussian random fields on ``GRID`` (exponential covariance)."""
    dist = euclidean_distance(GRID)
    factor = np.linalg.cholesky(np.exp(-dist / length) + 1e-9 * np.eye(len(GRID)))
    return (factor @ rng.standard_normal((len(GRID), n_maps))).T


@pytest.fixture
def distance() -> np.ndarray:
    """Return the grid's Euclidean distance matrix."""
    return euclidean_distance(GRID)


def test_shape_determinism_and_rank_preservation(
    rng: np.random.Generator, distance: np.ndarray
) -> None:
    """Same seed, same surrogates; each surrogate is a permutation of the map."""
    x = smooth_maps(rng, 1)[0]
    first = variogram_surrogates(x, distance, 30, seed=5)
    assert first.shape == (30, x.size)
    np.testing.assert_array_equal(first, variogram_surrogates(x, distance, 30, seed=5))
    assert not np.array_equal(first, variogram_surrogates(x, distance, 30, seed=6))
    np.testing.assert_array_equal(np.sort(first, axis=1), np.tile(np.sort(x), (30, 1)))
    assert not np.any(np.all(first == x, axis=1))


def test_surrogate_variograms_match_the_map(
    rng: np.random.Generator, distance: np.ndarray
) -> None:
    """On a smooth map the surrogates' variograms follow the map's, unlike shuffles."""
    x = smooth_maps(rng, 1)[0]
    surrogates = variogram_surrogates(x, distance, 200, seed=rng)
    _, target = empirical_variogram(x, distance)
    _, fitted = empirical_variogram(surrogates, distance)
    shuffled = rng.permuted(np.tile(x, (200, 1)), axis=1)
    _, white = empirical_variogram(shuffled, distance)

    def error(gamma: np.ndarray) -> float:
        return float(np.sqrt(np.mean((np.median(gamma, axis=0) - target) ** 2)) / target.mean())

    assert error(fitted) < 0.15
    assert error(fitted) < error(white) / 2


def test_spatial_null_is_calibrated_where_the_naive_test_is_not(
    rng: np.random.Generator, distance: np.ndarray
) -> None:
    """Independent smooth maps: spatial-null FPR near 0.05, parametric Pearson FPR inflated.

    With 100 pairs the binomial SE of a 0.05 rate is 0.022; the spatial null may
    exceed 0.05 by at most 3 SE (0.065), while the naive test must exceed 0.15
    (it is about 0.35 on these maps).
    """
    n_pairs, n_surrogates = 100, 99
    maps_x, maps_y = smooth_maps(rng, n_pairs), smooth_maps(rng, n_pairs)
    spatial, naive = [], []
    for x, y in zip(maps_x, maps_y, strict=True):
        observed, p_naive = stats.pearsonr(x, y)
        null = variogram_surrogates(x, distance, n_surrogates, seed=rng)
        null_r = np.corrcoef(np.vstack([y, null]))[0, 1:]
        spatial.append(spatial_p(float(observed), null_r) <= 0.05)
        naive.append(p_naive <= 0.05)
    se = np.sqrt(0.05 * 0.95 / n_pairs)
    assert np.mean(spatial) <= 0.05 + 3 * se
    assert np.mean(naive) > 0.15


def test_spatial_p_counts_both_tails() -> None:
    """(count + 1) / (n + 1) with |null| >= |observed|."""
    assert spatial_p(0.5, [0.1, -0.6, 0.5, 0.2]) == pytest.approx(3 / 5)
    assert spatial_p(-0.9, np.zeros(99)) == pytest.approx(1 / 100)
    with pytest.raises(InputError, match="null_r"):
        spatial_p(0.1, [])
    with pytest.raises(InputError, match="observed_r"):
        spatial_p(float("nan"), [0.1])


def test_nan_policy(rng: np.random.Generator, distance: np.ndarray) -> None:
    """NaN regions are refused by default, or kept as NaN with nan_policy='omit'."""
    x = smooth_maps(rng, 1)[0]
    x[[3, 40]] = np.nan
    with pytest.raises(InputError, match=r"NaN at 2 region\(s\).*nan_policy='omit'"):
        variogram_surrogates(x, distance, 5)
    surrogates = variogram_surrogates(x, distance, 5, nan_policy="omit")
    assert np.all(np.isnan(surrogates[:, [3, 40]]))
    kept = ~np.isnan(x)
    np.testing.assert_array_equal(np.sort(surrogates[:, kept], axis=1)[0], np.sort(x[kept]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d[:, :-1], "square"),
        (lambda d: d[:-1, :-1], "same regions"),
        (lambda d: d + np.eye(len(d)), "zero diagonal"),
        (lambda d: d + np.triu(np.ones_like(d), 1), "symmetric"),
        (lambda d: np.where(np.eye(len(d), k=1) > 0, np.inf, d), "non-finite"),
    ],
)
def test_bad_distance_is_refused(
    rng: np.random.Generator,
    distance: np.ndarray,
    change: Callable[[np.ndarray], np.ndarray],
    message: str,
) -> None:
    """Each defect of the distance matrix is named."""
    x = smooth_maps(rng, 1)[0]
    with pytest.raises(InputError, match=message):
        variogram_surrogates(x, change(distance.copy()), 5)


def test_bad_settings_are_refused(distance: np.ndarray) -> None:
    """Constant maps, bad counts and fractions are refused with the parameter named."""
    x = np.arange(len(GRID), dtype=float)
    with pytest.raises(InputError, match="constant"):
        variogram_surrogates(np.ones(len(GRID)), distance, 5)
    with pytest.raises(InputError, match="n_surrogates"):
        variogram_surrogates(x, distance, 0)
    with pytest.raises(InputError, match="neighbour_fractions"):
        variogram_surrogates(x, distance, 5, neighbour_fractions=(0.0, 0.5))
    with pytest.raises(InputError, match="nan_policy"):
        variogram_surrogates(x, distance, 5, nan_policy="drop")
    with pytest.raises(InputError, match="coords"):
        euclidean_distance(np.zeros(3))
