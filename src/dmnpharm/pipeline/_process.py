"""Per-run work shared by ROI-level and BIDS studies: clean, QC, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.config import GSR_SENSITIVITY, PRIMARY, AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import estimate_connectivity
from dmnpharm.metrics._bundle import bundle_rows
from dmnpharm.metrics._table import RowBlocks, stacked_frame
from dmnpharm.pipeline._coverage import assess_coverage, widen
from dmnpharm.pipeline._packed import PackedFrame, pack_frame
from dmnpharm.signal import CleanResult, DenoiseConfig
from dmnpharm.signal._variants import clean_gsr_twin_variants, clean_run_variants
from dmnpharm.stats import run_qc

__all__ = [
    "CleanedRun",
    "ProcessedRun",
    "gsr_counterpart",
    "measure",
    "process_run",
]


@dataclass(frozen=True, eq=False)
class CleanedRun:
    """One cleaning of a run, ready for the metrics bundle.

    Parameters
    ----------
    analysis : str
        ``"primary"`` (the configured strategy) or ``"gsr_sensitivity"`` (the
        same with global signal regression toggled).
    strategy : str
        Name of the cleaning, e.g. ``"6p+gsr"``.
    data : numpy.ndarray
        Cleaned kept volumes x regions.
    amplitude : numpy.ndarray
        The same cleaning without the band-pass filter (for ALFF/fALFF).
    kept : numpy.ndarray
        Boolean per input volume.
    """

    analysis: str
    strategy: str
    data: npt.NDArray[np.float64] = field(repr=False)
    amplitude: npt.NDArray[np.float64] = field(repr=False)
    kept: npt.NDArray[np.bool_] = field(repr=False)


@dataclass(frozen=True, eq=False)
class ProcessedRun:
    """One run after cleaning: its metrics (unless excluded), QC and record.

    Parameters
    ----------
    metrics : pandas.DataFrame
        The bundle (:func:`dmnpharm.metrics.run_bundle`) of every analysis,
        with ``analysis`` and ``strategy`` columns; empty when the run was
        excluded or when the estimator needs the whole group (tangent).
    qc : dict
        Motion and censoring summary (:func:`dmnpharm.stats.run_qc`).
    excluded : str or None
        Why the run was left out, or None.
    record : dict
        What cleaning did (regressors, censoring, filter) and the bundle's
        settings and notes, for provenance.
    cleaned : tuple of CleanedRun
        The cleaned signals of each analysis (empty when excluded).
    matrix : numpy.ndarray or None
        The connectivity matrix of the primary analysis that its metrics were
        computed from; None when excluded or for the group's estimator (tangent).
    """

    metrics: pd.DataFrame
    qc: dict[str, float]
    excluded: str | None
    record: dict[str, Any] = field(repr=False)
    cleaned: tuple[CleanedRun, ...] = field(repr=False)
    matrix: npt.NDArray[np.float64] | None = field(default=None, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the metrics with their texts as codes (a run's cache entry: 1.2 MB less).

        Returns
        -------
        tuple
            What :mod:`pickle` calls to rebuild an equal run
            (:mod:`dmnpharm.pipeline._packed`).
        """
        packed = pack_frame(self.metrics)
        metrics = self.metrics if packed is None else packed
        rest = (self.qc, self.excluded, self.record, self.cleaned, self.matrix)
        return (_unpacked_run, (metrics, *rest))


def _unpacked_run(metrics: pd.DataFrame | PackedFrame, *rest: Any) -> ProcessedRun:
    """Rebuild a pickled :class:`ProcessedRun` (see :meth:`ProcessedRun.__reduce__`)."""
    table = metrics.frame() if isinstance(metrics, PackedFrame) else metrics
    return ProcessedRun(table, *rest)


def gsr_counterpart(denoise: DenoiseConfig, confounds: pd.DataFrame) -> DenoiseConfig | None:
    """Return the cleaning with GSR toggled, when the run allows it; else None.

    Parameters
    ----------
    denoise : DenoiseConfig
        The configured cleaning.
    confounds : pandas.DataFrame
        The run's confounds table; needs ``global_signal``.

    Returns
    -------
    DenoiseConfig or None
        None for ``36p`` (GSR is part of it) or without a ``global_signal`` column.
    """
    if denoise.strategy == "36p" or "global_signal" not in confounds:
        return None
    return replace(denoise, gsr=not denoise.gsr)


def measure(
    cleaned: CleanedRun,
    atlas: Atlas,
    repetition_time: float,
    config: AnalysisConfig,
    matrix: npt.NDArray[np.float64] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute the metrics bundle of one cleaned run, marked with its analysis.

    Parameters
    ----------
    cleaned : CleanedRun
        The run's cleaned signals.
    atlas : Atlas
        Regions and networks.
    repetition_time : float
        Seconds.
    config : AnalysisConfig
        Analytic choices (estimator).
    matrix : numpy.ndarray or None
        Connectivity from a group estimator (tangent); None estimates per run.

    Returns
    -------
    tuple
        The bundle table with ``analysis`` and ``strategy`` columns, and its record.
    """
    rows, record = _bundle_of(cleaned, atlas, repetition_time, config, matrix)
    return stacked_frame([rows], before=("analysis",), after=("strategy",)), record


def _bundle_of(
    cleaned: CleanedRun,
    atlas: Atlas,
    repetition_time: float,
    config: AnalysisConfig,
    matrix: npt.NDArray[np.float64] | None,
) -> tuple[tuple[RowBlocks, dict[str, str]], dict[str, Any]]:
    """Return a cleaning's bundle rows with its ``analysis`` and ``strategy``, and its record."""
    rows, record = bundle_rows(
        cleaned.data,
        atlas,
        repetition_time,
        config=config.bundle,
        matrix=matrix,
        amplitude_data=cleaned.amplitude,
        kept=None if cleaned.kept.all() else cleaned.kept,
    )
    return (rows, {"analysis": cleaned.analysis, "strategy": cleaned.strategy}), record


def _confounds_or_none_needed(
    confounds: pd.DataFrame | None, denoise: DenoiseConfig, n_volumes: int, label: str
) -> pd.DataFrame:
    """Return the run's confounds, or an empty table when the cleaning needs none."""
    needs_confounds = (
        denoise.strategy != "none"
        or denoise.gsr
        or denoise.fd_threshold is not None
        or denoise.std_dvars_threshold is not None
    )
    if confounds is not None:
        return confounds
    if needs_confounds:
        raise InputError(f"{label}: strategy {denoise.name} needs a confounds table")
    return pd.DataFrame(index=range(n_volumes))


def _cleanings(
    data: npt.NDArray[np.float64],
    confounds: pd.DataFrame,
    repetition_time: float,
    denoise: DenoiseConfig,
    meta: dict[str, Any] | None,
    counterpart: DenoiseConfig | None,
) -> dict[str, tuple[CleanResult, npt.NDArray[np.float64]]]:
    """Clean a run, and its GSR counterpart in the same pass; each with its unfiltered signals.

    Returns each analysis's cleaning and the same cleaning without the filter
    (for ALFF/fALFF; the filtered signals when there is no filter, and for an
    excluded cleaning).
    """
    # The filter changes neither the regressors nor the kept volumes: one preparation serves
    # the cleanings with and without it, and the GSR twin shares every step but the regression.
    if counterpart is None:
        result, wide = clean_run_variants(data, confounds, repetition_time, denoise, meta)
        return {PRIMARY: (result, result.data if result.excluded else wide.data)}
    filtered, wides = clean_gsr_twin_variants(data, confounds, repetition_time, denoise, meta)
    broads = tuple(
        result.data if result.excluded else other.data
        for result, other in zip(filtered, wides, strict=True)
    )
    return {
        PRIMARY: (filtered[0], broads[0]),
        GSR_SENSITIVITY: (filtered[1], broads[1]),
    }


def process_run(
    data: npt.NDArray[np.float64],
    confounds: pd.DataFrame | None,
    meta: dict[str, Any] | None,
    repetition_time: float,
    config: AnalysisConfig,
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
    config : AnalysisConfig
        The analysis choices (``config.denoise``).
    atlas : Atlas
        Regions and networks of the columns.
    label : str
        Names the run in errors.

    Returns
    -------
    ProcessedRun
        Metrics of every analysis (the configured cleaning and, when the run's
        confounds allow it and ``config.gsr_sensitivity``, its GSR
        counterpart), QC, the cleaning record and the primary analysis's
        connectivity matrix; empty metrics (and no matrix) when excluded or
        when the estimator is the group's (tangent: see :func:`measure`).
        Regions whose signal is constant, empty or non-finite are left out of
        the measures (NaN in the cleaned signals and the matrix) and listed
        under ``record["coverage"]``; too few of them excludes the run
        (:func:`~dmnpharm.pipeline._coverage.assess_coverage`).

    Raises
    ------
    InputError
        If the strategy needs confounds the run does not have.
    """
    coverage = assess_coverage(data, atlas, config.bundle, config.estimator)
    if coverage.exclusion is not None:
        return ProcessedRun(
            pd.DataFrame(), {}, coverage.exclusion, {"coverage": coverage.record()}, ()
        )
    covered = coverage.covered
    if not coverage.complete:
        data, atlas = data[:, covered], atlas.subset(np.flatnonzero(covered))
    denoise = config.denoise
    confounds = _confounds_or_none_needed(confounds, denoise, data.shape[0], label)
    variants = {PRIMARY: denoise}
    counterpart = gsr_counterpart(denoise, confounds) if config.gsr_sensitivity else None
    if counterpart is not None:
        variants[GSR_SENSITIVITY] = counterpart
    try:
        cleanings = _cleanings(data, confounds, repetition_time, denoise, meta, counterpart)
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None
    primary = cleanings[PRIMARY][0]
    qc: dict[str, float] = {}
    if "framewise_displacement" in confounds:
        qc = run_qc(confounds, primary.kept, primary.dof_lost)
    record = dict(primary.record)
    if not coverage.complete:
        record["coverage"] = coverage.record()
    if primary.excluded:
        return ProcessedRun(pd.DataFrame(), qc, str(primary.reason), record, ())
    cleaned = tuple(
        CleanedRun(analysis, variants[analysis].name, result.data, broad, result.kept)
        for analysis, (result, broad) in cleanings.items()
    )
    record["analyses"] = {c.analysis: c.strategy for c in cleaned}
    if config.estimator == "tangent":
        return ProcessedRun(pd.DataFrame(), qc, None, record, cleaned)
    return _measured(cleaned, atlas, repetition_time, config, qc, record, covered)


def _measured(
    cleaned: tuple[CleanedRun, ...],
    atlas: Atlas,
    repetition_time: float,
    config: AnalysisConfig,
    qc: dict[str, float],
    record: dict[str, Any],
    covered: npt.NDArray[np.bool_],
) -> ProcessedRun:
    """Measure each cleaning on the covered regions; give back atlas-wide signals and matrix."""
    parts = []
    primary_matrix = None
    for run in cleaned:
        matrix = estimate_connectivity(run.data, config.estimator)
        part, bundle_record = _bundle_of(run, atlas, repetition_time, config, matrix)
        parts.append(part)
        record.setdefault("bundle", {})[run.analysis] = bundle_record
        if run.analysis == PRIMARY:
            primary_matrix = widen(matrix, covered, square=True)
    # The derivatives keep the atlas's columns: regions without a signal are n/a.
    cleaned = tuple(
        replace(run, data=widen(run.data, covered), amplitude=widen(run.amplitude, covered))
        for run in cleaned
    )
    # One table of both analyses, the same as each's measure() table concatenated.
    metrics = stacked_frame(parts, before=("analysis",), after=("strategy",))
    return ProcessedRun(metrics, qc, None, record, cleaned, primary_matrix)
