"""The atlas registry: every atlas :func:`load_atlas` knows by name, and users' atlas files."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

from dmnpharm._utils import closest_match
from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._embedded import andrews_hanna, dosenbach160, seitzman300
from dmnpharm.atlases._files import ATLAS_FILE_SUFFIXES, atlas_from_file
from dmnpharm.atlases._schaefer import schaefer_atlas
from dmnpharm.atlases._tian import schaefer_tian_atlas
from dmnpharm.atlases._yeo import yeo_atlas
from dmnpharm.exceptions import InputError

__all__ = ["available_atlases", "clear_atlas_cache", "is_atlas_path", "load_atlas"]

_REGISTRY: dict[str, Callable[[], Atlas]] = {
    # embedded: no file, no network
    "seitzman300": seitzman300,
    "dosenbach160": dosenbach160,
    "andrews_hanna": andrews_hanna,
    # from the atlas folder (DMNPHARM_ATLAS_DIR)
    **{
        f"schaefer{p}_{n}": partial(schaefer_atlas, p, n)
        for p, n in ((100, 7), (200, 7), (400, 7), (100, 17), (200, 17), (400, 17))
    },
    **{f"schaefer{p}_7_tian": partial(schaefer_tian_atlas, p) for p in (100, 200, 400)},
    **{f"yeo{n}": partial(yeo_atlas, n) for n in (7, 17)},
}


def available_atlases() -> tuple[str, ...]:
    """Return the names accepted by :func:`load_atlas`.

    Returns
    -------
    tuple of str
        Registry names, sorted. ``seitzman300``, ``dosenbach160`` and
        ``andrews_hanna`` are embedded; the others are read from the folder
        named by ``DMNPHARM_ATLAS_DIR``.
    """
    return tuple(sorted(_REGISTRY))


def is_atlas_path(name: str | Path) -> bool:
    """Tell whether an ``--atlas`` value is a path to a user's atlas rather than a name.

    Parameters
    ----------
    name : str or Path
        The value given.

    Returns
    -------
    bool
        True for a :class:`~pathlib.Path`, or a string that is not a registry
        name and contains a path separator or ends in ``.tsv``, ``.nii``,
        ``.nii.gz`` or ``.dlabel.nii``.

    Examples
    --------
    >>> is_atlas_path("seitzman300"), is_atlas_path("atlas/atlas-Mine_dseg.tsv")
    (False, True)
    """
    if isinstance(name, Path):
        return True
    if name in _REGISTRY:
        return False
    return "/" in name or "\\" in name or name.endswith(ATLAS_FILE_SUFFIXES)


def load_atlas(name: str | Path, network_map: str | Path | None = None) -> Atlas:
    """Load an atlas by registry name, or read a user's atlas from its file.

    Parameters
    ----------
    name : str or Path
        One of :func:`available_atlases`, or a path (see
        :func:`is_atlas_path`): a labels image with its table, a coordinates
        table or a regions table (docs/atlases.md, "Your own atlas").
    network_map : str or Path, optional
        For a path: a TSV of ``name`` and ``network`` mapping the table's
        network names to codes.

    Returns
    -------
    Atlas
        The atlas; a registered one is loaded once per process, a file is
        read again whenever it changed.

    Raises
    ------
    InputError
        An unknown name (with the closest registered one) or a wrong file.
    """
    if is_atlas_path(name):
        file = Path(name).resolve()
        extra = None if network_map is None else Path(network_map).resolve()
        return _from_file(file, _stamp(file), extra, None if extra is None else _stamp(extra))
    return _registered(str(name))


def _stamp(path: Path) -> tuple[int, int]:
    """Modification time and size: a changed file is read again."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@cache
def _from_file(
    path: Path,
    stamp: tuple[int, int],  # noqa: ARG001 - part of the cache key: a changed file is read again
    network_map: Path | None,
    map_stamp: tuple[int, int] | None,  # noqa: ARG001 - as stamp
) -> Atlas:
    return atlas_from_file(path, network_map)


@cache
def _registered(name: str) -> Atlas:
    if name not in _REGISTRY:
        hint = closest_match(name, _REGISTRY)
        suggestion = f"; did you mean '{hint}'?" if hint is not None else ""
        raise InputError(
            f"atlas {name!r} is neither a registered atlas ({', '.join(sorted(_REGISTRY))}) "
            "nor a path to an atlas file (a labels image .nii/.nii.gz/.dlabel.nii with its "
            f".tsv, a coordinates or a regions .tsv: docs/atlases.md){suggestion}"
        )
    return _REGISTRY[name]()


def clear_atlas_cache() -> None:
    """Forget the atlases loaded so far, so that the next :func:`load_atlas` reads again.

    Needed only when the atlas folder (``DMNPHARM_ATLAS_DIR``) changes within
    one process; a user's atlas file is read again whenever it changes anyway.

    Returns
    -------
    None
        The caches are emptied.

    Examples
    --------
    >>> clear_atlas_cache()
    """
    _registered.cache_clear()
    _from_file.cache_clear()
