"""Group models from a tidy metrics table: design, contrast, exchangeability, test.

:class:`ModelSpec` names design columns; :func:`analyse` picks the analysis they
describe, builds the design matrix and the exchangeability structure, runs the
permutation test on every measure at once and returns the result table (with the
columns of :data:`RESULT_COLUMNS` and a few more), the design and a readable
summary of the model and the permutation scheme.

===========================================  ===========================================
Options                                      Analysis (permutation scheme)
===========================================  ===========================================
``within`` + ``contrast``                    paired: per-subject a - b, one-sample t
                                             (sign flips; subjects are the blocks)
``within`` (3+ levels), no contrast          repeated measures F over the levels
                                             (permutation within subject)
``within`` + ``trend``                       within-subject linear trend in ``trend``
                                             (permutation within subject)
``within`` + ``contrast`` + ``between``      group x within interaction: between-group
                                             difference of per-subject changes
                                             (subjects permuted)
``within`` + ``contrast`` + ``test_covariate``  brain-behaviour: change vs covariate
``between`` (+ ``between_contrast``)         groups: t (two levels) or F (more)
``test_covariate`` alone                     association with a subject covariate
===========================================  ===========================================

``covariates`` are subject-level nuisance regressors (numeric: centred; text:
dummy coded); ``block`` (e.g. site) adds block intercepts and restricts
permutations to within blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import (
    CONFIDENCE,
    EFFECT_CI,
    EFFECT_CI_METHODS,
    N_BOOTSTRAP,
    N_PERMUTATIONS,
)
from dmnpharm.stats._designs import _change_model, _subject_model
from dmnpharm.stats._model_parts import (
    EXTRA_COLUMNS,
    ModelSpec,
    StatsResult,
    _need_column,
    _need_level,
)
from dmnpharm.stats._repeated import _repeated_model

__all__ = ["EXTRA_COLUMNS", "ModelSpec", "StatsResult", "analyse"]


@fill_doc
def analyse(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    n_bootstrap: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    effect_ci: str = EFFECT_CI,
) -> StatsResult:
    """Fit the group model ``spec`` to every measure of a tidy metrics table.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics: ``participant_id`` (or ``spec.subject``), ``measure``,
        ``value`` and the design columns the spec names.
    spec : ModelSpec
        The model.
    %(n_permutations)s
    %(seed)s
    %(n_bootstrap)s
        0 skips the bootstrap (its intervals are NaN).
    %(confidence)s
        It sets the parametric interval of the estimate and the interval of
        the effect size.
    effect_ci : str
        Interval of the paired effect size d_z: ``noncentral-t`` (default,
        :func:`~dmnpharm.stats.dz_interval`, exact for normal differences, no
        resampling) or ``bootstrap`` (percentile bootstrap over subjects,
        ``n_bootstrap`` resamples, :func:`~dmnpharm.stats.bootstrap_ci`).
        Hedges' g and Pearson r always use the bootstrap.

    Returns
    -------
    StatsResult
        Results (FWER over all measures by the maximum statistic, BH FDR),
        the design and a summary.

    Raises
    ------
    InputError
        Missing columns or levels (the closest names are suggested), too few
        subjects, a rank-deficient design (the columns are named), subjects
        lacking a level (unless dropped by option) or non-finite values.
    """
    for column in (spec.subject, "measure", "value"):
        _need_column(table, column, "required")
    if spec.variance_groups not in ("auto", "on", "off"):
        raise InputError(
            f"variance_groups must be 'auto', 'on' or 'off', got {spec.variance_groups!r}"
        )
    if effect_ci not in EFFECT_CI_METHODS:
        raise InputError(
            f"effect_ci must be one of {', '.join(EFFECT_CI_METHODS)}; got {effect_ci!r}"
        )
    if spec.incomplete not in ("refuse", "drop"):
        raise InputError(f"incomplete must be 'refuse' or 'drop', got {spec.incomplete!r}")
    values = pd.to_numeric(table["value"], errors="coerce")
    if not np.isfinite(values).all():
        bad = table.index[~np.isfinite(values)][:5].tolist()
        raise InputError(f"the value column has missing or non-finite entries (rows {bad})")
    optional: tuple[tuple[str | None, str], ...] = (
        (spec.within, "within"),
        (spec.between, "between"),
        (spec.test_covariate, "test covariate"),
        (spec.trend, "trend"),
        (spec.block, "block"),
    )
    for name, role in optional:
        if name:
            _need_column(table, name, role)
    for cov in spec.covariates:
        _need_column(table, cov, "covariate")
    for cov in spec.run_covariates:
        _need_column(table, cov, "run covariate")
    if spec.run_covariates and not spec.within:
        raise InputError(
            "run covariates need a within-subject factor (a paired or repeated-measures "
            "model); a between-subject model takes subject-level covariates"
        )
    if spec.within and spec.contrast:
        for level in spec.contrast:
            _need_level(table, spec.within, level)
    if spec.between and spec.between_contrast:
        for level in spec.between_contrast:
            _need_level(table, spec.between, level)
    if spec.within and spec.contrast is not None:
        return _change_model(table, spec, n_permutations, seed, n_bootstrap, confidence, effect_ci)
    if spec.within:
        return _repeated_model(table, spec, n_permutations, seed, confidence)
    return _subject_model(table, spec, n_permutations, seed, n_bootstrap, confidence)
