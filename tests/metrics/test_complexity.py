"""Sample entropy and Lempel-Ziv complexity against brute-force loops and known values."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import norm

from dmnpharm.exceptions import InputError
from dmnpharm.metrics import (
    lempel_ziv_complexity,
    regional_lempel_ziv,
    regional_sample_entropy,
    sample_entropy,
)


def _loop_sampen(x: np.ndarray, m: int, r: float) -> float:
    tol = r * np.std(x, ddof=1)
    n = len(x)
    b = a = 0
    for i in range(n - m):
        for j in range(i + 1, n - m):
            if max(abs(x[i + k] - x[j + k]) for k in range(m)) <= tol:
                b += 1
                if abs(x[i + m] - x[j + m]) <= tol:
                    a += 1
    return -math.log(a / b) if a else math.inf


def test_sample_entropy_matches_brute_force(rng: np.random.Generator) -> None:
    """Pair counts by lag equal a double loop over templates, for several m and r."""
    data = np.column_stack([rng.standard_normal(90), np.cumsum(rng.standard_normal(90))])
    data = np.round(data, 1)  # ties exercise the '<= r' boundary
    for m, r in [(1, 0.2), (2, 0.2), (3, 0.35), (2, 0.5)]:
        expected = [_loop_sampen(data[:, j], m, r) for j in range(2)]
        np.testing.assert_allclose(regional_sample_entropy(data, m, r), expected, rtol=1e-12)
        assert sample_entropy(data[:, 0], m, r) == pytest.approx(expected[0], rel=1e-12)


def test_sample_entropy_known_values(rng: np.random.Generator) -> None:
    """White noise tends to -ln P(|X - Y| <= 0.2 SD) = 2.185; regular signals are low."""
    theory = -math.log(2 * norm.cdf(0.2 / math.sqrt(2)) - 1)
    assert theory == pytest.approx(2.185, abs=1e-3)
    assert sample_entropy(rng.standard_normal(4000)) == pytest.approx(theory, abs=0.1)
    assert sample_entropy(np.sin(0.3 * np.arange(600))) < 0.5
    assert sample_entropy(np.full(50, 3.0)) == 0.0
    assert sample_entropy(rng.standard_normal(40), r=1e-9) == math.inf
    with pytest.raises(InputError, match="at least 5 samples"):
        sample_entropy(np.arange(4.0))
    with pytest.raises(InputError, match="m \\(template length\\)"):
        sample_entropy(rng.standard_normal(50), m=0)
    with pytest.raises(InputError, match="1D"):
        sample_entropy(np.ones((5, 2)))


def test_sample_entropy_is_fast_enough(rng: np.random.Generator) -> None:
    """1200 volumes x 400 regions: seconds, not the hours of a loop over templates."""
    data = rng.standard_normal((1200, 400))
    start = time.perf_counter()
    values = regional_sample_entropy(data)
    assert time.perf_counter() - start < 30
    assert values.shape == (400,)
    assert np.all(np.abs(values - 2.185) < 0.3)


def _kaspar_schuster(bits: list[int]) -> int:
    """LZ76 phrase count, Kaspar & Schuster (1987) algorithm."""
    n = len(bits)
    c, ell, i, k, k_max = 1, 1, 0, 1, 1
    while True:
        if bits[i + k - 1] == bits[ell + k - 1]:
            k += 1
            if ell + k > n:
                return c + 1
        else:
            k_max = max(k, k_max)
            i += 1
            if i == ell:
                c += 1
                ell += k_max
                if ell + 1 > n:
                    return c
                i, k, k_max = 0, 1, 1
            else:
                k = 1


def test_lempel_ziv_known_sequence() -> None:
    """Lempel & Ziv's example 0001101001000101 parses as 0.001.10.100.1000.101: c = 6."""
    bits = np.array([int(b) for b in "0001101001000101"], dtype=float)
    assert lempel_ziv_complexity(bits) == pytest.approx(6 / (16 / 4))


def test_lempel_ziv_matches_kaspar_schuster(rng: np.random.Generator) -> None:
    """Phrase counts equal the Kaspar-Schuster loop on random and structured series."""
    data = np.column_stack(
        [
            rng.standard_normal(257),
            np.cumsum(rng.standard_normal(257)),
            np.sin(0.2 * np.arange(257)),
            rng.standard_normal(257) + np.sin(0.05 * np.arange(257)) * 3,
        ]
    )
    n = data.shape[0]
    expected = [
        _kaspar_schuster([int(v > np.median(col)) for v in col]) * math.log2(n) / n
        for col in data.T
    ]
    np.testing.assert_allclose(regional_lempel_ziv(data), expected, rtol=1e-12)
    for j in range(data.shape[1]):
        assert lempel_ziv_complexity(data[:, j]) == pytest.approx(expected[j], rel=1e-12)


def test_lempel_ziv_known_behaviour(rng: np.random.Generator) -> None:
    """White noise about 1; periodic and constant signals far lower."""
    assert lempel_ziv_complexity(rng.standard_normal(2000)) == pytest.approx(1.0, abs=0.12)
    assert lempel_ziv_complexity(np.sin(0.3 * np.arange(1000))) < 0.2
    assert lempel_ziv_complexity(np.ones(200)) < 0.1
    with pytest.raises(InputError, match="1D"):
        lempel_ziv_complexity(np.ones((3, 3)))


def test_sample_entropy_same_counts_for_any_chunk(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regions taken one, a few or all at a time (reused buffers) give the loop's values."""
    from dmnpharm.metrics import _complexity

    data = np.round(rng.standard_normal((41, 7)), 1)
    expected = [_loop_sampen(data[:, j], 2, 0.2) for j in range(7)]
    for chunk in (1, 3 * 20 * 41, 1 << 30):  # 1, 3 (last chunk partial) and all 7 regions
        monkeypatch.setattr(_complexity, "_CHUNK", chunk)
        np.testing.assert_allclose(regional_sample_entropy(data), expected, rtol=1e-12)


def test_row_medians_equal_numpy_median(rng: np.random.Generator) -> None:
    """The partition median equals numpy.median bit for bit, odd and even lengths, ties."""
    from dmnpharm.metrics._complexity import _row_medians

    for n in (2, 3, 150, 151, 200):
        for series in (rng.standard_normal((9, n)), np.round(rng.standard_normal((9, n)))):
            np.testing.assert_array_equal(_row_medians(series), np.median(series, axis=1))


@pytest.mark.parametrize("sparse", [1, 2, 16, 10**9])
def test_lempel_ziv_bit_sets_match_kaspar_schuster_past_word_edges(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, sparse: int
) -> None:
    """Lengths around the 64-bit word edges, with the live-position switch anywhere."""
    from dmnpharm.metrics import _complexity

    monkeypatch.setattr(_complexity, "_LZ_SPARSE", sparse)
    for n in (5, 63, 64, 65, 128, 129, 200, 512):
        t = np.arange(n)
        data = np.column_stack(
            [
                rng.standard_normal((n, 3)),
                np.cumsum(rng.standard_normal((n, 2)), axis=0),
                np.sin(0.3 * t),
                np.sign(np.sin(0.05 * t)) + 0.01 * rng.standard_normal(n),
            ]
        )
        expected = [
            _kaspar_schuster([int(v > np.median(col)) for v in col]) * math.log2(n) / n
            for col in data.T
        ]
        np.testing.assert_allclose(regional_lempel_ziv(data), expected, rtol=1e-12)
