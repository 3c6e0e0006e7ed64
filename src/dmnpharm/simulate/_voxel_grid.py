"""The 2 mm MNI voxel grid of fMRIPrep outputs, its brain mask and region labels.

The grid is fMRIPrep's ``space-MNI152NLin2009cAsym_res-2``: 97 x 115 x 97 voxels
of 2 mm, the first voxel centred at (-96, -132, -78) mm.
"""

from __future__ import annotations

from functools import cache

import nibabel as nib
import numpy as np
import numpy.typing as npt
from nibabel.processing import resample_from_to

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError

__all__ = ["MNI_RES2_AFFINE", "MNI_RES2_SHAPE", "brain_mask", "region_label_volume"]

#: Voxels along x, y and z of ``space-MNI152NLin2009cAsym_res-2``.
MNI_RES2_SHAPE: tuple[int, int, int] = (97, 115, 97)


def _res2_affine() -> npt.NDArray[np.float64]:
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-96.0, -132.0, -78.0)
    affine.flags.writeable = False
    return affine


#: Voxel-to-MNI (mm) affine of ``space-MNI152NLin2009cAsym_res-2`` (read-only).
MNI_RES2_AFFINE: npt.NDArray[np.float64] = _res2_affine()


@cache
def _brain_mask_readonly() -> npt.NDArray[np.bool_]:
    """Resample nilearn's bundled MNI152 mask once per process."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_img

    template = load_mni152_brain_mask(resolution=2)
    # Both grids have 2 mm voxels and origins an integer number of voxels apart,
    # so nearest-neighbour resampling is an exact shift. The keyword arguments
    # are given explicitly so nilearn has no default change to warn about.
    resampled = resample_img(
        template,
        target_affine=np.array(MNI_RES2_AFFINE),
        target_shape=MNI_RES2_SHAPE,
        interpolation="nearest",
        fill_value=0.0,
        force_resample=True,
        copy_header=True,
    )
    mask: npt.NDArray[np.bool_] = np.asarray(resampled.dataobj) > 0
    mask.flags.writeable = False
    return mask


def brain_mask() -> npt.NDArray[np.bool_]:
    """Return a brain mask on the 2 mm MNI grid.

    nilearn's bundled MNI152 brain mask (2 mm, available offline) resampled by
    nearest neighbour onto :data:`MNI_RES2_SHAPE` / :data:`MNI_RES2_AFFINE`.
    Voxels below z = -72 mm lie outside that template's field of view and are
    outside the mask.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape :data:`MNI_RES2_SHAPE`, True inside the brain;
        a fresh copy on each call (the resampling runs once per process).
    """
    return _brain_mask_readonly().copy()


def check_grid_mask(mask: npt.ArrayLike, name: str = "mask") -> npt.NDArray[np.bool_]:
    """Return ``mask`` as a boolean array on the 2 mm MNI grid, or raise.

    Parameters
    ----------
    mask : array_like
        Boolean (or 0/1) array of shape :data:`MNI_RES2_SHAPE`.
    name : str
        Parameter name used in error messages.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape :data:`MNI_RES2_SHAPE`.

    Raises
    ------
    InputError
        The shape is wrong, values other than 0/1 occur, or no voxel is set.
    """
    arr = np.asarray(mask)
    if arr.shape != MNI_RES2_SHAPE:
        raise InputError(
            f"{name} has shape {arr.shape}; it must be on the 2 mm MNI grid, {MNI_RES2_SHAPE}"
        )
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.number) and np.isin(arr, (0, 1)).all()):
            raise InputError(f"{name} must be boolean or 0/1; got dtype {arr.dtype}")
        arr = arr.astype(bool)
    if not arr.any():
        raise InputError(f"{name} has no voxel set; it must cover the brain")
    return arr


def region_label_volume(
    atlas: Atlas, radius_mm: float = 5.0, mask: npt.ArrayLike | None = None
) -> npt.NDArray[np.int32]:
    """Label the voxels of an atlas's regions on the 2 mm grid.

    Coordinate atlases get spheres around their centres. Atlases defined by a
    labels image (e.g. Schaefer 2018) get that image resampled onto the grid by
    nearest neighbour (the labels move to the data's grid, never the reverse).
    Schaefer images are in MNI152NLin6Asym and the grid is MNI152NLin2009cAsym;
    the two templates differ by a few millimetres, which this ignores.

    Parameters
    ----------
    atlas : Atlas
        Regions with MNI centres in mm, e.g. ``load_atlas("seitzman300")``.
    radius_mm : float
        Coordinate atlases: sphere radius in mm; a voxel belongs to a sphere when the distance from
        its centre to the region's centre is at most ``radius_mm``. Seitzman-300
        uses 5 mm.
    mask : array_like or None
        Boolean array of shape :data:`MNI_RES2_SHAPE`; only voxels inside it are
        labelled. None uses :func:`brain_mask`.

    Returns
    -------
    numpy.ndarray
        int32 array of shape :data:`MNI_RES2_SHAPE`: ``r + 1`` in the voxels of
        region ``r`` (the column order of ``atlas.labels``), 0 elsewhere. Where
        spheres overlap, the nearest centre wins (the earlier region on an
        exact tie).

    Raises
    ------
    InputError
        ``radius_mm`` is not a positive finite number, ``mask`` is not on the
        grid, or a region ends up with no voxel (centre outside the mask, or
        all its voxels nearer to other centres); the message lists them.
    """
    radius = float(radius_mm)
    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"radius_mm must be a positive number of mm; got {radius_mm!r}")
    inside = brain_mask() if mask is None else check_grid_mask(mask)
    if atlas.image:
        labels = _resampled_labels(atlas, inside)
    else:
        labels = _sphere_labels(atlas, radius, inside)
    counts = np.bincount(labels.ravel(), minlength=atlas.n_regions + 1)[1:]
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        shown = ", ".join(f"{atlas.labels[i]!r} at {atlas.coords[i]}" for i in empty[:5])
        more = f" and {empty.size - 5} more" if empty.size > 5 else ""
        how = (
            "resampling its labels image into" if atlas.image else f"radius_mm={radius_mm} inside"
        )
        raise InputError(
            f"{empty.size} region(s) of atlas {atlas.name!r} have no voxel after {how} "
            f"the mask: {shown}{more}; use a larger radius_mm or a mask that covers them"
        )
    return labels


def _resampled_labels(atlas: Atlas, inside: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """Region number (1-based, atlas order) per grid voxel from the atlas's labels image."""
    image = nib.load(atlas.image)
    target = (MNI_RES2_SHAPE, MNI_RES2_AFFINE)
    on_grid = resample_from_to(image, target, order=0)  # type: ignore[no-untyped-call]
    values = np.round(np.asarray(on_grid.dataobj)).astype(np.int64)
    lookup = np.zeros(max(int(values.max()), max(atlas.label_values)) + 1, dtype=np.int32)
    lookup[list(atlas.label_values)] = np.arange(1, atlas.n_regions + 1, dtype=np.int32)
    labels: npt.NDArray[np.int32] = np.where(inside, lookup[np.maximum(values, 0)], 0).astype(
        np.int32
    )
    return labels


def _sphere_labels(
    atlas: Atlas, radius: float, inside: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int32]:
    """Region number (1-based) per grid voxel: nearest centre within ``radius`` mm."""
    shape = np.array(MNI_RES2_SHAPE)
    voxel_mm = np.diag(MNI_RES2_AFFINE)[:3]
    origin = MNI_RES2_AFFINE[:3, 3]
    reach = radius / voxel_mm
    labels = np.zeros(MNI_RES2_SHAPE, dtype=np.int32)
    best = np.full(MNI_RES2_SHAPE, np.inf)
    for r, centre in enumerate(np.asarray(atlas.coords, dtype=float)):
        ijk = (centre - origin) / voxel_mm
        lo = np.clip(np.ceil(ijk - reach).astype(int), 0, shape)
        hi = np.clip(np.floor(ijk + reach).astype(int) + 1, 0, shape)
        if np.any(hi <= lo):
            continue
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        axes = [origin[k] + voxel_mm[k] * np.arange(lo[k], hi[k]) - centre[k] for k in range(3)]
        dist2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2] ** 2
        take = (dist2 <= radius**2) & inside[box] & (dist2 < best[box])
        labels[box][take] = r + 1
        best[box][take] = dist2[take]
    return labels
