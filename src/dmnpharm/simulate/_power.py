"""Power of a study design by repeated simulation and the analysis' own test.

For each sample size, many studies are simulated at ROI level
(:func:`simulate_measure_runs`), the main contrast's measure is computed per run
as :mod:`dmnpharm.metrics` computes it, and each study is tested with the
permutation test :mod:`dmnpharm.stats` uses for that design. Power is the share of
studies with a permutation p-value below alpha, with a Wilson 95 % interval for
the Monte Carlo error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from dmnpharm._utils import fill_doc, progress
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._batch import MeasureTarget, simulate_measure_runs
from dmnpharm.simulate._spec import Effect, StudySpec
from dmnpharm.stats import CONFIDENCE, sign_flip_test, two_sample_permutation_test

__all__ = ["POWER_COLUMNS", "PowerContrast", "PowerResult", "main_contrast", "power_analysis"]

#: Columns of the power table, in order.
POWER_COLUMNS: tuple[str, ...] = (
    "n_subjects",
    "n_studies",
    "power",
    "power_ci_low",
    "power_ci_high",
    "mean_estimate",
    "sd_estimate",
    "mean_effect_size",
    "alpha",
    "test",
    "n_permutations",
)


@dataclass(frozen=True)
class PowerContrast:
    """The contrast whose power is estimated.

    Parameters
    ----------
    target : MeasureTarget
        The measure tested.
    test : str
        ``paired sign-flip`` or ``two-sample permutation``.
    condition_a, condition_b : str
        The compared conditions (crossover) or arms (parallel, trial, cohort).
    description : str
        One line for tables and reports.
    """

    target: MeasureTarget
    test: str
    condition_a: str
    condition_b: str
    description: str


@fill_doc
@dataclass(frozen=True, eq=False)
class PowerResult:
    """A power analysis.

    Parameters
    ----------
    spec : StudySpec
        The simulated study (its ``n_subjects`` varies over ``table``).
    contrast : PowerContrast
        What was tested.
    table : pandas.DataFrame
        One row per sample size with :data:`POWER_COLUMNS`.
    studies : pandas.DataFrame
        One row per simulated study: ``n_subjects``, ``study``, ``estimate``,
        ``statistic``, ``p_value``, ``p_parametric``, ``effect_size``.
    %(seed)s
    """

    spec: StudySpec
    contrast: PowerContrast
    table: pd.DataFrame
    studies: pd.DataFrame
    seed: int


def _first_fc_effect(effects: Sequence[Effect]) -> Effect | None:
    return next((e for e in effects if e.measure in ("within_fc", "between_fc")), None)


def _target_of(spec: StudySpec, measure: str | None) -> MeasureTarget:
    if measure is not None:
        parts = measure.split("_")
        if measure.startswith("within_fc_") and len(parts) == 3:
            return MeasureTarget("within_fc", parts[2])
        if measure.startswith("between_fc_") and len(parts) == 4:
            return MeasureTarget("between_fc", parts[2], parts[3])
        raise InputError(
            f"measure {measure!r} is not a connectivity measure; use within_fc_<NET> or "
            "between_fc_<NET>_<NET>, e.g. within_fc_DMN or between_fc_DMN_SN"
        )
    effect = _first_fc_effect(spec.effects) or _first_fc_effect(spec.response.patient_effects)
    if effect is None:
        raise InputError(
            f"spec {spec.name!r} plants no connectivity effect, so it has no main contrast "
            "for power analysis; add a within_fc or between_fc effect or name a measure"
        )
    return MeasureTarget(effect.measure, effect.network, effect.other)


def main_contrast(spec: StudySpec, measure: str | None = None) -> PowerContrast:
    """Return the main contrast of a spec: the test its design calls for.

    * crossover: the highest dose vs placebo (the first 0 mg condition, or the
      lowest dose), paired within subject, sign-flip permutation;
    * parallel: the highest-dose arm vs the placebo arm, two-sample permutation;
    * trial: patients' change from baseline to the last scan, highest-dose arm
      vs placebo arm (two-sample), or against zero with one arm (sign-flip);
    * cohort: medicated vs unmedicated patients, two-sample permutation.

    Parameters
    ----------
    spec : StudySpec
        The study.
    measure : str, optional
        ``within_fc_<NET>`` or ``between_fc_<A>_<B>``; by default the first
        connectivity effect the spec plants (drug effects first).

    Returns
    -------
    PowerContrast
        The measure, the test and the compared conditions.
    """
    target = _target_of(spec, measure)
    design = spec.design
    conds = sorted(design.conditions, key=lambda c: c.dose_mg)
    high, low = conds[-1], conds[0]
    if design.kind == "crossover":
        return PowerContrast(
            target,
            "paired sign-flip",
            high.label,
            low.label,
            f"{target.name}: {high.label} - {low.label}, within subject",
        )
    if design.kind == "parallel":
        return PowerContrast(
            target,
            "two-sample permutation",
            high.label,
            low.label,
            f"{target.name}: {high.label} arm - {low.label} arm",
        )
    if design.kind == "trial":
        if len(conds) == 1:
            return PowerContrast(
                target,
                "paired sign-flip",
                high.label,
                "",
                f"{target.name}: patients' change from baseline to week {design.weeks[-1]:g}",
            )
        return PowerContrast(
            target,
            "two-sample permutation",
            high.label,
            low.label,
            f"{target.name}: change from baseline to week {design.weeks[-1]:g}, "
            f"{high.label} arm - {low.label} arm (patients)",
        )
    medication = next(c for c in design.conditions if c.dose_mg > 0)
    return PowerContrast(
        target,
        "two-sample permutation",
        medication.label,
        "none",
        f"{target.name}: patients on {medication.label} - unmedicated patients",
    )


def _subject_values(runs: pd.DataFrame, spec: StudySpec, contrast: PowerContrast) -> pd.DataFrame:
    """One value per subject (index study, participant_id) and its group (column ``in_a``)."""
    kind = spec.design.kind
    if kind == "crossover":
        wide = runs.pivot_table(
            index=["study", "participant_id"], columns="condition", values="value"
        )
        diff = wide[contrast.condition_a] - wide[contrast.condition_b]
        return pd.DataFrame({"value": diff, "in_a": True})
    if kind == "parallel":
        keep = runs[runs["arm"].isin([contrast.condition_a, contrast.condition_b])]
        values = keep.set_index(["study", "participant_id"])
        return pd.DataFrame(
            {"value": values["value"], "in_a": values["arm"] == contrast.condition_a}
        )
    if kind == "trial":
        patients = runs[runs["group"] == "patient"]
        weeks = patients["treatment_weeks"].astype(float)
        wide = patients.assign(weeks=weeks).pivot_table(
            index=["study", "participant_id", "arm"], columns="weeks", values="value"
        )
        change = (wide[weeks.max()] - wide[weeks.min()]).rename("value").reset_index("arm")
        change = change[change["arm"].isin([contrast.condition_a, contrast.condition_b])]
        return pd.DataFrame(
            {"value": change["value"], "in_a": change["arm"] == contrast.condition_a}
        )
    patients = runs[runs["group"] == "patient"].set_index(["study", "participant_id"])
    return pd.DataFrame({"value": patients["value"], "in_a": patients["dose_mg"] > 0})


def _test_studies(
    values: pd.DataFrame, contrast: PowerContrast, n_permutations: int, seed: int
) -> pd.DataFrame:
    """Test each study; return estimate, statistic, p-values and effect size per study."""
    studies = values.index.get_level_values("study")
    rows: list[dict[str, Any]] = []
    if contrast.test == "paired sign-flip":
        wide = values.reset_index().pivot_table(  # subjects x studies
            index="participant_id", columns="study", values="value", dropna=False
        )
        if wide.isna().any().any():
            raise InputError("every simulated study must have the same subjects")
        out = sign_flip_test(wide.to_numpy(), n_permutations=n_permutations, seed=seed)
        return pd.DataFrame(
            {
                "study": wide.columns.to_numpy(),
                "estimate": out["estimate"],
                "statistic": out["statistic"],
                "p_value": out["p_uncorrected"],
                "p_parametric": out["p_parametric"],
                "effect_size": out["effect_size_dz"],
            }
        )
    for study in np.unique(studies):
        block = values.loc[study]
        out = two_sample_permutation_test(
            block["value"].to_numpy(), block["in_a"].to_numpy(), n_permutations, seed
        )
        rows.append(
            {
                "study": study,
                "estimate": float(out["estimate"][0]),
                "statistic": float(out["statistic"][0]),
                "p_value": float(out["p_uncorrected"][0]),
                "p_parametric": float(out["p_parametric"][0]),
                "effect_size": float(out["effect_size_g"][0]),
            }
        )
    return pd.DataFrame(rows)


def _wilson(successes: int, total: int, level: float = CONFIDENCE) -> tuple[float, float]:
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = successes / total
    centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / (1 + z**2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@fill_doc
def power_analysis(
    spec: StudySpec,
    subjects: Sequence[int],
    n_studies: int = 1000,
    *,
    alpha: float = 0.05,
    n_permutations: int = 1000,
    seed: int = 0,
    measure: str | None = None,
    workers: int = 1,
) -> PowerResult:
    """Estimate the power of a spec's main contrast at several sample sizes.

    At a terminal (and not under ``--quiet``) a progress bar counts the sample
    sizes done (:func:`dmnpharm._utils.progress`).

    Parameters
    ----------
    spec : StudySpec
        The study; ``n_subjects`` is replaced by each value of ``subjects``
        (trial and cohort: patients; their healthy controls are not simulated,
        the main contrast does not use them).
    subjects : sequence of int
        Sample sizes to evaluate.
    n_studies : int
        Simulated studies per sample size.
    %(alpha)s
        Each study's permutation test is two-sided.
    %(n_permutations)s
        They are drawn for each study's test, as ``dmnpharm run`` does.
    %(seed)s
        Each sample size gets a child seed.
    measure : str, optional
        The measure tested (see :func:`main_contrast`).
    workers : int
        Processes for the simulation.

    Returns
    -------
    PowerResult
        The table (one row per sample size) and every study's test.

    Raises
    ------
    InputError
        If a sample size cannot be counterbalanced or split over the arms, or an
        argument is out of range.
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie between 0 and 1; got {alpha!r}")
    sizes = [int(n) for n in subjects]
    if not sizes or any(n != s or n < 2 for n, s in zip(sizes, subjects, strict=True)):
        raise InputError(f"subjects must be integers of at least 2; got {list(subjects)!r}")
    contrast = main_contrast(spec, measure)
    children = np.random.SeedSequence(seed).spawn(len(sizes))
    table, per_study = [], []
    steps = list(zip(sizes, children, strict=True))
    for n, child in progress(steps, f"simulating and testing {n_studies} studies per size"):
        design = replace(spec.design, n_subjects=n)
        if spec.design.kind in ("trial", "cohort"):
            design = replace(design, n_controls=0)
        sized = replace(spec, design=design)
        sim_seed = int(child.generate_state(1)[0])
        runs = simulate_measure_runs(sized, contrast.target, n_studies, sim_seed, workers=workers)
        values = _subject_values(runs, sized, contrast)
        tested = _test_studies(values, contrast, n_permutations, sim_seed).assign(n_subjects=n)
        hits = int((tested["p_value"] < alpha).sum())
        low, high = _wilson(hits, n_studies)
        table.append(
            {
                "n_subjects": n,
                "n_studies": n_studies,
                "power": hits / n_studies,
                "power_ci_low": low,
                "power_ci_high": high,
                "mean_estimate": float(tested["estimate"].mean()),
                "sd_estimate": float(tested["estimate"].std(ddof=1)) if n_studies > 1 else 0.0,
                "mean_effect_size": float(tested["effect_size"].mean()),
                "alpha": alpha,
                "test": contrast.test,
                "n_permutations": n_permutations,
            }
        )
        per_study.append(tested)
    studies = pd.concat(per_study, ignore_index=True)
    first = ["n_subjects", "study"]
    studies = studies[first + [c for c in studies.columns if c not in first]]
    return PowerResult(
        spec, contrast, pd.DataFrame(table, columns=list(POWER_COLUMNS)), studies, seed
    )
