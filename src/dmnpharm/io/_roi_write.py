r"""Writers for the ROI-level study format (the inverse of ``_roi_study``), and its text.

Both writers produce exactly the bytes of the pandas/NumPy calls they replace,
laying the digits out with NumPy instead of formatting value by value
(:func:`_decimal_text`):

* :func:`write_roi_run` writes what ``numpy.savetxt(fmt="%.4f", delimiter="\t")``
  writes. Each value is scaled to a whole number of ``10**-decimals``, rounded
  half to even as ``%`` rounds; a value whose scaled double lies too close to a
  half to decide the rounding of its exact binary value, or is not finite or
  very large, is formatted by Python's ``%`` itself.
* :func:`write_tsv` writes any table as ``DataFrame.to_csv`` does; tables of float64
  columns are laid out here: NumPy's shortest round-trip text of each value, which
  is Python's ``repr``, and ``n/a`` for NaN. A value ``fl(k / 10**6)`` with ``|k| <
  10**15`` (a value rounded to 6 decimals, as the simulators write confounds) has as
  ``repr`` the decimal ``k / 10**6`` without trailing zeros, since no other decimal
  of 15 digits or fewer lies within an ulp of it; such values of 1e-4 or more, and
  zeros (``repr`` writes no exponent for them), are laid out so, every other value
  goes through ``repr``. Other tables are built column by column with Arrow
  (``_tsv_columns``), or, failing that, written by ``to_csv``.

:func:`parse_fixed_tsv` reads back a table of fixed decimals (``-?digits.digits``)
with the values ``pandas.read_csv`` gives, or declines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.io._derivatives import bids_label

__all__ = ["fixed_tsv_rows", "parse_fixed_tsv", "roi_run_path", "write_roi_run", "write_tsv"]

Array = npt.NDArray[np.float64]

#: Exact powers of ten as doubles (10**k is exact in binary64 up to k = 22).
_POW10 = np.array([float(10**k) for k in range(23)])
#: Largest ``|value| * 10**decimals`` laid out by NumPy: below it the scaled double
#: is within 1.2e-7 of the exact product, far inside :data:`_TIE_MARGIN`.
_SCALED_LIMIT = 1e9
#: Scaled values this close to a half are rounded by Python's ``%`` instead.
_TIE_MARGIN = 1e-6
#: Decimals of the values :func:`write_tsv` lays out with NumPy (what the simulators
#: round confounds to); it writes other values with ``repr``, as ``to_csv`` does.
_SHORTEST_DECIMALS = 6
#: Text of a missing value in a TSV table.
_NA = "n/a"
#: Characters that make the csv module quote a header field, or pandas read it apart.
_UNPLAIN = re.compile(r'[\t"\r\n]')
#: Most digits of a value :func:`parse_fixed_tsv` reads: every integer below 10**15
#: is exact in a double, so each value is one correctly rounded division.
_MAX_DIGITS = 15


def _float_table_text(frame: pd.DataFrame) -> bytes | None:
    """Return ``to_csv``'s text (UTF-8) of an all-float64 table, or None for another table."""
    names = list(frame.columns)
    if (
        frame.shape[0] == 0
        or frame.shape[1] < 2
        or not all(isinstance(n, str) and not _UNPLAIN.search(n) for n in names)
        or not all(isinstance(d, np.dtype) and d == np.float64 for d in frame.dtypes)
    ):
        return None
    values = frame.to_numpy(dtype=np.float64)
    body = _decimal_text(values, _SHORTEST_DECIMALS, shortest=True)
    if body is None:
        rows = ["\t".join(map(repr, row)) for row in values.tolist()]
        # repr writes NaN (whatever its sign) as 'nan', which no other float's text contains
        body = ("\n".join(rows).replace("nan", _NA) + "\n").encode("ascii")
    return ("\t".join(names) + "\n").encode("utf-8") + body


def write_tsv(frame: pd.DataFrame, path: str | Path) -> Path:
    r"""Write a table as BIDS-style TSV (tab separated, ``n/a`` for missing).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to write; the index is not written.
    path : str or Path
        Destination; parent folders are created.

    Returns
    -------
    Path
        The written path.

    Notes
    -----
    The text is that of ``frame.to_csv(path, sep="\t", index=False,
    na_rep="n/a", lineterminator="\n")``, built without it where that is
    faster and the same: a table of float64 columns with plain names is laid
    out with NumPy (see the module notes; 3-4x faster), other tables column
    by column with Arrow (about 5x faster on a results table of 44,850 rows);
    a table neither can write the same way (a field needing quotes, one
    column, no rows) is written by ``to_csv``.
    """
    from dmnpharm.io._tsv_columns import write_columns  # pyarrow.compute: when needed

    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = _float_table_text(frame)
    if text is not None:
        dest.write_bytes(text)
    elif not write_columns(frame, dest):
        frame.to_csv(dest, sep="\t", index=False, na_rep=_NA, lineterminator="\n")
    return dest


def roi_run_path(
    root: str | Path, participant_id: str, session_id: str, atlas: str, run: str = ""
) -> Path:
    """Return the path of one run's region time-series file.

    Parameters
    ----------
    root : str or Path
        Study folder.
    participant_id : str
        With its ``sub-`` prefix.
    session_id : str
        With its ``ses-`` prefix.
    atlas : str
        Atlas registry name, written as the ``atlas-`` entity in BIDS label form
        (:func:`dmnpharm.io.bids_label`: ``schaefer100_7`` becomes ``schaefer100x7``,
        since an underscore would end the entity); the sidecar keeps the name.
    run : str
        Run label without prefix; empty for a single run per session.

    Returns
    -------
    Path
        ``sub-*/ses-*/func/sub-*_ses-*_task-rest[_run-*]_atlas-*_timeseries.tsv``.
    """
    run_part = f"_run-{run}" if run else ""
    label = bids_label(atlas)
    name = f"{participant_id}_{session_id}_task-rest{run_part}_atlas-{label}_timeseries.tsv"
    return Path(root) / participant_id / session_id / "func" / name


#: The four ASCII digits of 0 to 9999, zero-padded, each as one 4-byte word.
_FOUR_DIGITS = np.frombuffer(
    "".join(f"{k:04d}" for k in range(10_000)).encode("ascii"), dtype=np.uint32
)


def _record(whole_groups: int, fraction_groups: int) -> np.dtype[np.void]:
    """Return the packed bytes of one value: minus, whole digits, point, fraction, separator.

    Digits come in groups of four (one :data:`_FOUR_DIGITS` word each), highest first.
    """
    names = ["minus", *(f"w{i}" for i in range(whole_groups)), "point"]
    names += [*(f"f{i}" for i in range(fraction_groups)), "separator"]
    sizes = [1, *[4] * whole_groups, 1, *[4] * fraction_groups, 1]
    formats = [np.uint8 if size == 1 else np.uint32 for size in sizes]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
    record: np.dtype[np.void] = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": sum(sizes)}
    )
    return record


def _layout(width: int, decimals: int) -> npt.NDArray[np.bool_]:
    """Return the kept bytes of :func:`_decimal_text`'s records (see :func:`_record`).

    Row ``((sign * width + whole - 1) * decimals + kept - 1)`` keeps the bytes of a
    value with that sign, that many whole-part digits and that many leading
    fraction digits; the last row keeps the first byte (a NUL there) and the
    separator.
    """
    whole_groups, fraction_groups = -(-width // 4), -(-decimals // 4)
    size = 3 + 4 * (whole_groups + fraction_groups)
    keep = np.zeros((2, width, decimals, size), dtype=bool)
    keep[1, :, :, 0] = True  # the minus
    point = 1 + 4 * whole_groups
    for digits in range(1, width + 1):
        keep[:, digits - 1, :, point - digits : point] = True
    keep[..., point] = True
    fraction_start = size - 1 - decimals
    for kept in range(1, decimals + 1):
        keep[:, :, kept - 1, fraction_start : fraction_start + kept] = True
    keep[..., size - 1] = True  # the separator
    other = np.zeros((1, size), dtype=bool)
    other[0, [0, size - 1]] = True
    return np.concatenate([keep.reshape(-1, size), other])


def _groups(values: Array, n_groups: int) -> list[npt.NDArray[np.intp]]:
    """Split whole numbers (exact doubles) into base-10000 digits, highest first."""
    groups = []
    rest = values
    for _ in range(n_groups):
        high = np.floor(rest / 10_000.0)  # exact: the quotient is at least 1e-4 from a whole
        groups.append((rest - high * 10_000.0).astype(np.intp))
        rest = high
    return groups[::-1]


def _laid_out(
    units: Array,
    sign: npt.NDArray[np.bool_],
    simple: npt.NDArray[np.bool_],
    decimals: int,
    *,
    shortest: bool,
    n_cols: int,
) -> bytes:
    """Lay out ``units * 10**-decimals`` (whole numbers) as ASCII; a NUL for the others."""
    whole = np.floor(units / _POW10[decimals])
    fraction = units - whole * _POW10[decimals]  # exact, as every step above
    width = len(str(int(whole.max())))
    whole_groups, fraction_groups = -(-width // 4), -(-decimals // 4)
    records = np.empty(units.size, dtype=_record(whole_groups, fraction_groups))
    records["minus"] = np.where(simple, ord("-"), 0)  # a NUL where Python writes the value
    for index, group in enumerate(_groups(whole, whole_groups)):
        records[f"w{index}"] = _FOUR_DIGITS[group]
    records["point"] = ord(".")
    for index, group in enumerate(_groups(fraction, fraction_groups)):
        records[f"f{index}"] = _FOUR_DIGITS[group]
    records["separator"] = ord("\t")
    records["separator"][n_cols - 1 :: n_cols] = ord("\n")
    kept = np.full(units.size, decimals)
    if shortest:  # repr leaves out trailing zeros, but one
        kept -= sum(fraction % _POW10[j] == 0 for j in range(1, decimals))
    pattern = (sign * width + sum(whole >= 10**k for k in range(1, width))) * decimals + kept - 1
    layout = _layout(width, decimals)
    pattern[~simple] = layout.shape[0] - 1
    keep = layout.view(np.dtype((np.void, layout.shape[1]))).ravel().take(pattern)
    text: bytes = records.view(np.uint8)[keep.view(np.bool_)].tobytes()
    return text


def _decimal_text(values: Array, decimals: int, *, shortest: bool) -> bytes | None:
    r"""Return a table's text (ASCII): values tab-separated, each line ending in ``\n``.

    ``shortest=False``: each value as ``f"%.{decimals}f" % value`` (what
    ``numpy.savetxt`` writes). ``shortest=True``: each value as ``repr`` writes
    it, ``n/a`` for NaN (what ``DataFrame.to_csv`` writes); None when fewer than
    half of the values are ``fl(k / 10**decimals)``, which only ``repr`` would
    write then. See the module notes for which values are laid out by NumPy.
    """
    flat = values.ravel()
    magnitude = np.abs(flat)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = magnitude * _POW10[decimals]
        units = np.rint(scaled)  # half to even, as '%' rounds an exact half
        if shortest:
            simple = (units / _POW10[decimals] == magnitude) & (units < 1e15)
            simple &= (magnitude >= 1e-4) | (units == 0)
        else:
            simple = scaled < _SCALED_LIMIT
            simple &= np.abs(scaled - np.floor(scaled) - 0.5) > _TIE_MARGIN
    n_simple = np.count_nonzero(simple)
    if flat.size == 0 or (shortest and 2 * n_simple < flat.size):
        return None
    units[~simple] = 0.0
    text = _laid_out(
        units, np.signbit(flat), simple, decimals, shortest=shortest, n_cols=values.shape[1]
    )
    if n_simple == flat.size:
        return text
    others = flat[~simple].tolist()
    if shortest:
        written = [_NA if v != v else repr(v) for v in others]
    else:
        written = [f"%.{decimals}f" % v for v in others]
    pieces = text.split(b"\0")
    joined: list[bytes] = [b""] * (2 * len(pieces) - 1)
    joined[::2] = pieces
    joined[1::2] = [item.encode("ascii") for item in written]
    return b"".join(joined)


def write_roi_run(
    path: str | Path,
    data: npt.NDArray[np.floating[Any]],
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
    decimals: int = 4,
) -> Path:
    r"""Write one run's region time series and its JSON sidecar.

    Parameters
    ----------
    path : str or Path
        Destination ``*_timeseries.tsv``; the sidecar goes beside it as ``.json``.
    data : numpy.ndarray
        Volumes x regions.
    labels : sequence of str
        Region labels, one per column.
    sidecar : mapping
        Sidecar content; must hold ``RepetitionTime`` in seconds.
    decimals : int
        Fixed decimals written per value (files are byte-reproducible).

    Returns
    -------
    Path
        The written time-series file.

    Notes
    -----
    The values are written as ``numpy.savetxt(fmt=f"%.{decimals}f",
    delimiter="\t")`` writes them, byte for byte (see the module notes).
    """
    if data.ndim != 2 or data.shape[1] != len(labels):
        raise ValueError(f"data of shape {data.shape} does not match {len(labels)} labels")
    if "RepetitionTime" not in sidecar:
        raise ValueError("sidecar must hold 'RepetitionTime'")
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    exact = data.dtype in (np.float16, np.float32, np.float64)  # widened without rounding
    fast = None
    if exact and 0 < decimals < _POW10.size:
        fast = _decimal_text(data.astype(np.float64), decimals, shortest=False)
    if fast is None:
        with dest.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write("\t".join(labels) + "\n")
            np.savetxt(handle, data, fmt=f"%.{decimals}f", delimiter="\t")
    else:
        dest.write_bytes(("\t".join(labels) + "\n").encode("utf-8") + fast)
    dest.with_suffix(".json").write_text(
        json.dumps(dict(sidecar), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return dest


def _mantissas(
    raw: npt.NDArray[np.uint8],
    points: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
    decimals: int,
    whole_places: int,
) -> Array:
    """Return each value's digits as one integer (exact in a double: below 10**15).

    The digits are read place by place, highest first, into a whole number (``m =
    10 * m + digit``, exact in int64). A place before a value's first digit reads the
    byte before the value instead (its separator; the last newline for the first
    value) or its minus, and every byte but a digit counts as 0.
    """
    value = raw - np.uint8(48)  # the digits' values; other bytes wrap round to 198 or more
    value *= value < 10
    mantissa = np.zeros(points.size, dtype=np.int64)
    before = starts - 1
    for place in range(whole_places - 1, -1, -1):
        mantissa *= 10
        mantissa += value[np.maximum(points - 1 - place, before)]
    for place in range(1, decimals + 1):
        mantissa *= 10
        mantissa += value[points + place]
    return mantissa.astype(np.float64)


def _fixed_layout(body: bytes, n_columns: int) -> tuple[Any, ...] | None:
    """Check that ``body`` is a table of fixed decimals (see :func:`parse_fixed_tsv`).

    Returns what reading the values needs (the bytes, each value's decimal
    point, start and sign, the decimals and the most whole digits), or None.
    """
    if not body or n_columns < 1:
        return None
    raw = np.frombuffer(body if body.endswith(b"\n") else body + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(raw < ord("-"))  # tabs and line ends (the counts check it)
    n_values = ends.size
    tabs, lines, points_seen, minuses = (np.count_nonzero(raw == c) for c in b"\t\n.-")
    digits = np.count_nonzero(raw >= ord("0"))
    if (
        tabs + lines != n_values
        or points_seen != n_values
        or np.count_nonzero(raw > ord("9"))
        or digits + 2 * n_values + minuses != raw.size  # no other byte
        or n_values % n_columns
    ):
        return None
    separators = raw[ends].reshape(-1, n_columns)
    if np.any(separators[:, -1] != ord("\n")) or np.any(separators[:, :-1] != ord("\t")):
        return None
    decimals = int(ends[0]) - body.find(b".") - 1
    points = ends - decimals - 1
    starts = np.concatenate([[0], ends[:-1] + 1])
    negative = raw[starts] == ord("-")
    # the points counted are one per value, at the same place from its end, with a digit
    # before (after a leading minus, the only minuses): the other bytes are digits
    whole_digits = points - starts - negative
    if (
        not 0 < decimals < _MAX_DIGITS
        or np.any(raw[points] != ord("."))
        or np.count_nonzero(negative) != minuses
        or whole_digits.min() < 1
        or whole_digits.max() + decimals > _MAX_DIGITS
    ):
        return None
    return raw, points, starts, negative, decimals, int(whole_digits.max())


@fill_doc
def fixed_tsv_rows(body: bytes, n_columns: int) -> int | None:
    r"""Return how many rows :func:`parse_fixed_tsv` would read, without reading the values.

    Checking a cohort's files needs their shape, and that every value is a
    finite number: a table of fixed decimals is both, and its values cost
    about as much again to compute as the checks.

    Parameters
    ----------
    %(fixed_body)s
    %(fixed_columns)s

    Returns
    -------
    int or None
        The rows, or None exactly where :func:`parse_fixed_tsv` returns None.
    """
    layout = _fixed_layout(body, n_columns)
    return None if layout is None else layout[1].size // n_columns


@fill_doc
def parse_fixed_tsv(body: bytes, n_columns: int) -> Array | None:
    r"""Read the rows of a table of fixed decimals as ``pandas.read_csv`` reads them.

    Parameters
    ----------
    %(fixed_body)s
    %(fixed_columns)s

    Returns
    -------
    numpy.ndarray or None
        Rows x columns of float64 (in column order, as ``DataFrame.to_numpy``
        returns a float table), or None unless every value is ``-?D+.D+`` with
        the same number of decimals and at most 15 digits, every line holds
        ``n_columns`` of them separated by single tabs and ends in ``\n`` (the
        last may not), and there is at least one line. Such a value is an
        integer below 10**15 divided by a power of ten, both exact doubles, so
        its correctly rounded double is that one division (what pandas'
        parser computes too).
    """
    layout = _fixed_layout(body, n_columns)
    if layout is None:
        return None
    raw, points, starts, negative, decimals, whole_places = layout
    values = _mantissas(raw, points, starts, decimals, whole_places)
    values /= _POW10[decimals]
    np.negative(values, out=values, where=negative)
    table: Array = values.reshape(-1, n_columns).T.copy().T
    return table
