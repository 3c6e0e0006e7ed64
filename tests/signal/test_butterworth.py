"""The Butterworth design and zero-phase filter against scipy.signal's butter and sosfiltfilt."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sp_signal

from dmnpharm.signal._butterworth import (
    BLOCK,
    butterworth_sections,
    filter_padding,
    zero_phase_filter,
)

# (high_pass, low_pass, sampling rate): the usual cut-offs at TRs of 0.72-2.5 s, and wide
# band-passes whose poles include real ones
DESIGNS = [
    (0.01, 0.1, 0.5),
    (0.01, 0.08, 1 / 0.72),
    (0.008, 0.09, 1 / 0.8),
    (0.009, 0.15, 1 / 2.5),
    (0.01, 0.2, 1.0),
    (None, 0.1, 0.5),
    (None, 0.2, 1 / 0.72),
    (0.01, None, 0.5),
    (0.01, None, 1 / 0.72),
]


def _scipy_sections(order: int, high: float | None, low: float | None, rate: float) -> np.ndarray:
    if high is not None and low is not None:
        return sp_signal.butter(order, [high, low], btype="bandpass", output="sos", fs=rate)
    if high is not None:
        return sp_signal.butter(order, high, btype="highpass", output="sos", fs=rate)
    return sp_signal.butter(order, low, btype="lowpass", output="sos", fs=rate)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize(("high", "low", "rate"), DESIGNS)
def test_the_design_is_scipys_filter(
    order: int, high: float | None, low: float | None, rate: float
) -> None:
    """Same frequency response, same number of sections, same edge padding."""
    ours = butterworth_sections(order, high, low, rate)
    theirs = _scipy_sections(order, high, low, rate)
    assert ours.shape == theirs.shape
    _, response = sp_signal.sosfreqz(ours, worN=1024, fs=rate)
    _, expected = sp_signal.sosfreqz(theirs, worN=1024, fs=rate)
    np.testing.assert_allclose(response, expected, rtol=0, atol=1e-11)
    taps = 2 * len(theirs) + 1 - min(np.sum(theirs[:, 2] == 0), np.sum(theirs[:, 5] == 0))
    assert filter_padding(ours) == 3 * taps
    np.testing.assert_array_equal(ours[:, 3], 1.0)


@pytest.mark.parametrize(("high", "low", "rate"), DESIGNS)
@pytest.mark.parametrize("length", [70, BLOCK * 4, 151, 1200])
def test_zero_phase_filter_matches_sosfiltfilt(
    high: float | None, low: float | None, rate: float, length: int, rng: np.random.Generator
) -> None:
    """Order 5 (the cleaning's): equal to sosfiltfilt within 1e-12 of the signal's scale.

    The signals carry a large constant (unfiltered BOLD), which the steady-state start
    must carry through.
    """
    sos = butterworth_sections(5, high, low, rate)
    if length <= filter_padding(sos):
        pytest.skip("too short for this filter")
    data = rng.standard_normal((length, 9)) * 3.0 + 500.0
    expected = sp_signal.sosfiltfilt(sos, data, axis=0)
    got = zero_phase_filter(sos, data)
    assert got.shape == data.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * 500)


def test_an_extreme_high_pass_stays_close_to_sosfiltfilt(rng: np.random.Generator) -> None:
    """0.001 Hz at 2 Hz (poles very near z = 1), long runs: within 1e-10 of the scale."""
    sos = butterworth_sections(5, 0.001, 0.3, 2.0)
    data = rng.standard_normal((3000, 4)) + 100.0
    expected = sp_signal.sosfiltfilt(sos, data, axis=0)
    np.testing.assert_allclose(zero_phase_filter(sos, data), expected, rtol=0, atol=1e-10 * 100)


def test_one_series_and_constants(rng: np.random.Generator) -> None:
    """A 1-D series keeps its shape; a constant passes a low-pass and vanishes in a band-pass."""
    low = butterworth_sections(5, None, 0.1, 0.5)
    band = butterworth_sections(5, 0.01, 0.1, 0.5)
    series = rng.standard_normal(120)
    np.testing.assert_allclose(
        zero_phase_filter(band, series), sp_signal.sosfiltfilt(band, series), atol=1e-12
    )
    constant = np.full((100, 3), 7.0)
    np.testing.assert_allclose(zero_phase_filter(low, constant), constant, atol=1e-12)
    np.testing.assert_allclose(zero_phase_filter(band, constant), 0.0, atol=1e-12)


def test_refusals() -> None:
    """A series no longer than the padding, and cut-offs outside (0, Nyquist), are refused."""
    sos = butterworth_sections(5, 0.01, 0.1, 0.5)
    with pytest.raises(ValueError, match="needs more than 33"):
        zero_phase_filter(sos, np.zeros((33, 2)))
    with pytest.raises(ValueError, match=r"not between 0 and 0\.25 Hz"):
        butterworth_sections(5, 0.01, 0.3, 0.5)
    with pytest.raises(ValueError, match="high-pass or a low-pass"):
        butterworth_sections(5, None, None, 0.5)
    design = butterworth_sections(5, 0.01, 0.1, 0.5)
    design[0, 0] = 0.0  # a copy: the cached design is unchanged
    assert butterworth_sections(5, 0.01, 0.1, 0.5)[0, 0] != 0.0
