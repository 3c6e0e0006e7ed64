"""Copying byte ranges between open files, in the kernel where the system allows it."""

from __future__ import annotations

import errno
import os

__all__ = ["copy_bytes"]

#: Errors after which ``copy_file_range`` is given up for a plain read and write: the
#: files are on different file systems, or the system or file system lacks the call.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
)
_CHUNK = 1 << 20


def _write_all(target: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``target``."""
    view = memoryview(data)
    while view:
        view = view[os.write(target, view) :]


def copy_bytes(source: int, target: int, count: int, offset: int | None = None) -> None:
    """Copy ``count`` bytes from one open file to another.

    On Linux the bytes are copied by ``os.copy_file_range`` inside the kernel
    (no copy through this process's memory; a file system that shares blocks
    may not copy them at all); elsewhere, or where the two files are on
    different file systems, they are read and written in 1 MiB chunks.

    Parameters
    ----------
    source : int
        File descriptor read from.
    target : int
        File descriptor written to, at its current position (which advances).
    count : int
        Bytes to copy.
    offset : int or None
        Where in ``source`` to start (its position is then left alone); None:
        at its current position, which advances.

    Raises
    ------
    EOFError
        ``source`` ends before ``count`` bytes.
    """
    kernel = hasattr(os, "copy_file_range")
    done = 0
    while done < count:
        at = None if offset is None else offset + done
        if kernel:
            try:
                moved = os.copy_file_range(source, target, count - done, at)
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise
                kernel = False
                continue
        else:
            size = min(_CHUNK, count - done)
            data = os.read(source, size) if at is None else os.pread(source, size, at)
            _write_all(target, data)
            moved = len(data)
        if moved == 0:
            raise EOFError(f"the source ends {count - done} bytes before the range copied")
        done += moved
