"""``dmnpharm predict``: a drug's DMN change from its targets; an observed map explained."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dmnpharm.cli._common import add_common, add_seed, positive_int
from dmnpharm.cli._progress import step

__all__ = ["add_parser", "command"]

_MEASURES = ("gbc", "dmn_fc", "alff", "falff", "zalff", "zfalff")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _add_inputs(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--connectome",
        default=None,
        help="structural connectome (.npy or TSV, atlas order or labelled); default: Hansen "
        "consensus SC for Schaefer-100, else a distance-rule fallback",
    )
    sub.add_argument(
        "--observed",
        default=None,
        help="map to explain: a 'dmnpharm run' output folder, a TSV (region, value) or a "
        "CIFTI pscalar",
    )
    sub.add_argument(
        "--distance",
        default=None,
        help="region x region distance matrix (.npy or TSV) for the spatial nulls",
    )
    sub.add_argument(
        "--reference-fc", default=None, help="placebo FC (r) to fit the model to, as a matrix"
    )
    sub.add_argument(
        "--measure",
        choices=_MEASURES,
        default="gbc",
        help="region-level measure of an --observed analysis (default gbc)",
    )
    sub.add_argument(
        "--statistic",
        choices=("t", "effect", "mean"),
        default="t",
        help="statistic of the --observed analysis's map (default t)",
    )
    sub.add_argument(
        "--n-null", type=positive_int, default=10_000, help="spatial null maps (default 10000)"
    )
    sub.add_argument(
        "--n-seeds",
        type=positive_int,
        default=10,
        help="simulated runs per condition and coupling for the model's band (default 10)",
    )


def add_parser(subs: Any) -> None:
    """Add the ``predict`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    sub = subs.add_parser(
        "predict",
        help="predict a drug's DMN change from its receptor targets, and/or explain an "
        "observed regional effect map by receptor maps",
        description="With --drug: the drug's targets and their occupancy, a regional "
        "perturbation map and the predicted change of the DMN measures (pharmacological rule "
        "and whole-brain model). With --observed: the observed regional effect map "
        "correlated with each receptor map against spatial-autocorrelation nulls. Receptor "
        "maps are never bundled: --receptors names your copy (docs/predict.md).",
    )
    sub.add_argument("--drug", default=None, help="agent id of the catalog, e.g. psilocybin")
    sub.add_argument(
        "--dose-mg", type=_positive_float, default=None, help="dose (default: the usual dose)"
    )
    sub.add_argument(
        "--atlas",
        default=None,
        help="atlas name or file (default: the observed analysis's, or schaefer100_7 for the "
        "Hansen maps)",
    )
    sub.add_argument(
        "--receptors",
        required=True,
        help="receptor maps: the hansen_receptors folder, a TSV of regions x targets (first "
        "column region), a CIFTI pscalar, or a folder of NIfTI volumes",
    )
    _add_inputs(sub)
    sub.add_argument("--out", required=True, help="output folder")
    add_seed(sub, "seed of the nulls and simulations (default 0)")
    add_common(sub)


def command(args: argparse.Namespace) -> int:
    """Predict and/or explain, write the outputs and print the report's path.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 (errors raise).
    """
    from dmnpharm.pipeline import PredictRequest, run_prediction
    from dmnpharm.report import write_prediction

    request = PredictRequest(
        receptors=args.receptors,
        drug=args.drug,
        dose_mg=args.dose_mg,
        atlas=args.atlas,
        connectome=args.connectome,
        observed=args.observed,
        distance=args.distance,
        reference_fc=args.reference_fc,
        measure=args.measure,
        statistic=args.statistic,
        n_null=args.n_null,
        n_seeds=args.n_seeds,
        seed=args.seed or 0,
    )
    with step("predicting" if args.observed is None else "predicting and explaining the map"):
        prediction = run_prediction(request)
    with step(f"writing {args.out}"):
        outputs = write_prediction(prediction, args.out, overwrite=args.overwrite)
    if not args.quiet and prediction.explanation is not None:
        shown = prediction.explanation.correlations.head(5)
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"), file=sys.stderr)
    print(outputs.report)
    return 0
