"""The Butterworth filter's design and its zero-phase application, without ``scipy.signal``.

``scipy.signal`` costs 0.6-1.0 s to import on the 2-core development machine
(its public functions' docstrings are parsed when the package loads, and it
pulls in ``scipy.stats``): more than all the filtering of the demo's 80 runs.
The cleaning needs two of its functions, ``butter(..., output="sos")`` and
``sosfiltfilt``; this module gives the same filter and the same numbers
(within 1e-12 of the signal's scale; ``tests/signal/test_butterworth.py``
compares them with SciPy's on many designs and lengths).

Design (:func:`butterworth_sections`): the analog prototype's poles on the
unit circle, moved to the cut-offs (pre-warped, so that the digital filter's
-3 dB points are where they are asked for), mapped to the z-plane with the
bilinear transform, and grouped into second-order sections: each conjugate
pair of poles with two of the zeros (one at z = 1 and one at z = -1 for a
band-pass), the real pole of an odd low- or high-pass in a first-order
section, the overall gain on the first section (the layout SciPy's
``zpk2sos`` gives, so that :func:`filter_padding` agrees too).

Application (:func:`zero_phase_filter`): the forward-backward filter with odd
extension at both ends and each pass started in the steady state of its first
sample, as ``sosfiltfilt`` does (Gustafsson 1996 discusses the initial
states). From that state a pass outputs ``G x[0]`` (``G`` the gain at zero
frequency) plus the filter's response from rest to ``x - x[0]``. That
response is computed :data:`BLOCK` samples at a time for all columns at once:
the sections in series are one state-space system, and a block's outputs are
a matrix (the impulse response, lower triangular) times its inputs plus a
matrix times the state it starts in, whose next value is again two matrix
products. Only the short loop over blocks runs in Python. This matches
``sosfiltfilt``'s speed (2.2-2.6 ms against 2.3-2.5 ms for 150 volumes x 340
columns; 1,200 x 1,000: 36-54 ms against 31-53 ms, one BLAS thread, the
numbers of the same invocation side by side), and its numbers: within 1e-13
of the signal's scale for the usual cut-offs, 5e-11 at the extreme tested
(order 5, 0.001 Hz at 2 Hz; higher orders lose more there, and the cleaning
uses order 5).

References
----------
Butterworth S (1930). On the theory of filter amplifiers. *Wireless Engineer*
7:536-541.

Gustafsson F (1996). Determining the initial states in forward-backward
filtering. *IEEE Transactions on Signal Processing* 44(4):988-992.
"""

from __future__ import annotations

import cmath
import functools
import math

import numpy as np
import numpy.typing as npt

__all__ = ["butterworth_sections", "filter_padding", "zero_phase_filter"]

Array = npt.NDArray[np.float64]

#: Poles closer than this to the real axis are real (the prototype's at -1).
_REAL = 1e-10


def _prototype(order: int) -> list[complex]:
    """Return the analog low-pass prototype's poles (cut-off 1 rad/s), left half-plane."""
    return [-cmath.exp(1j * math.pi * m / (2 * order)) for m in range(1 - order, order, 2)]


def _analog(
    order: int, high_pass: float | None, low_pass: float | None, rate: float
) -> tuple[list[complex], list[complex], float]:
    """Return the analog filter's zeros, poles and gain at the pre-warped cut-offs (fs = 2)."""
    poles = _prototype(order)

    def warped(cutoff: float) -> float:
        return 4.0 * math.tan(math.pi * cutoff / rate)

    if high_pass is not None and low_pass is not None:
        low, high = warped(high_pass), warped(low_pass)
        width, centre = high - low, math.sqrt(low * high)
        moved: list[complex] = []
        for pole in poles:
            scaled = pole * width / 2
            root = cmath.sqrt(scaled * scaled - centre * centre)
            moved += [scaled + root, scaled - root]
        return [0j] * order, moved, width**order
    if high_pass is not None:
        cutoff = warped(high_pass)
        product = complex(np.prod([-p for p in poles]))
        return [0j] * order, [cutoff / p for p in poles], 1.0 / product.real
    assert low_pass is not None
    cutoff = warped(low_pass)
    return [], [cutoff * p for p in poles], cutoff**order


def _bilinear(
    zeros: list[complex], poles: list[complex], gain: float
) -> tuple[list[float], list[complex], float]:
    """Map an analog filter (fs = 2) to the z-plane; zeros at infinity go to z = -1."""

    def mapped(s: complex) -> complex:
        return (4.0 + s) / (4.0 - s)

    numerator = complex(np.prod([4.0 - z for z in zeros])) if zeros else 1.0 + 0j
    denominator = complex(np.prod([4.0 - p for p in poles]))
    digital_zeros = [mapped(z).real for z in zeros] + [-1.0] * (len(poles) - len(zeros))
    return digital_zeros, [mapped(p) for p in poles], gain * (numerator / denominator).real


@functools.lru_cache(maxsize=64)
def _design(order: int, high_pass: float | None, low_pass: float | None, rate: float) -> Array:
    zeros, poles, gain = _bilinear(*_analog(order, high_pass, low_pass, rate))
    # each conjugate pair, and the real poles two by two (a wide band-pass has some)
    groups: list[tuple[complex, complex] | tuple[float]] = [
        (p, p.conjugate()) for p in poles if p.imag > _REAL
    ]
    real = sorted(p.real for p in poles if abs(p.imag) <= _REAL)
    groups += [(complex(a), complex(b)) for a, b in zip(real[0::2], real[1::2], strict=False)]
    groups.sort(key=lambda g: -abs(1 - abs(g[0])))  # the poles nearest the unit circle last
    if len(real) % 2:  # an odd low- or high-pass: its lone real pole in a first-order section
        groups.insert(0, (real[-1],))
    zeros = sorted(zeros)
    # one zero from each end of the sorted list: a band-pass section gets z = -1 and z = 1
    ends = iter([(zeros[i], zeros[-1 - i]) for i in range(len(zeros) // 2)])
    rows: list[list[float]] = []
    for group in groups:
        if len(group) == 1:
            rows.append([1.0, -zeros[len(zeros) // 2], 0.0, 1.0, -float(group[0].real), 0.0])
            continue
        z1, z2 = next(ends)
        p1, p2 = group
        rows.append(
            [1.0, -(z1 + z2), z1 * z2, 1.0, -(p1 + p2).real, (p1 * p2).real],
        )
    sections = np.array(rows, dtype=np.float64)
    sections[0, :3] *= gain
    sections.flags.writeable = False
    return sections


def butterworth_sections(
    order: int, high_pass: float | None, low_pass: float | None, rate: float
) -> Array:
    """Design a digital Butterworth filter as second-order sections.

    The same filter as ``scipy.signal.butter(order, ..., output="sos", fs=rate)``
    (a band-pass when both cut-offs are given, else a high- or low-pass).

    Parameters
    ----------
    order : int
        The analog prototype's order (a band-pass has twice as many poles).
    high_pass, low_pass : float or None
        Cut-offs in Hz; at least one, each below ``rate / 2``.
    rate : float
        Sampling rate in Hz (1 / repetition time).

    Returns
    -------
    numpy.ndarray
        Sections x 6 (``b0, b1, b2, 1, a1, a2``), a new writable array.

    Examples
    --------
    >>> sos = butterworth_sections(5, 0.01, 0.1, rate=0.5)
    >>> sos.shape
    (5, 6)
    """
    if high_pass is None and low_pass is None:
        raise ValueError("a Butterworth filter needs a high-pass or a low-pass cut-off")
    for cutoff in (high_pass, low_pass):
        if cutoff is not None and not 0 < cutoff < rate / 2:
            raise ValueError(f"cut-off {cutoff} Hz is not between 0 and {rate / 2} Hz")
    return _design(int(order), high_pass, low_pass, float(rate)).copy()


def filter_padding(sos: Array) -> int:
    """Return how many samples the zero-phase filter adds at each end (odd extension).

    Three times the number of taps, as ``scipy.signal.sosfiltfilt``: a series
    must be longer than this to be filtered.

    Parameters
    ----------
    sos : numpy.ndarray
        Sections x 6.

    Returns
    -------
    int
        Samples added at each end.

    Examples
    --------
    >>> filter_padding(butterworth_sections(5, 0.01, 0.1, rate=0.5))
    33
    """
    taps = 2 * int(sos.shape[0]) + 1
    taps -= min(int(np.sum(sos[:, 2] == 0)), int(np.sum(sos[:, 5] == 0)))
    return 3 * taps


#: Samples filtered by one matrix product (a block of the state-space recursion).
BLOCK = 32


def _single_step(sos: Array) -> tuple[Array, Array, Array, float]:
    """Write the cascade as one state-space system: x' = A x + B u, y = C x + D u.

    Two states per section (transposed direct form II), the sections in series.
    """
    n = sos.shape[0]
    size = 2 * n
    a_matrix, b_vector = np.zeros((size, size)), np.zeros(size)
    # the input of section i is D_i u + C_i x: what the sections before it output
    into_c, into_d = np.zeros(size), 1.0
    for i, (b0, b1, b2, a0, a1, a2) in enumerate(sos):
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        first, second = 2 * i, 2 * i + 1
        out_c = b0 * into_c
        out_c[first] += 1.0
        out_d = b0 * into_d
        a_matrix[first] = b1 * into_c - a1 * out_c
        a_matrix[first, second] += 1.0
        b_vector[first] = b1 * into_d - a1 * out_d
        a_matrix[second] = b2 * into_c - a2 * out_c
        b_vector[second] = b2 * into_d - a2 * out_d
        into_c, into_d = out_c, out_d
    return a_matrix, b_vector, into_c, float(into_d)


@functools.lru_cache(maxsize=32)
def _block_maps(sections: bytes, n_sections: int) -> tuple[Array, Array, Array, Array]:
    """Return a block's maps: outputs from its inputs and first state, its last state."""
    sos = np.frombuffer(sections, dtype=np.float64).reshape(n_sections, 6)
    a_matrix, b_vector, c_vector, d_scalar = _single_step(sos)
    size = a_matrix.shape[0]
    powers = [np.eye(size)]
    for _ in range(BLOCK):
        powers.append(a_matrix @ powers[-1])
    # impulse response h_0 = D, h_k = C A^(k-1) B; outputs from the state: C A^k
    impulse = np.array([d_scalar] + [c_vector @ powers[k] @ b_vector for k in range(BLOCK - 1)])
    lags = np.arange(BLOCK)[:, None] - np.arange(BLOCK)[None, :]
    from_inputs = np.where(lags >= 0, impulse[np.clip(lags, 0, None)], 0.0)
    from_state = np.array([c_vector @ powers[k] for k in range(BLOCK)])
    next_from_state = powers[BLOCK]
    next_from_inputs = np.stack([powers[BLOCK - 1 - i] @ b_vector for i in range(BLOCK)], axis=1)
    maps = (from_inputs, from_state, next_from_state, next_from_inputs)
    for matrix in maps:
        matrix.flags.writeable = False
    return maps


def _one_pass(values: Array, maps: tuple[Array, Array, Array, Array], gain: float) -> Array:
    """Filter the columns from the steady state of their first sample, a block at a time.

    From that state the output is ``gain * x[0]`` plus the filter's output from
    rest for ``x - x[0]``, which starts at 0: no state to start from, and no large
    constant carried through the sections and cancelled at the end.
    """
    from_inputs, from_state, next_from_state, next_from_inputs = maps
    length, width = values.shape
    blocks = -(-length // BLOCK)
    shifted = np.zeros((blocks * BLOCK, width))
    np.subtract(values, values[:1], out=shifted[:length])
    stacked = shifted.reshape(blocks, BLOCK, width)
    driven = next_from_inputs @ stacked  # each block's input carried to its end
    states = np.zeros((blocks, next_from_state.shape[0], width))
    for b in range(1, blocks):
        states[b] = next_from_state @ states[b - 1] + driven[b - 1]
    out = from_inputs @ stacked
    out += from_state @ states
    flat = out.reshape(blocks * BLOCK, width)[:length]
    flat += gain * values[:1]
    return flat


def zero_phase_filter(sos: Array, data: npt.ArrayLike) -> Array:
    """Filter each column forward and backward (zero phase), as ``sosfiltfilt``.

    The series is extended at both ends by :func:`filter_padding` samples of
    odd extension; each pass starts in the steady state of its first sample.

    Parameters
    ----------
    sos : numpy.ndarray
        Sections x 6, from :func:`butterworth_sections`.
    data : array-like
        Samples x columns (or one series).

    Returns
    -------
    numpy.ndarray
        The filtered data, the shape of ``data``.

    Raises
    ------
    ValueError
        If the series is not longer than the padding.

    Examples
    --------
    >>> import numpy as np
    >>> sos = butterworth_sections(5, 0.01, 0.1, rate=0.5)
    >>> zero_phase_filter(sos, np.ones((100, 2))).round(12).max()  # no DC in a band-pass
    0.0
    """
    values = np.asarray(data, dtype=np.float64)
    series = values.reshape(values.shape[0], -1)
    n, pad = series.shape[0], filter_padding(sos)
    if n <= pad:
        raise ValueError(f"the series has {n} samples; the filter needs more than {pad}")
    extended = np.concatenate(
        [2 * series[:1] - series[pad:0:-1], series, 2 * series[-1:] - series[-2 : -pad - 2 : -1]]
    )
    sections = np.ascontiguousarray(sos, dtype=np.float64)
    maps = _block_maps(sections.tobytes(), sections.shape[0])
    gain = float(np.prod(sections[:, :3].sum(axis=1) / sections[:, 3:].sum(axis=1)))
    forward = _one_pass(extended, maps, gain)
    backward = _one_pass(np.ascontiguousarray(forward[::-1]), maps, gain)[::-1]
    return np.ascontiguousarray(backward[pad : n + pad]).reshape(values.shape)
