"""Region time series in the text formats other tools write: TSV, CSV and AFNI 1D.

One reader for region signals that did not come from a BIDS-like folder: a
table of one row per volume and one column per region, as ``.tsv``, ``.csv``
or AFNI ``.1D`` (each optionally gzipped). How columns become atlas regions:

- **by name** when the header gives the atlas's labels (in any order: the
  columns are put in atlas order);
- **by position** when the header is AFNI's ``#1 #2 ... #N`` (column ``#k``
  is the atlas's k-th region, so a label image numbered 1..N in atlas order
  maps value k to ``#k``) or when there is no header (column k is the k-th
  region). The number of columns must then be the number of regions.

A header is the first line of a TSV or CSV unless every cell of it is a
number. In a 1D file (cells separated by any whitespace), lines starting
with ``#`` before the data are comments, except the last such line whose
number of fields equals the data's number of columns: that one is the
header (a lone leading ``#`` is not a field). Empty lines are skipped.

The checks are those of the ROI-level study reader
(:func:`dmnpharm.io.read_roi_timeseries`): every value a number, no value
missing inside a region's signal (a region with no value at all is read and
left out of the run's measures), at least ``MIN_VOLUMES`` volumes; each
problem names the file, the line and the column.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import closest_match
from dmnpharm.io._roi_read import MIN_VOLUMES, read_checked

__all__ = ["TIMESERIES_SUFFIXES", "read_region_timeseries", "timeseries_format"]

#: File endings the reader takes (case-insensitive), each also gzipped (``.gz``).
TIMESERIES_SUFFIXES = (".tsv", ".csv", ".1d")

#: Cells read as a missing value (then refused inside a region's signal).
_MISSING = frozenset({"", "n/a", "N/A", "NA", "nan", "NaN", "NAN", "-nan"})

_INDEX = re.compile(r"#(\d+)")


def timeseries_format(path: str | Path) -> str | None:
    """Return how a time-series file is read, from its name.

    Parameters
    ----------
    path : str or Path
        A file name ending in ``.tsv``, ``.csv`` or ``.1D`` (AFNI, whitespace
        separated; any case), optionally followed by ``.gz``.

    Returns
    -------
    str or None
        ``"tsv"``, ``"csv"`` or ``"1d"``; None for any other ending.

    Examples
    --------
    >>> timeseries_format("sub-1_rois_cc200.1D.gz"), timeseries_format("x.nii.gz")
    ('1d', None)
    """
    name = Path(path).name.lower().removesuffix(".gz")
    for suffix in TIMESERIES_SUFFIXES:
        if name.endswith(suffix):
            return suffix[1:]
    return None


@dataclass(frozen=True)
class _Lines:
    """A file's non-empty lines split into cells, with their 1-based line numbers."""

    numbers: tuple[int, ...]
    cells: tuple[tuple[str, ...], ...]


def _split(line: str, kind: str) -> tuple[str, ...]:
    if kind == "1d":
        return tuple(line.split())
    return tuple(cell.strip() for cell in line.split("\t" if kind == "tsv" else ","))


def _read_lines(path: Path, problems: list[str]) -> list[str] | None:
    """Return the file's text lines, or None (a problem named) when it cannot be read."""
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8").splitlines()
    except (OSError, EOFError, zlib.error) as exc:
        problems.append(
            f"{path}: cannot be read ({type(exc).__name__}: {exc}); the file may be truncated "
            "or not gzipped as its name says"
        )
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: is not a UTF-8 text file ({exc})")
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _header_and_rows(
    lines: list[str], kind: str
) -> tuple[tuple[str, ...] | None, int | None, _Lines]:
    """Split a file into its header (with its line number), if any, and its data rows."""
    comments: list[tuple[int, tuple[str, ...]]] = []
    numbers: list[int] = []
    cells: list[tuple[str, ...]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if not cells and line.lstrip().startswith("#"):
            fields = _split(line.lstrip(), kind)
            if fields and fields[0] == "#":
                fields = fields[1:]
            elif fields and not _INDEX.fullmatch(fields[0]):
                fields = (fields[0][1:], *fields[1:])  # "#PCC" names the region PCC
            comments.append((number, fields))
            continue
        numbers.append(number)
        cells.append(_split(line, kind))
    header: tuple[str, ...] | None = None
    header_line: int | None = None
    width = len(cells[0]) if cells else 0
    for number, fields in reversed(comments):
        if len(fields) == width:
            header, header_line = fields, number
            break
    if header is None and kind != "1d" and cells and not all(map(_is_number, cells[0])):
        header, header_line = cells[0], numbers[0]
        numbers, cells = numbers[1:], cells[1:]
    return header, header_line, _Lines(tuple(numbers), tuple(cells))


def _column_order(
    path: Path, header: tuple[str, ...] | None, line: int | None, width: int, labels: Sequence[str]
) -> list[int] | str:
    """Return, per atlas region, the file's column holding it; or the problem."""
    n = len(labels)
    where = f"{path}, line {line}" if line is not None else str(path)
    found = [_INDEX.fullmatch(f) for f in header or ()]
    index = [int(m.group(1)) for m in found if m is not None]
    if header is None or len(index) == len(header):
        if width != n:
            how = "its header #1..#N" if header is not None else "it has no header"
            return (
                f"{where}: has {width} columns but the atlas has {n} regions; {how}, so column "
                "k must be the atlas's k-th region: give the regions table of this parcellation"
            )
        if header is None:
            return list(range(n))
        if sorted(index) != list(range(1, n + 1)):
            missing = sorted(set(range(1, n + 1)) - set(index))
            return (
                f"{where}: the header's columns #k must be #1..#{n}, each once "
                f"(missing: {', '.join(f'#{k}' for k in missing[:5])})"
            )
        return [index.index(k) for k in range(1, n + 1)]
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in position:
            return (
                f"{where}: column {i + 1} repeats the header '{name}' (column "
                f"{position[name] + 1}); give each region one column"
            )
        position[name] = i
    known = set(labels)
    unknown = [name for name in header if name not in known]
    if unknown:
        hint = closest_match(unknown[0], labels)
        fix = f"; did you mean '{hint}'?" if hint else ""
        return (
            f"{where}: column {header.index(unknown[0]) + 1} is '{unknown[0]}', which is not a "
            f"region of the atlas{fix}. The header must name the atlas's {n} labels (or be "
            "#1..#N, or absent, for columns in atlas order)"
        )
    if len(header) != n:
        absent = [label for label in labels if label not in position]
        return (
            f"{where}: has {len(header)} named columns but the atlas has {n} regions "
            f"(no column for {', '.join(map(repr, absent[:5]))}); give every region a column"
        )
    if width != n:
        return f"{where}: the header names {n} regions but the data lines have {width} values"
    return [position[label] for label in labels]


def _numbers(path: Path, rows: _Lines, problems: list[str]) -> npt.NDArray[np.float64] | None:
    """Return the rows as floats, naming the first row of the wrong width or non-number."""
    width = len(rows.cells[0])
    for number, cells in zip(rows.numbers, rows.cells, strict=True):
        if len(cells) != width:
            problems.append(
                f"{path}, line {number}: has {len(cells)} values but the first data line has "
                f"{width}; every line must give one value per region"
            )
            return None
    # The usual file holds numbers only and converts in one call; else the missing-value
    # tokens become NaN first; a cell that still fails is found and named below.
    with contextlib.suppress(ValueError):
        return np.asarray(rows.cells, dtype=np.float64)
    table = [["nan" if c in _MISSING else c for c in cells] for cells in rows.cells]
    with contextlib.suppress(ValueError):
        return np.asarray(table, dtype=np.float64)
    for number, cells in zip(rows.numbers, rows.cells, strict=True):
        for column, cell in enumerate(cells, start=1):
            if cell not in _MISSING and not _is_number(cell):
                problems.append(
                    f"{path}, line {number}, column {column}: value {cell!r} is not a number"
                )
                return None
    raise AssertionError("a non-number was expected")  # pragma: no cover


def _check_signals(
    path: Path, data: npt.NDArray[np.float64], rows: _Lines, names: Sequence[str]
) -> str | None:
    """Return why the signals cannot be used (missing values inside a signal, too short)."""
    finite = np.isfinite(data)
    # As for ROI-level folders: a region with no value at all has no signal and is left
    # out of the run's measures; a missing value among a region's numbers is damage.
    partial = ~finite & finite.any(axis=0)
    if partial.any():
        rows_at, cols_at = np.nonzero(partial)
        return (
            f"{path}, line {rows.numbers[rows_at[0]]}, column '{names[cols_at[0]]}': value is "
            f"{data[rows_at[0], cols_at[0]]} ({int(partial.sum())} missing or non-finite values "
            "among other numbers); fix or remove the run; dmnpharm does not fill missing data "
            "silently (a region with no value at all is accepted and left out)"
        )
    if data.shape[0] < MIN_VOLUMES:
        return f"{path}: has {data.shape[0]} volumes; at least {MIN_VOLUMES} are needed"
    return None


def read_timeseries_checked(
    path: Path, labels: Sequence[str], problems: list[str]
) -> npt.NDArray[np.float64] | None:
    """Read a region time-series file, adding its problems to ``problems``.

    Parameters
    ----------
    path : Path
        The file (an existing file of a :func:`timeseries_format` ending).
    labels : sequence of str
        The atlas's region labels, in order.
    problems : list of str
        Where the file's problem is added (one, naming file, line and column).

    Returns
    -------
    numpy.ndarray or None
        Volumes x regions in atlas order, or None when the file has a problem.
    """
    kind = timeseries_format(path)
    if kind is None:
        problems.append(
            f"{path}: is not a time-series file dmnpharm reads; give .tsv, .csv or .1D "
            "(AFNI, whitespace separated), each optionally gzipped (.gz)"
        )
        return None
    lines = _read_lines(path, problems)
    if lines is None:
        return None
    header, header_line, rows = _header_and_rows(lines, kind)
    if not rows.cells:
        problems.append(f"{path}: has no data line; one line per volume is needed")
        return None
    order = _column_order(path, header, header_line, len(rows.cells[0]), labels)
    if isinstance(order, str):
        problems.append(order)
        return None
    table = _numbers(path, rows, problems)
    if table is None:
        return None
    data = np.ascontiguousarray(table[:, order])
    names = [header[i] for i in order] if header is not None else [f"#{i + 1}" for i in order]
    problem = _check_signals(path, data, rows, names)
    if problem is not None:
        problems.append(problem)
        return None
    return data


def read_region_timeseries(path: str | Path, labels: Sequence[str]) -> npt.NDArray[np.float64]:
    r"""Read one run's region time series from a TSV, CSV or AFNI 1D file.

    Parameters
    ----------
    path : str or Path
        ``.tsv``, ``.csv`` or ``.1D`` (AFNI: whitespace separated, an optional
        ``#`` header), each optionally gzipped (``.gz``); one line per volume,
        one column per region.
    labels : sequence of str
        The atlas's region labels, in order. A header that names them maps
        columns by name (any order); a ``#1 #2 ... #N`` header or none maps
        column k to the k-th region, and the column count must match.

    Returns
    -------
    numpy.ndarray
        Volumes x regions, float64, in atlas order.

    Raises
    ------
    InputError
        If the file is missing, unreadable (or a damaged gzip), its columns
        cannot be matched to the atlas (wrong count, unknown or repeated
        name, ``#k`` out of range), a line has another number of values, a
        value is not a number or is missing among a region's other values, or
        there are fewer than ``MIN_VOLUMES`` volumes. The message names the
        file, the line and the column. A region with no value at all, or a
        constant one, is read: the run leaves it out of its measures.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "run.1D"
    >>> rows = "\n".join(f"{i} {2 * i} {i % 3}" for i in range(12))
    >>> _ = f.write_text("#1\t#2\t#3\n" + rows + "\n")
    >>> read_region_timeseries(f, ["PCC", "mPFC", "aI"]).shape
    (12, 3)
    """
    return read_checked(path, labels, read_timeseries_checked)
