"""``dmnpharm run`` and ``dmnpharm demo``: a study analysed into an output folder."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dmnpharm.cli._common import (
    add_common,
    add_denoise,
    add_execution,
    analysis_config,
    log_level,
)
from dmnpharm.cli._model_options import add_analysis
from dmnpharm.cli._query import add_store_option
from dmnpharm.cli._simulate import add_overrides, study_spec
from dmnpharm.cli._study_options import add_study_options, study_of

__all__ = ["add_demo_parser", "add_run_parser", "command", "demo_command"]

_SHOWN = ["measure", "contrast", "estimate", "ci_low", "ci_high", "p_fwer"]


def add_run_parser(subs: Any) -> None:
    """Add the ``run`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    run_parser = subs.add_parser(
        "run",
        help="analyse a study: BIDS with fMRIPrep derivatives (volume or CIFTI), XCP-D "
        "outputs, an ROI-level folder or a run table",
        description="Analyse a study: validate it, clean and measure every run (the DMN "
        "metrics bundle), test the drug effect (paired contrast, or a between-subject model "
        "with --between) and write the results, BIDS derivatives, a results store and an "
        "HTML report. STUDY is a BIDS folder with fMRIPrep derivatives (volume images or "
        "CIFTI grayordinates), XCP-D outputs, an ROI-level folder as 'dmnpharm simulate' "
        "writes it, or a run table (.tsv/.csv) of region time-series files.",
    )
    add_study_options(run_parser)
    run_parser.add_argument("--out", required=True, help="output folder")
    run_parser.add_argument(
        "--voxel-maps",
        action="store_true",
        help="BIDS studies: also write ALFF, fALFF and PCC/aMPFC seed maps per run "
        "(same read of each image) in each run's OUT/derivatives/dmnpharm/.../func/ folder",
    )
    add_analysis(run_parser, "seed of the sign flips (default: 0)")
    add_denoise(run_parser)
    add_execution(run_parser)
    add_common(run_parser)
    add_store_option(run_parser)


def add_demo_parser(subs: Any) -> None:
    """Add the ``demo`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    demo = subs.add_parser(
        "demo",
        help="simulate a crossover study, analyse it and write an HTML report",
        description="Simulate the demo-crossover study (40 subjects with a placebo and a "
        "drug session each, within-DMN connectivity planted 0.10 Fisher z lower on drug) into "
        "OUT/study, analyse it as 'dmnpharm run' does (paired drug-placebo contrast) into OUT "
        "and print the report's path. The study is a complete crossover, so run's options for "
        "between-subject designs and incomplete pairs do not apply.",
    )
    demo.add_argument(
        "--out", default="dmnpharm-demo", help="output folder (default dmnpharm-demo)"
    )
    add_overrides(demo, "seed of the simulation and of the sign flips (default 0)")
    add_analysis(demo, None, designs=False)
    add_denoise(demo)
    add_execution(demo)
    add_common(demo)
    add_store_option(demo)


def _show(results: Any, quiet: bool) -> None:
    if not quiet:
        shown = results.results[_SHOWN]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
    print(results.report_file)


def command(args: argparse.Namespace) -> int:
    """Analyse the study; print the results and the report's path.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 (errors raise).
    """
    config = analysis_config(args, seed=args.seed if args.seed is not None else 0)
    study = study_of(args)
    results = study.analyse(
        config, args.out, overwrite=args.overwrite, store=args.store, log_level=log_level(args)
    )
    _show(results, args.quiet)
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """Simulate the demo study and analyse it; print the results and the report's path.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options. ``--seed`` seeds the simulation and the sign flips;
        the deprecated ``--perm-seed`` only the sign flips.

    Returns
    -------
    int
        0 (errors raise).
    """
    from dmnpharm.pipeline import make_demo

    perm_seed = getattr(args, "perm_seed", None)
    seed = args.seed if args.seed is not None else 0
    config = analysis_config(args, seed=perm_seed if perm_seed is not None else seed)
    results = make_demo(
        args.out,
        study_spec(args),
        config,
        overwrite=args.overwrite,
        store=args.store,
        log_level=log_level(args),
    )
    _show(results, args.quiet)
    return 0
