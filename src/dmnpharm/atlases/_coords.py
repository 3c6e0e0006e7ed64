"""A user's own coordinate atlas, read from a table of region centres."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._files import regions_atlas
from dmnpharm.atlases._tables import read_tsv, require_columns

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
    require_columns(read_tsv(path), _COLUMNS, f"'{path}'")
    return regions_atlas(
        path,
        name=name if name is not None else path.name.split(".")[0],
        network_map=network_map,
        reference=reference,
        space=space,
    )
