"""Choose regressors and censored volumes from an fMRIPrep confounds table."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.signal._config import COMPCOR_VARIANCE, DenoiseConfig

__all__ = ["fixed_columns", "kept_volumes", "numeric_columns", "select_confounds"]

BoolArray = npt.NDArray[np.bool_]

_MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
_FULL = ("", "_derivative1", "_power2", "_derivative1_power2")
_ACOMPCOR = re.compile(r"^a_comp_cor_(\d+)$")
_NONSTEADY_PREFIX = "non_steady_state_outlier"
_COSINE_CUTOFF_S = 128.0


def _expand(names: tuple[str, ...], suffixes: tuple[str, ...]) -> list[str]:
    """Return fMRIPrep column names: all names with each suffix, suffix-major."""
    return [f"{name}{suffix}" for suffix in suffixes for name in names]


def fixed_columns(config: DenoiseConfig) -> list[str]:
    """Return the named regressors of a strategy (aCompCor components and cosines apart).

    Parameters
    ----------
    config : DenoiseConfig
        The strategy.

    Returns
    -------
    list of str
        fMRIPrep column names, in the order the regressors are used; the
        global-signal columns of ``gsr`` come last.
    """
    base = config.strategy
    columns: list[str] = []
    if base == "6p":
        columns = list(_MOTION)
    elif base == "24p":
        columns = _expand(_MOTION, _FULL)
    elif base == "36p":
        columns = _expand((*_MOTION, "csf", "white_matter", "global_signal"), _FULL)
    elif base == "acompcor":
        columns = _expand(_MOTION, ("", "_derivative1"))
    elif base == "aroma":
        columns = ["csf", "white_matter"]
    if config.gsr and base != "36p":
        suffixes = _FULL if base == "24p" else ("",)
        columns += _expand(("global_signal",), suffixes)
    return columns


def _compcor_columns(
    config: DenoiseConfig, meta: Mapping[str, Any] | None
) -> tuple[list[str], dict[str, Any]]:
    """Pick the combined-mask aCompCor components; return them and a record."""
    if meta is None:
        if config.n_compcor is None:
            raise InputError(
                "strategy 'acompcor' with n_compcor=None chooses components by their "
                "CumulativeVarianceExplained in the confounds JSON; pass confounds_meta "
                "(the parsed *_desc-confounds_timeseries.json) or set n_compcor to an integer"
            )
        names = [f"a_comp_cor_{index:02d}" for index in range(config.n_compcor)]
        return names, {
            "rule": f"first {config.n_compcor} components",
            "mask_checked": False,
            "note": "no confounds JSON: a_comp_cor_XX assumed to be the combined-mask "
            "components (true of fMRIPrep >= 20.2)",
        }
    combined = []
    for key, entry in meta.items():
        match = _ACOMPCOR.match(key)
        if match is None or not isinstance(entry, Mapping):
            continue
        if str(entry.get("Mask", "")).lower() != "combined" or entry.get("Retained") is False:
            continue
        combined.append((int(match.group(1)), key, entry))
    combined.sort(key=lambda item: item[0])
    if not combined:
        raise InputError(
            "the confounds JSON lists no a_comp_cor_XX component of the combined mask "
            "(Mask: combined); was fMRIPrep >= 1.4 run with aCompCor?"
        )
    if config.n_compcor is not None:
        if config.n_compcor > len(combined):
            raise InputError(
                f"n_compcor={config.n_compcor} but the confounds JSON lists only "
                f"{len(combined)} combined-mask aCompCor components"
            )
        chosen = combined[: config.n_compcor]
        rule = f"first {config.n_compcor} components"
    else:
        chosen = []
        for index, key, entry in combined:
            if "CumulativeVarianceExplained" not in entry:
                raise InputError(
                    f"confounds JSON entry {key!r} has no CumulativeVarianceExplained; "
                    "set n_compcor to an integer"
                )
            chosen.append((index, key, entry))
            if float(entry["CumulativeVarianceExplained"]) >= COMPCOR_VARIANCE:
                break
        rule = f"components up to {COMPCOR_VARIANCE:.0%} cumulative variance"
    explained = chosen[-1][2].get("CumulativeVarianceExplained")
    record: dict[str, Any] = {
        "rule": rule,
        "mask_checked": True,
        "cumulative_variance": None if explained is None else float(explained),
    }
    if explained is not None and config.n_compcor is None and explained < COMPCOR_VARIANCE:
        record["note"] = (
            f"the listed components explain {float(explained):.1%} < "
            f"{COMPCOR_VARIANCE:.0%}; all {len(chosen)} were used"
        )
    return [key for _, key, _ in chosen], record


def _cosine_columns(confounds: pd.DataFrame) -> list[str]:
    return [str(c) for c in confounds.columns if str(c).startswith("cosine")]


def check_cosines(confounds: pd.DataFrame, config: DenoiseConfig, repetition_time: float) -> None:
    """Refuse acompcor without fMRIPrep's cosine regressors where the run needs some.

    fMRIPrep computes aCompCor on data high-passed by a discrete cosine basis
    with a 128 s cut-off and writes that basis out; it has at least one column
    whenever the run lasts 128 s or more.
    """
    duration = len(confounds) * repetition_time
    if config.strategy != "acompcor" or duration < _COSINE_CUTOFF_S:
        return
    if not _cosine_columns(confounds):
        raise InputError(
            f"strategy {config.name!r} needs fMRIPrep's cosineXX columns: aCompCor components "
            f"are computed on data high-passed with them, and a run of {duration:g} s has "
            "some; none are in the confounds table"
        )


def select_confounds(
    confounds: pd.DataFrame,
    config: DenoiseConfig,
    confounds_meta: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Return the nuisance regressors a strategy takes from a confounds table.

    The values are returned as read (fMRIPrep writes ``n/a``, read as NaN, in
    the first row of derivative columns); :func:`clean_run` fills those.

    Parameters
    ----------
    confounds : pandas.DataFrame
        fMRIPrep ``desc-confounds_timeseries.tsv``, one row per volume.
    config : DenoiseConfig
        The strategy (see :class:`DenoiseConfig` for the columns of each).
    confounds_meta : mapping or None
        The parsed confounds JSON; needed by acompcor with ``n_compcor=None``,
        and used with an integer ``n_compcor`` to check each component's mask.

    Returns
    -------
    pandas.DataFrame
        The chosen columns in a fixed order, float64; no columns for ``none``.

    Raises
    ------
    InputError
        When a column the strategy needs is absent (all missing columns are
        named), or the JSON cannot tell which aCompCor components to use.
    """
    columns = fixed_columns(config)
    if config.strategy == "acompcor":
        compcor, _ = _compcor_columns(config, confounds_meta)
        columns += _cosine_columns(confounds) + compcor
    missing = [c for c in columns if c not in confounds.columns]
    if config.strategy == "aroma" and not any(
        str(c).startswith("aroma_motion_") for c in confounds.columns
    ):
        missing.append("aroma_motion_XX (any)")
    if missing:
        listed = ", ".join(missing)
        raise InputError(
            f"strategy {config.name!r} needs confounds columns that are missing: {listed}"
        )
    values = numeric_columns(confounds, columns)
    if values is not None:  # the same table as below, in a quarter of the time
        return pd.DataFrame(values.T, columns=pd.Index(columns), index=confounds.index, copy=False)
    selected = confounds.loc[:, columns]
    try:
        return selected.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"confounds columns {columns} are not all numeric: {error}") from error


def numeric_columns(table: pd.DataFrame, columns: list[str]) -> npt.NDArray[np.float64] | None:
    """Return some columns of an all-numeric table as float64 rows, or None.

    A confounds table as ``read_csv`` gives it holds one block per column, so
    ``table.loc[:, columns].astype(float)`` costs pandas' work once per column
    (0.7 ms for 22 of 49 columns). Where every column is a number (floats,
    integers, booleans) the whole table is converted once instead and the
    columns taken from it (0.2 ms).

    Parameters
    ----------
    table : pandas.DataFrame
        The table, with unique column names.
    columns : list of str
        Columns of ``table``.

    Returns
    -------
    numpy.ndarray or None
        ``len(columns) x len(table)``, C-contiguous: each column's values,
        exactly as ``astype(float64)`` gives them; None where a column of the
        table is not numeric, the names are not unique, or a column is absent
        (the caller then works through pandas).
    """
    plain = (isinstance(d, np.dtype) and d.kind in "fiub" for d in table.dtypes)
    if not table.columns.is_unique or not all(plain):  # NumPy numbers only (no pd.NA)
        return None
    where = {str(name): i for i, name in enumerate(table.columns)}
    if not all(c in where for c in columns):
        return None
    by_column = table.to_numpy(dtype=np.float64).T  # a view of the rows' transpose
    picked: npt.NDArray[np.float64] = by_column[[where[c] for c in columns]]
    return picked


def compcor_record(
    config: DenoiseConfig, confounds_meta: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Return how aCompCor components were chosen (None for other strategies)."""
    if config.strategy != "acompcor":
        return None
    names, record = _compcor_columns(config, confounds_meta)
    return {"columns": names, **record}


def nonsteady_volumes(confounds: pd.DataFrame) -> BoolArray:
    """Return the volumes flagged in ``non_steady_state_outlier_XX`` columns."""
    columns = [c for c in confounds.columns if str(c).startswith(_NONSTEADY_PREFIX)]
    flags = np.zeros(len(confounds), dtype=bool)
    for column in columns:
        values = pd.to_numeric(confounds[column], errors="coerce").to_numpy(dtype=np.float64)
        flags |= np.nan_to_num(values) != 0
    return flags


def _exceeds(confounds: pd.DataFrame, column: str, threshold: float | None) -> BoolArray:
    if threshold is None:
        return np.zeros(len(confounds), dtype=bool)
    if column not in confounds.columns:
        raise InputError(
            f"censoring by {column} was asked for but the confounds have no {column!r} column"
        )
    values = pd.to_numeric(confounds[column], errors="coerce").to_numpy(dtype=np.float64)
    # the first volume has no predecessor: fMRIPrep writes n/a there, never censored
    exceeds: BoolArray = np.nan_to_num(values, nan=-np.inf) > threshold
    return exceeds


def short_segments(kept: BoolArray, min_segment: int) -> BoolArray:
    """Return the kept volumes that lie in runs of fewer than ``min_segment``."""
    short = np.zeros(kept.size, dtype=bool)
    if min_segment <= 1:
        return short
    edges = np.diff(np.concatenate([[0], kept.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for start, stop in zip(starts, stops, strict=True):
        if stop - start < min_segment:
            short[start:stop] = True
    return short


def censoring(confounds: pd.DataFrame, config: DenoiseConfig) -> dict[str, BoolArray]:
    """Return the volumes removed for each reason (non-overlapping masks)."""
    nonsteady = nonsteady_volumes(confounds) if config.drop_nonsteady else None
    if nonsteady is None:
        nonsteady = np.zeros(len(confounds), dtype=bool)
    fd = _exceeds(confounds, "framewise_displacement", config.fd_threshold)
    dvars = _exceeds(confounds, "std_dvars", config.std_dvars_threshold)
    motion = (fd | dvars) & ~nonsteady
    short = short_segments(~(nonsteady | motion), config.min_segment)
    return {"nonsteady": nonsteady, "motion": motion, "fd": fd, "dvars": dvars, "short": short}


def kept_volumes(confounds: pd.DataFrame, config: DenoiseConfig) -> BoolArray:
    """Return which volumes a configuration keeps.

    A volume is removed when it is flagged non-steady-state (with
    ``drop_nonsteady``), when its framewise displacement or standardised DVARS
    exceeds the threshold (strictly greater; the first volume's ``n/a`` never
    does), or when it lies in a run of fewer than ``min_segment`` consecutive
    volumes left by those removals. fMRIPrep's own ``motion_outlier_XX``
    columns are not used: the thresholds of the configuration decide.

    Parameters
    ----------
    confounds : pandas.DataFrame
        fMRIPrep confounds table, one row per volume.
    config : DenoiseConfig
        Thresholds and options.

    Returns
    -------
    numpy.ndarray
        Boolean, one value per volume, True where the volume is kept.

    Raises
    ------
    InputError
        When a threshold is set but its column is absent.
    """
    masks = censoring(confounds, config)
    removed: BoolArray = masks["nonsteady"] | masks["motion"] | masks["short"]
    return ~removed
