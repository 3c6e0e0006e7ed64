"""``dmnpharm``: the parser of every command, and dispatch to the command's module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from dmnpharm._utils import LOGGER_NAME
from dmnpharm._version import __version__
from dmnpharm.cli import _power, _predict, _run, _simulate, _stats, _validate
from dmnpharm.cli._cache import add_cache_command, cache_command
from dmnpharm.cli._catalog import add_catalog_commands, dispatch_catalog
from dmnpharm.cli._common import add_common
from dmnpharm.cli._query import add_query_command, query_command
from dmnpharm.exceptions import DmnpharmError, RunFailuresError, UsageError

# The commands' heavy machinery (SciPy, scikit-learn, nilearn, matplotlib, Dask) is
# imported inside the functions that use it: a rerun with nothing to do, `--help` and
# `--version` then start in well under a second instead of about two and a half.

__all__ = ["COMMANDS", "RUN_FAILURES_EXIT", "build_parser", "main"]

#: Exit code of ``run``/``demo`` when some runs failed and ``--allow-failures`` was not given.
RUN_FAILURES_EXIT = 3

#: Exit status of a usage error: unknown option, or an option value that cannot be used.
USAGE_EXIT = 2

#: What each command runs, given its parsed options.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "simulate": _simulate.command,
    "run": _run.command,
    "demo": _run.demo_command,
    "validate": _validate.command,
    "stats": _stats.command,
    "power": _power.command,
    "predict": _predict.command,
    "query": query_command,
    "catalog": dispatch_catalog,
    "compare": dispatch_catalog,
    "cache": cache_command,
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``dmnpharm``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one subcommand per job.
    """
    parser = argparse.ArgumentParser(
        prog="dmnpharm",
        description="Measure how psychotropic drugs change the default mode network.",
    )
    parser.add_argument("--version", action="version", version=f"dmnpharm {__version__}")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _simulate.add_parser(subs)
    _run.add_run_parser(subs)
    _validate.add_parser(subs)
    _stats.add_parser(subs)
    _power.add_parser(subs)
    _predict.add_parser(subs)
    _run.add_demo_parser(subs)
    add_catalog_commands(subs, add_common)
    add_query_command(subs)
    add_cache_command(subs)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dmnpharm: %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dmnpharm`` with the given arguments and return the exit code.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        0 on success, 1 for a dmnpharm error (the message names the file,
        row or value), 2 for a usage error (including a bad option value), 3
        when some runs failed while computing (no group result is written;
        see ``--allow-failures``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else 2
    handler = _configure_logging(args.verbose, args.quiet)
    for note in getattr(args, "deprecations", []):
        logging.getLogger(LOGGER_NAME).warning("%s", note)
    try:
        return COMMANDS[args.command](args)
    except RunFailuresError as exc:
        print(f"dmnpharm {args.command}: error: {exc}", file=sys.stderr)
        return RUN_FAILURES_EXIT
    except UsageError as exc:
        print(f"dmnpharm {args.command}: usage error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    except DmnpharmError as exc:
        print(f"dmnpharm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        logging.getLogger(LOGGER_NAME).removeHandler(handler)
