"""Reading an analysis's files for its snapshot, and the output folder's path in them.

A snapshot (:mod:`dmnpharm.pipeline._snapshots`) keeps every file of a complete
analysis but the log and the results store. The output folder's absolute path
may appear in text files; it is found when the files are read and rewritten
when they are restored elsewhere. A folder named as the start of a longer path,
one in a binary file, or the staging folder's own path makes the snapshot
unsafe: nothing is kept then.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "Collected",
    "collect_outputs",
    "path_forms",
    "rewrite_folder",
]

#: Outputs larger than this are not kept (the demo writes about 190 MiB besides its log).
MAX_SNAPSHOT_BYTES = 256 * 2**20

_TEXT_SUFFIXES = (".json", ".tsv", ".html", ".txt", ".md", ".csv", ".log", ".bib", ".j2")
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./ +=,@%~-]+$")
# What may follow a folder's path where it is named whole: a separator, a quote, the end.
_AFTER_PATH = rb"(?=[/\"'\t\n\r<>,;) ]|$)"


def path_forms(folder: Path) -> list[bytes]:
    """Return how an absolute folder can appear in a file: as a path and as a file URI.

    Parameters
    ----------
    folder : Path
        An absolute folder.

    Returns
    -------
    list of bytes
        Its path and its ``file://`` URI, encoded.
    """
    return [str(folder).encode(), folder.as_uri().encode()]


class _UnsafeError(Exception):
    """A file names a path that cannot be rewritten safely."""


def _names(content: bytes, form: bytes) -> bool:
    """Whether ``content`` names the folder ``form``; raise when a longer name starts so."""
    count = content.count(form)
    if not count:
        return False
    if len(re.findall(re.escape(form) + _AFTER_PATH, content)) != count:
        raise _UnsafeError
    return True


def rewrite_folder(content: bytes, old: bytes, new: bytes) -> bytes:
    """Replace each whole mention of the folder ``old`` by ``new``.

    Parameters
    ----------
    content : bytes
        A file's content.
    old, new : bytes
        One form (:func:`path_forms`) of the folder named, and of its replacement.

    Returns
    -------
    bytes
        The content, ``old`` replaced where it names the folder whole.
    """
    return re.sub(re.escape(old) + _AFTER_PATH, lambda _match: new, content)


def _prefixes(*folders: Path) -> list[bytes]:
    """Return byte strings that every form of every folder contains (one of them at least).

    Each form of a folder (:func:`path_forms`) starts with a form of its parent
    and a separator; a prefix that contains another is dropped, since the shorter
    one is found wherever the longer one is. For the usual plain paths this
    leaves one string, the parent's path, so a file that names no folder costs
    one scan instead of one per form.
    """
    found = {form + b"/" for folder in folders for form in path_forms(folder.parent)}
    found = {form[:-2] + b"/" if form.endswith(b"//") else form for form in found}  # root
    return sorted(a for a in found if not any(b != a and b in a for b in found))


def _skipped(path: Path, skip: set[Path]) -> bool:
    """Whether ``path`` is one of ``skip`` or beside one under its name and a suffix.

    A store's own files (DuckDB's ``.wal``, its ``.tmp`` folder for spilled data)
    come and go while it commits and closes, which may happen while the snapshot
    is read.
    """
    return path in skip or any(str(path).startswith(f"{kept}.") for kept in skip)


def _marker(prefixes: list[bytes]) -> bytes | None:
    """Return a byte that every prefix holds (the separator ``/`` where it can), or None."""
    common = set.intersection(*(set(prefix) for prefix in prefixes)) if prefixes else set()
    if not common:
        return None
    return bytes([ord("/") if ord("/") in common else min(common)])


def _names_any(path: Path, size: int, prefixes: list[bytes], marker: bytes | None) -> bool:
    """Whether a file holds any of ``prefixes``, searched in place (mapped, not read).

    A file without ``marker`` holds none of them: one ``memchr`` pass, several times
    faster than searching for a path (the demo's numeric tables, 87 % of its 200 MB,
    hold no ``/``: 0.05 s against 0.12-0.15 s for the whole search).
    """
    if not size:
        return False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if marker is not None and m.find(marker) < 0:
            return False
        return any(m.find(prefix) >= 0 for prefix in prefixes)


@dataclass(frozen=True)
class Collected:
    """A complete analysis's staged files, as a snapshot keeps them.

    Parameters
    ----------
    read : dict of str to bytes
        The files that hold the start of a path the snapshot may rewrite, by
        relative name: read whole (they are the small text files).
    rewritten : tuple of str
        Those of them that name the output folder (rewritten on restore).
    copied : tuple of (str, int)
        Every other file, by relative name, with its size: its bytes are
        copied into the snapshot as they are, never read by this process.
    """

    read: dict[str, bytes]
    rewritten: tuple[str, ...]
    copied: tuple[tuple[str, int], ...]


def _collect(staging: Path, final: Path, skip: set[Path]) -> Collected | None:
    """Look through the staged files; None when they are too large or name a path unsafely."""
    if not _PLAIN_PATH.match(str(final)):
        return None
    files: dict[str, bytes] = {}
    rewritten = []
    copied = []
    total = 0
    forms, staged = path_forms(final), path_forms(staging.resolve())
    prefixes = _prefixes(final, staging.resolve())
    marker = _marker(prefixes)
    for path in sorted(staging.rglob("*")):
        if not path.is_file() or _skipped(path.resolve(), skip):
            continue
        size = path.stat().st_size
        total += size
        if total > MAX_SNAPSHOT_BYTES:
            return None
        name = path.relative_to(staging).as_posix()
        if not _names_any(path, size, prefixes, marker):
            copied.append((name, size))  # names neither folder (most files, and the largest)
            continue
        content = path.read_bytes()
        if any(form in content for form in staged):
            return None
        try:
            named = [_names(content, form) for form in forms]
        except _UnsafeError:
            return None
        if any(named):
            if not name.endswith(_TEXT_SUFFIXES):
                return None
            rewritten.append(name)
        files[name] = content
    return Collected(files, tuple(rewritten), tuple(copied))


def collect_outputs(staging: Path, final: Path, skip: set[Path]) -> Collected | None:
    """Look through a complete analysis's staged files for its snapshot.

    Only the files that may name the output folder are read; the others are
    listed with their sizes, to be copied into the snapshot as they are.

    Parameters
    ----------
    staging : Path
        The staging folder.
    final : Path
        The output folder it becomes.
    skip : set of Path
        Files not kept (the log, a results store inside the folder), with
        what stands beside them under their names (a store's ``.wal``).

    Returns
    -------
    Collected or None
        The files; None when they are too large or name a path unsafely
        (nothing is kept then).
    """
    return _collect(staging, final.resolve(), {p.resolve() for p in skip})
