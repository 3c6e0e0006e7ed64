"""Copying bytes between files: in the kernel, or past the page cache, where the system allows.

:func:`copy_bytes` copies a range in the kernel (``copy_file_range``).
:func:`append_direct` appends whole files to a file opened for writing, with
``O_DIRECT``: the bytes go from one reused buffer to the disk without passing
through the page cache. That is for large copies nobody reads back soon (a
cache entry that keeps a complete demo's outputs, about 200 MB): in a virtual
machine whose memory is not yet backed by the host, filling new page-cache
pages cost 2.3 ms of CPU per MB on the development machine (0.45 s for
200 MB), against 0.015 s of CPU and 0.1 s of wall time for the same bytes
written with ``O_DIRECT``. Where a file system refuses ``O_DIRECT`` (tmpfs,
some network file systems; macOS has no such flag), nothing is written and
the caller copies the usual way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DIRECT_ALIGNMENT", "append_direct", "copy_bytes", "write_direct"]

#: Errors after which ``copy_file_range`` is given up for a plain read and write: the
#: files are on different file systems, or the system or file system lacks the call.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
)
_CHUNK = 1 << 20

#: Offsets and lengths of ``O_DIRECT`` writes are multiples of this (the largest
#: logical block size of common disks; 512-byte disks accept it too).
DIRECT_ALIGNMENT = 4096

#: Bytes gathered before each ``O_DIRECT`` write (a multiple of DIRECT_ALIGNMENT).
_DIRECT_CHUNK = 4 << 20

#: Each thread's aligned buffer for :func:`write_direct`, kept between calls: a new
#: one would be new memory, the cost the direct write avoids.
_BUFFERS = threading.local()


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


def _start_direct(target: int, possible: bool) -> int | None:
    """Turn ``O_DIRECT`` on for ``target``; return its flags before, or None where it cannot be.

    ``possible`` is False when the caller already knows it cannot (an unaligned
    position, nothing to write).
    """
    direct = getattr(os, "O_DIRECT", 0)
    if not direct or not possible:
        return None
    flags: int = fcntl.fcntl(target, fcntl.F_GETFL)
    try:
        fcntl.fcntl(target, fcntl.F_SETFL, flags | direct)
    except OSError:  # a file system that refuses it (tmpfs)
        return None
    return flags


def _fill_from(source: int, view: memoryview, count: int) -> int:
    """Read ``count`` bytes (at most ``len(view)``) from ``source`` into ``view``."""
    done = 0
    while done < count:
        got = os.readv(source, [view[done:count]])
        if got == 0:
            raise EOFError(f"the file ends {count - done} bytes early")
        done += got
    return done


def _write_direct(target: int, view: memoryview) -> None:
    """Write all of ``view`` (a multiple of DIRECT_ALIGNMENT) at ``target``'s position."""
    while view:
        view = view[os.write(target, view) :]


def append_direct(target: int, files: Sequence[tuple[Path, int]]) -> bool:
    """Append files' bytes to an open file, past the page cache, if the system allows it.

    Parameters
    ----------
    target : int
        File descriptor open for writing, its position a multiple of
        :data:`DIRECT_ALIGNMENT`; the position ends after the bytes appended,
        and the file ends there.
    files : sequence of (Path, int)
        Each file and how many of its first bytes to append.

    Returns
    -------
    bool
        True when the bytes were written; False when ``O_DIRECT`` is not
        available for ``target`` (no flag, a file system that refuses it, or
        an unaligned position), with nothing written and the position as it
        was.

    Raises
    ------
    EOFError
        A file is shorter than its size (the target is cut back to where it
        started).
    OSError
        A file cannot be read, or the target cannot be written.
    """
    start = os.lseek(target, 0, os.SEEK_CUR)
    flags = _start_direct(target, start % DIRECT_ALIGNMENT == 0)
    if flags is None:
        return False
    # This thread's buffer (kept between calls: new memory is the cost saved), one chunk
    # of it: write_direct may have grown it.
    whole = memoryview(_direct_buffer(_DIRECT_CHUNK))
    view = whole[:_DIRECT_CHUNK]
    total = 0
    try:
        held = 0
        for path, size in files:
            source = os.open(path, os.O_RDONLY)
            try:
                left = size
                while left:
                    got = _fill_from(source, view[held:], min(left, _DIRECT_CHUNK - held))
                    held, left, total = held + got, left - got, total + got
                    if held == _DIRECT_CHUNK:
                        _write_direct(target, view)
                        held = 0
            finally:
                os.close(source)
        if held:  # the tail, padded to the alignment, then cut back
            padded = -(-held // DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT
            view[held:padded] = bytes(padded - held)
            _write_direct(target, view[:padded])
        os.ftruncate(target, start + total)
        os.lseek(target, start + total, os.SEEK_SET)
    except OSError as exc:
        os.ftruncate(target, start)
        os.lseek(target, start, os.SEEK_SET)
        if exc.errno != errno.EINVAL:  # EINVAL: this file system's O_DIRECT wants more
            raise
        return False
    except BaseException:
        os.ftruncate(target, start)
        os.lseek(target, start, os.SEEK_SET)
        raise
    finally:
        fcntl.fcntl(target, fcntl.F_SETFL, flags)
        with contextlib.suppress(BufferError):  # slices held by a traceback: freed with it
            view.release()
            whole.release()
    return True


def _direct_buffer(size: int) -> mmap.mmap:
    """Return this thread's page-aligned buffer of at least ``size`` bytes."""
    buffer: mmap.mmap | None = getattr(_BUFFERS, "buffer", None)
    if buffer is None or len(buffer) < size:
        if buffer is not None:
            buffer.close()
        buffer = mmap.mmap(-1, max(size, _DIRECT_CHUNK))
        _BUFFERS.buffer = buffer
    return buffer


def write_direct(target: int, data: bytes) -> bool:
    """Write ``data`` to an empty file past the page cache, if the system allows it.

    For a file written once and not read back soon (a run's cache entry, 1.4
    MB in the demo). The bytes are copied into a buffer this thread keeps and
    written with ``O_DIRECT``, the last block padded, then the file is cut to
    ``len(data)``.

    Parameters
    ----------
    target : int
        File descriptor open for writing, at position 0; its position ends at
        ``len(data)``.
    data : bytes
        The content.

    Returns
    -------
    bool
        True when written; False when ``O_DIRECT`` is not available for
        ``target`` (no flag, a file system that refuses it, a position other
        than 0), with nothing written and the position as it was.

    Raises
    ------
    OSError
        The target cannot be written.
    """
    flags = _start_direct(target, bool(data) and os.lseek(target, 0, os.SEEK_CUR) == 0)
    if flags is None:
        return False
    padded = -(-len(data) // DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT
    buffer = _direct_buffer(padded)
    view = memoryview(buffer)
    try:
        view[: len(data)] = data
        view[len(data) : padded] = bytes(padded - len(data))
        _write_direct(target, view[:padded])
        os.ftruncate(target, len(data))
        os.lseek(target, len(data), os.SEEK_SET)
    except OSError as exc:
        os.ftruncate(target, 0)
        os.lseek(target, 0, os.SEEK_SET)
        if exc.errno != errno.EINVAL:
            raise
        return False
    finally:
        fcntl.fcntl(target, fcntl.F_SETFL, flags)
        view.release()
    return True
