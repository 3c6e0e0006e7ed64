"""The group model's specification: which design columns it uses (cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """Which design columns the group model uses (see the module table).

    Parameters
    ----------
    within : str, optional
        Within-subject factor column (e.g. ``condition``, ``session_id``).
    contrast : tuple of str, optional
        ``(a, b)`` levels of ``within``: the change ``a - b``.
    between : str, optional
        Between-subject factor column (e.g. ``group``, ``arm``, ``medication``).
    between_contrast : tuple of str, optional
        ``(a, b)`` levels of ``between`` compared (A minus B).
    covariates : tuple of str
        Subject-level nuisance covariates (mean-centred).
    run_covariates : tuple of str
        Run-level (within-subject) nuisance covariates, e.g. ``mean_fd`` or
        ``percent_censored``. In change models each enters as its
        within-subject difference between the contrast's levels, *not*
        centred, so the paired estimate (the intercept) is the change at equal
        covariate, e.g. the drug effect at equal motion. In repeated measures
        each enters per subject and level beside the subject intercepts.
    test_covariate : str, optional
        A subject-level covariate whose association is tested.
    trend : str, optional
        Numeric run-level column (e.g. ``dose_mg``) whose within-subject
        linear trend is tested.
    block : str, optional
        Subject-level block column (e.g. ``site``).
    subject : str
        Subject column.
    incomplete : str
        ``refuse`` (default) or ``drop``: what to do with subjects lacking a
        level of ``within`` that the analysis needs. Dropped subjects are
        listed in the log and the result.
    variance_groups : str
        Two-group comparisons (between subjects, and group x time on
        changes): ``auto`` (default) gives each group its own error variance
        (the G statistic, Aspin-Welch v, with sign flips; Winkler et al. 2014)
        when the groups differ in size, where unequal variances make OLS
        miscalibrated; ``on`` always; ``off`` never (OLS t, permutations).
    """

    within: str | None = None
    contrast: tuple[str, str] | None = None
    between: str | None = None
    between_contrast: tuple[str, str] | None = None
    covariates: tuple[str, ...] = ()
    run_covariates: tuple[str, ...] = ()
    test_covariate: str | None = None
    trend: str | None = None
    block: str | None = None
    subject: str = "participant_id"
    incomplete: str = "refuse"
    variance_groups: str = "auto"
