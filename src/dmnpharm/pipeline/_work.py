"""One run's work, done in whatever process runs it: this one, a Dask worker, a cluster node.

:func:`execute_run` loads a :class:`~dmnpharm.pipeline._tasks.RunTask`'s files,
cleans, extracts and measures, and returns the outcome or the error that names
the file. It writes nothing; the client stores results in the cache and writes
outputs.
"""

from __future__ import annotations

import sys
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import one_blas_thread
from dmnpharm.atlases import Atlas
from dmnpharm.config import PRIMARY
from dmnpharm.exceptions import InputError
from dmnpharm.execution import Stage
from dmnpharm.io import (
    read_confounds,
    read_region_timeseries,
    read_roi_timeseries,
    read_xcpd_motion,
    read_xcpd_timeseries,
)
from dmnpharm.pipeline._process import ProcessedRun, process_run
from dmnpharm.pipeline._run_output import write_on_worker
from dmnpharm.pipeline._tasks import RunTask, RunTrace, Signals, TaskOutcome, task_keys

__all__ = ["RUN_STAGE", "estimated_run_seconds", "execute_run", "run_trace"]


# What reading a damaged file raises, besides our own InputError: truncated or
# corrupt gzip streams, short reads, values that do not parse (and headers nibabel
# cannot parse: see _read_errors).
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def _read_errors() -> tuple[type[BaseException], ...]:
    """:data:`_READ_ERRORS`, and nibabel's header error once nibabel is loaded.

    Only an image read can raise nibabel's error, and reading one imports
    nibabel: an ROI-level analysis (the demo) then never imports it (40 ms).
    """
    nibabel = sys.modules.get("nibabel.filebasedimages")
    found = getattr(nibabel, "ImageFileError", None)
    return _READ_ERRORS if found is None else (*_READ_ERRORS, found)


def _bids_signals(
    task: RunTask,
    atlas: Atlas,
    confounds: pd.DataFrame | None,
    meta: dict[str, Any] | None,
) -> Signals:
    """Extract a BIDS run's region signals and, with voxel maps, its maps."""
    # Imported here: they load nibabel, which ROI-level analyses never need.
    from dmnpharm.extract import extract_cifti_timeseries, extract_timeseries, extract_with_maps

    config = task.config
    bold = Path(task.data_file)
    if bold.name.endswith(".dtseries.nii"):  # CIFTI grayordinates: parcel means
        cifti = extract_cifti_timeseries(bold, atlas, repetition_time=task.repetition_time)
        return Signals(
            np.asarray(cifti.timeseries, dtype=np.float64), coverage=_fractions(cifti.coverage)
        )
    mask = None if task.mask is None else Path(task.mask)
    if not config.voxel_maps:
        extraction = extract_timeseries(
            bold,
            atlas,
            mask=mask,
            radius_mm=config.radius_mm,
            repetition_time=task.repetition_time,
        )
        return Signals(
            np.asarray(extraction.timeseries, dtype=np.float64),
            coverage=_fractions(extraction.coverage),
        )
    if mask is None:
        raise InputError(f"{bold}: voxel maps need the run's brain mask, none was found")
    if confounds is None:
        confounds = pd.DataFrame(index=range(task.n_volumes or 0))
    extraction, maps = extract_with_maps(
        bold,
        atlas,
        mask,
        confounds,
        config.denoise,
        confounds_meta=meta,
        radius_mm=config.radius_mm,
        repetition_time=task.repetition_time,
    )
    files: dict[str, bytes] = {}
    if maps is not None:
        with tempfile.TemporaryDirectory(prefix="dmnpharm-maps-") as folder:
            written = maps.save(folder, bold.name.split("_desc-")[0])
            for image in written.values():
                side = image.with_name(image.name.replace(".nii.gz", ".json"))
                files[image.name] = image.read_bytes()
                files[side.name] = side.read_bytes()
    note = "" if maps is not None else str(extraction.record.get("voxel_maps", ""))
    return Signals(
        np.asarray(extraction.timeseries, dtype=np.float64),
        files,
        note,
        _fractions(extraction.coverage),
    )


def _fractions(coverage: tuple[float, ...] | None) -> npt.NDArray[np.float64] | None:
    """Return an extraction's per-region coverage as an array (None stays None)."""
    return None if coverage is None else np.asarray(coverage, dtype=np.float64)


def run_trace(task: RunTask, signals: Signals, confounds: pd.DataFrame | None) -> RunTrace:
    """Return a run's QC traces: FD per volume, tSNR and coverage per region.

    Parameters
    ----------
    task : RunTask
        The run (its kind says whether its signals are uncleaned image means).
    signals : Signals
        The region signals it was measured from, with their coverage.
    confounds : pandas.DataFrame or None
        Its confounds (or XCP-D motion of the kept volumes).

    Returns
    -------
    RunTrace
        tSNR only for signals extracted from a preprocessed image (``bids``
        kind): region time-series files and XCP-D output are already cleaned
        or centred, where a mean over a standard deviation means nothing.
    """
    fd = None
    if confounds is not None and "framewise_displacement" in confounds:
        column = pd.to_numeric(confounds["framewise_displacement"], errors="coerce")
        fd = column.to_numpy(dtype=np.float32)
    tsnr = None
    if task.kind == "bids" and signals.data.shape[0] > 1:
        data = np.asarray(signals.data, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean, spread = data.mean(axis=0), data.std(axis=0)
            values = np.where((mean > 0) & (spread > 0), mean / spread, np.nan)
        tsnr = values.astype(np.float32)
    coverage = None if signals.coverage is None else signals.coverage.astype(np.float32)
    return RunTrace(fd, tsnr, coverage)


def _xcpd_inputs(task: RunTask) -> tuple[Signals, pd.DataFrame]:
    """Read an XCP-D run: its kept volumes' signals and their motion (the QC's FD)."""
    run = task.xcpd
    if run is None:
        raise ValueError("an xcpd task needs its XcpdRun")
    data = read_xcpd_timeseries(run)
    motion = read_xcpd_motion(run)
    kept = motion["kept"].to_numpy(dtype=bool)
    if len(motion) != data.shape[0]:
        raise InputError(
            f"{run.timeseries}: has {data.shape[0]} rows but its motion file {run.motion} "
            f"gives {len(motion)} after XCP-D's censoring; the files do not belong together"
        )
    confounds = motion.loc[kept].drop(columns=["outlier", "kept"]).reset_index(drop=True)
    return Signals(data[kept]), confounds


def _read_signals(
    task: RunTask, atlas: Atlas, confounds: pd.DataFrame | None, meta: dict[str, Any] | None
) -> Signals:
    try:
        if task.kind == "roi":
            return Signals(read_roi_timeseries(task.data_file, atlas.labels))
        if task.kind == "table":  # a run table's file: TSV, CSV or AFNI 1D
            return Signals(read_region_timeseries(task.data_file, atlas.labels))
        return _bids_signals(task, atlas, confounds, meta)
    except InputError:
        raise
    except _read_errors() as exc:
        raise InputError(
            f"{task.label}: cannot be read ({type(exc).__name__}: {exc}); the file may be "
            "truncated or corrupt"
        ) from None


def execute_run(task: RunTask, signals: Signals | None = None) -> TaskOutcome:
    """Load, clean and measure one run; report a bad input as this run's failure.

    Runs with one BLAS thread: parallelism is across runs (Dask workers), and
    per-run work is many small matrix operations that oversubscribed BLAS
    threads slow down many times over.

    Parameters
    ----------
    task : RunTask
        The run.
    signals : Signals or None
        Region signals (and maps) from the cache; None reads them from the
        run's files.

    Returns
    -------
    TaskOutcome
        The processed run, or the error naming the file. Errors that are
        not about the input (bugs) are raised.
    """
    config = task.config
    if config.atlas is None:
        raise ValueError("the atlas must be resolved before per-run work")
    with one_blas_thread():
        try:
            atlas = config.atlas_object()
            confounds: pd.DataFrame | None
            if task.kind == "xcpd":
                read, confounds = _xcpd_inputs(task)
                meta = None
                signals = read if signals is None else signals
            else:
                confounds, meta = read_confounds(
                    None if task.confounds is None else Path(task.confounds)
                )
            if signals is None:
                signals = _read_signals(task, atlas, confounds, meta)
            processed: ProcessedRun = process_run(
                signals.data,
                confounds,
                meta,
                task.repetition_time,
                config,
                atlas,
                task.label,
            )
            trace = run_trace(task, signals, confounds)
        except InputError as exc:
            return TaskOutcome(task.label, None, str(exc))
    # ROI-level signals are a file read, not worth keeping; extracted ones go to the cache.
    kept = signals if task.kind == "bids" else None
    return TaskOutcome(task.label, processed, None, kept, trace)


def _slim(outcome: TaskOutcome, task: RunTask) -> TaskOutcome:
    """Keep what the run cache needs: the processed run and voxel map files, not signals."""
    maps = outcome.signals.maps if outcome.signals is not None else {}
    note = outcome.signals.maps_note if outcome.signals is not None else ""
    kept = None
    if outcome.signals is not None:
        kept = Signals(outcome.signals.data[:0], maps, note, outcome.signals.coverage)
    processed = outcome.processed
    if processed is not None and task.config.estimator != "tangent":
        # Only the primary cleaned signals are used again (written as derivatives);
        # the tangent estimator needs every analysis's signals for the group reference.
        primary = tuple(c for c in processed.cleaned if c.analysis == PRIMARY)
        processed = replace(
            processed, cleaned=tuple(replace(c, amplitude=c.data[:0]) for c in primary)
        )
    return replace(outcome, processed=processed, signals=kept)


def _killed(task: RunTask, exc: BaseException) -> TaskOutcome:
    return TaskOutcome(
        task.label,
        None,
        f"{task.label}: the worker running it died repeatedly ({type(exc).__name__}: {exc}); "
        "it may need more memory than a worker has (--memory-limit)",
    )


def _reusable(outcome: TaskOutcome) -> Signals | None:
    """Return the region signals worth caching on their own (BIDS images, read once)."""
    return outcome.signals


def _succeeded(outcome: TaskOutcome) -> bool:
    return outcome.error is None


# Seconds of one core per run, measured by benchmarks/bench_demo.py threshold on the 2-core
# development machine, otherwise idle (execute_run with one BLAS thread, the default
# cleaning with its GSR twin): ROI-level runs take 0.0028 + 1.18e-6 x volumes x regions
# + 3.51e-7 x regions^2 s (within 10 % from 160 to 400 regions and 100 to 400 volumes;
# 0.096 s at 300 x 200); extracting a 2 mm image adds about 1 s per 300 volumes
# (docs/scaling.md).
_RUN_BASE_S = 0.0028
_PER_VOLUME_REGION_S = 1.18e-6
_PER_REGION_PAIR_S = 3.51e-7
_IMAGE_PER_VOLUME_S = 1.0 / 300


def estimated_run_seconds(task: RunTask) -> float:
    """Estimate one run's work, in seconds of one core, from its size.

    Parameters
    ----------
    task : RunTask
        The run: its volumes (``n_volumes``; 300 when unknown), its atlas's
        regions and whether its signals are extracted from an image
        (``bids``).

    Returns
    -------
    float
        The measured model in this module's notes; only its sum over a study
        is used, to decide whether a local Dask cluster pays for its start
        (:func:`dmnpharm.execution.choose_engine`).
    """
    volumes = float(task.n_volumes or 300)
    regions = float(len(task.config.atlas_object().labels)) if task.config.atlas else 300.0
    seconds = (
        _RUN_BASE_S + _PER_VOLUME_REGION_S * volumes * regions + _PER_REGION_PAIR_S * regions**2
    )
    if task.kind == "bids":
        seconds += _IMAGE_PER_VOLUME_S * volumes
    return seconds


#: How the dispatcher handles a run's task: its work, cache keys, and what is cached.
RUN_STAGE = Stage(
    name="cleaning and measuring runs",
    work=execute_run,
    keys=task_keys,
    slim=_slim,
    reusable=_reusable,
    killed=_killed,
    succeeded=_succeeded,
    outcome_type=TaskOutcome,
    reusable_type=Signals,
    cost=estimated_run_seconds,
    on_worker=write_on_worker,
)
