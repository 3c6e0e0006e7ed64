"""Signal complexity of region time series: sample entropy and Lempel-Ziv complexity."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import as_timeseries

__all__ = [
    "lempel_ziv_complexity",
    "regional_lempel_ziv",
    "regional_sample_entropy",
    "sample_entropy",
]

_Array = npt.NDArray[np.float64]


def _check_entropy_args(n: int, m: int, r: float) -> None:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise InputError(f"m (template length) must be a positive whole number, got {m!r}")
    if not r > 0:
        raise InputError(f"r (tolerance in SDs) must be positive, got {r}")
    if n < m + 3:
        raise InputError(f"sample entropy with m={m} needs at least {m + 3} samples, got {n}")


def regional_sample_entropy(data: npt.ArrayLike, m: int = 2, r: float = 0.2) -> _Array:
    """Return the sample entropy of each region's time series.

    See :func:`sample_entropy` for the definition; the tolerance is ``r`` times
    each region's own SD. Pairs are counted lag by lag over all regions at once,
    so the cost is ``O(n^2 * regions)`` elementary array operations with no
    Python loop over templates.

    Parameters
    ----------
    data : array-like
        Volumes x regions.
    m : int
        Template length, by default 2.
    r : float
        Tolerance as a multiple of the SD (``ddof=1``), by default 0.2.

    Returns
    -------
    numpy.ndarray
        Sample entropy per region, in nats; ``inf`` where no template of length
        ``m + 1`` matches, 0 for a constant region.

    Notes
    -----
    Entropy depends on the signal-to-noise ratio: when BOLD amplitude falls
    (a drug lowering ALFF), white scanner noise takes a larger share of the
    signal and entropy rises with no change in neural dynamics. Read it
    beside ALFF and tSNR.

    Richman JS, Moorman JR (2000) Physiological time-series analysis using
    approximate entropy and sample entropy. Am J Physiol Heart Circ Physiol
    278:H2039-H2049.
    """
    x = as_timeseries(data)
    n = x.shape[0]
    _check_entropy_args(n, m, r)
    tol = r * x.std(axis=0, ddof=1)
    n_templates = n - m  # templates start at 0 .. n - m - 1, for lengths m and m + 1
    matches_m = np.zeros(x.shape[1], dtype=np.int64)
    matches_m1 = np.zeros(x.shape[1], dtype=np.int64)
    for lag in range(1, n_templates):
        close = np.abs(x[lag:] - x[:-lag]) <= tol  # close[i]: |x[i + lag] - x[i]| <= tol
        count = n_templates - lag  # pairs (i, i + lag) of templates
        run = close[:count].copy()
        for j in range(1, m):
            run &= close[j : j + count]
        matches_m += np.count_nonzero(run, axis=0)
        run &= close[m : m + count]
        matches_m1 += np.count_nonzero(run, axis=0)
    with np.errstate(divide="ignore"):
        entropy: _Array = np.where(
            matches_m1 > 0, 0.0 - np.log(matches_m1 / np.maximum(matches_m, 1)), np.inf
        )
    return entropy


def sample_entropy(signal: npt.ArrayLike, m: int = 2, r: float = 0.2) -> float:
    """Return the sample entropy (SampEn) of a 1D signal.

    ``SampEn = -ln(A / B)``, where B counts pairs of distinct templates of length
    ``m`` (``x[i:i+m]``, for the ``n - m`` starts shared by both lengths) whose
    Chebyshev distance is ``<= r * SD(x)``, and A counts the pairs that still match
    when extended to length ``m + 1``. Self-matches are excluded. Lower values mean
    a more regular, predictable signal; for Gaussian white noise with m=2, r=0.2 it
    tends to ``-ln(2 Phi(0.2 / sqrt 2) - 1) = 2.185``.

    Parameters
    ----------
    signal : array-like
        One time series (1D).
    m : int
        Template length, by default 2.
    r : float
        Tolerance as a multiple of the signal's SD (``ddof=1``), by default 0.2.

    Returns
    -------
    float
        Sample entropy in nats; ``inf`` when no template of length ``m + 1`` matches
        (too short a series), 0 for a constant signal.

    Notes
    -----
    Entropy depends on the signal-to-noise ratio: when BOLD amplitude falls
    (a drug lowering ALFF), white scanner noise takes a larger share of the
    signal and entropy rises with no change in neural dynamics. Read it
    beside ALFF and tSNR.

    Richman JS, Moorman JR (2000) Physiological time-series analysis using
    approximate entropy and sample entropy. Am J Physiol Heart Circ Physiol
    278:H2039-H2049.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"signal must be 1D, got shape {x.shape}")
    return float(regional_sample_entropy(x[:, None], m, r)[0])


def _lz76_phrases(bits: bytes) -> int:
    """Count the phrases of the LZ76 exhaustive parsing of ``bits``.

    A phrase starting at i is the shortest ``bits[i:i+L]`` that does not occur in
    ``bits[:i+L-1]`` (the history it may copy from, overlap allowed); an unfinished
    last phrase counts as one.
    """
    n, count, i = len(bits), 0, 0
    while i < n:
        length = 1
        while i + length <= n and bits[i : i + length] in bits[: i + length - 1]:
            length += 1
        count += 1
        i += length
    return count


def regional_lempel_ziv(data: npt.ArrayLike) -> _Array:
    """Return the normalised Lempel-Ziv complexity of each region's time series.

    See :func:`lempel_ziv_complexity` for the definition.

    Parameters
    ----------
    data : array-like
        Volumes x regions.

    Returns
    -------
    numpy.ndarray
        Normalised LZ76 complexity per region, unitless.

    Notes
    -----
    Like entropy, LZ complexity rises as white noise takes a larger share of
    the signal (lower BOLD amplitude or SNR); read it beside ALFF and tSNR.

    Lempel A, Ziv J (1976) On the complexity of finite sequences. IEEE Trans Inf
    Theory 22:75-81.
    """
    x = as_timeseries(data, min_volumes=2)
    n = x.shape[0]
    bits = (x > np.median(x, axis=0)).astype(np.uint8)
    scale = np.log2(n) / n
    return np.array([_lz76_phrases(bits[:, j].tobytes()) * scale for j in range(x.shape[1])])


def lempel_ziv_complexity(signal: npt.ArrayLike) -> float:
    """Return the normalised Lempel-Ziv (LZ76) complexity of a 1D signal.

    The signal is binarised at its median (1 where above it, 0 elsewhere) and
    parsed into the LZ76 exhaustive history: each phrase is the shortest
    continuation not seen before. The phrase count ``c(n)`` is divided by
    ``n / log2(n)``, its asymptotic value for a random binary sequence, so that
    white noise gives about 1 and constant or periodic signals values near 0.

    Parameters
    ----------
    signal : array-like
        One time series (1D), at least two samples.

    Returns
    -------
    float
        ``c(n) log2(n) / n``, unitless.

    Notes
    -----
    Lempel A, Ziv J (1976) On the complexity of finite sequences. IEEE Trans Inf
    Theory 22:75-81. Phrase counting as in Kaspar F, Schuster HG (1987) Easily
    calculable measure for the complexity of spatiotemporal patterns. Phys Rev A
    36:842-848.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"signal must be 1D, got shape {x.shape}")
    return float(regional_lempel_ziv(x[:, None])[0])
