"""Per-run work as a pure task: input files and configuration in, results out.

A :class:`RunTask` names everything one run's work depends on (its files, the
analytic choices, the atlas); :func:`dmnpharm.run._work.execute_run` does that
work in whatever process runs it and returns a :class:`TaskOutcome`. These
classes need nothing heavy, so a study can be planned and hashed before SciPy
and friends are imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dmnpharm.run._config import RunConfig

if TYPE_CHECKING:
    from dmnpharm.run._process import ProcessedRun

__all__ = ["RunTask", "Signals", "TaskOutcome"]


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
        ``roi`` (a region time-series TSV) or ``bids`` (an fMRIPrep image).
    data_file : str
        The time-series TSV or the preprocessed BOLD image.
    repetition_time : float
        Seconds.
    config : RunConfig
        Analytic choices, with the atlas resolved.
    confounds : str or None
        The run's fMRIPrep confounds TSV.
    mask : str or None
        The run's brain mask (BIDS).
    n_volumes : int or None
        Volumes of the image, from its header (BIDS).
    """

    label: str
    source: str
    kind: str
    data_file: str
    repetition_time: float
    config: RunConfig
    confounds: str | None = None
    mask: str | None = None
    n_volumes: int | None = None

    def input_files(self) -> tuple[str, ...]:
        """Return every file the run's results depend on (sidecars included)."""
        files = [self.data_file, self.confounds, self.mask]
        if self.kind == "roi":
            files.append(str(Path(self.data_file).with_suffix(".json")))
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
    """

    data: npt.NDArray[np.float64] = field(repr=False)
    maps: dict[str, bytes] = field(default_factory=dict, repr=False)
    maps_note: str = ""


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
    """

    label: str
    processed: ProcessedRun | None
    error: str | None = None
    signals: Signals | None = field(default=None, repr=False)
