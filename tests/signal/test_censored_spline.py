"""The spline that fills censored volumes before the filter, against SciPy's CubicSpline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from dmnpharm.signal._clean import _interpolate


def _reference(values: np.ndarray, kept: np.ndarray, repetition_time: float) -> np.ndarray:
    times = np.arange(kept.size) * repetition_time
    filled = values.copy()
    filled[~kept] = CubicSpline(times[kept], values[kept], axis=0)(times[~kept])
    return filled


@pytest.mark.parametrize("seed", range(12))
def test_the_fill_is_cubicsplines_not_a_knot(seed: int) -> None:
    """Random runs, censoring from scattered volumes to long gaps: equal within 1e-12."""
    rng = np.random.default_rng(seed)
    n, width = int(rng.integers(20, 500)), int(rng.integers(1, 30))
    kept = rng.random(n) > rng.uniform(0.05, 0.6)
    if seed % 3 == 0:  # a long gap, as high motion leaves
        start = int(rng.integers(2, n // 2))
        kept[start : start + n // 4] = False
    kept[[0, -1]] = True  # the filter's span starts and ends with kept volumes
    values = rng.standard_normal((n, width)) * 4.0 + 800.0
    tr = float(rng.uniform(0.5, 3.0))
    got = _interpolate(values, kept, tr)
    np.testing.assert_allclose(got, _reference(values, kept, tr), rtol=0, atol=1e-12 * 800)
    np.testing.assert_array_equal(got[kept], values[kept])  # kept volumes untouched


@pytest.mark.parametrize("n_kept", [2, 3, 4, 5])
def test_few_kept_volumes(n_kept: int, rng: np.random.Generator) -> None:
    """Two or three kept volumes (a line, a parabola) and the smallest own solve (four)."""
    kept = np.zeros(9, dtype=bool)
    kept[np.linspace(0, 8, n_kept).round().astype(int)] = True
    values = rng.standard_normal((9, 3))
    np.testing.assert_allclose(
        _interpolate(values, kept, 2.0), _reference(values, kept, 2.0), rtol=0, atol=1e-12
    )


def test_nothing_censored_returns_the_same_array(rng: np.random.Generator) -> None:
    """No censored volume: the input itself, no copy."""
    values = rng.standard_normal((30, 2))
    assert _interpolate(values, np.ones(30, dtype=bool), 2.0) is values
