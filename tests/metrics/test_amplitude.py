"""Region and network ALFF/fALFF, checked against a numpy FFT written here."""

from __future__ import annotations

import numpy as np
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.metrics import region_amplitude

TR = 2.0
NETWORKS = ("DMN", "DMN", "DMN", "VIS", "VIS", "SN")


def _reference_alff(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ALFF/fALFF by the textbook recipe: |FFT|, scaled 2/n, band mean and share."""
    n = values.shape[0]
    freqs = np.fft.rfftfreq(n, TR)[1:]
    amp = 2 * np.abs(np.fft.rfft(values - values.mean(0), axis=0))[1:] / n
    if n % 2 == 0:
        amp[-1] /= 2
    band = (freqs >= 0.01) & (freqs <= 0.08)
    return amp[band].mean(0), amp[band].sum(0) / amp.sum(0)


def test_region_values_match_a_plain_fft_and_network_means_average_them() -> None:
    """Per-region ALFF/fALFF equal the FFT recipe; network values are region means."""
    rng = np.random.default_rng(4)
    data = rng.standard_normal((200, 6)) * np.array([1, 2, 3, 1, 1, 5])
    result = region_amplitude(data, TR, NETWORKS)
    alff, falff = _reference_alff(data)
    np.testing.assert_allclose(result.alff, alff, rtol=1e-12)
    np.testing.assert_allclose(result.falff, falff, rtol=1e-12)
    z = (alff - alff.mean()) / alff.std(ddof=1)
    np.testing.assert_allclose(result.zalff, z, rtol=1e-10)
    assert result.networks["DMN"]["alff"] == pytest.approx(alff[:3].mean())
    assert result.networks["VIS"]["zfalff"] == pytest.approx(result.zfalff[3:5].mean())
    assert list(result.networks) == ["DMN", "VIS", "SN"]
    assert result.method == "fourier"


def test_planted_low_frequency_power_raises_falff_of_that_network_only() -> None:
    """A 0.03 Hz oscillation added to DMN regions raises DMN fALFF, not VIS or SN."""
    rng = np.random.default_rng(5)
    times = np.arange(240) * TR
    data = rng.standard_normal((240, 6))
    data[:, :3] += 1.5 * np.sin(2 * np.pi * 0.03 * times)[:, None]
    result = region_amplitude(data, TR, NETWORKS)
    assert result.networks["DMN"]["falff"] > result.networks["VIS"]["falff"] + 0.1
    assert result.networks["DMN"]["zalff"] > 0.5
    assert result.networks["VIS"]["zalff"] < 0


def test_censored_volumes_use_lomb_scargle() -> None:
    """Kept volumes only plus the kept mask: the spectrum method says so."""
    data = np.random.default_rng(6).standard_normal((100, 6))
    kept = np.ones(100, dtype=bool)
    kept[[10, 50]] = False
    result = region_amplitude(data[kept], TR, NETWORKS, kept=kept)
    assert result.method == "lomb-scargle"


def test_constant_region_gives_nan_not_a_warning() -> None:
    """A constant region has NaN fALFF; its network mean skips it, z-scores stay finite."""
    data = np.random.default_rng(7).standard_normal((80, 6))
    data[:, 5] = 1.0
    result = region_amplitude(data, TR, NETWORKS)
    assert np.isnan(result.falff[5])
    assert np.isnan(result.networks["SN"]["falff"])
    assert np.isfinite(result.zalff).all()


def test_network_codes_must_match_regions() -> None:
    """A wrong number of network codes is refused, naming both sizes."""
    with pytest.raises(InputError, match="one network code per region"):
        region_amplitude(np.zeros((50, 3)), TR, NETWORKS)
