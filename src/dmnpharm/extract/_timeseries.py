"""Region time series from a 4D BOLD image in one streaming pass."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import get_logger
from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract._nifti import (
    BoldLayout,
    default_chunk_volumes,
    header_repetition_time,
    iter_columns,
    read_layout,
)
from dmnpharm.extract._regions import (
    LABELS_RESAMPLING,
    RegionMap,
    label_members,
    read_mask,
    region_map,
    sphere_regions,
)

__all__ = ["Extraction", "extract_timeseries"]

_LOG = get_logger("extract")

_SPHERE_RULE = (
    "voxels whose centre lies within the radius of the seed, plus the voxel nearest to the "
    "seed (nilearn NiftiSpheresMasker's rule); spheres may overlap"
)


@dataclass(frozen=True, eq=False)
class Extraction:
    """Region time series extracted from one BOLD run, with how they were made.

    Parameters
    ----------
    timeseries : numpy.ndarray
        ``volumes x regions`` float64 array (read-only): the mean of each
        region's voxels at each volume, in the image's scaled units.
    labels : tuple of str
        Region labels in atlas order; the column names of ``timeseries``.
    n_voxels : tuple of int
        Voxels averaged per region.
    repetition_time : float
        Seconds between volumes.
    record : dict
        Provenance, JSON-ready: the method (spheres and their radius, or the
        labels image resampled to the data grid by nearest neighbour), the
        data's file, shape, affine, datatype and scaling, the mask, the chunk
        size, and where the repetition time came from.
    coverage : tuple of float or None
        Per region, the fraction (0 to 1) of its voxels that the run covers,
        as XCP-D's ``stat-coverage_bold.tsv``. NIfTI runs: the region's voxels
        inside the brain mask over its voxels on the data grid without the
        mask (a sphere: its voxels when every voxel of the grid is a
        candidate), never 0 since a region needs a voxel in the mask; None
        when no mask was given. CIFTI runs: the fraction of the parcel's
        grayordinates in the data whose time series is finite and not
        constant.
    """

    timeseries: npt.NDArray[np.float64]
    labels: tuple[str, ...]
    n_voxels: tuple[int, ...]
    repetition_time: float
    record: dict[str, Any]
    coverage: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        """Check the sizes agree and make the time series read-only."""
        n_regions = len(self.labels)
        if self.timeseries.ndim != 2 or self.timeseries.shape[1] != n_regions:
            raise ValueError(
                f"timeseries of shape {self.timeseries.shape} does not have one column per "
                f"label ({n_regions})"
            )
        if len(self.n_voxels) != n_regions:
            raise ValueError("n_voxels needs one count per label")
        if self.coverage is not None and len(self.coverage) != n_regions:
            raise ValueError("coverage needs one fraction per label")
        self.timeseries.flags.writeable = False

    @property
    def n_volumes(self) -> int:
        """Number of volumes (rows of :attr:`timeseries`)."""
        return int(self.timeseries.shape[0])


def _positive(name: str, value: float, *, allow_zero: bool) -> float:
    bound = ">= 0" if allow_zero else "> 0"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number {bound}; got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise InputError(f"{name} must be a finite number {bound}; got {value!r}")
    return number


def _check_chunk(chunk_volumes: int | None, layout: BoldLayout) -> int:
    if chunk_volumes is None:
        return default_chunk_volumes(layout)
    if isinstance(chunk_volumes, bool) or not isinstance(chunk_volumes, int | np.integer):
        raise InputError(f"chunk_volumes must be a positive integer; got {chunk_volumes!r}")
    if chunk_volumes < 1:
        raise InputError(f"chunk_volumes must be a positive integer; got {chunk_volumes!r}")
    return min(int(chunk_volumes), layout.n_volumes)


def _repetition_time(layout: BoldLayout, given: float | None) -> tuple[float, str]:
    if given is not None:
        return _positive("repetition_time", given, allow_zero=False), "given by the caller"
    from_header = header_repetition_time(layout)
    if from_header is None:
        raise InputError(
            f"BOLD image '{layout.path}' gives no repetition time in its header "
            f"(pixdim[4] = {layout.zooms[3] if len(layout.zooms) > 3 else 'absent'}); "
            "pass repetition_time= in seconds (e.g. from the BIDS sidecar)"
        )
    unit = layout.time_unit
    if unit in ("sec", "msec", "usec"):
        return from_header, f"header pixdim[4] in {unit}"
    return from_header, f"header pixdim[4], time unit {unit!r}, read as seconds"


def _regions(
    atlas: Atlas,
    layout: BoldLayout,
    radius: float,
    inside: npt.NDArray[np.bool_] | None,
) -> tuple[RegionMap, dict[str, Any], tuple[float, ...] | None]:
    """Place the regions on the data grid; return them, the method, and their mask coverage."""
    shape = layout.shape[:3]
    where = " inside the mask" if inside is not None else ""
    if atlas.image:
        members, details, totals = label_members(atlas, shape, layout.affine, inside, layout.path)
        regions = region_map(atlas, members, LABELS_RESAMPLING + where)
        coverage = None
        if inside is not None:
            # A region's masked voxels are a subset of its voxels on the grid.
            coverage = tuple(n / t for n, t in zip(regions.n_voxels, totals, strict=True))
        return regions, {"method": "labels", "regions": LABELS_RESAMPLING, **details}, coverage
    members, coverage = sphere_regions(atlas, radius, shape, layout.affine, inside)
    regions = region_map(atlas, members, f"spheres of radius {radius:g} mm{where}")
    method = {"method": "spheres", "radius_mm": radius, "regions": _SPHERE_RULE}
    return regions, method, coverage


def stream_regions(
    layout: BoldLayout,
    regions: RegionMap,
    chunk: int,
    voxels: npt.NDArray[np.intp] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32] | None]:
    """Read the image once: region means and, optionally, some voxels' time series.

    Returns the ``volumes x regions`` means (scaled by ``scl_slope`` and
    ``scl_inter``) and, when ``voxels`` (flat indices, file order) are given,
    their ``volumes x voxels`` scaled values as float32; else None.
    """
    columns = regions.columns
    region_at = voxel_at = None
    if voxels is not None:
        columns = np.union1d(regions.columns, voxels)
        region_at = np.searchsorted(columns, regions.columns)
        voxel_at = np.searchsorted(columns, voxels)
    series = np.empty((layout.n_volumes, regions.weights.shape[0]), dtype=np.float64)
    kept = None if voxels is None else np.empty((layout.n_volumes, voxels.size), np.float32)
    for start, values in iter_columns(layout, columns, chunk, "BOLD image"):
        stop = start + values.shape[0]
        used = values if voxel_at is None else values[:, region_at]
        series[start:stop] = (regions.weights @ used.astype(np.float64).T).T
        if kept is not None:
            kept[start:stop] = values[:, voxel_at]
    if layout.slope != 1.0 or layout.inter != 0.0:
        # The weights of each region sum to 1, so scaling the means is exact.
        series *= layout.slope
        series += layout.inter
        if kept is not None:
            kept *= np.float32(layout.slope)
            kept += np.float32(layout.inter)
    return series, kept


def extract_timeseries(
    bold: str | os.PathLike[str],
    atlas: Atlas,
    *,
    mask: str | os.PathLike[str] | None = None,
    radius_mm: float = 5.0,
    chunk_volumes: int | None = None,
    repetition_time: float | None = None,
) -> Extraction:
    """Extract the mean time series of each atlas region from a 4D BOLD image.

    The image is read once, front to back, a chunk of whole volumes at a time
    (``.nii.gz`` inflated as a stream, ``.nii`` memory-mapped one chunk at a
    time), so memory does not grow with the number of volumes. Each chunk's
    region means come from one sparse averaging matrix (regions x the voxels
    any region uses); a voxel may belong to several regions. Everything is
    checked (header, mask, atlas, regions) before the data are read.

    Coordinate atlases (``atlas.image == ""``) give spheres of ``radius_mm``
    around ``atlas.coords`` (mm, the image's world space), selected as
    nilearn's ``NiftiSpheresMasker`` selects them (``allow_overlap=True``):
    the voxels whose centre is within the radius of the seed, plus the voxel
    nearest to it. Without ``mask`` every voxel of the grid is a candidate,
    outside the brain too. Labels-image atlases are resampled onto the data
    grid by nearest neighbour (never the data onto the atlas), as nilearn's
    ``NiftiLabelsMasker`` does by default; labels not in ``atlas.label_values``
    are ignored. Non-finite voxel values propagate into the region means.

    Parameters
    ----------
    bold : str or os.PathLike
        4D ``.nii`` or ``.nii.gz`` image, e.g. fMRIPrep's
        ``*_desc-preproc_bold.nii.gz``. Any integer or real datatype and byte
        order; ``scl_slope``/``scl_inter`` are applied.
    atlas : Atlas
        Regions, e.g. ``load_atlas("seitzman300")`` or a Schaefer atlas.
    mask : str or os.PathLike or None
        3D brain mask on the same grid as ``bold`` (same shape and affine),
        e.g. fMRIPrep's ``*_desc-brain_mask.nii.gz``; only its nonzero voxels
        are used. None uses every voxel.
    radius_mm : float
        Sphere radius in mm for coordinate atlases (Seitzman-300 uses 5 mm);
        ignored for labels-image atlases.
    chunk_volumes : int or None
        Volumes read per chunk; None chooses about 16 MiB of stored data per
        chunk. Peak memory grows with it; results do not depend on it.
    repetition_time : float or None
        Seconds between volumes; None reads it from the header (``pixdim[4]``
        and its time unit), and fails when the header has none.

    Returns
    -------
    Extraction
        ``volumes x regions`` time series with the labels, voxel counts,
        repetition time, a provenance record and, with a mask, each region's
        coverage (the fraction of its voxels on the data grid inside the mask,
        from the region placement: no extra read of the data).

    Raises
    ------
    InputError
        ``bold`` is missing, not a 4D NIfTI image, of an unsupported datatype,
        truncated or corrupt (named, with how far it could be read); ``mask``
        is not on the data grid or empty; the labels image cannot be read or
        does not overlap the data grid; a region has no voxel (named);
        ``radius_mm``, ``chunk_volumes`` or ``repetition_time`` is invalid.
    """
    extraction, _, _ = read_run(
        Path(bold),
        atlas,
        mask=None if mask is None else Path(mask),
        radius_mm=radius_mm,
        chunk_volumes=chunk_volumes,
        repetition_time=repetition_time,
        keep_mask_voxels=False,
    )
    return extraction


def read_run(
    path: Path,
    atlas: Atlas,
    *,
    mask: Path | None,
    radius_mm: float,
    chunk_volumes: int | None,
    repetition_time: float | None,
    keep_mask_voxels: bool,
) -> tuple[Extraction, npt.NDArray[np.float32] | None, npt.NDArray[np.bool_] | None]:
    """Check everything, then read the run once (see :func:`extract_timeseries`).

    With ``keep_mask_voxels`` (a mask is then required) the in-mask voxels'
    time series come back too, as float32 ``volumes x voxels`` in file order,
    with the 3D mask.
    """
    if not isinstance(atlas, Atlas):
        raise InputError(f"atlas must be a dmnpharm.atlases.Atlas; got {type(atlas).__name__}")
    radius = _positive("radius_mm", radius_mm, allow_zero=True)
    layout = read_layout(path)
    chunk = _check_chunk(chunk_volumes, layout)
    repetition_time, repetition_time_source = _repetition_time(layout, repetition_time)
    inside = None
    if mask is not None:
        inside = read_mask(mask, layout.shape[:3], layout.affine, path)
    regions, method, coverage = _regions(atlas, layout, radius, inside)
    voxels = None
    if keep_mask_voxels:
        if inside is None:
            raise InputError("voxel-level maps need a brain mask (mask=...)")
        voxels = np.flatnonzero(inside.ravel(order="F"))

    began = time.perf_counter()
    series, kept = stream_regions(layout, regions, chunk, voxels)
    seconds = time.perf_counter() - began
    _LOG.debug(
        "extracted %d regions x %d volumes from %s in %.2f s",
        atlas.n_regions,
        layout.n_volumes,
        path,
        seconds,
    )
    record: dict[str, Any] = {
        **method,
        "atlas": atlas.name,
        "n_regions": atlas.n_regions,
        "average": "mean of each region's voxels, scl_slope and scl_inter applied",
        "data": layout.summary(),
        "mask": None if mask is None else str(mask),
        "mask_voxels": None if inside is None else int(inside.sum()),
        "voxels_used": int(regions.columns.size),
        "reader": "zlib gzip stream" if layout.compressed else "numpy.memmap per chunk",
        "chunk_volumes": chunk,
        "repetition_time": repetition_time,
        "repetition_time_source": repetition_time_source,
    }
    if kept is not None:
        record["voxels_kept"] = {
            "n": int(kept.shape[1]),
            "dtype": "float32",
            "why": "voxel-level maps requested; every in-mask voxel held from the same read",
        }
    extraction = Extraction(
        timeseries=series,
        labels=atlas.labels,
        n_voxels=regions.n_voxels,
        repetition_time=repetition_time,
        record=record,
        coverage=coverage,
    )
    return extraction, kept, inside
