"""The cache key of a complete analysis's outputs (:mod:`dmnpharm.pipeline._snapshots`)."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dmnpharm.config import AnalysisConfig
from dmnpharm.execution import RunCache

__all__ = ["SNAPSHOT_STAGE", "code_fingerprint", "snapshot_key"]

#: Cache stage of the snapshots (``<cache>/v1/outputs/``), pruned with the rest.
SNAPSHOT_STAGE = "outputs"


@functools.cache
def code_fingerprint() -> str:
    """Return a digest of every installed dmnpharm file's name, size and modification time.

    Returns
    -------
    str
        64 hexadecimal characters; any edited, added or removed file changes it.
    """
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            name = path.relative_to(package).as_posix()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@functools.cache
def _library_versions() -> dict[str, str]:
    """Versions of the libraries whose files and pickles a snapshot holds."""
    from importlib.metadata import version

    return {name: version(name) for name in ("numpy", "pandas", "pyarrow", "duckdb")}


def _local_catalog_digest(config: AnalysisConfig) -> str | None:
    """Return the lab's local catalog's digest when a drug is compared with the catalog."""
    if config.drug is None:
        return None
    from dmnpharm.catalog import local_catalog_path

    path = local_catalog_path()
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "absent"


def snapshot_key(
    cache: RunCache, config: AnalysisConfig, identity: Mapping[str, Any]
) -> str | None:
    """Return the cache key of an analysis's outputs, or None when they are not kept.

    Parameters
    ----------
    cache : RunCache
        The cache (disabled: None).
    config : AnalysisConfig
        The analysis's choices (a prediction beside it: None).
    identity : mapping
        Everything else that names the outputs: the analysis (or simulation)
        and its configuration, the recorded study, the execution record.

    Returns
    -------
    str or None
        The key; None when the cache is disabled or the outputs are not kept.
    """
    if not cache.enabled or config.receptors is not None:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = {
        **identity,
        "code": code_fingerprint(),
        "libraries": _library_versions(),
        "cores": cores,
        "local_catalog": _local_catalog_digest(config),
    }
    return cache.key(SNAPSHOT_STAGE, parts)
