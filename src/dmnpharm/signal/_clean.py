"""Clean one run's region signals: censoring, detrending, filtering, regression.

How censored volumes are handled (Power et al. 2014, NeuroImage 84:320-341;
Lindquist et al. 2019, Hum Brain Mapp 40:2358-2376), the same as
:func:`nilearn.signal.clean` given a ``sample_mask``:

* Without a filter, censored volumes are removed first. Detrending and the
  nuisance regression are then fitted on the kept volumes only, which is the
  same as adding one spike regressor per censored volume.
* With a filter, volumes before the first and after the last kept volume are
  dropped; censored volumes in between are replaced by a cubic-spline
  interpolation of the kept ones (in signals and regressors alike) so that
  the filter does not smear artifacts into kept volumes; the span is
  detrended and filtered, the censored volumes are removed, and the nuisance
  regression is fitted on the kept volumes only. Regressors get the same
  detrending and filter as the signals, so the regression cannot put back
  frequencies the filter removed.

Two differences from nilearn 0.14 when volumes are censored between kept ones:

* Without a filter, nilearn detrends the censored series as if its kept
  volumes were evenly spaced; here the linear trend is evaluated at each kept
  volume's acquisition time (as spike regressors would have it).
* With a filter, nilearn's ``_interpolate_volumes`` indexes the signals with
  ``~sample_mask`` where ``sample_mask`` is an integer index array, so it
  interpolates a censored volume ``j`` only when volume ``n - 1 - j`` is
  kept, and filters the others' original values. Here every censored volume
  is interpolated, so the values of censored volumes cannot reach the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import signal as sp_signal
from scipy.interpolate import CubicSpline

from dmnpharm._utils import fill_doc, get_logger
from dmnpharm.exceptions import InputError
from dmnpharm.signal._config import FILTER_ORDER, DenoiseConfig
from dmnpharm.signal._confounds import (
    censoring,
    check_cosines,
    compcor_record,
    select_confounds,
)

__all__ = ["CleanResult", "clean_run"]

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_LOG = get_logger("signal")
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class CleanResult:
    """The cleaned signals of one run and what was done to them.

    Parameters
    ----------
    data : numpy.ndarray
        Cleaned signals of the kept volumes, ``n_kept x n_regions``; no rows
        (``0 x n_regions``) when the run is excluded, so an excluded run cannot
        be used by mistake.
    kept : numpy.ndarray
        Boolean, one value per input volume: True where the volume is kept.
    n_censored : int
        Volumes removed for any reason (non-steady-state, FD/DVARS, short
        segments); the record splits them by reason.
    n_regressors : int
        Nuisance regressors fitted: the rank of the regressor matrix over the
        kept volumes (for an excluded run, the number of columns chosen).
    dof_lost : float
        Degrees of freedom used up, out of the run's volumes: removed volumes
        + nuisance regressors + 2 for detrending (mean and slope) + the
        filter's share (see ``record["dof"]``).
    excluded : bool
        True when the run must not be analysed.
    reason : str or None
        Why the run was excluded; None when it was not.
    record : dict
        JSON-ready provenance: configuration, description, columns used,
        thresholds, counts, censored volumes and the degrees of freedom.
    """

    data: Array = field(repr=False)
    kept: BoolArray = field(repr=False)
    n_censored: int
    n_regressors: int
    dof_lost: float
    excluded: bool
    reason: str | None
    record: dict[str, Any] = field(repr=False)

    @property
    def n_volumes(self) -> int:
        """Volumes in the input run."""
        return int(self.kept.size)

    @property
    def n_kept(self) -> int:
        """Volumes kept after censoring."""
        return int(self.kept.sum())

    @property
    def dof_remaining(self) -> float:
        """Volumes of the run less ``dof_lost``."""
        return self.n_volumes - self.dof_lost


def _as_data(data: npt.ArrayLike) -> Array:
    try:
        values = np.array(data, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"data must be a numeric volumes x regions array: {error}") from error
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 1:
        raise InputError(f"data must be a 2D volumes x regions array; got shape {values.shape}")
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        raise InputError(f"data has non-finite values in volumes {bad[:10].tolist()}")
    return values


def _check_repetition_time(repetition_time: float, config: DenoiseConfig) -> float:
    if (
        isinstance(repetition_time, bool)
        or not isinstance(repetition_time, int | float)
        or not repetition_time > 0
    ):
        raise InputError(
            f"repetition_time must be a positive number of seconds; got {repetition_time!r}"
        )
    repetition_time = float(repetition_time)
    if not math.isfinite(repetition_time):
        raise InputError(f"repetition_time must be finite; got {repetition_time!r}")
    nyquist = 0.5 / repetition_time
    for name in ("high_pass", "low_pass"):
        value = getattr(config, name)
        if value is not None and value >= nyquist:
            raise InputError(
                f"{name}={value} Hz is not below the Nyquist frequency {nyquist:g} Hz of "
                f"TR={repetition_time:g} s"
            )
    return repetition_time


def _regressor_matrix(selected: pd.DataFrame) -> Array:
    """Return the regressors with the first row's n/a filled from the second row.

    fMRIPrep leaves the first value of each derivative undefined; like nilearn's
    ``load_confounds``, it takes the value of the second volume.
    """
    values = selected.to_numpy(dtype=np.float64, copy=True)
    if values.shape[1] == 0:
        return values
    if values.shape[0] > 1:
        first = np.isnan(values[0])
        values[0, first] = values[1, first]
    bad = ~np.isfinite(values)
    if bad.any():
        columns = [str(c) for c in selected.columns[bad.any(axis=0)]]
        rows = np.flatnonzero(bad.any(axis=1))[:10].tolist()
        raise InputError(
            f"confounds columns {columns} have missing or non-finite values in rows {rows} "
            "(only the first row may be n/a)"
        )
    return values


def _butterworth(config: DenoiseConfig, repetition_time: float) -> Array | None:
    rate = 1.0 / repetition_time
    if config.high_pass is not None and config.low_pass is not None:
        band = [config.high_pass, config.low_pass]
        sos = sp_signal.butter(FILTER_ORDER, band, btype="bandpass", output="sos", fs=rate)
    elif config.high_pass is not None:
        sos = sp_signal.butter(
            FILTER_ORDER, config.high_pass, btype="highpass", output="sos", fs=rate
        )
    elif config.low_pass is not None:
        sos = sp_signal.butter(
            FILTER_ORDER, config.low_pass, btype="lowpass", output="sos", fs=rate
        )
    else:
        return None
    return np.asarray(sos, dtype=np.float64)


def _filter_padding(sos: Array) -> int:
    """Return the edge padding of ``sosfiltfilt`` (it needs a longer series)."""
    taps = 2 * int(sos.shape[0]) + 1
    taps -= min(int(np.sum(sos[:, 2] == 0)), int(np.sum(sos[:, 5] == 0)))
    return 3 * taps


def _filter_share(config: DenoiseConfig, repetition_time: float) -> float:
    """Return the fraction of the spectrum an ideal filter with these cut-offs removes."""
    nyquist = 0.5 / repetition_time
    removed = (config.high_pass or 0.0) + (
        nyquist - config.low_pass if config.low_pass is not None else 0.0
    )
    return removed / nyquist


def _detrend(values: Array, times: Array) -> Array:
    """Remove the least-squares mean and linear trend over ``times`` from each column."""
    centred: Array = values - values.mean(axis=0)
    if values.shape[0] < 2:
        return centred
    slope = times - times.mean()
    norm = float(slope @ slope)
    if norm <= 0:
        return centred
    trend: Array = np.outer(slope, slope @ centred / norm)
    detrended: Array = centred - trend
    return detrended


def _project_out(signals: Array, regressors: Array) -> tuple[Array, int]:
    """Remove the span of the standardised regressors from the signals."""
    if regressors.shape[1] == 0:
        return signals, 0
    centred = regressors - regressors.mean(axis=0)
    scale = centred.std(axis=0, ddof=1)
    scale[scale < _EPS] = 1.0
    left, singular, _ = np.linalg.svd(centred / scale, full_matrices=False)
    if singular.size == 0 or singular[0] <= 0:
        return signals, 0
    rank = int(np.sum(singular > singular[0] * max(centred.shape) * _EPS))
    basis = left[:, :rank]
    cleaned: Array = signals - basis @ (basis.T @ signals)
    return cleaned, rank


def _interpolate(values: Array, kept: BoolArray, repetition_time: float) -> Array:
    """Replace unkept rows by a cubic spline through the kept rows (over time)."""
    if kept.all() or values.shape[1] == 0:
        return values
    times = np.arange(kept.size) * repetition_time
    spline = CubicSpline(times[kept], values[kept], axis=0)
    filled = values.copy()
    filled[~kept] = spline(times[~kept])
    return filled


def _clean_values(
    data: Array, regressors: Array, kept: BoolArray, repetition_time: float, config: DenoiseConfig
) -> tuple[Array, int]:
    sos = _butterworth(config, repetition_time)
    if sos is None:
        signals, nuisance = data[kept], regressors[kept]
        if config.detrend:
            times = np.flatnonzero(kept).astype(np.float64) * repetition_time
            signals, nuisance = _detrend(signals, times), _detrend(nuisance, times)
        return _project_out(signals, nuisance)
    index = np.flatnonzero(kept)
    span = slice(int(index[0]), int(index[-1]) + 1)
    inside = kept[span]
    signals = _interpolate(data[span], inside, repetition_time)
    nuisance = _interpolate(regressors[span], inside, repetition_time)
    if config.detrend:
        times = np.arange(inside.size, dtype=np.float64) * repetition_time
        signals, nuisance = _detrend(signals, times), _detrend(nuisance, times)
    signals = sp_signal.sosfiltfilt(sos, signals, axis=0)
    if nuisance.shape[1]:
        nuisance = sp_signal.sosfiltfilt(sos, nuisance, axis=0)
    return _project_out(signals[inside], nuisance[inside])


def _exclusion(
    kept: BoolArray,
    n_columns: int,
    config: DenoiseConfig,
    sos: Array | None,
    breakdown: str,
) -> str | None:
    n_volumes, n_kept = kept.size, int(kept.sum())
    if n_kept == 0:
        return f"all {n_volumes} volumes were removed ({breakdown})"
    required = config.min_volumes(n_volumes)
    if n_kept < required:
        return (
            f"only {n_kept} of {n_volumes} volumes ({n_kept / n_volumes:.1%}) remain after "
            f"censoring ({breakdown}); min_remaining={config.min_remaining!r} requires "
            f"{required}"
        )
    needed = n_columns + (2 if config.detrend else 0) + 2
    if n_kept < needed:
        return (
            f"only {n_kept} volumes remain ({breakdown}), too few for {n_columns} nuisance "
            f"regressors{' and the linear trend' if config.detrend else ''} (at least {needed} "
            "needed)"
        )
    if sos is not None:
        index = np.flatnonzero(kept)
        span = int(index[-1] - index[0] + 1)
        padding = _filter_padding(sos)
        if span <= padding:
            return f"the kept volumes span {span} volumes; the filter needs more than {padding}"
    return None


def _breakdown(masks: Mapping[str, BoolArray]) -> dict[str, int]:
    return {
        "nonsteady": int(masks["nonsteady"].sum()),
        "motion": int(masks["motion"].sum()),
        "fd_exceeded": int(masks["fd"].sum()),
        "std_dvars_exceeded": int(masks["dvars"].sum()),
        "short_segment": int(masks["short"].sum()),
    }


def _checked_inputs(
    data: npt.ArrayLike, confounds: pd.DataFrame, repetition_time: float, config: DenoiseConfig
) -> tuple[Array, float]:
    """Return the data as a float array and the checked TR; refuse unusable inputs."""
    if not isinstance(config, DenoiseConfig):
        raise InputError(f"config must be a DenoiseConfig; got {type(config).__name__}")
    values = _as_data(data)
    repetition_time = _check_repetition_time(repetition_time, config)
    if not isinstance(confounds, pd.DataFrame):
        raise InputError(f"confounds must be a pandas DataFrame; got {type(confounds).__name__}")
    n_volumes = values.shape[0]
    if len(confounds) != n_volumes:
        raise InputError(
            f"data has {n_volumes} volumes but the confounds table has {len(confounds)} rows"
        )
    return values, repetition_time


def _filtering_record(config: DenoiseConfig, sos: Array | None) -> dict[str, Any]:
    """Return the record's ``scrubbing`` and ``filter`` entries."""
    return {
        "scrubbing": (
            "censored volumes left out of the regression; interpolated (cubic spline) "
            "for the filter only"
            if sos is not None
            else "censored volumes removed before detrending and regression"
        ),
        "filter": None
        if sos is None
        else {
            "type": "butterworth",
            "order": FILTER_ORDER,
            "zero_phase": True,
            "high_pass": config.high_pass,
            "low_pass": config.low_pass,
        },
    }


def _dof_record(
    config: DenoiseConfig,
    repetition_time: float,
    n_volumes: int,
    n_kept: int,
    n_regressors: int,
    sos: Array | None,
) -> dict[str, Any]:
    """Return the degrees of freedom lost, by cause, and those remaining."""
    n_censored = n_volumes - n_kept
    trend = 2 if config.detrend else 0
    filter_dof = _filter_share(config, repetition_time) * n_kept if sos is not None else 0.0
    dof_lost = n_censored + n_regressors + trend + filter_dof
    return {
        "censored": n_censored,
        "regressors": n_regressors,
        "trend": trend,
        "filter": filter_dof,
        "filter_model": "ideal filter: the removed share of the spectrum times kept volumes",
        "total": dof_lost,
        "remaining": n_volumes - dof_lost,
    }


@fill_doc
def clean_run(
    data: npt.ArrayLike,
    confounds: pd.DataFrame,
    repetition_time: float,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None = None,
) -> CleanResult:
    """Denoise one run's region signals with a named strategy.

    Steps: choose the strategy's regressors (:func:`select_confounds`) and
    the kept volumes (:func:`kept_volumes`); decide whether the run is
    excluded; then detrend, filter and regress as described in this module's
    documentation: censored volumes never enter the regression, and are
    interpolated only to filter across them. The regressors are standardised
    and projected out jointly (least squares; rank-deficient sets lose their
    redundant directions). Signals are not standardised: scale them
    downstream if needed.

    Without mid-run censoring the result equals :func:`nilearn.signal.clean`
    with ``standardize=None``, ``standardize_confounds=True``,
    ``filter="butterworth"``, ``extrapolate=False``, the same ``detrend``,
    cut-offs and ``t_r``, and the regressors and ``sample_mask`` that
    :func:`nilearn.interfaces.fmriprep.load_confounds` selects for the same
    strategy. With volumes censored between kept ones, the trend (without a
    filter) and nilearn 0.14's interpolation (with one) differ, see this
    module's notes. Also unlike ``load_confounds``, ``min_segment`` counts
    segments after non-steady-state volumes are dropped and applies even
    when no volume exceeds a motion threshold.

    Parameters
    ----------
    data : array_like
        Region signals, ``n_volumes x n_regions``, all finite.
    confounds : pandas.DataFrame
        The run's fMRIPrep confounds table, one row per volume.
    %(repetition_time)s
        From the BIDS sidecar; there is no default.
    config : DenoiseConfig
        The strategy, censoring and filter settings.
    confounds_meta : mapping or None
        The parsed confounds JSON, when available (needed by acompcor with
        ``n_compcor=None``).

    Returns
    -------
    CleanResult
        Cleaned kept volumes, the kept mask, counts, degrees of freedom, and
        whether (and why) the run is excluded. Too few volumes left is an
        exclusion, not an error.

    Raises
    ------
    InputError
        When the data are unusable (not 2D, non-finite, a length unlike the
        confounds'), ``repetition_time`` is invalid or a cut-off is not below Nyquist, or
        columns the strategy needs are missing (all of them are named).
    """
    values, repetition_time = _checked_inputs(data, confounds, repetition_time, config)
    n_volumes = values.shape[0]
    selected = select_confounds(confounds, config, confounds_meta)
    check_cosines(confounds, config, repetition_time)
    regressors = _regressor_matrix(selected)
    masks = censoring(confounds, config)
    kept: BoolArray = ~(masks["nonsteady"] | masks["motion"] | masks["short"])
    counts = _breakdown(masks)
    breakdown = (
        f"{counts['nonsteady']} non-steady-state, {counts['motion']} over the FD/DVARS "
        f"thresholds, {counts['short_segment']} in short segments"
    )
    sos = _butterworth(config, repetition_time)
    reason = _exclusion(kept, regressors.shape[1], config, sos, breakdown)
    if reason is None:
        cleaned, n_regressors = _clean_values(values, regressors, kept, repetition_time, config)
    else:
        cleaned, n_regressors = np.empty((0, values.shape[1])), regressors.shape[1]
        _LOG.info("run excluded: %s", reason)
    n_kept = int(kept.sum())
    n_censored = n_volumes - n_kept
    dof = _dof_record(config, repetition_time, n_volumes, n_kept, n_regressors, sos)
    record: dict[str, Any] = {
        "strategy": config.name,
        "config": config.to_dict(),
        "description": config.describe(),
        "repetition_time": repetition_time,
        "confound_columns": [str(c) for c in selected.columns],
        "compcor": compcor_record(config, confounds_meta),
        "n_volumes": n_volumes,
        "n_kept": n_kept,
        "n_censored": n_censored,
        "censored_by": counts,
        "censored_volumes": np.flatnonzero(~kept).tolist(),
        **_filtering_record(config, sos),
        "dof": dof,
        "excluded": reason is not None,
        "reason": reason,
    }
    return CleanResult(
        data=cleaned,
        kept=kept,
        n_censored=n_censored,
        n_regressors=n_regressors,
        dof_lost=dof["total"],
        excluded=reason is not None,
        reason=reason,
        record=record,
    )
