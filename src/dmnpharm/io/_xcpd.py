"""Read XCP-D derivatives: parcellated time series, motion, censoring and atlas tables.

What XCP-D writes, from its source and documentation (repository PennLINC/xcp_d):

* File names. 0.4-0.6 (``docs/output.rst``): ``<src>_space-<S>_atlas-<A>_timeseries.tsv``,
  ``..._atlas-<A>_measure-pearsoncorrelation_conmat.tsv``, ``..._atlas-<A>_coverage.tsv``.
  0.7.0 (PR #1065, "Bring outputs up to date with BEPs 11, 12, 17, and 38") to 0.14:
  ``<src>_space-<S>[_cohort-..]_seg-<A>[_den-..]_stat-mean_timeseries.tsv``,
  ``..._stat-pearsoncorrelation_relmat.tsv`` (+ ``_desc-<N>volumes``),
  ``..._stat-coverage_bold.tsv``
  (``xcp_d/workflows/bold/outputs.py``: the time series drop ``desc``, ``res``, ``den``).
  26.0 (PR #1584, issue #1540, ``docs/outputs.rst``): ``seg-`` is ``atlas-`` again, still with
  ``stat-mean_timeseries``. ``<src>`` is ``sub-..[_ses-..]_task-..[_acq-..][_run-..]``; with
  ``--combine-runs`` a file without ``run-`` concatenates a task's runs (skipped here).
* Motion: ``<src>[_desc-filtered]_motion.tsv`` in every version (six motion parameters and
  ``framewise_displacement``; with a motion filter, ``*_filtered`` columns), every volume after
  dummy-scan removal. Outliers: ``<src>_outliers.tsv``, written only when ``--fd-thresh`` > 0,
  one 0/1 column ``framewise_displacement`` (1 = high motion); 26.2 adds ``censor_between`` and
  their union ``denoising`` (PR #1628), open PR #1159 ``dvars`` and ``interpolation``;
  ``exact_<N>`` columns mark volumes left out of ``desc-<N>volumes`` matrices only. No version
  I read writes ``_desc-motion_timeseries.tsv`` (fMRIPrep 24's head-motion file).
* Censoring. 0.4.0-0.7: time series censored (high-motion rows removed; default --fd-thresh
  0.3, 0.2 before issue #852). 0.8.0+ (``docs/workflows.rst``, "Processing Modes"): ``linc``
  mode writes censored series but defaults to ``--fd-thresh 0`` (no censoring); ``abcd`` and
  ``hbcd`` write full-length series with interpolated outlier volumes (``--fd-thresh 0.3``);
  0.11+ has ``--output-type censored|interpolated`` (seen in users' 0.11 and 0.12 calls).
  Correlation matrices always use the censored series. XCP-D itself tells the two by row
  count (``correlate_timeseries``, ``xcp_d/interfaces/connectivity.py``); so does
  :func:`discover_xcpd`.
* Coverage: a parcel under ``--min-coverage`` (0.5), or lost by resampling, is a column of
  ``n/a`` (``NiftiParcellate``: ``na_rep='n/a'``, header = atlas labels, no index column).
* Atlases: 0.7+ ``atlases/atlas-<A>/atlas-<A>_dseg.tsv`` (+ ``atlas-<A>_space-<S>_dseg.nii.gz``),
  columns ``index``, ``label`` (``name`` in BIDS-Atlas tables), ``network_label`` when the atlas
  has networks, ``cifti_label``; 26.0+ ``sourcedata/atlases/tpl-<S>/tpl-<S>_atlas-<A>_dseg.tsv``.
* Repetition time: the time-series JSON holds ``"SamplingFrequency": "TR"`` (the string, no
  number); ``RepetitionTime`` is in the ``_desc-denoised_bold.json`` sidecar (copied from the
  preprocessed BOLD). It is read from there, else the raw BIDS ``*_bold.json``, else the
  caller's ``repetition_time``; without any, the run is a problem.
* ``dataset_description.json``: ``GeneratedBy[0]`` is ``{"Name": "xcp_d", "Version": ...}``.

dmnpharm's own derivatives follow XCP-D 0.10's layout and :func:`discover_xcpd` reads them
too (:func:`is_xcpd_folder` stays true for XCP-D's folders only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io._bids_design import design_from_bids, design_from_file, merge_design
from dmnpharm.io._xcpd_files import (
    censoring,
    check_values,
    concatenated,
    entities,
    layout_writer,
    majority,
    motion_path,
    read_atlas_table,
    read_header,
    read_table,
    repetition_time,
    source_prefix,
    timeseries_files,
    xcpd_version,
)

__all__ = [
    "XcpdRun",
    "XcpdStudy",
    "discover_xcpd",
    "is_xcpd_folder",
    "xcpd_naming",
]

_LOG = get_logger("io")


def xcpd_naming(version: str) -> str:
    """Return how an XCP-D version names its parcellated files.

    Parameters
    ----------
    version : str
        XCP-D version, e.g. ``"0.10.6"`` or ``"26.0.1"``.

    Returns
    -------
    str
        ``"atlas"`` (before 0.7: ``_atlas-<A>_timeseries.tsv``), ``"seg"`` (0.7 to 0.14:
        ``_seg-<A>_stat-mean_timeseries.tsv``) or ``"atlas-stat"`` (26.0 on:
        ``_atlas-<A>_stat-mean_timeseries.tsv``).

    Raises
    ------
    InputError
        If the version does not start with two numbers.
    """
    found = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    if found is None:
        raise InputError(f"XCP-D version {version!r} is not of the form '0.10.6'")
    release = (int(found[1]), int(found[2]))
    return "atlas" if release < (0, 7) else "seg" if release < (26, 0) else "atlas-stat"


@dataclass(frozen=True, eq=False)
class XcpdRun:
    """One run's XCP-D parcellated time series and its motion and censoring files.

    Parameters
    ----------
    participant_id, session_id : str
        With prefixes (``sub-01``, ``ses-1``); ``session_id`` is ``""`` without sessions.
    entities : dict of str to str
        The other BIDS entities of the time-series file name (``task``, ``acq``, ``run``,
        ``space``, ...), without the atlas and ``stat`` entities.
    timeseries : Path
        The parcellated time series (volumes x regions, header of region labels).
    labels : tuple of str
        Its column names, in order.
    n_volumes : int
        Rows of the time series.
    repetition_time : float or None
        Seconds; None when neither XCP-D's files, the raw BIDS sidecars nor the caller gave one.
    repetition_time_source : str
        The file (or ``"caller"``) the repetition time came from.
    motion : Path
        ``*_motion.tsv`` (``*_desc-filtered_motion.tsv`` when XCP-D filtered the motion).
    outliers : Path or None
        ``*_outliers.tsv``; None when censoring was disabled (``--fd-thresh 0``).
    censoring : str
        ``"removed"``: outlier volumes are not in the time series; ``"interpolated"``: the
        series is full length and outlier rows hold interpolated values (drop them before
        any measure); ``"none"``: no volume is an outlier.
    outlier_volumes : tuple of int
        0-based rows of the motion file (volumes after dummy scans) flagged as outliers.
    n_acquired : int
        Rows of the motion file.
    empty_regions : tuple of str
        Regions with no value (``n/a`` throughout: under XCP-D's coverage threshold).
    """

    participant_id: str
    session_id: str
    entities: dict[str, str]
    timeseries: Path
    labels: tuple[str, ...]
    n_volumes: int
    repetition_time: float | None
    repetition_time_source: str
    motion: Path
    outliers: Path | None
    censoring: str
    outlier_volumes: tuple[int, ...]
    n_acquired: int
    empty_regions: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        """Task label."""
        return self.entities.get("task", "")

    @property
    def run(self) -> str:
        """Run label, or ``""``."""
        return self.entities.get("run", "")

    @property
    def bold(self) -> Path:
        """The time-series file (named in design messages, as a BOLD image would be)."""
        return self.timeseries


@dataclass(frozen=True, eq=False)
class XcpdStudy:
    """A validated XCP-D derivatives folder.

    Parameters
    ----------
    root : Path
        The XCP-D folder.
    version : str
        XCP-D version from ``dataset_description.json``.
    naming : str
        File naming found (see :func:`xcpd_naming`).
    atlas, space : str
        The atlas and space analysed.
    runs : tuple of XcpdRun
        Every run, sorted by file name.
    design : pandas.DataFrame
        One row per run (same order): the design columns, ``participant_id``,
        ``session_id``, ``task``, ``run``, ``repetition_time``, ``n_volumes``, ``n_outliers``
        and ``path`` (relative to ``root``).
    skipped : tuple of Path
        Files of concatenated runs (``--combine-runs``), not read.
    generator : str
        ``"XCP-D"``, or ``"dmnpharm"`` (then ``version`` is dmnpharm's).
    """

    root: Path
    version: str
    naming: str
    atlas: str
    space: str
    runs: tuple[XcpdRun, ...]
    design: pd.DataFrame = field(repr=False)
    skipped: tuple[Path, ...] = ()
    generator: str = "XCP-D"


def is_xcpd_folder(path: str | Path) -> bool:
    """Tell whether a folder holds XCP-D derivatives.

    Parameters
    ----------
    path : str or Path
        A folder.

    Returns
    -------
    bool
        True when its ``dataset_description.json`` names ``xcp_d`` in ``GeneratedBy[0]``.
    """
    return Path(path).is_dir() and xcpd_version(Path(path)) is not None


def _choose(what: str, value: str | None, found: list[str], folder: Path) -> str:
    options = sorted(set(found))
    if value is None:
        if len(options) > 1:
            raise InputError(
                f"{folder} has XCP-D time series in several {what} ({', '.join(options)}); "
                f"choose one with {what}="
            )
        return options[0]
    if value not in options:
        hint = closest_match(value, options)
        fix = f"; did you mean '{hint}'?" if hint else ""
        raise InputError(
            f"{what} {value!r} has no XCP-D time series in {folder} "
            f"(found: {', '.join(options)}){fix}"
        )
    return value


def _read_run(path: Path, bids_root: Path | None, problems: list[str]) -> XcpdRun | None:
    ent = dict(entities(path))
    table = read_table(path, problems, "time series")
    if table is None or not check_values(path, table, problems):
        return None
    labels = read_header(path)
    if len(set(labels)) != len(labels):
        repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
        problems.append(f"{path}: region labels repeat in the header: {', '.join(repeated[:5])}")
        return None
    prefix = source_prefix(path)
    run: dict[str, Any] = {
        "timeseries": path,
        "n_volumes": len(table),
        "motion": motion_path(path.parent, prefix),
        "outliers": path.parent / f"{prefix}_outliers.tsv",
    }
    censoring(run, problems)
    if "censoring" not in run:
        return None
    tr, source = repetition_time(path, bids_root)
    empty = tuple(c for c in labels if table[c].isna().all())
    return XcpdRun(
        participant_id=f"sub-{ent.get('sub', '')}",
        session_id=f"ses-{ent['ses']}" if "ses" in ent else "",
        entities={k: v for k, v in ent.items() if k not in ("sub", "ses", "seg", "atlas", "stat")},
        labels=labels,
        repetition_time=tr,
        repetition_time_source=source,
        empty_regions=empty,
        **run,
    )


def _drop_repeats(runs: list[XcpdRun], problems: list[str]) -> list[XcpdRun]:
    """Report and drop a second file of the same run (other res-, den- or cohort-)."""
    seen: dict[tuple[str, ...], Path] = {}
    kept = []
    for run in runs:
        key = (run.participant_id, run.session_id, source_prefix(run.timeseries))
        if key in seen:
            problems.append(
                f"{run.timeseries}: repeats run {key[2]} of {seen[key].name} (another res-, den- "
                "or cohort- entity); remove one, or keep one output space per run"
            )
            continue
        seen[key] = run.timeseries
        kept.append(run)
    return kept


def _check_labels(runs: list[XcpdRun], folder: Path, atlas: str, problems: list[str]) -> None:
    """Report runs whose columns are not the atlas table's regions (else most runs')."""
    try:
        table, where = read_atlas_table(folder, atlas)
    except InputError as exc:
        problems.append(str(exc))
        return
    if table is None and not runs:
        return
    if table is not None:
        # CIFTI outputs may be headed by the table's cifti_label column instead.
        names = [tuple(table[c]) for c in ("name", "cifti_label") if c in table]
        usual = next((n for n in names if any(r.labels == n for r in runs)), names[0])
    else:
        usual, where = majority([r.labels for r in runs]), "the other runs"
    for run in runs:
        if run.labels != usual:
            problems.append(
                f"{run.timeseries}: its {len(run.labels)} region columns differ from the "
                f"{len(usual)} regions of {where}; every run must use the same atlas version"
            )


def _check_trs(runs: list[XcpdRun], given_tr: float | None, problems: list[str]) -> None:
    """Report repetition times missing, or differing from the caller's or most runs'."""
    timed = [r for r in runs if r.repetition_time is not None]
    # Runs may differ (sites, protocols): each is measured at its own TR. A TR the
    # caller gives must agree with every file that records one.
    for run in timed if given_tr is not None else ():
        if run.repetition_time != given_tr:
            problems.append(
                f"{run.repetition_time_source}: RepetitionTime {run.repetition_time:g} s, while "
                f"--repetition-time gives {given_tr:g} s; fix the file or the option"
            )
    untimed = [r for r in runs if r.repetition_time is None]
    if untimed and given_tr is None:
        problems.append(
            f"{len(untimed)} run(s) have no RepetitionTime (e.g. {untimed[0].timeseries}): XCP-D "
            "keeps it in *_desc-denoised_bold.json and the raw BIDS *_bold.json, and neither "
            "was found; give it with --repetition-time SECONDS (Python: repetition_time=), or "
            "the raw BIDS folder holding the *_bold.json sidecars"
        )


def _with_tr(runs: list[XcpdRun], given_tr: float | None) -> list[XcpdRun]:
    if given_tr is None:
        return runs
    return [
        r
        if r.repetition_time is not None
        else replace(r, repetition_time=given_tr, repetition_time_source="caller")
        for r in runs
    ]


def _design(
    folder: Path,
    runs: list[XcpdRun],
    bids_root: Path | None,
    design: Path | None,
    problems: list[str],
) -> pd.DataFrame | None:
    """Return one design row per run, from a design TSV or the raw BIDS folder."""
    if design is not None:
        table, listing = design_from_file(design, problems), design
    elif bids_root is not None:
        table, listing = (
            design_from_bids(bids_root, problems, runs),
            bids_root / "participants.tsv",
        )
    else:
        problems.append(
            f"{folder}: XCP-D folders have no participants.tsv; pass bids_root= (the raw BIDS "
            "folder with participants.tsv and sub-*/sub-*_sessions.tsv) or design= (a TSV)"
        )
        return None
    return merge_design(runs, table, problems, listing) if table is not None else None


def _select(
    folder: Path, atlas: str | None, space: str | None, task: str | None
) -> tuple[str, str, list[Path], str]:
    """Return the atlas, space, time-series files and naming to read."""
    found = timeseries_files(folder, task)
    if not found:
        raise StudyValidationError(
            str(folder),
            [
                f"{folder}: no parcellated time series (sub-*/**/func/*_timeseries.tsv with "
                "seg- or atlas-); was XCP-D run with --skip-parcellation?"
            ],
        )
    chosen_atlas = _choose("atlas", atlas, [a for _, a, _ in found], folder)
    found = [f for f in found if f[1] == chosen_atlas]
    spaces = [dict(entities(p)).get("space", "") for p, _, _ in found]
    chosen_space = _choose("space", space, spaces, folder)
    found = [f for f, s in zip(found, spaces, strict=True) if s == chosen_space]
    return chosen_atlas, chosen_space, [p for p, _, _ in found], found[0][2]


def discover_xcpd(
    xcpd_dir: str | Path,
    *,
    atlas: str | None = None,
    task: str | None = None,
    space: str | None = None,
    bids_root: str | Path | None = None,
    design: str | Path | None = None,
    repetition_time: float | None = None,
) -> XcpdStudy:
    """Find and validate every run of an XCP-D folder, listing all problems at once.

    Parameters
    ----------
    xcpd_dir : str or Path
        The XCP-D output folder (with its ``dataset_description.json``), or dmnpharm's
        own derivatives folder (same layout).
    atlas : str, optional
        Atlas label (``seg-``/``atlas-`` entity, e.g. ``"4S156Parcels"``); required when the
        folder has several.
    task : str, optional
        Only runs of this task.
    space : str, optional
        Output space (``space-`` entity); required when the atlas has several.
    bids_root : str or Path, optional
        Raw BIDS folder giving the design (``participants.tsv`` + sessions files) and, as a
        fallback, ``RepetitionTime``; default: the folder above ``derivatives/`` when
        ``xcpd_dir`` is ``<root>/derivatives/<name>``.
    design : str or Path, optional
        Design TSV (``participant_id``, ``session_id``, optionally ``run``) instead.
    repetition_time : float, optional
        Seconds, for runs whose files record none; a file that records another is a problem.

    Returns
    -------
    XcpdStudy
        The runs, their censoring and the design, one row per run.

    Raises
    ------
    InputError
        The folder is missing or not XCP-D's, or the atlas or space must be chosen.
    StudyValidationError
        Listing every problem: missing or unreadable files, values that are not numbers,
        repeated runs, row counts of time series, motion and outliers that disagree,
        repetition times missing or differing, design rows without runs and runs without rows.
    """
    folder = Path(xcpd_dir)
    if not folder.is_dir():
        raise InputError(f"XCP-D folder '{folder}' does not exist; check the path")
    writer = layout_writer(folder)
    if writer is None:
        nested = [
            p.parent for p in folder.glob("*/dataset_description.json") if is_xcpd_folder(p.parent)
        ]
        hint = f"; did you mean '{nested[0]}'?" if nested else ""
        raise InputError(
            f"'{folder}' is not an XCP-D folder: its dataset_description.json does not name "
            f"xcp_d (or dmnpharm) in GeneratedBy{hint}"
        )
    generator, version = writer
    if repetition_time is not None and not repetition_time > 0:
        raise InputError(
            f"repetition_time must be a positive number of seconds; got {repetition_time!r}"
        )
    chosen_atlas, chosen_space, paths, naming = _select(folder, atlas, space, task)
    skipped = concatenated(paths)
    if skipped:
        _LOG.info("skipping %d concatenated-run files (--combine-runs)", len(skipped))
    root = (
        Path(bids_root)
        if bids_root
        else (folder.parent.parent if folder.parent.name == "derivatives" else None)
    )
    problems: list[str] = []
    runs = [r for p in paths if p not in skipped if (r := _read_run(p, root, problems))]
    runs = _drop_repeats(runs, problems)
    _check_labels(runs, folder, chosen_atlas, problems)
    _check_trs(runs, repetition_time, problems)
    runs = _with_tr(runs, repetition_time)
    rows = _design(folder, runs, root, Path(design) if design else None, problems)
    if problems:
        raise StudyValidationError(str(folder), problems, design=rows)
    assert rows is not None
    rows["n_outliers"] = [len(r.outlier_volumes) for r in runs]
    rows["path"] = [r.timeseries.relative_to(folder).as_posix() for r in runs]
    _LOG.info("found %d runs in %s %s folder %s", len(runs), generator, version, folder)
    return XcpdStudy(
        folder,
        version,
        naming,
        chosen_atlas,
        chosen_space,
        tuple(runs),
        rows,
        tuple(sorted(skipped)),
        generator,
    )
