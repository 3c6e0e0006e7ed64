"""A user's own coordinate atlas, read from a table of region centres."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._tables import (
    check_unique,
    file_locator,
    map_networks,
    parse_subsystems,
    read_tsv,
    require_columns,
)
from dmnpharm.exceptions import InputError

__all__ = ["coords_atlas"]

_COLUMNS = ("label", "x", "y", "z", "network")


def coords_atlas(
    table: str | Path,
    *,
    name: str | None = None,
    network_map: Mapping[str, str] | None = None,
    reference: str = "",
    space: str = "MNI152",
) -> Atlas:
    """Build a coordinate atlas from a tab-separated table of region centres.

    Parameters
    ----------
    table : str or Path
        Tab-separated file with one header line and one row per region, in
        region order, with columns ``label`` (unique; becomes the time-series
        column name), ``x``, ``y``, ``z`` (centre in mm, in ``space``) and
        ``network`` (a code from :data:`NETWORKS`, or a name of
        ``network_map``), and optionally ``subsystem`` (a code from
        :data:`SUBSYSTEMS` for DMN regions, or empty). Other columns are ignored.
    name : str, optional
        Atlas name; by default the file name without its suffix.
    network_map : mapping of str to str, optional
        Network names used in the table mapped to codes of :data:`NETWORKS`,
        e.g. ``{"Default": "DMN"}``; a cell that is not a key must be a code.
    reference : str
        Citation of the coordinates.
    space : str
        Template space of the coordinates.

    Returns
    -------
    Atlas
        Regions are spheres around the centres (the radius is chosen at
        extraction); ``source_networks`` keeps the table's network cells.

    Raises
    ------
    InputError
        If the file cannot be read, a column is missing, a label repeats or is
        empty, a coordinate is not a finite number, or a network or subsystem
        is unknown; the message names the file, line and value.
    """
    path = Path(table)
    frame = read_tsv(path)
    where = f"'{path}'"
    require_columns(frame, _COLUMNS, where)
    if frame.empty:
        raise InputError(f"{where} has a header but no region rows")
    locate = file_locator(path, len(frame))
    cells = {c: [str(v).strip() for v in frame[c]] for c in frame.columns}
    for i, label in enumerate(cells["label"]):
        if not label:
            raise InputError(f"{locate(i)}: the region has no label")
    check_unique(cells["label"], "label", locate)
    coords = []
    for i, row in enumerate(zip(cells["x"], cells["y"], cells["z"], strict=True)):
        xyz = []
        for axis, cell in zip("xyz", row, strict=True):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise InputError(
                    f"{locate(i)}: {axis} {cell!r} is not a number; give the region centre "
                    f"in mm ({space} space)"
                )
            xyz.append(value)
        coords.append((xyz[0], xyz[1], xyz[2]))
    networks = map_networks(cells["network"], network_map, locate)
    subsystems = (
        parse_subsystems(cells["subsystem"], networks, locate) if "subsystem" in cells else ()
    )
    return Atlas(
        name=name if name is not None else path.name.split(".")[0],
        labels=tuple(cells["label"]),
        networks=networks,
        source_networks=tuple(cells["network"]),
        coords=tuple(coords),
        space=space,
        reference=reference,
        subsystems=subsystems,
    )
