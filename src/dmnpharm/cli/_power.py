"""``dmnpharm power``: power of a design's main contrast by repeated simulation."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dmnpharm.cli._atlas import add_atlas_options
from dmnpharm.cli._common import add_common, add_seed, positive_int
from dmnpharm.cli._measures import power_measure, results_spelling
from dmnpharm.cli._simulate import add_source, study_spec

__all__ = ["add_parser", "command"]


def _size_list(text: str) -> tuple[int, ...]:
    sizes = tuple(positive_int(part.strip()) for part in text.split(",") if part.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one sample size, e.g. 10,20,30")
    return sizes


def add_parser(subs: Any) -> None:
    """Add the ``power`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    power = subs.add_parser(
        "power",
        help="power of a design's main contrast by repeated ROI-level simulation",
        description="Estimate the power of a simulated design's main contrast at each sample "
        "size: simulate --studies studies at ROI level per size and test each with the test "
        "its design calls for. Writes power.tsv, power_studies.tsv, power.png, power.json.",
    )
    power.add_argument("--out", required=True, help="output folder (table, curve, provenance)")
    add_source(power)
    add_atlas_options(power, "default: the preset's", spheres=False)
    power.add_argument(
        "--subjects",
        type=_size_list,
        default=(10, 20, 30, 40),
        help="comma-separated sample sizes (default 10,20,30,40)",
    )
    power.add_argument(
        "--studies", type=positive_int, default=1000, help="studies per size (default 1000)"
    )
    power.add_argument(
        "--measure",
        default=None,
        help="connectivity measure tested, named as in results tables and the catalog "
        "(dmn_within_fc, dmn_salience_fc, dmn_fpn_fc, dmn_dan_fc) or as the simulator names "
        "it (within_fc_<NET>, between_fc_<A>_<B>, e.g. within_fc_DMN); default: the spec's "
        "first connectivity effect",
    )
    power.add_argument(
        "--alpha", type=float, default=0.05, help="significance level (default 0.05)"
    )
    power.add_argument(
        "--permutations",
        type=positive_int,
        default=1000,
        help="sign flips or relabellings per simulated study (default 1000)",
    )
    add_seed(power, "seed of the simulation and the analysis (default 0)")
    power.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="processes for the simulation (default: one per core)",
    )
    add_common(power)


def command(args: argparse.Namespace) -> int:
    """Estimate power at each sample size, write the outputs, print the table's path.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 (errors raise).
    """
    from dmnpharm.report import write_power
    from dmnpharm.simulate import power_analysis

    measure = None if args.measure is None else power_measure(args.measure)
    seed = args.seed if args.seed is not None else 0
    spec = study_spec(args, subjects=None, effect=None, seed=seed)
    result = power_analysis(
        spec,
        args.subjects,
        args.studies,
        alpha=args.alpha,
        n_permutations=args.permutations,
        seed=seed,
        measure=measure,
        workers=args.workers,
    )
    outputs = write_power(result, args.out, overwrite=args.overwrite)
    if not args.quiet:
        shown = result.table[["n_subjects", "power", "power_ci_low", "power_ci_high"]]
        target = result.contrast.target.name
        same = results_spelling(target)
        note = f"; {target} is {same} in results tables and the catalog" if same else ""
        print(
            f"{spec.name}: {result.contrast.description} ({result.contrast.test}){note}",
            file=sys.stderr,
        )
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=sys.stderr)
    print(outputs.table)
    return 0
