"""Image integrity without reading the data: header sanity and the gzip trailer.

A gzip file ends with ISIZE, the uncompressed size modulo 2**32 (RFC 1952,
section 2.3.1). A NIfTI image's uncompressed size is known from its header
(the data offset plus the voxels times their bytes), so comparing the two finds
a truncated ``.nii.gz`` by reading its first few hundred bytes and its last
four: milliseconds, whatever the image's size. A file whose trailer disagrees
is read through once before it is reported, so a valid multi-member gzip file
is never refused. ``deep=True`` reads every file through, which also checks
the CRC-32 of the data (corruption inside the stream).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt

__all__ = ["ImageHeader", "read_image_header"]

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
