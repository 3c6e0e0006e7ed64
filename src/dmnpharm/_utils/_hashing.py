"""Content hashes of input files, for provenance and caching."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

__all__ = ["HashMemo", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes.

    Parameters
    ----------
    path : str or Path
        File to hash; read in 1 MiB chunks, so memory does not grow with size.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashMemo:
    """Remember files' SHA-256 digests so that unchanged files are not read again.

    A digest is reused only while the file's path, size, modification time
    (nanoseconds) and inode are all unchanged; any change, including a rewrite
    with the same content, means the file is hashed again. Digests are kept in
    a small SQLite database, so a second invocation over thousands of large
    images costs a ``stat`` per file instead of a full read.

    Parameters
    ----------
    database : str, Path or None
        The SQLite file (created when missing); None keeps nothing and hashes
        every file every time.
    """

    def __init__(self, database: str | Path | None) -> None:
        self._database = None if database is None else Path(database)
        self._known: dict[tuple[str, int, int, int], str] = {}
        self._new: list[tuple[str, int, int, int, str]] = []
        if self._database is not None and self._database.is_file():
            with closing(sqlite3.connect(self._database)) as connection:
                try:
                    rows = connection.execute(
                        "SELECT path, size, mtime_ns, inode, sha256 FROM digests"
                    ).fetchall()
                except sqlite3.DatabaseError:
                    rows = []
            self._known = {(p, s, m, i): d for p, s, m, i, d in rows}

    def sha256(self, path: str | Path) -> str:
        """Return a file's SHA-256 digest, from memory when the file is unchanged.

        Parameters
        ----------
        path : str or Path
            The file.

        Returns
        -------
        str
            64 lowercase hexadecimal characters.
        """
        return self.sha256_many([path])[0]

    def sha256_many(self, paths: Sequence[str | Path], threads: int | None = None) -> list[str]:
        """Return several files' SHA-256 digests, hashing the unknown ones in parallel.

        Hashing releases the GIL for large buffers, so threads hash several
        images at once (and overlap reads on a network file system).

        Parameters
        ----------
        paths : sequence of str or Path
            The files.
        threads : int or None
            Threads for the files to hash; None: the CPU count, at most 8.

        Returns
        -------
        list of str
            One digest per path, in order.
        """
        keys = []
        for path in paths:
            resolved = Path(path).resolve()
            info = resolved.stat()
            keys.append((str(resolved), info.st_size, info.st_mtime_ns, info.st_ino))
        missing = list(dict.fromkeys(k for k in keys if k not in self._known))
        if missing:
            count = min(len(missing), threads or min(os.cpu_count() or 1, 8))
            with ThreadPoolExecutor(max_workers=max(count, 1)) as pool:
                digests = list(pool.map(sha256_file, [k[0] for k in missing]))
            for key, digest in zip(missing, digests, strict=True):
                self._known[key] = digest
                self._new.append((*key, digest))
        return [self._known[k] for k in keys]

    def save(self) -> None:
        """Write the digests computed since the last save to the database."""
        if self._database is None or not self._new:
            return
        self._database.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self._database, timeout=60)) as connection, connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS digests (path TEXT, size INTEGER, "
                "mtime_ns INTEGER, inode INTEGER, sha256 TEXT, "
                "PRIMARY KEY (path, size, mtime_ns, inode))"
            )
            connection.executemany(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", self._new
            )
        self._new = []
