"""Per-run work shared by ROI-level and BIDS studies: clean, QC, metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import run_fc_metrics
from dmnpharm.run._config import RunConfig
from dmnpharm.signal import clean_run
from dmnpharm.stats import run_qc

__all__ = ["ProcessedRun", "process_run", "read_confounds"]


@dataclass(frozen=True, eq=False)
class ProcessedRun:
    """One run after cleaning: its metrics (unless excluded), QC and record.

    Parameters
    ----------
    metrics : dict
        Measure name to value; empty when the run was excluded.
    qc : dict
        Motion and censoring summary (:func:`dmnpharm.stats.run_qc`).
    excluded : str or None
        Why the run was left out, or None.
    record : dict
        What cleaning did (regressors, censoring, filter), for provenance.
    cleaned : numpy.ndarray
        The cleaned region signals (kept volumes), for derivative outputs.
    """

    metrics: dict[str, float]
    qc: dict[str, float]
    excluded: str | None
    record: dict[str, Any] = field(repr=False)
    cleaned: npt.NDArray[np.float64] = field(repr=False)


def read_confounds(path: Path | None) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """Read an fMRIPrep confounds TSV (``n/a`` as missing) and its JSON sidecar.

    Parameters
    ----------
    path : Path or None
        The ``*_desc-confounds_timeseries.tsv`` (None: no confounds).

    Returns
    -------
    tuple
        The table (or None) and the parsed JSON (or None when absent).

    Raises
    ------
    InputError
        If a file cannot be read.
    """
    if path is None or not path.is_file():
        return None, None
    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a confounds table ({exc})") from None
    side = path.with_suffix(".json")
    meta = None
    if side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{side}: is not valid JSON ({exc})") from None
    return table, meta


def process_run(
    data: npt.NDArray[np.float64],
    confounds: pd.DataFrame | None,
    meta: dict[str, Any] | None,
    repetition_time: float,
    config: RunConfig,
    atlas: Atlas,
    label: str,
) -> ProcessedRun:
    """Clean one run with the configured strategy, summarise QC, compute its metrics.

    Parameters
    ----------
    data : numpy.ndarray
        Volumes x regions, atlas order.
    confounds : pandas.DataFrame or None
        The run's fMRIPrep confounds; None only with strategy ``none`` and no
        censoring.
    meta : dict or None
        The confounds JSON.
    repetition_time : float
        Seconds.
    config : RunConfig
        The analysis choices (``config.denoise``).
    atlas : Atlas
        Regions and networks of the columns.
    label : str
        Names the run in errors.

    Returns
    -------
    ProcessedRun
        Metrics (empty when excluded), QC and the cleaning record.

    Raises
    ------
    InputError
        If the strategy needs confounds the run does not have.
    """
    denoise = config.denoise
    needs_confounds = (
        denoise.strategy != "none"
        or denoise.gsr
        or denoise.fd_threshold is not None
        or denoise.std_dvars_threshold is not None
    )
    if confounds is None:
        if needs_confounds:
            raise InputError(f"{label}: strategy {denoise.name} needs a confounds table")
        confounds = pd.DataFrame(index=range(data.shape[0]))
    try:
        cleaned = clean_run(data, confounds, repetition_time, denoise, meta)
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None
    qc: dict[str, float] = {}
    if "framewise_displacement" in confounds:
        qc = run_qc(confounds, cleaned.kept, cleaned.dof_lost)
    if cleaned.excluded:
        return ProcessedRun({}, qc, str(cleaned.reason), cleaned.record, cleaned.data)
    values = run_fc_metrics(cleaned.data, atlas)
    return ProcessedRun(values, qc, None, cleaned.record, cleaned.data)
