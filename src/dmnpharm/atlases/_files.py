"""A user's own atlas from files: what ``--atlas PATH`` reads.

Three forms, told apart by the file given and by the columns of its table:

- **a labels image** (``.nii``, ``.nii.gz``, or a CIFTI ``.dlabel.nii``) with a
  table beside it of the same stem (``atlas-X_dseg.nii.gz`` and
  ``atlas-X_dseg.tsv``, as BIDS writes a segmentation and its labels), with
  columns ``index``, ``name`` and ``network``. Giving the table instead of the
  image finds the image the same way;
- **a coordinates table**: ``label``, ``x``, ``y``, ``z`` and ``network``
  (regions are spheres of the analysis's radius);
- **a regions table** for ROI-level studies: ``label`` and ``network``, with
  ``x``, ``y``, ``z`` and ``subsystem`` optional. It names each time-series
  column's network; regions without coordinates cannot be extracted from
  images, and the report draws no brain for them.

Network cells may be codes of :data:`NETWORKS`, common names of the usual
parcellations (:func:`~dmnpharm.atlases._names.standard_network`), or names
of a mapping file: a TSV with columns ``name`` and ``network`` (a code).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._labels import labels_atlas
from dmnpharm.atlases._tables import (
    check_mapping,
    check_unique,
    file_locator,
    map_networks,
    parse_subsystems,
    read_tsv,
    require_columns,
)
from dmnpharm.exceptions import InputError

__all__ = ["ATLAS_FILE_SUFFIXES", "atlas_from_file", "read_network_map", "regions_atlas"]

#: File endings ``--atlas`` takes as a path rather than a registry name.
ATLAS_FILE_SUFFIXES = (".tsv", ".nii", ".nii.gz", ".dlabel.nii")

_IMAGE_SUFFIXES = (".dlabel.nii", ".nii.gz", ".nii")


def _stem(path: Path) -> str:
    """Return the file name without its atlas suffix (``atlas-X_dseg.tsv``: ``atlas-X_dseg``)."""
    for suffix in (*_IMAGE_SUFFIXES, ".tsv"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def _atlas_name(path: Path) -> str:
    """Return the ``atlas-`` entity of a BIDS-style name, else the stem."""
    stem = _stem(path)
    for part in stem.split("_"):
        if part.startswith("atlas-") and len(part) > len("atlas-"):
            return part.removeprefix("atlas-")
    return stem


def read_network_map(path: str | Path) -> dict[str, str]:
    r"""Read a network mapping file: the user's network names and their codes.

    Parameters
    ----------
    path : str or Path
        Tab-separated, one header line, columns ``name`` (a network name as
        the atlas table writes it) and ``network`` (a code of
        :data:`~dmnpharm.atlases.NETWORKS`).

    Returns
    -------
    dict of str to str
        Name to code.

    Raises
    ------
    InputError
        Unreadable file, missing column, a name given twice or a code outside
        the vocabulary; the message names the file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "map.tsv"
    >>> _ = f.write_text("name\\tnetwork\\nMedial wall\\tNONE\\nDefault-ish\\tDMN\\n")
    >>> read_network_map(f)
    {'Medial wall': 'NONE', 'Default-ish': 'DMN'}
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"network mapping file '{file}' does not exist")
    table = read_tsv(file)
    require_columns(table, ("name", "network"), f"'{file}'")
    locate = file_locator(file, len(table))
    names = [str(v).strip() for v in table["name"]]
    check_unique(names, "name", locate)
    mapping = dict(zip(names, (str(v).strip() for v in table["network"]), strict=True))
    check_mapping(mapping)
    return mapping


#: Other names of a regions table's columns, as other tools write them (XCP-D's
#: ``network_label``, BIDS dseg's ``name``, CONN's ``roi``); compared case-insensitively.
_ALIASES = {
    "label": ("label", "name", "region", "roi", "parcel"),
    "network": ("network", "network_label", "networks", "system"),
}


def _canonical_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename a table's label and network columns to ``label`` and ``network``."""
    lower = {str(c).lower(): str(c) for c in frame.columns}
    renames = {}
    for canonical, aliases in _ALIASES.items():
        if canonical in frame.columns:
            continue
        found = next((lower[a] for a in aliases if a in lower), None)
        if found is not None:
            renames[found] = canonical
    for column in ("x", "y", "z", "subsystem"):
        if column not in frame.columns and column in lower:
            renames[lower[column]] = column
    return frame.rename(columns=renames)


def regions_atlas(
    table: str | Path,
    *,
    name: str | None = None,
    network_map: Mapping[str, str] | None = None,
    reference: str = "",
    space: str = "",
) -> Atlas:
    """Build an atlas from a table of regions, for region time series already extracted.

    Parameters
    ----------
    table : str or Path
        Tab-separated, one row per region in time-series column order, with
        ``label`` (the column name; ``name``, ``region``, ``roi`` or ``parcel``
        are accepted instead) and ``network`` (or ``network_label``, as
        XCP-D's atlas tables write it, ``networks`` or ``system``), in any
        letter case; optionally ``x``, ``y``, ``z`` (centre in mm; all three,
        in every row, or none) and ``subsystem``.
    name : str, optional
        Atlas name; by default the ``atlas-`` entity of the file name, else
        its stem.
    network_map : dict of str to str, optional
        The table's network names mapped to codes.
    reference : str
        Citation.
    space : str
        Template space of the coordinates, if any.

    Returns
    -------
    Atlas
        Coordinates are NaN when the table gives none.

    Raises
    ------
    InputError
        Unreadable table, missing column, empty or repeated label, a
        coordinate that is not a number, unknown network or subsystem; the
        message names the file, line and value.
    """
    path = Path(table)
    frame = read_tsv(path)
    where = f"'{path}'"
    frame = _canonical_columns(frame)
    require_columns(frame, ("label", "network"), where)
    if frame.empty:
        raise InputError(f"{where} has a header but no region rows")
    locate = file_locator(path, len(frame))
    cells = {c: [str(v).strip() for v in frame[c]] for c in frame.columns}
    for i, label in enumerate(cells["label"]):
        if not label:
            raise InputError(f"{locate(i)}: the region has no label")
    check_unique(cells["label"], "label", locate)
    axes = [a for a in "xyz" if a in cells]
    if axes and len(axes) < 3:
        raise InputError(f"{where} has column(s) {', '.join(axes)} but not all of x, y, z")
    coords: list[tuple[float, float, float]] = []
    for i in range(len(frame)):
        if not axes:
            coords.append((math.nan, math.nan, math.nan))
            continue
        xyz = []
        for axis in "xyz":
            cell = cells[axis][i]
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise InputError(
                    f"{locate(i)}: {axis} {cell!r} is not a number; give the region centre "
                    "in mm, or leave out the x, y, z columns altogether"
                )
            xyz.append(value)
        coords.append((xyz[0], xyz[1], xyz[2]))
    networks = map_networks(cells["network"], network_map, locate)
    subsystems = (
        parse_subsystems(cells["subsystem"], networks, locate) if "subsystem" in cells else ()
    )
    return Atlas(
        name=name if name is not None else _atlas_name(path),
        labels=tuple(cells["label"]),
        networks=networks,
        source_networks=tuple(cells["network"]),
        coords=tuple(coords),
        space=space,
        reference=reference,
        subsystems=subsystems,
    )


def _sibling(path: Path, suffixes: tuple[str, ...]) -> Path | None:
    stem = _stem(path)
    for suffix in suffixes:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def _image_atlas(image: Path, table: Path, name: str, network_map: dict[str, str] | None) -> Atlas:
    if image.name.endswith(".dlabel.nii"):
        from dmnpharm.atlases._cifti import dlabel_atlas  # nibabel: only for CIFTI atlases

        return dlabel_atlas(name, image, table, network_map=network_map)
    return labels_atlas(name, image, table, network_map=network_map)


def atlas_from_file(path: str | Path, network_map: str | Path | None = None) -> Atlas:
    r"""Read a user's atlas from a file, in any of the forms ``--atlas PATH`` takes.

    Parameters
    ----------
    path : str or Path
        A labels image (``.nii``, ``.nii.gz``, ``.dlabel.nii``) with its
        table of the same stem (``.tsv``), or a table: with ``index`` (and an
        image of the same stem) a labels table; with ``x``, ``y``, ``z`` a
        coordinates table; with only ``label`` and ``network`` (and
        optionally ``subsystem``) a regions table for ROI-level studies.
    network_map : str or Path, optional
        A TSV of ``name`` and ``network`` for network names that are neither
        codes nor common names.

    Returns
    -------
    Atlas
        Named by the file's ``atlas-`` entity, else its stem.

    Raises
    ------
    InputError
        The file does not exist, has no companion, or its table is wrong (the
        message names the file, line and value, and what would be accepted).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "atlas-Mine_regions.tsv"
    >>> _ = f.write_text("label\\tnetwork\\nPCC\\tDefault\\nmPFC\\tDefault\\naI\\tSalience\\n")
    >>> a = atlas_from_file(f)
    >>> a.name, a.networks
    ('Mine', ('DMN', 'DMN', 'SN'))
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(
            f"atlas file '{file}' does not exist; --atlas takes a registered atlas name or a "
            "path to a labels image (with its .tsv), a coordinates table or a regions table "
            "(docs/atlases.md)"
        )
    mapping = read_network_map(network_map) if network_map is not None else None
    return replace(_read(file, mapping), source=str(file))


def _read(file: Path, mapping: dict[str, str] | None) -> Atlas:
    name = _atlas_name(file)
    if file.name.endswith(_IMAGE_SUFFIXES):
        table = _sibling(file, (".tsv",))
        if table is None and file.name.endswith(".dlabel.nii"):
            # Its reader names the table to write and lists the dlabel's own labels.
            return _image_atlas(file, file.with_name(_stem(file) + ".tsv"), name, mapping)
        if table is None:
            raise InputError(
                f"labels image '{file}' has no table beside it: write "
                f"'{file.with_name(_stem(file) + '.tsv')}' with columns index (the label "
                "value), name and network, one row per region"
            )
        return _image_atlas(file, table, name, mapping)
    if not file.name.endswith(".tsv"):
        raise InputError(
            f"atlas file '{file}' is neither a table (.tsv) nor a labels image "
            "(.nii, .nii.gz, .dlabel.nii)"
        )
    columns = set(_canonical_columns(read_tsv(file)).columns)
    if "index" in columns:
        image = _sibling(file, _IMAGE_SUFFIXES)
        if image is None and {"label", "network"} <= columns:
            # A labels table alone (XCP-D writes atlas-<A>_dseg.tsv without a same-stem
            # image): it names time-series columns, as a regions table does.
            return regions_atlas(file, name=name, network_map=mapping)
        if image is None:
            raise InputError(
                f"'{file}' is a labels table (it has an 'index' column) but no labels image "
                f"of the same stem lies beside it ({_stem(file)}.nii.gz, .nii or .dlabel.nii); "
                "put the image there, or give the table label and network columns only for "
                "an ROI-level study"
            )
        return _image_atlas(image, file, name, mapping)
    # With x, y, z it is a coordinate atlas (spheres at extraction); without, regions.
    space = "MNI152" if {"x", "y", "z"} <= columns else ""
    return regions_atlas(file, name=name, network_map=mapping, space=space)
