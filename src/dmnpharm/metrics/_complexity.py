"""Signal complexity of region time series: sample entropy and Lempel-Ziv complexity."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import as_timeseries

__all__ = [
    "lempel_ziv_complexity",
    "regional_lempel_ziv",
    "regional_sample_entropy",
    "sample_entropy",
]

_Array = npt.NDArray[np.float64]
# Sample-pair differences held at once by regional_sample_entropy (about 0.5 MB).
_CHUNK = 1 << 16
# Longest series whose Lempel-Ziv phrases are found with bit sets (above: phrase by phrase).
_LZ_BITSET_MAX = 512
# Sample comparisons held at once by the bit-set Lempel-Ziv parsing (bytes).
_LZ_CHUNK = 1 << 21


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
    each region's own SD. All pairs of samples are compared at once (a chunk
    of regions at a time), so the cost is ``O(n^2 * regions)`` elementary array
    operations with no Python loop over templates or lags.

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
    matches_m, matches_m1 = _template_matches(x, m, tol)
    with np.errstate(divide="ignore"):
        entropy: _Array = np.where(
            matches_m1 > 0, 0.0 - np.log(matches_m1 / np.maximum(matches_m, 1)), np.inf
        )
    return entropy


def _template_matches(
    x: _Array, m: int, tol: _Array
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Count the matching template pairs of length ``m`` and ``m + 1`` of each column.

    Pairs of samples ``(i, j)``, ``i < j``, are visited as ``(c, (c + d) mod n)``
    for ``d = 1 .. n // 2`` and ``c = 0 .. n - 1``: each pair once (for even
    ``n`` the pairs at ``d = n / 2`` twice, counted once), no slot wasted on a
    lag without a partner. ``close[d, c]`` is ``|x[(c + d) mod n] - x[c]| <=
    tol``, and the template pair starting at ``(i, j)`` is the run of columns
    ``c .. c + m - 1`` of its row (``c = i`` if ``j = i + d``, else ``c = j``
    with ``i = j + d - n``), which never wraps for a pair whose later template
    start is ``< n - m``. The columns of ``x`` (regions) are taken a few at a
    time, about ``_CHUNK`` differences each.
    """
    n, n_columns = x.shape
    starts = n - m  # templates start at 0 .. n - m - 1, for lengths m and m + 1
    half = n // 2
    series = np.ascontiguousarray(x.T)
    doubled = np.concatenate([series, series], axis=1)
    shifted = sliding_window_view(doubled, n, axis=1)[:, 1 : half + 1]  # [., d - 1, c]: x[c + d]
    lag = np.arange(1, half + 1)[:, None]
    col = np.arange(starts)[None, :]
    valid = (col < starts - lag) | ((col >= n - lag) & (col < starts))
    if n % 2 == 0:
        valid[-1] &= col[0] < starts - half
    matches_m = np.zeros(n_columns, dtype=np.int64)
    matches_m1 = np.zeros(n_columns, dtype=np.int64)
    step = max(1, _CHUNK // max(1, half * n))
    for lo in range(0, n_columns, step):
        hi = min(n_columns, lo + step)
        diff = shifted[lo:hi] - series[lo:hi, None, :]
        np.abs(diff, out=diff)
        close = diff <= tol[lo:hi, None, None]
        run = close[..., :starts] & valid
        for j in range(1, m):
            run &= close[..., j : j + starts]
        matches_m[lo:hi] = np.count_nonzero(run.reshape(hi - lo, -1), axis=1)
        run &= close[..., m : m + starts]
        matches_m1[lo:hi] = np.count_nonzero(run.reshape(hi - lo, -1), axis=1)
    return matches_m, matches_m1


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


def _longest_previous(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """Return, per row and position i, the longest L with ``s[i:i+L] == s[p:p+L]`` for a p < i.

    For a row ``s``, bit d of ``same[i]`` is set when ``s[i] == s[i - d]``
    (``1 <= d <= i``); a copy of length L from ``p = i - d`` exists when bit d
    is set in ``same[i]``, ..., ``same[i + L - 1]``, so ANDing the shifted bit
    sets until none is left gives every position's longest copy at once.
    """
    rows, n = bits.shape
    width = -(-n // 64) * 64
    # reverse[k] = s[n - 1 - k], then sentinels that equal no bit.
    reverse = np.full((rows, n + width), 2, dtype=np.uint8)
    reverse[:, :n] = bits[:, ::-1]
    history = sliding_window_view(reverse, width, axis=1)[:, n - 1 :: -1]  # [., i, d]: s[i - d]
    equal = history == bits[:, :, None]
    equal[:, :, 0] = False
    packed = np.packbits(equal, axis=-1, bitorder="little").view(np.uint64)
    same = np.ascontiguousarray(np.moveaxis(packed, 2, 0))  # (words, rows, n)
    longest = np.zeros((rows, n), dtype=np.intp)
    copies, length = same, 0
    while True:
        alive = copies[0] != 0
        for word in copies[1:]:
            alive |= word != 0
        if not alive.any():
            return longest
        length += 1
        longest[:, : alive.shape[1]][alive] = length
        copies = copies[:, :, :-1] & same[:, :, length:]


def _lz76_phrases_rows(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Count the LZ76 phrases of each row of ``bits`` (as :func:`_lz76_phrases`).

    The phrase starting at i is one longer than the longest copy of ``s[i:]``
    that starts before i (:func:`_longest_previous`); the rows are parsed in
    step.
    """
    rows, n = bits.shape
    longest = _longest_previous(bits)
    position = np.zeros(rows, dtype=np.intp)
    counts = np.zeros(rows)
    row = np.arange(rows)
    while True:
        live = position < n
        if not live.any():
            return counts
        counts += live
        position[live] += longest[row[live], position[live]] + 1


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
    if n > _LZ_BITSET_MAX:
        return np.array([_lz76_phrases(bits[:, j].tobytes()) * scale for j in range(x.shape[1])])
    per_chunk = max(1, _LZ_CHUNK // (n * n))  # bounds the n x n comparisons held at once
    counts = np.concatenate(
        [
            _lz76_phrases_rows(np.ascontiguousarray(bits[:, lo : lo + per_chunk].T))
            for lo in range(0, x.shape[1], per_chunk)
        ]
    )
    out: _Array = counts * scale
    return out


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
