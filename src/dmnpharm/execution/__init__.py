"""Per-run tasks on workers: content-addressed cache, local and cluster dispatch, resume."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.execution._cache import RunCache, default_cache_dir
    from dmnpharm.execution._cache_attach import AttachedEntry
    from dmnpharm.execution._cluster import checking_workers, client, local_workers, make_cache
    from dmnpharm.execution._dispatch import Stage, dispatch

__all__ = [
    "AttachedEntry",
    "RunCache",
    "Stage",
    "checking_workers",
    "client",
    "default_cache_dir",
    "dispatch",
    "local_workers",
    "make_cache",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
