"""The per-run tables XCP-D writes beside its time series, as dmnpharm writes them.

Each included run gets, besides its time series and matrix (names as XCP-D 0.10; see
:mod:`dmnpharm.io._xcpd` for what XCP-D writes and its sources):

* ``<src>_motion.tsv``: the six motion parameters (``trans_*``, ``rot_*``, when the run's
  confounds have them) and ``framewise_displacement`` (``n/a`` where the input gave none),
  one row per volume of the run as dmnpharm read it;
* ``<src>_outliers.tsv``: ``denoising`` = 1 for every volume left out of the cleaned
  time series (non-steady-state, over the FD/DVARS thresholds, or in a segment too
  short), the mask actually used, as XCP-D 26.2 names the union of its censoring; and
  ``framewise_displacement`` = 1 where FD exceeds the FD threshold (XCP-D 0.10's only
  column), when a threshold was set;
* ``<src>[_space-<S>]_seg-<A>_stat-coverage_bold.tsv``: per region, 1 when its signal
  is finite and varies in this run and 0 when it is left out of the run's measures
  (see :mod:`dmnpharm.pipeline._coverage`; XCP-D writes the fraction of the parcel's
  voxels inside the brain mask here, which dmnpharm does not compute);
* ``<src>[_space-<S>]_qc.tsv``: one row of the run's QC (motion, censoring).

The tables are built here from the run's record and its confounds, read again on the
client (a few columns of a small TSV), so that the cached per-run results need not
carry them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.io import read_xcpd_motion
from dmnpharm.pipeline._tasks import RunTask

__all__ = [
    "MOTION_COLUMNS",
    "coverage_table",
    "motion_table",
    "outliers_table",
    "qc_table",
    "run_table_sidecars",
    "write_table",
]

#: The motion file's columns, in XCP-D's order.
MOTION_COLUMNS = (
    "trans_x",
    "trans_y",
    "trans_z",
    "rot_x",
    "rot_y",
    "rot_z",
    "framewise_displacement",
)

_MOTION_UNITS = {
    "trans_x": "mm",
    "trans_y": "mm",
    "trans_z": "mm",
    "rot_x": "rad",
    "rot_y": "rad",
    "rot_z": "rad",
    "framewise_displacement": "mm",
}


def _read_motion(task: RunTask) -> pd.DataFrame | None:
    """Return the motion columns the run's input has, one row per volume read."""
    if task.kind == "xcpd" and task.xcpd is not None:
        motion = read_xcpd_motion(task.xcpd)
        return motion.loc[motion["kept"].to_numpy(dtype=bool)].reset_index(drop=True)
    if task.confounds is None:
        return None
    return pd.read_csv(
        task.confounds, sep="\t", usecols=lambda c: c in MOTION_COLUMNS, na_values=["n/a"]
    )


def motion_table(task: RunTask, n_volumes: int) -> pd.DataFrame:
    """Return a run's motion table as XCP-D's ``_motion.tsv`` holds it.

    Parameters
    ----------
    task : RunTask
        The run: its confounds file (fMRIPrep or ROI-level input) or XCP-D motion file.
    n_volumes : int
        Volumes of the run as it was cleaned (the record's ``n_volumes``).

    Returns
    -------
    pandas.DataFrame
        The motion parameters the input has and ``framewise_displacement`` (mm), one
        row per volume; FD is NaN throughout when the input has none (or its rows do
        not match the run's).
    """
    try:
        motion = _read_motion(task)
    except (OSError, ValueError, UnicodeDecodeError, InputError):
        motion = None  # the worker read it; a file changed since loses only this table
    if motion is None or len(motion) != n_volumes:
        return pd.DataFrame({"framewise_displacement": np.full(n_volumes, np.nan)})
    columns = [c for c in MOTION_COLUMNS if c in motion.columns]
    table = pd.DataFrame(
        {c: pd.to_numeric(motion[c], errors="coerce").to_numpy() for c in columns}
    )
    if "framewise_displacement" not in table:
        table["framewise_displacement"] = np.full(n_volumes, np.nan)
    return table


def outliers_table(
    record: Mapping[str, Any], motion: pd.DataFrame, config: AnalysisConfig
) -> pd.DataFrame:
    """Return the run's outliers: the censoring mask used, and FD over its threshold.

    Parameters
    ----------
    record : mapping
        The run's cleaning record (``n_volumes``, ``censored_volumes``).
    motion : pandas.DataFrame
        From :func:`motion_table`.
    config : AnalysisConfig
        Its FD threshold, when one was set.

    Returns
    -------
    pandas.DataFrame
        ``framewise_displacement`` (0/1, only with an FD threshold and FD values) and
        ``denoising`` (0/1: left out of the cleaned time series), one row per volume.
    """
    n_volumes = int(record.get("n_volumes") or len(motion))
    removed = np.zeros(n_volumes, dtype=int)
    removed[list(record.get("censored_volumes", []))] = 1
    table = pd.DataFrame(index=range(n_volumes))
    threshold = config.denoise.fd_threshold
    fd = motion["framewise_displacement"].to_numpy(dtype=float)
    if threshold is not None and np.isfinite(fd).any():
        with np.errstate(invalid="ignore"):
            table["framewise_displacement"] = (fd > threshold).astype(int)
    table["denoising"] = removed
    return table


def coverage_table(atlas: Atlas, record: Mapping[str, Any]) -> pd.DataFrame:
    """Return per region whether it carried a signal in the run (1) or not (0).

    Parameters
    ----------
    atlas : Atlas
        The study's atlas.
    record : mapping
        The run's record; ``record["coverage"]["regions_without_signal"]`` lists
        the regions left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``Node`` (region label, atlas order), column ``coverage``.
    """
    missing = set(record.get("coverage", {}).get("regions_without_signal", []))
    values = [0.0 if label in missing else 1.0 for label in atlas.labels]
    return pd.DataFrame({"coverage": values}, index=pd.Index(atlas.labels, name="Node"))


def qc_table(record: Mapping[str, Any], qc: Mapping[str, float]) -> pd.DataFrame:
    """Return the run's QC as one row.

    Parameters
    ----------
    record : mapping
        The run's cleaning record (volumes in, kept and censored; coverage).
    qc : mapping
        Motion and censoring summary (:func:`dmnpharm.stats.run_qc`); empty without FD.

    Returns
    -------
    pandas.DataFrame
        ``n_volumes``, ``n_kept``, ``n_censored``, ``n_regions_without_signal`` and
        the QC values.
    """
    missing = record.get("coverage", {}).get("regions_without_signal", [])
    row: dict[str, Any] = {k: record.get(k) for k in ("n_volumes", "n_kept", "n_censored")}
    row["n_regions_without_signal"] = len(missing)
    row.update({k: v for k, v in qc.items() if k not in row})
    return pd.DataFrame([row])


def run_table_sidecars(config: AnalysisConfig) -> dict[str, dict[str, Any]]:
    """Return the JSON sidecar of each per-run table, by suffix.

    Parameters
    ----------
    config : AnalysisConfig
        The analysis (strategy and FD threshold, named in the descriptions).

    Returns
    -------
    dict
        ``motion``, ``outliers``, ``coverage`` and ``qc`` sidecars: a
        ``Description`` and, per column, its description (and units).
    """
    threshold = config.denoise.fd_threshold
    motion = {
        column: {
            "Description": "framewise displacement (Power et al. 2012), as the input gave it"
            if column == "framewise_displacement"
            else f"motion parameter {column}, as the input gave it",
            "Units": unit,
        }
        for column, unit in _MOTION_UNITS.items()
    }
    return {
        "motion": {
            "Description": "Head motion of each volume of the run as dmnpharm read it (after "
            "dummy scans the input had already dropped); n/a where the input gave none.",
            **motion,
        },
        "outliers": {
            "Description": "Volumes censored by dmnpharm's cleaning "
            f"({config.denoise.describe()}).",
            "denoising": {
                "Description": "1: left out of the cleaned time series (non-steady-state, over "
                "the FD/DVARS thresholds, or in a segment too short); 0: kept",
                "Levels": {"0": "kept", "1": "censored"},
            },
            "framewise_displacement": {
                "Description": f"1: framewise displacement over {threshold} mm (written when "
                "an FD threshold was set)",
                "Threshold": threshold,
                "Levels": {"0": "under the threshold", "1": "over the threshold"},
            },
        },
        "coverage": {
            "Description": "1: the region's signal is finite and varies in this run; 0: it "
            "is constant, empty or non-finite and left out of the run's measures (n/a in "
            "the time series and matrix). Not a fraction of voxels.",
        },
        "qc": {
            "Description": "The run's motion and censoring summary, as group/qc.tsv holds it.",
            "mean_fd": {"Description": "mean framewise displacement", "Units": "mm"},
            "max_fd": {"Description": "largest framewise displacement", "Units": "mm"},
        },
    }


def _cell(value: object) -> str:
    """One TSV cell: floats as Python writes them (exact), ``n/a`` for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        number = float(value)
        return repr(number) if math.isfinite(number) else "n/a"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def write_table(table: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    """Write a small table as a BIDS TSV, fast (no pandas writer per run).

    Parameters
    ----------
    table : pandas.DataFrame
        The table; with ``index`` its index is the first column, named after it.
    path : Path
        Destination (its folder must exist).
    index : bool
        Write the index as the first column.

    Returns
    -------
    Path
        ``path``: tab-separated, ``n/a`` for missing values, floats written exactly
        (``repr``), as :func:`pandas.read_csv` reads them back.
    """
    header = [str(c) for c in table.columns]
    labels: list[object] = list(table.index) if index else []
    if index:
        header.insert(0, str(table.index.name or "index"))
    lines = ["\t".join(header)]
    for number, row in enumerate(table.itertuples(index=False, name=None)):
        cells = [_cell(v) for v in row]
        if index:
            cells.insert(0, _cell(labels[number]))
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
