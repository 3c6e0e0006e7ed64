"""The atlas registry: every atlas :func:`load_atlas` knows by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

from dmnpharm._utils import check_option
from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._embedded import andrews_hanna, dosenbach160, seitzman300
from dmnpharm.atlases._schaefer import schaefer_atlas
from dmnpharm.atlases._tian import schaefer_tian_atlas
from dmnpharm.atlases._yeo import yeo_atlas

__all__ = ["available_atlases", "load_atlas"]

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


@cache
def load_atlas(name: str) -> Atlas:
    """Load an atlas by registry name.

    Parameters
    ----------
    name : str
        One of :func:`available_atlases`.

    Returns
    -------
    Atlas
        The atlas; loaded once per process and then reused.
    """
    check_option("atlas", name, _REGISTRY)
    return _REGISTRY[name]()
