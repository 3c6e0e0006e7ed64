"""Region membership on the data grid and the sparse matrix that averages it.

Spheres follow nilearn's ``NiftiSpheresMasker`` (``nilearn.maskers.
nifti_spheres_masker.apply_mask_and_get_affinity``) voxel for voxel: a sphere
holds the candidate voxels whose centre lies within ``radius_mm`` of the seed
(distance <= radius), plus the voxel nearest to the seed (the seed's voxel
coordinates rounded half to even), plus the first voxel, in (i, j, k) order,
whose centre's mm coordinates truncated to integers equal the seed's truncated
coordinates. Candidates are the voxels of the mask, or every voxel of the grid
when there is no mask (outside the brain included, as nilearn does).

Labels images are resampled onto the data grid by nearest neighbour, the way
``scipy.ndimage.affine_transform(order=0)`` (and so nilearn's and nibabel's
resamplers) does it: a data voxel takes the label of the labels voxel at
``floor(p + 0.5)``, where ``p`` is its position in the labels image's voxel
coordinates, and is background when ``p`` lies outside ``[0, n - 1]`` on any
axis. The data are never resampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract._nifti import load_image_header

__all__: list[str] = []

#: A voxel whose truncated mm coordinates equal the seed's lies within this distance.
_TRUNCATION_REACH = 2.0 * np.sqrt(3.0)

LABELS_RESAMPLING = "labels image resampled to the data grid by nearest neighbour"


@dataclass(frozen=True)
class RegionMap:
    """Regions as rows of a sparse averaging matrix over the voxels they use.

    ``weights[r, c]`` is ``1 / n_voxels[r]`` when voxel ``columns[c]`` (index
    within a volume, file order) belongs to region ``r``, so ``weights @ x``
    averages each region's voxels; a voxel may belong to several regions.
    """

    weights: sparse.csr_array
    columns: npt.NDArray[np.intp]
    n_voxels: tuple[int, ...]


def flat_index(ijk: npt.NDArray[np.intp], shape: tuple[int, ...]) -> npt.NDArray[np.intp]:
    """Voxel indices within a volume in file (Fortran) order, from (3, n) voxel coordinates."""
    flat: npt.NDArray[np.intp] = ijk[0] + shape[0] * (ijk[1] + shape[1] * ijk[2])
    return flat


def _sphere_members(
    seed: npt.NDArray[np.float64],
    radius: float,
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
    inverse: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_] | None,
) -> tuple[npt.NDArray[np.intp], float | None]:
    """Flat (file-order) indices of the voxels of one sphere, and its mask coverage.

    The members are the sphere's voxels among the candidates (the mask's
    voxels, or the whole grid). The coverage is the fraction of the sphere
    drawn on the whole grid whose voxels lie in the mask (None without a mask,
    0 for a sphere off the grid); both come from the same candidate box.
    """
    centre = inverse[:3, :3] @ seed + inverse[:3, 3]
    reach = max(radius, _TRUNCATION_REACH)
    # |delta ijk_a| <= ||row a of inverse|| * |delta mm|: this box holds every
    # voxel within ``reach`` mm of the seed, and the voxel nearest to it.
    half = reach * np.linalg.norm(inverse[:3, :3], axis=1) + 1.0
    lo = np.maximum(np.floor(centre - half), 0).astype(np.intp)
    hi = np.minimum(np.ceil(centre + half) + 1, shape).astype(np.intp)
    if np.any(hi <= lo):
        return np.empty(0, dtype=np.intp), None if inside is None else 0.0
    # Box voxels in C order of (i, j, k), the order nilearn searches its candidates in.
    grid = np.indices(tuple(hi - lo), dtype=np.intp).reshape(3, -1) + lo[:, None]
    world = affine[:3, :3] @ grid + affine[:3, 3:4]
    near = ((world - seed[:, None]) ** 2).sum(axis=0) <= radius**2
    nearest = np.round(centre).astype(np.intp)
    near |= np.all(grid == nearest[:, None], axis=0)
    truncated = np.trunc(seed).astype(np.intp)
    hits = np.flatnonzero(np.all(world.astype(np.intp) == truncated[:, None], axis=0))
    whole = near.copy()
    if hits.size:
        whole[hits[0]] = True
    if inside is None:
        return flat_index(grid[:, whole], shape), None
    # With a mask only its voxels are candidates: the first in-mask truncation hit counts.
    keep = inside[grid[0], grid[1], grid[2]]
    member = near & keep
    kept_hits = hits[keep[hits]]
    if kept_hits.size:
        member[kept_hits[0]] = True
    total = int(np.count_nonzero(whole))
    coverage = float(np.count_nonzero(whole & keep) / total) if total else 0.0
    return flat_index(grid[:, member], shape), coverage


def sphere_regions(
    atlas: Atlas,
    radius: float,
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_] | None,
) -> tuple[list[npt.NDArray[np.intp]], tuple[float, ...] | None]:
    """Flat voxel indices of each region's sphere, in atlas order, and their mask coverage.

    The coverage of a sphere is the fraction of its voxels on the grid (every
    voxel of the grid a candidate) that lie inside the mask; None without a
    mask. No image data are read.
    """
    inverse = np.linalg.inv(affine).astype(np.float64)
    found = [
        _sphere_members(np.asarray(seed, dtype=np.float64), radius, shape, affine, inverse, inside)
        for seed in atlas.coords
    ]
    members = [m for m, _ in found]
    if inside is None:
        return members, None
    return members, tuple(float(c or 0.0) for _, c in found)


def sphere_members(
    atlas: Atlas,
    radius: float,
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_] | None,
) -> list[npt.NDArray[np.intp]]:
    """Flat voxel indices of each region's sphere, in atlas order."""
    return sphere_regions(atlas, radius, shape, affine, inside)[0]


def _labels_array(path: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Integer labels and affine of a 3D labels image."""
    img = load_image_header(path, "labels image")
    try:
        data = np.asarray(img.dataobj)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot read labels image '{path}': {exc}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"labels image '{path}' must be 3D; it has shape {data.shape}")
    if data.dtype.kind not in "iub" and not (
        np.all(np.isfinite(data)) and np.array_equal(data, np.round(data))
    ):
        raise InputError(f"labels image '{path}' holds non-integer values")
    affine = np.array(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError(
            f"labels image '{path}' has a singular or non-finite affine; its grid cannot "
            "be mapped onto the data"
        )
    return np.round(data).astype(np.int64), affine


def resample_labels_nearest(
    labels: npt.NDArray[np.int64],
    labels_affine: npt.NDArray[np.float64],
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], int]:
    """Labels on the data grid by nearest neighbour, and how many data voxels it covers."""
    transform = np.linalg.inv(labels_affine) @ affine
    matrix, shift = transform[:3, :3], transform[:3, 3]
    upper = np.array(labels.shape, dtype=np.float64) - 1.0
    i, j = np.meshgrid(
        np.arange(shape[0], dtype=np.float64),
        np.arange(shape[1], dtype=np.float64),
        indexing="ij",
    )
    out = np.zeros(shape, dtype=np.int64)
    covered = 0
    for k in range(shape[2]):  # one slice at a time keeps the temporaries small
        pos = (
            matrix[:, 0, None, None] * i
            + matrix[:, 1, None, None] * j
            + (matrix[:, 2] * k + shift)[:, None, None]
        )
        valid = np.all((pos >= 0.0) & (pos <= upper[:, None, None]), axis=0)
        covered += int(valid.sum())
        idx = np.floor(pos[:, valid] + 0.5).astype(np.intp)
        out[:, :, k][valid] = labels[idx[0], idx[1], idx[2]]
    return out, covered


def _label_counts(flat: npt.NDArray[np.int64], values: tuple[int, ...]) -> tuple[int, ...]:
    """Voxels of each label value in ``flat`` (0 for a value that is absent)."""
    found, counts = np.unique(flat[flat != 0], return_counts=True)
    if found.size == 0:
        return tuple(0 for _ in values)
    wanted = np.asarray(values, dtype=np.int64)
    at = np.minimum(np.searchsorted(found, wanted), found.size - 1)
    return tuple(int(c) for c in np.where(found[at] == wanted, counts[at], 0))


def label_members(
    atlas: Atlas,
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_] | None,
    bold: Path,
) -> tuple[list[npt.NDArray[np.intp]], dict[str, Any], tuple[int, ...]]:
    """Flat voxel indices of each region of a labels-image atlas, on the data grid.

    Returns the members (inside the mask when there is one), provenance details,
    and each region's voxel count on the data grid before the mask (the counts
    of the members when there is no mask).
    """
    path = Path(atlas.image)
    labels, labels_affine = _labels_array(path)
    on_grid, covered = resample_labels_nearest(labels, labels_affine, shape, affine)
    if covered == 0:
        raise InputError(
            f"labels image '{path}' (shape {labels.shape}) does not overlap the data grid of "
            f"'{bold}' (shape {shape}); are both in the same space?"
        )
    flat = on_grid.ravel(order="F")
    totals = None
    if inside is not None:
        totals = _label_counts(flat, atlas.label_values)
        flat = np.where(inside.ravel(order="F"), flat, 0)
    voxels = np.flatnonzero(flat)
    values = flat[voxels]
    order = np.argsort(values, kind="stable")
    voxels, values = voxels[order], values[order]
    members = []
    for value in atlas.label_values:
        lo, hi = np.searchsorted(values, [value, value + 1])
        members.append(voxels[lo:hi].astype(np.intp))
    details = {
        "labels_image": str(path),
        "labels_shape": list(labels.shape),
        "labels_affine": [[float(v) for v in row] for row in labels_affine],
        "data_voxels_inside_labels_image": covered,
    }
    if totals is None:
        totals = tuple(int(m.size) for m in members)
    return members, details, totals


def region_map(
    atlas: Atlas,
    members: list[npt.NDArray[np.intp]],
    how: str,
) -> RegionMap:
    """Build the averaging matrix from each region's voxels; raise if a region has none."""
    counts = np.array([m.size for m in members], dtype=np.int64)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        shown = ", ".join(f"{atlas.labels[r]!r} at {atlas.coords[r]}" for r in empty[:5])
        more = f" and {empty.size - 5} more" if empty.size > 5 else ""
        raise InputError(
            f"{empty.size} region(s) of atlas {atlas.name!r} have no voxel on the data grid "
            f"({how}): {shown}{more}"
        )
    rows = np.repeat(np.arange(len(members), dtype=np.intp), counts)
    voxels = np.concatenate(members)
    columns, position = np.unique(voxels, return_inverse=True)
    weights = sparse.csr_array(
        (np.repeat(1.0 / counts, counts), (rows, position.ravel())),
        shape=(len(members), columns.size),
    )
    return RegionMap(
        weights=weights,
        columns=columns.astype(np.intp),
        n_voxels=tuple(int(c) for c in counts),
    )


def read_mask(
    path: Path, shape: tuple[int, int, int], affine: npt.NDArray[np.float64], bold: Path
) -> npt.NDArray[np.bool_]:
    """Read a brain mask on the data grid (nonzero voxels are inside)."""
    img = load_image_header(path, "mask")
    try:
        data = np.asarray(img.dataobj)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot read mask '{path}': {exc}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    mask_affine = np.asarray(img.affine, dtype=np.float64)
    if data.shape != shape or not np.allclose(mask_affine, affine, rtol=0.0, atol=1e-4):
        raise InputError(
            f"mask '{path}' is not on the data grid of '{bold}': its shape is {data.shape} "
            f"and affine {mask_affine[:3].round(4).tolist()}, the data's {shape} and "
            f"{affine[:3].round(4).tolist()}; resample the mask to the data first"
        )
    inside: npt.NDArray[np.bool_] = np.asarray(data != 0) & ~np.isnan(data)
    if not inside.any():
        raise InputError(f"mask '{path}' has no voxel inside")
    return inside
