"""Small NIfTI files for extraction tests: written with the run's zooms and units."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt


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
