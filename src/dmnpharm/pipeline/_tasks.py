"""Per-run work as a pure task: input files and configuration in, results out.

A :class:`RunTask` names everything one run's work depends on (its files, the
analytic choices, the atlas); :func:`dmnpharm.pipeline._work.execute_run` does that
work in whatever process runs it and returns a :class:`TaskOutcome`. These
classes need nothing heavy, so a study can be planned and hashed before SciPy
and friends are imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dmnpharm.config import AnalysisConfig
from dmnpharm.execution import RunCache
from dmnpharm.io import XcpdRun

if TYPE_CHECKING:
    from dmnpharm.pipeline._levels import RunRows
    from dmnpharm.pipeline._process import ProcessedRun

__all__ = ["RunTask", "RunTrace", "Signals", "TaskOutcome", "task_keys"]


@dataclass(frozen=True)
class RunTask:
    """One run's per-run work, described by value so it can travel to a worker.

    Parameters
    ----------
    label : str
        The run's input file, naming it in messages.
    source : str
        That file relative to the study folder.
    kind : str
        ``roi`` (a region time-series TSV), ``bids`` (an fMRIPrep image),
        ``xcpd`` (XCP-D's denoised parcellated time series) or ``table`` (a
        time-series file listed in a run table: TSV, CSV or AFNI 1D).
    data_file : str
        The time-series TSV or the preprocessed BOLD image.
    repetition_time : float
        Seconds.
    config : AnalysisConfig
        Analytic choices, with the atlas resolved.
    confounds : str or None
        The run's fMRIPrep confounds TSV.
    mask : str or None
        The run's brain mask (BIDS).
    n_volumes : int or None
        Volumes of the run (the image header, or the time-series rows; for
        XCP-D the volumes it kept).
    xcpd : XcpdRun or None
        An XCP-D run: its files, censoring and flagged volumes (``confounds``
        is then its motion file).
    derivatives : str or None
        The derivatives dataset the process running the task writes the
        run's files into (:mod:`dmnpharm.pipeline._run_output`); None: the
        client writes them. Not part of the run's identity or cache keys.
    entities : tuple of (str, str)
        The run's BIDS labels, naming its derivative files.
    design : tuple of (str, object)
        The run's design columns, tagging its rows where it is computed.
    """

    label: str
    source: str
    kind: str
    data_file: str
    repetition_time: float
    config: AnalysisConfig
    confounds: str | None = None
    mask: str | None = None
    n_volumes: int | None = None
    xcpd: XcpdRun | None = None
    derivatives: str | None = field(default=None, compare=False)
    entities: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    design: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def input_files(self) -> tuple[str, ...]:
        """Return every file the run's results depend on (sidecars included)."""
        files = [self.data_file, self.confounds, self.mask]
        if self.kind == "roi":
            files.append(str(Path(self.data_file).with_suffix(".json")))
        if self.xcpd is not None and self.xcpd.outliers is not None:
            files.append(str(self.xcpd.outliers))
        if self.confounds is not None:
            side = Path(self.confounds).with_suffix(".json")
            if side.is_file():
                files.append(str(side))
        return tuple(f for f in files if f is not None)


@dataclass(frozen=True, eq=False)
class Signals:
    """A run's region signals and, when asked for, its voxel map files.

    Parameters
    ----------
    data : numpy.ndarray
        Volumes x regions, atlas order.
    maps : dict of str to bytes
        Voxel map files (``name -> content``), written as they are.
    maps_note : str
        Why voxel maps were asked for but not made (e.g. too few volumes).
    coverage : numpy.ndarray or None
        Per region, the share of its voxels (grayordinates) that carry data:
        inside the run's brain mask, or finite and varying for CIFTI; None
        when the input gives no way to tell (region time-series files).
    """

    data: npt.NDArray[np.float64] = field(repr=False)
    maps: dict[str, bytes] = field(default_factory=dict, repr=False)
    maps_note: str = ""
    coverage: npt.NDArray[np.float64] | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class RunTrace:
    """A run's signal-quality traces, for the report's QC (small: one value per volume or region).

    Parameters
    ----------
    fd : numpy.ndarray or None
        Framewise displacement (mm) of every volume the run's cleaning saw
        (its confounds' ``framewise_displacement``; XCP-D input: the volumes
        XCP-D kept), float32; None when the input has none.
    tsnr : numpy.ndarray or None
        Per region, atlas order, the temporal signal-to-noise ratio of the
        extracted, uncleaned signal: its mean over its standard deviation
        across volumes (Murphy et al. 2007), float32; NaN where the mean is
        not positive or the signal does not vary. None for inputs that are
        already cleaned or centred (region time-series files, XCP-D).
    coverage : numpy.ndarray or None
        Per region, the share of its voxels that carry data
        (:attr:`Signals.coverage`), float32.
    """

    fd: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    tsnr: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    coverage: npt.NDArray[np.float32] | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class TaskOutcome:
    """What one run's task produced.

    Parameters
    ----------
    label : str
        The run.
    processed : ProcessedRun or None
        Cleaning, QC and metrics; None when the run failed.
    error : str or None
        Why the run failed (naming its file), or None.
    signals : Signals or None
        The region signals (and voxel maps) the run was measured from.
    trace : RunTrace or None
        FD per volume, tSNR and coverage per region; None when the run failed.
    written : dict of str to str or None
        The derivative files the worker wrote (``timeseries``, ``relmat``, by
        path relative to the derivatives dataset); None: nothing was written
        where the run was computed, the client writes them.
    rows : RunRows or None
        The run's tagged rows, split by level where it was computed (then
        ``processed.metrics`` is empty); None: the client tags them.
    """

    label: str
    processed: ProcessedRun | None
    error: str | None = None
    signals: Signals | None = field(default=None, repr=False)
    trace: RunTrace | None = field(default=None, repr=False)
    written: dict[str, str] | None = field(default=None, repr=False)
    rows: RunRows | None = field(default=None, repr=False)


def task_keys(task: RunTask, cache: RunCache) -> tuple[str | None, str]:
    """Return a run's cache keys: its signals (BIDS images only) and its results.

    Parameters
    ----------
    task : RunTask
        The run.
    cache : RunCache
        Hashes its files (reusing digests of unchanged files).

    Returns
    -------
    tuple
        The key of the extracted region signals (None for ROI-level runs,
        whose signals are a file read) and the key of the processed run.
        The signals depend on the image, mask, atlas and sphere radius (and,
        with voxel maps, on the cleaning and confounds too); the processed
        run also on the confounds and the cleaning and metric choices. Group
        options (contrast, permutations, seed, drug) are in neither.
    """
    config = task.config
    hashes = {Path(f).name: cache.file_hash(f) for f in task.input_files()}
    cleaning = {
        "denoise": config.denoise.to_dict(),
        "gsr_sensitivity": config.gsr_sensitivity,
        "confounds": {k: v for k, v in hashes.items() if "confounds" in k},
    }
    signals_key = None
    if task.kind == "bids":
        image: dict[str, Any] = {
            "bold": hashes[Path(task.data_file).name],
            "mask": None if task.mask is None else hashes[Path(task.mask).name],
            "atlas": config.atlas_record(),
            "radius_mm": config.radius_mm,
            "repetition_time": task.repetition_time,
            "voxel_maps": config.voxel_maps,
        }
        if config.voxel_maps:
            image["cleaning"] = cleaning
        signals_key = cache.key("signals", image)
    run_key = cache.key(
        "run",
        {
            "kind": task.kind,
            "inputs": hashes,
            "signals": signals_key,
            "atlas": config.atlas_record(),
            "repetition_time": task.repetition_time,
            "cleaning": cleaning,
            "estimator": config.estimator,
            **({"bundle": bundle} if (bundle := config.bundle_record()) is not None else {}),
        },
    )
    return signals_key, run_key
