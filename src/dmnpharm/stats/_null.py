"""The permutation null distributions behind a test's p-values, kept for inspection.

A permutation test counts how often the statistic of permuted (or sign-flipped)
data reaches the observed one. :class:`PermutationNull` keeps those permuted
statistics (per measure, and their maximum over measures for the family-wise
error) so that a report can draw them and anyone can recount the p-values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError

__all__ = ["NULL_MEASURE_LIMIT", "NullTally", "PermutationNull"]

Array = npt.NDArray[np.float64]

#: Tables with more measures than this keep only the maximum-statistic null
#: (10,000 permutations x 200 measures is 16 MB as float64).
NULL_MEASURE_LIMIT = 200

#: A permuted statistic within this relative distance below the observed one
#: counts as reaching it (the identity permutation must count despite rounding).
TIE_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class PermutationNull:
    """Permuted statistics of a group test, from which its p-values are counted.

    A permuted statistic is "at least as extreme" as the observed one when
    ``|null| >= |observed| * (1 - tie_rtol)`` (two-sided t; F: without the
    absolute values). With random permutations ``p = (count + 1) / (B + 1)``
    (the observed labelling counted once); when every sign flip was
    enumerated (``exact``), the identity is among the ``B`` rows and
    ``p = count / B``.

    Parameters
    ----------
    statistic : str
        ``"t"`` (signed; two-sided p-values) or ``"F"`` (one-sided).
    maximum : numpy.ndarray
        Per permutation (length ``B``), the largest ``|t|`` (or F) over all
        measures: the null of the maximum statistic that gives ``p_fwer``.
    per_measure : numpy.ndarray or None
        ``B x measures``: each measure's statistic under each permutation.
        None when the table had more than :data:`NULL_MEASURE_LIMIT` measures
        (only ``maximum`` is kept then, to bound memory).
    measures : tuple of str
        Names of the columns of ``per_measure`` (empty when unnamed).
    exact : bool
        Whether every sign flip was enumerated (identity included).
    tie_rtol : float
        Relative tolerance for ties with the observed statistic.
    """

    statistic: str
    maximum: Array
    per_measure: Array | None = None
    measures: tuple[str, ...] = field(default=())
    exact: bool = False
    tie_rtol: float = TIE_RTOL

    @property
    def n_permutations(self) -> int:
        """Rows of the null (``B``)."""
        return int(self.maximum.shape[0])

    def _extreme(self, observed: npt.ArrayLike) -> Array:
        target = np.asarray(observed, dtype=np.float64)
        if self.statistic == "t":
            target = np.abs(target)
        limit: Array = target * (1 - self.tie_rtol)
        return limit

    def _p(self, count: Array) -> Array:
        if self.exact:
            return count / self.n_permutations
        return (count + 1) / (self.n_permutations + 1)

    def for_measure(self, measure: str) -> Array:
        """Return the permuted statistics of one measure.

        Parameters
        ----------
        measure : str
            A name in :attr:`measures`.

        Returns
        -------
        numpy.ndarray
            Length ``B``.

        Raises
        ------
        InputError
            If per-measure values were not kept or the measure is unknown.
        """
        if self.per_measure is None:
            raise InputError(
                "only the maximum-statistic null was kept (more than "
                f"{NULL_MEASURE_LIMIT} measures)"
            )
        if measure not in self.measures:
            raise InputError(f"measure {measure!r} is not in the permutation null")
        column: Array = self.per_measure[:, self.measures.index(measure)]
        return column

    def p_uncorrected(self, observed: npt.ArrayLike) -> Array:
        """Count each measure's permutation p-value from its null.

        Parameters
        ----------
        observed : array_like
            The observed statistic per measure, in the order of :attr:`per_measure`.

        Returns
        -------
        numpy.ndarray
            One p-value per measure.

        Raises
        ------
        InputError
            If per-measure values were not kept.
        """
        if self.per_measure is None:
            raise InputError("only the maximum-statistic null was kept")
        null = np.abs(self.per_measure) if self.statistic == "t" else self.per_measure
        count = (null >= self._extreme(observed)[None, :]).sum(axis=0).astype(np.float64)
        return self._p(count)

    def p_fwer(self, observed: npt.ArrayLike) -> Array:
        """Count family-wise error p-values from the maximum-statistic null.

        Parameters
        ----------
        observed : array_like
            Observed statistics (any shape).

        Returns
        -------
        numpy.ndarray
            The share of permutations whose maximum reaches each statistic.
        """
        ordered = np.sort(self.maximum)
        limits = self._extreme(observed)
        count = (ordered.size - np.searchsorted(ordered, limits, side="left")).astype(np.float64)
        return self._p(count)

    @fill_doc
    def fwer_threshold(self, alpha: float = 0.05) -> float:
        """Return the critical statistic of the family-wise test at level ``alpha``.

        Parameters
        ----------
        %(alpha)s
            It is the family-wise error rate of the test.

        Returns
        -------
        float
            A value ``c`` of the null maximum such that any statistic (``|t|``
            or F) above ``c`` has ``p_fwer <= alpha``; ``inf`` when too few
            permutations were drawn to reach ``alpha``.

        Raises
        ------
        InputError
            If ``alpha`` is not between 0 and 1.
        """
        if not 0 < alpha < 1:
            raise InputError(f"alpha must lie between 0 and 1; got {alpha!r}")
        b = self.n_permutations
        # largest count of maxima above c that keeps p <= alpha
        reach = alpha * b if self.exact else alpha * (b + 1) - 1
        allowed = int(np.floor(reach + 1e-9))
        if allowed < 0:
            return float("inf")
        descending = np.sort(self.maximum)[::-1]
        return float(descending[min(allowed, b - 1)])


class NullTally:
    """Count, batch by batch, how often two-sided permuted statistics reach the observed.

    The loop shared by tests that stream their null (sign flips of G, swapped
    time points): per measure the count behind ``p_uncorrected``, per
    permutation the largest ``|statistic|`` behind ``p_fwer``, and the
    per-measure null itself when there are at most :data:`NULL_MEASURE_LIMIT`
    measures.

    Parameters
    ----------
    observed : numpy.ndarray
        The observed statistic per measure (signed).
    n_permutations : int
        Permutations that will be added (the identity not among them).
    """

    def __init__(self, observed: npt.ArrayLike, n_permutations: int) -> None:
        observed_ = np.asarray(observed, dtype=np.float64)
        self.threshold = np.abs(observed_) * (1 - TIE_RTOL)
        self.count = np.zeros(observed_.size)
        self.row_max = np.empty(n_permutations)
        fits = observed_.size <= NULL_MEASURE_LIMIT
        self.kept = np.empty((n_permutations, observed_.size)) if fits else None

    def add(self, start: int, null: npt.ArrayLike) -> None:
        """Add permutations ``start ...`` (rows of ``null``, permutations x measures)."""
        values = np.asarray(null, dtype=np.float64)
        stop = start + values.shape[0]
        if self.kept is not None:
            self.kept[start:stop] = values
        self.count += (np.abs(values) >= self.threshold).sum(axis=0)
        self.row_max[start:stop] = np.abs(values).max(axis=1)

    def result(self) -> tuple[Array, Array, PermutationNull]:
        """Return ``p_uncorrected``, ``p_fwer`` (``(count + 1) / (B + 1)``) and the null."""
        b = self.row_max.size
        ordered = np.sort(self.row_max)
        reaching = ordered.size - np.searchsorted(ordered, self.threshold, side="left")
        p_fwer: Array = (reaching + 1) / (b + 1)
        p: Array = (self.count + 1) / (b + 1)
        return p, p_fwer, PermutationNull("t", self.row_max, self.kept)
