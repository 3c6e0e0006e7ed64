"""``dmnpharm query`` and the ``--store`` option of ``run`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from dmnpharm.store import STORE_FILENAME, STORE_TABLES

__all__ = ["FORMATS", "add_query_command", "add_store_option", "format_table", "query_command"]

#: Output formats of ``dmnpharm query``.
FORMATS = ("text", "tsv", "json")


def add_store_option(sub: argparse.ArgumentParser) -> None:
    """Add ``--store PATH`` to a subcommand that writes an analysis.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        The ``run`` or ``demo`` parser.
    """
    sub.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help=f"results store (DuckDB file, or a folder for its {STORE_FILENAME}) to append "
        f"the analysis to (default: OUT/{STORE_FILENAME}); an analysis already there is "
        "refused unless --overwrite",
    )


def add_query_command(subs: Any) -> argparse.ArgumentParser:
    """Add the ``query`` subcommand.

    Parameters
    ----------
    subs : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``query`` parser.
    """
    sub: argparse.ArgumentParser = subs.add_parser(
        "query",
        help="run SQL on a results store and print the table",
        description=f"Run one SQL statement (DuckDB dialect, read-only) on a results store. "
        f"Tables: {', '.join(STORE_TABLES)}; each has analysis_id.",
    )
    sub.add_argument(
        "store", metavar="DIR_OR_DB", help=f"output folder (its {STORE_FILENAME}) or store file"
    )
    sub.add_argument(
        "sql", help='e.g. "SELECT analysis_id, measure, estimate, p_fwer FROM results"'
    )
    sub.add_argument(
        "--format", choices=FORMATS, default="text", help="text (default), tsv or json (records)"
    )
    sub.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    return sub


def _json_value(value: Any) -> Any:
    """Return a JSON-ready form of what ``json`` cannot write itself (times, numpy scalars)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def format_table(table: pd.DataFrame, style: str) -> str:
    """Render a query result.

    Parameters
    ----------
    table : pandas.DataFrame
        The result.
    style : str
        ``text``: aligned columns; ``tsv``: tab separated with a header,
        ``n/a`` for missing; ``json``: a list of row objects (``null`` for
        missing, ISO 8601 times, numbers at full precision).

    Returns
    -------
    str
        The rendering, ending in a newline.
    """
    if style == "tsv":
        return table.to_csv(sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    if style == "json":
        rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        return json.dumps(rows, default=_json_value) + "\n"
    if table.empty:
        return "  ".join(map(str, table.columns)) + "\n(0 rows)\n"
    return table.to_string(index=False) + "\n"


def query_command(args: argparse.Namespace) -> int:
    """Run ``dmnpharm query`` and print the result to standard output.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``query`` arguments.

    Returns
    -------
    int
        0; errors are raised as :class:`dmnpharm.exceptions.InputError`.
    """
    from dmnpharm.store import query  # DuckDB: imported by the commands that use it

    sys.stdout.write(format_table(query(args.store, args.sql), args.format))
    return 0
