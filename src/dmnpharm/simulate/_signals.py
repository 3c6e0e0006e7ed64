"""Random signals with BOLD-like spectra."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc

__all__ = ["bold_gain", "bold_like_noise"]


@fill_doc
def bold_gain(n_volumes: int, repetition_time: float) -> npt.NDArray[np.float64]:
    """Return the amplitude gain per rFFT bin, scaled so white unit noise keeps unit variance.

    The power spectrum falls as 1/f above a 0.01 Hz knee and is cut steeply above
    0.1 Hz, so most power lies below 0.1 Hz as in resting-state BOLD.

    Parameters
    ----------
    %(n_volumes)s
    %(repetition_time)s

    Returns
    -------
    numpy.ndarray
        ``n_volumes // 2 + 1`` gains, 0 at 0 Hz.
    """
    return _bold_gain(int(n_volumes), float(repetition_time)).copy()


@functools.lru_cache(maxsize=16)
def _bold_gain(n_volumes: int, repetition_time: float) -> npt.NDArray[np.float64]:
    """:func:`bold_gain`, computed once per length and TR (read-only)."""
    freqs = np.fft.rfftfreq(n_volumes, d=repetition_time)
    power = 1.0 / (0.01 + freqs) / (1.0 + (freqs / 0.1) ** 4)
    power[0] = 0.0
    weights = np.full(freqs.size, 2.0)
    weights[0] = 1.0
    if n_volumes % 2 == 0:
        weights[-1] = 1.0
    gain: npt.NDArray[np.float64] = np.sqrt(power * n_volumes / np.sum(weights * power))
    gain.setflags(write=False)
    return gain


@fill_doc
def bold_like_noise(
    rng: np.random.Generator,
    n_volumes: int,
    n_signals: int,
    repetition_time: float,
) -> npt.NDArray[np.float64]:
    """Draw zero-mean, unit-variance Gaussian signals with a BOLD-like spectrum.

    Parameters
    ----------
    %(rng)s
    %(n_volumes)s
    n_signals : int
        Independent signals (columns).
    %(repetition_time)s
        It sets the frequency axis.

    Returns
    -------
    numpy.ndarray
        ``n_volumes x n_signals``; each column has expected variance 1 and
        most of its power below 0.1 Hz.
    """
    white = rng.standard_normal((n_volumes, n_signals))
    spectrum = np.fft.rfft(white, axis=0)
    spectrum *= _bold_gain(int(n_volumes), float(repetition_time))[:, None]
    signals: npt.NDArray[np.float64] = np.fft.irfft(spectrum, n=n_volumes, axis=0)
    return signals
