"""The XCP-D adapter: a folder XCP-D has denoised and parcellated becomes runs to measure.

XCP-D's parcellated time series are already denoised (regression, censoring,
band-pass), so the analysis cleans nothing again: the cleaning configuration
becomes :meth:`~dmnpharm.signal.DenoiseConfig.external` ("done by XCP-D
<version>", from the folder's ``dataset_description.json``), the GSR
sensitivity analysis is off (XCP-D decided on global signal regression), and
the volumes XCP-D flagged are left out of interpolated series. XCP-D's motion
file gives every run's framewise displacement for the QC checks.

The regions' networks come from ``--atlas`` (a regions table naming the time
series' columns), or from the table XCP-D wrote for the atlas
(``atlases/atlas-<A>/atlas-<A>_dseg.tsv``, column ``network_label``) when it
has one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from dmnpharm._utils import closest_match
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import (
    XcpdRun,
    XcpdStudy,
    discover_xcpd,
    is_xcpd_folder,
    select_participants,
    xcpd_atlas_file,
    xcpd_atlases,
    xcpd_folder_version,
    xcpd_record,
)
from dmnpharm.pipeline._adapters import BidsOptions, StudyPlan, StudyRun
from dmnpharm.pipeline._tasks import RunTask
from dmnpharm.signal import DenoiseConfig

__all__ = ["plan_xcpd", "resolve_xcpd", "xcpd_folder"]

#: Where XCP-D's outputs usually sit inside a BIDS study.
_NAMES = ("xcp_d", "xcpd", "xcp-d")


def xcpd_folder(root: Path, options: BidsOptions | None = None) -> Path | None:
    """Return the XCP-D folder a study names, or None when it is not an XCP-D study.

    Parameters
    ----------
    root : Path
        The folder given: XCP-D's own folder, or a BIDS folder.
    options : BidsOptions or None
        ``derivatives`` may name the XCP-D folder.

    Returns
    -------
    Path or None
        ``options.derivatives`` or ``root`` when XCP-D wrote it; else
        ``root/derivatives/xcp_d`` when there is no fMRIPrep folder beside it.
    """
    given = options.derivatives if options is not None else None
    if given:
        return Path(given) if is_xcpd_folder(given) else None
    if is_xcpd_folder(root):
        return root
    if (root / "derivatives" / "fmriprep").is_dir():
        return None
    for name in _NAMES:
        if is_xcpd_folder(root / "derivatives" / name):
            return root / "derivatives" / name
    return None


def _atlas_name(folder: Path, wanted: str | None, task: str | None) -> str:
    """Return which of the folder's atlases to read (the one named ``wanted``, or the only one)."""
    names = xcpd_atlases(folder, task)
    if not names:
        raise InputError(
            f"XCP-D folder '{folder}' has no parcellated time series "
            "(sub-*/**/func/*_timeseries.tsv with seg- or atlas-)"
        )
    if wanted is not None:
        for name in names:
            if wanted.lower() == name.lower():
                return name
    if len(names) == 1:
        return names[0]
    hint = closest_match(wanted, names) if wanted else None
    suggestion = f"; did you mean '{hint}'?" if hint else ""
    raise InputError(
        f"XCP-D folder '{folder}' has time series in several atlases ({', '.join(names)}); "
        "choose one with --atlas: its table (e.g. "
        f"{folder}/atlases/atlas-{names[0]}/atlas-{names[0]}_dseg.tsv) or your regions table "
        f"named after it (atlas-{names[0]}_regions.tsv){suggestion}"
    )


def resolve_xcpd(config: AnalysisConfig, folder: Path, task: str | None) -> AnalysisConfig:
    """Resolve the atlas and the cleaning of an analysis of XCP-D outputs.

    Parameters
    ----------
    config : AnalysisConfig
        As given.
    folder : Path
        The XCP-D folder.
    task : str or None
        Only runs of this task.

    Returns
    -------
    AnalysisConfig
        The atlas named after the XCP-D atlas it describes, cleaning
        "done by XCP-D <version>", no GSR sensitivity analysis.

    Raises
    ------
    InputError
        A cleaning option was given (XCP-D has cleaned already), no atlas
        could be chosen, or XCP-D's atlas table has no networks and no
        ``--atlas`` table was given.
    """
    version = xcpd_folder_version(folder) or "unknown version"
    done_by = f"XCP-D {version}"
    if not config.denoise.is_default and config.denoise.done_by != done_by:
        raise InputError(
            f"'{folder}' holds time series XCP-D {version} has already denoised; dmnpharm does "
            f"not clean them again, but the analysis asks for strategy '{config.denoise.name}' "
            "with its options: leave --strategy and the censoring and filter options out"
        )
    given: Atlas | None = None
    if isinstance(config.atlas, Atlas):
        given = config.atlas
    elif isinstance(config.atlas, str):
        given = load_atlas(config.atlas)
    name = _atlas_name(folder, given.name if given is not None else None, task)
    if given is None:
        table = xcpd_atlas_file(folder, name)
        if table is None:
            raise InputError(
                f"XCP-D folder '{folder}' has no table for atlas '{name}' "
                f"(atlases/atlas-{name}/atlas-{name}_dseg.tsv); give --atlas a regions table "
                "(label, network) naming each time-series column's network"
            )
        try:
            given = load_atlas(table)
        except InputError as exc:
            raise InputError(
                f"{exc}. XCP-D's table for atlas '{name}' cannot give the regions' networks "
                f"as it is: pass it with --atlas {table} and --network-map, or give your "
                "own regions table"
            ) from None
    return config.replace(
        atlas=replace(given, name=name),
        denoise=DenoiseConfig.external(done_by),
        gsr_sensitivity=False,
    )


def _task(run: XcpdRun, root: Path, config: AnalysisConfig) -> RunTask:
    kept = run.n_volumes - (len(run.outlier_volumes) if run.censoring == "interpolated" else 0)
    return RunTask(
        label=str(run.timeseries),
        source=run.timeseries.relative_to(root).as_posix(),
        kind="xcpd",
        data_file=str(run.timeseries),
        repetition_time=float(run.repetition_time or 0.0),
        config=config,
        confounds=str(run.motion),
        n_volumes=kept,
        xcpd=run,
    )


def _labels_problems(runs: tuple[XcpdRun, ...], atlas: Atlas, source: str) -> list[str]:
    problems = []
    for run in runs:
        if run.labels == atlas.labels:
            continue
        if len(run.labels) != atlas.n_regions:
            problems.append(
                f"{run.timeseries}: has {len(run.labels)} regions but the atlas table "
                f"{source} has {atlas.n_regions}; give the table of this parcellation"
            )
            continue
        first = next(
            i for i, (a, b) in enumerate(zip(run.labels, atlas.labels, strict=True)) if a != b
        )
        problems.append(
            f"{run.timeseries}: column {first + 1} is '{run.labels[first]}' but the atlas "
            f"table {source} has '{atlas.labels[first]}' there; the table's labels must be "
            "the time-series columns, in order"
        )
    return problems


def _selected(study: XcpdStudy, opts: BidsOptions) -> tuple[XcpdStudy, dict[str, Any]]:
    """Keep the runs of the participants a label list or a participants query selects."""
    people = study.design.drop_duplicates("participant_id")
    kept, record = select_participants(
        people,
        list(opts.participant_label) or None,
        opts.participants,
        where="the participants table of the XCP-D study",
    )
    chosen = set(kept["participant_id"])
    rows = study.design["participant_id"].isin(chosen).to_numpy()
    runs = tuple(r for r, keep in zip(study.runs, rows, strict=True) if keep)
    if not runs:
        raise InputError(f"no participant of '{study.root}' is left after the selection")
    design = study.design.loc[rows].reset_index(drop=True)
    return replace(study, runs=runs, design=design), record


def plan_xcpd(root: Path, config: AnalysisConfig, options: BidsOptions | None = None) -> StudyPlan:
    """Read and validate a study's XCP-D outputs.

    Parameters
    ----------
    root : Path
        The study folder given (a BIDS folder, or XCP-D's own folder).
    config : AnalysisConfig
        Resolved by :func:`resolve_xcpd`.
    options : BidsOptions or None
        The XCP-D folder (``derivatives``), the task and a design TSV.

    Returns
    -------
    StudyPlan
        Runs, design, inputs, and the record "denoising: done by XCP-D <version>".

    Raises
    ------
    StudyValidationError
        Every problem of the folder at once, and time-series columns that are
        not the atlas table's labels.
    """
    opts = options or BidsOptions()
    folder = xcpd_folder(root, options)
    if folder is None:
        raise InputError(f"'{root}' holds no XCP-D outputs")
    atlas = config.atlas_object()
    if folder != root:
        base = root  # a BIDS folder holding (or given beside) the XCP-D outputs
    elif folder.parent.name == "derivatives":
        base = folder.parent.parent
    else:
        base = folder
    study = discover_xcpd(
        folder,
        atlas=atlas.name,
        task=opts.task,
        design=opts.design,
        bids_root=base if base != folder else None,
        repetition_time=opts.repetition_time,
    )
    selection = None
    if opts.selects_participants():
        study, selection = _selected(study, opts)
    source = atlas.source or f"'{atlas.name}'"
    problems = _labels_problems(study.runs, atlas, source)
    if problems:
        raise StudyValidationError(str(folder), problems, design=study.design)
    runs = [
        StudyRun(
            {str(k): v for k, v in row.items()},
            _task(run, base, config),
            {
                "sub": run.participant_id.removeprefix("sub-"),
                "ses": run.session_id.removeprefix("ses-"),
                "task": run.task,
                "run": run.run,
                "space": study.space,
            },
        )
        for run, (_, row) in zip(study.runs, study.design.iterrows(), strict=True)
    ]
    design_files = [base / "participants.tsv", *base.glob("sub-*/sub-*_sessions.tsv")]
    if opts.design:
        design_files.append(Path(opts.design))
    inputs = sorted(
        {Path(f) for r in runs for f in r.task.input_files()}
        | {f for f in design_files if f.is_file()}
    )
    record: dict[str, Any] = xcpd_record(study)
    if selection is not None:
        record["selection"] = selection
    summary = (
        f"{study.design['participant_id'].nunique()} participants, {len(runs)} runs "
        f"denoised by XCP-D {study.version}, atlas {study.atlas}"
    )
    return StudyPlan(base, runs, study.design, inputs, record, summary)
