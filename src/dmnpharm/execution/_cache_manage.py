"""Size, inspect and prune the per-run result cache, least recently used first.

An entry is one complete file, ``<root>/v<N>/<stage>/<xx>/<key>.pickle``
(``key`` 64 hexadecimal characters, ``xx`` its first two): a pickle, or a
pickle followed by the files it keeps (:mod:`dmnpharm.execution._cache_attach`). Its modification
time is its *last use*: set when it is written and again on every cache hit
(:meth:`dmnpharm.execution.RunCache.load`), never read from the file system's
access time, which many mounts do not keep (``noatime``, ``relatime``).

Rules that keep pruning safe while analyses write the same cache:

- Entries appear only complete: a writer writes a hidden temporary file
  (``.<key>.pickle.XXXXXXXX``) in the entry's folder and renames it over the
  entry. Pruning never counts a temporary file as an entry and deletes one
  only when it has not changed for :data:`ORPHAN_AGE` seconds (a day), long
  after any writer that could still rename it has died.
- Pruning deletes whole entries with one ``unlink`` and never removes a
  folder, so a writer that has just created an entry's folder always finds it.
  A reader that has the file open keeps reading it (POSIX); where the system
  refuses to delete an open file (Windows) the entry is skipped.
- An entry is re-examined just before it is deleted: one used since the scan
  (a newer modification time) is kept.
- The analysis that prunes at its end passes the entries it read or wrote as
  ``protect``: they are never deleted, even when they alone exceed the cap.
  Another running analysis keeps what it has already read in memory; an entry
  of it that is pruned is computed again the next time it is needed, never
  read half-deleted.
- Only files with the entry pattern are deleted, so pointing ``--cache`` at
  the wrong folder deletes nothing else.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dmnpharm.execution._cache_units import resolve_max_size

__all__ = [
    "ORPHAN_AGE",
    "CacheEntry",
    "CacheInfo",
    "PruneResult",
    "cache_info",
    "prune_cache",
    "scan_entries",
    "select_evictions",
]

#: Seconds after which an unchanged temporary file is an orphan of a killed writer.
ORPHAN_AGE = 24 * 3600.0

_LAYOUT_DIR = re.compile(r"^v\d+$")
_PREFIX_DIR = re.compile(r"^[0-9a-f]{2}$")
_ENTRY_FILE = re.compile(r"^([0-9a-f]{64})\.pickle$")
_TEMP_FILE = re.compile(r"^\.[0-9a-f]{64}\.pickle\..+$")


@dataclass(frozen=True)
class CacheEntry:
    """One complete cache entry.

    Parameters
    ----------
    path : Path
        The entry's file.
    stage : str
        The kind of result (``run``, ``signals``).
    size : int
        Bytes.
    used_ns : int
        Last use (write or hit): the file's modification time in nanoseconds.
    """

    path: Path
    stage: str
    size: int
    used_ns: int


@dataclass
class _Scan:
    entries: list[CacheEntry] = field(default_factory=list)
    temporary: list[tuple[Path, int, int]] = field(default_factory=list)
    other_bytes: int = 0


def _scan(root: Path) -> _Scan:
    """Walk a cache folder: entries, temporary files (path, size, mtime_ns), other bytes."""
    found = _Scan()
    for folder, dirs, files in os.walk(root):
        parts = Path(folder).relative_to(root).parts
        dirs.sort()
        in_entry_dir = (
            len(parts) == 3 and _LAYOUT_DIR.match(parts[0]) and _PREFIX_DIR.match(parts[2])
        )
        for name in sorted(files):
            path = Path(folder, name)
            try:
                stat = path.lstat()
            except OSError:  # deleted meanwhile
                continue
            entry = _ENTRY_FILE.match(name) if in_entry_dir else None
            if entry is not None and entry.group(1)[:2] == parts[2]:
                found.entries.append(CacheEntry(path, parts[1], stat.st_size, stat.st_mtime_ns))
            elif in_entry_dir and _TEMP_FILE.match(name):
                found.temporary.append((path, stat.st_size, stat.st_mtime_ns))
            else:
                found.other_bytes += stat.st_size
    return found


def scan_entries(root: str | Path) -> list[CacheEntry]:
    """Return the complete entries of a cache folder (none when it does not exist).

    Parameters
    ----------
    root : str or Path
        The cache folder.

    Returns
    -------
    list of CacheEntry
        In path order; temporary files of writes in progress are not entries.
    """
    folder = Path(root).expanduser().resolve()
    return _scan(folder).entries if folder.is_dir() else []


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds.

    Parameters
    ----------
    root : Path
        The folder.
    exists : bool
        Whether it exists.
    entries : int
        Complete entries.
    entry_bytes : int
        Their size; the cap applies to this.
    stages : dict
        ``{stage: (entries, bytes)}``.
    temporary : int
        Temporary files (writes in progress, or orphans of killed writers).
    temporary_bytes : int
        Their size.
    other_bytes : int
        Every other file (the input files' digest database).
    oldest_use_ns, newest_use_ns : int or None
        Least and most recent last use of an entry.
    max_size : int or None
        The cap in bytes (None: no cap).
    max_size_source : str
        ``given``, ``$DMNPHARM_CACHE_MAX_SIZE`` or ``default``.
    """

    root: Path
    exists: bool
    entries: int
    entry_bytes: int
    stages: dict[str, tuple[int, int]]
    temporary: int
    temporary_bytes: int
    other_bytes: int
    oldest_use_ns: int | None
    newest_use_ns: int | None
    max_size: int | None
    max_size_source: str

    @property
    def total_bytes(self) -> int:
        """Every file in the folder."""
        return self.entry_bytes + self.temporary_bytes + self.other_bytes

    @property
    def over_cap(self) -> int:
        """Bytes of entries above the cap (0 when under it or uncapped)."""
        return 0 if self.max_size is None else max(0, self.entry_bytes - self.max_size)

    def to_dict(self) -> dict[str, Any]:
        """Return the information as JSON-ready values (times in ISO 8601, local zone)."""
        return {
            "folder": str(self.root),
            "exists": self.exists,
            "total_bytes": self.total_bytes,
            "entries": self.entries,
            "entry_bytes": self.entry_bytes,
            "stages": {k: {"entries": n, "bytes": b} for k, (n, b) in self.stages.items()},
            "in_progress_files": self.temporary,
            "in_progress_bytes": self.temporary_bytes,
            "other_bytes": self.other_bytes,
            "oldest_use": _iso(self.oldest_use_ns),
            "newest_use": _iso(self.newest_use_ns),
            "max_size_bytes": self.max_size,
            "max_size_source": self.max_size_source,
            "over_cap_bytes": self.over_cap,
        }


def cache_info(root: str | Path, max_size: int | str | None = None) -> CacheInfo:
    """Describe a cache folder: size, entries, last uses and cap.

    Parameters
    ----------
    root : str or Path
        The cache folder (it need not exist).
    max_size : int, str or None
        The cap to report (:func:`resolve_max_size`).

    Returns
    -------
    CacheInfo
        Counts and sizes.
    """
    folder = Path(root).expanduser().resolve()
    cap, source = resolve_max_size(max_size)
    scan = _scan(folder) if folder.is_dir() else _Scan()
    stages: dict[str, tuple[int, int]] = {}
    for entry in scan.entries:
        count, size = stages.get(entry.stage, (0, 0))
        stages[entry.stage] = (count + 1, size + entry.size)
    uses = [e.used_ns for e in scan.entries]
    return CacheInfo(
        root=folder,
        exists=folder.is_dir(),
        entries=len(scan.entries),
        entry_bytes=sum(e.size for e in scan.entries),
        stages=dict(sorted(stages.items())),
        temporary=len(scan.temporary),
        temporary_bytes=sum(size for _, size, _ in scan.temporary),
        other_bytes=scan.other_bytes,
        oldest_use_ns=min(uses, default=None),
        newest_use_ns=max(uses, default=None),
        max_size=cap,
        max_size_source=source,
    )


def select_evictions(
    entries: Iterable[CacheEntry],
    max_size: int | None = None,
    older_than: float | None = None,
    protect: Collection[Path] = (),
    now: float | None = None,
) -> list[CacheEntry]:
    """Choose the entries to delete: those unused for too long, then least recently used.

    Parameters
    ----------
    entries : iterable of CacheEntry
        Every entry of the cache (protected ones count towards its size).
    max_size : int or None
        Delete least recently used entries until the rest hold at most this
        many bytes (or only protected entries are left).
    older_than : float or None
        Delete entries last used more than this many seconds before ``now``.
    protect : collection of Path
        Entries never deleted (in use by the running analysis).
    now : float or None
        The time ages are measured from (seconds since the epoch; None: now).

    Returns
    -------
    list of CacheEntry
        Least recently used first.
    """
    everything = list(entries)
    kept = set(protect)
    candidates = sorted(
        (e for e in everything if e.path not in kept), key=lambda e: (e.used_ns, str(e.path))
    )
    chosen: list[CacheEntry] = []
    if older_than is not None:
        cutoff = ((time.time() if now is None else now) - older_than) * 1e9
        chosen = [e for e in candidates if e.used_ns < cutoff]
    if max_size is not None:
        left = sum(e.size for e in everything) - sum(e.size for e in chosen)
        picked = {e.path for e in chosen}
        for entry in candidates:
            if left <= max_size:
                break
            if entry.path not in picked:
                chosen.append(entry)
                left -= entry.size
    return sorted(chosen, key=lambda e: (e.used_ns, str(e.path)))


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed (or would remove, for a dry run) and what is left.

    Parameters
    ----------
    root : Path
        The cache folder.
    removed : tuple of CacheEntry
        Entries deleted (dry run: to delete), least recently used first.
    kept_entries : int
        Entries left.
    kept_bytes : int
        Their size.
    skipped : int
        Entries chosen but kept: used or deleted by another process since the
        scan, or refused by the system.
    orphans : int
        Temporary files of killed writers deleted (dry run: to delete).
    dry_run : bool
        Nothing was deleted.
    """

    root: Path
    removed: tuple[CacheEntry, ...]
    kept_entries: int
    kept_bytes: int
    skipped: int
    orphans: int
    dry_run: bool

    @property
    def removed_bytes(self) -> int:
        """Size of the removed entries."""
        return sum(e.size for e in self.removed)


def _delete(entry: CacheEntry) -> bool:
    """Delete an entry unless it was used since the scan; say whether it was deleted."""
    try:
        if entry.path.stat().st_mtime_ns != entry.used_ns:
            return False
        entry.path.unlink()
    except OSError:  # gone already, or open elsewhere on a system that refuses
        return False
    return True


def _orphans(temporary: list[tuple[Path, int, int]], now: float, dry_run: bool) -> int:
    """Delete (or count, for a dry run) temporary files unchanged for ORPHAN_AGE."""
    cutoff = (now - ORPHAN_AGE) * 1e9
    count = 0
    for path, _, mtime_ns in temporary:
        if mtime_ns >= cutoff:
            continue
        if dry_run:
            count += 1
            continue
        try:
            path.unlink()
        except OSError:
            continue
        count += 1
    return count


def prune_cache(
    root: str | Path,
    *,
    max_size: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
    protect: Collection[Path] = (),
) -> PruneResult:
    """Delete entries unused for too long, then least recently used ones above a size.

    Safe while other analyses use the cache (see the module's rules).

    Parameters
    ----------
    root : str or Path
        The cache folder (nothing happens when it does not exist).
    max_size : int or None
        Keep at most this many bytes of entries (protected ones included).
    older_than : float or None
        Delete entries last used more than this many seconds ago.
    dry_run : bool
        Only report what would be deleted.
    protect : collection of Path
        Entries never deleted (resolved paths).

    Returns
    -------
    PruneResult
        What was (or would be) deleted, and what is left.
    """
    folder = Path(root).expanduser().resolve()
    now = time.time()
    scan = _scan(folder) if folder.is_dir() else _Scan()
    chosen = select_evictions(scan.entries, max_size, older_than, protect, now)
    removed = tuple(chosen) if dry_run else tuple(e for e in chosen if _delete(e))
    gone = {e.path for e in removed}
    left = [e for e in scan.entries if e.path not in gone]
    return PruneResult(
        root=folder,
        removed=removed,
        kept_entries=len(left),
        kept_bytes=sum(e.size for e in left),
        skipped=len(chosen) - len(removed),
        orphans=_orphans(scan.temporary, now, dry_run),
        dry_run=dry_run,
    )
