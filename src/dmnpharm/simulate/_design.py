"""Build the design of a simulated study: participants and one row per run.

Each run row carries what the signal generator needs: the drug ``exposure``
(dose-response x time since dose x the subject's response factor, 0 without
drug) and the ``patient_shift`` (1 for an untreated patient, 0 for a control,
in between as treatment normalizes the patient difference).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm._utils._roots import brent_root
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._spec import Condition, ResponseSpec, StudySpec

__all__ = ["build_design", "dose_response", "time_course", "williams_sequences"]


def williams_sequences(k: int) -> list[list[int]]:
    """Return the condition orders of a Williams (carry-over balanced) design.

    Parameters
    ----------
    k : int
        Number of conditions.

    Returns
    -------
    list of list of int
        ``k`` sequences for even ``k`` (2 for k = 2), ``2k`` for odd ``k``;
        every condition is preceded by every other equally often.
    """
    if k < 2:
        raise InputError(f"a crossover needs at least 2 conditions; got {k}")
    first = [0]
    low, high = 1, k - 1
    for i in range(1, k):
        if i % 2:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    rows = [[(c + shift) % k for c in first] for shift in range(k)]
    if k % 2:
        rows += [row[::-1] for row in rows]
    return rows


def dose_response(dose_mg: float, response: ResponseSpec) -> float:
    """Return the relative effect of a dose (1 at the reference dose, 0 at 0 mg).

    Parameters
    ----------
    dose_mg : float
        Dose given.
    response : ResponseSpec
        Shape (``linear`` or ``emax``), reference dose and ED50.

    Returns
    -------
    float
        Relative effect.
    """
    ref = response.reference_dose_mg
    if response.dose_response == "linear":
        return dose_mg / ref
    ed50 = response.ed50_mg
    return (dose_mg / (dose_mg + ed50)) / (ref / (ref + ed50))


def time_course(hours: float, response: ResponseSpec) -> float:
    """Return the relative effect at a time since dose (1 at the peak).

    A one-compartment oral (Bateman) curve with peak at ``tmax_hours`` and
    elimination half-life ``half_life_hours``; a half-life of 0 means no time
    dependence.

    Parameters
    ----------
    hours : float
        Time since dose.
    response : ResponseSpec
        ``tmax_hours`` and ``half_life_hours``.

    Returns
    -------
    float
        Relative effect, between 0 and 1.
    """
    if response.half_life_hours == 0:
        return 1.0
    ke = math.log(2) / response.half_life_hours
    tmax = max(response.tmax_hours, 1e-3)
    # absorption rate ka > ke with ln(ka/ke)/(ka-ke) = tmax; exists when tmax < 1/ke
    if tmax >= 1 / ke:
        raise InputError("tmax_hours must be shorter than half_life_hours / ln 2")
    ka = brent_root(lambda x: math.log(x / ke) / (x - ke) - tmax, ke * (1 + 1e-9), 1e4)

    def bateman(t: float) -> float:
        return math.exp(-ke * t) - math.exp(-ka * t)

    return max(bateman(hours), 0.0) / bateman(tmax)


def _onset(weeks: float, response: ResponseSpec) -> float:
    return 1.0 - math.exp(-weeks / response.onset_weeks)


def _subject_ids(n: int, prefix: str = "") -> list[str]:
    width = max(2, len(str(n)))
    return [f"sub-{prefix}{i + 1:0{width}d}" for i in range(n)]


def _crossover(spec: StudySpec, rng: np.random.Generator) -> tuple[list[dict[str, Any]], ...]:
    design = spec.design
    conds = design.conditions
    sequences = williams_sequences(len(conds))
    if design.n_subjects % len(sequences):
        raise InputError(
            f"{design.n_subjects} subjects cannot be counterbalanced over the "
            f"{len(sequences)} condition orders of {len(conds)} conditions; use a multiple "
            f"of {len(sequences)}"
        )
    assignment = rng.permutation(np.arange(design.n_subjects) % len(sequences))
    participants, runs = [], []
    for pid, seq_index in zip(_subject_ids(design.n_subjects), assignment, strict=True):
        order = [conds[i] for i in sequences[int(seq_index)]]
        participants.append(
            {
                "participant_id": pid,
                "group": "healthy",
                "sequence": "-".join(c.label for c in order),
            }
        )
        for ses, cond in enumerate(order, start=1):
            runs.append(
                {
                    "participant_id": pid,
                    "session_id": f"ses-{ses}",
                    "condition": cond.label,
                    "dose_mg": cond.dose_mg,
                    "group": "healthy",
                }
            )
    return participants, runs


def _parallel(spec: StudySpec, rng: np.random.Generator) -> tuple[list[dict[str, Any]], ...]:
    design = spec.design
    k = len(design.conditions)
    if design.n_subjects % k:
        raise InputError(
            f"{design.n_subjects} subjects cannot be split evenly over {k} arms; use a "
            f"multiple of {k}"
        )
    assignment = rng.permutation(np.arange(design.n_subjects) % k)
    participants, runs = [], []
    for pid, arm_index in zip(_subject_ids(design.n_subjects), assignment, strict=True):
        arm = design.conditions[int(arm_index)]
        participants.append({"participant_id": pid, "group": "healthy", "arm": arm.label})
        runs.append(
            {
                "participant_id": pid,
                "session_id": "ses-1",
                "condition": arm.label,
                "dose_mg": arm.dose_mg,
                "group": "healthy",
                "arm": arm.label,
            }
        )
    return participants, runs


def _trial(spec: StudySpec, rng: np.random.Generator) -> tuple[list[dict[str, Any]], ...]:
    design = spec.design
    arms = design.conditions
    if design.n_subjects % len(arms):
        raise InputError(
            f"{design.n_subjects} patients cannot be randomised evenly over {len(arms)} arms; "
            f"use a multiple of {len(arms)}"
        )
    assignment = rng.permutation(np.arange(design.n_subjects) % len(arms))
    participants, runs = [], []
    people: list[tuple[str, Condition | None, str]] = [
        (pid, arms[int(a)], "patient")
        for pid, a in zip(_subject_ids(design.n_subjects, "p"), assignment, strict=True)
    ]
    people += [(pid, None, "control") for pid in _subject_ids(design.n_controls, "c")]
    for pid, arm, group in people:
        arm_label = arm.label if arm is not None else "none"
        participants.append({"participant_id": pid, "group": group, "arm": arm_label})
        for ses, weeks in enumerate(design.weeks, start=1):
            runs.append(
                {
                    "participant_id": pid,
                    "session_id": f"ses-{ses}",
                    "condition": "baseline" if weeks == 0 else f"week{weeks:g}",
                    "dose_mg": arm.dose_mg if arm is not None and weeks > 0 else 0.0,
                    "group": group,
                    "arm": arm_label,
                    "treatment_weeks": weeks,
                }
            )
    return participants, runs


def _cohort(spec: StudySpec, rng: np.random.Generator) -> tuple[list[dict[str, Any]], ...]:
    design = spec.design
    medication = next(c for c in design.conditions if c.dose_mg > 0)
    n_total = design.n_subjects + design.n_controls
    groups = ["patient"] * design.n_subjects + ["control"] * design.n_controls
    sites = rng.permutation(np.arange(n_total) % design.n_sites)
    n_med = round(design.medicated_fraction * design.n_subjects)
    medicated = np.zeros(n_total, dtype=bool)
    medicated[rng.choice(design.n_subjects, size=n_med, replace=False)] = True
    participants, runs = [], []
    for i, pid in enumerate(_subject_ids(n_total)):
        on_drug = bool(medicated[i])
        # doses vary around the nominal one, as prescriptions do
        dose = float(medication.dose_mg * rng.choice([0.5, 1.0, 1.5])) if on_drug else 0.0
        row = {
            "participant_id": pid,
            "group": groups[i],
            "site": f"site{int(sites[i]) + 1}",
            "medication": medication.label if on_drug else "none",
            "dose_mg": dose,
            "age": round(float(rng.uniform(18, 60)), 1),
            "sex": str(rng.choice(["F", "M"])),
        }
        participants.append(row)
        runs.append(
            {
                "participant_id": pid,
                "session_id": "ses-1",
                "condition": "rest",
                "dose_mg": dose,
                "group": groups[i],
                "site": row["site"],
            }
        )
    return participants, runs


_BUILDERS = {"crossover": _crossover, "parallel": _parallel, "trial": _trial, "cohort": _cohort}


@fill_doc
def build_design(spec: StudySpec, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the participants and runs of a study.

    Parameters
    ----------
    spec : StudySpec
        The study.
    %(rng)s
        It draws the sequence and arm assignment, timing and responses.

    Returns
    -------
    participants : pandas.DataFrame
        One row per participant, with ``response`` (the subject's drug
        response factor).
    runs : pandas.DataFrame
        One row per run: ``participant_id``, ``session_id``, ``condition``,
        ``dose_mg``, ``hours_since_dose``, ``group`` and the generator's
        ``exposure`` and ``patient_shift``.
    """
    response = spec.response
    participants_rows, run_rows = _BUILDERS[spec.design.kind](spec, rng)
    participants = pd.DataFrame(participants_rows)
    factors = rng.normal(1.0, response.heterogeneity_sd, size=len(participants))
    participants["response"] = factors
    factor = dict(zip(participants["participant_id"], factors, strict=True))
    runs = pd.DataFrame(run_rows)
    hours = np.where(
        runs["dose_mg"] > 0,
        np.maximum(
            rng.normal(spec.design.hours_since_dose, spec.design.hours_sd, size=len(runs)), 0.1
        ),
        np.nan,
    )
    runs["hours_since_dose"] = np.round(hours, 2)
    exposure, shift = [], []
    for row in runs.to_dict(orient="records"):
        subject = factor[str(row["participant_id"])]
        dose = float(row["dose_mg"])
        drug = 0.0
        if dose > 0:
            drug = dose_response(dose, response) * subject
            drug *= time_course(float(row["hours_since_dose"]), response)
        patient = 0.0
        if row["group"] == "patient":
            patient = 1.0
            weeks = float(row.get("treatment_weeks", 0.0) or 0.0)
            if spec.design.kind == "trial" and weeks > 0:
                onset = _onset(weeks, response)
                drug *= onset
                removed = (
                    response.normalization * subject
                    if dose > 0
                    else (response.placebo_normalization)
                )
                patient = 1.0 - removed * onset
        exposure.append(drug)
        shift.append(patient)
    runs["exposure"] = exposure
    runs["patient_shift"] = shift
    return participants, runs
