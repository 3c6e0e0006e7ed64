"""Quality control across runs: motion summaries, motion imbalance, QC-FC.

Motion that differs between drug and placebo, or between patients and controls,
masquerades as a connectivity effect (Power et al. 2012, NeuroImage 59:2142). These
functions summarise each run's motion and censoring, test whether they differ
between the conditions or groups of the analysis (with the same permutation
engine as the main model), and compute QC-FC: the correlation across subjects of
each connectivity value with mean framewise displacement (Ciric et al. 2017,
NeuroImage 154:174-187).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError, MotionImbalanceWarning
from dmnpharm.stats._dist import fdr_bh, t_sf
from dmnpharm.stats._model import ModelSpec, analyse

__all__ = ["QC_MEASURES", "motion_imbalance", "qc_fc", "run_qc"]

#: Per-run QC values that :func:`motion_imbalance` tests.
QC_MEASURES = ("mean_fd", "percent_censored")


def run_qc(
    confounds: pd.DataFrame,
    kept: np.ndarray | None = None,
    dof_lost: float | None = None,
) -> dict[str, float]:
    """Summarise one run's motion and censoring.

    Parameters
    ----------
    confounds : pandas.DataFrame
        fMRIPrep confounds (``framewise_displacement``; ``std_dvars`` and
        ``dvars`` when present).
    kept : numpy.ndarray of bool, optional
        Volumes kept after censoring (all when None).
    dof_lost : float, optional
        Degrees of freedom spent on regressors and censoring.

    Returns
    -------
    dict
        ``mean_fd``, ``max_fd`` (mm), ``mean_std_dvars``, ``mean_dvars`` (NaN when
        absent), ``n_volumes``, ``n_censored``, ``percent_censored``, ``dof_lost``.

    Raises
    ------
    InputError
        Without a ``framewise_displacement`` column, or when ``kept`` has the
        wrong length.
    """
    if "framewise_displacement" not in confounds:
        raise InputError("the confounds lack 'framewise_displacement'; QC needs it")
    fd = pd.to_numeric(confounds["framewise_displacement"], errors="coerce")
    n = len(confounds)
    mask = np.ones(n, dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    if mask.shape != (n,):
        raise InputError(f"kept has {mask.size} entries for {n} volumes")

    def mean_of(column: str) -> float:
        if column not in confounds:
            return float("nan")
        return float(np.nanmean(pd.to_numeric(confounds[column], errors="coerce")))

    censored = int(n - mask.sum())
    return {
        "mean_fd": float(np.nanmean(fd)),
        "max_fd": float(np.nanmax(fd)),
        "mean_std_dvars": mean_of("std_dvars"),
        "mean_dvars": mean_of("dvars"),
        "n_volumes": float(n),
        "n_censored": float(censored),
        "percent_censored": 100.0 * censored / n if n else 0.0,
        "dof_lost": float("nan") if dof_lost is None else float(dof_lost),
    }


@fill_doc
def motion_imbalance(
    qc: pd.DataFrame,
    spec: ModelSpec,
    alpha: float = 0.05,
    n_permutations: int = 5000,
    seed: int = 0,
) -> pd.DataFrame:
    """Test whether motion and censoring differ between the analysis' conditions or groups.

    Parameters
    ----------
    qc : pandas.DataFrame
        One row per run with the design columns ``spec`` names and the
        :data:`QC_MEASURES` columns (from :func:`run_qc`).
    spec : ModelSpec
        The analysis' model (e.g. paired drug vs placebo, or groups).
    %(alpha)s
        A :class:`~dmnpharm.exceptions.MotionImbalanceWarning` is issued for a
        measure whose uncorrected permutation p-value is below it.
    %(n_permutations)s
    %(seed)s

    Returns
    -------
    pandas.DataFrame
        The model's results for each QC measure, with a boolean ``imbalanced``.
    """
    present = [m for m in QC_MEASURES if m in qc and bool((qc[m] != qc[m].iloc[0]).any())]
    if not present:
        return pd.DataFrame(columns=["measure", "imbalanced"])
    ids = [c for c in qc.columns if c not in QC_MEASURES]
    tidy = qc.melt(id_vars=ids, value_vars=present, var_name="measure", value_name="value")
    result = analyse(tidy, spec, n_permutations, seed, n_bootstrap=0).results
    result["imbalanced"] = result["p_uncorrected"] < alpha
    for row in result[result["imbalanced"]].itertuples():
        warnings.warn(
            f"{row.measure} differs between {row.contrast} (estimate {row.estimate:.3g}, "
            f"p = {row.p_uncorrected:.3g}); connectivity differences may partly reflect "
            "motion. Consider stricter censoring or a motion covariate.",
            MotionImbalanceWarning,
            stacklevel=2,
        )
    return result


def qc_fc(values: pd.DataFrame, mean_fd: Mapping[str, float] | pd.Series) -> dict[str, float]:
    """Correlate each connectivity value with mean FD across subjects (QC-FC).

    Parameters
    ----------
    values : pandas.DataFrame
        Subjects (index) x edges or measures (columns), e.g. each subject's
        mean over runs.
    mean_fd : mapping or pandas.Series
        Each subject's mean framewise displacement.

    Returns
    -------
    dict
        ``n_subjects``, ``n_edges``, ``median_abs_r``, ``percent_significant``
        (uncorrected p < 0.05) and ``percent_significant_fdr`` (BH q < 0.05).

    Raises
    ------
    InputError
        Fewer than 4 subjects with both values, or constant mean FD.
    """
    fd = pd.Series(mean_fd, dtype=float).reindex(values.index)
    keep = fd.notna().to_numpy()
    x = fd.to_numpy()[keep]
    y = values.to_numpy(dtype=float)[keep]
    n = x.size
    if n < 4 or np.std(x) == 0:
        raise InputError("QC-FC needs at least 4 subjects with differing mean FD")
    xc = (x - x.mean()) / x.std()
    yc = (y - y.mean(axis=0)) / np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
    r = np.clip(xc @ yc / n, -1.0, 1.0)
    t = r * np.sqrt((n - 2) / np.maximum(1 - r**2, 1e-15))
    p = 2 * t_sf(np.abs(t), n - 2)
    q = fdr_bh(p)
    return {
        "n_subjects": float(n),
        "n_edges": float(r.size),
        "median_abs_r": float(np.median(np.abs(r))),
        "percent_significant": float(100 * np.mean(p < 0.05)),
        "percent_significant_fdr": float(100 * np.mean(q < 0.05)),
    }
