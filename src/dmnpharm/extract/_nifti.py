"""Streaming reads of 4D NIfTI images, a chunk of whole volumes at a time.

NIfTI stores the voxels of a 4D image volume after volume (x fastest, then y,
z, then time), so a run can be read front to back in chunks of whole volumes
without ever holding the 4D array. ``.nii.gz`` files are inflated with
:mod:`isal.isal_zlib` (Intel ISA-L; 2.8x faster than :mod:`zlib` on our runs) as a
stream (gzip members, each checked against its CRC-32 and length); ``.nii`` files
are mapped with :class:`numpy.memmap` one chunk at a time, so the mapped pages are
released after each chunk.

Only the header is read through nibabel: the datatype and byte order, the data
offset (``vox_offset``), ``scl_slope``/``scl_inter``, the affine and the zooms.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import nibabel as nib
import numpy as np
import numpy.typing as npt
from isal import isal_zlib

from dmnpharm.exceptions import InputError

# ISA-L raises its own error type (not zlib.error) on corrupt streams.
_ISAL_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]

__all__: list[str] = []

#: Compressed bytes read from disk per call to the inflater.
_READ_BLOCK = 1 << 18
#: Raw (uncompressed) bytes per chunk when the caller does not choose.
_DEFAULT_CHUNK_BYTES = 16 << 20
#: Seconds per unit of NIfTI's time units.
_TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


@dataclass(frozen=True)
class BoldLayout:
    """Where and how the voxels of a 4D NIfTI image are stored (from its header)."""

    path: Path
    shape: tuple[int, int, int, int]
    affine: npt.NDArray[np.float64]
    dtype: np.dtype[Any]
    offset: int
    slope: float
    inter: float
    zooms: tuple[float, ...]
    time_unit: str
    compressed: bool

    @property
    def voxels_per_volume(self) -> int:
        """Voxels in one volume."""
        return self.shape[0] * self.shape[1] * self.shape[2]

    @property
    def volume_bytes(self) -> int:
        """Bytes of one stored volume."""
        return self.voxels_per_volume * self.dtype.itemsize

    @property
    def n_volumes(self) -> int:
        """Number of volumes."""
        return self.shape[3]

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready description of the stored data, for provenance."""
        return {
            "file": str(self.path),
            "shape": list(self.shape),
            "affine": [[float(v) for v in row] for row in self.affine],
            "voxel_size_mm": [float(z) for z in self.zooms[:3]],
            "dtype": self.dtype.str,
            "scl_slope": self.slope,
            "scl_inter": self.inter,
            "vox_offset": self.offset,
            "compressed": self.compressed,
        }


def nifti_kind(path: Path, what: str) -> bool:
    """Return True for ``.nii.gz`` and False for ``.nii``; raise for anything else."""
    if path.name.endswith(".nii.gz"):
        return True
    if path.name.endswith(".nii"):
        return False
    raise InputError(f"{what} '{path}' must be a .nii or .nii.gz file")


def load_image_header(path: Path, what: str) -> nib.Nifti1Image:
    """Open a single-file NIfTI image (header only; the data stay on disk)."""
    nifti_kind(path, what)
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist")
    try:
        img = nib.load(path)
    except (OSError, EOFError, zlib.error, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise InputError(
            f"cannot read {what} '{path}' (corrupt or truncated file?): {exc}"
        ) from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"{what} '{path}' is not a NIfTI-1 or NIfTI-2 image")
    return img


def _data_offset(img: nib.Nifti1Image, path: Path, what: str) -> int:
    """Byte offset of the voxel data, by nibabel's rule (``vox_offset``, or past the header).

    nibabel accepts ``vox_offset = 0`` in single-file images (which it writes
    itself) and then reads the data just after the header and its extensions.
    """
    offset = getattr(img.dataobj, "offset", None)
    if not isinstance(offset, int | np.integer) or offset < 0:
        raise InputError(f"{what} '{path}': cannot find where its voxel data start")
    return int(offset)


def read_layout(path: Path, what: str = "BOLD image") -> BoldLayout:
    """Read the header of a 4D NIfTI image and check that its data can be streamed.

    Raises
    ------
    InputError
        The file is missing, not NIfTI, not 4D, of an unsupported datatype, or
        (``.nii``) shorter than its header says.
    """
    img = load_image_header(path, what)
    header: Any = img.header  # nibabel's header methods carry no type annotations
    shape = tuple(int(n) for n in header.get_data_shape())
    if len(shape) != 4:
        raise InputError(
            f"{what} '{path}' is {len(shape)}D with shape {shape}; a 4D image "
            "(x, y, z, volumes) is expected"
        )
    dtype = np.dtype(header.get_data_dtype())
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise InputError(
            f"{what} '{path}' stores {dtype} voxels; only integer and real float "
            "datatypes are supported"
        )
    # nibabel moves scl_slope/scl_inter from a loaded image's header into its data
    # proxy (the header then reads NaN), with 0/NaN slopes already made (1, 0).
    slope = getattr(img.dataobj, "slope", 1.0)
    inter = getattr(img.dataobj, "inter", 0.0)
    zooms = tuple(float(z) for z in header.get_zooms())
    _, time_unit = header.get_xyzt_units()
    layout = BoldLayout(
        path=path,
        shape=(shape[0], shape[1], shape[2], shape[3]),
        affine=np.array(img.affine, dtype=np.float64),
        dtype=dtype,
        offset=_data_offset(img, path, what),
        slope=float(slope),
        inter=float(inter),
        zooms=zooms,
        time_unit=str(time_unit),
        compressed=nifti_kind(path, what),
    )
    if not np.isfinite(layout.affine).all() or abs(np.linalg.det(layout.affine[:3, :3])) < 1e-12:
        raise InputError(f"{what} '{path}' has a singular or non-finite affine")
    if not layout.compressed:
        needed = layout.offset + layout.n_volumes * layout.volume_bytes
        size = path.stat().st_size
        if size < needed:
            raise InputError(
                f"{what} '{path}' is truncated: it has {size} bytes, its header needs "
                f"{needed} ({layout.n_volumes} volumes of {layout.volume_bytes} bytes "
                f"after {layout.offset} header bytes)"
            )
    return layout


def header_repetition_time(layout: BoldLayout) -> float | None:
    """Return the repetition time in seconds from ``pixdim[4]``, or None if it has none."""
    if len(layout.zooms) < 4:
        return None
    scale = _TIME_UNITS.get(layout.time_unit, 1.0)
    repetition_time = layout.zooms[3] * scale
    return repetition_time if np.isfinite(repetition_time) and repetition_time > 0 else None


def default_chunk_volumes(layout: BoldLayout) -> int:
    """Volumes per chunk so that a chunk holds about 16 MiB of stored data."""
    return max(1, min(layout.n_volumes, _DEFAULT_CHUNK_BYTES // max(layout.volume_bytes, 1)))


class _GzipStream:
    """Inflate a (possibly multi-member) gzip file into caller-given buffers."""

    def __init__(self, raw: BinaryIO, path: Path, what: str) -> None:
        self._raw = raw
        self._path = path
        self._what = what
        self._inflater = isal_zlib.decompressobj(31)
        self._pending = b""
        self._at_end = False

    def corrupt(self, detail: str) -> InputError:
        """Return the error for a damaged stream, naming the file."""
        return InputError(f"{self._what} '{self._path}' is corrupt or truncated: {detail}")

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` with the next inflated bytes; return how many (short only at EOF)."""
        filled = 0
        size = len(view)
        while filled < size and not self._at_end:
            data = self._pending or self._raw.read(_READ_BLOCK)
            try:
                out = self._inflater.decompress(data, size - filled)
            except (zlib.error, _ISAL_ERROR) as exc:
                raise self.corrupt(str(exc)) from None
            view[filled : filled + len(out)] = out
            filled += len(out)
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                rest = self._next_member(self._inflater.unused_data)
                if not rest:
                    self._at_end = True
                    break
                # Another gzip member follows (e.g. written by bgzip or pigz -i).
                self._inflater = isal_zlib.decompressobj(31)
                self._pending = rest
            elif not data and not out:
                break
        return filled

    def _next_member(self, rest: bytes) -> bytes:
        """Return the start of the next gzip member, skipping zero padding (b"" at EOF)."""
        while True:
            rest = rest.lstrip(b"\x00")
            if rest:
                return rest
            rest = self._raw.read(_READ_BLOCK)
            if not rest:
                return b""

    def finish(self) -> None:
        """Inflate what is left, so the CRC-32 and length of every member are checked."""
        scratch = memoryview(bytearray(_READ_BLOCK))
        while self.readinto(scratch) == len(scratch):
            pass
        if not self._inflater.eof:
            raise self.corrupt("the gzip stream ends early (no end-of-stream marker)")


def iter_columns(
    layout: BoldLayout, columns: npt.NDArray[np.intp], chunk_volumes: int, what: str
) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """Yield ``(first_volume, values)`` for consecutive chunks of whole volumes.

    ``values`` has shape ``(volumes in chunk, len(columns))`` and the stored
    dtype (not scaled); ``columns`` are voxel indices within a volume in file
    (Fortran) order. The whole stream is read, each byte once.
    """
    nvox = layout.voxels_per_volume
    if layout.compressed:
        with layout.path.open("rb") as raw:
            stream = _GzipStream(raw, layout.path, what)
            skip = memoryview(bytearray(layout.offset))
            if stream.readinto(skip) != layout.offset:
                raise stream.corrupt("the stream ends inside the header")
            buffer = bytearray(chunk_volumes * layout.volume_bytes)
            for start in range(0, layout.n_volumes, chunk_volumes):
                count = min(chunk_volumes, layout.n_volumes - start)
                nbytes = count * layout.volume_bytes
                got = stream.readinto(memoryview(buffer)[:nbytes])
                if got != nbytes:
                    done = start + got // layout.volume_bytes
                    raise stream.corrupt(
                        f"the data end after {done} of {layout.n_volumes} volumes"
                    )
                block = np.frombuffer(buffer, dtype=layout.dtype, count=count * nvox)
                yield start, np.take(block.reshape(count, nvox), columns, axis=1)
                del block
            stream.finish()
        return
    with layout.path.open("rb") as raw:
        for start in range(0, layout.n_volumes, chunk_volumes):
            count = min(chunk_volumes, layout.n_volumes - start)
            mapped = np.memmap(
                raw,
                dtype=layout.dtype,
                mode="r",
                offset=layout.offset + start * layout.volume_bytes,
                shape=(count, nvox),
            )
            values = np.take(mapped, columns, axis=1)
            del mapped  # unmaps the chunk's pages
            yield start, values
