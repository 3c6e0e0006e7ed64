"""The analysis configuration: every analytic choice, its default and its check, once.

:class:`AnalysisConfig` gathers what the layers below define (the confound
strategy of :mod:`dmnpharm.signal`, the metrics bundle of
:mod:`dmnpharm.metrics`, the group model of :mod:`dmnpharm.stats`) with the
atlas, the inference settings and the execution settings. It is frozen,
validated when made, recorded in every output's provenance and hashed into the
analysis id; :meth:`AnalysisConfig.replace` gives a changed copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.config._execution import Execution
from dmnpharm.exceptions import InputError
from dmnpharm.io import DEFAULT_SPACE
from dmnpharm.metrics import BundleConfig
from dmnpharm.signal import DEFAULT_DENOISE, DenoiseConfig
from dmnpharm.stats import CONFIDENCE, MOTION_PERMUTATIONS, N_PERMUTATIONS, ModelSpec

__all__ = [
    "DEFAULT_CONTRAST",
    "GSR_SENSITIVITY",
    "PRIMARY",
    "RUN_COVARIATES",
    "AnalysisConfig",
    "Inference",
    "between_model",
    "paired_model",
]

#: Name of the analysis with the configured cleaning, and of its GSR counterpart.
PRIMARY = "primary"
GSR_SENSITIVITY = "gsr_sensitivity"

#: The paired contrast of a crossover study: drug minus placebo.
DEFAULT_CONTRAST = ("drug", "placebo")

#: The within-subject column of the design that names each session's condition.
_CONDITION = "condition"


#: Per-run QC values the paired model may adjust for (``run --motion-covariate``: mean FD).
RUN_COVARIATES = ("mean_fd", "max_fd", "mean_std_dvars", "percent_censored")


def paired_model(
    contrast: tuple[str, str] = DEFAULT_CONTRAST,
    incomplete: str = "refuse",
    run_covariates: tuple[str, ...] = (),
) -> ModelSpec:
    """Return the paired model of a crossover: ``condition`` level A minus level B.

    Parameters
    ----------
    contrast : tuple of str
        ``(a, b)``: the estimate is ``a - b``, e.g. ``("drug", "placebo")``.
    incomplete : str
        ``refuse`` (default): a participant lacking a condition of the
        contrast stops the analysis before any work, named; ``drop``: such
        participants are left out and listed in the results.
    run_covariates : tuple of str
        Per-run QC values from :data:`RUN_COVARIATES` adjusted for: each
        enters as its within-subject change, uncentred, so the estimate is
        the change at equal motion (``("mean_fd",)``: ``--motion-covariate``).

    Returns
    -------
    ModelSpec
        Within-subject contrast of the ``condition`` column (sign flips).
    """
    return ModelSpec(
        within=_CONDITION,
        contrast=(contrast[0], contrast[1]),
        incomplete=incomplete,
        run_covariates=tuple(run_covariates),
    )


def between_model(
    column: str,
    contrast: tuple[str, str] | None = None,
    covariates: tuple[str, ...] = (),
    block: str | None = None,
) -> ModelSpec:
    """Return a between-subject model: two levels of a participants column compared.

    Parameters
    ----------
    column : str
        The participants column compared (e.g. ``medication``, ``group``).
    contrast : tuple of str or None
        ``(a, b)`` levels compared (A minus B); None when the column has two.
    covariates : tuple of str
        Subject-level nuisance covariates (e.g. ``age``).
    block : str or None
        Exchangeability blocks (e.g. ``site``): labels permuted within blocks.

    Returns
    -------
    ModelSpec
        Each subject's runs averaged, OLS with the covariates, permutation.
    """
    return ModelSpec(
        between=column, between_contrast=contrast, covariates=tuple(covariates), block=block
    )


@dataclass(frozen=True)
class Inference:
    """How group tests are made: permutations, their seed, interval level.

    Parameters
    ----------
    n_permutations : int
        Random sign flips or relabellings of the group test (exact enumeration
        when there are fewer distinct ones).
    seed : int
        Seed of the permutations; the same seed gives the same p-values.
    confidence : float
        Level of the confidence intervals.
    motion_permutations : int
        Permutations of the test of motion and censoring between conditions
        or groups.
    """

    n_permutations: int = N_PERMUTATIONS
    seed: int = 0
    confidence: float = CONFIDENCE
    motion_permutations: int = MOTION_PERMUTATIONS

    def __post_init__(self) -> None:
        """Check the values."""
        for name in ("n_permutations", "motion_permutations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer, got {self.seed!r}")
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence must be between 0 and 1, got {self.confidence}")


def _check_model(model: ModelSpec) -> None:
    """Refuse group models that the per-run pipeline cannot fit (``dmnpharm stats`` can)."""
    if model.trend is not None or model.test_covariate is not None:
        raise InputError(
            "an analysis fits the paired contrast of 'condition' or a between-subject "
            "comparison; for dose trends and brain-behaviour tests run 'dmnpharm stats' on "
            "its metrics.parquet"
        )
    unknown = [c for c in model.run_covariates if c not in RUN_COVARIATES]
    if unknown:
        raise InputError(
            f"run covariates {unknown} are not per-run QC values an analysis computes; use "
            f"{', '.join(RUN_COVARIATES)}"
        )
    if model.between is not None:
        if model.run_covariates:
            raise InputError(
                "run covariates (--motion-covariate) adjust a paired contrast; a between-subject "
                "model takes subject-level covariates (--covariate)"
            )
        if model.within is not None:
            raise InputError(
                "give either a paired contrast (within) or a between-subject column, not "
                "both; for group x time designs run 'dmnpharm stats' on metrics.parquet"
            )
        contrast = model.between_contrast
        if contrast is not None and (len(contrast) != 2 or contrast[0] == contrast[1]):
            raise InputError(
                f"between_contrast must name two different levels as A B, got {contrast!r}"
            )
        return
    if model.covariates or model.block is not None or model.between_contrast is not None:
        raise InputError(
            "between_contrast, covariates and block belong to a between-subject design; "
            "name its column with between (--between)"
        )
    contrast = model.contrast
    if model.within != _CONDITION or contrast is None:
        raise InputError(
            f"the paired model compares two levels of '{_CONDITION}'; got within="
            f"{model.within!r}, contrast={contrast!r}"
        )
    if len(contrast) != 2 or contrast[0] == contrast[1]:
        raise InputError(f"contrast must name two different conditions as A-B, got {contrast!r}")


@dataclass(frozen=True)
class AnalysisConfig:
    """Every analytic choice of one analysis of a study, with its default.

    Parameters
    ----------
    atlas : str or Atlas or None
        Atlas registry name, a path to a user's atlas file (read when the
        study is resolved, see :func:`dmnpharm.atlases.load_atlas`), or an
        :class:`~dmnpharm.atlases.Atlas` (e.g. from ``coords_atlas``), which
        travels by value to every worker; None takes the one the study's
        sidecars name (ROI-level studies) or ``seitzman300`` (BIDS studies).
        A registered atlas is recorded by name, a user's by its content
        (:meth:`atlas_record`).
    space : str
        fMRIPrep output space analysed (BIDS studies).
    radius_mm : float
        Sphere radius of coordinate atlases at voxel level.
    denoise : DenoiseConfig
        Confound strategy, censoring and filtering applied to every run's
        region signals with the run's fMRIPrep confounds. Default
        :data:`dmnpharm.signal.DEFAULT_DENOISE`: aCompCor, censoring at FD >
        0.5 mm or std-DVARS > 1.5, 0.01-0.08 Hz band-pass, no GSR (Ciric et
        al. 2017; Parkes et al. 2018); ``DenoiseConfig("none")`` uses the
        signals as provided.
    bundle : BundleConfig
        The metrics bundle: connectivity estimator (``pearson``, ``partial``
        or ``tangent``), graph density, sliding window, entropy settings.
    model : ModelSpec
        The group model: :func:`paired_model` (default: drug minus placebo
        within subject) or :func:`between_model` (a participants column
        compared, with covariates and blocks).
    inference : Inference
        Permutations, their seed, the confidence level.
    gsr_sensitivity : bool
        Where a run's confounds have ``global_signal`` (and the strategy is
        not ``36p``), also clean it with GSR toggled and test those metrics
        too, marked ``analysis = gsr_sensitivity``.
    voxel_maps : bool
        BIDS studies: also make each run's ALFF, fALFF and PCC/aMPFC seed maps
        from the same read of the image.
    drug : str or None
        Agent or drug class of the evidence catalog to compare the results
        with; None skips the comparison.
    population : str
        Catalog population of the comparison: ``healthy``, ``patients`` or a
        population id.
    receptors : str or None
        Receptor maps (a hansen_receptors folder, a regions x targets table,
        a CIFTI pscalar or a folder of NIfTI volumes) for the prediction of
        ``drug`` beside the catalog comparison (``OUT/predict/`` and a report
        section); None skips it. Recorded only when given.
    allow_failures : bool
        Go on without runs that fail while computing (listed in the results,
        report and provenance); otherwise such runs end the analysis in an
        error before any group result is written.
    execution : Execution
        Where per-run work runs and is cached. It changes no number and is
        not part of the analysis id.

    Examples
    --------
    >>> from dmnpharm import AnalysisConfig
    >>> from dmnpharm.signal import DEFAULT_DENOISE, DenoiseConfig
    >>> AnalysisConfig().denoise.is_default
    True
    >>> config = AnalysisConfig(denoise=DenoiseConfig("24p", fd_threshold=0.5))
    >>> config.strategy, config.estimator, config.contrast
    ('24p', 'pearson', ('drug', 'placebo'))
    """

    atlas: str | Atlas | None = None
    space: str = DEFAULT_SPACE
    radius_mm: float = 5.0
    denoise: DenoiseConfig = field(default_factory=lambda: DEFAULT_DENOISE)
    bundle: BundleConfig = field(default_factory=BundleConfig)
    model: ModelSpec = field(default_factory=paired_model)
    inference: Inference = field(default_factory=Inference)
    gsr_sensitivity: bool = True
    voxel_maps: bool = False
    drug: str | None = None
    population: str = "healthy"
    receptors: str | None = None
    allow_failures: bool = False
    execution: Execution = field(default_factory=Execution)

    def __post_init__(self) -> None:
        """Check the choices that are wrong whatever the study."""
        _check_model(self.model)
        if not self.radius_mm > 0:
            raise InputError(f"radius_mm must be positive, got {self.radius_mm}")
        if self.receptors is not None and self.drug is None:
            raise InputError(
                "receptors are for predicting a drug's effect: give the drug too (--drug AGENT)"
            )

    def replace(self, **changes: Any) -> AnalysisConfig:
        """Return a copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        AnalysisConfig
            The changed copy.
        """
        return dataclasses.replace(self, **changes)

    @property
    def atlas_name(self) -> str:
        """The atlas's name (``"seitzman300"``, or a user atlas's), ``""`` when unresolved."""
        if self.atlas is None:
            return ""
        return self.atlas.name if isinstance(self.atlas, Atlas) else str(self.atlas)

    def atlas_object(self) -> Atlas:
        """Return the atlas itself: a user's atlas as carried, a registered one loaded.

        Returns
        -------
        Atlas
            The regions every run is measured on.

        Raises
        ------
        ValueError
            If the atlas is not resolved yet (``atlas`` is None).
        """
        if self.atlas is None:
            raise ValueError("the atlas must be resolved first")
        return self.atlas if isinstance(self.atlas, Atlas) else load_atlas(self.atlas)

    def atlas_record(self) -> str | dict[str, Any] | None:
        """Return how the atlas is recorded and hashed: its name, or a user atlas's content.

        Returns
        -------
        str or dict or None
            A registered atlas's name; for a user's atlas its name, source
            file, region and network counts and content fingerprint (so a
            changed table or image is another analysis and another cache key).
        """
        if not isinstance(self.atlas, Atlas):
            return self.atlas
        atlas = self.atlas
        networks = {n: atlas.networks.count(n) for n in sorted(set(atlas.networks))}
        return {
            "name": atlas.name,
            "source": atlas.source,
            "image": atlas.image,
            "n_regions": atlas.n_regions,
            "networks": networks,
            "fingerprint": atlas.fingerprint,
        }

    @property
    def strategy(self) -> str:
        """Name of the denoising strategy (e.g. ``acompcor+gsr``)."""
        return str(self.denoise.name)

    @property
    def estimator(self) -> str:
        """The connectivity estimator of the metrics bundle."""
        return self.bundle.estimator

    @property
    def between(self) -> str | None:
        """The participants column of a between-subject model, else None (paired)."""
        return self.model.between

    @property
    def contrast(self) -> tuple[str, str]:
        """The paired contrast ``(a, b)`` (the default one for a between-subject model)."""
        return self.model.contrast if self.model.contrast is not None else DEFAULT_CONTRAST

    def record(self) -> dict[str, Any]:
        """Return the choices as recorded in the provenance and hashed into the analysis id.

        Returns
        -------
        dict
            JSON-ready. Bundle and motion-test settings appear only when they
            differ from their defaults, so that analyses made before they could
            be chosen keep their ids.
        """
        model = self.model
        record: dict[str, Any] = {
            "atlas": self.atlas_record(),
            "contrast": self.contrast,
            "n_permutations": self.inference.n_permutations,
            "seed": self.inference.seed,
            "confidence": self.inference.confidence,
            "denoise": self.denoise.to_dict(),
            "denoise_default": self.denoise.is_default,
            "estimator": self.estimator,
            "space": self.space,
            "radius_mm": self.radius_mm,
            "allow_failures": self.allow_failures,
            "gsr_sensitivity": self.gsr_sensitivity,
            "voxel_maps": self.voxel_maps,
            "drug": self.drug,
            "population": self.population,
            "between": model.between,
            "between_contrast": model.between_contrast,
            "covariates": model.covariates,
            "block": model.block,
        }
        if self.bundle != BundleConfig(estimator=self.estimator):
            record["bundle"] = self.bundle.to_dict()
        if self.receptors is not None:
            record["receptors"] = self.receptors
        if model.incomplete != "refuse":
            record["incomplete"] = model.incomplete
        if self.inference.motion_permutations != MOTION_PERMUTATIONS:
            record["motion_permutations"] = self.inference.motion_permutations
        return record

    def bundle_record(self) -> dict[str, Any] | None:
        """Return the bundle settings when they differ from the defaults, else None.

        Returns
        -------
        dict or None
            What the per-run cache key adds for non-default bundle settings.
        """
        if self.bundle == BundleConfig(estimator=self.estimator):
            return None
        return self.bundle.to_dict()
