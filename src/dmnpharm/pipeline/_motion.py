"""Motion in the paired model: per-run QC values as covariates, and the adjusted check."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.stats import ModelSpec, StatsResult, analyse

__all__ = ["motion_adjusted", "with_run_qc"]

#: The QC value a motion-adjusted model uses (run --motion-covariate).
MOTION_COVARIATE = "mean_fd"


def with_run_qc(metrics: pd.DataFrame, qc: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return the metrics with per-run QC values joined onto every row of their run.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Network-level rows, with the run's design columns.
    qc : pandas.DataFrame
        One row per measured run: its design columns and QC values
        (:func:`dmnpharm.stats.run_qc`).
    columns : tuple of str
        The QC values wanted, e.g. ``("mean_fd",)``.

    Returns
    -------
    pandas.DataFrame
        ``metrics`` with ``columns`` added.

    Raises
    ------
    InputError
        When the runs have no QC (no ``framewise_displacement`` in their
        confounds) or some run lacks a value.
    """
    missing = [c for c in columns if c not in qc]
    if qc.empty or missing:
        raise InputError(
            f"adjusting for {', '.join(columns)} needs each run's motion QC, which comes from "
            "the confounds' framewise_displacement; these runs have none"
        )
    qc_values = set(qc.columns) - set(metrics.columns)
    keys = [c for c in qc.columns if c in metrics.columns and c not in qc_values]
    joined = metrics.drop(columns=[c for c in columns if c in metrics]).merge(
        qc[[*keys, *columns]], on=keys, how="left", validate="many_to_one"
    )
    lacking = joined[list(columns)].isna().any(axis=1)
    if lacking.any():
        runs = joined.loc[lacking, keys].drop_duplicates().head(5).to_dict("records")
        raise InputError(f"no {', '.join(columns)} for the runs {runs}")
    return joined


def motion_adjusted(
    metrics: pd.DataFrame,
    qc: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    confidence: float,
) -> StatsResult | None:
    """Refit the paired model with mean FD as a run covariate, as a check on motion.

    Parameters
    ----------
    metrics : pandas.DataFrame
        The primary analysis's network-level rows.
    qc : pandas.DataFrame
        Per-run QC.
    spec : ModelSpec
        The paired model as fitted.
    n_permutations, seed, confidence
        As the primary model.

    Returns
    -------
    StatsResult or None
        The adjusted model, whose estimate is the change at equal mean FD;
        None for a between-subject model, one already adjusted, or runs
        without motion QC.
    """
    if spec.within is None or MOTION_COVARIATE in spec.run_covariates:
        return None
    if qc.empty or MOTION_COVARIATE not in qc:
        return None
    adjusted = replace(spec, run_covariates=(*spec.run_covariates, MOTION_COVARIATE))
    table = with_run_qc(metrics, qc, (MOTION_COVARIATE,))
    return analyse(table, adjusted, n_permutations, seed, confidence=confidence)
