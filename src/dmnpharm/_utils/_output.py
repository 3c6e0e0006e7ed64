"""Atomic output folders: write everything aside, then move it into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dmnpharm.exceptions import OutputExistsError

__all__ = ["staged_output_dir"]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def staged_output_dir(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder that becomes ``out`` only if the block succeeds.

    The staging folder is a hidden sibling of ``out`` (same file system, so the
    final move is a rename). If the block raises, the staging folder is removed
    and ``out`` is untouched: a failed command never leaves a partial output
    that looks complete.

    Parameters
    ----------
    out : str or Path
        The final output folder.
    overwrite : bool
        Replace an existing non-empty ``out``. When False such a folder is an
        error, raised before any work starts.

    Yields
    ------
    Path
        The staging folder to write into.

    Raises
    ------
    OutputExistsError
        ``out`` exists, is not empty, and ``overwrite`` is False.
    """
    final = Path(out).resolve()
    if final.exists() and not final.is_dir():
        raise OutputExistsError(f"output '{out}' exists and is not a folder; choose another --out")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"output folder '{out}' exists and is not empty; choose another --out "
            "or pass --overwrite to replace it"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    staging.chmod(0o777 & ~_current_umask())
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        final.replace(trash / final.name)
        staging.replace(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.replace(final)
