"""The pipeline configuration: every analytic choice, named and recorded."""

from __future__ import annotations

from dataclasses import dataclass

from dmnpharm.exceptions import InputError

__all__ = ["RunConfig"]


@dataclass(frozen=True)
class RunConfig:
    """Analytic choices of one ``dmnpharm run``.

    Parameters
    ----------
    atlas : str or None
        Atlas registry name; None takes the one the study's sidecars name (the
        resolved name is what gets recorded).
    contrast : tuple of str
        ``(a, b)``: the paired estimate is ``a - b``, e.g. ``("drug", "placebo")``.
    n_permutations : int
        Random sign flips for the permutation p-values.
    seed : int
        Seed of the sign flips.
    confidence : float
        Level of the confidence intervals.
    strategy : str
        Confound strategy applied to the region signals. ROI-level input is
        used as provided: ``"none"``.
    estimator : str
        Connectivity estimator: Pearson correlation, Fisher z transformed.
    """

    atlas: str | None = None
    contrast: tuple[str, str] = ("drug", "placebo")
    n_permutations: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    strategy: str = "none"
    estimator: str = "pearson_fisher_z"

    def __post_init__(self) -> None:
        """Check values that are wrong whatever the study."""
        if len(self.contrast) != 2 or self.contrast[0] == self.contrast[1]:
            raise InputError(
                f"contrast must name two different conditions as A-B, got {self.contrast!r}"
            )
        if self.n_permutations < 1:
            raise InputError(f"n_permutations must be positive, got {self.n_permutations}")
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence must be between 0 and 1, got {self.confidence}")
        if self.strategy != "none":
            raise InputError(
                f"strategy {self.strategy!r} is not available for ROI-level input; use 'none'"
            )
        if self.estimator != "pearson_fisher_z":
            raise InputError(
                f"estimator {self.estimator!r} is not available; use 'pearson_fisher_z'"
            )
