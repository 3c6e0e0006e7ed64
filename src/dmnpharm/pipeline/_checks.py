"""Every check an analysis can make before heavy work: design, confounds, lengths, options.

``dmnpharm validate`` and ``dmnpharm run`` (and :meth:`dmnpharm.Study.validate`
and :meth:`dmnpharm.Study.analyse`) call the same :func:`preflight`, so a study
that validates clean does not fail later for anything knowable from headers
and tables.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dmnpharm._utils import closest_match
from dmnpharm._utils._forked import forked_map
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.execution import checking_workers
from dmnpharm.io import read_confounds
from dmnpharm.pipeline._adapters import BidsOptions, StudyPlan, StudyRun, plan_bids, plan_roi
from dmnpharm.pipeline._table_plan import plan_table
from dmnpharm.pipeline._xcpd_plan import plan_xcpd
from dmnpharm.signal import (
    confounds_problems,
    length_problems,
    needs_confounds,
    nyquist_problems,
)

__all__ = ["check_design", "design_problems", "level_hint", "preflight", "read_plan", "refuse"]


def level_hint(value: str, levels: Iterable[str]) -> str:
    """Return how a wanted level relates to the levels present: spaces, case, spelling.

    Parameters
    ----------
    value : str
        The level asked for (a contrast condition, a group).
    levels : iterable of str
        The levels found in the data.

    Returns
    -------
    str
        ``""`` when nothing is close; otherwise a sentence that shows the
        near-miss with its whitespace (``repr``) and suggests the fix.

    Examples
    --------
    >>> level_hint("placebo", ["drug", "placebo "])
    "; 'placebo ' has a trailing space: did you mean 'placebo'?"
    """
    present = [str(v) for v in levels]
    for level in present:
        if level != value and level.strip() == value.strip():
            where = "a leading" if level.startswith((" ", "\t")) else "a trailing"
            return f"; {level!r} has {where} space: did you mean {value!r}?"
    for level in present:
        if level != value and level.strip().casefold() == value.strip().casefold():
            return f"; {level!r} differs only in case: did you mean {level!r}?"
    hint = closest_match(value, present)
    return f"; did you mean {hint!r}?" if hint else ""


def _between_problems(design: pd.DataFrame, config: AnalysisConfig, root: Path) -> list[str]:
    """Return the between-subject model's missing columns and levels, each named."""
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
                    f"{table}: no participant has {config.between} = {level!r} (levels: "
                    f"{', '.join(map(repr, sorted(levels)))}){level_hint(level, levels)}; fix "
                    "the table or --between-contrast"
                )
    return problems


def _sessions_file(root: Path, pid: str, design: pd.DataFrame) -> str:
    """Name the file that holds a subject's conditions (its sessions file, or the design)."""
    rows = design.loc[design["participant_id"] == pid]
    if "_source" in rows and not rows.empty:
        return str(rows["_source"].iloc[0]).split(", line")[0]
    return str(root / pid / f"{pid}_sessions.tsv")


def _unlabelled(design: pd.DataFrame, root: Path) -> list[str]:
    """Name each file whose rows give no condition (its column missing or misspelt)."""
    missing = design["condition"].isna() | design["condition"].astype(str).str.strip().isin(
        ["", "n/a", "nan"]
    )
    problems = []
    others = [str(c) for c in design.columns if c != "condition" and not str(c).startswith("_")]
    for pid in sorted(set(design.loc[missing, "participant_id"].astype(str))):
        rows = design.loc[missing & (design["participant_id"] == pid)]
        named = [c for c in others if rows[c].notna().any()]
        hint = closest_match("condition", named)
        fix = f"; is '{hint}' meant to be 'condition'?" if hint else ""
        problems.append(
            f"{_sessions_file(root, pid, design)}: gives no 'condition' for {pid}{fix} Every "
            "session needs one"
        )
    return problems


def _spaced_labels(design: pd.DataFrame, column: str, root: Path) -> list[str]:
    """Name each subject whose label in ``column`` has leading or trailing spaces."""
    problems = []
    for (pid, value), rows in design.groupby(["participant_id", column], sort=True):
        text = str(value)
        if text != text.strip():
            sessions = ", ".join(sorted({str(s) for s in rows.get("session_id", [])} - {""}))
            where = f" ({sessions})" if sessions else ""
            problems.append(
                f"{_sessions_file(root, str(pid), design)}: {column} {text!r} of {pid}{where}"
                f"{level_hint(text.strip(), [text])}"
            )
    return problems


def _paired_problems(
    design: pd.DataFrame, config: AnalysisConfig, root: Path, per_subject: bool = True
) -> list[str]:
    """Both conditions of the contrast exist, and every subject has both (unless dropping)."""
    if "condition" not in design:
        return [
            f"{root}: the design has no 'condition' column; add it to each sessions file "
            "(or the design TSV), one value per session"
        ]
    problems = _unlabelled(design, root)
    design = design.dropna(subset=["condition"])
    present = {str(c) for c in design["condition"]}
    problems += _spaced_labels(design, "condition", root)
    problems += [
        f"condition {cond!r} of the contrast is in no sessions file (conditions: "
        f"{', '.join(map(repr, sorted(present)))}){level_hint(cond, present)}; fix --contrast "
        "or the sessions files"
        for cond in config.contrast
        if cond not in present
    ]
    if problems or config.model.incomplete == "drop" or not per_subject:
        return problems
    wanted = set(config.contrast)
    for pid, conds in design.groupby("participant_id")["condition"]:
        missing = wanted - {str(c) for c in conds}
        if missing:
            problems.append(
                f"{_sessions_file(root, str(pid), design)}: participant '{pid}' has no run under "
                f"{', '.join(map(repr, sorted(missing)))}; a paired test needs both "
                f"{config.contrast[0]!r} and {config.contrast[1]!r}. Add the session, or pass "
                "--drop-incomplete to leave such participants out (listed in the results)"
            )
    return problems


def design_problems(
    design: pd.DataFrame, config: AnalysisConfig, root: Path, per_subject: bool = True
) -> list[str]:
    """Return why the design cannot give the analysis's group model.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run (participants and sessions columns).
    config : AnalysisConfig
        The model: paired (every subject needs both conditions of the
        contrast, unless ``model.incomplete`` is ``drop``) or between subjects
        (its columns and levels must exist).
    root : Path
        The study folder, naming the files to fix.
    per_subject : bool
        Check that every participant has both conditions. False when some
        runs could not be read: a missing condition would then only echo
        their problems.

    Returns
    -------
    list of str
        Each problem naming its file; near-miss labels are shown with their
        whitespace and a suggestion.
    """
    if config.between is not None:
        return _between_problems(design, config, root)
    return _paired_problems(design, config, root, per_subject)


def check_design(design: pd.DataFrame, config: AnalysisConfig, root: Path) -> None:
    """Fail before any heavy work if the design cannot give the group model.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run.
    config : AnalysisConfig
        The group model.
    root : Path
        The study folder.

    Raises
    ------
    StudyValidationError
        Listing every problem of :func:`design_problems`.
    """
    problems = design_problems(design, config, root)
    if problems:
        raise StudyValidationError(str(root), problems)


def _confounds_of(run: StudyRun, config: AnalysisConfig) -> list[str]:
    """Check the run's confounds against the strategy and censoring; name each file."""
    task = run.task
    if task.confounds is None:
        expected = Path(task.label).name.split("_space-")[0].split("_atlas-")[0]
        return [
            f"{task.label}: has no confounds file ({expected}_desc-confounds_timeseries.tsv "
            f"beside it), which strategy '{config.denoise.name}' and its censoring need; "
            "provide it, or use --strategy none (signals as provided)"
        ]
    try:
        table, meta = read_confounds(Path(task.confounds))
    except InputError as exc:
        return [str(exc)]
    assert table is not None
    if task.kind == "bids" and len(table) != task.n_volumes:
        return []  # the BIDS reader has named this file and its row count already
    n_volumes = int(task.n_volumes or len(table))
    found = confounds_problems(table, config.denoise, meta, n_volumes, task.repetition_time)
    return [f"{task.confounds}: {problem}" for problem in found]


def _lengths(runs: list[StudyRun], config: AnalysisConfig) -> list[str]:
    """Name the runs too short for the filter, exclusion rule and bundle, once per length."""
    by_length: dict[tuple[int, float], list[str]] = {}
    for run in runs:
        if run.task.n_volumes is not None:
            key = (run.task.n_volumes, run.task.repetition_time)
            by_length.setdefault(key, []).append(run.label)
    problems = []
    for (n_volumes, repetition_time), labels in sorted(by_length.items()):
        found = length_problems(config.denoise, n_volumes, repetition_time)
        found += config.bundle.length_problems(n_volumes, repetition_time)
        if not found:
            continue
        named = labels[0] if len(labels) == 1 else f"{len(labels)} runs ({', '.join(labels)})"
        problems += [f"{named}: {problem}" for problem in found]
    return problems


def preflight(plan: StudyPlan, config: AnalysisConfig) -> list[str]:
    """Return every problem knowable before heavy work, for this analysis of this study.

    Parameters
    ----------
    plan : StudyPlan
        The study as read (its adapter has checked files, headers, grids and
        the design tables).
    config : AnalysisConfig
        The analysis: its model, denoising, filter and bundle.

    Returns
    -------
    list of str
        Design problems, filter cut-offs the repetition time cannot carry
        (once per repetition time), confounds that lack what the strategy or
        censoring needs (or have the wrong number of rows), and runs too short
        for the filter, the exclusion rule or the bundle. Empty when clean.
    """
    problems = design_problems(plan.design, config, plan.root)
    for repetition_time in sorted({run.repetition_time for run in plan.runs}):
        problems += nyquist_problems(config.denoise, repetition_time)
    problems += _lengths(plan.runs, config)
    if needs_confounds(config.denoise):
        # Thousands of small tables in a cohort: read on forked processes where it pays.
        each = forked_map(
            functools.partial(_confounds_of, config=config),
            plan.runs,
            workers=checking_workers(config.execution),
        )
        problems += [problem for found in each for problem in found]
    return problems


def refuse(root: Path, problems: list[str]) -> None:
    """Raise every problem at once, if there is any.

    Parameters
    ----------
    root : Path
        The study folder.
    problems : list of str
        Problems found, in order; repeats are dropped.

    Raises
    ------
    StudyValidationError
        When ``problems`` is not empty.
    """
    if problems:
        raise StudyValidationError(str(root), list(dict.fromkeys(problems)))


def read_plan(
    root: Path,
    config: AnalysisConfig,
    kind: str,
    options: BidsOptions | None = None,
    deep: bool = False,
) -> StudyPlan:
    """Read a study through its adapter; on problems, add what its design tables show.

    Parameters
    ----------
    root : Path
        The study folder.
    config : AnalysisConfig
        The analysis, atlas resolved.
    kind : str
        ``bids`` (BIDS with fMRIPrep derivatives), ``xcpd`` (XCP-D outputs),
        ``table`` (a run table) or ``roi`` (region time series).
    options : BidsOptions or None
        Which runs of a BIDS study.
    deep : bool
        BIDS: also read every image through (CRC of its compressed data).

    Returns
    -------
    StudyPlan
        The study, when its files have no problem.

    Raises
    ------
    StudyValidationError
        The adapter's problems and, where design rows could be read, the
        design's problems for this analysis too: everything at once.
    """
    try:
        if options is not None and options.repetition_time is not None and kind != "xcpd":
            raise InputError(
                f"--repetition-time is for XCP-D outputs whose files record none; '{root}' "
                "gives its repetition times in its own files (sidecars or tables)"
            )
        if kind == "xcpd":
            return plan_xcpd(root, config, options)
        if kind == "table":
            tr_table = options.repetition_time_table if options is not None else None
            return plan_table(root, config, None if tr_table is None else Path(tr_table))
        if kind == "bids":
            return plan_bids(root, config, options, deep)
        return plan_roi(root, config, options)
    except StudyValidationError as exc:
        design = exc.design
        extra = []
        if isinstance(design, pd.DataFrame) and not design.empty:
            extra = design_problems(design, config, root, per_subject=False)
        refuse(Path(exc.study), [*exc.problems, *extra])
        raise
