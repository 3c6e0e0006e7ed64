"""The options that name a study's files: folder, atlas, space, entities, participants."""

from __future__ import annotations

import argparse
from typing import Any

from dmnpharm.io import DEFAULT_SPACE

__all__ = ["add_study_options", "study_of"]


def add_study_options(sub: argparse.ArgumentParser) -> None:
    """Add which study files are read: atlas, space and the BIDS selections.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        The parser of ``run`` or ``validate``.
    """
    sub.add_argument(
        "study",
        help="study: a BIDS folder with fMRIPrep (or XCP-D) derivatives, an XCP-D folder, an "
        "ROI-level folder, or a run table (.tsv/.csv: participant_id, path, design columns)",
    )
    from dmnpharm.cli._atlas import add_atlas_options

    add_atlas_options(sub, "default: the ROI files' atlas, or seitzman300 for BIDS studies")
    sub.add_argument("--space", default=DEFAULT_SPACE, help="fMRIPrep output space (BIDS)")
    sub.add_argument("--res", default=None, help="resolution entity (res-), if several (BIDS)")
    sub.add_argument("--task", default=None, help="only runs of this task (BIDS)")
    sub.add_argument(
        "--design", default=None, help="explicit design TSV instead of the sessions files (BIDS)"
    )
    sub.add_argument(
        "--derivatives",
        default=None,
        help="fMRIPrep or XCP-D folder (default STUDY/derivatives/fmriprep, or "
        "STUDY/derivatives/xcp_d when only XCP-D's outputs are there)",
    )
    sub.add_argument(
        "--radius",
        type=float,
        default=None,
        metavar="MM",
        help="sphere radius around the regions of a coordinate atlas (default 5 mm)",
    )
    _add_selections(sub)


def _add_selections(sub: argparse.ArgumentParser) -> None:
    """Add the options that choose runs, participants and repetition times."""
    sub.add_argument(
        "--repetition-time-table",
        default=None,
        metavar="TSV",
        help="run tables: repetition_time per value of a column the table shares (e.g. site)",
    )
    sub.add_argument(
        "--repetition-time",
        type=float,
        default=None,
        metavar="SECONDS",
        help="XCP-D outputs whose files record no repetition time: seconds, for every run",
    )
    sub.add_argument("--den", default=None, help="density entity (den-, CIFTI), if several")
    sub.add_argument(
        "--bids-filter-file",
        default=None,
        metavar="JSON",
        help="select runs as fMRIPrep's --bids-filter-file does, e.g. "
        '{"bold": {"acquisition": "mb4", "echo": null}} (BIDS)',
    )
    sub.add_argument(
        "--participant-label",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="only these participants (with or without sub-)",
    )
    sub.add_argument(
        "--participants",
        default=None,
        metavar="QUERY",
        help="only participants whose participants.tsv row satisfies this query, e.g. "
        "\"group == 'patient' or medication == 'none'\" (recorded in provenance)",
    )


def study_of(args: argparse.Namespace) -> Any:
    """Return the :class:`dmnpharm.Study` that the study options name.

    Parameters
    ----------
    args : argparse.Namespace
        With the options of :func:`add_study_options`.

    Returns
    -------
    dmnpharm.Study
        Not yet read.
    """
    from dmnpharm.pipeline import Study

    return Study.from_folder(
        args.study,
        derivatives=args.derivatives,
        task=args.task,
        res=args.res,
        design=args.design,
        den=args.den,
        bids_filter=args.bids_filter_file,
        participant_label=tuple(args.participant_label or ()),
        participants=args.participants,
        repetition_time_table=args.repetition_time_table,
        repetition_time=args.repetition_time,
    )
