"""Argument parsing and dispatch for ``dmnpharm``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dmnpharm import __version__
from dmnpharm._utils import LOGGER_NAME
from dmnpharm.exceptions import DmnpharmError
from dmnpharm.run import RunConfig, run_demo, run_study
from dmnpharm.simulate import CrossoverSpec, simulate_crossover, write_simulated_study

__all__ = ["build_parser", "main"]


def _contrast(text: str) -> tuple[str, str]:
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"contrast {text!r} must be two condition labels joined by '-', e.g. drug-placebo"
        )
    return parts[0].strip(), parts[1].strip()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    sub.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")


def _add_analysis(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--contrast",
        type=_contrast,
        default=("drug", "placebo"),
        help="within-subject contrast A-B (default: drug-placebo)",
    )
    sub.add_argument(
        "--permutations",
        type=_positive_int,
        default=10_000,
        help="random sign flips for permutation p-values (default: 10000)",
    )
    sub.add_argument(
        "--perm-seed", type=int, default=0, help="seed of the sign flips (default: 0)"
    )


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

    sim = subs.add_parser(
        "simulate", help="write a simulated placebo/drug crossover study with a planted effect"
    )
    sim.add_argument("--out", required=True, help="study folder to write")
    sim.add_argument("--subjects", type=_positive_int, default=24, help="subjects (default 24)")
    sim.add_argument(
        "--effect",
        type=float,
        default=0.10,
        help="planted decrease of within-DMN FC under drug, Fisher z (default 0.10)",
    )
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--volumes", type=_positive_int, default=200, help="volumes per run")
    sim.add_argument("--tr", type=float, default=2.0, help="repetition time in seconds")
    _add_common(sim)

    run = subs.add_parser("run", help="analyse an ROI-level study folder")
    run.add_argument("study", help="study folder (participants.tsv, sub-*/ses-*/func/...)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--atlas", default=None, help="atlas name (default: from the sidecars)")
    _add_analysis(run)
    _add_common(run)

    demo = subs.add_parser(
        "demo", help="simulate a crossover study, analyse it and write an HTML report"
    )
    demo.add_argument(
        "--out", default="dmnpharm-demo", help="output folder (default dmnpharm-demo)"
    )
    demo.add_argument("--subjects", type=_positive_int, default=24, help="subjects (default 24)")
    demo.add_argument(
        "--effect",
        type=float,
        default=0.10,
        help="planted decrease of within-DMN FC under drug, Fisher z (default 0.10)",
    )
    demo.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    _add_analysis(demo)
    _add_common(demo)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dmnpharm: %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    return handler


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        spec = CrossoverSpec(
            n_subjects=args.subjects,
            dmn_fc_decrease=args.effect,
            seed=args.seed,
            n_volumes=args.volumes,
            repetition_time=args.tr,
        )
        path = write_simulated_study(simulate_crossover(spec), args.out, overwrite=args.overwrite)
        print(path)
        return 0
    config = RunConfig(
        atlas=getattr(args, "atlas", None),
        contrast=args.contrast,
        n_permutations=args.permutations,
        seed=args.perm_seed,
    )
    if args.command == "run":
        result = run_study(args.study, args.out, config, overwrite=args.overwrite)
    else:
        spec = CrossoverSpec(n_subjects=args.subjects, dmn_fc_decrease=args.effect, seed=args.seed)
        result = run_demo(args.out, spec, config, overwrite=args.overwrite)
    if not args.quiet:
        shown = result.results[["measure", "contrast", "estimate", "ci_low", "ci_high", "p_fwer"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
    print(result.report)
    return 0


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
        row or value), 2 for a usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else 2
    handler = _configure_logging(args.verbose, args.quiet)
    try:
        return _dispatch(args)
    except DmnpharmError as exc:
        print(f"dmnpharm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        logging.getLogger(LOGGER_NAME).removeHandler(handler)
