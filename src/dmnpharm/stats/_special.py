"""Two analyses beside the GLM: normalization towards controls, and a mixed model.

**Normalization** asks whether treatment moves patients towards healthy controls.
For each measure and time point the controls give a reference (mean and SD); each
patient's distance is ``|x - mean_controls| / sd_controls``; the per-patient change
of distance (after minus before, negative = closer to controls) is tested by sign
flips. The reference is itself estimated, and patients far from it at baseline
drift back by regression to the mean, so a placebo arm (``between``) is the fair
comparison: the arm difference of distance changes is then tested by permuting
patients.

**Mixed model** (statsmodels ``MixedLM``, random intercept per subject, REML) uses
every run, including subjects missing a session, for unbalanced repeated measures.
Its p-values are Wald tests (no permutation); the family-wise column is Holm's
step-down adjustment over measures.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import N_PERMUTATIONS
from dmnpharm.stats._dist import fdr_bh, norm_sf, t_ppf
from dmnpharm.stats._effects import cohens_dz, hedges_g
from dmnpharm.stats._glm import Exchangeability, permutation_glm
from dmnpharm.stats._model_parts import (
    EXTRA_COLUMNS,
    ModelSpec,
    StatsResult,
    _named_null,
    _need_column,
    _need_level,
    _subject_column,
    _wide,
)
from dmnpharm.stats._normalization import distance_change, swap_test
from dmnpharm.stats._null import PermutationNull
from dmnpharm.stats._paired import RESULT_COLUMNS

__all__ = ["normalization"]


def _single_arm(
    wide: dict[str, pd.DataFrame],
    groups: pd.Series,
    after: str,
    before: str,
    labels: tuple[str, str],
    seed: int,
    n_permutations: int,
) -> tuple[dict[str, Any], PermutationNull, int]:
    """Patients' mean distance change, tested with the reference inside the null."""
    patient, control = labels
    subjects = wide[after].index
    kind = groups.loc[subjects].to_numpy()
    is_control, is_patient = kind == control, kind == patient
    b, a = wide[before].to_numpy(), wide[after].to_numpy()
    estimate, spread, p, p_fwer, used, null = swap_test(
        b, a, is_control, is_patient, n_permutations, seed
    )
    change = distance_change(b, a, is_control, is_patient)
    # A normal interval from the swap null's spread (its SD under "nobody changes").
    rows: dict[str, Any] = {
        "estimate": estimate,
        "ci_low": estimate - 1.959964 * spread,
        "ci_high": estimate + 1.959964 * spread,
        "statistic": estimate / spread,
        "df": np.nan,
        "p_parametric": 2 * norm_sf(np.abs(estimate / spread)),
        "p_uncorrected": p,
        "p_fwer": p_fwer,
        "n": int(is_patient.sum()),
        "effect_size": cohens_dz(change),
        "effect_size_kind": "d_z",
        "partial_eta2": np.nan,
    }
    return rows, replace(null, measures=tuple(str(m) for m in wide[after].columns)), used


@fill_doc
def normalization(
    table: pd.DataFrame,
    spec: ModelSpec,
    patient: str,
    control: str,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> StatsResult:
    """Test whether patients move towards the control reference between two time points.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics with the columns ``spec`` names.
    spec : ModelSpec
        ``within`` (time column) and ``contrast`` ``(after, before)``; ``block``
        is not used. When ``between`` and ``between_contrast`` are given (e.g.
        ``arm``, ``("drug", "placebo")``), patients' distance changes are
        compared between those arms; otherwise they are tested against zero.
    patient, control : str
        Values of the ``group`` column marking patients and controls.
    %(n_permutations)s
    %(seed)s

    Returns
    -------
    StatsResult
        ``estimate``: mean change of distance (control SD units; negative =
        normalization), or its arm difference.

    Raises
    ------
    InputError
        Missing columns or levels, fewer than 2 controls at a time point, or a
        control SD of 0.
    """
    if not (spec.within and spec.contrast):
        raise InputError("normalization needs within (time) and contrast (after-before)")
    _need_column(table, "group", "group")
    for level in (patient, control):
        _need_level(table, "group", level)
    after, before = spec.contrast
    groups = table.groupby(spec.subject)["group"].first().astype(str)
    wide, dropped = _wide(table, spec, spec.within, [after, before])
    distance = {}
    for level in (after, before):
        values = wide[level]
        ctrl = values[groups.loc[values.index] == control]
        if len(ctrl) < 2:
            raise InputError(f"normalization needs at least 2 controls at '{level}'")
        sd = ctrl.std(ddof=1)
        if (sd == 0).any():
            raise InputError(f"the controls' SD is 0 at '{level}' for {list(sd.index[sd == 0])}")
        patients = values[groups.loc[values.index] == patient]
        distance[level] = (patients - ctrl.mean()).abs() / sd
    change = distance[after] - distance[before]
    measures, d = list(change.columns), change.to_numpy()
    label = f"distance to {control}s: {after} - {before}"
    if spec.between and spec.between_contrast:
        arm = _subject_column(table, spec, spec.between).loc[change.index].astype(str)
        a, b = spec.between_contrast
        keep = arm.isin([a, b]).to_numpy()
        in_a = (arm[keep] == a).to_numpy()
        x = np.column_stack([np.ones(keep.sum()), in_a - in_a.mean()])
        res = permutation_glm(d[keep], x, [0, 1], Exchangeability(), n_permutations, seed)
        null = _named_null(res.null, measures)
        crit = t_ppf(0.975, res.df[1])
        rows: dict[str, Any] = {
            "contrast": f"{label}, {a} - {b}",
            "estimate": res.estimate,
            "ci_low": res.estimate - crit * res.se,
            "ci_high": res.estimate + crit * res.se,
            "statistic": res.statistic,
            "df": res.df[1],
            "p_parametric": res.p_parametric,
            "p_uncorrected": res.p_uncorrected,
            "p_fwer": res.p_fwer,
            "n": int(keep.sum()),
            "effect_size": hedges_g(d[keep][in_a], d[keep][~in_a]),
            "effect_size_kind": "hedges_g",
            "partial_eta2": res.partial_eta2,
        }
        used = res.n_permutations
        scheme = f"patients freely exchangeable between {a} and {b}; {used} permutations"
    else:
        rows, null, used = _single_arm(
            wide, groups, after, before, (patient, control), seed, n_permutations
        )
        rows["contrast"] = label
        scheme = (
            f"the two time points of every {patient} and {control} swapped independently, "
            f"the {control} reference re-estimated each time; {used} swaps. A single-arm "
            "test: it cannot separate the drug from regression to the mean or retest "
            f"effects (above all when {patient}s were selected on their baseline); only a "
            "comparison of arms (--between arm) attributes normalization to the drug"
        )
    out = pd.DataFrame({"measure": measures, **rows})
    out["p_fdr"] = fdr_bh(out["p_uncorrected"].to_numpy(dtype=float))
    out["effect_size_dz"] = out["effect_size"] if rows["effect_size_kind"] == "d_z" else np.nan
    out["effect_size_ci_low"] = np.nan
    out["effect_size_ci_high"] = np.nan
    out["test"] = "normalization"
    out["n_permutations"] = used
    out["exchangeability"] = scheme
    out["model"] = "normalization"
    summary = (
        f"Normalization: each {patient}'s distance to the {control} mean (in {control} SD "
        f"units, per measure and time point), change {after} - {before}; negative means "
        f"closer to {control}s. {scheme}, seed {seed}. The reference is estimated from "
        f"{control}s and regression to the mean also shrinks distances; compare with a "
        "placebo arm where there is one."
    )
    design = pd.DataFrame({spec.subject: change.index})
    return StatsResult(
        out[list(RESULT_COLUMNS + EXTRA_COLUMNS)], design, summary, tuple(dropped), null
    )
