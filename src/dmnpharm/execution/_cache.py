"""Content-addressed cache of per-run results.

An entry's key is the SHA-256 of everything its result depends on: the
content hashes of the run's input files, the analytic choices that reach the
run (not, say, the number of permutations of the group test), the stage and
the package version. The same inputs and choices therefore find their result
again in any later invocation, from any output folder; a changed input or
option misses and is computed. Entries are pickles written atomically
(temporary file, then rename), so a process killed while writing leaves no
half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dmnpharm._utils import HashMemo, atomic_write_bytes, get_logger
from dmnpharm._version import __version__

__all__ = ["CACHE_ENV", "RunCache", "default_cache_dir"]

_LOG = get_logger("execution")

#: Environment variable naming the cache folder.
CACHE_ENV = "DMNPHARM_CACHE"

# Bumped when the layout or the meaning of entries changes.
_LAYOUT = "v1"


def default_cache_dir() -> Path:
    """Return the cache folder used when none is given.

    Returns
    -------
    Path
        ``$DMNPHARM_CACHE`` when set, else ``$XDG_CACHE_HOME/dmnpharm``, else
        ``~/.cache/dmnpharm``.
    """
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dmnpharm"


class RunCache:
    """Per-run results by content hash, in a folder (or nowhere).

    Parameters
    ----------
    root : str, Path or None
        The cache folder; None disables caching (every lookup misses, nothing
        is written; files are still hashed for the provenance).
    """

    def __init__(self, root: str | Path | None) -> None:
        self.root = None if root is None else Path(root).expanduser().resolve()
        self._hashes = HashMemo(None if self.root is None else self.root / "file_hashes.sqlite")
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether results are looked up and stored."""
        return self.root is not None

    def file_hash(self, path: str | Path) -> str:
        """Return a file's SHA-256, reusing the digest of an unchanged file.

        Parameters
        ----------
        path : str or Path
            An input file.

        Returns
        -------
        str
            Hexadecimal digest.
        """
        return self._hashes.sha256(path)

    def file_hashes(self, paths: list[Path]) -> list[str]:
        """Return several files' SHA-256 digests, hashing unknown ones in parallel.

        Parameters
        ----------
        paths : list of Path
            Input files.

        Returns
        -------
        list of str
            Hexadecimal digests, in order.
        """
        return self._hashes.sha256_many(paths)

    def save_hashes(self) -> None:
        """Keep the digests computed in this invocation for the next one."""
        self._hashes.save()

    def key(self, stage: str, parts: Mapping[str, Any]) -> str:
        """Return the key of a stage's result from what that result depends on.

        Parameters
        ----------
        stage : str
            The kind of result (``signals``, ``run``).
        parts : mapping
            JSON-serialisable description of the inputs (content hashes) and
            of the options the result depends on.

        Returns
        -------
        str
            64 hexadecimal characters.
        """
        text = json.dumps(
            {"layout": _LAYOUT, "stage": stage, "version": __version__, "parts": parts},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, stage: str, key: str) -> Path:
        if self.root is None:
            raise RuntimeError("the cache is disabled")
        return self.root / _LAYOUT / stage / key[:2] / f"{key}.pickle"

    def load(self, stage: str, key: str) -> Any | None:
        """Return a stored result, or None when there is none (or it is unreadable).

        Parameters
        ----------
        stage : str
            The kind of result.
        key : str
            From :meth:`key`.

        Returns
        -------
        object or None
            The result as stored.
        """
        if self.root is None:
            self.misses += 1
            return None
        path = self._path(stage, key)
        try:
            value = pickle.loads(path.read_bytes())
        except FileNotFoundError:
            self.misses += 1
            return None
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            _LOG.warning("cache entry %s is unreadable (%s); computing it again", path, exc)
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return value

    def store(self, stage: str, key: str, value: Any) -> None:
        """Store a result atomically (nothing happens when caching is disabled).

        Parameters
        ----------
        stage : str
            The kind of result.
        key : str
            From :meth:`key`.
        value : object
            Anything picklable.
        """
        if self.root is None:
            return
        atomic_write_bytes(self._path(stage, key), pickle.dumps(value, protocol=5))
