"""The vectorised number formatter of the derivative tables writes what ``%.8g`` writes.

Each test compares the files :func:`write_timeseries` and :func:`write_relmat` write
with a straightforward reference: the formatting the writers used before (Python's
``%.8g`` value by value, ``n/a`` for what is not finite), on random data and on the
values where a fast formatter could go wrong (ties of the 8th digit, powers of ten,
the switch to exponents, trailing zeros, signed zeros).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from dmnpharm.io import write_relmat, write_timeseries
from dmnpharm.io._derivatives import _float_text


def _reference_cells(row: Sequence[float]) -> str:
    return "\t".join(f"{v:.8g}" if math.isfinite(v) else "n/a" for v in row)


def _reference_timeseries(data: np.ndarray, labels: Sequence[str]) -> str:
    lines = ["\t".join(labels), *(_reference_cells(row) for row in data.tolist())]
    return "\n".join(lines) + "\n"


def _reference_relmat(matrix: np.ndarray, labels: Sequence[str]) -> str:
    lines = ["\t".join(["Node", *labels])]
    lines += [
        f"{label}\t{_reference_cells(row)}"
        for label, row in zip(labels, matrix.tolist(), strict=True)
    ]
    return "\n".join(lines) + "\n"


def _text(values: np.ndarray) -> str:
    return _float_text(values).tobytes().decode()


def _expected(values: np.ndarray) -> str:
    return "".join("\n" + _reference_cells(row) for row in values.tolist())


#: Values next to every boundary of the formatter.
EDGES = [
    0.0, -0.0, 1.0, -1.0, 0.5, 2.5, 0.1, 10.0, 1e-4, 1e-5, 9.9999999e-5, 9.99999995e-5,
    0.00010000001, 1.5e-4, 0.001, 0.01, 0.12, 0.0012, 12.0, 120.0, 1234.5678, 55110.0,
    1e4, 1e5, 1e6, 1e7, 10000001.0, 1000.0001, 12345678.5, 10000000.5, 99999999.4,
    99999999.5, 99999999.6, 9.999999949999e7, 1e8, 123456785.0, 0.123456785, 1.00000005,
    5e-324, 2.2250738585072014e-308, 1e308, 1.7976931348623157e308, np.nan, np.inf, -np.inf,
]  # fmt: skip


def test_edge_values_are_written_as_percent_g() -> None:
    """Ties, powers of ten, exponents, zeros and non-finite values, either sign."""
    values = np.array([EDGES, [-v for v in EDGES]])
    assert _text(values) == _expected(values)


@pytest.mark.parametrize("scale", [0.3, 1e-3, 1.0, 1e3, 1e5, 1e7, 1e-5, 1e9, 1e200])
def test_random_values_at_every_scale(scale: float, rng: np.random.Generator) -> None:
    """Normal values of every size, with n/a, infinities and zeros among them."""
    values = rng.standard_normal((60, 120)) * scale
    values[3, 4] = np.nan
    values[5] = np.inf
    values[6, 6] = -np.inf
    values[7, 7:9] = (0.0, -0.0)
    values[:, 0] *= 1e-6  # exponents
    assert _text(values) == _expected(values)


def test_random_bits_and_short_decimals(rng: np.random.Generator) -> None:
    """Any double (random bits), and decimals with few digits (exact ties, zeros)."""
    bits = rng.integers(0, 2**63, 40000, dtype=np.int64).view(np.float64).reshape(-1, 100)
    assert _text(bits) == _expected(bits)
    for digits in (1, 2, 4, 9):
        size = 20000
        numbers = rng.integers(0, 10**digits, size).astype(float)
        small = (numbers / 10.0 ** rng.integers(0, 13, size)).reshape(-1, 100)
        large = (numbers * 10.0 ** rng.integers(0, 9, size)).reshape(-1, 100)
        for values in (small, -small, large):
            assert _text(values) == _expected(values)


def test_neighbours_of_powers_of_ten(rng: np.random.Generator) -> None:
    """The doubles next to 10**k, where a decimal exponent from logarithms is off by one."""
    powers = 10.0 ** rng.integers(-6, 10, 20000)
    values = (powers * (1 + rng.integers(-3, 4, 20000) * 2.0**-52)).reshape(-1, 100)
    assert _text(values) == _expected(values)


def test_values_with_a_point_among_their_digits(rng: np.random.Generator) -> None:
    """1 <= |x| < 1e8 with every exponent and number of trailing zeros, point cut or not."""
    digits = rng.integers(10**7, 10**8, 4000)
    zeros = rng.integers(0, 8, 4000)
    mantissas = (digits // 10**zeros * 10**zeros).astype(float)  # exact, 0..7 zeros at the end
    exponents = rng.integers(0, 8, 4000)
    values = mantissas / 10.0 ** (7 - exponents)
    values[::3] *= -1
    values = values.reshape(-1, 50)
    assert _text(values) == _expected(values)
    mixed = values.copy()
    mixed[:, ::2] = rng.uniform(-1, 1, (values.shape[0], 25))  # point and "0." cells side by side
    assert _text(mixed) == _expected(mixed)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (2, 20000), (20000, 2)])
def test_any_shape(shape: tuple[int, int], rng: np.random.Generator) -> None:
    """Rows of one value, rows longer than a block of the formatter, many short rows."""
    values = rng.standard_normal(shape)
    assert _text(values) == _expected(values)


def test_numpy_shifts_out_at_64_bits() -> None:
    """The formatter relies on numpy giving 0 for shifts by 64 or more, at any length."""
    for size in (1, 3, 8, 17, 64, 1000):
        ones = np.ones(size, dtype=np.uint64)
        by = np.full(size, 64, dtype=np.uint64)
        assert not (ones << by).any()
        assert not ((ones << np.uint64(63)) >> by).any()
        assert not (ones << np.uint64(64)).any()


def test_files_are_the_reference_text(tmp_path: Path, rng: np.random.Generator) -> None:
    """Whole files: header, rows, labels, n/a rows and columns, the sidecar's JSON."""
    labels = [f"Region_{i:03d}" for i in range(40)]
    data = rng.standard_normal((33, 40)) * 0.3
    data[:, [3, 17]] = np.nan
    data[5, 5] = 2.5e-6
    sidecar = {"b": [1, 2], "a": {"z": None, "y": 1.5}}
    series = write_timeseries(tmp_path / "x_timeseries.tsv", data, labels, sidecar)
    assert series.read_text(encoding="utf-8") == _reference_timeseries(data, labels)
    matrix = np.tanh(np.corrcoef(data[:, :20], rowvar=False))
    np.fill_diagonal(matrix, 1.0)
    relmat = write_relmat(tmp_path / "x_relmat.tsv", matrix, labels[:20], sidecar)
    assert relmat.read_text(encoding="utf-8") == _reference_relmat(matrix, labels[:20])
    expected = json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n"
    assert relmat.with_suffix(".json").read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (0, 0)])
def test_empty_tables(tmp_path: Path, shape: tuple[int, int]) -> None:
    """No volumes or no regions: the header and one (empty) line per row, as before."""
    labels = [f"R{i}" for i in range(shape[1])]
    data = np.zeros(shape)
    path = write_timeseries(tmp_path / "e_timeseries.tsv", data, labels, {})
    assert path.read_text() == _reference_timeseries(data, labels)
    if shape[0] == shape[1]:
        relmat = write_relmat(tmp_path / "e_relmat.tsv", data, labels, {})
        assert relmat.read_text() == _reference_relmat(data, labels)
