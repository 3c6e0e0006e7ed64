"""Small images for extraction tests: NIfTI files with the run's zooms, and CIFTI axes."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
from nibabel.cifti2 import cifti2_axes


def save_nifti(
    path: Path, data: npt.ArrayLike, affine: npt.NDArray[np.float64], repetition_time: float
) -> Path:
    """Save ``data`` (3D, or 4D with 2 mm voxels and ``repetition_time``) in mm and s."""
    arr = np.asarray(data)
    img = nib.Nifti1Image(arr, affine)
    img.header.set_xyzt_units("mm", "sec")
    if arr.ndim == 4:
        img.header.set_zooms((2.0, 2.0, 2.0, repetition_time))
    nib.save(img, path)
    return path


#: A key per grayordinate of :func:`cifti_models` (0: none).
CIFTI_KEYS = np.array([3, 3, 11, 0, 11, 11, 3, 0, 3, 7, 7, 3])


def cifti_models() -> cifti2_axes.BrainModelAxis:
    """Return 5 left vertices, 4 right vertices and 3 voxels of a 7 x 8 x 9 grid of 2 mm."""
    axis = cifti2_axes.BrainModelAxis
    left = axis.from_surface(np.array([0, 3, 7, 20, 41]), 50, "CortexLeft")
    right = axis.from_surface(np.array([2, 5, 6, 9]), 50, "CortexRight")
    volume = axis(
        name=["ThalamusLeft"] * 3,
        voxel=np.array([(1, 2, 3), (3, 2, 1), (6, 7, 8)]),
        affine=np.diag([2.0, 2.0, 2.0, 1.0]),
        volume_shape=(7, 8, 9),
    )
    models: cifti2_axes.BrainModelAxis = left + right + volume
    return models
