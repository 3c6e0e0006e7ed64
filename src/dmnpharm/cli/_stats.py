"""``dmnpharm stats``: a group model on any tidy metrics table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dmnpharm.cli._common import add_common, add_seed, contrast, positive_int
from dmnpharm.stats import N_PERMUTATIONS

__all__ = ["add_parser", "command"]


def _add_model(stats: argparse.ArgumentParser) -> None:
    stats.add_argument("--within", default=None, help="within-subject factor, e.g. condition")
    stats.add_argument(
        "--contrast", type=contrast, default=None, help="levels of --within compared, A-B"
    )
    stats.add_argument("--between", default=None, help="between-subject factor, e.g. group")
    stats.add_argument(
        "--between-contrast", type=contrast, default=None, help="levels of --between, A-B"
    )
    stats.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="subject-level nuisance covariate (repeatable); text columns are dummy-coded",
    )
    stats.add_argument(
        "--variance-groups",
        choices=("auto", "on", "off"),
        default="auto",
        help="two-group comparisons: one error variance per group (G statistic, Aspin-Welch "
        "v, sign flips; Winkler et al. 2014); auto (default) when the groups differ in size",
    )
    stats.add_argument(
        "--run-covariate",
        action="append",
        default=[],
        help="per-run nuisance covariate of a --within model (repeatable), e.g. mean_fd: "
        "its within-subject change enters uncentred, so the estimate is at equal covariate",
    )
    stats.add_argument(
        "--test-covariate", default=None, help="subject covariate whose association is tested"
    )
    stats.add_argument(
        "--trend", default=None, help="numeric column: within-subject linear trend (e.g. dose_mg)"
    )
    stats.add_argument("--block", default=None, help="exchangeability block column, e.g. site")
    stats.add_argument(
        "--subject", default="participant_id", help="subject column (default participant_id)"
    )
    stats.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="leave out (and list) subjects lacking a level instead of refusing",
    )


def _add_rows(stats: argparse.ArgumentParser) -> None:
    """Add the options choosing the rows of a table ``dmnpharm run`` wrote."""
    stats.add_argument(
        "--analysis",
        choices=("primary", "gsr_sensitivity"),
        default="primary",
        help="tables with an analysis column (as run writes): the rows analysed, primary "
        "(default: the configured cleaning) or gsr_sensitivity (the same with global signal "
        "regression)",
    )
    stats.add_argument(
        "--level",
        choices=("network", "region", "edge"),
        default=None,
        help="tables with a level column: the rows analysed (default: network rows, or the "
        "table's only level)",
    )


def add_parser(subs: Any) -> None:
    """Add the ``stats`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    stats = subs.add_parser(
        "stats",
        help="fit a group model to a tidy metrics table",
        description="Fit a group model to a tidy metrics table (one row per run and measure, "
        "such as run's metrics.parquet) and test every measure at once: paired, repeated "
        "measures, dose trend, group x time, brain-behaviour, between-subject contrasts, "
        "normalization towards controls or a mixed model, with permutation inference "
        "(FWER over measures by the maximum statistic, FDR).",
    )
    stats.add_argument(
        "table",
        help="metrics table (TSV or Parquet): participant_id, measure, value; run's "
        "metrics.parquet, metrics_regions.parquet or metrics_edges.parquet as they are (each "
        "region and edge is its own measure: gbc[REGION], edge_fc[REGION_A--REGION_B])",
    )
    stats.add_argument("--out", required=True, help="output folder")
    _add_rows(stats)
    _add_model(stats)
    method = stats.add_mutually_exclusive_group()
    method.add_argument(
        "--mixed",
        action="store_true",
        help="random-intercept mixed model instead (statsmodels MixedLM, REML; t with "
        "Satterthwaite degrees of freedom; Holm over measures, no permutations)",
    )
    method.add_argument(
        "--normalization",
        type=contrast,
        default=None,
        metavar="PATIENT-CONTROL",
        help="test patients' distance to controls (group column) between --contrast times",
    )
    stats.add_argument(
        "--permutations",
        type=positive_int,
        default=N_PERMUTATIONS,
        help=f"permutations (default {N_PERMUTATIONS})",
    )
    stats.add_argument(
        "--effect-ci",
        choices=("noncentral-t", "bootstrap"),
        default="noncentral-t",
        help="interval of d_z: noncentral t (default; exact for normal differences, "
        "Steiger & Fouladi 1997) or the percentile bootstrap over subjects; g and r always "
        "use the bootstrap",
    )
    add_seed(stats, "permutation seed (default 0)")
    add_common(stats)


#: Result rows printed to the terminal; the full table is in results.tsv.
_SHOWN = 20


def command(args: argparse.Namespace) -> int:
    """Fit the model and write its outputs; print the results' path.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 (errors raise).
    """
    from pathlib import Path

    from dmnpharm.config import Inference
    from dmnpharm.io import OutputLayout
    from dmnpharm.pipeline import analyse_table
    from dmnpharm.stats import ModelSpec

    spec = ModelSpec(
        within=args.within,
        contrast=args.contrast,
        between=args.between,
        between_contrast=args.between_contrast,
        covariates=tuple(args.covariate),
        run_covariates=tuple(args.run_covariate),
        variance_groups=args.variance_groups,
        test_covariate=args.test_covariate,
        trend=args.trend,
        block=args.block,
        subject=args.subject,
        incomplete="drop" if args.drop_incomplete else "refuse",
    )
    method = "mixed" if args.mixed else "normalization" if args.normalization else "permutation"
    inference = Inference(n_permutations=args.permutations, seed=args.seed or 0)
    result = analyse_table(
        args.table,
        args.out,
        spec,
        inference,
        overwrite=args.overwrite,
        method=method,
        groups=args.normalization,
        effect_ci=args.effect_ci,
        analysis=args.analysis,
        level=args.level,
    )
    if not args.quiet:
        columns = ["measure", "contrast", "estimate", "statistic", "p_fwer"]
        table = result.results[columns]
        shown = table if len(table) <= _SHOWN else table.nsmallest(_SHOWN, "p_fwer")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
        if len(table) > _SHOWN:
            print(f"... the {_SHOWN} smallest p_fwer of {len(table)} measures", file=sys.stderr)
    print(OutputLayout.stats(Path(args.out)).results_tsv)
    return 0
