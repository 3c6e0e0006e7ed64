"""Atlases defined by a labels image and a table of its labels; the atlas folder.

A labels image holds one integer per voxel (0: background); a table gives each
label value a name and a network. Region order is the table's order; the region
coordinates are the labels' centroids in mm. The Schaefer, Tian and Yeo atlases
are built this way from the folder named by ``DMNPHARM_ATLAS_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._tables import (
    Locator,
    check_unique,
    file_locator,
    frame_locator,
    map_networks,
    parse_subsystems,
    read_tsv,
    require_columns,
)
from dmnpharm.exceptions import InputError

__all__ = ["ATLAS_DIR_ENV", "atlas_dir", "labels_atlas"]

#: Environment variable naming the folder that holds atlas files.
ATLAS_DIR_ENV = "DMNPHARM_ATLAS_DIR"


def atlas_dir() -> Path:
    """Return the atlas folder named by ``DMNPHARM_ATLAS_DIR``.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InputError
        If the variable is unset or names no folder.
    """
    value = os.environ.get(ATLAS_DIR_ENV, "")
    if not value:
        raise InputError(
            f"this atlas is read from files: set {ATLAS_DIR_ENV} to the folder holding them "
            "(laid out as ../shared/data/atlases, see docs/atlases.md) or use one of the "
            "embedded atlases seitzman300, dosenbach160, andrews_hanna"
        )
    path = Path(value)
    if not path.is_dir():
        raise InputError(f"{ATLAS_DIR_ENV}={value!r} is not a folder")
    return path


def atlas_files(*relative: str) -> tuple[Path, ...]:
    """Return files of the atlas folder, raising if one is missing."""
    root = atlas_dir()
    paths = tuple(root / part for part in relative)
    for path in paths:
        if not path.is_file():
            raise InputError(
                f"atlas file '{path}' is missing: {ATLAS_DIR_ENV} must hold the layout of "
                "../shared/data/atlases (see docs/atlases.md)"
            )
    return paths


def _cells(table: pd.DataFrame, column: str) -> list[str]:
    return ["" if pd.isna(v) else str(v).strip() for v in table[column]]


def _label_values(cells: list[str], locate: Locator) -> list[int]:
    values = []
    for i, cell in enumerate(cells):
        try:
            number = float(cell)
        except ValueError:
            number = float("nan")
        if not (number.is_integer() and number > 0):
            raise InputError(
                f"{locate(i)}: index {cell!r} is not a positive integer; give the label "
                "value of the region in the image (0 is background)"
            )
        values.append(int(number))
    return values


@dataclass(frozen=True)
class LabelRows:
    """A labels table's rows, checked: label values, names, networks, subsystems."""

    keys: list[int]
    names: list[str]
    networks: tuple[str, ...]
    subsystems: tuple[str, ...]
    source_networks: tuple[str, ...]


def parse_label_table(
    frame: pd.DataFrame,
    where: str,
    locate: Locator,
    network_map: Mapping[str, str] | None,
) -> LabelRows:
    """Check a table of ``index``, ``name``, ``network`` [, ``subsystem``, ``source_network``].

    Shared by the NIfTI and CIFTI labels atlases; every message names the row.
    """
    require_columns(frame, ("index", "name", "network"), where)
    values = _label_values(_cells(frame, "index"), locate)
    names = _cells(frame, "name")
    for i, label in enumerate(names):
        if not label:
            raise InputError(f"{locate(i)}: the region has no name")
    check_unique([str(v) for v in values], "index", locate)
    check_unique(names, "name", locate)
    raw_networks = _cells(frame, "network")
    networks = map_networks(raw_networks, network_map, locate)
    subsystems = (
        parse_subsystems(_cells(frame, "subsystem"), networks, locate)
        if "subsystem" in frame.columns
        else ()
    )
    source = _cells(frame, "source_network") if "source_network" in frame.columns else None
    return LabelRows(
        values, names, networks, subsystems, tuple(source if source is not None else raw_networks)
    )


def _read_labels(path: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return the label values (rounded to integers) and the affine of a labels image."""
    import nibabel as nib  # here: only a labels image needs it (every command loads this module)

    try:
        img = nib.load(path)
    except (OSError, nib.filebasedimages.ImageFileError) as exc:
        raise InputError(f"cannot read labels image '{path}': {exc}") from None
    if not isinstance(img, nib.spatialimages.SpatialImage):
        raise InputError(f"'{path}' is not a volume image")
    data = np.asarray(img.dataobj)
    if data.ndim != 3:
        raise InputError(f"labels image '{path}' must be 3D; it has shape {data.shape}")
    if not np.allclose(data, np.round(data)):
        raise InputError(f"labels image '{path}' holds non-integer values")
    return np.round(data).astype(np.int64), np.asarray(img.affine, dtype=np.float64)


def _centroids_mm(
    values: npt.NDArray[np.int64], affine: npt.NDArray[np.float64], labels: list[int]
) -> tuple[tuple[float, float, float], ...]:
    """Centroid in mm of each label, in the order of ``labels`` (all present)."""
    inside = values != 0
    which = values[inside]
    present = np.unique(which)
    sums = np.zeros((present.size, 3))
    np.add.at(sums, np.searchsorted(present, which), np.argwhere(inside))
    centroid_ijk = sums / np.bincount(np.searchsorted(present, which))[:, None]
    mm = centroid_ijk @ affine[:3, :3].T + affine[:3, 3]
    row = np.searchsorted(present, np.asarray(labels))
    return tuple((float(x), float(y), float(z)) for x, y, z in mm[row])


def labels_atlas(
    name: str,
    image: str | Path,
    table: pd.DataFrame | str | Path,
    reference: str = "",
    space: str = "MNI152NLin6Asym",
    network_map: Mapping[str, str] | None = None,
) -> Atlas:
    """Build an atlas from a labels image and a table of its labels.

    Parameters
    ----------
    name : str
        Atlas name.
    image : str or Path
        3D integer labels image (0 is background).
    table : pandas.DataFrame or str or Path
        One row per region, in region order, as a DataFrame or a tab-separated
        file, with columns ``index`` (the label value), ``name`` and
        ``network`` (a code from :data:`NETWORKS`, or a name of
        ``network_map``), and optionally ``source_network`` (the authors'
        network name; by default the ``network`` cell) and ``subsystem`` (a
        code from :data:`SUBSYSTEMS`, or empty).
    reference : str
        Citation.
    space : str
        Template space of the image.
    network_map : mapping of str to str, optional
        Network names used in the table mapped to codes of :data:`NETWORKS`;
        a cell that is not a key must be a code itself.

    Returns
    -------
    Atlas
        Regions in table order; ``coords`` are label centroids in mm, and
        ``image``/``label_values`` point back to the image.

    Raises
    ------
    InputError
        If the image or table cannot be read, a label value of the image has
        no row or a row no voxel, a label value or name repeats, or a network
        or subsystem is not in the vocabulary; the message names the file and
        row.
    """
    path = Path(image)
    values, affine = _read_labels(path)
    if isinstance(table, pd.DataFrame):
        frame = table
        where = f"the labels table of '{path}'"
        locate = frame_locator(where, frame)
    else:
        frame = read_tsv(Path(table))
        where = f"'{table}'"
        locate = file_locator(Path(table), len(frame))
    table_rows = parse_label_table(frame, where, locate, network_map)
    label_values, names, networks = table_rows.keys, table_rows.names, table_rows.networks
    subsystems, raw_networks = table_rows.subsystems, table_rows.source_networks
    present = np.unique(values[values != 0])
    unnamed = np.setdiff1d(present, label_values)
    if unnamed.size:
        raise InputError(
            f"labels image '{path}' has {unnamed.size} label value(s) without a row in "
            f"{where}: {', '.join(map(str, unnamed[:10]))}; add a row for each, or set them "
            "to 0 in the image"
        )
    with_voxels = set(present.tolist())
    empty = [i for i, v in enumerate(label_values) if v not in with_voxels]
    if empty:
        rows = "; ".join(f"{locate(i)} (index {label_values[i]})" for i in empty[:5])
        raise InputError(
            f"{len(empty)} row(s) name labels with no voxel in the image '{path}': {rows}; "
            "remove those rows or use the image the table was made for"
        )
    try:
        return Atlas(
            name=name,
            labels=tuple(names),
            networks=networks,
            source_networks=raw_networks,
            coords=_centroids_mm(values, affine, label_values),
            space=space,
            reference=reference,
            image=str(path),
            label_values=tuple(label_values),
            subsystems=subsystems,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
