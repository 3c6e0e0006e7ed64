"""``dmnpharm catalog`` and ``dmnpharm compare``: the evidence catalog on the command line.

Every query and ``compare`` read the bundled catalog (or ``--catalog``) and
merge the local catalog into it when that file exists (``$DMNPHARM_CATALOG``
or ``~/.dmnpharm/catalog.toml``); its studies have ``source = "local"``.
``catalog add`` and ``catalog add-result`` append studies to the local
catalog, checked against the bundled one; ``catalog template`` prints a study
to fill in.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from dmnpharm import catalog as evidence
from dmnpharm.cli._measures import results_measure
from dmnpharm.exceptions import InputError
from dmnpharm.io import OutputLayout

if TYPE_CHECKING:
    from dmnpharm.catalog import Catalog

__all__ = ["add_catalog_commands", "dispatch_catalog"]

_TABLE_HELP = {
    "drugs": "agents with their class and molecular targets",
    "studies": "publications, one row per study (in JSON with its findings nested)",
    "findings": "findings, one row per finding, with its study_id and the study's design",
    "claims": "claims about drug classes with their verdict and evidence counts",
}

# The name of dmnpharm.catalog.LOCAL_CATALOG_ENV, written out: importing the catalog's
# modules here would load the metrics stack at every start of the command line.
LOCAL_CATALOG_ENV = "DMNPHARM_CATALOG"

_LOCAL_HELP = (
    f"local catalog to add to (default ${LOCAL_CATALOG_ENV}, else ~/.dmnpharm/catalog.toml); "
    "the queries merge it only when it is that file"
)


def _add_catalog_file(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--catalog",
        default=None,
        metavar="TOML",
        help="another catalog file instead of the bundled one (the local catalog, "
        f"${LOCAL_CATALOG_ENV} or ~/.dmnpharm/catalog.toml, is merged into either)",
    )
    sub.set_defaults(verbose=False, quiet=False)


def _add_table_parsers(tables: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        sub.add_argument(
            "--measure",
            default=None,
            help="measure, as results tables name it (e.g. dmn_within_fc) or as the "
            "simulator does (within_fc_DMN)",
        )
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
    summary.add_argument("--format", choices=("text", "json"), default="text", help="default text")
    _add_catalog_file(summary)


def _add_result_parser(tables: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = tables.add_parser(
        "add-result",
        help="add the results of 'dmnpharm run' or 'stats' to the local catalog as a study",
    )
    sub.add_argument("results", metavar="RESULTS_DIR", help="--out folder of 'run' or 'stats'")
    sub.add_argument("--id", required=True, help="new study id, e.g. smith2026")
    sub.add_argument("--first-author", required=True, help="surname of the first author")
    sub.add_argument("--year", type=int, default=None, help="publication year, if published")
    sub.add_argument("--journal", default=None, help="journal, volume and pages, if published")
    sub.add_argument("--doi", default=None, help="DOI, if published")
    sub.add_argument("--drug", default=None, help="agent id or class (default: the run's --drug)")
    sub.add_argument(
        "--population", default=None, help="population id (default: the run's --population)"
    )
    sub.add_argument(
        "--design",
        choices=evidence.DESIGNS,
        default=None,
        help="study design (default: crossover for a paired analysis)",
    )
    sub.add_argument("--dose", default=None, help="dose, route and timing, e.g. '20 mg oral'")
    sub.add_argument("--n", default=None, help="sample size as text (default: the table's n)")
    sub.add_argument("--modality", choices=evidence.MODALITIES, default=None, help="default rest")
    sub.add_argument("--contrast", default=None, help="contrast of the results, when several")
    sub.add_argument("--note", default=None, help="one line on the study")
    sub.add_argument("--catalog", default=None, metavar="TOML", help=_LOCAL_HELP)


def _add_local_parsers(tables: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tables.add_parser(
        "template", help="print a commented TOML template of one study with one finding"
    )
    add = tables.add_parser(
        "add", help="validate your own studies (a TOML file) and add them to the local catalog"
    )
    add.add_argument("file", metavar="FILE", help="TOML file of [[studies]] tables")
    add.add_argument("--catalog", default=None, metavar="TOML", help=_LOCAL_HELP)
    _add_result_parser(tables)


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
        "catalog",
        help="query the evidence catalog (drugs, studies, findings, claims) or add your own",
        description="Query the evidence catalog of drugs and the DMN, merged with your local "
        f"catalog (${LOCAL_CATALOG_ENV}, else ~/.dmnpharm/catalog.toml), or add your own "
        "studies and results to the local catalog.",
    )
    tables = catalog.add_subparsers(dest="catalog_command", required=True, metavar="QUERY")
    _add_table_parsers(tables)
    _add_local_parsers(tables)
    catalog.set_defaults(verbose=False, quiet=False)

    cmp = subs.add_parser(
        "compare",
        help="compare a study's group results with the evidence catalog",
        description="Put the group results of 'dmnpharm run' or 'stats' beside the catalog's "
        "claims and findings for a drug: each claim judged only by the analysis that tests "
        "it, measures matched by definition, and the literature's effects pooled with this "
        "study's. Writes RESULTS_DIR/compare (or --out).",
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
    cmp.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="what is printed: text (default) or the JSON of compare.json",
    )
    cmp.add_argument(
        "--catalog",
        default=None,
        metavar="TOML",
        help="another catalog file instead of the bundled one (the local catalog is merged)",
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


class _Loaded(NamedTuple):
    """The catalog a query reads, and which of its studies came from the local catalog."""

    catalog: Catalog
    local_ids: frozenset[str]
    local_path: Path


def _load(args: argparse.Namespace) -> _Loaded:
    from dmnpharm.catalog import local_catalog_path, merge_local, read_local_studies

    """Read the bundled catalog (or ``--catalog``) and merge the local catalog into it."""
    path = getattr(args, "catalog", None)
    base = evidence.load_catalog(path) if path else evidence.load_catalog()
    local = local_catalog_path()
    if path and Path(path).resolve() == local.resolve():
        return _Loaded(base, frozenset(), local)
    studies = read_local_studies(local, base)
    return _Loaded(merge_local(base, studies), frozenset(s.id for s in studies), local)


def _local_target(args: argparse.Namespace) -> Path:
    from dmnpharm.catalog import local_catalog_path

    return Path(args.catalog).expanduser() if args.catalog else local_catalog_path()


def _compare(args: argparse.Namespace) -> int:
    from dmnpharm.report import write_comparison  # matplotlib: only when drawing

    path = _results_table(args.results)
    result = evidence.compare(
        evidence.read_results(path),
        args.drug,
        args.population,
        catalog=_load(args).catalog,
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


def _table(args: argparse.Namespace) -> int:
    from dmnpharm.catalog import study_records

    measure = None if args.measure is None else results_measure(args.measure)
    loaded = _load(args)
    filters = (args.drug, args.population, measure)
    if args.table_kind == "studies" and args.format == "json":
        rows = study_records(loaded.catalog, *filters, local=loaded.local_ids)
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    table = evidence.table_of(loaded.catalog, args.table_kind, *filters, local=loaded.local_ids)
    print(evidence.render(table, args.format), end="")
    return 0


def _show(args: argparse.Namespace) -> int:
    loaded = _load(args)
    print(evidence.show(loaded.catalog, args.study_id), end="")
    if args.study_id.strip().lower() in loaded.local_ids:
        print(f"  source: local catalog {loaded.local_path}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    summary = evidence.evidence_summary(_load(args).catalog, args.drug)
    if args.format == "json":
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(evidence.summary_text(summary), end="")
    return 0


def _template(_: argparse.Namespace) -> int:
    from dmnpharm.catalog import template_text

    print(template_text(evidence.load_catalog()), end="")
    return 0


def _add(args: argparse.Namespace) -> int:
    from dmnpharm.catalog import add_studies, read_study_file

    target = _local_target(args)
    rows = read_study_file(args.file)
    added = add_studies(rows, target, evidence.load_catalog(), f"study file '{args.file}'")
    for study_id in added:
        print(f"added {study_id} to {target}")
    return 0


def _read_provenance(folder: str | Path) -> dict[str, Any]:
    """Return a results folder's provenance record; empty when it has none."""
    file = OutputLayout(Path(folder)).provenance
    if not file.is_file():
        return {}
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read provenance '{file}': {err}") from err
    if not isinstance(record, dict):
        raise InputError(f"provenance '{file}' is not a JSON object")
    return record


def _add_result(args: argparse.Namespace) -> int:
    from dmnpharm.catalog import RESULT_FIELDS, add_studies, study_from_results

    target = _local_target(args)
    path = _results_table(args.results)
    catalog = evidence.load_catalog()
    row = study_from_results(
        evidence.read_results(path),
        _read_provenance(args.results),
        {name: getattr(args, name) for name in RESULT_FIELDS},
        catalog,
        str(path.resolve()),
        args.contrast,
    )
    add_studies([row], target, catalog, f"results folder '{args.results}'")
    print(f"added {row['id']} ({len(row['findings'])} findings) to {target}")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "show": _show,
    "summary": _summary,
    "template": _template,
    "add": _add,
    "add-result": _add_result,
}


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
    if args.command == "compare":
        return _compare(args)
    return _COMMANDS.get(args.catalog_command, _table)(args)
