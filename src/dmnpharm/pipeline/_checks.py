"""Checks of a study's design against the analysis, before any heavy work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dmnpharm._utils import closest_match
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import StudyValidationError

__all__ = ["check_design"]


def _check_between(design: pd.DataFrame, config: AnalysisConfig, root: Path) -> None:
    """Fail before any heavy work if the between-subject model's columns or levels are absent."""
    problems = []
    table = root / "participants.tsv"
    wanted = [config.between, *config.model.covariates, config.model.block]
    for column in [c for c in wanted if c is not None]:
        if column not in design:
            hint = closest_match(column, [str(c) for c in design.columns])
            problems.append(
                f"{table}: has no column '{column}'"
                + (f"; did you mean '{hint}'?" if hint else "")
            )
    if not problems and config.model.between_contrast is not None:
        levels = set(design[str(config.between)].astype(str))
        for level in config.model.between_contrast:
            if level not in levels:
                problems.append(
                    f"{table}: no participant has {config.between} = '{level}' (levels: "
                    f"{', '.join(sorted(levels))}); fix --between-contrast"
                )
    if problems:
        raise StudyValidationError(str(root), problems)


def check_design(design: pd.DataFrame, config: AnalysisConfig, root: Path) -> None:
    """Fail before any heavy work if the design cannot give the group model.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run (participants and sessions columns).
    config : AnalysisConfig
        The model: paired (every subject needs both conditions of the
        contrast) or between subjects (its columns and levels must exist).
    root : Path
        The study folder, naming the files to fix.

    Raises
    ------
    StudyValidationError
        Listing every problem, each naming its file.
    """
    if config.between is not None:
        _check_between(design, config, root)
        return
    wanted = set(config.contrast)
    present = set(design["condition"]) if "condition" in design else set()
    problems = []
    for cond in config.contrast:
        if cond not in present:
            problems.append(
                f"condition '{cond}' of the contrast is in no sessions file "
                f"(conditions: {', '.join(sorted(map(str, present)))}); fix --contrast or the "
                "sessions files"
            )
    if not problems:
        for pid, conds in design.groupby("participant_id")["condition"]:
            have = set(conds) & wanted
            if have != wanted:
                missing = ", ".join(sorted(wanted - have))
                sessions = root / str(pid) / f"{pid}_sessions.tsv"
                problems.append(
                    f"{sessions}: participant '{pid}' has no run under '{missing}'; a paired "
                    f"test needs both '{config.contrast[0]}' and '{config.contrast[1]}'. Add "
                    "the session or remove the participant from participants.tsv"
                )
    if problems:
        raise StudyValidationError(str(root), problems)
