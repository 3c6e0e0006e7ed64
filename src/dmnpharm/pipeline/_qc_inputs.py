"""What the report's QC section draws from the runs: FD traces, tSNR, coverage, one carpet plot.

The per-run traces come back with each run's outcome (small arrays, see
:class:`~dmnpharm.pipeline._tasks.RunTrace`). The carpet plot needs voxels, so
it is read here, once, from the one run it shows: the included image run with
the highest mean framewise displacement, the run a reviewer most wants to see
(XCP-D's executive summary shows one per run; a study of hundreds of runs
cannot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import get_logger
from dmnpharm.atlases import Atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.pipeline._adapters import StudyRun
from dmnpharm.pipeline._runs import Processed

__all__ = ["carpet_run", "report_qc_inputs"]

_LOG = get_logger("pipeline")

#: Rows (voxels or grayordinates) drawn in the carpet plot.
CARPET_ROWS = 1200


def carpet_run(runs: list[StudyRun], processed: Processed) -> StudyRun | None:
    """Pick the run whose carpet plot the report shows.

    Parameters
    ----------
    runs : list of StudyRun
        The study's runs.
    processed : Processed
        Their outcomes: the run table (status) and traces (FD).

    Returns
    -------
    StudyRun or None
        The included run read from an image (NIfTI or CIFTI BOLD, not region
        time series or XCP-D output) with the highest mean FD (the first such
        run when none has FD); None when no run was read from an image.
    """
    table = processed.runs
    if table.empty or "status" not in table:
        return None
    included = set(table.loc[table["status"] == "included", "source"].astype(str))
    candidates = [r for r in runs if r.task.kind == "bids" and r.source in included]
    if not candidates:
        return None

    def mean_fd(run: StudyRun) -> float:
        trace = processed.traces.by_source.get(run.source)
        if trace is None or trace.fd is None or not np.isfinite(trace.fd).any():
            return -np.inf
        return float(np.nanmean(trace.fd))

    return max(candidates, key=mean_fd)


def _carpet(
    run: StudyRun | None, atlas: Atlas, radius_mm: float
) -> tuple[str, npt.NDArray[np.float64], tuple[str, ...]] | None:
    """Read the chosen run's carpet sample; None (logged) when it cannot be read."""
    if run is None:
        return None
    from dmnpharm.extract import carpet_sample

    cifti = run.task.data_file.endswith(".dtseries.nii")  # rows are grayordinates, no mask
    mask = None if run.task.mask is None or cifti else Path(run.task.mask)
    try:
        carpet = carpet_sample(
            Path(run.task.data_file), atlas, mask=mask, max_rows=CARPET_ROWS, radius_mm=radius_mm
        )
    except (OSError, ValueError) as exc:  # read once already; a file changed since loses the plot
        _LOG.warning("no carpet plot of %s: %s", run.label, exc)
        return None
    return run.source, np.asarray(carpet.data, dtype=np.float64), tuple(carpet.networks)


def report_qc_inputs(
    runs: list[StudyRun], processed: Processed, config: AnalysisConfig
) -> dict[str, Any]:
    """Return the QC inputs of :func:`dmnpharm.report.build_report`.

    Parameters
    ----------
    runs : list of StudyRun
        The study's runs.
    processed : Processed
        Their outcomes and traces.
    config : AnalysisConfig
        The analysis (its atlas and sphere radius place the carpet's rows).

    Returns
    -------
    dict
        ``fd_series`` (per run and volume), ``tsnr`` and ``coverage`` (per
        run and region) and ``carpet`` (one run's rows x volumes, with each
        row's network), each None when the input gives none.
    """
    traces = processed.traces
    return {
        "fd_series": traces.fd_series(),
        "tsnr": traces.per_region("tsnr"),
        "coverage": traces.per_region("coverage"),
        "carpet": _carpet(carpet_run(runs, processed), config.atlas_object(), config.radius_mm),
    }
