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
* ``<src>[_space-<S>]_seg-<A>_stat-coverage_bold.tsv``: per region, the fraction of its
  voxels inside the run's brain mask when the caller gives it (as XCP-D writes it),
  else 1; 0 for a region left out of the run's measures (its signal constant, empty or
  not finite, see :mod:`dmnpharm.pipeline._coverage`);
* ``<src>[_space-<S>]_qc.tsv``: one row of the run's QC (motion, censoring).

The tables are built here from the run's record and its confounds, read again on the
client (a few columns of a small TSV), so that the cached per-run results need not
carry them. The writer (:mod:`dmnpharm.pipeline._derivatives`) formats them without
pandas (:func:`table_text`) and its sidecars with :func:`sidecar_text`, which keep the
text that pandas and :func:`json.dumps` gave.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.io import read_xcpd_motion
from dmnpharm.pipeline._tasks import RunTask

__all__ = [
    "MOTION_COLUMNS",
    "coverage_table",
    "coverage_values",
    "motion_columns",
    "motion_table",
    "outlier_columns",
    "outliers_table",
    "qc_row",
    "qc_table",
    "run_table_sidecars",
    "sidecar_text",
    "table_text",
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


Columns = dict[str, npt.NDArray[Any]]

#: A number the fast reader takes: at most 15 digits and an exponent of at most 8, which
#: pandas (``precise_xstrtod``: the digits as an integer, times or over an exact power of
#: ten) and :func:`float` both read as the nearest double; or ``n/a``.
_TOKEN = (
    r"(?:n/a|-?(?:(?=[0-9.]{3,16}(?:e|\n|\Z))[0-9]+\.[0-9]+|[0-9]{1,15}(?=e))"
    r"(?:e[-+]?0?[0-8])?)"
)
_COLUMN = re.compile(rf"{_TOKEN}(?:\n{_TOKEN})*")


def _fast_motion(path: str) -> tuple[Columns, int] | None:
    """Read the motion columns of a plain TSV of decimals; None for anything else.

    Anything pandas might read differently (quotes, a byte-order mark, blank or ragged
    lines, repeated names, integers, other missing-value spellings, long numbers) is
    left to pandas.
    """
    text = Path(path).read_bytes().decode("utf-8")
    lines = text.removesuffix("\n").split("\n")
    header = lines[0].split("\t")
    width = len(header)
    if any(c in text for c in '"\r\ufeff') or len(set(header)) < width or len(lines) < 2:
        return None
    if any(line.count("\t") != width - 1 for line in lines):
        return None
    cells = "\t".join(lines).split("\t")
    found: Columns = {}
    for column, name in enumerate(header):
        if name in MOTION_COLUMNS:
            tokens = "\n".join(cells[width + column :: width])
            if _COLUMN.fullmatch(tokens) is None:
                return None
            found[name] = np.array([math.nan if t == "n/a" else float(t) for t in tokens.split()])
    return found, len(lines) - 1


def _read_motion(task: RunTask) -> tuple[Columns, int] | None:
    """Return the motion columns the run's input has (as pandas reads them) and its rows."""
    if task.kind == "xcpd" and task.xcpd is not None:
        motion = read_xcpd_motion(task.xcpd)
        motion = motion.loc[motion["kept"].to_numpy(dtype=bool)].reset_index(drop=True)
    elif task.confounds is None:
        return None
    else:
        fast = _fast_motion(task.confounds)
        if fast is not None:
            return fast
        motion = pd.read_csv(
            task.confounds, sep="\t", usecols=lambda c: c in MOTION_COLUMNS, na_values=["n/a"]
        )
    present = [c for c in MOTION_COLUMNS if c in motion.columns]
    return {c: pd.to_numeric(motion[c], errors="coerce").to_numpy() for c in present}, len(motion)


def motion_columns(task: RunTask, n_volumes: int) -> Columns:
    """Return the columns of :func:`motion_table` by name, in its order (no table built).

    Parameters
    ----------
    task : RunTask
        The run.
    n_volumes : int
        Volumes of the run as it was cleaned.

    Returns
    -------
    dict of str to numpy.ndarray
        The columns of :func:`motion_table`.
    """
    try:
        motion = _read_motion(task)
    except (OSError, ValueError, UnicodeDecodeError, InputError):
        motion = None  # the worker read it; a file changed since loses only this table
    if motion is None or motion[1] != n_volumes:
        return {"framewise_displacement": np.full(n_volumes, np.nan)}
    table = {c: motion[0][c] for c in MOTION_COLUMNS if c in motion[0]}
    if "framewise_displacement" not in table:
        table["framewise_displacement"] = np.full(n_volumes, np.nan)
    return table


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
    return pd.DataFrame(motion_columns(task, n_volumes))


def outlier_columns(
    record: Mapping[str, Any], fd: npt.NDArray[np.float64], config: AnalysisConfig
) -> Columns:
    """Return the columns of :func:`outliers_table` by name, from the run's FD (mm)."""
    n_volumes = int(record.get("n_volumes") or len(fd))
    removed = np.zeros(n_volumes, dtype=int)
    removed[list(record.get("censored_volumes", []))] = 1
    table: Columns = {}
    threshold = config.denoise.fd_threshold
    if threshold is not None and np.isfinite(fd).any():
        with np.errstate(invalid="ignore"):
            table["framewise_displacement"] = (fd > threshold).astype(int)
    table["denoising"] = removed
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
    fd = motion["framewise_displacement"].to_numpy(dtype=float)
    return pd.DataFrame(outlier_columns(record, fd, config))


def coverage_values(
    atlas: Atlas, record: Mapping[str, Any], fraction: npt.NDArray[np.floating[Any]] | None = None
) -> npt.NDArray[np.float64]:
    """Return the ``coverage`` column of :func:`coverage_table`, in atlas order."""
    missing = set(record.get("coverage", {}).get("regions_without_signal", []))
    out = np.array([label not in missing for label in atlas.labels], dtype=float)
    if fraction is None:
        return out
    given = np.asarray(fraction, dtype=float)
    if given.shape != out.shape or not ((given >= 0) & (given <= 1)).all():
        raise ValueError(
            f"coverage fractions must be {atlas.n_regions} values in [0, 1] (one per region), "
            f"got shape {given.shape}"
        )
    return np.where(out > 0, given, 0.0)


def coverage_table(
    atlas: Atlas, record: Mapping[str, Any], fraction: npt.NDArray[np.floating[Any]] | None = None
) -> pd.DataFrame:
    """Return per region its coverage in the run: a fraction of voxels, or 1/0.

    Parameters
    ----------
    atlas : Atlas
        The study's atlas.
    record : mapping
        The run's record; ``record["coverage"]["regions_without_signal"]`` lists
        the regions left out.
    fraction : numpy.ndarray or None
        Per atlas region, the share of its voxels inside the run's brain mask (in
        [0, 1]), written as the coverage of the regions that carried a signal. None:
        1 for those.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``Node`` (region label, atlas order), column ``coverage``: 0 for
        the regions left out.

    Raises
    ------
    ValueError
        If ``fraction`` is not one value in [0, 1] per region.
    """
    values = coverage_values(atlas, record, fraction)
    return pd.DataFrame({"coverage": values}, index=pd.Index(atlas.labels, name="Node"))


def qc_row(record: Mapping[str, Any], qc: Mapping[str, float]) -> dict[str, Any]:
    """Return the one row of :func:`qc_table`, by column."""
    missing = record.get("coverage", {}).get("regions_without_signal", [])
    row: dict[str, Any] = {k: record.get(k) for k in ("n_volumes", "n_kept", "n_censored")}
    row["n_regions_without_signal"] = len(missing)
    row.update({k: v for k, v in qc.items() if k not in row})
    return row


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
    return pd.DataFrame([qc_row(record, qc)])


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
            "Description": "Per region: when dmnpharm was given the run's brain mask, the "
            "fraction of the region's voxels inside it (as XCP-D writes it), else 1; either "
            "way 0 when the region's signal is constant, empty or non-finite in this run and "
            "left out of the run's measures (n/a in the time series and matrix).",
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


def _column_cells(values: npt.NDArray[Any] | Sequence[object]) -> list[str]:
    """Return the cells of a column as :func:`_cell` writes each of its values."""
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiub":
        return [_cell(v) for v in values]
    cells = list(map(repr if values.dtype.kind == "f" else str, values.tolist()))
    if values.dtype.kind == "f":
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            cells[i] = "n/a"
    return cells


def _lines(names: Sequence[str], cells: Sequence[list[str]], n_rows: int) -> str:
    rows = ["\t".join(row) for row in zip(*cells, strict=True)] if cells else [""] * n_rows
    return "\n".join(["\t".join(names), *rows]) + "\n"


def table_text(
    columns: Mapping[str, npt.NDArray[Any] | Sequence[object]],
    index: tuple[str, Sequence[object]] | None = None,
) -> str:
    """Return a table as :func:`write_table` writes it, from its columns.

    Parameters
    ----------
    columns : mapping of str to array or sequence
        The columns, by name, of equal length; numpy arrays of numbers and booleans
        are formatted at once, other values one by one as :func:`write_table` does.
    index : (str, sequence) or None
        A first column: its name and values.

    Returns
    -------
    str
        Tab-separated lines, ``n/a`` for missing values, floats as :func:`repr`.
    """
    names = [*([index[0]] if index else []), *columns]
    cells = [_column_cells(v) for v in columns.values()]
    if index is not None:
        cells.insert(0, [_cell(v) for v in index[1]])
    return _lines(names, cells, 0)


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
    names = [str(c) for c in table.columns]
    cells = []
    for number in range(len(names)):
        column = table.iloc[:, number]  # numpy columns at once, others cell by cell
        plain = isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiub"
        cells.append(_column_cells(column.to_numpy() if plain else list(column)))
    if index:
        names.insert(0, str(table.index.name or "index"))
        cells.insert(0, [_cell(v) for v in table.index])
    path.write_text(_lines(names, cells, len(table)), encoding="utf-8")
    return path


_CONSTANTS = {True: "true", False: "false", None: "null"}


def _json(value: Any, indent: str) -> str:
    """Return JSON as ``json.dumps(indent=2, sort_keys=True, default=str)`` writes it."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is dict and all(type(k) is str for k in value):
        if not value:
            return "{}"
        inner = indent + "  "
        items = sorted(value.items())
        parts = [f"{inner}{encode_basestring_ascii(k)}: {_json(v, inner)}" for k, v in items]
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join([inner + _json(v, inner) for v in value]) + "\n" + indent + "]"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is bool or value is None:
        return _CONSTANTS[value]
    text = json.dumps(value, indent=2, sort_keys=True, default=str)  # anything else
    return text.replace("\n", "\n" + indent)


def sidecar_text(content: Mapping[str, Any]) -> str:
    """Return a JSON sidecar as ``json.dumps(indent=2, sort_keys=True, default=str)``.

    The same text, about twice as fast (no generators).

    Parameters
    ----------
    content : mapping
        The sidecar.

    Returns
    -------
    str
        Its JSON and a newline.
    """
    return _json(dict(content), "") + "\n"
