"""Time-varying connectivity: within-network FC in sliding windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtr

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import (
    R_CLIP,
    as_networks,
    as_timeseries,
    network_index,
)

__all__ = ["SlidingWindowResult", "sliding_window_fc"]

_Array = npt.NDArray[np.float64]
# Windows processed per batch in sliding_window_fc: a batch's arrays (windows x regions
# x regions) stay in cache; 16 to 32 are fastest at 67 regions, 64 and more much slower.
_WINDOW_BATCH = 16
# Rows per block of the correlation matrix (see _pair_blocks); 67 regions make 4 blocks.
_ROW_BLOCK = 16


@fill_doc
@dataclass(frozen=True, eq=False)
class SlidingWindowResult:
    """Within-network connectivity in sliding windows of one run.

    Parameters
    ----------
    values : numpy.ndarray
        Mean within-network Fisher z of each window. Read-only.
    starts : numpy.ndarray
        First volume (0-based) of each window. Read-only.
    mean : float
        Mean of ``values``.
    std : float
        Sample standard deviation (``ddof=1``) of ``values``; NaN for one window.
    network : str
        The network measured.
    window_volumes : int
        Window length in volumes, ``round(window_s / repetition_time)``.
    step : int
        Shift between windows, in volumes.
    %(repetition_time)s
    taper_sigma_s : float or None
        Gaussian taper width in seconds; None for a rectangular window.
    """

    values: _Array
    starts: npt.NDArray[np.intp]
    mean: float
    std: float
    network: str
    window_volumes: int
    step: int
    repetition_time: float
    taper_sigma_s: float | None


def _check_windows_vary(
    signals: _Array, width: int, starts: npt.NDArray[np.intp], idx: npt.NDArray[np.intp]
) -> None:
    """Raise for the first window (then region) in which a region's signal is constant.

    A window is constant when each of its ``width - 1`` consecutive sample
    pairs is equal, counted with a running sum over the whole run.
    """
    steady = np.zeros((signals.shape[0], signals.shape[1]), dtype=np.intp)
    np.cumsum(signals[1:] == signals[:-1], axis=0, out=steady[1:])
    flat = steady[starts + width - 1] - steady[starts] == width - 1
    if np.any(flat):
        k, region = np.argwhere(flat)[0]
        raise InputError(
            f"region column {int(idx[region])} is constant in the window starting at "
            f"volume {int(starts[k])}; its correlation is undefined"
        )


def _taper(width: int, sigma: float | None) -> _Array:
    """Window weights: a rectangle of ``width`` samples convolved with a Gaussian.

    The convolution of the unit rectangle on ``[-width/2, width/2]`` with a Gaussian
    of standard deviation ``sigma`` (samples) is ``Phi((t + width/2) / sigma) -
    Phi((t - width/2) / sigma)``; it is evaluated at the window's sample centres and
    scaled to a maximum of 1. None gives the rectangle itself.
    """
    if sigma is None:
        return np.ones(width)
    t = np.arange(width) - (width - 1) / 2
    w: _Array = ndtr((t + width / 2) / sigma) - ndtr((t - width / 2) / sigma)
    scaled: _Array = w / w.max()
    return scaled


@lru_cache(maxsize=8)
def _pair_blocks(p: int) -> tuple[tuple[int, int, _Array], ...]:
    """Split the correlation matrix of ``p`` regions into blocks of rows, with pair weights.

    Block ``(a, b, share)`` covers rows ``a .. b - 1`` and columns ``a .. p - 1``,
    the only columns of those rows that hold pairs above the diagonal. ``share``,
    one entry per element of the block flattened row-major, is ``1 / pairs`` at
    the block's pairs above the diagonal and 0 elsewhere, so the dot product of a
    block's Fisher z with it adds the block's part of the mean over pairs; each
    pair lies in exactly one block. The blocks hold about ``(1 + 1 / blocks) / 2``
    of the full matrix's products.
    """
    pairs = p * (p - 1) // 2
    edges = np.linspace(0, p, max(1, round(p / _ROW_BLOCK)) + 1).round().astype(np.intp)
    blocks = []
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        above = np.arange(p - a)[None, :] > np.arange(b - a)[:, None]
        share = np.where(above, 1.0 / pairs, 0.0).ravel()
        share.setflags(write=False)
        blocks.append((a, b, share))
    return tuple(blocks)


def _window_z_means(windows: _Array, weights: _Array, tapered: bool) -> _Array:
    """Return the mean within-network Fisher z of each window of ``windows``.

    ``windows`` is (windows, regions, samples). Each region's samples are centred
    on their weighted mean, multiplied by the square roots of the weights (with a
    taper; equal weights cancel from the correlation) and divided by their root
    sum of squares, so the matrix product of a window's rows with themselves gives
    the weighted correlations directly. Only the blocks of :func:`_pair_blocks`
    are multiplied; their entries on and below the diagonal are clipped and
    transformed too (cheaper than picking out the pairs) but weigh 0 in the mean.
    """
    k, p = windows.shape[:2]
    root = np.sqrt(weights)
    blocks = _pair_blocks(p)
    values = np.zeros(k)
    for lo in range(0, k, _WINDOW_BATCH):
        chunk = windows[lo : lo + _WINDOW_BATCH]
        z = chunk - (chunk @ weights)[..., None]
        if tapered:
            z *= root
        norm = np.einsum("kpw,kpw->kp", z, z)
        np.sqrt(norm, out=norm)
        np.divide(1.0, norm, out=norm)
        z *= norm[..., None]
        # A separate transposed copy: NumPy sends z @ z.T (one buffer) to a slower
        # symmetric product that also fills the lower triangle.
        zt = z.transpose(0, 2, 1).copy()
        total = values[lo : lo + chunk.shape[0]]
        for a, b, share in blocks:
            r = (z[:, a:b] @ zt[:, :, a:]).reshape(chunk.shape[0], -1)
            np.clip(r, -R_CLIP, R_CLIP, out=r)
            np.arctanh(r, out=r)
            total += r @ share
    return values


@fill_doc
def sliding_window_fc(
    data: npt.ArrayLike,
    networks: Sequence[str],
    *,
    repetition_time: float,
    window_s: float = 60.0,
    step: int = 1,
    taper_sigma_s: float | None = None,
    network: str = "DMN",
) -> SlidingWindowResult:
    """Return within-network Fisher z connectivity in sliding windows, with its mean and SD.

    In each window the (weighted) Pearson correlation of the network's regions is
    computed, ``r = sum_t w_t a_t b_t / sqrt(sum_t w_t a_t^2 sum_t w_t b_t^2)`` with
    ``a, b`` centred on their weighted means, Fisher z transformed (``|r|`` clipped
    to ``1 - 1e-12``) and averaged over distinct region pairs. With a taper the
    weights follow a rectangle convolved with a Gaussian (Allen et al. 2014),
    truncated to the window and without GIFT's circular wrap at the run's ends;
    weighting the correlation rather than multiplying the signals keeps it
    independent of the signals' means.

    Parameters
    ----------
    data : array-like
        Volumes x regions time series of one run, columns in atlas order.
    networks : sequence of str
        Network code per region (e.g. ``Atlas.networks``).
    %(repetition_time)s
        From the BIDS sidecar; required.
    window_s : float
        Window length in seconds, by default 60 s; 30-60 s windows are usual.
        Windows shorter than 1/f_min of the high-pass cutoff (100 s at 0.01 Hz)
        show spurious fluctuations even in stationary data (Leonardi & Van De
        Ville 2015 NeuroImage 104:430), so compare the SD against a null model.
    step : int
        Shift between windows in volumes, by default 1.
    taper_sigma_s : float, optional
        Standard deviation in seconds of the Gaussian tapering the window edges
        (Allen et al. used 3 TR); None (default) for a rectangular window.
    network : str
        Network measured, by default ``"DMN"``; needs two or more regions.

    Returns
    -------
    SlidingWindowResult
        Per-window values and their mean and SD (mean Fisher z, unitless), with the
        window settings.

    Notes
    -----
    Allen EA, Damaraju E, Plis SM, Erhardt EB, Eichele T, Calhoun VD (2014)
    Tracking whole-brain connectivity dynamics in the resting state. Cereb Cortex
    24:663-676.
    """
    x = as_timeseries(data)
    labels = as_networks(networks, x.shape[1])
    idx = network_index(labels, network)
    if idx.size < 2:
        raise InputError(f"network {network!r} has {idx.size} region; need at least two")
    if not repetition_time > 0:
        raise InputError(
            f"repetition_time must be a positive number of seconds, got {repetition_time}"
        )
    if not window_s > 0:
        raise InputError(f"window_s must be positive, got {window_s}")
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise InputError(f"step must be a positive whole number of volumes, got {step!r}")
    if taper_sigma_s is not None and not taper_sigma_s > 0:
        raise InputError(f"taper_sigma_s must be positive or None, got {taper_sigma_s}")
    width = round(window_s / repetition_time)
    if width < 3:
        raise InputError(
            f"a {window_s} s window at TR {repetition_time} s has {width} volumes; need >= 3"
        )
    n = x.shape[0]
    if n < width:
        raise InputError(
            f"the run has {n} volumes ({n * repetition_time:g} s at TR "
            f"{repetition_time:g} s), shorter than one window of {width} volumes ({window_s:g} s)"
        )
    weights = _taper(width, None if taper_sigma_s is None else taper_sigma_s / repetition_time)
    weights = weights / weights.sum()
    signals = x[:, idx]
    starts = np.arange(0, n - width + 1, step)
    _check_windows_vary(signals, width, starts, idx)
    # Regions as rows, so each window's samples of a region are contiguous.
    series = np.ascontiguousarray(signals.T)
    windows = sliding_window_view(series, width, axis=1)[:, ::step].transpose(1, 0, 2)
    values = _window_z_means(windows, weights, taper_sigma_s is not None)
    values.setflags(write=False)
    starts.setflags(write=False)
    std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return SlidingWindowResult(
        values=values,
        starts=starts,
        mean=float(values.mean()),
        std=std,
        network=network,
        window_volumes=width,
        step=int(step),
        repetition_time=float(repetition_time),
        taper_sigma_s=taper_sigma_s,
    )
