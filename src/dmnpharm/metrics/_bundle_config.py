"""The metrics bundle's settings: a plain value, cheap to import (configurations hold it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._estimators import ESTIMATORS
from dmnpharm.signal import ALFF_BAND

__all__ = ["BundleConfig"]


@dataclass(frozen=True)
class BundleConfig:
    """What the bundle computes, and with which settings (all recorded).

    Parameters
    ----------
    estimator : str
        A key of :data:`ESTIMATORS`.
    regions : bool
        Also give per-region rows (GBC, ALFF/fALFF, DMN node degree and
        participation, entropy and complexity of DMN regions).
    edges : bool
        Also give one row per pair of DMN regions.
    density : float
        Proportional threshold for degree and participation (fraction of
        the strongest positive edges kept).
    window_s : float
        Sliding-window length in seconds.
    window_step : int
        Shift between windows in volumes.
    entropy_m : int
        Sample entropy template length.
    entropy_r : float
        Sample entropy tolerance in SDs of the signal.
    band : tuple of float
        ALFF band in Hz.
    min_dmn_coverage : float
        Fraction of the atlas's DMN regions that must have a signal in a run
        (not constant, empty or non-finite) for the run to be measured; the
        regions without one are left out of its measures and listed. Below
        it, "the DMN" of that run would be a different set of regions from
        the other runs', so the run is excluded and says why. Default 0.8: a
        judgement, not a published standard (XCP-D's ``--min-coverage`` of
        0.5 is about the voxels of one parcel, a different question).
    """

    estimator: str = "pearson"
    regions: bool = True
    edges: bool = True
    density: float = 0.1
    window_s: float = 60.0
    window_step: int = 1
    entropy_m: int = 2
    entropy_r: float = 0.2
    band: tuple[float, float] = ALFF_BAND
    min_dmn_coverage: float = 0.8

    def __post_init__(self) -> None:
        """Check the settings."""
        if self.estimator not in ESTIMATORS:
            raise InputError(
                f"estimator {self.estimator!r} is not known; use one of {', '.join(ESTIMATORS)}"
            )
        if not 0 < self.density < 1:
            raise InputError(f"density must be between 0 and 1; got {self.density!r}")
        if not (math.isfinite(self.window_s) and self.window_s > 0) or self.window_step < 1:
            raise InputError("window_s must be positive and window_step at least 1")
        if not 0 < self.min_dmn_coverage <= 1:
            raise InputError(f"min_dmn_coverage must be in (0, 1]; got {self.min_dmn_coverage!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return {**asdict(self), "band": list(self.band)}

    def length_problems(self, n_volumes: int, repetition_time: float) -> list[str]:
        """Return why a run is too short for the bundle's windows and ALFF band.

        Parameters
        ----------
        n_volumes : int
            Volumes of the run.
        repetition_time : float
            Seconds.

        Returns
        -------
        list of str
            The run must hold at least two sliding windows (``window_s``
            rounded to volumes, shifted by ``window_step``), so that windowed
            FC can vary, and last one period of the ALFF band's lowest
            frequency (``1 / band[0]`` seconds) for that frequency to be
            resolved.

        Examples
        --------
        >>> BundleConfig().length_problems(8, 2.0)[0][:34]
        'has 8 volumes, too few for two 60 '
        """
        problems = []
        duration = n_volumes * repetition_time
        width = round(self.window_s / repetition_time)
        if n_volumes < width + self.window_step:
            problems.append(
                f"has {n_volumes} volumes, too few for two {self.window_s:g} s sliding windows "
                f"({width} volumes each at {repetition_time:g} s; dynamic FC); the bundle needs "
                "a longer run"
            )
        lowest = self.band[0]
        if duration < 1.0 / lowest - 1e-9:
            problems.append(
                f"lasts {duration:g} s, shorter than one period of the ALFF band's lowest "
                f"frequency {lowest:g} Hz ({1.0 / lowest:g} s); ALFF needs a longer run"
            )
        return problems
