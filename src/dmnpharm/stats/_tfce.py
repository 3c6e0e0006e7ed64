"""Threshold-free cluster enhancement (TFCE) for voxel maps, with permutation FWER.

Smith and Nichols (2009, NeuroImage 44:83-98): each voxel's enhanced value is the
integral over heights ``h`` up to its statistic of ``e(h)^E h^H dh``, where
``e(h)`` is the size of the cluster containing the voxel at threshold ``h``;
``E = 0.5`` and ``H = 2`` are the usual values for 3D maps. The integral is taken
in steps of ``dh`` (FSL's approximation). Positive and negative statistics are
enhanced separately and keep their sign. The family-wise error uses the maximum
absolute TFCE over the map per permutation of the GLM (any design and
exchangeability of :func:`permutation_glm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._glm import Exchangeability, _count_reaching, _FreedmanLane, null_statistics

__all__ = ["TfceResult", "tfce", "tfce_permutation_test"]

Array = npt.NDArray[np.float64]


def _enhance(
    values: Array, dh: float, e: float, h: float, structure: npt.NDArray[np.bool_]
) -> Array:
    """TFCE of the positive part of a 3D map (heights dh, 2 dh, ... up to the maximum)."""
    out = np.zeros_like(values)
    top = float(values.max()) if values.size else 0.0
    for step in range(1, int(np.floor(top / dh + 1e-9)) + 1):
        height = step * dh
        labels, count = ndimage.label(values >= height - 1e-12, structure=structure)
        if count:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            out += (sizes[labels].astype(float) ** e) * (height**h) * dh
    return out


def tfce(
    statistic: npt.ArrayLike,
    dh: float = 0.1,
    extent_power: float = 0.5,
    height_power: float = 2.0,
    connectivity: int = 26,
) -> Array:
    """Enhance a 3D statistic map by TFCE (both signs, each kept).

    Parameters
    ----------
    statistic : array_like
        3D map (voxels outside the brain set to 0).
    dh : float
        Height step of the integral.
    extent_power, height_power : float
        ``E`` and ``H``.
    connectivity : int
        6 (faces), 18 (faces and edges) or 26 (also corners) neighbours.

    Returns
    -------
    numpy.ndarray
        The TFCE map, same shape, negative where the statistic is negative.

    Raises
    ------
    InputError
        Not 3D, non-finite values, or bad parameters.
    """
    values = np.asarray(statistic, dtype=np.float64)
    if values.ndim != 3 or not np.isfinite(values).all():
        raise InputError("TFCE needs a finite 3D statistic map")
    if not dh > 0 or extent_power <= 0 or height_power <= 0:
        raise InputError("dh, extent_power and height_power must be positive")
    rank = {6: 1, 18: 2, 26: 3}.get(connectivity)
    if rank is None:
        raise InputError(f"connectivity must be 6, 18 or 26; got {connectivity}")
    structure = ndimage.generate_binary_structure(3, rank)
    positive = _enhance(np.maximum(values, 0.0), dh, extent_power, height_power, structure)
    negative = _enhance(np.maximum(-values, 0.0), dh, extent_power, height_power, structure)
    enhanced: Array = positive - negative
    return enhanced


@dataclass(frozen=True, eq=False)
class TfceResult:
    """A TFCE permutation test.

    Parameters
    ----------
    statistic : numpy.ndarray
        3D t map.
    tfce : numpy.ndarray
        3D TFCE map of ``statistic``.
    p_fwer : numpy.ndarray
        3D voxel-wise FWER p-values (1 outside the mask).
    null_max : numpy.ndarray
        Maximum absolute TFCE of each permutation.
    """

    statistic: Array
    tfce: Array
    p_fwer: Array
    null_max: Array


@fill_doc
def tfce_permutation_test(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    contrast: npt.ArrayLike,
    mask: npt.ArrayLike,
    *,
    exchangeability: Exchangeability | None = None,
    n_permutations: int = 1000,
    seed: int = 0,
    dh: float = 0.1,
) -> TfceResult:
    """Test a t contrast voxel-wise with TFCE and max-TFCE family-wise error.

    Parameters
    ----------
    y : array_like
        Rows x voxels inside ``mask`` (C order of the mask's True voxels).
    %(design_matrix)s
    contrast : array_like
        A t contrast (vector).
    mask : array_like
        3D boolean mask.
    %(exchangeability)s
    %(n_permutations)s
    %(seed)s
    dh : float
        TFCE height step.

    Returns
    -------
    TfceResult
        Maps and per-voxel FWER p-values ``(count + 1) / (B + 1)``.

    Raises
    ------
    InputError
        Shapes disagree or the contrast is not a single row.
    """
    yy = np.asarray(y, dtype=np.float64)
    inside = np.asarray(mask, dtype=bool)
    cc = np.atleast_2d(np.asarray(contrast, dtype=np.float64))
    if inside.ndim != 3 or yy.ndim != 2 or yy.shape[1] != int(inside.sum()):
        raise InputError("y must be rows x voxels, one column per True voxel of the 3D mask")
    if cc.shape[0] != 1:
        raise InputError("TFCE tests a t contrast (one row)")
    model = _FreedmanLane.build(yy, np.asarray(x, dtype=np.float64), cc)

    def as_map(values: Array) -> Array:
        volume = np.zeros(inside.shape)
        volume[inside] = values
        return volume

    t_map = as_map(model.statistics(model.resid_z[None])[0])
    enhanced = tfce(t_map, dh)
    null_max = np.zeros(n_permutations)
    for start, batch in null_statistics(
        model, exchangeability or Exchangeability(), n_permutations, seed
    ):
        for i, t in enumerate(batch):
            null_max[start + i] = np.abs(tfce(as_map(t), dh)).max()
    count = _count_reaching(null_max, np.abs(enhanced[inside]) * (1 - 1e-10))
    p_map = np.ones(inside.shape)
    p_map[inside] = (count + 1) / (n_permutations + 1)
    return TfceResult(t_map, enhanced, p_map, null_max)
