"""Let a worker process keep the memory it frees (glibc's ``malloc``) instead of faulting it in.

Per-run work allocates and frees many arrays of a few hundred kB to a few MB
(a run's signals, its regressors, a window stack, text buffers). glibc serves
an array above its mmap threshold (128 kB, raised as such arrays are freed,
up to 32 MB) with a fresh ``mmap`` and gives the top of its heap back to the
system once more than twice that threshold is free there. Either way the next
array's pages are faulted in again, one page at a time: about 5,400 page
faults per 150-volume x 300-region run, 1 to 2 ms of system time per thousand
on this project's virtual machines.

Fixing the mmap threshold at 16 MiB and the trim threshold at 64 MiB keeps
such arrays in the heap and the freed top of the heap in the process: a
worker then holds at most about 64 MiB of freed memory beyond its largest
run, and arrays larger than 16 MiB (chunks of a 4D image) are still mapped
and returned at once. The setting is made only in processes dmnpharm starts
for per-run work (forked workers; a local Dask cluster's workers get the
same values through glibc's environment variables), never in the caller's
own process.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

__all__ = ["ALLOCATOR_ENVIRON", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

#: Arrays of this many bytes or more are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 16 << 20
#: Freed memory at the top of the heap is given back to the system above this many bytes.
TRIM_THRESHOLD = 64 << 20
#: The same settings as glibc's environment variables, for processes started afresh.
ALLOCATOR_ENVIRON = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
}

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    """Return the C library when it is glibc (which has ``mallopt``), else None."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):  # not Linux, or not glibc
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@cache
def keep_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds in this process (see this module's notes).

    Called once in each worker process dmnpharm starts for per-run work;
    later calls do nothing.

    Returns
    -------
    bool
        Whether both thresholds were set: False where the C library is not
        glibc (macOS, Windows, musl), which keeps its own allocator's ways.
    """
    libc = _glibc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    done = [mallopt(ctypes.c_int(name), ctypes.c_int(value)) == 1 for name, value in settings]
    return all(done)
