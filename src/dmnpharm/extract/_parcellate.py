"""Parcellate a 3-D map (a PET receptor density, a statistic image) with an atlas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract._nifti import load_image_header
from dmnpharm.extract._regions import label_members, region_map, sphere_members

__all__ = ["parcellate_image"]


def parcellate_image(
    path: str | Path, atlas: Atlas, *, radius: float = 5.0, what: str = "map"
) -> npt.NDArray[np.float64]:
    """Return the mean of a 3-D image inside each region of an atlas.

    Regions are placed on the image's own grid the way time series are
    extracted: a labels-image atlas is resampled to the grid by nearest
    neighbour, a coordinates atlas becomes spheres of ``radius`` mm. Voxels
    that are NaN or exactly zero are taken as outside the map (PET volumes
    are zero outside the brain) and left out of the means.

    Parameters
    ----------
    path : str or Path
        A NIfTI image, 3-D (or 4-D with one volume), in the atlas's space.
    atlas : Atlas
        The regions, in the order of the returned values.
    radius : float
        Sphere radius in mm for a coordinates atlas.
    what : str
        What the image is, for error messages (``"5HT2a map"``).

    Returns
    -------
    numpy.ndarray
        One mean value per atlas region.

    Raises
    ------
    InputError
        For an unreadable or 4-D image, or a region with no voxel of the map
        (the message names the regions).
    """
    source = Path(path)
    img = load_image_header(source, what)
    try:
        data = np.asarray(img.dataobj, dtype=np.float64)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot read {what} '{source}': {exc}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"{what} '{source}' has shape {data.shape}; give one 3-D map per file")
    shape = (int(data.shape[0]), int(data.shape[1]), int(data.shape[2]))
    affine = np.asarray(img.affine, dtype=np.float64)
    inside = np.isfinite(data) & (data != 0)
    if atlas.image:
        members, _, _ = label_members(atlas, shape, affine, inside, source)
        how = f"labels inside the nonzero voxels of {what} '{source}'"
    else:
        members = sphere_members(atlas, radius, shape, affine, inside)
        how = f"spheres of radius {radius:g} mm inside the nonzero voxels of {what} '{source}'"
    regions = region_map(atlas, members, how)
    flat = data.reshape(-1, order="F")[regions.columns]
    means: npt.NDArray[np.float64] = regions.weights @ flat
    return means
