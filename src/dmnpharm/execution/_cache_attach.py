"""Cache entries that carry whole files beside their pickled value.

Most entries are one pickle. An entry that keeps large files as they are (a
complete analysis's outputs, :mod:`dmnpharm.pipeline._snapshots`) would cost
three copies through this process's memory if the files were pickled: read,
pickled, written; and as many again to restore them. Instead its file is

* 8 bytes, :data:`MAGIC`;
* 8 bytes, the length of the pickle that follows (little-endian);
* the pickle of ``(value, sizes)``, ``sizes`` the attached files' lengths,
  then zeros up to an offset that is a multiple of 4096 (the length above
  counts them; unpickling stops before them);
* the attached files' bytes, one after the other; where the last file's
  length was not known when the pickle was written (its size there is
  None), 8 more bytes give it (little-endian),

and the files' bytes are written past the page cache where the file system
allows it (:func:`dmnpharm._utils._copy.append_direct`: nobody reads a kept
demo back soon, and new page-cache pages are what the copy cost), else copied
between files by the kernel (:func:`dmnpharm._utils._copy.copy_bytes`). The
entry is still one file under the entry pattern, written aside and renamed into
place, so the cache's pruning rules (:mod:`dmnpharm.execution._cache_manage`) hold unchanged.
"""

from __future__ import annotations

import itertools
import os
import pickle
import struct
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from dmnpharm._utils._copy import DIRECT_ALIGNMENT, append_direct, copy_bytes
from dmnpharm._utils._output import atomic_write_with

__all__ = ["MAGIC", "AttachedEntry", "DamagedEntryError", "read_attached", "write_attached"]

#: First bytes of an entry with attached files.
MAGIC = b"DMNPATT1"
_HEADER = struct.Struct("<8sQ")
_SIZE = struct.Struct("<Q")


class DamagedEntryError(ValueError):
    """An entry with attached files is not what its writer wrote (truncated, say)."""


def write_attached(
    path: Path,
    value: Any,
    files: Sequence[tuple[Path, int]],
    last: Path | None = None,
    ready: Callable[[], object] | None = None,
) -> Path:
    """Write an entry: ``value`` pickled, then each file's bytes (atomically, not durably).

    Parameters
    ----------
    path : Path
        The entry's file.
    value : object
        Anything picklable.
    files : sequence of (Path, int)
        The files attached, in order, with the size each must have.
    last : Path or None
        A file attached after them whole, at whatever length it has once
        ``ready`` returns.
    ready : callable or None
        Called after ``files`` are written, before ``last`` is read and the
        entry put in place (it may wait for ``last`` to be complete).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    EOFError
        A file is shorter than its size (nothing is written then).
    OSError
        A file cannot be read.
    Exception
        Whatever ``ready`` raises (nothing is written then).
    """
    sizes: list[int | None] = [size for _, size in files]
    if last is not None:
        sizes.append(None)
    data = pickle.dumps((value, sizes), protocol=5)
    # Zeros after the pickle (unpickling stops at its end) start the files at an offset
    # O_DIRECT can write at.
    data += bytes(-(_HEADER.size + len(data)) % DIRECT_ALIGNMENT)

    def fill(stream: BinaryIO) -> None:
        stream.write(_HEADER.pack(MAGIC, len(data)))
        stream.write(data)
        stream.flush()  # what follows is written through the descriptor
        _append(stream.fileno(), files)
        if ready is not None:
            ready()
        if last is not None:
            size = last.stat().st_size
            _append(stream.fileno(), [(last, size)])
            os.write(stream.fileno(), _SIZE.pack(size))

    # Not durable: a damaged entry is recognised by its length and computed again.
    return atomic_write_with(path, fill, durable=False)


def _append(target: int, files: Sequence[tuple[Path, int]]) -> None:
    """Append the files' bytes to ``target``: past the page cache, else by the kernel."""
    if append_direct(target, files):
        return
    for source, size in files:
        handle = os.open(source, os.O_RDONLY)
        try:
            copy_bytes(handle, target, size, 0)
        finally:
            os.close(handle)


class AttachedEntry:
    """An entry with attached files, open for copying them out.

    The entry's file stays open until :meth:`close` (or the end of a ``with``
    block), so a cache pruned meanwhile by another analysis does not take the
    bytes away.

    Parameters
    ----------
    value : object
        The entry's value.
    handle : int
        The open entry file (owned: closed with this object).
    offsets : sequence of int
        Where each attached file starts in it.
    sizes : sequence of int
        Each attached file's length.
    """

    def __init__(
        self, value: Any, handle: int, offsets: Sequence[int], sizes: Sequence[int]
    ) -> None:
        self.value = value
        self._offsets = tuple(offsets)
        self.sizes = tuple(sizes)
        self._close = weakref.finalize(self, os.close, handle)
        self._handle = handle

    def copy_to(self, index: int, target: Path) -> Path:
        """Write attached file ``index`` to ``target`` (created or replaced).

        Parameters
        ----------
        index : int
            The file's place among the attached files.
        target : Path
            Where it is written; its folder must exist.

        Returns
        -------
        Path
            ``target``.
        """
        if not self._close.alive:
            raise ValueError("the cache entry is closed")
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            copy_bytes(self._handle, out, self.sizes[index], self._offsets[index])
        finally:
            os.close(out)
        return target

    def close(self) -> None:
        """Close the entry's file (again: nothing happens)."""
        self._close()

    def __enter__(self) -> AttachedEntry:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def read_attached(path: Path) -> AttachedEntry:
    """Open an entry written by :func:`write_attached`; its files are copied out later.

    Parameters
    ----------
    path : Path
        The entry's file.

    Returns
    -------
    AttachedEntry
        Its value and its attached files, the file kept open.

    Raises
    ------
    FileNotFoundError
        There is no such entry.
    DamagedEntryError
        It does not start as an entry with attached files does, or its length
        is not that of its pickle and files (a write cut short).
    pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError
        Its pickle cannot be read (damaged, or from another version).
    """
    handle = os.open(path, os.O_RDONLY)
    try:
        head = os.pread(handle, _HEADER.size, 0)
        if len(head) != _HEADER.size:
            raise DamagedEntryError(f"{path.name} is shorter than its header")
        magic, length = _HEADER.unpack(head)
        total = os.fstat(handle).st_size
        if magic != MAGIC or length > total - _HEADER.size:
            raise DamagedEntryError(f"{path.name} does not start as an entry with files does")
        value, sizes = pickle.loads(os.pread(handle, length, _HEADER.size))
        start = _HEADER.size + length
        if sizes and sizes[-1] is None:  # the last file's size follows it
            (sizes[-1],) = _SIZE.unpack(os.pread(handle, _SIZE.size, total - _SIZE.size))
            total -= _SIZE.size
        offsets = list(itertools.accumulate(sizes[:-1], initial=start))
        if start + sum(sizes) != total:
            raise DamagedEntryError(f"{path.name} holds {total} bytes, not the files' bytes")
    except BaseException:
        os.close(handle)
        raise
    return AttachedEntry(value, handle, offsets, sizes)
