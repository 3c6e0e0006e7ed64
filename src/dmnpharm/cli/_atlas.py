"""The atlas options every command shares: ``--atlas NAME|PATH`` and ``--network-map``."""

from __future__ import annotations

import argparse
from typing import Any

from dmnpharm.exceptions import InputError, UsageError

__all__ = ["ATLAS_HELP", "add_atlas_options", "atlas_option"]


#: What ``--atlas`` takes, for every command's help (``{spheres}``: how coordinates are used).
ATLAS_HELP = (
    "a registered atlas: seitzman300, dosenbach160, andrews_hanna, or from "
    "$DMNPHARM_ATLAS_DIR schaefer{{100,200,400}}_{{7,17}}, schaefer{{100,200,400}}_7_tian, "
    "yeo7, yeo17; or a path to your own: a labels image (.nii[.gz] or CIFTI .dlabel.nii) "
    "with a .tsv of the same stem (index, name, network), a coordinates .tsv (label, x, y, z, "
    "network{spheres}) or, for ROI-level folders, a regions .tsv (label, network "
    "[, x, y, z, subsystem]) naming each time-series column (docs/atlases.md)"
)


def add_atlas_options(sub: argparse.ArgumentParser, default: str, spheres: bool = True) -> None:
    """Add ``--atlas`` (a name or a path) and ``--network-map``.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    default : str
        What the command uses when ``--atlas`` is not given.
    spheres : bool
        The command has ``--radius`` for the spheres around coordinates.
    """
    around = "; spheres of --radius" if spheres else ""
    sub.add_argument(
        "--atlas", default=None, help=f"{ATLAS_HELP.format(spheres=around)}; {default}"
    )
    sub.add_argument(
        "--network-map",
        default=None,
        metavar="TSV",
        help="with an atlas file: a TSV of name and network mapping the table's network "
        "names to codes (DMN, SN, FPN, DAN, ...) where they are neither codes nor common "
        "names such as 'Default' or 'SalVentAttn'",
    )


def atlas_option(args: argparse.Namespace) -> Any:
    """Return what ``--atlas`` names: a registered name, a user atlas read from its file, or None.

    Parameters
    ----------
    args : argparse.Namespace
        With ``atlas`` and ``network_map``.

    Returns
    -------
    str or Atlas or None
        A registered name as given; a path read into an
        :class:`~dmnpharm.atlases.Atlas` (with ``--network-map``); None.

    Raises
    ------
    UsageError
        An unknown name, or ``--network-map`` without an atlas file.
    InputError
        The atlas file or the mapping is wrong (a data problem, exit status 1).
    """
    from dmnpharm.atlases import available_atlases, is_atlas_path, load_atlas

    atlas = getattr(args, "atlas", None)
    network_map = getattr(args, "network_map", None)
    if atlas is None or not is_atlas_path(atlas):
        if network_map is not None:
            raise UsageError(
                "--network-map maps the network names of an atlas file; give --atlas PATH"
            )
        if atlas is not None and atlas not in available_atlases():
            try:
                load_atlas(atlas)
            except InputError as exc:
                raise UsageError(str(exc)) from None
        return atlas
    return load_atlas(atlas, network_map)
