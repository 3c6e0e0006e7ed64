"""Atlases defined by a CIFTI-2 dense label file (``.dlabel.nii``) and a table of its labels.

A dlabel assigns every grayordinate (a surface vertex or a subcortical voxel of
its brain-model axis) an integer key of its label table; key 0 is unassigned.
Only the first map of the file is used. A table names each key and gives it a
network, as for :func:`dmnpharm.atlases.labels_atlas`.

Surfaces carry no coordinates in the file (vertex positions live in separate
``.surf.gii`` files), so a region's ``coords`` are the centroid in mm of its
volume voxels (through the brain-model axis affine) when it has any, and
``(nan, nan, nan)`` for a surface-only region.
"""

from __future__ import annotations

import functools
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd
from nibabel.arrayproxy import ArrayProxy
from nibabel.cifti2.cifti2 import Cifti2Header, Cifti2HeaderError
from nibabel.cifti2.cifti2_axes import BrainModelAxis, LabelAxis, ParcelsAxis

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._labels import parse_label_table
from dmnpharm.atlases._tables import (
    Locator,
    file_locator,
    frame_locator,
    read_tsv,
)
from dmnpharm.exceptions import InputError

__all__ = ["dlabel_atlas", "dlabel_parcels"]

#: What a reader of CIFTI-2 files may raise on a damaged or foreign file.
LOAD_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    ValueError,
    xml.parsers.expat.ExpatError,
    nib.filebasedimages.ImageFileError,
    nib.spatialimages.HeaderDataError,
    nib.wrapstruct.WrapStructError,
    Cifti2HeaderError,
)
# nibabel leaves these unannotated; strict mypy refuses untyped calls.
_NIFTI2_HEADER: Any = nib.Nifti2Header
_ARRAY_PROXY: Any = ArrayProxy
#: NIfTI extension code of the CIFTI-2 XML header.
_CIFTI_EXTENSION = 32

_TABLE_HOWTO = (
    "a tab-separated file with one header line and the columns index (a label key of "
    "the dlabel), name (the region label), network (a code of NETWORKS or a common "
    "network name), and optionally subsystem and source_network, one row per label"
)


@dataclass(frozen=True, eq=False)
class CiftiFile:
    """A CIFTI-2 file opened by its headers; the data stay on disk.

    ``header`` is the parsed CIFTI-2 XML (:class:`nibabel.cifti2.Cifti2Header`)
    and ``data`` a :class:`nibabel.arrayproxy.ArrayProxy` with the shape of the
    CIFTI matrix: slicing it reads only the bytes asked for.
    """

    path: Path
    header: Any
    data: Any

    def axis(self, index: int, what: str) -> Any:
        """Return CIFTI axis ``index`` (0: rows, 1: columns), as an InputError when unreadable."""
        try:
            return self.header.get_axis(index)
        except LOAD_ERRORS as exc:
            raise InputError(
                f"{what} '{self.path}': cannot read CIFTI axis {index}: {exc}"
            ) from None


def _not_cifti(path: Path, what: str, detail: str) -> InputError:
    return InputError(
        f"{what} '{path}' is not a readable CIFTI-2 file ({detail}); give the grayordinate "
        "file, e.g. fMRIPrep's *_space-fsLR_den-91k_bold.dtseries.nii or an atlas *.dlabel.nii"
    )


def load_cifti(path: Path, what: str) -> CiftiFile:
    """Open a CIFTI-2 file: its NIfTI-2 header and CIFTI XML, not its data.

    Reads the headers with nibabel's public pieces (``Nifti2Header``, the
    CIFTI-2 extension, ``ArrayProxy``) rather than ``nibabel.load``, which also
    deep-copies the XML header: 0.4 s more per fsLR 91k file.

    Raises
    ------
    InputError
        The file is missing, unreadable, NIfTI-1, or a NIfTI-2 file without a
        CIFTI-2 extension; the message names it.
    """
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist")
    cifti: Any = None
    shape: tuple[int, ...] = ()
    try:
        with path.open("rb") as stream:
            nifti1 = stream.read(4) in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c")  # 348
            stream.seek(0)
            nifti = None if nifti1 else _NIFTI2_HEADER.from_fileobj(stream)
        if nifti is not None:
            found = [e for e in nifti.extensions if e.get_code() == _CIFTI_EXTENSION]
            cifti = found[0].get_content() if found else None
            shape = tuple(int(n) for n in nifti.get_data_shape())
    except LOAD_ERRORS as exc:
        raise _not_cifti(path, what, f"corrupt or truncated, or another format: {exc}") from None
    if nifti is None:
        raise _not_cifti(path, what, "it is a NIfTI-1 image")
    if not isinstance(cifti, Cifti2Header):
        raise _not_cifti(path, what, "a NIfTI-2 image without a CIFTI-2 extension")
    if len(shape) < 6 or any(n != 1 for n in shape[:4]):
        raise _not_cifti(path, what, f"its NIfTI-2 data shape {shape} is not a CIFTI matrix")
    data = _ARRAY_PROXY(path, nifti).reshape(shape[4:])
    return CiftiFile(path, cifti, data)


@dataclass(frozen=True, eq=False)
class DenseLabels:
    """The first map of a dlabel: its brain models, a key per grayordinate, names per key."""

    path: Path
    brain_models: BrainModelAxis
    keys: npt.NDArray[np.int64]
    names: dict[int, str]

    def present(self) -> npt.NDArray[np.int64]:
        """Sorted keys (other than 0) that have at least one grayordinate."""
        found: npt.NDArray[np.int64] = np.unique(self.keys[self.keys != 0])
        return found


def read_dlabel(path: str | Path) -> DenseLabels:
    """Read the first map of a CIFTI-2 dense label file (cached while the file is unchanged).

    Raises
    ------
    InputError
        The file is not a readable dlabel (label axis first, brain models second).
    """
    where = Path(path)
    try:
        stat = where.stat()
    except OSError:
        raise InputError(f"dlabel '{where}' does not exist") from None
    return _read_dlabel(where.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_dlabel(where: Path, size: int, mtime_ns: int) -> DenseLabels:
    """Read a dlabel; ``size`` and ``mtime_ns`` only key the cache."""
    del size, mtime_ns
    cifti = load_cifti(where, "dlabel")
    labels = cifti.axis(0, "dlabel")
    brain_models = cifti.axis(1, "dlabel")
    if not isinstance(labels, LabelAxis) or not isinstance(brain_models, BrainModelAxis):
        raise InputError(
            f"dlabel '{where}' has axes ({type(labels).__name__}, "
            f"{type(brain_models).__name__}); a dense label file has (LabelAxis, "
            "BrainModelAxis), as wb_command -cifti-label-import writes"
        )
    try:
        first = np.asarray(cifti.data[0], dtype=np.float64)
    except LOAD_ERRORS as exc:
        raise InputError(f"cannot read the labels of dlabel '{where}': {exc}") from None
    if not (np.isfinite(first).all() and np.array_equal(first, np.round(first))):
        raise InputError(f"dlabel '{where}' holds non-integer label keys in its first map")
    keys = first.astype(np.int64)
    keys.flags.writeable = False
    names = {int(key): str(entry[0]) for key, entry in labels.label[0].items()}
    return DenseLabels(where, brain_models, keys, names)


def _missing_table(table: Path, dense: DenseLabels) -> InputError:
    keys = dense.present()
    listed = ", ".join(f"{k} {dense.names.get(int(k), '')!r}" for k in keys[:10])
    more = f", ... ({keys.size} in all)" if keys.size > 10 else ""
    return InputError(
        f"the labels table '{table}' of dlabel '{dense.path}' does not exist; write "
        f"{_TABLE_HOWTO}. The dlabel's labels with grayordinates are: {listed}{more}"
    )


def _table(table: pd.DataFrame | str | Path, dense: DenseLabels) -> tuple[pd.DataFrame, Locator]:
    if isinstance(table, pd.DataFrame):
        where = f"the labels table of '{dense.path}'"
        return table, frame_locator(where, table)
    path = Path(table)
    if not path.is_file():
        raise _missing_table(path, dense)
    frame = read_tsv(path)
    return frame, file_locator(path, len(frame))


def _check_keys(dense: DenseLabels, keys: list[int], where: str, locate: Locator) -> None:
    """Raise if a key with grayordinates has no row, or a row names a key with none."""
    present = dense.present()
    unnamed = np.setdiff1d(present, keys)
    if unnamed.size:
        listed = ", ".join(f"{k} {dense.names.get(int(k), '')!r}" for k in unnamed[:10])
        raise InputError(
            f"dlabel '{dense.path}' has {unnamed.size} label key(s) with grayordinates "
            f"without a row in {where}: {listed}; add a row for each"
        )
    with_grayordinates = set(present.tolist())
    empty = [i for i, v in enumerate(keys) if v not in with_grayordinates]
    if empty:
        rows = "; ".join(f"{locate(i)} (index {keys[i]})" for i in empty[:5])
        raise InputError(
            f"{len(empty)} row(s) name labels with no grayordinate in the dlabel "
            f"'{dense.path}': {rows}; remove those rows or use the dlabel the table was made for"
        )


def _centroids_mm(dense: DenseLabels, keys: list[int]) -> tuple[tuple[float, float, float], ...]:
    """Centroid in mm of each key's volume voxels; NaN for keys on surfaces only."""
    models = dense.brain_models
    nan = float("nan")
    coords: list[tuple[float, float, float]] = []
    in_volume = np.asarray(models.vertex) < 0  # nibabel's volume_mask, without its Python loop
    voxel = np.asarray(models.voxel, dtype=np.float64)
    affine = np.asarray(models.affine if models.affine is not None else np.eye(4), np.float64)
    for key in keys:
        voxels = in_volume & (dense.keys == key)
        if not voxels.any():
            coords.append((nan, nan, nan))
            continue
        x, y, z = affine[:3, :3] @ voxel[voxels].mean(axis=0) + affine[:3, 3]
        coords.append((float(x), float(y), float(z)))
    return tuple(coords)


def dlabel_atlas(
    name: str,
    dlabel: str | Path,
    table: pd.DataFrame | str | Path,
    *,
    network_map: Mapping[str, str] | None = None,
    reference: str = "",
    space: str = "fsLR",
) -> Atlas:
    """Build an atlas from a CIFTI-2 dense label file and a table of its labels.

    Parameters
    ----------
    name : str
        Atlas name.
    dlabel : str or Path
        ``.dlabel.nii`` file; its first map is used, key 0 is unassigned.
    table : pandas.DataFrame or str or Path
        One row per region, in region order, as a DataFrame or a tab-separated
        file, with columns ``index`` (the label key in the dlabel), ``name``
        and ``network`` (a code from :data:`NETWORKS`, or a name of
        ``network_map``), and optionally ``source_network`` (the authors'
        network name; by default the ``network`` cell) and ``subsystem`` (a
        code from :data:`SUBSYSTEMS`, or empty). When the file does not exist
        the error says how to write it and lists the dlabel's labels.
    network_map : mapping of str to str, optional
        Network names used in the table mapped to codes of :data:`NETWORKS`;
        a cell that is not a key must be a code itself.
    reference : str
        Citation.
    space : str
        Template space of the grayordinates (fMRIPrep's ``fsLR``, 91k).

    Returns
    -------
    Atlas
        Regions in table order; ``image`` is the dlabel path and
        ``label_values`` its keys. ``coords`` are the centroid in mm of each
        region's volume voxels, or ``(nan, nan, nan)`` for a region with
        surface vertices only (the file holds no vertex positions), so a
        CIFTI atlas cannot be used where regions are spheres around
        coordinates.

    Raises
    ------
    InputError
        If the dlabel or the table cannot be read, a key with grayordinates
        has no row or a row no grayordinate, a key or name repeats, or a
        network or subsystem is not in the vocabulary; the message names the
        file and row.
    """
    dense = read_dlabel(dlabel)
    frame, locate = _table(table, dense)
    where = locate.where
    rows = parse_label_table(frame, where, locate, network_map)
    keys, names, networks, subsystems = rows.keys, rows.names, rows.networks, rows.subsystems
    _check_keys(dense, keys, where, locate)
    try:
        return Atlas(
            name=name,
            labels=tuple(names),
            networks=networks,
            source_networks=rows.source_networks,
            coords=_centroids_mm(dense, keys),
            space=space,
            reference=reference,
            image=str(dense.path),
            label_values=tuple(keys),
            subsystems=subsystems,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def dlabel_parcels(atlas: Atlas) -> ParcelsAxis:
    """Return the CIFTI-2 parcels axis of an atlas built from a dlabel.

    Parameters
    ----------
    atlas : Atlas
        From :func:`dlabel_atlas`: ``image`` is a ``.dlabel.nii``.

    Returns
    -------
    nibabel.cifti2.ParcelsAxis
        One parcel per region, in atlas order, named by its label and holding
        the region's vertices and voxels from the dlabel; the axis of the
        parcellated files (``.ptseries.nii``, ``.pconn.nii``) that
        :func:`dmnpharm.io.write_ptseries` and :func:`dmnpharm.io.write_pconn`
        write.

    Raises
    ------
    InputError
        If the atlas has no dlabel image, or a region has no grayordinate in it.
    """
    if not atlas.image:
        raise InputError(
            f"atlas {atlas.name!r} has no dlabel image; parcellated CIFTI outputs need an "
            "atlas from dlabel_atlas"
        )
    dense = read_dlabel(atlas.image)
    models = dense.brain_models
    named = []
    for label, key in zip(atlas.labels, atlas.label_values, strict=True):
        members = dense.keys == key
        if not members.any():
            raise InputError(
                f"region {label!r} (key {key}) has no grayordinate in dlabel '{dense.path}'; "
                "rebuild the atlas from this dlabel with dlabel_atlas"
            )
        named.append((label, models[members]))
    build: Any = ParcelsAxis.from_brain_models  # nibabel leaves it unannotated
    parcels: ParcelsAxis = build(named)
    return parcels
