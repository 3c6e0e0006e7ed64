"""What a denoising configuration needs of a run, checked before any signal is read.

:func:`confounds_problems` runs the cleaning's own column selection and
censoring on a run's confounds table, so validation refuses exactly what
:func:`dmnpharm.signal.clean_run` would; :func:`length_problems` says whether a
run is long enough for the configuration at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from dmnpharm.exceptions import InputError
from dmnpharm.signal._config import DenoiseConfig
from dmnpharm.signal._confounds import check_cosines, numeric_columns, select_confounds

__all__ = ["confounds_problems", "length_problems", "needs_confounds", "nyquist_problems"]


def needs_confounds(config: DenoiseConfig) -> bool:
    """Tell whether a configuration reads a confounds table at all.

    Parameters
    ----------
    config : DenoiseConfig
        The strategy and censoring.

    Returns
    -------
    bool
        False only for ``none`` without GSR and without censoring.
    """
    censors = config.fd_threshold is not None or config.std_dvars_threshold is not None
    return config.strategy != "none" or config.gsr or censors


def _empty_required(table: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return required columns with missing or non-finite values after the first row.

    The first row may be ``n/a`` (fMRIPrep's derivatives, FD and DVARS have no
    previous volume); the cleaning fills it from the second row.
    """
    fast = numeric_columns(table, columns)
    if fast is not None:
        flags = np.any(~np.isfinite(fast[:, 1:]), axis=1).tolist()
        return [column for column, flag in zip(columns, flags, strict=True) if flag]
    values = table.loc[:, columns].iloc[1:]
    dtypes = values.dtypes  # one lookup for all columns, not a Series per column
    text = [c for c, dtype in zip(columns, dtypes, strict=True) if not is_numeric_dtype(dtype)]
    if text:  # only text columns need converting (numbers stay as they are)
        values = values.assign(**{c: pd.to_numeric(values[c], errors="coerce") for c in text})
    bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
    return [column for column, flag in zip(columns, bad.any(axis=0), strict=True) if flag]


def confounds_problems(
    table: pd.DataFrame,
    config: DenoiseConfig,
    meta: Mapping[str, Any] | None,
    n_volumes: int,
    repetition_time: float,
) -> list[str]:
    """Return what stops a configuration from cleaning a run with this confounds table.

    Parameters
    ----------
    table : pandas.DataFrame
        The run's confounds (fMRIPrep names), one row per volume.
    config : DenoiseConfig
        The strategy and censoring.
    meta : mapping or None
        The confounds JSON (aCompCor component metadata), when present.
    n_volumes : int
        Volumes of the run's data.
    repetition_time : float
        Seconds.

    Returns
    -------
    list of str
        Messages without the file name (the caller adds it): row count,
        missing or empty columns the strategy or censoring needs, and aCompCor
        components that cannot be chosen. A run that censoring leaves too
        short is not a problem here: it is excluded while computing, and
        listed with its reason.
    """
    problems = []
    if len(table) != n_volumes:
        problems.append(
            f"has {len(table)} rows but the run has {n_volumes} volumes; they must match one "
            "row per volume"
        )
        return problems
    try:
        selected = select_confounds(table, config, meta)
        check_cosines(table, config, repetition_time)
    except InputError as exc:
        problems.append(f"{exc}; choose a strategy these confounds support (--strategy)")
        selected = None
    censor_columns = [
        column
        for column, threshold in (
            ("framewise_displacement", config.fd_threshold),
            ("std_dvars", config.std_dvars_threshold),
        )
        if threshold is not None
    ]
    absent = [c for c in censor_columns if c not in table.columns]
    if absent:
        problems.append(
            f"has no {', '.join(absent)} column, which censoring needs; turn that censoring "
            "off (e.g. --fd-threshold off) or provide the column"
        )
    needed = [str(c) for c in (selected.columns if selected is not None else [])]
    needed += [c for c in censor_columns if c in table.columns]
    empty = _empty_required(table, needed)
    if empty:
        problems.append(
            f"required columns have missing or non-finite values after the first row: "
            f"{', '.join(empty)}"
        )
    return problems


def nyquist_problems(config: DenoiseConfig, repetition_time: float) -> list[str]:
    """Return filter cut-offs that a repetition time cannot carry.

    Parameters
    ----------
    config : DenoiseConfig
        Its ``high_pass`` and ``low_pass``.
    repetition_time : float
        Seconds.

    Returns
    -------
    list of str
        One message per cut-off at or above the Nyquist frequency.

    Examples
    --------
    >>> nyquist_problems(DenoiseConfig("none", low_pass=0.5), 2.0)[0][:40]
    'low-pass cut-off 0.5 Hz is at or above t'
    """
    nyquist = 0.5 / repetition_time
    problems = []
    for name, value in (("high-pass", config.high_pass), ("low-pass", config.low_pass)):
        if value is not None and value >= nyquist:
            problems.append(
                f"{name} cut-off {value:g} Hz is at or above the Nyquist frequency "
                f"{nyquist:g} Hz of a {repetition_time:g} s repetition time; lower it "
                f"(--{name}) or turn it off"
            )
    return problems


def length_problems(config: DenoiseConfig, n_volumes: int, repetition_time: float) -> list[str]:
    """Return why a run is too short for a configuration's filter and exclusion rule.

    Parameters
    ----------
    config : DenoiseConfig
        Its high-pass cut-off and ``min_remaining``.
    n_volumes : int
        Volumes of the run.
    repetition_time : float
        Seconds.

    Returns
    -------
    list of str
        A high-pass filter needs the run to last at least one period of its
        cut-off (``1 / high_pass`` seconds; shorter runs cannot hold the
        frequencies it keeps); ``min_remaining`` cannot exceed the run.

    Examples
    --------
    >>> length_problems(DenoiseConfig("none", high_pass=0.01), 40, 2.0)[0][:33]
    'lasts 80 s, shorter than one peri'
    """
    problems = []
    duration = n_volumes * repetition_time
    if config.high_pass is not None and duration < 1.0 / config.high_pass - 1e-9:
        problems.append(
            f"lasts {duration:g} s, shorter than one period of the {config.high_pass:g} Hz "
            f"high-pass cut-off ({1.0 / config.high_pass:g} s); raise --high-pass to at least "
            f"{math.ceil(1000.0 / duration) / 1000:g} Hz or turn it off"
        )
    required = config.min_volumes(n_volumes)
    if isinstance(config.min_remaining, int) and required > n_volumes:
        problems.append(
            f"has {n_volumes} volumes, fewer than --min-remaining {required}; the run would "
            "always be excluded"
        )
    return problems
