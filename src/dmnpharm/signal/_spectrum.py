"""Low-frequency amplitude (ALFF, fALFF) of regularly or irregularly sampled signals.

Definitions (the ones REST/DPABI use, so values are comparable with that
literature):

* amplitude spectrum: ``A(f) = 2 |X(f)| / n`` for ``0 < f < f_Nyquist`` (and
  ``|X(f)| / n`` at the Nyquist frequency when ``n`` is even), where ``X`` is
  the discrete Fourier transform of the mean-removed signal of ``n`` volumes;
  a sinusoid of amplitude ``a`` at a Fourier frequency has ``A(f) = a`` there.
  The frequency grid is ``k / (n TR)``, ``k = 1 .. n // 2``.
* ALFF (Zang et al. 2007, Brain Dev 29:83-91): the mean of ``A(f)`` over the
  frequencies of the band (default 0.01-0.08 Hz, both ends included).
* fALFF (Zou et al. 2008, J Neurosci Methods 172:137-141): the sum of ``A(f)``
  over the band divided by its sum over every frequency above zero, up to
  Nyquist; unitless, between 0 and 1.

When volumes were censored the signal is no longer evenly sampled. Then the
spectrum is the Lomb-Scargle periodogram (Lomb 1976; Scargle 1982) of the
kept volumes at the same frequency grid, turned into amplitudes by
``A(f) = sqrt(4 P(f) / n_kept)``; for evenly sampled data at Fourier
frequencies it equals the Fourier amplitude exactly, so the two paths agree
where both apply (tested). This is how xcp_d computes ALFF from censored data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError

__all__ = [
    "ALFF_BAND",
    "Amplitude",
    "amplitude_spectrum",
    "low_frequency_amplitude",
    "zscore_finite",
]

Array = npt.NDArray[np.float64]

#: The conventional low-frequency band of ALFF and fALFF, in Hz.
ALFF_BAND: tuple[float, float] = (0.01, 0.08)


@dataclass(frozen=True, eq=False)
class Amplitude:
    """ALFF and fALFF of a set of signals, with the choices that made them.

    Parameters
    ----------
    alff : numpy.ndarray
        Mean amplitude over the band, one value per signal, in the signals'
        units.
    falff : numpy.ndarray
        Band amplitude over the amplitude of all frequencies above zero, per
        signal (unitless, 0-1); NaN for a constant signal.
    band : tuple of float
        The band in Hz.
    n_frequencies : int
        Frequencies of the grid inside the band.
    method : str
        ``"fourier"`` (every volume kept) or ``"lomb-scargle"`` (some censored).
    record : dict
        JSON-ready description of the definitions and grid.
    """

    alff: Array = field(repr=False)
    falff: Array = field(repr=False)
    band: tuple[float, float]
    n_frequencies: int
    method: str
    record: dict[str, Any] = field(repr=False)


def _check_band(band: tuple[float, float], nyquist: float) -> tuple[float, float]:
    try:
        low, high = (float(band[0]), float(band[1]))
    except (TypeError, ValueError, IndexError):
        raise InputError(f"band must be two frequencies (low, high) in Hz; got {band!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
        raise InputError(f"band must satisfy 0 <= low < high; got {band!r}")
    if low >= nyquist:
        raise InputError(
            f"band {band!r} starts at or above the Nyquist frequency {nyquist:g} Hz of the data"
        )
    return low, high


def _check_inputs(
    data: npt.ArrayLike, repetition_time: float, kept: npt.ArrayLike | None
) -> tuple[Array, float, npt.NDArray[np.bool_]]:
    values = np.asarray(data, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise InputError(f"data must be volumes x signals; got shape {values.shape}")
    try:
        step = float(repetition_time)
    except (TypeError, ValueError):
        raise InputError(
            f"repetition_time must be a positive number of seconds; got {repetition_time!r}"
        ) from None
    if not math.isfinite(step) or step <= 0:
        raise InputError(
            f"repetition_time must be a positive number of seconds; got {repetition_time!r}"
        )
    if kept is None:
        mask = np.ones(values.shape[0], dtype=bool)
    else:
        mask = np.asarray(kept, dtype=bool)
        if mask.ndim != 1:
            raise InputError("kept must be one boolean per volume of the run")
        if int(mask.sum()) != values.shape[0]:
            raise InputError(
                f"data has {values.shape[0]} rows but kept marks {int(mask.sum())} of "
                f"{mask.size} volumes as kept; pass the kept volumes' rows only"
            )
    if mask.size < 4:
        raise InputError(f"a spectrum needs at least 4 volumes; the run has {mask.size}")
    if not np.isfinite(values).all():
        raise InputError("data contain NaN or infinite values")
    return values, step, mask


def _lomb_scargle_power(times: Array, values: Array, omega: Array) -> Array:
    """Classical Lomb-Scargle power of each column at angular frequencies ``omega``.

    The time offset ``tau`` depends only on the sampling times, so every
    signal shares the sine and cosine bases and the periodogram is two matrix
    products.
    """
    centred = values - values.mean(axis=0)
    tau = np.arctan2(
        np.sin(2 * np.outer(omega, times)).sum(axis=1),
        np.cos(2 * np.outer(omega, times)).sum(axis=1),
    ) / (2 * omega)
    phase = omega[:, None] * (times[None, :] - tau[:, None])
    cos, sin = np.cos(phase), np.sin(phase)
    c_norm = np.einsum("ft,ft->f", cos, cos)
    s_norm = np.einsum("ft,ft->f", sin, sin)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = 0.5 * (
            (cos @ centred) ** 2 / c_norm[:, None]
            + np.where(s_norm[:, None] > 1e-12, (sin @ centred) ** 2 / s_norm[:, None], 0.0)
        )
    result: Array = power
    return result


@fill_doc
def amplitude_spectrum(
    data: npt.ArrayLike, repetition_time: float, kept: npt.ArrayLike | None = None
) -> tuple[Array, Array, str]:
    """Return the single-sided amplitude spectrum of each signal.

    Parameters
    ----------
    data : array_like
        ``volumes x signals`` (or one signal), the kept volumes only.
    %(repetition_time)s
    kept : array_like of bool or None
        One value per volume of the whole run, True where kept; None when
        every volume is kept. With censored volumes the Lomb-Scargle
        periodogram of the kept volumes replaces the Fourier transform.

    Returns
    -------
    frequencies : numpy.ndarray
        ``k / (n TR)`` for ``k = 1 .. n // 2``, with ``n`` the run's volumes.
    amplitude : numpy.ndarray
        ``frequencies x signals``, in the signals' units (see the module notes).
    method : str
        ``"fourier"`` or ``"lomb-scargle"``.

    Raises
    ------
    InputError
        For fewer than 4 volumes, non-finite data, an invalid ``repetition_time``, or
        ``kept`` that does not match the rows.
    """
    values, step, mask = _check_inputs(data, repetition_time, kept)
    n = mask.size
    frequencies = np.arange(1, n // 2 + 1) / (n * step)
    if mask.all():
        spectrum = np.abs(np.fft.rfft(values - values.mean(axis=0), axis=0))[1:]
        amplitude: Array = 2.0 * spectrum / n
        if n % 2 == 0:
            amplitude[-1] /= 2.0
        return frequencies, amplitude, "fourier"
    times = np.flatnonzero(mask).astype(np.float64) * step
    power = _lomb_scargle_power(times, values, 2 * np.pi * frequencies)
    amplitude = np.sqrt(4.0 * power / values.shape[0])
    if n % 2 == 0:
        # At Nyquist the sine basis vanishes on an even grid and the periodogram is
        # X^2 / (2 n); dividing by sqrt(2) gives |X| / n, the Fourier amplitude there.
        amplitude[-1] /= math.sqrt(2.0)
    return frequencies, amplitude, "lomb-scargle"


@fill_doc
def low_frequency_amplitude(
    data: npt.ArrayLike,
    repetition_time: float,
    *,
    band: tuple[float, float] = ALFF_BAND,
    kept: npt.ArrayLike | None = None,
) -> Amplitude:
    """Compute ALFF and fALFF of each signal.

    The signals should be cleaned (confounds regressed, detrended) but not
    band-pass filtered: fALFF compares the band with all frequencies, which
    a filter would remove.

    Parameters
    ----------
    data : array_like
        ``volumes x signals`` (or one signal), the kept volumes only.
    %(repetition_time)s
    band : tuple of float
        Low and high edge in Hz, both included; default 0.01-0.08 Hz.
    kept : array_like of bool or None
        One value per volume of the run, True where kept (see
        :func:`amplitude_spectrum`); None when none was censored.

    Returns
    -------
    Amplitude
        ALFF (signal units) and fALFF (unitless) per signal.

    Raises
    ------
    InputError
        For an invalid band, a band with no frequency of the grid (the run
        is too short to resolve it), or the input errors of
        :func:`amplitude_spectrum`.
    """
    frequencies, amplitude, method = amplitude_spectrum(data, repetition_time, kept)
    low, high = _check_band(band, frequencies[-1])
    # A relative tolerance keeps grid frequencies that equal an edge up to rounding.
    tolerance = 1e-9 * frequencies[-1]
    inside = (frequencies >= low - tolerance) & (frequencies <= high + tolerance)
    if not inside.any():
        raise InputError(
            f"no frequency of the run's grid (spacing {frequencies[0]:.4g} Hz) falls in the "
            f"band {low:g}-{high:g} Hz; the run is too short to resolve it"
        )
    in_band = amplitude[inside].sum(axis=0)
    total = amplitude.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        falff = np.where(total > 0, in_band / total, np.nan)
    record = {
        "band_hz": [low, high],
        "method": method,
        "n_frequencies": int(inside.sum()),
        "frequency_spacing_hz": float(frequencies[0]),
        "alff": "mean of 2|X(f)|/n over the band (Zang et al. 2007)",
        "falff": "amplitude summed over the band / over 0 < f <= Nyquist (Zou et al. 2008)",
    }
    return Amplitude(
        alff=in_band / int(inside.sum()),
        falff=np.asarray(falff, dtype=np.float64),
        band=(low, high),
        n_frequencies=int(inside.sum()),
        method=method,
        record=record,
    )


def zscore_finite(values: npt.ArrayLike) -> Array:
    """Standardise values over their finite entries: ``(x - mean) / SD`` (SD with n - 1).

    The z forms of ALFF and fALFF (Zang et al. 2007) standardise over the
    voxels of a mask or the regions of an atlas; non-finite entries (e.g. the
    fALFF of a constant signal) stay NaN and do not enter the mean or SD.

    Parameters
    ----------
    values : array_like
        One value per voxel or region.

    Returns
    -------
    numpy.ndarray
        The z-scores; all NaN when fewer than two values are finite or they
        do not vary.
    """
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    if finite.sum() < 2:
        return np.full_like(x, np.nan)
    sd = x[finite].std(ddof=1)
    if sd == 0:
        return np.full_like(x, np.nan)
    scored: Array = (x - x[finite].mean()) / sd
    return scored
