"""Reading one ROI-level run: its time-series file and its JSON sidecar, checked.

Every problem is named with its file, line and column. Files written by
:func:`~dmnpharm.io.write_roi_run` (fixed decimals under a header of exactly the
atlas's labels) are read by a vectorised parser; any other file by pandas.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.io._roi_write import _UNPLAIN, fixed_tsv_rows, parse_fixed_tsv

__all__ = ["MIN_VOLUMES", "count_volumes", "read_checked", "read_roi_timeseries"]

#: Fewest volumes a run may have.
MIN_VOLUMES = 10


def _read_sidecar(path: Path, problems: list[str]) -> dict[str, Any] | None:
    side = path.with_suffix(".json")
    if not side.is_file():
        problems.append(f"{side}: sidecar is missing; it must give RepetitionTime in seconds")
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{side}: is not valid JSON ({exc})")
        return None
    if not isinstance(content, dict):
        problems.append(f"{side}: must hold a JSON object")
        return None
    repetition_time = content.get("RepetitionTime")
    if (
        not isinstance(repetition_time, int | float)
        or isinstance(repetition_time, bool)
        or not np.isfinite(repetition_time)
        or repetition_time <= 0
    ):
        problems.append(
            f"{side}: RepetitionTime is {repetition_time!r}; "
            "it must be a positive number of seconds"
        )
        return None
    return content


@functools.lru_cache(maxsize=8)
def _plain_labels(labels: tuple[str, ...]) -> bool:
    """Whether ``read_csv`` names a header of these labels, tab-joined, by the labels."""
    return len(set(labels)) == len(labels) and all(
        isinstance(label, str) and label and label == label.strip() and not _UNPLAIN.search(label)
        for label in labels
    )


def _plain_body(path: Path, labels: Sequence[str]) -> bytes | None:
    """Return the lines after a header of exactly ``labels``, or None (another header)."""
    try:
        header, newline, body = path.read_bytes().partition(b"\n")
        names = header.decode("utf-8").split("\t")
    except (OSError, UnicodeDecodeError):
        return None
    if not newline or names != list(labels) or not _plain_labels(tuple(labels)):
        return None
    return body


def _read_plain(path: Path, labels: Sequence[str]) -> npt.NDArray[np.float64] | None:
    """Read fixed decimals under a header of exactly ``labels`` (as ``write_roi_run`` writes).

    Such a file gives what ``read_csv`` gives, values and row count (see
    :func:`~dmnpharm.io._roi_write.parse_fixed_tsv`), and cannot fail the column
    checks. None for any other file: ``read_csv`` reads it (and names its problems).
    """
    body = _plain_body(path, labels)
    return None if body is None else parse_fixed_tsv(body, len(labels))


def _read_table_values(
    path: Path, labels: Sequence[str], problems: list[str]
) -> npt.NDArray[np.float64] | None:
    """Read a time-series file with ``read_csv`` and check its header and its values' type."""
    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read as a TSV table ({exc})")
        return None
    columns = [str(c) for c in table.columns]
    if len(columns) != len(labels):
        problems.append(
            f"{path}: has {len(columns)} columns but the atlas has {len(labels)} regions; "
            "each column must be one region, in atlas order, with the region label as header"
        )
        return None
    if columns != list(labels):
        first = next(i for i, (a, b) in enumerate(zip(columns, labels, strict=True)) if a != b)
        problems.append(
            f"{path}: column {first + 1} is '{columns[first]}' but the atlas region there is "
            f"'{labels[first]}'; write the columns in atlas order with atlas labels"
        )
        return None
    non_numeric = [
        c
        for c, dtype in zip(columns, table.dtypes, strict=True)
        if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if non_numeric:
        col = non_numeric[0]
        bad = pd.to_numeric(table[col], errors="coerce").isna() & table[col].notna()
        row = int(np.flatnonzero(bad.to_numpy())[0])
        problems.append(
            f"{path}, line {row + 2}, column '{col}': value {table[col].iloc[row]!r} "
            "is not a number"
        )
        return None
    data: npt.NDArray[np.float64] = table.to_numpy(dtype=np.float64)
    return data


def _read_timeseries(
    path: Path, labels: Sequence[str], problems: list[str]
) -> npt.NDArray[np.float64] | None:
    data = _read_plain(path, labels)
    if data is None:
        data = _read_table_values(path, labels, problems)
        if data is None:
            return None
    columns = list(labels)
    finite = np.isfinite(data)
    # A region with no value at all (``n/a`` throughout, as XCP-D writes a parcel
    # outside the coverage) has no signal: the run leaves it out of its measures.
    # A missing value inside a region's signal is a damaged file.
    partial = ~finite & finite.any(axis=0)
    if partial.any():
        rows, cols = np.nonzero(partial)
        problems.append(
            f"{path}, line {rows[0] + 2}, column '{columns[cols[0]]}': value is "
            f"{data[rows[0], cols[0]]} ({int(partial.sum())} missing or non-finite values "
            "among other numbers); fix or remove the run; dmnpharm does not fill missing data "
            "silently (a region with no value at all is accepted and left out)"
        )
        return None
    if data.shape[0] < MIN_VOLUMES:
        problems.append(f"{path}: has {data.shape[0]} volumes; at least {MIN_VOLUMES} are needed")
        return None
    return data


def count_volumes(path: Path, labels: Sequence[str], problems: list[str]) -> int | None:
    """Check a time-series file as :func:`_read_timeseries` does; return its volumes only.

    A file of fixed decimals under the atlas's labels (as ``write_roi_run``
    writes) holds only finite numbers, so its shape is all there is left to
    know, and its values are not computed
    (:func:`~dmnpharm.io._roi_write.fixed_tsv_rows`): reading the plan of the
    500-subject cohort took 0.72 s instead of 1.08 s. Any other file (XCP-D's,
    say) is read and checked in full. The problems appended are the same
    either way.

    Parameters
    ----------
    path : Path
        The ``*_timeseries.tsv``.
    labels : sequence of str
        The atlas's region labels, expected as its header.
    problems : list of str
        Receives each problem found (file, line and column named).

    Returns
    -------
    int or None
        The file's volumes, or None when it has a problem.
    """
    body = _plain_body(path, labels)
    rows = None if body is None else fixed_tsv_rows(body, len(labels))
    if rows is None:
        data = _read_timeseries(path, labels, problems)
        return None if data is None else int(data.shape[0])
    if rows < MIN_VOLUMES:
        problems.append(f"{path}: has {rows} volumes; at least {MIN_VOLUMES} are needed")
        return None
    return rows


def read_roi_timeseries(path: str | Path, labels: Sequence[str]) -> npt.NDArray[np.float64]:
    """Read one ROI-level time-series TSV, checked as :func:`load_roi_study` checks it.

    Parameters
    ----------
    path : str or Path
        ``*_timeseries.tsv``: a header of region labels, one row per volume.
    labels : sequence of str
        The atlas's region labels, in order; the header must equal them.

    Returns
    -------
    numpy.ndarray
        Volumes x regions.

    Raises
    ------
    InputError
        If the file is missing or unreadable, its columns are not the atlas's
        regions in order, a value is not a number or is missing among a
        region's other values, or it is too short (file, line and column
        named). A region with no value at all, or a constant one, is read: the
        run leaves it out of its measures.
    """
    return read_checked(path, labels, _read_timeseries)


def read_checked(
    path: str | Path,
    labels: Sequence[str],
    reader: Callable[[Path, Sequence[str], list[str]], npt.NDArray[np.float64] | None],
) -> npt.NDArray[np.float64]:
    """Read one time-series file with a checking reader; raise what it found as one error.

    Parameters
    ----------
    path : str or Path
        The file.
    labels : sequence of str
        The atlas's region labels.
    reader : callable
        ``reader(file, labels, problems)`` gives the volumes x regions array,
        or None after appending each problem (file, line and column named).

    Returns
    -------
    numpy.ndarray
        What ``reader`` read.

    Raises
    ------
    InputError
        If the file does not exist, or naming every problem ``reader`` found.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: the time-series file does not exist")
    problems: list[str] = []
    data = reader(file, labels, problems)
    if data is None:
        raise InputError("; ".join(problems))
    return data
