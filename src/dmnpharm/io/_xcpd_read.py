"""Read one XCP-D run's time series and motion, XCP-D's atlas table, and a provenance record.

The runs come from :func:`dmnpharm.io._xcpd.discover_xcpd`, which validated every file;
these readers check again that the files did not change since.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.io._xcpd import XcpdRun, XcpdStudy
from dmnpharm.io._xcpd_files import (
    atlas_file,
    check_values,
    read_atlas_table,
    read_header,
    read_table,
    timeseries_files,
    xcpd_version,
)

__all__ = [
    "read_xcpd_motion",
    "read_xcpd_timeseries",
    "xcpd_atlas_file",
    "xcpd_atlas_table",
    "xcpd_atlases",
    "xcpd_folder_version",
    "xcpd_record",
]


def read_xcpd_timeseries(run: XcpdRun) -> npt.NDArray[np.float64]:
    """Read one run's parcellated time series as XCP-D wrote it.

    Parameters
    ----------
    run : XcpdRun
        A run of :func:`discover_xcpd`.

    Returns
    -------
    numpy.ndarray
        ``run.n_volumes`` x regions, float64, in the order of ``run.labels``; ``n/a`` (a
        region under XCP-D's coverage threshold) is NaN. With ``run.censoring ==
        "interpolated"`` the outlier rows hold interpolated values: keep the rows where
        :func:`read_xcpd_motion`'s ``kept`` is True.

    Raises
    ------
    InputError
        If the file is missing, unreadable, or no longer has the columns, rows or numbers
        found by :func:`discover_xcpd` (file, line and column named).
    """
    problems: list[str] = []
    table = read_table(run.timeseries, problems, "time series")
    if table is not None:
        if read_header(run.timeseries) != run.labels or len(table) != run.n_volumes:
            problems.append(
                f"{run.timeseries}: changed since it was discovered (now {len(table)} rows x "
                f"{table.shape[1]} columns, was {run.n_volumes} x {len(run.labels)}); "
                "discover the study again"
            )
        else:
            check_values(run.timeseries, table, problems)
    if table is None or problems:
        raise InputError("; ".join(problems))
    return table.to_numpy(dtype=np.float64)


def read_xcpd_motion(run: XcpdRun) -> pd.DataFrame:
    """Read one run's motion, one row per row of its time series.

    Parameters
    ----------
    run : XcpdRun
        A run of :func:`discover_xcpd`.

    Returns
    -------
    pandas.DataFrame
        Every column of XCP-D's motion file (``framewise_displacement`` in mm, the six
        motion parameters, ...), the boolean ``outlier`` (flagged in the outliers file) and
        ``kept`` (use this volume), indexed by ``volume`` (0-based, after dummy scans). For a
        censored run the outlier rows are dropped, as in its time series; for an interpolated
        one they are kept with ``kept`` False.

    Raises
    ------
    InputError
        If the motion file is missing, unreadable, or no longer matches the time series.
    """
    problems: list[str] = []
    motion = read_table(run.motion, problems, "motion file")
    if motion is None or len(motion) != run.n_acquired:
        rows = "" if motion is None else f" has {len(motion)} rows, was {run.n_acquired};"
        raise InputError("; ".join(problems) or f"{run.motion}:{rows} discover the study again")
    outlier = np.zeros(len(motion), dtype=bool)
    outlier[list(run.outlier_volumes)] = True
    frame = motion.assign(outlier=outlier, kept=~outlier)
    frame.index.name = "volume"
    if run.censoring == "removed":
        frame = frame.loc[~outlier]
    return frame


def xcpd_atlas_table(xcpd_dir: str | Path, atlas: str) -> pd.DataFrame | None:
    """Return the region table XCP-D wrote for an atlas, in dmnpharm's column names.

    Parameters
    ----------
    xcpd_dir : str or Path
        The XCP-D folder.
    atlas : str
        Atlas label, as in the ``seg-``/``atlas-`` entity (``XcpdStudy.atlas``).

    Returns
    -------
    pandas.DataFrame or None
        One row per region in XCP-D's order: ``index`` (label value), ``name`` and ``label``
        (XCP-D's ``label``, or ``name`` in BIDS-Atlas tables: the time-series column names),
        ``network`` and ``source_network`` (from ``network_label``, when the atlas has
        networks), then XCP-D's other columns. Give it, with the atlas image and a
        ``network_map`` to dmnpharm's codes, to :func:`dmnpharm.atlases.labels_atlas`. None
        when the folder has no ``*_dseg.tsv`` of the atlas.

    Raises
    ------
    InputError
        If the table cannot be read, lacks ``index`` or ``label``/``name``, or an index is
        not an integer (file and line named).
    """
    return read_atlas_table(Path(xcpd_dir), atlas)[0]


def _tr_kind(source: str) -> str:
    if source == "caller":
        return "caller (repetition_time=)"
    if "_desc-denoised" in source:
        return "XCP-D denoised BOLD sidecar"
    return "XCP-D time-series sidecar" if source.endswith("_timeseries.json") else "raw BIDS"


def xcpd_record(study: XcpdStudy) -> dict[str, Any]:
    """Return a JSON-ready provenance record of an XCP-D study.

    Parameters
    ----------
    study : XcpdStudy
        From :func:`discover_xcpd`.

    Returns
    -------
    dict
        ``denoising`` (``"done by XCP-D <version>"``, or ``"done by dmnpharm <version>"``
        for dmnpharm's own derivatives: dmnpharm does not denoise again), ``xcpd_version``
        (the writer's version), ``generator`` (only for dmnpharm's derivatives),
        ``xcpd_dir``, ``naming``, ``atlas``, ``space``, ``n_runs``, ``censoring``
        (``state``: ``removed``, ``interpolated``, ``none`` or ``mixed``; runs per state;
        outlier volumes in all), ``repetition_time_from`` and the number of
        concatenated-run files skipped.
    """
    states = Counter(run.censoring for run in study.runs)
    writer = {"generator": study.generator} if study.generator != "XCP-D" else {}
    return {
        "denoising": f"done by {study.generator} {study.version}",
        "xcpd_version": study.version,
        **writer,
        "xcpd_dir": str(study.root),
        "naming": study.naming,
        "atlas": study.atlas,
        "space": study.space,
        "n_runs": len(study.runs),
        "censoring": {
            "state": next(iter(states)) if len(states) == 1 else "mixed",
            "runs": dict(sorted(states.items())),
            "outlier_volumes": sum(len(run.outlier_volumes) for run in study.runs),
            "meaning": (
                "removed: outlier volumes are absent from XCP-D's time series; interpolated: "
                "they are present with interpolated values and are dropped before measures; "
                "none: no volume was an outlier (or XCP-D's --fd-thresh was 0)"
            ),
        },
        "repetition_time_from": sorted({_tr_kind(r.repetition_time_source) for r in study.runs}),
        "skipped_concatenated_runs": len(study.skipped),
    }


def xcpd_atlases(xcpd_dir: str | Path, task: str | None = None) -> list[str]:
    """Return the atlases an XCP-D folder has parcellated time series in.

    Parameters
    ----------
    xcpd_dir : str or Path
        The XCP-D folder.
    task : str, optional
        Only runs of this task.

    Returns
    -------
    list of str
        Atlas labels (``seg-``/``atlas-`` entities), sorted, without repeats.
    """
    return sorted({atlas for _, atlas, _ in timeseries_files(Path(xcpd_dir), task)})


def xcpd_atlas_file(xcpd_dir: str | Path, atlas: str) -> Path | None:
    """Return the region table (``*_dseg.tsv``) XCP-D wrote for an atlas, if any.

    Parameters
    ----------
    xcpd_dir : str or Path
        The XCP-D folder.
    atlas : str
        Atlas label.

    Returns
    -------
    Path or None
        ``atlases/atlas-<A>/atlas-<A>_dseg.tsv`` (0.7+) or
        ``sourcedata/atlases/tpl-*/..._atlas-<A>_dseg.tsv`` (26+); None when absent.
    """
    return atlas_file(Path(xcpd_dir), atlas)


def xcpd_folder_version(xcpd_dir: str | Path) -> str | None:
    """Return the XCP-D version that wrote a folder, from its ``dataset_description.json``.

    Parameters
    ----------
    xcpd_dir : str or Path
        The folder.

    Returns
    -------
    str or None
        ``GeneratedBy[0].Version`` (``"unknown"`` when absent) when the first
        generator is XCP-D; None when XCP-D did not write the folder.
    """
    return xcpd_version(Path(xcpd_dir))
