"""The ROI study's text, built with NumPy: the same bytes and values as pandas and NumPy.

``write_roi_run`` and ``write_tsv`` lay the digits out with NumPy, and
``load_roi_study`` reads files of fixed decimals without ``read_csv``; each is
checked here against the call it replaces (``numpy.savetxt``,
``DataFrame.to_csv``, ``pandas.read_csv``), the reference.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.io import read_roi_timeseries, write_roi_run, write_tsv
from dmnpharm.io._roi_read import (
    _read_plain,
    _read_table_values,
    _read_timeseries,
    count_volumes,
)
from dmnpharm.io._roi_write import _decimal_text, fixed_tsv_rows, parse_fixed_tsv

Array = npt.NDArray[np.float64]

#: Values where the text is easy to get wrong: signed zeros, ties, magnitudes.
SPECIAL = [0.0, -0.0, 0.5, -0.5, 1e-9, -1e-9, 5e-5, -5e-5, 2.5e-5, 99999.99995, 1e4, 123.45675]


def _savetxt(values: Array, decimals: int) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, values, fmt=f"%.{decimals}f", delimiter="\t")
    return buffer.getvalue()


def _to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    return buffer.getvalue()


def _tables(rng: np.random.Generator) -> list[tuple[Array, int]]:
    """Tables of many kinds: BOLD-like, rounded, exact ties, binary ties, special values."""
    tables = []
    for trial in range(60):
        decimals = int(rng.integers(1, 9))
        shape = (int(rng.integers(1, 25)), int(rng.integers(1, 25)))
        kind = trial % 6
        if kind == 0:
            values = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 12)
        elif kind == 1:
            values = np.round(rng.standard_normal(shape) * 1000, decimals + 1)
        elif kind == 2:
            values = (rng.integers(-(10**6), 10**6, shape) + 0.5) / 10.0**decimals
        elif kind == 3:
            values = rng.integers(-(2**20), 2**20, shape) / 2.0 ** rng.integers(1, 20)
        elif kind == 4:
            values = rng.choice([*SPECIAL, np.nan, np.inf, -np.inf, 1e300, -1e20], shape)
        else:
            values = 100 + rng.standard_normal(shape)
        tables.append((values, decimals))
    return tables


def test_fixed_text_is_what_savetxt_writes(rng: np.random.Generator) -> None:
    """Every value as '%.Nf' writes it: ties to even, signed zeros, NaN, huge values."""
    for values, decimals in _tables(rng):
        expected = _savetxt(values, decimals).encode("ascii")
        assert _decimal_text(values, decimals, shortest=False) == expected


def test_write_roi_run_writes_savetxt_bytes(tmp_path: Path, rng: np.random.Generator) -> None:
    """A run file holds the header and then exactly savetxt's text, for float32 data too."""
    labels = [f"r{i}" for i in range(7)]
    for dtype in (np.float64, np.float32):
        data = (100 + 3 * rng.standard_normal((30, 7))).astype(dtype)
        data[0, 0], data[1, 1] = -0.0, -0.00004
        path = write_roi_run(
            tmp_path / f"{dtype.__name__}.tsv", data, labels, {"RepetitionTime": 2}
        )
        expected = "\t".join(labels) + "\n" + _savetxt(data, 4)
        assert path.read_bytes() == expected.encode("ascii")


def test_float_tables_are_written_as_to_csv_writes_them(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Float tables (rounded to 6 decimals or not, with NaN, inf, -0.0) give to_csv's bytes."""
    for trial in range(40):
        n, m = int(rng.integers(1, 40)), int(rng.integers(2, 9))
        values = rng.standard_normal((n, m)) * 10.0 ** rng.integers(-9, 10, (n, m))
        for share, special in ((0.1, np.nan), (0.05, -0.0), (0.02, np.inf), (0.02, 0.0)):
            values[rng.random((n, m)) < share] = special
        if trial % 2:
            values = np.round(values, 6)
        if trial % 5 == 0:
            values = np.round(values, int(rng.integers(0, 6)))
        frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(m)])
        path = write_tsv(frame, tmp_path / f"t{trial}.tsv")
        assert path.read_text(encoding="utf-8") == _to_csv(frame)


def test_other_tables_are_written_by_to_csv(tmp_path: Path) -> None:
    """Text, integer and one-column tables, and quoted names, keep to_csv's text."""
    frames = [
        pd.DataFrame({"participant_id": ["sub-01", "sub-02"], "age": [30, 41]}),
        pd.DataFrame({"x": [0.1, np.nan]}),
        pd.DataFrame({'a "b"': [1.5, 2.0], "c": [0.25, -1.0]}),
        pd.DataFrame({"a": np.array([], dtype=float), "b": np.array([], dtype=float)}),
    ]
    for i, frame in enumerate(frames):
        path = write_tsv(frame, tmp_path / f"f{i}.tsv")
        assert path.read_text(encoding="utf-8") == _to_csv(frame)


def _fixed_table(rng: np.random.Generator, decimals: int, n: int, m: int) -> str:
    values = rng.standard_normal((n, m)) * 10.0 ** rng.integers(-3, 7)
    values[rng.random((n, m)) < 0.2] = -0.0
    header = "\t".join(f"c{i}" for i in range(m))
    rows = ("\t".join(f"%.{decimals}f" % v for v in row) for row in values)
    return header + "\n" + "\n".join(rows) + "\n"


def _read_csv(text: str) -> Array:
    table = pd.read_csv(io.StringIO(text), sep="\t", na_values=["n/a"])
    values: Array = table.to_numpy(dtype=np.float64)
    return values


def _same(found: Array | None, expected: Array) -> bool:
    return (
        found is not None
        and found.shape == expected.shape
        and found.flags.f_contiguous == expected.flags.f_contiguous
        and np.array_equal(found.view(np.uint64), expected.view(np.uint64))
    )


def test_fixed_decimals_are_read_as_read_csv_reads_them(rng: np.random.Generator) -> None:
    """Same doubles (bit for bit, -0.0 included) and memory order as read_csv's table."""
    for trial in range(60):
        decimals, n, m = int(rng.integers(1, 8)), int(rng.integers(1, 20)), int(rng.integers(1, 9))
        text = _fixed_table(rng, decimals, n, m)
        if trial % 4 == 0:
            text = text.rstrip("\n")  # no line end after the last row
        body = text.encode("ascii").partition(b"\n")[2]
        found = parse_fixed_tsv(body, m)
        longest = max(len(t.lstrip("-")) - 1 for t in body.decode().split())
        assert _same(found, _read_csv(text)) if longest <= 15 else found is None
        # The shape alone, without the values: the same decision and the same rows.
        assert fixed_tsv_rows(body, m) == (None if found is None else n)


@pytest.mark.parametrize(
    "body",
    [
        b"1.500\t-12345678901.234\n-9.000\t0.500\n",  # short values next to long ones
        b"-1.25\t123456.75\n0.00\t-0.00",  # a minus first, -0, no last line end
        b"99999999999999.9\t-0.1\n",  # 15 digits
        b"7.000001\t123.000000\n45678.999999\t-8.100000\n",
    ],
)
def test_digits_of_values_of_any_length(body: bytes) -> None:
    """Each value gets its own digits whatever the length of the values around it."""
    text = "a\tb\n" + body.decode()
    found = parse_fixed_tsv(body, 2)
    assert _same(found, _read_csv(text))


@pytest.mark.parametrize(
    "body",
    [
        b"1.5\t2e3\n",  # an exponent
        b"1.5\tn/a\n",  # a missing value
        b"1.5\t 2.5\n",  # a space
        b"1.5\t2.5\r\n",  # a Windows line end
        b"1.5\t2.5\n\n3.5\t4.5\n",  # a blank line
        b"1.5\t2\n",  # an integer
        b"1.5\t2.25\n",  # other decimals
        b"1.5\t.5\n",  # no whole part
        b"1.5\t-.5\n",
        b"1.5\t5.\n",  # no fraction
        b"1.5\t--2.5\n",
        b"1.5\t2.5-\n",
        b"1.5\t2.5.5\n",
        b"+1.5\t2.5\n",
        b"1.5\t\t2.5\n",  # an empty value
        b"1.5\t2.5\t3.5\n",  # a column too many
        b"1.5\n",
        b"1234567890.1234567\t2.5\n",  # 17 digits
        b"",
    ],
)
def test_other_tables_are_left_to_read_csv(body: bytes) -> None:
    """Anything but fixed decimals, one line per row, is declined."""
    assert parse_fixed_tsv(body, 2) is None
    assert fixed_tsv_rows(body, 2) is None


def test_run_files_read_the_same_either_way(tmp_path: Path, rng: np.random.Generator) -> None:
    """A run file read without read_csv gives read_csv's array; other files go to read_csv."""
    labels = [f"r{i}" for i in range(5)]
    data = 100 + rng.standard_normal((40, 5))
    data[:, 2] -= 150.0  # negative values
    path = write_roi_run(tmp_path / "run.tsv", data, labels, {"RepetitionTime": 2})
    plain = _read_plain(path, labels)
    assert plain is not None
    assert _same(plain, _read_table_values(path, labels, []))
    assert _same(read_roi_timeseries(path, labels), _read_table_values(path, labels, []))
    twice = ["r0", "r0", "r2", "r3", "r4"]  # read_csv names the second 'r0.1'
    for name, header, row in (
        ("exp", labels, "1e2\t1.0\t2.0\t3.0\t4.0\n"),
        ("na", labels, "n/a\t1.0\t2.0\t3.0\t4.0\n"),
        ("twice", twice, "1.0\t1.0\t2.0\t3.0\t4.0\n"),
    ):
        other = tmp_path / f"{name}.tsv"
        other.write_text("\t".join(header) + "\n" + row * 12, encoding="utf-8")
        assert _read_plain(other, header) is None
    spaced = [*labels[:4], "r4 "]  # a label read_csv might read otherwise: left to it
    path = write_roi_run(tmp_path / "spaced.tsv", data, spaced, {"RepetitionTime": 2})
    assert _read_plain(path, spaced) is None
    assert _same(read_roi_timeseries(path, spaced), _read_table_values(path, spaced, []))


def test_short_and_mislabelled_runs_keep_their_messages(tmp_path: Path) -> None:
    """A run of fixed decimals with too few volumes is named as before."""
    labels = ["a", "b"]
    path = write_roi_run(tmp_path / "short.tsv", np.ones((4, 2)), labels, {"RepetitionTime": 2})
    with pytest.raises(InputError, match=r"short.tsv: has 4 volumes; at least 10 are needed"):
        read_roi_timeseries(path, labels)
    with pytest.raises(InputError, match=r"column 2 is 'b' but the atlas region there is 'c'"):
        read_roi_timeseries(path, ["a", "c"])


def test_counting_volumes_checks_as_reading_does(tmp_path: Path, rng: np.random.Generator) -> None:
    """count_volumes gives the rows and the problems of a full read, for every kind of file."""
    labels = [f"r{i}" for i in range(4)]
    data = 10 + rng.standard_normal((30, 4))
    cases = {
        "plain": write_roi_run(tmp_path / "plain.tsv", data, labels, {"RepetitionTime": 2}),
        "short": write_roi_run(tmp_path / "short.tsv", data[:5], labels, {"RepetitionTime": 2}),
    }
    for name, row in (
        ("repr", "1.25\t-3.5e-2\t2.0\t7.125\n"),  # not fixed decimals: read_csv reads it
        ("gap", "n/a\t1.0\t2.0\t3.0\n"),  # missing inside a signal: a damaged file
        ("word", "1.0\tabc\t2.0\t3.0\n"),
    ):
        cases[name] = tmp_path / f"{name}.tsv"
        body = row if name == "repr" else "1.0\t1.5\t2.0\t3.0\n" * 11 + row
        cases[name].write_text("\t".join(labels) + "\n" + body * 1, encoding="utf-8")
    empty_region = tmp_path / "empty_region.tsv"  # n/a throughout: accepted
    empty_region.write_text(
        "\t".join(labels) + "\n" + "n/a\t1.0\t2.0\t3.0\n" * 12, encoding="utf-8"
    )
    cases["empty_region"] = empty_region
    for name, path in cases.items():
        counted: list[str] = []
        read: list[str] = []
        rows = count_volumes(path, labels, counted)
        data_read = _read_timeseries(path, labels, read)
        assert counted == read, name
        assert rows == (None if data_read is None else data_read.shape[0]), name
    assert count_volumes(cases["plain"], labels, []) == 30
    assert count_volumes(cases["short"], labels, []) is None
