"""``dmnpharm catalog`` and ``dmnpharm compare``: the evidence catalog on the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dmnpharm import catalog as evidence
from dmnpharm.exceptions import InputError
from dmnpharm.io import OutputLayout

if TYPE_CHECKING:
    from dmnpharm.catalog import Catalog

__all__ = ["add_catalog_commands", "dispatch_catalog"]

_TABLE_HELP = {
    "drugs": "agents with their class and molecular targets",
    "studies": "publications, one row per finding (measure, direction, effect)",
    "claims": "the claims of DESIGN.md with their verdict and evidence counts",
}


def _add_catalog_file(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--catalog",
        default=None,
        metavar="TOML",
        help="another catalog file (default: the one shipped with dmnpharm)",
    )
    sub.set_defaults(verbose=False, quiet=False)


def add_catalog_commands(
    subs: argparse._SubParsersAction[argparse.ArgumentParser],
    add_common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the ``catalog`` and ``compare`` subcommands.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommand registry of the ``dmnpharm`` parser.
    add_common : callable
        Adds ``--overwrite``, ``-v`` and ``-q`` to a subcommand.
    """
    catalog = subs.add_parser(
        "catalog", help="query the evidence catalog (drugs, publications, claims, one of them)"
    )
    tables = catalog.add_subparsers(dest="catalog_command", required=True, metavar="QUERY")
    for kind, text in _TABLE_HELP.items():
        aliases = ["publications"] if kind == "studies" else []
        sub = tables.add_parser(kind, help=text, aliases=aliases)
        sub.set_defaults(table_kind=kind)
        sub.add_argument("--drug", default=None, help="agent (id or name) or drug class id")
        sub.add_argument(
            "--population",
            default=None,
            help="population id (healthy, mdd, ...) or 'patients' (all but healthy)",
        )
        sub.add_argument("--measure", default=None, help="measure, e.g. dmn_within_fc")
        sub.add_argument(
            "--format", choices=("text", "json", "tsv"), default="text", help="default text"
        )
        _add_catalog_file(sub)
    one = tables.add_parser("show", help="every field of one publication")
    one.add_argument("study_id", metavar="STUDY_ID", help="publication id, e.g. schaefer2014")
    _add_catalog_file(one)
    summary = tables.add_parser(
        "summary", help="the evidence on one drug class: counts by direction, design, gaps"
    )
    summary.add_argument("--drug", required=True, help="agent (id or name) or drug class id")
    summary.add_argument("--format", choices=("text", "json"), default="text")
    _add_catalog_file(summary)
    catalog.set_defaults(verbose=False, quiet=False)

    cmp = subs.add_parser(
        "compare", help="compare a study's group results with the evidence catalog"
    )
    cmp.add_argument(
        "results", metavar="RESULTS_DIR", help="--out folder of 'dmnpharm run' or 'stats'"
    )
    cmp.add_argument("--drug", required=True, help="agent (id or name) or drug class id")
    cmp.add_argument(
        "--population",
        default="healthy",
        help="healthy (default), patients (all but healthy) or a population id",
    )
    cmp.add_argument("--contrast", default=None, help="contrast of the results, when several")
    cmp.add_argument("--out", default=None, help="output folder (default RESULTS_DIR/compare)")
    cmp.add_argument("--format", choices=("text", "json"), default="text")
    cmp.add_argument(
        "--catalog", default=None, metavar="TOML", help="another catalog file (default: shipped)"
    )
    add_common(cmp)


def _results_table(folder: str | Path) -> Path:
    """Return the group results table of a ``run`` or ``stats`` output folder."""
    layout = OutputLayout(Path(folder))
    path = layout.existing_results()
    if path is None:
        raise InputError(
            f"results table '{layout.results_tsv}' does not exist; give the --out folder of "
            "'dmnpharm run' (with group/results.tsv) or of 'dmnpharm stats' (with results.tsv)"
        )
    return path


def _load(args: argparse.Namespace) -> Catalog:
    path = getattr(args, "catalog", None)
    return evidence.load_catalog(path) if path else evidence.load_catalog()


def dispatch_catalog(args: argparse.Namespace) -> int:
    """Run ``dmnpharm catalog ...`` or ``dmnpharm compare``; print the answer.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of one of the subcommands added by
        :func:`add_catalog_commands`.

    Returns
    -------
    int
        0 on success (errors raise :class:`~dmnpharm.exceptions.DmnpharmError`).
    """
    catalog = _load(args)
    if args.command == "compare":
        from dmnpharm.report import write_comparison  # matplotlib: only when drawing

        path = _results_table(args.results)
        result = evidence.compare(
            evidence.read_results(path),
            args.drug,
            args.population,
            catalog=catalog,
            contrast=args.contrast,
            source=str(path),
        )
        out = Path(args.out) if args.out else Path(args.results) / "compare"
        written = write_comparison(result, out, overwrite=args.overwrite)
        if args.format == "json":
            payload = json.loads((written / "compare.json").read_text(encoding="utf-8"))
            print(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            print(evidence.comparison_text(result), end="")
            print(written)
        return 0
    command = args.catalog_command
    if command == "show":
        print(evidence.show(catalog, args.study_id), end="")
    elif command == "summary":
        summary = evidence.evidence_summary(catalog, args.drug)
        if args.format == "json":
            print(json.dumps(summary, indent=2, ensure_ascii=False))
        else:
            print(evidence.summary_text(summary), end="")
    else:
        kind = args.table_kind
        table = evidence.table_of(catalog, kind, args.drug, args.population, args.measure)
        print(evidence.render(table, args.format), end="")
    return 0
