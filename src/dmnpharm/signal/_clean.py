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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.linalg import solve_banded

from dmnpharm._utils import fill_doc, get_logger
from dmnpharm.signal._butterworth import zero_phase_filter
from dmnpharm.signal._config import DenoiseConfig
from dmnpharm.signal._prepare import PreparedRun, prepare_run

__all__ = [
    "CleanResult",
    "clean_prepared",
    "clean_run",
    "preprocessed",
    "project_out",
    "result_of",
]

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


def project_out(signals: Array, regressors: Array) -> tuple[Array, int]:
    """Remove the span of the standardised regressors from the signals.

    Parameters
    ----------
    signals : numpy.ndarray
        Volumes x regions.
    regressors : numpy.ndarray
        Volumes x regressors; each is centred and scaled to unit variance,
        and the set is reduced to its numerical rank.

    Returns
    -------
    tuple
        The residual signals and the rank of the regressors.
    """
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


def _spline_second_derivatives(times: Array, values: Array) -> Array:
    """Return the not-a-knot cubic spline's second derivatives at the knots (4 or more).

    Inside, continuity of the first derivative gives ``h[i-1] m[i-1] + 2 (h[i-1] +
    h[i]) m[i] + h[i] m[i+1] = 6 (s[i] - s[i-1])`` (``h`` the knot spacings, ``s`` the
    slopes); not-a-knot makes the third derivative continuous at the second and the
    second-last knots: ``h[1] m[0] - (h[0] + h[1]) m[1] + h[0] m[2] = 0`` and its
    mirror. A banded system (two diagonals each side), solved for all columns at once.
    """
    n = times.size
    h = np.diff(times)
    slopes = np.diff(values, axis=0) / h[:, None]
    rhs = np.zeros_like(values)
    rhs[1:-1] = 6.0 * np.diff(slopes, axis=0)
    # banded storage: row 2 + i - j holds matrix[i, j]
    bands = np.zeros((5, n))
    inside = np.arange(1, n - 1)
    bands[2, inside] = 2.0 * (h[:-1] + h[1:])
    bands[3, inside - 1] = h[:-1]  # matrix[i, i - 1]
    bands[1, inside + 1] = h[1:]  # matrix[i, i + 1]
    bands[2, 0], bands[1, 1], bands[0, 2] = h[1], -(h[0] + h[1]), h[0]
    bands[4, n - 3], bands[3, n - 2], bands[2, n - 1] = h[-1], -(h[-2] + h[-1]), h[-2]
    second: Array = solve_banded((2, 2), bands, rhs)
    return second


def _interpolate(values: Array, kept: BoolArray, repetition_time: float) -> Array:
    """Replace unkept rows by a cubic spline through the kept rows (over time).

    The spline is ``scipy.interpolate.CubicSpline``'s (not-a-knot), solved here:
    importing ``scipy.interpolate`` (it imports ``scipy.optimize``) cost each
    worker process 0.2 s. Equal to it within 1e-12 of the signal's scale
    (``tests/signal/test_censored_spline.py``).
    """
    if kept.all() or values.shape[1] == 0:
        return values
    times = np.arange(kept.size, dtype=np.float64) * repetition_time
    known_times, known = times[kept], values[kept]
    if known_times.size < 4:  # a line or a parabola: rare enough for SciPy's own
        from scipy.interpolate import CubicSpline

        filled = values.copy()
        filled[~kept] = CubicSpline(known_times, known, axis=0)(times[~kept])
        return filled
    second = _spline_second_derivatives(known_times, known)
    wanted = times[~kept]
    i = np.clip(np.searchsorted(known_times, wanted) - 1, 0, known_times.size - 2)
    h = (known_times[i + 1] - known_times[i])[:, None]
    left = (wanted - known_times[i])[:, None]
    right = h - left
    filled = values.copy()
    filled[~kept] = (
        (second[i] * right**3 + second[i + 1] * left**3) / (6.0 * h)
        + (known[i] / h - second[i] * h / 6.0) * right
        + (known[i + 1] / h - second[i + 1] * h / 6.0) * left
    )
    return filled


def _split(both: Array, n_regions: int) -> tuple[Array, Array]:
    """Return the first ``n_regions`` columns and the others, each contiguous."""
    return np.ascontiguousarray(both[:, :n_regions]), np.ascontiguousarray(both[:, n_regions:])


def preprocessed(
    prepared: PreparedRun, regressors: Array, config: DenoiseConfig
) -> tuple[Array, Array]:
    """Return the kept volumes of the signals and regressors, detrended and filtered.

    With a filter, signals and regressors go through each step together, as
    the columns of one array (one spline, one detrending, one filter call):
    every column is treated on its own, so this equals preprocessing each alone.

    Parameters
    ----------
    prepared : PreparedRun
        The run's signals, kept volumes, TR and filter.
    regressors : numpy.ndarray
        Volumes x regressors (each column is treated on its own, so any
        subset of these columns gives the same values as preprocessing it alone).
    config : DenoiseConfig
        Its ``detrend``.

    Returns
    -------
    tuple of numpy.ndarray
        Signals and regressors of the kept volumes, ready to be regressed.
    """
    data, kept, repetition_time, sos = (
        prepared.data,
        prepared.kept,
        prepared.repetition_time,
        prepared.sos,
    )
    if sos is None:
        signals, nuisance = data[kept], regressors[kept]
        if config.detrend:
            times = np.flatnonzero(kept).astype(np.float64) * repetition_time
            signals, nuisance = _detrend(signals, times), _detrend(nuisance, times)
        return signals, nuisance
    index = np.flatnonzero(kept)
    span = slice(int(index[0]), int(index[-1]) + 1)
    inside = kept[span]
    both = np.concatenate([data[span], regressors[span]], axis=1)
    both = _interpolate(both, inside, repetition_time)
    if config.detrend:
        times = np.arange(inside.size, dtype=np.float64) * repetition_time
        both = _detrend(both, times)
    both = zero_phase_filter(sos, both)[inside]
    return _split(both, data.shape[1])


def clean_prepared(prepared: PreparedRun, config: DenoiseConfig) -> CleanResult:
    """Clean a prepared run with its own regressors (:func:`clean_run` after the preparation).

    Parameters
    ----------
    prepared : PreparedRun
        The run, prepared for ``config`` (its regressors, kept volumes and filter).
    config : DenoiseConfig
        The cleaning (its ``detrend``, exclusion rules and record).

    Returns
    -------
    CleanResult
        As :func:`clean_run` returns it.
    """
    reason = prepared.exclusion(prepared.regressors.shape[1], config)
    if reason is not None:
        return result_of(prepared, config, prepared.columns, None, len(prepared.columns), reason)
    signals, nuisance = preprocessed(prepared, prepared.regressors, config)
    cleaned, n_regressors = project_out(signals, nuisance)
    return result_of(prepared, config, prepared.columns, cleaned, n_regressors, None)


def result_of(
    prepared: PreparedRun,
    config: DenoiseConfig,
    columns: list[str],
    cleaned: Array | None,
    n_regressors: int,
    reason: str | None,
) -> CleanResult:
    """Return one cleaning of a prepared run, with its provenance record.

    Parameters
    ----------
    prepared : PreparedRun
        The run.
    config : DenoiseConfig
        The cleaning.
    columns : list of str
        Its regressors, in order.
    cleaned : numpy.ndarray or None
        Cleaned kept volumes; None when the run is excluded.
    n_regressors : int
        Regressors fitted (the rank; the number of columns when excluded).
    reason : str or None
        Why the run is excluded, or None.

    Returns
    -------
    CleanResult
        As :func:`clean_run` returns it.
    """
    if cleaned is None:
        cleaned = np.empty((0, prepared.data.shape[1]))
        _LOG.info("run excluded: %s", reason)
    record = prepared.record(config, columns, n_regressors, reason)
    n_volumes = prepared.kept.size
    return CleanResult(
        data=cleaned,
        kept=prepared.kept,
        n_censored=n_volumes - record["n_kept"],
        n_regressors=n_regressors,
        dof_lost=record["dof"]["total"],
        excluded=reason is not None,
        reason=reason,
        record=record,
    )


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
    prepared = prepare_run(data, confounds, repetition_time, config, confounds_meta)
    return clean_prepared(prepared, config)
