"""Which regions of a run carry a signal, and whether the run can still be measured.

A region outside the data's coverage (brain mask, signal dropout) or holding
NaN voxels extracts as a constant, empty or non-finite signal, with no defined
correlation. Such regions are left out of that run's measures and listed; the
run itself is excluded, and says why, only when it would no longer measure
what the other runs do: too few DMN regions (``BundleConfig.min_dmn_coverage``),
a network-level measure that cannot be formed, or a group estimator (tangent)
that needs every region in every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import Atlas
from dmnpharm.metrics import TASK_POSITIVE_NETWORKS, BundleConfig

__all__ = ["Coverage", "assess_coverage", "widen"]

#: The DMN's partner networks whose between-network measure the bundle forms.
_PARTNERS = ("SN", "FPN", "DAN")


@dataclass(frozen=True)
class Coverage:
    """The regions of one run that carry a signal, and what that leaves measurable.

    Parameters
    ----------
    covered : numpy.ndarray
        Boolean per atlas region: a finite signal that varies.
    atlas : Atlas
        The study's atlas.
    exclusion : str or None
        Why the run cannot be measured, or None.
    """

    covered: npt.NDArray[np.bool_] = field(repr=False)
    atlas: Atlas = field(repr=False)
    exclusion: str | None = None

    @property
    def complete(self) -> bool:
        """Whether every region has a signal."""
        return bool(self.covered.all())

    @property
    def missing(self) -> list[str]:
        """Labels of the regions without a signal, atlas order."""
        return [self.atlas.labels[i] for i in np.flatnonzero(~self.covered)]

    def describe(self) -> str:
        """Return one sentence naming the regions without a signal (the first 10)."""
        bad = np.flatnonzero(~self.covered)
        named = ", ".join(f"{self.atlas.labels[i]} ({self.atlas.networks[i]})" for i in bad[:10])
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        dmn = sum(self.atlas.networks[i] == "DMN" for i in bad)
        return (
            f"{bad.size} of {self.covered.size} regions ({dmn} of them DMN) have a constant, "
            f"empty or non-finite signal: {named}{more}"
        )

    def record(self) -> dict[str, Any]:
        """Return the run's coverage for provenance (empty when complete)."""
        if self.complete:
            return {}
        dmn = np.asarray(self.atlas.networks) == "DMN"
        return {
            "regions_without_signal": self.missing,
            "n_regions": int(self.covered.size),
            "n_regions_measured": int(self.covered.sum()),
            "dmn_regions_measured": f"{int((self.covered & dmn).sum())} of {int(dmn.sum())}",
            "excluded": self.exclusion,
        }


def _lost_measures(atlas: Atlas, covered: npt.NDArray[np.bool_]) -> list[str]:
    """Name the network-level measures the atlas gives that the covered regions cannot."""
    networks = np.asarray(atlas.networks)
    lost = []
    if atlas.subsystems:
        codes = np.asarray(atlas.subsystems)
        for code in dict.fromkeys(c for c in atlas.subsystems if c):
            members = codes == code
            if members.sum() >= 2 > (members & covered).sum():
                lost.append(f"dmn_{code}_within_fc (fewer than 2 {code} regions left)")
    for partner in _PARTNERS:
        members = networks == partner
        if members.any() and not (members & covered).any():
            lost.append(f"DMN-{partner} connectivity (no {partner} region left)")
    task_positive = np.isin(networks, list(TASK_POSITIVE_NETWORKS))
    if task_positive.any() and not (task_positive & covered).any():
        lost.append("dmn_anticorrelation (no task-positive region left)")
    others = ~np.isin(networks, ["DMN", "NONE"])
    if others.any() and not (others & covered).any():
        lost.append("segregation and participation (no region outside the DMN left)")
    return lost


def assess_coverage(
    data: npt.NDArray[np.float64], atlas: Atlas, config: BundleConfig, estimator: str
) -> Coverage:
    """Find a run's regions without a signal and decide whether it can be measured.

    Parameters
    ----------
    data : numpy.ndarray
        Volumes x regions, atlas order, as extracted.
    atlas : Atlas
        Labels, networks and subsystems of the regions.
    config : BundleConfig
        ``min_dmn_coverage``: the fraction of DMN regions that must carry a
        signal.
    estimator : str
        The connectivity estimator; ``"tangent"`` needs every region in
        every run (one group reference).

    Returns
    -------
    Coverage
        ``exclusion`` says why the run cannot be measured: fewer DMN regions
        than ``min_dmn_coverage`` (or fewer than 2), a network-level measure
        of the atlas that the remaining regions cannot form, or any region
        missing under the tangent estimator. None when the run is measured
        (on its covered regions).
    """
    finite = np.isfinite(data).all(axis=0)
    covered = np.zeros(data.shape[1], dtype=bool)
    covered[finite] = np.ptp(data[:, finite], axis=0) > 0
    coverage = Coverage(covered, atlas)
    if coverage.complete:
        return coverage
    dmn = np.asarray(atlas.networks) == "DMN"
    kept, total = int((covered & dmn).sum()), int(dmn.sum())
    reasons = []
    if kept < 2 or kept < config.min_dmn_coverage * total - 1e-9:
        reasons.append(
            f"{kept} of {total} DMN regions carry a signal, fewer than the "
            f"{config.min_dmn_coverage:.0%} needed (min_dmn_coverage)"
        )
    lost = _lost_measures(atlas, covered)
    if lost:
        reasons.append(f"it could not give {'; '.join(lost)}, which the other runs give")
    if estimator == "tangent":
        reasons.append("the tangent estimator needs every region in every run")
    if not reasons:
        return coverage
    exclusion = (
        f"{coverage.describe()}; {'; and '.join(reasons)}. Check the run's brain mask and "
        "image against the atlas (coverage, signal dropout, NaN voxels)"
    )
    return Coverage(covered, atlas, exclusion)


def widen(
    values: npt.NDArray[np.float64], covered: npt.NDArray[np.bool_], *, square: bool = False
) -> npt.NDArray[np.float64]:
    """Put the covered regions' values back in atlas positions, NaN for the others.

    Parameters
    ----------
    values : numpy.ndarray
        Volumes x covered regions, or (``square``) covered x covered regions.
    covered : numpy.ndarray
        Boolean per atlas region.
    square : bool
        Widen both axes (a connectivity matrix) instead of the columns.

    Returns
    -------
    numpy.ndarray
        Volumes x regions, or regions x regions; ``values`` itself when every
        region is covered.

    Examples
    --------
    >>> widen(np.ones((2, 1)), np.array([False, True])).tolist()
    [[nan, 1.0], [nan, 1.0]]
    """
    if covered.all():
        return values
    index = np.flatnonzero(covered)
    if square:
        full = np.full((covered.size, covered.size), np.nan)
        full[np.ix_(index, index)] = values
        return full
    full = np.full((values.shape[0], covered.size), np.nan)
    full[:, index] = values
    return full
