"""Atomic output folders and files: write aside, then rename into place; one writer."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dmnpharm._utils._logging import get_logger
from dmnpharm.exceptions import OutputExistsError, OutputLockedError

__all__ = ["atomic_write_bytes", "atomic_write_with", "output_lock", "staged_output_dir"]

_LOG = get_logger("output")


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> Path:
    """Write a file so that it is either absent or complete, never partly written.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    and the file is renamed over ``path`` (a rename is atomic on POSIX file
    systems), so a process killed at any point leaves no truncated file.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is created if missing.
    data : bytes
        The content.
    durable : bool
        Wait until the bytes are on the disk (``fsync``) before the rename, so
        that not even a power cut can leave a damaged file. False skips the
        wait (2-3 ms a file on the development machine), for files whose
        reader recognises damage and recreates them (the run cache's entries);
        a killed process still leaves no partial file.

    Returns
    -------
    Path
        ``path``.
    """
    return atomic_write_with(path, lambda handle: handle.write(data), durable=durable)


def atomic_write_with(
    path: str | Path, fill: Callable[[BinaryIO], object], *, durable: bool = True
) -> Path:
    """Write a file as :func:`atomic_write_bytes` does, its content written by ``fill``.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is created if missing.
    fill : callable
        Called with the temporary file, open for binary writing, to write the
        content (it may write through ``fileno()`` after flushing the file).
    durable : bool
        Wait until the bytes are on the disk before the rename
        (:func:`atomic_write_bytes`).

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            fill(stream)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        Path(temporary).chmod(0o666 & ~_current_umask())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder for the duration of the block.

    The lock is an advisory ``flock`` on the hidden file ``.<name>.lock`` beside
    the folder, removed on release. The kernel releases the lock when its
    holder exits, however it exits (SIGKILL included), so a crashed run never
    leaves a stale lock behind.

    Parameters
    ----------
    out : str or Path
        The output folder (it need not exist yet).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputLockedError
        If another process holds the lock.
    """
    final = Path(out).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = final.parent / f".{final.name}.lock"
    while True:
        handle = lock.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise OutputLockedError(
                f"another dmnpharm process (pid {holder}) is writing '{out}'; wait for it to "
                "finish or choose another --out"
            ) from None
        try:
            same = os.fstat(handle.fileno()).st_ino == lock.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        # The holder before us removed the file after we opened it: lock the new one.
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield lock
    finally:
        lock.unlink(missing_ok=True)
        handle.close()


def _remove_stale_staging(final: Path) -> None:
    """Remove staging folders of earlier attempts that were killed (the lock is held)."""
    leftovers = [
        *final.parent.glob(f".{final.name}.partial-*"),
        *final.parent.glob(f".{final.name}.old-*"),
    ]
    for stale in leftovers:
        if stale.is_dir():
            _LOG.info("removing %s, left by an interrupted earlier attempt", stale.name)
            shutil.rmtree(stale, ignore_errors=True)


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
    that looks complete. The folder is locked (:func:`output_lock`) while the
    block runs, so two processes cannot write it at once, and staging folders
    left by a killed earlier attempt are removed first.

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
    OutputLockedError
        Another process is writing ``out``.
    """
    with output_lock(out):
        yield from _staged(Path(out), overwrite)


def _staged(out: Path, overwrite: bool) -> Iterator[Path]:
    final = out.resolve()
    if final.exists() and not final.is_dir():
        raise OutputExistsError(f"output '{out}' exists and is not a folder; choose another --out")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"output folder '{out}' exists and is not empty; choose another --out "
            "or pass --overwrite to replace it"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(final)
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
