"""Input checks shared by the metric modules: time series, matrices, network labels."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import check_option
from dmnpharm.exceptions import InputError

__all__ = [
    "R_CLIP",
    "as_matrix",
    "as_networks",
    "as_timeseries",
    "check_not_constant",
    "drop_networks",
    "network_index",
    "to_fisher_z",
    "upper_triangle",
]

# Same clip as _fc.py: identical signals give a large finite z rather than infinity.
R_CLIP = 1.0 - 1e-12


def as_timeseries(
    data: npt.ArrayLike, name: str = "data", min_volumes: int = 3
) -> npt.NDArray[np.float64]:
    """Return ``data`` as a finite float64 volumes x regions array, or raise.

    Parameters
    ----------
    data : array-like
        Volumes x regions.
    name : str
        Parameter name used in messages.
    min_volumes : int
        Fewest volumes accepted.

    Returns
    -------
    numpy.ndarray
        A float64 copy-or-view of ``data``.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"{name} must be a 2D volumes x regions array, got shape {x.shape}")
    if x.shape[0] < min_volumes or x.shape[1] < 1:
        raise InputError(
            f"{name} needs at least {min_volumes} volumes and one region, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        bad = np.unique(np.nonzero(~np.isfinite(x))[1])
        raise InputError(f"{name} has NaN or infinite values in region columns {bad.tolist()}")
    return x


def check_not_constant(x: npt.NDArray[np.float64], name: str = "data") -> None:
    """Raise when a column of ``x`` is constant (its correlation is undefined).

    Parameters
    ----------
    x : numpy.ndarray
        Volumes x regions.
    name : str
        Parameter name used in messages.
    """
    flat = np.flatnonzero(np.ptp(x, axis=0) == 0)
    if flat.size:
        raise InputError(
            f"{name}: region columns {flat.tolist()} are constant; their correlation is undefined"
        )


def as_matrix(matrix: npt.ArrayLike, name: str = "matrix") -> npt.NDArray[np.float64]:
    """Return a finite, square, symmetric float64 matrix, or raise.

    Parameters
    ----------
    matrix : array-like
        Regions x regions connectivity.
    name : str
        Parameter name used in messages.

    Returns
    -------
    numpy.ndarray
        The matrix as float64; its diagonal is ignored by every measure.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise InputError(f"{name} must be a square regions x regions array, got shape {m.shape}")
    # Non-finite values are allowed on the diagonal only (it is ignored).
    if not np.isfinite(m).all() and not np.isfinite(m[~np.eye(m.shape[0], dtype=bool)]).all():
        raise InputError(f"{name} has NaN or infinite values off the diagonal")
    # An exactly symmetric matrix (every estimator's) passes without the slower tests: a
    # plain comparison costs 0.06 ms at 300 regions, one that lets NaN equal NaN 0.9 ms.
    if not _exactly_symmetric(m) and not np.allclose(
        m, m.T, rtol=1e-7, atol=1e-10, equal_nan=True
    ):
        raise InputError(f"{name} is not symmetric")
    return m


def _exactly_symmetric(m: npt.NDArray[np.float64]) -> bool:
    """Whether ``m`` equals its transpose, NaN matching NaN (on the diagonal, say)."""
    return bool((m == m.T).all()) or np.array_equal(m, m.T, equal_nan=True)


@lru_cache(maxsize=8)
def upper_triangle(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Return ``numpy.triu_indices(n, k=1)``, computed once per size (read-only).

    Parameters
    ----------
    n : int
        Rows of the square matrix.

    Returns
    -------
    tuple of numpy.ndarray
        Row and column indices of the pairs above the diagonal, row-major.
    """
    rows, cols = np.triu_indices(n, k=1)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def as_networks(networks: Sequence[str], n_regions: int) -> npt.NDArray[np.str_]:
    """Return the network code per region as an array, checking its length.

    Parameters
    ----------
    networks : sequence of str
        One network code per region (e.g. ``Atlas.networks``).
    n_regions : int
        Number of regions of the matrix or time series.

    Returns
    -------
    numpy.ndarray
        The codes as a string array.
    """
    if isinstance(networks, str):
        raise InputError("networks must be a sequence with one network code per region")
    labels = np.asarray([str(n) for n in networks])
    if labels.shape != (n_regions,):
        raise InputError(
            f"networks has {labels.size} entries but the data have {n_regions} regions"
        )
    return labels


def drop_networks(
    matrix: npt.ArrayLike, networks: Sequence[str], exclude: Collection[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.str_], npt.NDArray[np.intp]]:
    """Check a matrix and its labels, then remove the regions of excluded networks.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions matrix.
    networks : sequence of str
        Network code per region.
    exclude : collection of str
        Networks whose regions are removed.

    Returns
    -------
    tuple
        The reduced matrix, the remaining labels, and their indices in the input.
    """
    m = as_matrix(matrix)
    labels = as_networks(networks, m.shape[0])
    keep = np.flatnonzero(~np.isin(labels, list(exclude)))
    return m[np.ix_(keep, keep)], labels[keep], keep


def network_index(labels: npt.NDArray[np.str_], network: str) -> npt.NDArray[np.intp]:
    """Return the indices of the regions of ``network``, or raise naming those present.

    Parameters
    ----------
    labels : numpy.ndarray
        Network code per region.
    network : str
        The network wanted.

    Returns
    -------
    numpy.ndarray
        Sorted region indices (at least one).
    """
    present = sorted(set(labels.tolist()))
    check_option("network", network, present)
    return np.flatnonzero(labels == network)


def to_fisher_z(r: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """Return ``arctanh`` of ``r`` clipped to ``|r| <= 1 - 1e-12``, with a zero diagonal.

    Parameters
    ----------
    r : numpy.ndarray
        Square correlation matrix (or a stack of them, regions on the last two axes).

    Returns
    -------
    numpy.ndarray
        Fisher z values, diagonal set to 0.
    """
    z: npt.NDArray[np.float64] = np.arctanh(np.clip(r, -R_CLIP, R_CLIP)).astype(np.float64)
    n = z.shape[-1]
    z[..., np.arange(n), np.arange(n)] = 0.0
    return z
