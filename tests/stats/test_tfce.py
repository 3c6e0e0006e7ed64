"""TFCE: the enhancement integral by hand, a planted blob found, null FWER calibrated."""

import numpy as np
import pytest
from scipy import ndimage

from dmnpharm.exceptions import InputError
from dmnpharm.stats import Exchangeability, tfce, tfce_permutation_test


def test_isolated_clusters_follow_the_closed_form() -> None:
    """A flat cluster of size e and height v gets sum over h = dh..v of e^0.5 h^2 dh."""
    stat = np.zeros((9, 9, 9))
    stat[1:3, 1:3, 1:3] = 2.0  # 8 voxels at 2.0
    stat[6, 6, 6] = -1.0  # 1 voxel at -1.0
    out = tfce(stat, dh=0.1)
    heights = np.arange(1, 21) * 0.1
    assert out[1, 1, 1] == pytest.approx(np.sum(8**0.5 * heights**2 * 0.1), rel=1e-12)
    assert out[6, 6, 6] == pytest.approx(-np.sum(heights[:10] ** 2 * 0.1), rel=1e-12)
    assert out[0, 0, 0] == 0.0


def test_a_taller_part_of_a_cluster_gains_its_own_extent() -> None:
    """Voxels above a lower plateau count the plateau's extent below their own height."""
    stat = np.zeros((7, 7, 7))
    stat[2:5, 2:5, 2:5] = 1.0  # 27 voxels at 1.0
    stat[3, 3, 3] = 1.5  # the centre rises to 1.5
    out = tfce(stat, dh=0.5, connectivity=6)
    low = 27**0.5 * 0.5**2 * 0.5 + 27**0.5 * 1.0**2 * 0.5
    assert out[2, 2, 2] == pytest.approx(low)
    assert out[3, 3, 3] == pytest.approx(low + 1**0.5 * 1.5**2 * 0.5)


def _smooth_noise(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    noise = rng.normal(size=(n, *shape))
    return np.stack([ndimage.gaussian_filter(v, 1.0) for v in noise])


def test_planted_blob_is_found_and_null_fwer_is_alpha(rng: np.random.Generator) -> None:
    """A positive blob reaches p_FWER < 0.05; with no effect, about 5 % of 80 datasets do.

    80 null datasets (8 x 8 x 8 voxels, 12 subjects, 99 sign flips): the share with
    any voxel at p_FWER <= 0.05 lies within 0.05 +/- 0.06 (about 2.5 SE).
    """
    shape = (8, 8, 8)
    mask = np.ones(shape, dtype=bool)
    flips = Exchangeability("sign-flip")
    data = _smooth_noise(rng, 12, shape)
    data[:, 2:5, 2:5, 2:5] += 0.5
    res = tfce_permutation_test(
        data.reshape(12, -1),
        np.ones((12, 1)),
        [1],
        mask,
        exchangeability=flips,
        n_permutations=199,
        dh=0.2,
    )
    assert res.p_fwer[3, 3, 3] < 0.05
    assert res.p_fwer[7, 7, 7] > 0.05
    hits = []
    for i in range(80):
        null = _smooth_noise(rng, 12, shape).reshape(12, -1)
        out = tfce_permutation_test(
            null,
            np.ones((12, 1)),
            [1],
            mask,
            exchangeability=flips,
            n_permutations=99,
            seed=i,
            dh=0.2,
        )
        hits.append(bool((out.p_fwer <= 0.05).any()))
    assert np.mean(hits) == pytest.approx(0.05, abs=0.06)


def test_tfce_rejects_bad_input() -> None:
    """Non-3D maps, bad steps and mismatched data are refused."""
    with pytest.raises(InputError, match="3D"):
        tfce(np.zeros((4, 4)))
    with pytest.raises(InputError, match="positive"):
        tfce(np.zeros((3, 3, 3)), dh=0.0)
    with pytest.raises(InputError, match="connectivity"):
        tfce(np.zeros((3, 3, 3)), connectivity=8)
    with pytest.raises(InputError, match="one column per True voxel"):
        tfce_permutation_test(np.zeros((5, 3)), np.ones((5, 1)), [1], np.ones((2, 2, 2)))
