"""Simulated head motion: realignment parameters, framewise displacement, artifacts.

Realignment parameters follow fMRIPrep: columns ``trans_x, trans_y, trans_z`` in
mm and ``rot_x, rot_y, rot_z`` in radians. Internally every axis is built in
"mm of displacement": rotations as the arc they sweep on a 50 mm sphere, the
head radius used by framewise displacement (Power et al. 2012), so that one
scale calibrates all six axes.

References
----------
Power JD, Barnes KA, Snyder AZ, Schlaggar BL, Petersen SE (2012). Spurious but
systematic correlations in functional connectivity MRI networks arise from
subject motion. NeuroImage 59(3):2142-2154. doi:10.1016/j.neuroimage.2011.10.018

Power JD, Mitra A, Laumann TO, Snyder AZ, Schlaggar BL, Petersen SE (2014).
Methods to detect, characterize, and remove motion artifact in resting state
fMRI. NeuroImage 84:320-341. doi:10.1016/j.neuroimage.2013.08.048
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError

__all__ = [
    "MOTION_COLUMNS",
    "framewise_displacement",
    "framewise_displacement_batch",
    "gaussian_smooth",
    "motion_artifact",
    "motion_artifact_batch",
    "simulate_motion",
    "simulate_motion_batch",
]

#: Names and order of the realignment parameters, as fMRIPrep writes them.
MOTION_COLUMNS: tuple[str, ...] = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")

_RADIUS_MM = 50.0
# Relative size per axis (mm of displacement). Slow drift is mostly the head
# sinking into the pillow and nodding (trans_z, rot_x); respiration moves the image
# mostly along y and z; jerks can go any way but favour the same nodding axes.
_DRIFT_WEIGHTS = np.array([0.4, 0.6, 1.0, 0.8, 0.3, 0.3])
_JITTER_WEIGHTS = np.array([0.3, 1.0, 0.7, 0.5, 0.25, 0.25])
_SPIKE_WEIGHTS = np.array([0.5, 0.8, 1.0, 1.0, 0.5, 0.5])
_DRIFT_REFERENCE_S = 300.0  # drift_mm is the random-walk SD after 5 minutes
_DRIFT_SMOOTHING_S = 15.0  # Gaussian smoothing of the walk: drift is slow, not steppy
_RESPIRATION_HZ = (0.2, 0.33)  # 12 to 20 breaths per minute
_RESPIRATORY_SHARE = 0.6  # of jitter variance; the rest is white (registration noise)
_SPIKE_SIZE = 8.0  # jerk amplitude relative to the jitter's per-axis SD
_TRANSIENT_HALVING = 0.5  # motion-locked signal transients halve every volume


def _as_array(
    name: str, value: npt.ArrayLike, ndim: int, *, allow_nan: bool = False
) -> npt.NDArray[np.float64]:
    """Return ``value`` as a float array with ``ndim`` axes and no infinity, or raise."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise InputError(f"{name} must have {ndim} axes; got shape {array.shape}")
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} has a non-finite value {float(array[first])} at index {first}")
    return array


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and np.isfinite(value)):
        rule = "non-negative" if allow_zero else "positive"
        raise InputError(f"{name} must be {rule} and finite; got {value!r}")


def _mean_fd_mm(displacement: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Mean FD per run of parameters already in mm on every axis (runs x volumes x 6)."""
    fd: npt.NDArray[np.float64] = np.abs(np.diff(displacement, axis=1)).sum(axis=2).mean(axis=1)
    return fd


def gaussian_smooth(x: npt.NDArray[np.float64], sigma: float) -> npt.NDArray[np.float64]:
    """Smooth along axis 1 with a Gaussian kernel of SD ``sigma`` samples, ends mirrored.

    The kernel is truncated at 4 SD and normalised to sum 1; samples past an
    end are the run's own mirrored (the end sample repeated first). The sums
    are taken in the order :func:`scipy.ndimage.gaussian_filter1d` (its
    defaults) takes them, so the two agree to the bit (a test checks), without
    importing ``scipy.ndimage`` (30 ms) into the simulator.

    Parameters
    ----------
    x : numpy.ndarray
        Runs x samples x columns.
    sigma : float
        Kernel SD in samples, positive.

    Returns
    -------
    numpy.ndarray
        The smoothed array, shaped as ``x``.
    """
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    kernel /= kernel.sum()
    n = x.shape[1]
    padded = np.pad(x, ((0, 0), (radius, radius), (0, 0)), mode="symmetric")
    out: npt.NDArray[np.float64] = padded[:, radius : radius + n] * kernel[radius]
    for j in range(radius, 0, -1):  # the farthest pair of samples first
        pair = padded[:, radius - j : radius - j + n] + padded[:, radius + j : radius + j + n]
        pair *= kernel[radius + j]
        out += pair
    return out


def _drift(
    rng: np.random.Generator, shape: tuple[int, int], repetition_time: float, drift_mm: float
) -> npt.NDArray[np.float64]:
    steps = rng.standard_normal((*shape, 6)) * np.sqrt(repetition_time / _DRIFT_REFERENCE_S)
    walk = np.cumsum(steps, axis=1)
    smooth = gaussian_smooth(walk, _DRIFT_SMOOTHING_S / repetition_time)
    drift: npt.NDArray[np.float64] = drift_mm * _DRIFT_WEIGHTS * smooth
    return drift


def _jitter(
    rng: np.random.Generator, shape: tuple[int, int], repetition_time: float
) -> npt.NDArray[np.float64]:
    """Respiration-like oscillation (aliased by the TR) plus white noise, unit SD per axis."""
    n_runs, n_volumes = shape
    seconds = np.arange(n_volumes) * repetition_time
    rate = rng.uniform(*_RESPIRATION_HZ, size=(n_runs, 1))
    wander = np.cumsum(rng.normal(0.0, 0.5 * np.sqrt(repetition_time), shape), axis=1)
    phase = 2 * np.pi * rate * seconds + wander
    offsets = rng.uniform(0.0, 2 * np.pi, (n_runs, 1, 6))
    breathing = np.sqrt(2.0) * np.cos(phase[:, :, None] + offsets)
    white = rng.standard_normal((*shape, 6))
    mixed = np.sqrt(_RESPIRATORY_SHARE) * breathing + np.sqrt(1 - _RESPIRATORY_SHARE) * white
    jitter: npt.NDArray[np.float64] = _JITTER_WEIGHTS * mixed
    return jitter


def _spikes(
    rng: np.random.Generator, shape: tuple[int, int], repetition_time: float, spike_rate: float
) -> npt.NDArray[np.float64]:
    """Jerks: sudden displacements that return part of the way within seconds."""
    n_runs, n_volumes = shape
    counts = rng.poisson(spike_rate * n_volumes * repetition_time / 60.0, size=n_runs)
    total = int(counts.sum())
    run = np.repeat(np.arange(n_runs), counts)
    onset = rng.integers(1, n_volumes, size=total)
    size = _SPIKE_SIZE * rng.lognormal(0.0, 0.5, size=total)
    direction = rng.standard_normal((total, 6)) * _SPIKE_WEIGHTS
    kept = rng.uniform(0.1, 0.6, size=total)
    time_constant = rng.uniform(2.0, 8.0, size=total)
    # each jerk's time course, zero before its onset, summed into its run
    elapsed = (np.arange(n_volumes)[None, :] - onset[:, None]) * repetition_time
    shape_t = kept[:, None] + (1 - kept[:, None]) * np.exp(
        -np.maximum(elapsed, 0.0) / time_constant[:, None]
    )
    shape_t[elapsed < 0] = 0.0
    spikes = np.zeros((n_runs, n_volumes, 6))
    np.add.at(spikes, run, (size[:, None] * shape_t)[:, :, None] * direction[:, None, :])
    return spikes


def _solve_scale(
    drift: npt.NDArray[np.float64], fast: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per run, the factor ``c`` with mean FD of ``drift + c * fast`` equal to ``target``.

    Mean FD is convex and piecewise linear in ``c``; Newton's method started right
    of the root descends monotonically onto it and ends on the exact linear piece.
    """
    d_drift, d_fast = np.diff(drift, axis=1), np.diff(fast, axis=1)
    drift_fd, fast_fd = _mean_fd_mm(drift), _mean_fd_mm(fast)
    # FD(drift + c * fast) >= c * FD(fast) - FD(drift), so the root lies below this
    scale = (target + drift_fd) / fast_fd
    for _ in range(200):
        moved = d_drift + scale[:, None, None] * d_fast
        gap = np.abs(moved).sum(axis=2).mean(axis=1) - target
        if np.all(np.abs(gap) <= 1e-13 * target):
            break
        slope = (np.sign(moved) * d_fast).sum(axis=2).mean(axis=1)
        scale = scale - np.where(np.abs(gap) > 1e-13 * target, gap / slope, 0.0)
    return scale


@fill_doc
def simulate_motion_batch(
    rng: np.random.Generator,
    n_volumes: int,
    repetition_time: float,
    mean_fd: npt.ArrayLike,
    spike_rate: float = 0.5,
    drift_mm: float = 0.3,
) -> npt.NDArray[np.float64]:
    """Simulate realignment parameters of many runs at once, one mean FD per run.

    The model is :func:`simulate_motion`'s; this is its vectorised form (used by
    power analysis, which simulates tens of thousands of runs).

    Parameters
    ----------
    %(rng)s
    %(n_volumes)s
        At least 2.
    %(repetition_time)s
    mean_fd : array_like
        Wanted mean framewise displacement of each run, mm (one value per run).
    spike_rate : float
        Expected jerks per minute of scanning.
    drift_mm : float
        Size of the slow drift (see :func:`simulate_motion`).

    Returns
    -------
    numpy.ndarray
        ``runs x n_volumes x 6`` in fMRIPrep's order and units, each run
        relative to its first volume.

    Raises
    ------
    InputError
        If a parameter is out of range, or if the drift alone already moves a run
        more than its ``mean_fd`` per volume (lower ``drift_mm``).
    """
    if int(n_volumes) != n_volumes or n_volumes < 2:
        raise InputError(f"n_volumes must be an integer of at least 2; got {n_volumes!r}")
    target = _as_array("mean_fd", np.atleast_1d(np.asarray(mean_fd, dtype=np.float64)), 1)
    _check_positive("repetition_time", repetition_time)
    _check_positive("mean_fd", float(target.min()) if target.size else 1.0)
    _check_positive("spike_rate", spike_rate, allow_zero=True)
    _check_positive("drift_mm", drift_mm, allow_zero=True)
    shape = (target.size, int(n_volumes))
    drift = _drift(rng, shape, repetition_time, drift_mm)
    fast = _jitter(rng, shape, repetition_time) + _spikes(rng, shape, repetition_time, spike_rate)
    drift_fd = _mean_fd_mm(drift)
    if np.any(drift_fd >= target):
        worst = int(np.argmax(drift_fd - target))
        raise InputError(
            f"drift_mm={drift_mm!r} alone gives a mean FD of {drift_fd[worst]:.3g} mm, not "
            f"below mean_fd={float(target[worst])!r}; lower drift_mm"
        )
    params = drift + _solve_scale(drift, fast, target)[:, None, None] * fast
    params -= params[:, :1]
    params[:, :, 3:] /= _RADIUS_MM
    return params


@fill_doc
def simulate_motion(
    rng: np.random.Generator,
    n_volumes: int,
    repetition_time: float,
    mean_fd: float,
    spike_rate: float = 0.5,
    drift_mm: float = 0.3,
) -> npt.NDArray[np.float64]:
    """Simulate realignment parameters whose mean framewise displacement is ``mean_fd``.

    Three parts are summed (Power et al. 2014 describe all three in real data):
    a slow drift (a Gaussian-smoothed random walk, 15 s kernel), a fast jitter
    (a respiration-like oscillation at 12-20 breaths per minute, aliased by the
    TR, plus white registration noise) and jerks (a Poisson number of sudden
    displacements at random volumes, each returning 40-90 % of the way with a
    2-8 s time constant). The drift keeps the absolute size set by ``drift_mm``;
    jitter and jerks are scaled together by the one factor that makes the run's
    mean FD equal ``mean_fd`` (found by Newton's method; FD is convex and
    piecewise linear in that factor, so the root is unique and met exactly).

    Parameters
    ----------
    %(rng)s
    %(n_volumes)s
        At least 2.
    %(repetition_time)s
    mean_fd : float
        Mean framewise displacement of the run in mm (Power et al. 2012, 50 mm
        head radius), over volumes 2 to ``n_volumes``. Typical adults lie
        between 0.08 and 0.5.
    spike_rate : float
        Expected jerks per minute of scanning.
    drift_mm : float
        Size of the slow drift: the SD, in mm, that ``trans_z`` (the most
        drifting axis) wanders in 5 minutes; other axes drift 0.3 to 0.8 times
        as much. 0 gives no drift.

    Returns
    -------
    numpy.ndarray
        ``n_volumes x 6``: ``trans_x, trans_y, trans_z`` in mm and
        ``rot_x, rot_y, rot_z`` in radians (fMRIPrep's order and units),
        relative to the first volume. ``framewise_displacement(params)``
        averages to ``mean_fd`` up to about 1e-9 relative error.

    Raises
    ------
    InputError
        If a parameter is out of range, or if the drift alone already moves
        more than ``mean_fd`` per volume (lower ``drift_mm``).
    """
    _check_positive("mean_fd", mean_fd)
    runs = simulate_motion_batch(rng, n_volumes, repetition_time, [mean_fd], spike_rate, drift_mm)
    params: npt.NDArray[np.float64] = runs[0]
    return params


def framewise_displacement(
    params: npt.ArrayLike, radius_mm: float = 50.0
) -> npt.NDArray[np.float64]:
    """Compute framewise displacement (Power et al. 2012).

    ``FD_t = sum_k |p_k(t) - p_k(t-1)|`` over the three translations (mm) and the
    three rotations converted to the arc length (mm) they sweep on a sphere of
    radius ``radius_mm``.

    Parameters
    ----------
    params : array_like
        ``n_volumes x 6`` realignment parameters in fMRIPrep's order and units
        (``trans_x, trans_y, trans_z`` in mm, ``rot_x, rot_y, rot_z`` in radians).
    radius_mm : float
        Head radius that turns radians into mm; 50 mm as in Power et al. (2012)
        and fMRIPrep.

    Returns
    -------
    numpy.ndarray
        ``n_volumes`` values in mm; the first is NaN (fMRIPrep writes ``n/a``).
    """
    array = _as_array("params", params, 2)
    if array.shape[1] != 6:
        raise InputError(
            f"params must have 6 columns ({', '.join(MOTION_COLUMNS)}); got {array.shape[1]}"
        )
    _check_positive("radius_mm", radius_mm)
    fd: npt.NDArray[np.float64] = framewise_displacement_batch(array[None], radius_mm)[0]
    return fd


def framewise_displacement_batch(
    params: npt.NDArray[np.float64], radius_mm: float = _RADIUS_MM
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`framewise_displacement` over runs (no input checks).

    Parameters
    ----------
    params : numpy.ndarray
        ``runs x volumes x 6`` realignment parameters.
    radius_mm : float
        Head radius turning rotations into arcs.

    Returns
    -------
    numpy.ndarray
        ``runs x volumes``; the first volume of each run is NaN.
    """
    step = np.abs(np.diff(params, axis=1))
    step[:, :, 3:] *= radius_mm
    first = np.full((params.shape[0], 1), np.nan)
    fd: npt.NDArray[np.float64] = np.concatenate([first, step.sum(axis=2)], axis=1)
    return fd


def motion_artifact(
    rng: np.random.Generator,
    params: npt.ArrayLike,
    fd: npt.ArrayLike,
    n_signals: int,
    strength: float,
) -> npt.NDArray[np.float64]:
    """Simulate how head motion contaminates region or voxel signals.

    The artifact of signal ``i`` is ``strength * (P b_i + a_i s)``:

    * ``P`` holds the realignment parameters in mm (rotations as 50 mm arcs),
      centred over time, and ``b_i ~ N(0, I/6)`` are per-signal loadings: the
      part linear in the parameters that regression of the six parameters
      removes (Friston et al. 1996, Magn Reson Med 35:346-355).
    * ``s`` is a motion-locked transient shared by every signal: each volume
      adds its FD (mm), halving every following volume, and ``s`` is centred
      over time. Loadings ``a_i ~ N(0.95, 0.312^2)`` are mostly positive, so
      high-FD volumes move all signals together and inflate their correlation,
      as in real data (Power et al. 2012, 2014).

    Over the loadings, the expected variance (time-averaged, about the time
    mean) of each signal's artifact is
    ``strength^2 * (sum_k var_t(P_k) / 6 + var_t(s))``, since ``E b_ik^2 = 1/6``,
    ``E a_i^2 = 1`` and the two parts are uncorrelated.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the loadings.
    params : array_like
        ``n_volumes x 6`` realignment parameters (fMRIPrep order and units).
    fd : array_like
        ``n_volumes`` framewise displacement values in mm; NaN (the first
        volume) counts as 0.
    n_signals : int
        Signals (columns) to contaminate.
    strength : float
        Signal units per mm of motion; 0 gives zeros.

    Returns
    -------
    numpy.ndarray
        ``n_volumes x n_signals``, to be added to the clean signals.
    """
    motion = _as_array("params", params, 2)
    displacement = _as_array("fd", fd, 1, allow_nan=True)
    if motion.shape[1] != 6:
        raise InputError(f"params must have 6 columns; got {motion.shape[1]}")
    if displacement.size != motion.shape[0]:
        raise InputError(
            f"fd has {displacement.size} values but params has {motion.shape[0]} volumes"
        )
    if int(n_signals) != n_signals or n_signals < 1:
        raise InputError(f"n_signals must be a positive integer; got {n_signals!r}")
    _check_positive("strength", strength, allow_zero=True)
    runs = motion_artifact_batch(rng, motion[None], displacement[None], int(n_signals), strength)
    artifact: npt.NDArray[np.float64] = runs[0]
    return artifact


def motion_artifact_batch(
    rng: np.random.Generator,
    params: npt.NDArray[np.float64],
    fd: npt.NDArray[np.float64],
    n_signals: int,
    strength: float | npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`motion_artifact` over runs (no input checks; internal use).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the loadings.
    params : numpy.ndarray
        ``runs x volumes x 6`` realignment parameters.
    fd : numpy.ndarray
        ``runs x volumes`` framewise displacement (NaN counts as 0).
    n_signals : int
        Signals per run.
    strength : float or numpy.ndarray
        Signal units per mm of motion, one value or one per run.

    Returns
    -------
    numpy.ndarray
        ``runs x volumes x n_signals``.
    """
    n_runs, n_volumes, _ = params.shape
    gain = np.broadcast_to(np.asarray(strength, dtype=np.float64), (n_runs,))
    if not gain.any():
        return np.zeros((n_runs, n_volumes, n_signals))
    mm = params * np.array([1.0, 1.0, 1.0, _RADIUS_MM, _RADIUS_MM, _RADIUS_MM])
    mm -= mm.mean(axis=1, keepdims=True)
    linear = mm @ rng.normal(0.0, np.sqrt(1 / 6), size=(n_runs, 6, n_signals))
    steps = np.nan_to_num(fd, nan=0.0)
    transient = np.zeros_like(steps)
    for lag in range(min(n_volumes, 30)):
        transient[:, lag:] += _TRANSIENT_HALVING**lag * steps[:, : n_volumes - lag]
    transient -= transient.mean(axis=1, keepdims=True)
    shared = rng.normal(0.95, np.sqrt(1 - 0.95**2), size=(n_runs, 1, n_signals))
    artifact: npt.NDArray[np.float64] = gain[:, None, None] * (
        linear + transient[:, :, None] * shared
    )
    return artifact
