"""Content-addressed cache of per-run results.

An entry's key is the SHA-256 of everything its result depends on: the
content hashes of the run's input files, the analytic choices that reach the
run (not, say, the number of permutations of the group test), the stage and
the package version. The same inputs and choices therefore find their result
again in any later invocation, from any output folder; a changed input or
option misses and is computed. Entries are pickles written atomically
(temporary file, then rename), so a process killed while writing leaves no
half-written entry; an entry that keeps whole files (a complete analysis's
outputs) carries them after its pickle, written past the page cache where the
file system allows it, else copied by the kernel
(:mod:`dmnpharm.execution._cache_attach`). A run's entry, too, is written past the
page cache where it can be (:func:`dmnpharm._utils._copy.write_direct`).

The folder is capped (5 GB unless ``$DMNPHARM_CACHE_MAX_SIZE`` or the caller
says otherwise): :meth:`RunCache.enforce_cap`, called once an analysis has
written its entries, deletes the least recently used entries above the cap,
never one the analysis itself read or wrote. An entry's last use is its
modification time, set on every write and every hit. The rules that keep
this safe while other analyses use the same folder are in
:mod:`dmnpharm.execution._cache_manage`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs

from dmnpharm._utils import HashMemo, fill_doc, get_logger
from dmnpharm._utils._copy import write_direct
from dmnpharm._utils._output import atomic_write_with
from dmnpharm._version import __version__
from dmnpharm.execution._cache_attach import AttachedEntry, read_attached, write_attached
from dmnpharm.execution._cache_manage import PruneResult, prune_cache
from dmnpharm.execution._cache_units import MAX_SIZE_ENV, format_size, resolve_max_size

__all__ = [
    "CACHE_ENV",
    "RunCache",
    "cache_dir_source",
    "default_cache_dir",
    "entry_path",
    "legacy_cache_dir",
    "store_entry",
]

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
        ``$DMNPHARM_CACHE`` when set, else the platform's user cache folder
        (``platformdirs.user_cache_dir("dmnpharm")``): ``$XDG_CACHE_HOME/dmnpharm``
        or ``~/.cache/dmnpharm`` on Linux, ``~/Library/Caches/dmnpharm`` on
        macOS, ``dmnpharm/dmnpharm/Cache`` under ``%LOCALAPPDATA%`` on Windows.
    """
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    return Path(platformdirs.user_cache_dir("dmnpharm"))


def legacy_cache_dir() -> Path | None:
    """Return the default cache folder of earlier versions where it is left behind.

    Earlier versions used ``$XDG_CACHE_HOME/dmnpharm``, else
    ``~/.cache/dmnpharm``, on every platform; that is still the default on
    Linux, and elsewhere a folder no longer used.

    Returns
    -------
    Path or None
        That folder when it exists and is not the platform's cache folder;
        else None.
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    old = Path(base) / "dmnpharm"
    platform = Path(platformdirs.user_cache_dir("dmnpharm"))
    return None if not old.is_dir() or old.resolve() == platform.resolve() else old


def cache_dir_source(given: str | Path | None = None) -> tuple[Path, str]:
    """Return the cache folder a command uses, and where that choice came from.

    Parameters
    ----------
    given : str, Path or None
        The folder given on the command line (``--cache``), if any.

    Returns
    -------
    tuple
        ``(folder, source)``; source is ``--cache``, ``$DMNPHARM_CACHE`` or
        ``platform default``.
    """
    if given is not None:
        return Path(given).expanduser(), "--cache"
    if os.environ.get(CACHE_ENV):
        return default_cache_dir(), f"${CACHE_ENV}"
    return default_cache_dir(), "platform default"


def entry_path(root: Path, stage: str, key: str) -> Path:
    """Return where a cache folder keeps a stage's result of a key.

    Parameters
    ----------
    root : Path
        The cache folder.
    stage : str
        The kind of result.
    key : str
        Its key (:meth:`RunCache.key`).

    Returns
    -------
    Path
        ``root/<layout>/<stage>/<first two characters>/<key>.pickle``.
    """
    return root / _LAYOUT / stage / key[:2] / f"{key}.pickle"


def store_entry(root: Path, stage: str, key: str, value: Any) -> Path:
    """Store a result in a cache folder atomically, from any process (a worker's, say).

    Parameters
    ----------
    root : Path
        The cache folder.
    stage : str
        The kind of result.
    key : str
        Its key.
    value : object
        Anything picklable.

    Returns
    -------
    Path
        The entry written; the client marks it in use with :meth:`RunCache.claim`.
    """
    data = pickle.dumps(value, protocol=5)

    def fill(stream: BinaryIO) -> None:
        # Past the page cache where the file system allows it (dmnpharm._utils._copy):
        # an entry is read back only by a later analysis.
        if not write_direct(stream.fileno(), data):
            stream.write(data)

    # Not durable: a power cut can damage an entry, which RunCache.load then computes again.
    return atomic_write_with(entry_path(root, stage, key), fill, durable=False)


class RunCache:
    """Per-run results by content hash, in a folder (or nowhere).

    Parameters
    ----------
    root : str, Path or None
        The cache folder; None disables caching (every lookup misses, nothing
        is written; files are still hashed for the provenance).
    max_size : int, str or None
        Size cap of the folder's entries that :meth:`enforce_cap` keeps:
        bytes, or a size such as ``"5GB"`` (``"off"``: no cap). None:
        ``$DMNPHARM_CACHE_MAX_SIZE``, else 5 GB.

    Raises
    ------
    InputError
        ``max_size`` (or ``$DMNPHARM_CACHE_MAX_SIZE``) is not a size; raised
        here, before any work, rather than when the analysis ends.
    """

    def __init__(self, root: str | Path | None, max_size: int | str | None = None) -> None:
        self.root = None if root is None else Path(root).expanduser().resolve()
        self._hashes = HashMemo(None if self.root is None else self.root / "file_hashes.sqlite")
        self.hits = 0
        self.misses = 0
        self.max_size, self.max_size_source = (
            (None, "disabled") if self.root is None else resolve_max_size(max_size)
        )
        self._used: set[Path] = set()

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

    @fill_doc
    def key(self, stage: str, parts: Mapping[str, Any]) -> str:
        """Return the key of a stage's result from what that result depends on.

        Parameters
        ----------
        %(cache_stage)s
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
        return entry_path(self.root, stage, key)

    @fill_doc
    def claim(self, stage: str, key: str) -> None:
        """Mark an entry another process stored for this analysis as in use (never pruned).

        Parameters
        ----------
        %(cache_stage)s
        %(cache_key)s
        """
        if self.root is not None:
            self._used.add(self._path(stage, key))

    @fill_doc
    def load(self, stage: str, key: str) -> Any | None:
        """Return a stored result, or None when there is none (or it is unreadable).

        Parameters
        ----------
        %(cache_stage)s
        %(cache_key)s

        Returns
        -------
        object or None
            The result as stored.
        """
        return self._read(stage, key, lambda path: pickle.loads(path.read_bytes()))

    @fill_doc
    def load_attached(self, stage: str, key: str) -> AttachedEntry | None:
        """Return an entry stored with :meth:`store_attached`, open, or None.

        Parameters
        ----------
        %(cache_stage)s
        %(cache_key)s

        Returns
        -------
        AttachedEntry or None
            Its value and files (close it once they are copied out); None
            when there is none, or it is damaged or unreadable.
        """
        entry: AttachedEntry | None = self._read(stage, key, read_attached)
        return entry

    def _read(self, stage: str, key: str, read: Callable[[Path], Any]) -> Any | None:
        """Read an entry with ``read``, counting the hit or miss; drop an unreadable one."""
        if self.root is None:
            self.misses += 1
            return None
        path = self._path(stage, key)
        try:
            value = read(path)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (
            pickle.UnpicklingError,
            EOFError,
            AttributeError,
            ImportError,
            ValueError,
            TypeError,
        ) as exc:  # damaged (entries are not written durably) or from another version
            _LOG.warning("cache entry %s is unreadable (%s); computing it again", path, exc)
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        self._used.add(path)
        # The entry's modification time is its last use (access times are unreliable);
        # an entry deleted meanwhile, or a read-only cache, leaves the value good.
        with contextlib.suppress(OSError):
            os.utime(path)
        return value

    @fill_doc
    def store(self, stage: str, key: str, value: Any) -> None:
        """Store a result atomically (nothing happens when caching is disabled).

        Parameters
        ----------
        %(cache_stage)s
        %(cache_key)s
        value : object
            Anything picklable.
        """
        if self.root is None:
            return
        self._used.add(store_entry(self.root, stage, key, value))

    @fill_doc
    def store_attached(
        self,
        stage: str,
        key: str,
        value: Any,
        files: Sequence[tuple[Path, int]],
        last: Path | None = None,
        ready: Callable[[], object] | None = None,
    ) -> None:
        """Store a result with whole files attached, past the page cache where possible.

        Nothing happens when caching is disabled. Read it back with
        :meth:`load_attached` (the layout: :mod:`dmnpharm.execution._cache_attach`).

        Parameters
        ----------
        %(cache_stage)s
        %(cache_key)s
        value : object
            Anything picklable (what the files are, say).
        files : sequence of (Path, int)
            The files, in order, with the size each has.
        last : Path or None
            A file attached after them whole, at its length once ``ready`` returns.
        ready : callable or None
            Called once ``files`` are written, before ``last`` is read (it may
            wait); an exception it raises stores nothing.

        Raises
        ------
        EOFError
            A file is shorter than its size (nothing is stored).
        OSError
            A file cannot be read, or the entry cannot be written.
        """
        if self.root is None:
            return
        self._used.add(write_attached(self._path(stage, key), value, files, last, ready))

    @property
    def in_use(self) -> frozenset[Path]:
        """The entries this cache object read or wrote: never deleted by :meth:`enforce_cap`."""
        return frozenset(self._used)

    def enforce_cap(self) -> PruneResult | None:
        """Delete the least recently used entries above the size cap, except those in use.

        Call it once the analysis has written its entries. It never raises
        for a file-system problem (the analysis's results are already safe):
        that is logged as a warning.

        Returns
        -------
        PruneResult or None
            What was deleted; None when caching is disabled, there is no cap,
            or the folder could not be pruned.
        """
        if self.root is None or self.max_size is None:
            return None
        try:
            result = prune_cache(self.root, max_size=self.max_size, protect=self._used)
        except OSError as exc:
            _LOG.warning("could not prune cache %s (%s); it may exceed its cap", self.root, exc)
            return None
        cap = format_size(self.max_size)
        if result.removed:
            _LOG.info(
                "cache: removed %d least recently used entries (%s) to keep %s under its cap "
                "of %s; %d entries (%s) remain",
                len(result.removed),
                format_size(result.removed_bytes),
                self.root,
                cap,
                result.kept_entries,
                format_size(result.kept_bytes),
            )
        if result.kept_bytes > self.max_size:
            _LOG.warning(
                "cache %s still holds %s, above its cap of %s, in entries in use by this "
                "analysis (or one running beside it); a later analysis will remove them. To "
                "keep them, raise the cap, e.g. %s=20GB",
                self.root,
                format_size(result.kept_bytes),
                cap,
                MAX_SIZE_ENV,
            )
        return result
