"""Array backends for the permutation null: NumPy (reference) and CuPy (optional GPU).

The sign-flip null is one large product of a +/-1 matrix with the data followed
by element-wise reductions, which a GPU does well. :func:`flip_counts` runs that
part on any array module with NumPy's interface; the CPU path in
:func:`dmnpharm.stats.sign_flip_test` is the reference it must match.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError

__all__ = ["BACKENDS", "array_module", "flip_counts"]

#: Backends accepted by ``backend=`` arguments.
BACKENDS = ("numpy", "cupy")

_BATCH_BYTES = 256 * 2**20


def array_module(name: str) -> ModuleType:
    """Return the array module of a backend.

    Parameters
    ----------
    name : str
        ``numpy`` or ``cupy``.

    Returns
    -------
    module
        The module (``numpy`` or ``cupy``).

    Raises
    ------
    InputError
        Unknown backend, or CuPy not installed or no GPU available.
    """
    if name == "numpy":
        return np
    if name != "cupy":
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    try:
        import cupy  # type: ignore[import-not-found]

        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # ImportError, or CUDA errors without a GPU
        raise InputError(
            "backend 'cupy' needs CuPy (e.g. pip install cupy-cuda12x) and an NVIDIA GPU "
            f"({type(exc).__name__}: {exc}); use backend='numpy'"
        ) from None
    module: ModuleType = cupy
    return module


def flip_counts(
    xp: Any,
    flips: npt.NDArray[np.float64],
    scaled: npt.NDArray[np.float64],
    threshold: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Count flipped sums reaching each threshold, and each flip's maximum.

    Parameters
    ----------
    xp : module
        Array module (``numpy`` or ``cupy``).
    flips : numpy.ndarray
        Flips x subjects, +/-1.
    scaled : numpy.ndarray
        Subjects x measures, each column divided by ``sqrt(n * sum of squares)``.
    threshold : numpy.ndarray
        Per measure, the observed absolute scaled sum (slightly lowered for ties).

    Returns
    -------
    tuple of numpy.ndarray
        Per measure the count of flips with ``|sum| >= threshold``, and per flip
        the largest ``|sum|`` over measures (both on the host).
    """
    data = xp.asarray(scaled)
    limit = xp.asarray(threshold)
    count = xp.zeros(scaled.shape[1], dtype=xp.int64)
    row_max = []
    batch = max(1, _BATCH_BYTES // (8 * scaled.shape[1]))
    for start in range(0, flips.shape[0], batch):
        null = xp.abs(xp.asarray(flips[start : start + batch]) @ data)
        count += (null >= limit).sum(axis=0)
        row_max.append(null.max(axis=1))
    maxima = xp.concatenate(row_max)
    to_host = getattr(xp, "asnumpy", np.asarray)
    return np.asarray(to_host(count), dtype=np.int64), np.asarray(to_host(maxima), dtype=float)
