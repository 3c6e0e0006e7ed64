"""ALFF and fALFF: closed forms, scipy's periodogram and Lomb-Scargle as references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sp_signal
from scipy import stats

from dmnpharm.exceptions import InputError
from dmnpharm.signal import (
    ALFF_BAND,
    Amplitude,
    amplitude_spectrum,
    low_frequency_amplitude,
    zscore_finite,
)
from dmnpharm.signal._spectrum import _lomb_scargle_power

TR = 2.0


def _scipy_amplitude(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude from scipy's power spectrum (scaling='spectrum')."""
    freqs, power = sp_signal.periodogram(
        values, fs=1 / TR, detrend="constant", scaling="spectrum", axis=0
    )
    amplitude = np.sqrt(2 * power)
    if values.shape[0] % 2 == 0:
        amplitude[-1] = np.sqrt(power[-1])
    return freqs[1:], amplitude[1:]


@pytest.mark.parametrize("n", [150, 151])
def test_amplitude_spectrum_matches_scipy_periodogram(n: int) -> None:
    """Fourier amplitudes equal sqrt(2 x scipy's power spectrum), odd and even lengths."""
    values = np.random.default_rng(n).standard_normal((n, 4)) + 7.0
    freqs, amplitude, method = amplitude_spectrum(values, TR)
    ref_freqs, ref_amplitude = _scipy_amplitude(values)
    assert method == "fourier"
    np.testing.assert_allclose(freqs, ref_freqs, rtol=1e-12)
    np.testing.assert_allclose(amplitude, ref_amplitude, rtol=1e-10, atol=1e-12)


def test_alff_of_a_sinusoid_is_its_amplitude_over_the_band_bins() -> None:
    """A band sinusoid of amplitude a: ALFF = a / bins in band, fALFF = 1."""
    n, a, k = 200, 3.0, 10  # k / (n TR) = 0.025 Hz, inside 0.01-0.08 Hz
    times = np.arange(n) * TR
    wave = a * np.sin(2 * np.pi * k / (n * TR) * times + 0.4) + 50.0
    result = low_frequency_amplitude(wave, TR)
    # Bins k / (n TR) in [0.01, 0.08] Hz: k = 4 .. 32.
    assert result.n_frequencies == 29
    np.testing.assert_allclose(result.alff, [a / 29], rtol=1e-10)
    np.testing.assert_allclose(result.falff, [1.0], rtol=1e-10)


def test_falff_of_an_out_of_band_sinusoid_is_zero() -> None:
    """A 0.125 Hz sinusoid leaves nothing in the 0.01-0.08 Hz band."""
    n = 200
    times = np.arange(n) * TR
    wave = np.cos(2 * np.pi * 50 / (n * TR) * times)  # 0.125 Hz
    result = low_frequency_amplitude(wave, TR)
    assert result.falff[0] == pytest.approx(0.0, abs=1e-12)
    assert result.alff[0] == pytest.approx(0.0, abs=1e-12)


def test_lomb_scargle_power_matches_scipy_on_censored_times() -> None:
    """The vectorised periodogram equals scipy.signal.lombscargle per signal."""
    rng = np.random.default_rng(3)
    n = 180
    kept = rng.random(n) > 0.25
    times = np.flatnonzero(kept) * TR
    values = rng.standard_normal((kept.sum(), 3))
    omega = 2 * np.pi * np.arange(1, n // 2 + 1) / (n * TR)
    ours = _lomb_scargle_power(times, values, omega)
    for column in range(3):
        centred = values[:, column] - values[:, column].mean()
        reference = sp_signal.lombscargle(times, centred, omega)
        np.testing.assert_allclose(ours[:, column], reference, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n", [120, 121])
def test_lomb_scargle_amplitude_equals_fourier_on_an_even_grid(n: int) -> None:
    """On an even grid the Lomb-Scargle amplitude is the Fourier amplitude."""
    values = np.random.default_rng(9).standard_normal((n, 2))
    freqs, fourier, _ = amplitude_spectrum(values, TR)
    power = _lomb_scargle_power(np.arange(n) * TR, values, 2 * np.pi * freqs)
    amplitude = np.sqrt(4 * power / n)
    if n % 2 == 0:
        amplitude[-1] /= np.sqrt(2)
    np.testing.assert_allclose(amplitude, fourier, rtol=1e-8, atol=1e-12)


def test_censored_run_uses_lomb_scargle_and_recovers_a_sinusoid() -> None:
    """With gaps the peak keeps the sinusoid's amplitude and bin."""
    n, a, k = 240, 2.0, 12
    times = np.arange(n) * TR
    wave = a * np.sin(2 * np.pi * k / (n * TR) * times)
    kept = np.ones(n, dtype=bool)
    kept[[30, 31, 32, 100, 101, 170]] = False
    _, amplitude, method = amplitude_spectrum(wave[kept], TR, kept=kept)
    assert method == "lomb-scargle"
    # The peak keeps the sinusoid's amplitude; the gaps leak a little to other bins.
    assert amplitude[k - 1, 0] == pytest.approx(a, rel=0.03)
    assert np.argmax(amplitude[:, 0]) == k - 1
    censored = low_frequency_amplitude(wave[kept], TR, kept=kept)
    assert censored.method == "lomb-scargle"
    assert censored.falff[0] > 0.6


def test_amplitude_is_a_frozen_record_of_its_choices() -> None:
    """The result records band, grid and method; fALFF lies in (0, 1)."""
    result = low_frequency_amplitude(np.random.default_rng(0).standard_normal((100, 2)), TR)
    assert isinstance(result, Amplitude)
    assert result.band == ALFF_BAND
    assert result.record["band_hz"] == [0.01, 0.08]
    assert result.alff.shape == result.falff.shape == (2,)
    assert np.all((result.falff > 0) & (result.falff < 1))


def test_constant_signal_has_zero_alff_and_undefined_falff() -> None:
    """A constant has no amplitude; its fALFF is NaN, not 0/0 noise."""
    result = low_frequency_amplitude(np.full(64, 3.0), TR)
    assert result.alff[0] == 0.0
    assert np.isnan(result.falff[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"band": (0.08, 0.01)}, "low < high"),
        ({"band": (0.3, 0.4)}, "Nyquist"),
        ({"band": (0.0101, 0.0102)}, "too short"),
        ({"band": "low"}, "two frequencies"),
    ],
)
def test_bad_band_is_refused(kwargs: dict[str, object], message: str) -> None:
    """Reversed, above-Nyquist, unresolvable and malformed bands are named."""
    with pytest.raises(InputError, match=message):
        low_frequency_amplitude(np.random.default_rng(0).standard_normal(100), TR, **kwargs)


def test_bad_inputs_are_refused() -> None:
    """Too short, bad TR, a kept mask that does not fit, NaN: clear errors."""
    values = np.ones((10, 2))
    with pytest.raises(InputError, match="at least 4"):
        amplitude_spectrum(values[:3], TR)
    with pytest.raises(InputError, match="positive"):
        amplitude_spectrum(values, 0.0)
    with pytest.raises(InputError, match="marks"):
        amplitude_spectrum(values, TR, kept=np.ones(12, dtype=bool))
    values[2, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        amplitude_spectrum(values, TR)


def test_zscore_finite_ignores_nan_and_refuses_degenerate_input() -> None:
    """Scores equal scipy's zscore (ddof=1) over finite values; NaN stays; constants give NaN."""
    values = np.array([1.0, 4.0, np.nan, 2.5, 7.0])
    finite = values[np.isfinite(values)]
    expected = stats.zscore(finite, ddof=1)
    result = zscore_finite(values)
    np.testing.assert_allclose(result[np.isfinite(values)], expected, rtol=1e-12)
    assert np.isnan(result[2])
    assert np.isnan(zscore_finite([3.0, 3.0, 3.0])).all()
    assert np.isnan(zscore_finite([1.0, np.nan])).all()
