"""A strategy and its GSR twin cleaned in one pass.

The GSR sensitivity analysis cleans every run twice: with the configured
strategy and with the same strategy with global signal regression toggled.
The two share everything but the global-signal regressors: the censoring, the
interpolation across censored volumes, the detrending and the filter of the
signals and of every regressor. Here that work is done once, on the union of
the two regressor sets, and the global signal's part is then removed from the
residuals of the strategy without it: with ``B`` an orthonormal basis of the
standardised regressors without GSR and ``Q`` one of what the GSR regressors
add to that span (their residuals on ``B``, orthonormalised), the residual of
the union is ``r - Q Q' r`` where ``r = s - B B' s`` is the residual without
GSR (a rank-one update for the single ``global_signal`` column; rank four for
24p's global signal with its derivative and powers). Both equal
:func:`~dmnpharm.signal.clean_run` of each strategy to rounding
(tests/signal/test_gsr_one_pass.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.signal._clean import CleanResult, preprocessed, result_of
from dmnpharm.signal._config import DenoiseConfig
from dmnpharm.signal._confounds import fixed_columns
from dmnpharm.signal._prepare import PreparedRun, prepare_run

__all__ = ["clean_gsr_twins", "clean_prepared_twins", "twin_configs"]

Array = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)


def _standardised(regressors: Array) -> Array:
    """Centre each regressor and scale it to unit variance (constant ones stay zero)."""
    centred: Array = regressors - regressors.mean(axis=0)
    if centred.shape[0] < 2:
        return centred
    scale = centred.std(axis=0, ddof=1)
    scale[scale < _EPS] = 1.0
    standardised: Array = centred / scale
    return standardised


def _basis(vectors: Array, top: float | None = None) -> Array:
    """Return an orthonormal basis of the columns' span, without numerically null directions.

    A direction is null below ``top`` (default: the columns' own largest
    singular value) times the larger dimension times the machine epsilon,
    the tolerance of :func:`~dmnpharm.signal.clean_run`.
    """
    if vectors.shape[1] == 0:
        return vectors
    left, singular, _ = np.linalg.svd(vectors, full_matrices=False)
    largest = float(singular[0]) if top is None else top
    if largest <= 0:
        return vectors[:, :0]
    tolerance = largest * max(vectors.shape) * _EPS
    basis: Array = left[:, : int(np.sum(singular > tolerance))]
    return basis


def _residual(values: Array, basis: Array) -> Array:
    """Remove the span of an orthonormal ``basis`` from the columns of ``values``."""
    if basis.shape[1] == 0:
        return values
    residual: Array = values - basis @ (basis.T @ values)
    return residual


def _regress_twins(
    signals: Array, nuisance: Array, extra: npt.NDArray[np.bool_]
) -> tuple[tuple[Array, int], tuple[Array, int]]:
    """Residuals and ranks without the ``extra`` columns, then with them (one pass)."""
    standardised = _standardised(nuisance)
    base = _basis(standardised[:, ~extra])
    without = _residual(signals, base)
    # What the global signal adds beyond the span of the others (orthogonalised twice,
    # so that the added directions stay orthogonal to the basis to rounding), with the
    # tolerance clean_run gives the whole set.
    top = float(np.linalg.norm(standardised, 2)) if standardised.size else 0.0
    added = _residual(_residual(standardised[:, extra], base), base)
    update = _basis(added, top)
    with_gsr = _residual(without, update)
    return (without, base.shape[1]), (with_gsr, base.shape[1] + update.shape[1])


@fill_doc
def clean_gsr_twins(
    data: npt.ArrayLike,
    confounds: pd.DataFrame,
    repetition_time: float,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None = None,
) -> tuple[CleanResult, CleanResult]:
    """Clean a run with a strategy and with its GSR twin, sharing all but the regression.

    The twin is ``config`` with ``gsr`` toggled (``acompcor`` and
    ``acompcor+gsr``, ``24p`` and ``24p+gsr``, ...). Censoring, the
    interpolation across censored volumes, detrending and the filter are done
    once for the signals and for the union of both strategies' regressors;
    the twin with GSR is then the residual of the twin without it, less the
    directions the global-signal regressors add (see this module's notes).
    Each result, its record included, equals :func:`clean_run` with that
    strategy, to rounding.

    Parameters
    ----------
    %(region_signals)s
    confounds : pandas.DataFrame
        The run's fMRIPrep confounds table; needs ``global_signal`` (and, for
        24p, its derivative and powers).
    %(repetition_time)s
        From the BIDS sidecar.
    config : DenoiseConfig
        The configured strategy, censoring and filter settings.
    %(confounds_meta)s

    Returns
    -------
    tuple of CleanResult
        The cleaning with ``config``, then with its twin. The twin with GSR
        has more regressors and may be excluded when the other is not.

    Raises
    ------
    InputError
        For ``36p`` (the global signal is part of it: it has no twin), or as
        :func:`clean_run` does for either strategy (missing columns, bad
        data or repetition time).
    """
    with_gsr, _ = twin_configs(config)
    prepared = prepare_run(data, confounds, repetition_time, with_gsr, confounds_meta)
    return clean_prepared_twins(prepared, config)


def twin_configs(config: DenoiseConfig) -> tuple[DenoiseConfig, DenoiseConfig]:
    """Return a strategy's twin with GSR, then the one without (``config`` is one of them).

    Parameters
    ----------
    config : DenoiseConfig
        The configured strategy.

    Returns
    -------
    tuple of DenoiseConfig
        The twin with global signal regression, then the twin without it.

    Raises
    ------
    InputError
        For ``36p``: the global signal is part of it, so it has no twin.
    """
    if config.strategy == "36p":
        raise InputError(
            "strategy '36p' includes the global signal; it has no twin without GSR "
            "(use 24p for the same regressors without the global signal)"
        )
    twin = replace(config, gsr=not config.gsr)
    return (config, twin) if config.gsr else (twin, config)


def clean_prepared_twins(
    prepared: PreparedRun, config: DenoiseConfig
) -> tuple[CleanResult, CleanResult]:
    """Clean a prepared run with a strategy and with its GSR twin (after the preparation).

    Parameters
    ----------
    prepared : PreparedRun
        The run, prepared for the twin with GSR (:func:`twin_configs`): its
        regressors are the union of both twins', and its filter is the one
        both cleanings get.
    config : DenoiseConfig
        The configured strategy (its filter settings must match ``prepared``'s).

    Returns
    -------
    tuple of CleanResult
        As :func:`clean_gsr_twins` returns them.
    """
    with_gsr, without_gsr = twin_configs(config)
    added = set(fixed_columns(with_gsr)) - set(fixed_columns(without_gsr))
    extra = np.array([column in added for column in prepared.columns], dtype=bool)
    base_columns = [c for c, is_extra in zip(prepared.columns, extra, strict=True) if not is_extra]
    reasons = (
        prepared.exclusion(len(base_columns), without_gsr),
        prepared.exclusion(len(prepared.columns), with_gsr),
    )
    fitted: tuple[tuple[Array | None, int], ...] = (
        (None, len(base_columns)),
        (None, len(prepared.columns)),
    )
    if reasons[0] is None:  # fewer regressors: excluded whenever the twin with GSR is
        signals, nuisance = preprocessed(prepared, prepared.regressors, with_gsr)
        without, with_ = _regress_twins(signals, nuisance, extra)
        fitted = (without, with_ if reasons[1] is None else fitted[1])
    results = (
        result_of(prepared, without_gsr, base_columns, *fitted[0], reasons[0]),
        result_of(prepared, with_gsr, list(prepared.columns), *fitted[1], reasons[1]),
    )
    return (results[1], results[0]) if config.gsr else results
