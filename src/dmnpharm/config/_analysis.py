"""The pipeline configuration: every analytic choice, named and recorded."""

from __future__ import annotations

from dataclasses import dataclass, field

from dmnpharm.exceptions import InputError
from dmnpharm.io import DEFAULT_SPACE
from dmnpharm.metrics import ESTIMATORS
from dmnpharm.signal import DenoiseConfig

__all__ = ["GSR_SENSITIVITY", "PRIMARY", "RunConfig"]

#: Name of the analysis with the configured cleaning, and of its GSR counterpart.
PRIMARY = "primary"
GSR_SENSITIVITY = "gsr_sensitivity"


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
    denoise : DenoiseConfig
        Confound strategy, censoring and filtering applied to every run's region
        signals with the run's fMRIPrep confounds (``DenoiseConfig("none")``:
        signals used as provided).
    estimator : str
        Connectivity estimator (:data:`dmnpharm.metrics.ESTIMATORS`):
        ``pearson`` (Fisher z), ``partial`` (Ledoit-Wolf partial correlation,
        Fisher z) or ``tangent`` (tangent space at the geometric mean of all
        included runs' covariances, per analysis).
    space : str
        fMRIPrep output space analysed (BIDS studies).
    radius_mm : float
        Sphere radius of coordinate atlases at voxel level.
    allow_failures : bool
        Go on without runs that cannot be read (listed in the outputs);
        otherwise such a run stops the analysis before anything is written.
    gsr_sensitivity : bool
        Where a run's confounds have ``global_signal`` (and the strategy is not
        ``36p``), also clean it with GSR toggled and store those metrics too,
        marked ``analysis = gsr_sensitivity``; they get their own group test.
    drug : str or None
        Agent or drug class of the evidence catalog to compare the results
        with (``dmnpharm compare``); None skips the comparison.
    population : str
        Catalog population of the comparison: ``healthy``, ``patients`` or a
        population id.
    voxel_maps : bool
        BIDS studies: also write each run's ALFF, fALFF and PCC/aMPFC seed
        correlation maps (from the same read of the image) under ``voxel_maps/``.
    between : str or None
        A between-subject design instead of the paired contrast: the
        participants column compared (e.g. ``medication``, ``group``), for
        observational cohorts and patient/control studies. Each subject's runs
        are averaged; ``contrast`` is then unused.
    between_contrast : tuple of str or None
        ``(a, b)`` levels of ``between`` compared (A minus B); None when the
        column has exactly two levels.
    covariates : tuple of str
        Subject-level nuisance covariates of the between-subject model (e.g.
        ``age``), from the participants table.
    block : str or None
        Exchangeability blocks of the between-subject permutations (e.g.
        ``site``): labels are permuted within blocks only.
    """

    atlas: str | None = None
    contrast: tuple[str, str] = ("drug", "placebo")
    n_permutations: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    denoise: DenoiseConfig = field(default_factory=lambda: DenoiseConfig("none"))
    estimator: str = "pearson"
    space: str = DEFAULT_SPACE
    radius_mm: float = 5.0
    allow_failures: bool = False
    gsr_sensitivity: bool = True
    voxel_maps: bool = False
    drug: str | None = None
    population: str = "healthy"
    between: str | None = None
    between_contrast: tuple[str, str] | None = None
    covariates: tuple[str, ...] = ()
    block: str | None = None

    @property
    def strategy(self) -> str:
        """Name of the denoising strategy (e.g. ``acompcor+gsr``)."""
        return str(self.denoise.name)

    def __post_init__(self) -> None:
        """Check values that are wrong whatever the study."""
        if len(self.contrast) != 2 or self.contrast[0] == self.contrast[1]:
            raise InputError(
                f"contrast must name two different conditions as A-B, got {self.contrast!r}"
            )
        if self.between is None and (self.between_contrast or self.covariates or self.block):
            raise InputError(
                "between_contrast, covariates and block belong to a between-subject design; "
                "name its column with between (--between)"
            )
        if self.between_contrast is not None and (
            len(self.between_contrast) != 2 or self.between_contrast[0] == self.between_contrast[1]
        ):
            raise InputError(
                "between_contrast must name two different levels as A B, got "
                f"{self.between_contrast!r}"
            )
        if self.n_permutations < 1:
            raise InputError(f"n_permutations must be positive, got {self.n_permutations}")
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence must be between 0 and 1, got {self.confidence}")
        if self.estimator not in ESTIMATORS:
            raise InputError(
                f"estimator {self.estimator!r} is not available; use one of "
                f"{', '.join(ESTIMATORS)}"
            )
