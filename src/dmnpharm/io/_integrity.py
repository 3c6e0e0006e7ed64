"""Image integrity without reading the data: header sanity and the gzip trailer.

A gzip file ends with ISIZE, the uncompressed size modulo 2**32 (RFC 1952,
section 2.3.1). A NIfTI image's uncompressed size is known from its header
(the data offset plus the voxels times their bytes), so comparing the two finds
a truncated ``.nii.gz`` by reading its first few hundred bytes and its last
four: milliseconds, whatever the image's size. A file whose trailer disagrees
is read through once before it is reported, so a valid multi-member gzip file
is never refused. ``deep=True`` reads every file through, which also checks
the CRC-32 of the data (corruption inside the stream).

A CIFTI-2 dense time series (``.dtseries.nii``, a NIfTI-2 file with the CIFTI
XML in a header extension) is checked alike from its header: two axes, a
series of volumes with a positive step, then brain models (grayordinates), and
a file as long as the header implies.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:  # imported where an image is read: every command loads this module
    import nibabel as nib

__all__ = [
    "CheckedRun",
    "CiftiHeader",
    "ImageHeader",
    "check_confounds",
    "check_grids",
    "check_mask",
    "check_repetition_times",
    "read_cifti_header",
    "read_image_header",
    "sidecar_repetition_time",
]

#: Bytes read at a time when a gzip file is read through.
_CHUNK = 1 << 22


@dataclass(frozen=True, eq=False)
class ImageHeader:
    """What a NIfTI header says of an image, checked for sanity.

    Parameters
    ----------
    shape : tuple of int
        Image dimensions.
    affine : numpy.ndarray
        The 4 x 4 voxel-to-world matrix.
    zooms : tuple of float
        Voxel sizes (mm), then the repetition time for 4D images.
    expected_bytes : int
        Uncompressed file size the header implies (data offset + data).
    """

    shape: tuple[int, ...]
    affine: npt.NDArray[np.float64]
    zooms: tuple[float, ...]
    expected_bytes: int

    @property
    def repetition_time(self) -> float | None:
        """The header's fourth zoom when it is positive, else None (seconds)."""
        if len(self.zooms) > 3 and self.zooms[3] > 0:
            return float(self.zooms[3])
        return None

    def same_grid(self, other: ImageHeader, tolerance: float = 1e-3) -> bool:
        """Tell whether two images share a spatial grid (shape and affine).

        Parameters
        ----------
        other : ImageHeader
            The other image.
        tolerance : float
            Largest difference between affine entries (mm) still the same.

        Returns
        -------
        bool
            True when the first three dimensions and the affines agree.
        """
        return self.shape[:3] == other.shape[:3] and bool(
            np.allclose(self.affine, other.affine, atol=tolerance, rtol=0)
        )


def _sanity(path: Path, image: nib.spatialimages.SpatialImage) -> str | None:
    """Return what is wrong with a header's dimensions, voxel sizes or affine, if anything."""
    shape = tuple(int(s) for s in image.shape)
    if not shape or min(shape) < 1:
        return f"{path}: header gives dimensions {shape}; every dimension must be at least 1"
    zooms = tuple(float(z) for z in image.header.get_zooms())
    if not all(np.isfinite(z) and z > 0 for z in zooms[:3]):
        return f"{path}: header gives voxel sizes {zooms[:3]}; they must be positive"
    affine = np.asarray(image.affine, dtype=float)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        return f"{path}: header's affine is not a valid voxel-to-world matrix"
    return None


def _read_through(path: Path) -> str | None:
    """Read a gzip file to its end; return why it cannot be, or None."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(_CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _size_problem(path: Path, expected: int, deep: bool) -> str | None:
    """Compare a file's size (or gzip trailer) with the header; read through when asked."""
    size = path.stat().st_size
    if path.name.endswith(".gz"):
        with path.open("rb") as handle:
            handle.seek(max(size - 4, 0))
            trailer = int.from_bytes(handle.read(4), "little")
        if size < 18 or trailer != expected % (1 << 32) or deep:
            why = _read_through(path)
            if why is not None:
                return (
                    f"{path}: is truncated or corrupt ({why}); its header implies "
                    f"{expected} bytes of image. Copy or export it again"
                )
        return None
    if size < expected:
        return (
            f"{path}: is truncated: {size} bytes where its header implies {expected}. "
            "Copy or export it again"
        )
    return None


def read_image_header(path: Path, problems: list[str], deep: bool = False) -> ImageHeader | None:
    """Read and check a NIfTI image's header and size, reporting what is wrong.

    Parameters
    ----------
    path : Path
        A ``.nii`` or ``.nii.gz`` image.
    problems : list of str
        Problems found so far; this function's are appended, naming the file.
    deep : bool
        Also read every compressed file through (CRC-32 of the data).

    Returns
    -------
    ImageHeader or None
        None when the file cannot be read, its header is not sane, or it is
        truncated.

    Examples
    --------
    >>> problems = []
    >>> read_image_header(Path("missing.nii.gz"), problems) is None
    True
    >>> "cannot be read" in problems[0]
    True
    """
    import nibabel as nib

    try:
        image = nib.load(path)
    except Exception as exc:  # nibabel raises several types for corrupt files
        problems.append(f"{path}: cannot be read as a NIfTI image ({type(exc).__name__}: {exc})")
        return None
    if not isinstance(image, nib.spatialimages.SpatialImage):
        problems.append(f"{path}: is not a volume image")
        return None
    wrong = _sanity(path, image)
    if wrong is not None:
        problems.append(wrong)
        return None
    header = image.header
    dtype = header.get_data_dtype()
    # nibabel reads the data from its proxy's offset: vox_offset, or just past the
    # header where a single-file image says 0 (as nibabel itself writes some).
    offset = int(getattr(image.dataobj, "offset", 0))
    shape = tuple(int(s) for s in image.shape)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    wrong = _size_problem(path, expected, deep)
    if wrong is not None:
        problems.append(wrong)
        return None
    zooms = tuple(float(z) for z in header.get_zooms())
    return ImageHeader(shape, np.asarray(image.affine, dtype=float), zooms, expected)


@dataclass(frozen=True)
class CiftiHeader:
    """What a CIFTI-2 dense time series' header says, checked for sanity.

    Parameters
    ----------
    shape : tuple of int
        ``(volumes, grayordinates)``.
    step : float
        Time between volumes, in ``unit``.
    unit : str
        The series axis' unit as nibabel gives it (``"SECOND"`` for BOLD).
    expected_bytes : int
        File size the header implies (data offset + data).
    """

    shape: tuple[int, int]
    step: float
    unit: str
    expected_bytes: int

    @property
    def n_volumes(self) -> int:
        """Volumes (length of the series axis)."""
        return self.shape[0]

    @property
    def repetition_time(self) -> float | None:
        """The series step in seconds, or None when its unit is not seconds."""
        return self.step if self.unit.upper() == "SECOND" else None


def _cifti_axes(path: Path, image: nib.Cifti2Image) -> str | None:
    """Return what is wrong with a CIFTI image's axes (series x brain models), if anything."""
    from nibabel.cifti2.cifti2_axes import BrainModelAxis, SeriesAxis

    if len(image.shape) != 2:
        return f"{path}: has {len(image.shape)} CIFTI axes; a dense time series has 2"
    header: Any = image.header
    try:
        series, models = header.get_axis(0), header.get_axis(1)
    except Exception as exc:  # nibabel raises several types for malformed CIFTI XML
        return f"{path}: its CIFTI axes cannot be read ({type(exc).__name__}: {exc})"
    if not isinstance(series, SeriesAxis):
        return f"{path}: its first CIFTI axis is {type(series).__name__}, not a time series"
    if not isinstance(models, BrainModelAxis):
        return (
            f"{path}: its second CIFTI axis is {type(models).__name__}, not brain models "
            "(grayordinates); a dense time series (.dtseries.nii) is expected"
        )
    if not (np.isfinite(series.step) and series.step > 0) or not series.size:
        return (
            f"{path}: its CIFTI series has {series.size} volumes of step {series.step}; "
            "the step must be a positive time"
        )
    return None


def read_cifti_header(path: Path, problems: list[str]) -> CiftiHeader | None:
    """Read and check a CIFTI-2 dense time series' header and size, reporting what is wrong.

    The data are not read: nibabel reads the NIfTI-2 header and the CIFTI XML.

    Parameters
    ----------
    path : Path
        A ``.dtseries.nii`` file.
    problems : list of str
        Problems found so far; this function's are appended, naming the file.

    Returns
    -------
    CiftiHeader or None
        None when the file cannot be read, is not a CIFTI image with a time
        series and brain models, or is truncated.

    Examples
    --------
    >>> problems = []
    >>> read_cifti_header(Path("missing.dtseries.nii"), problems) is None
    True
    >>> "cannot be read" in problems[0]
    True
    """
    import nibabel as nib

    try:
        image = nib.load(path)
    except Exception as exc:  # nibabel raises several types for corrupt files
        problems.append(f"{path}: cannot be read as a CIFTI image ({type(exc).__name__}: {exc})")
        return None
    if not isinstance(image, nib.Cifti2Image):
        problems.append(f"{path}: is not a CIFTI-2 image ({type(image).__name__})")
        return None
    wrong = _cifti_axes(path, image)
    if wrong is not None:
        problems.append(wrong)
        return None
    loaded: Any = image
    series = loaded.header.get_axis(0)
    shape = (int(image.shape[0]), int(image.shape[1]))
    offset = int(getattr(image.dataobj, "offset", 0))
    expected = offset + shape[0] * shape[1] * np.dtype(loaded.get_data_dtype()).itemsize
    wrong = _size_problem(path, expected, deep=False)
    if wrong is not None:
        problems.append(wrong)
        return None
    return CiftiHeader(shape, float(series.step), str(series.unit), expected)


def sidecar_repetition_time(image: Path, problems: list[str]) -> float | None:
    """Return ``RepetitionTime`` from an image's JSON sidecar, reporting a bad one.

    Parameters
    ----------
    image : Path
        A ``.nii``, ``.nii.gz`` or ``.dtseries.nii`` image; its sidecar has the
        same name up to the first dot, then ``.json``.
    problems : list of str
        Problems found so far; this function's are appended, naming the file.

    Returns
    -------
    float or None
        Seconds; None when there is no sidecar, no ``RepetitionTime``, or a bad one.
    """
    side = image.with_name(image.name.split(".")[0] + ".json")
    if not side.is_file():
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{side}: is not valid JSON ({exc})")
        return None
    value = content.get("RepetitionTime") if isinstance(content, dict) else None
    if value is None:
        return None
    if not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
        problems.append(f"{side}: RepetitionTime {value!r} is not a positive number of seconds")
        return None
    return float(value)


def check_mask(
    image: Path, mask: Path, header: ImageHeader, problems: list[str], deep: bool = False
) -> None:
    """Report a brain mask that cannot be read or is not on its image's grid.

    Parameters
    ----------
    image : Path
        The BOLD image the mask belongs to.
    mask : Path
        The brain mask.
    header : ImageHeader
        The BOLD image's checked header.
    problems : list of str
        Problems found so far; this function's are appended, naming the file.
    deep : bool
        Also read the mask through (CRC-32 of its data).
    """
    mask_header = read_image_header(mask, problems, deep)
    if mask_header is not None and not mask_header.same_grid(header):
        problems.append(
            f"{mask}: is on another grid (shape {mask_header.shape[:3]}) than its BOLD image "
            f"{image.name} (shape {header.shape[:3]}); use the mask fMRIPrep wrote for that run"
        )


class CheckedRun(Protocol):
    """What the study-wide checks need of a run; :class:`dmnpharm.io.BoldRun` has it."""

    @property
    def bold(self) -> Path:
        """The image."""

    @property
    def repetition_time(self) -> float | None:
        """Seconds."""

    @property
    def header(self) -> ImageHeader | None:
        """The checked NIfTI header (None for CIFTI)."""


def _majority(values: Sequence[Any]) -> Any:
    """Return the most common value (the first one seen among equals)."""
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return max(counts, key=lambda v: counts[v])


def check_repetition_times(runs: Sequence[CheckedRun], problems: list[str]) -> None:
    """Report every run whose repetition time differs from most runs', naming each.

    Parameters
    ----------
    runs : sequence of CheckedRun
        The study's runs.
    problems : list of str
        Problems found so far; this function's are appended.
    """
    timed = [r for r in runs if r.repetition_time is not None]
    if len({r.repetition_time for r in timed}) < 2:
        return
    usual = _majority([r.repetition_time for r in timed])
    for run in timed:
        if run.repetition_time != usual:
            problems.append(
                f"{run.bold}: repetition time {run.repetition_time:g} s, while the other "
                f"runs have {usual:g} s; every run of a study must share one (exclude this run "
                "or resample it in time)"
            )


def _grid_key(header: ImageHeader) -> tuple[Any, ...]:
    return (header.shape[:3], tuple(np.round(header.affine, 2).ravel()))


def _describe_grid(header: ImageHeader) -> str:
    origin = ", ".join(f"{v:g}" for v in np.round(header.affine[:3, 3], 2))
    zooms = "x".join(f"{v:g}" for v in header.zooms[:3])
    return f"shape {header.shape[:3]}, {zooms} mm voxels, origin ({origin})"


def check_grids(runs: Sequence[CheckedRun], problems: list[str]) -> None:
    """Report every run not on the grid most runs share (shape and affine), naming each.

    Region signals are extracted on each run's own grid, so a run moved or
    resampled differently (a wrong header, another template) would give
    silently different regions; such a run is refused. Runs without a NIfTI
    header (CIFTI) are not compared.

    Parameters
    ----------
    runs : sequence of CheckedRun
        The study's runs.
    problems : list of str
        Problems found so far; this function's are appended.
    """
    headers = [(r.bold, r.header) for r in runs if r.header is not None]
    if not headers:
        return
    usual_key = _majority([_grid_key(h) for _, h in headers])
    usual = next(h for _, h in headers if _grid_key(h) == usual_key)
    for bold, header in headers:
        if _grid_key(header) != usual_key and not header.same_grid(usual):
            problems.append(
                f"{bold}: is on another grid ({_describe_grid(header)}) than the "
                f"study's other runs ({_describe_grid(usual)}); every run must be in the same "
                "space and resolution (check its header, or rerun fMRIPrep for it)"
            )


def check_confounds(confounds: Path, image: Path, n_volumes: int, problems: list[str]) -> None:
    """Report a confounds table that is unreadable, not one row per volume, or has empty columns.

    Parameters
    ----------
    confounds : Path
        The ``desc-confounds_timeseries.tsv``.
    image : Path
        The BOLD image it belongs to.
    n_volumes : int
        The image's volumes.
    problems : list of str
        Problems found so far; this function's are appended, naming the file.
    """
    try:
        table = pd.read_csv(confounds, sep="\t", na_values=["n/a"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{confounds}: cannot be read as a TSV table ({exc})")
        return
    if len(table) != n_volumes:
        problems.append(
            f"{confounds}: has {len(table)} rows but {image.name} has "
            f"{n_volumes} volumes; they must match one row per volume"
        )
    empty = [str(c) for c in table.columns if table[c].isna().all()]
    if empty:
        problems.append(f"{confounds}: columns with no values at all: {', '.join(empty)}")
