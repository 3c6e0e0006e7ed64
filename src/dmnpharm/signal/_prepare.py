"""What every cleaning of a run shares: checked inputs, regressors, kept volumes, records.

:func:`prepare_run` checks a run's signals and repetition time, chooses the
strategy's regressors and the volumes censoring keeps, and designs the filter;
:func:`~dmnpharm.signal.clean_run` and
:func:`~dmnpharm.signal._twins.clean_gsr_twins` then clean from it. None of
these depends on the filter but the filter's design, so one preparation also
serves the cleaning without the filter (:mod:`dmnpharm.signal._variants`).
The provenance record of each cleaning is written here too, so all write the
same one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.signal._butterworth import butterworth_sections, filter_padding
from dmnpharm.signal._config import FILTER_ORDER, DenoiseConfig
from dmnpharm.signal._confounds import (
    censoring,
    check_cosines,
    compcor_record,
    select_confounds,
)

__all__ = ["PreparedRun", "prepare_run"]

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
    """Return the filter's second-order sections (None without a cut-off)."""
    if config.high_pass is None and config.low_pass is None:
        return None
    return butterworth_sections(
        FILTER_ORDER, config.high_pass, config.low_pass, 1.0 / repetition_time
    )


def _filter_share(config: DenoiseConfig, repetition_time: float) -> float:
    """Return the fraction of the spectrum an ideal filter with these cut-offs removes."""
    nyquist = 0.5 / repetition_time
    removed = (config.high_pass or 0.0) + (
        nyquist - config.low_pass if config.low_pass is not None else 0.0
    )
    return removed / nyquist


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
        padding = filter_padding(sos)
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


@dataclass(frozen=True, eq=False)
class PreparedRun:
    """What every cleaning of one run with one set of censoring settings shares.

    The checked signals and repetition time, the chosen regressors (one
    strategy's, or the union of a strategy and its GSR twin), the kept volumes
    and why the others were censored, and the filter.
    """

    data: Array = field(repr=False)
    repetition_time: float
    columns: list[str]
    regressors: Array = field(repr=False)
    kept: BoolArray = field(repr=False)
    counts: dict[str, int]
    sos: Array | None = field(repr=False)
    compcor: dict[str, Any] | None

    @property
    def breakdown(self) -> str:
        """The censored volumes by reason, in words."""
        counts = self.counts
        return (
            f"{counts['nonsteady']} non-steady-state, {counts['motion']} over the FD/DVARS "
            f"thresholds, {counts['short_segment']} in short segments"
        )

    def exclusion(self, n_columns: int, config: DenoiseConfig) -> str | None:
        """Why a cleaning with ``n_columns`` regressors must exclude the run, or None."""
        return _exclusion(self.kept, n_columns, config, self.sos, self.breakdown)

    def record(
        self, config: DenoiseConfig, columns: list[str], n_regressors: int, reason: str | None
    ) -> dict[str, Any]:
        """Return one cleaning's provenance record (``dof`` holds the degrees of freedom)."""
        kept = self.kept
        n_volumes, n_kept = kept.size, int(kept.sum())
        return {
            "strategy": config.name,
            "config": config.to_dict(),
            "description": config.describe(),
            "repetition_time": self.repetition_time,
            "confound_columns": columns,
            "compcor": self.compcor,
            "n_volumes": n_volumes,
            "n_kept": n_kept,
            "n_censored": n_volumes - n_kept,
            "censored_by": self.counts,
            "censored_volumes": np.flatnonzero(~kept).tolist(),
            **_filtering_record(config, self.sos),
            "dof": _dof_record(
                config, self.repetition_time, n_volumes, n_kept, n_regressors, self.sos
            ),
            "excluded": reason is not None,
            "reason": reason,
        }


def prepare_run(
    data: npt.ArrayLike,
    confounds: pd.DataFrame,
    repetition_time: float,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None,
) -> PreparedRun:
    """Check the inputs; choose the regressors of ``config`` and the kept volumes.

    Parameters
    ----------
    data : array_like
        Region signals, ``n_volumes x n_regions``.
    confounds : pandas.DataFrame
        The run's confounds table.
    repetition_time : float
        Seconds.
    config : DenoiseConfig
        The strategy whose regressors are chosen (with censoring and filter).
    confounds_meta : mapping or None
        The parsed confounds JSON.

    Returns
    -------
    PreparedRun
        What the cleanings of the run share.
    """
    values, repetition_time = _checked_inputs(data, confounds, repetition_time, config)
    selected = select_confounds(confounds, config, confounds_meta)
    check_cosines(confounds, config, repetition_time)
    masks = censoring(confounds, config)
    return PreparedRun(
        data=values,
        repetition_time=repetition_time,
        columns=[str(c) for c in selected.columns],
        regressors=_regressor_matrix(selected),
        kept=~(masks["nonsteady"] | masks["motion"] | masks["short"]),
        counts=_breakdown(masks),
        sos=_butterworth(config, repetition_time),
        compcor=compcor_record(config, confounds_meta),
    )
