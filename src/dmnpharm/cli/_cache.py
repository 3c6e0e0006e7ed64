"""``dmnpharm cache``: see and prune the per-run result cache.

``cache info`` prints where the cache is, its size, entries, last uses and
size cap (``--format json`` for scripts). ``cache prune`` deletes entries
unused for ``--older-than`` and then the least recently used ones above
``--max-size`` (default: the cap, ``$DMNPHARM_CACHE_MAX_SIZE`` or 5 GB);
``--dry-run`` only lists what would go. Pruning is safe while analyses run
(docs/cache.md).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from dmnpharm.exceptions import InputError, UsageError
from dmnpharm.execution._cache import CACHE_ENV, cache_dir_source, legacy_cache_dir
from dmnpharm.execution._cache_manage import CacheInfo, PruneResult, cache_info, prune_cache
from dmnpharm.execution._cache_units import (
    MAX_SIZE_ENV,
    format_size,
    parse_age,
    parse_size,
    resolve_max_size,
)

__all__ = ["add_cache_command", "cache_command"]

_CACHE_HELP = f"the cache folder (default: ${CACHE_ENV}, else the platform's user cache folder)"


def _add_folder_and_logging(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--cache", default=None, metavar="DIR", help=_CACHE_HELP)
    sub.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")


def add_cache_command(subs: Any) -> argparse.ArgumentParser:
    """Add the ``cache`` command and its ``info`` and ``prune`` subcommands.

    Parameters
    ----------
    subs : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``cache`` parser.
    """
    cache: argparse.ArgumentParser = subs.add_parser(
        "cache",
        help="see the per-run result cache, or prune it",
        description="Show where the per-run result cache is and how large it is (info), or "
        "delete its least recently used entries (prune). See docs/cache.md.",
    )
    actions = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = actions.add_parser(
        "info", help="where the cache is, its size, entries, last uses and size cap"
    )
    info.add_argument("--format", choices=("text", "json"), default="text", help="default text")
    _add_folder_and_logging(info)
    prune = actions.add_parser(
        "prune",
        help="delete entries unused for --older-than, then the least recently used ones "
        "above --max-size",
    )
    prune.add_argument(
        "--max-size",
        default=None,
        metavar="SIZE",
        help=f"keep at most this much, e.g. 500MB, 5GB, 1.5G (default: the cap, ${MAX_SIZE_ENV} "
        "or 5GB; 0 empties the cache)",
    )
    prune.add_argument(
        "--older-than",
        default=None,
        metavar="AGE",
        help="delete entries last used longer ago than this, e.g. 30d, 12h, 90min, 2w",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
    )
    _add_folder_and_logging(prune)
    cache.set_defaults(verbose=False, quiet=False)
    return cache


def _when(ns: int | None, now: float) -> str:
    """Return a last use as local time and how long ago."""
    if ns is None:
        return "-"
    seconds = max(0.0, now - ns / 1e9)
    ago = next(
        f"{seconds / size:.0f} {unit} ago"
        for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))
        if seconds >= size or unit == "s"
    )
    return f"{datetime.fromtimestamp(ns / 1e9):%Y-%m-%d %H:%M:%S} ({ago})"


def _cap_line(info: CacheInfo) -> str:
    if info.max_size is None:
        return f"none ({info.max_size_source}=off)"
    line = f"{format_size(info.max_size)} ({info.max_size_source})"
    if info.over_cap:
        line += (
            f": {format_size(info.over_cap)} over; the next analysis, or 'dmnpharm cache "
            "prune', removes the least recently used entries"
        )
    return line


def info_text(info: CacheInfo, source: str, legacy: Path | None = None) -> str:
    """Write ``cache info`` as plain text.

    Parameters
    ----------
    info : CacheInfo
        From :func:`dmnpharm.execution._cache_manage.cache_info`.
    source : str
        Where the folder came from (``--cache``, ``$DMNPHARM_CACHE``, ...).
    legacy : Path or None
        An earlier default folder that still exists and is not in use.

    Returns
    -------
    str
        Lines ending in a newline.
    """
    now = time.time()
    stages = ", ".join(f"{k} {n} ({format_size(b)})" for k, (n, b) in info.stages.items())
    lines = [
        f"cache folder  {info.root} ({source}){'' if info.exists else ': does not exist yet'}",
        f"total size    {format_size(info.total_bytes)}",
        f"entries       {info.entries} ({format_size(info.entry_bytes)})"
        + (f": {stages}" if stages else ""),
        f"last used     oldest {_when(info.oldest_use_ns, now)}",
        f"              newest {_when(info.newest_use_ns, now)}",
        f"size cap      {_cap_line(info)}",
        f"other files   {format_size(info.other_bytes)} (input files' digests)",
    ]
    if info.temporary:
        lines.append(
            f"in progress   {info.temporary} files ({format_size(info.temporary_bytes)}): "
            "writes in progress, or left by killed processes (pruned after a day)"
        )
    if legacy is not None:
        lines.append(
            f"note          the default folder of earlier versions, {legacy}, still exists and "
            f"is no longer used: delete it, or set {CACHE_ENV}={legacy} to keep using it"
        )
    return "\n".join(lines) + "\n"


def prune_text(result: PruneResult, rules: list[str]) -> str:
    """Write the outcome of ``cache prune`` as plain text.

    Parameters
    ----------
    result : PruneResult
        From :func:`dmnpharm.execution._cache_manage.prune_cache`.
    rules : list of str
        The rules applied, in words.

    Returns
    -------
    str
        Lines ending in a newline.
    """
    before = result.kept_entries + len(result.removed)
    count = f"{len(result.removed)} of {before} entries ({format_size(result.removed_bytes)})"
    left = f"{result.kept_entries} entries ({format_size(result.kept_bytes)})"
    if result.dry_run:
        lines = [f"dry run: would remove {count} from {result.root}, leaving {left}"]
    else:
        lines = [f"removed {count} from {result.root}; {left} remain"]
    lines.append(f"rules: {'; '.join(rules)}")
    if result.skipped:
        lines.append(f"kept {result.skipped} chosen entries: used or deleted elsewhere meanwhile")
    if result.orphans:
        verb = "would remove" if result.dry_run else "removed"
        lines.append(f"{verb} {result.orphans} temporary files left by killed processes")
    return "\n".join(lines) + "\n"


def _info(args: argparse.Namespace) -> int:
    folder, source = cache_dir_source(args.cache)
    info = cache_info(folder)
    if args.format == "json":
        print(json.dumps({**info.to_dict(), "folder_source": source}, indent=2))
        return 0
    legacy = legacy_cache_dir()
    unused = legacy is not None and legacy.resolve() != info.root
    print(info_text(info, source, legacy if unused else None), end="")
    return 0


def _prune_rules(args: argparse.Namespace) -> tuple[int | None, float | None, list[str]]:
    """Return the size and age limits of ``prune`` and the rules in words."""
    if args.max_size is not None:
        max_size, source = parse_size(args.max_size, "--max-size"), "--max-size"
    else:
        max_size, source = resolve_max_size(None)
    older = None if args.older_than is None else parse_age(args.older_than, "--older-than")
    rules = []
    if older is not None:
        rules.append(f"entries unused for more than {args.older_than}")
    if max_size is not None:
        rules.append(f"least recently used first, down to {format_size(max_size)} ({source})")
    return max_size, older, rules


def _prune(args: argparse.Namespace) -> int:
    folder, _ = cache_dir_source(args.cache)
    try:
        max_size, older, rules = _prune_rules(args)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if not folder.is_dir():
        print(f"cache folder {folder} does not exist: nothing to prune")
        return 0
    if not rules:
        print(f"no size cap ({MAX_SIZE_ENV}=off) and no --max-size or --older-than: nothing to do")
        return 0
    result = prune_cache(folder, max_size=max_size, older_than=older, dry_run=args.dry_run)
    print(prune_text(result, rules), end="")
    return 0


def cache_command(args: argparse.Namespace) -> int:
    """Run ``dmnpharm cache info`` or ``dmnpharm cache prune``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_cache_command`.

    Returns
    -------
    int
        0 (a bad ``--max-size`` or ``--older-than`` raises
        :class:`~dmnpharm.exceptions.UsageError`, exit status 2).
    """
    if args.cache_command == "info":
        return _info(args)
    return _prune(args)
