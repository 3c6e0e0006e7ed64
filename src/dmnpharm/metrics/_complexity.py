"""Signal complexity of region time series: sample entropy and Lempel-Ziv complexity."""

from __future__ import annotations

from functools import lru_cache

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
_Bits = npt.NDArray[np.uint64]
# Sample-pair differences held at once by regional_sample_entropy (about 0.5 MB).
_CHUNK = 1 << 16
# Longest series whose Lempel-Ziv phrases are found with bit sets (above: phrase by phrase).
_LZ_BITSET_MAX = 512
# Bytes of one array of bit sets held at once by the bit-set Lempel-Ziv parsing.
_LZ_CHUNK = 1 << 21
# The bit-set parsing follows only the live positions once at most 1 in this many is live.
_LZ_SPARSE = 16
_ALL_BITS = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


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
    time, about ``_CHUNK`` differences each, into buffers reused across chunks;
    each region's matches are counted on its own contiguous rows (a whole-array
    count is far faster than one along an axis).
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
    step = min(n_columns, max(1, _CHUNK // max(1, half * n)))
    diff_buffer = np.empty((step, half, n))
    close_buffer = np.empty((step, half, n), dtype=bool)
    run_buffer = np.empty((step, half, starts), dtype=bool)
    for lo in range(0, n_columns, step):
        hi = min(n_columns, lo + step)
        diff, close, run = diff_buffer[: hi - lo], close_buffer[: hi - lo], run_buffer[: hi - lo]
        np.subtract(shifted[lo:hi], series[lo:hi, None, :], out=diff)
        np.abs(diff, out=diff)
        np.less_equal(diff, tol[lo:hi, None, None], out=close)
        np.logical_and(close[..., :starts], valid, out=run)
        for j in range(1, m):
            run &= close[..., j : j + starts]
        for k in range(hi - lo):
            matches_m[lo + k] = np.count_nonzero(run[k])
        run &= close[..., m : m + starts]
        for k in range(hi - lo):
            matches_m1[lo + k] = np.count_nonzero(run[k])
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


@lru_cache(maxsize=8)
def _bit_geometry(
    n: int,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], _Bits, tuple[tuple[int, int], ...]]:
    """Constants of :func:`_history_bits` for rows of ``n`` samples (read-only).

    Returns the bit offset ``(n - 1 - i) mod 64`` of each position ``i`` in its
    first stream word, ``63`` minus it, the mask of the distances ``1 <= d <= i``
    held by word ``w`` at position ``i`` (``(words, 1, n)``) and, per first stream
    word ``b = (n - 1 - i) // 64``, the range of positions ``i`` that start in it.
    """
    words = -(-n // 64)
    offset = np.arange(n - 1, -1, -1)
    shift = (offset % 64).astype(np.uint64)
    back = np.uint64(63) - shift
    held = np.clip(np.arange(n)[None, :] - 64 * np.arange(words)[:, None] + 1, 0, 64)
    low = (np.uint64(1) << np.minimum(held, 63).astype(np.uint64)) - np.uint64(1)
    mask = np.where(held == 64, _ALL_BITS, low)[:, None, :]
    mask[0] &= ~np.uint64(1)
    ranges = tuple((max(0, n - 64 * (b + 1)), n - 64 * b) for b in range(words))
    for array in (shift, back, mask):
        array.setflags(write=False)
    return shift, back, mask, ranges


def _history_bits(bits: npt.NDArray[np.uint8]) -> _Bits:
    """Return each row's matches with its own past as bit sets, (words, rows, n).

    Bit ``d mod 64`` of ``same[d // 64, r, i]`` is set when ``s[i] == s[i - d]``
    for the row ``s = bits[r]`` and ``1 <= d <= i``.

    Reading ``s`` backwards as a bit stream, ``stream[k] = s[n - 1 - k]``, the
    history ``s[i], s[i - 1], ...`` of position i is the stream from bit
    ``n - 1 - i`` on; its 64-bit words are two neighbouring stream words shifted
    together. All positions whose history starts in the same stream word take
    the same two words, so these are filled by broadcasting, not gathered. The
    history is then compared with ``s[i]`` (XOR with all ones where it is 0) and
    masked to the distances that exist.
    """
    rows, n = bits.shape
    shift, back, mask, ranges = _bit_geometry(n)
    words = mask.shape[0]
    stream = np.zeros((rows, 128 * words), dtype=np.uint8)
    stream[:, :n] = bits[:, ::-1]
    packed = np.packbits(stream, axis=1, bitorder="little").view(np.uint64).T  # (2 words, rows)
    same = np.empty((words, rows, n), dtype=np.uint64)
    upper = np.empty((words, rows, n), dtype=np.uint64)
    for b, (first, stop) in enumerate(ranges):
        same[:, :, first:stop] = packed[b : b + words, :, None]
        upper[:, :, first:stop] = packed[b + 1 : b + 1 + words, :, None]
    same >>= shift
    upper <<= np.uint64(1)  # two shifts: one by 64 - shift would be 64 for shift 0
    upper <<= back
    same |= upper
    flip = bits.astype(np.uint64)
    flip -= np.uint64(1)  # all ones where s[i] is 0 (wraps), 0 where it is 1
    same ^= flip
    same &= mask
    return same


def _longest_previous(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """Return, per row and position i, the longest L with ``s[i:i+L] == s[p:p+L]`` for a p < i.

    For a row ``s``, bit d of ``same[i]`` is set when ``s[i] == s[i - d]``
    (``1 <= d <= i``, :func:`_history_bits`); a copy of length L from ``p = i - d``
    exists when bit d is set in ``same[i]``, ..., ``same[i + L - 1]``, so ANDing
    the shifted bit sets until none is left gives every position's longest copy
    at once. Word ``w`` holds distances ``64 w ..``, so it is empty at positions
    ``i < 64 w`` and skipped there. While many positions live, all are ANDed;
    once at most ``1 / _LZ_SPARSE`` do, only the live ones are carried on, as
    flat indices into a copy of ``same`` padded with n empty positions per row.
    """
    rows, n = bits.shape
    same = _history_bits(bits)
    words = same.shape[0]
    longest = np.zeros((rows, 2 * n), dtype=np.intp)
    copies = same.copy()
    merged = np.empty((rows, n), dtype=np.uint64)
    live = np.empty((rows, n), dtype=bool)
    size, length = n, 0
    while True:
        found, alive = merged[:, :size], live[:, :size]
        np.copyto(found, copies[0, :, :size])
        for w in range(1, words):
            found[:, 64 * w :] |= copies[w, :, 64 * w : size]
        np.not_equal(found, 0, out=alive)
        count = np.count_nonzero(alive)
        if count == 0:
            return longest[:, :n]
        if count * _LZ_SPARSE <= rows * n:
            break
        length += 1
        longest[:, :size] += alive
        size -= 1
        for w in range(words):
            if 64 * w < size:
                copies[w, :, 64 * w : size] &= same[w, :, 64 * w + length : size + length]
    row, position = np.nonzero(alive)
    carried = copies[:, row, position]
    flat = row * (2 * n) + position
    padded = np.zeros((words, rows, 2 * n), dtype=np.uint64)
    padded[:, :, :n] = same
    padded_flat = padded.reshape(words, -1)
    longest_flat = longest.reshape(-1)
    while flat.size:
        length += 1
        longest_flat[flat] = length
        carried &= padded_flat[:, flat + length]
        kept = np.bitwise_or.reduce(carried, axis=0) != 0
        flat, carried = flat[kept], carried[:, kept]
    return longest[:, :n]


def _lz76_phrases_rows(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Count the LZ76 phrases of each row of ``bits`` (as :func:`_lz76_phrases`).

    The phrase starting at i is one longer than the longest copy of ``s[i:]``
    that starts before i (:func:`_longest_previous`), cut at the row's end; the
    rows are parsed in step, by jumping through a flat table of phrase lengths
    with one extra entry per row (0) where finished rows stay.
    """
    rows, n = bits.shape
    jump = np.zeros((rows, n + 1), dtype=np.intp)
    np.add(_longest_previous(bits), 1, out=jump[:, :n])
    np.minimum(jump[:, :n], np.arange(n, 0, -1), out=jump[:, :n])
    table = jump.reshape(-1)
    position = np.arange(rows) * (n + 1)
    end = position + n
    counts = np.zeros(rows)
    while True:
        live = position < end
        if not live.any():
            return counts
        counts += live
        position += table[position]


def _row_medians(series: _Array) -> _Array:
    """Return each row's median, equal to ``numpy.median(series, axis=1)`` for finite data.

    One partition at the upper middle element; the lower middle one is the
    largest of those before it. (``numpy.median`` also partitions for NaNs,
    which are excluded here, and is several times slower.)
    """
    half = series.shape[1] // 2
    part = np.partition(series, half, axis=1)
    if series.shape[1] % 2:
        odd: _Array = part[:, half]
        return odd
    even: _Array = (part[:, :half].max(axis=1) + part[:, half]) / 2
    return even


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
    series = np.ascontiguousarray(x.T)
    bits = (series > _row_medians(series)[:, None]).view(np.uint8)
    scale = np.log2(n) / n
    if n > _LZ_BITSET_MAX:
        return np.array([_lz76_phrases(row.tobytes()) * scale for row in bits])
    per_chunk = max(1, _LZ_CHUNK // (8 * n * -(-n // 64)))  # bounds each bit-set array
    counts = np.concatenate(
        [_lz76_phrases_rows(bits[lo : lo + per_chunk]) for lo in range(0, x.shape[1], per_chunk)]
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
