"""A cleaning with its filter and without it, from one preparation of the run.

ALFF and fALFF need a run's cleaned signals without the band-pass filter,
next to the filtered ones the other measures use. The filter changes neither
the regressors a strategy chooses nor the volumes censoring keeps: the checks,
the choice of confound columns, the censoring and the compcor record are
therefore done once (:func:`~dmnpharm.signal._prepare.prepare_run`), and only
what depends on the filter twice. With the filter, censored volumes inside
the kept span are interpolated and the span is detrended and filtered before
the regression; without it, the kept volumes alone are detrended and regressed
(see :mod:`dmnpharm.signal._clean`), so these steps share no values. The
exclusion rules differ too (the filter's edge padding needs a long enough
span), and so do the records and degrees of freedom: each result is what
:func:`~dmnpharm.signal.clean_run` (or
:func:`~dmnpharm.signal._twins.clean_gsr_twins`) gives for that
configuration, to rounding (tests/signal/test_filter_variants.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.signal._clean import CleanResult, clean_prepared
from dmnpharm.signal._config import DenoiseConfig
from dmnpharm.signal._prepare import PreparedRun, prepare_run
from dmnpharm.signal._twins import clean_prepared_twins, twin_configs

__all__ = ["clean_gsr_twin_variants", "clean_run_variants", "unfiltered"]


def unfiltered(config: DenoiseConfig) -> DenoiseConfig:
    """Return the cleaning without its filter.

    Parameters
    ----------
    config : DenoiseConfig
        A cleaning.

    Returns
    -------
    DenoiseConfig
        ``config`` with ``high_pass`` and ``low_pass`` None; ``config``
        itself when it does not filter.
    """
    if not config.filters:
        return config
    return replace(config, high_pass=None, low_pass=None)


def _without_filter(prepared: PreparedRun) -> PreparedRun:
    """Return the same preparation for the cleaning without the filter."""
    return replace(prepared, sos=None)


@fill_doc
def clean_run_variants(
    data: npt.ArrayLike,
    confounds: pd.DataFrame,
    repetition_time: float,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None = None,
) -> tuple[CleanResult, CleanResult]:
    """Clean a run with a strategy, and with the same strategy without its filter.

    The run is prepared once (checks, confound columns, censoring); the
    detrending, filter and regression are done for each variant. Each result,
    its record and exclusion included, equals :func:`clean_run` with that
    configuration, to rounding.

    Parameters
    ----------
    %(region_signals)s
    confounds : pandas.DataFrame
        The run's fMRIPrep confounds table, one row per volume.
    %(repetition_time)s
        From the BIDS sidecar.
    config : DenoiseConfig
        The strategy, censoring and filter settings.
    %(confounds_meta)s

    Returns
    -------
    tuple of CleanResult
        The cleaning with ``config``, then with :func:`unfiltered` of it. When
        ``config`` does not filter, both are the same object.

    Raises
    ------
    InputError
        As :func:`clean_run` does with ``config``.
    """
    prepared = prepare_run(data, confounds, repetition_time, config, confounds_meta)
    filtered = clean_prepared(prepared, config)
    if not config.filters:
        return filtered, filtered
    return filtered, clean_prepared(_without_filter(prepared), unfiltered(config))


@fill_doc
def clean_gsr_twin_variants(
    data: npt.ArrayLike,
    confounds: pd.DataFrame,
    repetition_time: float,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None = None,
) -> tuple[tuple[CleanResult, CleanResult], tuple[CleanResult, CleanResult]]:
    """Clean a run with a strategy and its GSR twin, each with and without the filter.

    The run is prepared once for both twins and both variants (checks, the
    union of the twins' confound columns, censoring); the detrending and
    filter are done once per variant for the signals and every regressor, and
    the regressions as :func:`clean_gsr_twins` does them. Each result, its
    record and exclusion included, equals :func:`clean_run` with that
    configuration, to rounding.

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
    tuple
        The twins with the filter (``config``, then its twin, as
        :func:`clean_gsr_twins` returns them), then the twins without it
        (:func:`unfiltered` of each, in the same order). When ``config`` does
        not filter, both pairs are the same objects.

    Raises
    ------
    InputError
        For ``36p`` (it has no twin), or as :func:`clean_run` does for either
        strategy.
    """
    with_gsr, _ = twin_configs(config)
    prepared = prepare_run(data, confounds, repetition_time, with_gsr, confounds_meta)
    filtered = clean_prepared_twins(prepared, config)
    if not config.filters:
        return filtered, filtered
    return filtered, clean_prepared_twins(_without_filter(prepared), unfiltered(config))
