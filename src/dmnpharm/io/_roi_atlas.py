"""Which atlas an ROI-level folder's time series are in: named by their sidecars and files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dmnpharm.exceptions import InputError
from dmnpharm.io._derivatives import bids_label

__all__ = ["read_study_atlas_name", "roi_atlas_name"]

_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")


def _atlas_entity(path: Path) -> str:
    found: dict[str, str] = dict(_ENTITY.findall(path.name.removesuffix("_timeseries.tsv")))
    return found.get("atlas", "")


def _folder_atlas_names(folder: Path) -> set[str]:
    """Return the atlas names the time-series files give (sidecar ``Atlas``, else entity)."""
    names: set[str] = set()
    for path in sorted(folder.glob("sub-*/ses-*/func/*_atlas-*_timeseries.tsv")):
        side = path.with_suffix(".json")
        atlas = None
        if side.is_file():
            try:
                content = json.loads(side.read_text(encoding="utf-8"))
                atlas = content.get("Atlas") if isinstance(content, dict) else None
            except json.JSONDecodeError:
                atlas = None
        names.add(str(atlas or _atlas_entity(path)))
    names.discard("")
    return names


def read_study_atlas_name(root: str | Path) -> str:
    """Return the atlas named by the study's time-series sidecars.

    Parameters
    ----------
    root : str or Path
        Study folder.

    Returns
    -------
    str
        The one ``Atlas`` value (or ``atlas-`` entity) all runs share.

    Raises
    ------
    InputError
        No time-series files, or runs that name different atlases.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError(f"study folder '{root}' does not exist; check the path")
    names = _folder_atlas_names(folder)
    if not names:
        raise InputError(
            f"study '{root}' has no sub-*/ses-*/func/*_atlas-*_timeseries.tsv file; "
            "give the atlas with --atlas"
        )
    if len(names) > 1:
        raise InputError(
            f"runs in '{root}' name different atlases ({', '.join(sorted(names))}); "
            "choose one with --atlas"
        )
    return names.pop()


def roi_atlas_name(root: str | Path, name: str) -> str:
    """Return which of an ROI-level folder's atlases a user's atlas table describes.

    A user's table may be called anything; the folder's files carry an
    ``atlas-<name>`` entity. The table describes the folder's atlas of the
    same name (or BIDS label) when there is one, else the folder's only atlas.

    Parameters
    ----------
    root : str or Path
        Study folder.
    name : str
        The user atlas's own name (from its file name).

    Returns
    -------
    str
        The atlas name the runs' files carry.

    Raises
    ------
    InputError
        The folder has no time-series file, or several atlases of which none
        is called ``name``.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError(f"study folder '{root}' does not exist; check the path")
    names = _folder_atlas_names(folder)
    for found in sorted(names):
        if name in (found, bids_label(found)) or bids_label(name) == bids_label(found):
            return found
    if len(names) == 1:
        return names.pop()
    if not names:
        raise InputError(
            f"study '{root}' has no sub-*/ses-*/func/*_atlas-*_timeseries.tsv file for the "
            f"atlas table {name!r} to describe"
        )
    raise InputError(
        f"runs in '{root}' come in several atlases ({', '.join(sorted(names))}) and none is "
        f"called {name!r} like the atlas file; name the file after the one it describes "
        "(e.g. atlas-<name>_regions.tsv)"
    )
