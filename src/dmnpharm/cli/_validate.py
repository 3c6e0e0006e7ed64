"""``dmnpharm validate``: every problem an analysis of a study would meet, listed at once."""

from __future__ import annotations

import argparse
from typing import Any

from dmnpharm.cli._common import (
    add_denoise,
    add_verbosity,
    analysis_config,
)
from dmnpharm.cli._model_options import add_analysis
from dmnpharm.cli._progress import step
from dmnpharm.cli._study_options import add_study_options, study_of

__all__ = ["add_parser", "command"]


def add_parser(subs: Any) -> None:
    """Add the ``validate`` command: the study options and the analysis options of ``run``.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    validate = subs.add_parser(
        "validate",
        help="check a study for the analysis that run would make with the same options, "
        "and list every problem",
        description="Run every check that 'dmnpharm run' makes before heavy work, for the "
        "analysis the options describe, on any study run reads (BIDS with fMRIPrep "
        "derivatives, XCP-D outputs, an ROI-level folder or a run table), and list every "
        "problem at once. Exit 0 when clean, 1 when not, 2 for a bad option. Nothing is "
        "written, so there is no --out.",
    )
    add_study_options(validate)
    validate.add_argument(
        "--deep",
        action="store_true",
        help="also read every compressed image through (CRC of its data); without it images "
        "are checked from their headers and gzip trailers",
    )
    add_analysis(validate, "seed of the sign flips (checked only)")
    add_denoise(validate)
    add_verbosity(validate)


def command(args: argparse.Namespace) -> int:
    """Validate the study for the analysis; print a one-line summary when it is clean.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 when clean (problems raise, listed).
    """
    from dmnpharm.exceptions import StudyValidationError

    config = analysis_config(args, seed=args.seed if args.seed is not None else 0)
    study = study_of(args)
    with step("reading every image through" if args.deep else "validating the study"):
        problems = study.validate(config, deep=args.deep)
    if problems:
        raise StudyValidationError(str(study.root), problems)
    plan = study.plan(config)
    times = sorted({run.repetition_time for run in plan.runs})
    kind = {"bids": "BIDS", "xcpd": "XCP-D outputs"}.get(study.kind, "ROI-level")
    denoise = plan.runs[0].task.config.denoise if plan.runs else config.denoise
    cleaning = f"done by {denoise.done_by}" if denoise.done_by else denoise.name
    print(
        f"{study.root}: valid for this analysis; {kind}: {plan.summary}, TR "
        f"{', '.join(f'{t:g}' for t in times)} s, denoising {cleaning}"
    )
    return 0
