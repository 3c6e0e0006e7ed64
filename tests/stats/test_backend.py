"""The GPU code path of the sign-flip null matches the CPU reference."""

import numpy as np
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.stats import BACKENDS, array_module, flip_counts, sign_flip_test
from dmnpharm.stats._paired import _tiled_counts


def test_backend_code_path_equals_the_tiled_cpu_reference(rng: np.random.Generator) -> None:
    """flip_counts (the code CuPy runs), run with NumPy, gives the reference's counts.

    No GPU is lent to the test machine, so the backend's own code runs on NumPy
    arrays here; with CuPy present the same function runs on the GPU.
    """
    d = rng.normal(size=(18, 9000))
    d[:, :5] += 1.0
    sumsq = np.einsum("ij,ij->j", d, d)
    scaled = d / np.sqrt(18 * sumsq)
    threshold = np.abs(scaled.sum(axis=0)) * (1 - 1e-10)
    flips = 1.0 - 2.0 * rng.integers(0, 2, (3000, 18))
    count_ref, max_ref = _tiled_counts(flips, scaled, threshold)
    count, maxima = flip_counts(np, flips, scaled, threshold)
    np.testing.assert_array_equal(count, count_ref)
    np.testing.assert_allclose(maxima, max_ref, rtol=1e-12)


def _has_cupy() -> bool:
    try:
        array_module("cupy")
    except InputError:
        return False
    return True


HAS_CUPY = _has_cupy()


@pytest.mark.skipif(not HAS_CUPY, reason="CuPy or an NVIDIA GPU is absent on this machine")
def test_cupy_backend_matches_numpy(rng: np.random.Generator) -> None:
    """With CuPy and a GPU, the same flips give the same p-values."""
    d = rng.normal(size=(12, 300))
    ref = sign_flip_test(d, 2000, seed=3)
    gpu = sign_flip_test(d, 2000, seed=3, backend="cupy")
    for key in ("p_uncorrected", "p_fwer", "statistic"):
        np.testing.assert_allclose(gpu[key], ref[key], rtol=1e-12)


@pytest.mark.skipif(HAS_CUPY, reason="CuPy and a GPU are present")
def test_cupy_backend_without_gpu_says_how_to_fix() -> None:
    """Without CuPy or a GPU, asking for it names what is missing and the alternative."""
    with pytest.raises(InputError, match=r"needs CuPy.*backend='numpy'"):
        sign_flip_test(np.ones((5, 2)), 10, backend="cupy")


def test_unknown_backend_is_refused() -> None:
    """Only the listed backends are accepted."""
    assert BACKENDS == ("numpy", "cupy")
    with pytest.raises(InputError, match="backend must be one of"):
        array_module("jax")
