"""Functional connectivity measures of the DMN from region time series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import Atlas

__all__ = [
    "MEASURES",
    "MeasureSpec",
    "fisher_z_connectivity",
    "network_mean_fc",
    "run_fc_metrics",
]

# |r| is clipped here before the Fisher transform so that identical signals give a
# large finite z rather than infinity.
_R_CLIP = 1.0 - 1e-12

# Rows per strip of the correlation matrix transformed at a time (see below).
_STRIP = 64


@dataclass(frozen=True)
class MeasureSpec:
    """A network-level connectivity measure.

    Parameters
    ----------
    name : str
        Name in the metrics table's ``measure`` column.
    network_a, network_b : str
        Network codes; equal for a within-network measure.
    description : str
        One line for reports.
    """

    name: str
    network_a: str
    network_b: str
    description: str


#: The measures computed per run, in output order.
MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec(
        "dmn_within_fc", "DMN", "DMN", "mean Fisher z correlation over all pairs of DMN regions"
    ),
    MeasureSpec(
        "dmn_salience_fc",
        "DMN",
        "SN",
        "mean Fisher z correlation over all DMN x salience region pairs",
    ),
)


def fisher_z_connectivity(data: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """Return the Fisher-z transformed Pearson correlation matrix of regions.

    Parameters
    ----------
    data : numpy.ndarray
        Volumes x regions. Columns must not be constant.

    Returns
    -------
    numpy.ndarray
        Regions x regions, ``arctanh(r)`` off the diagonal, zeros on it.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"need a 2D volumes x regions array with >= 3 volumes, got {x.shape}")
    x = x - x.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", x, x))
    if np.any(norms == 0):
        raise ValueError("a region's signal is constant; its correlation is undefined")
    x /= norms
    # ``x.T @ x`` of one buffer goes to BLAS's symmetric product, whose result is
    # exactly symmetric, so only the upper triangle needs the transform: each strip
    # of rows is clipped and transformed in place from its diagonal block rightwards,
    # and its part right of that block is mirrored below it. Elementwise, so every
    # value is the one the whole-matrix transform gives.
    z: npt.NDArray[np.float64] = x.T @ x
    n = z.shape[0]
    for start in range(0, n, _STRIP):
        stop = min(start + _STRIP, n)
        strip = z[start:stop, start:]
        np.clip(strip, -_R_CLIP, _R_CLIP, out=strip)
        np.arctanh(strip, out=strip)
        z[stop:, start:stop] = z[start:stop, stop:].T
    np.fill_diagonal(z, 0.0)
    return z


def network_mean_fc(
    z: npt.NDArray[np.float64],
    idx_a: npt.NDArray[np.intp],
    idx_b: npt.NDArray[np.intp],
) -> float:
    """Average Fisher z over the region pairs of two networks.

    Parameters
    ----------
    z : numpy.ndarray
        Fisher z connectivity matrix (regions x regions).
    idx_a, idx_b : numpy.ndarray
        Region indices of the two networks. When they are the same set, the
        mean is over distinct pairs (upper triangle), never the diagonal.

    Returns
    -------
    float
        The mean Fisher z.
    """
    if np.array_equal(idx_a, idx_b):
        if idx_a.size < 2:
            raise ValueError("a within-network mean needs at least two regions")
        block = z[np.ix_(idx_a, idx_a)]
        return float(block[np.triu_indices(idx_a.size, k=1)].mean())
    if np.intersect1d(idx_a, idx_b).size:
        raise ValueError("between-network mean needs disjoint region sets")
    return float(z[np.ix_(idx_a, idx_b)].mean())


def run_fc_metrics(
    data: npt.NDArray[np.floating[Any]],
    atlas: Atlas,
    measures: tuple[MeasureSpec, ...] = MEASURES,
) -> dict[str, float]:
    """Compute network connectivity measures for one run.

    Parameters
    ----------
    data : numpy.ndarray
        Volumes x regions, columns in atlas order.
    atlas : Atlas
        Gives each region's network.
    measures : tuple of MeasureSpec
        What to compute; defaults to :data:`MEASURES`.

    Returns
    -------
    dict
        Measure name to value.
    """
    if data.shape[1] != atlas.n_regions:
        raise ValueError(
            f"data has {data.shape[1]} regions but atlas {atlas.name!r} has {atlas.n_regions}"
        )
    # Only the regions the measures use enter the correlation matrix.
    index = {
        m.name: (atlas.network_indices(m.network_a), atlas.network_indices(m.network_b))
        for m in measures
    }
    used = np.unique(np.concatenate([np.concatenate(pair) for pair in index.values()]))
    position = np.full(atlas.n_regions, -1)
    position[used] = np.arange(used.size)
    z = fisher_z_connectivity(np.asarray(data)[:, used])
    return {
        name: network_mean_fc(z, position[idx_a], position[idx_b])
        for name, (idx_a, idx_b) in index.items()
    }
