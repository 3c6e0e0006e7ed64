"""``dmnpharm validate``: list every problem of a study folder."""

from __future__ import annotations

import argparse
from typing import Any

from dmnpharm.cli._common import add_common
from dmnpharm.io import DEFAULT_SPACE

__all__ = ["add_parser", "command"]


def add_parser(subs: Any) -> None:
    """Add the ``validate`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    validate = subs.add_parser(
        "validate", help="check a study folder (BIDS + fMRIPrep, or ROI level) and list problems"
    )
    validate.add_argument("study", help="study folder")
    validate.add_argument("--space", default=DEFAULT_SPACE, help="fMRIPrep output space")
    validate.add_argument("--res", default=None, help="resolution entity (res-), if several")
    validate.add_argument("--task", default=None, help="only runs of this task")
    validate.add_argument(
        "--desc",
        default="preproc",
        help="desc- of the BOLD images: preproc, or smoothAROMAnonaggr (the aroma strategy)",
    )
    validate.add_argument("--design", default=None, help="explicit design TSV")
    validate.add_argument(
        "--derivatives", default=None, help="fMRIPrep folder (default STUDY/derivatives/fmriprep)"
    )
    add_common(validate)


def command(args: argparse.Namespace) -> int:
    """Validate the study; print a one-line summary when it is clean.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0 when clean (problems raise, listed).
    """
    from pathlib import Path

    from dmnpharm.atlases import load_atlas
    from dmnpharm.io import discover_study, load_roi_study, read_study_atlas_name

    root = Path(args.study)
    derivatives = Path(args.derivatives) if args.derivatives else root / "derivatives" / "fmriprep"
    if derivatives.is_dir():
        study = discover_study(
            root, args.space, args.res, args.derivatives, args.task, args.design, args.desc
        )
        n_subjects = study.design["participant_id"].nunique()
        print(
            f"{root}: valid; {len(study.runs)} runs of {n_subjects} participants in space "
            f"{study.space}, TR {study.runs[0].repetition_time:g} s"
        )
        return 0
    atlas = read_study_atlas_name(root)
    roi = load_roi_study(root, atlas, load_atlas(atlas).labels)
    print(f"{root}: valid; {len(roi.runs)} ROI-level runs, atlas {atlas}")
    return 0
