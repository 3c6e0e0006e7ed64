"""Named simulation presets for the studies users run.

Effect sizes are set in the range the literature suggests. Most papers report
statistics or maps rather than Fisher z changes of network means, so the sizes
below are our translation into this model's units, chosen to give the reported
directions with standardised effects (d_z) of about 0.3 to 0.8 against the
simulator's default session-to-session noise (``SignalSpec.session_network_sd``),
the range of single-dose crossover FC effects. docs/simulation.md tabulates each
preset's d_z and power as measured. Each preset cites the studies it follows
(the evidence catalog, ``dmnpharm catalog``).
"""

from __future__ import annotations

from dataclasses import replace

from dmnpharm._utils import check_option
from dmnpharm.simulate._spec import (
    Condition,
    DesignSpec,
    Effect,
    ResponseSpec,
    SignalSpec,
    StudySpec,
)

__all__ = ["PRESETS", "load_preset", "preset_names"]

_PLACEBO = Condition("placebo", 0.0)

PRESETS: dict[str, tuple[str, StudySpec]] = {
    "demo-crossover": (
        "The demo: 40 healthy volunteers, placebo vs drug, within-DMN FC 0.10 lower "
        "(Fisher z) under drug, a d_z of about 0.8 against the simulator's session-to-"
        "session noise (the upper end of single-dose crossover effects); nothing else "
        "changes. 40 subjects give it a power of about 0.9 at the family-wise level over "
        "the 18 measures (docs/simulation.md).",
        StudySpec(name="demo-crossover", design=DesignSpec(n_subjects=40)),
    ),
    "crossover-ssri-healthy": (
        "Single 20 mg escitalopram dose vs placebo, scan about 3 h after dose, 22 healthy "
        "volunteers (as Schaefer 2014, Curr Biol); small within-DMN decrease (van de Ven "
        "2013 pairwise DMN decreases; Schaefer 2014 whole-brain centrality decrease).",
        StudySpec(
            name="crossover-ssri-healthy",
            design=DesignSpec(
                kind="crossover",
                n_subjects=22,
                conditions=(_PLACEBO, Condition("escitalopram", 20.0)),
                hours_since_dose=3.0,
                hours_sd=0.3,
            ),
            effects=(Effect("within_fc", -0.05, "DMN"),),
            response=ResponseSpec(
                reference_dose_mg=20.0,
                tmax_hours=4.0,
                half_life_hours=30.0,
                heterogeneity_sd=0.3,
            ),
        ),
    ),
    "psychedelic-crossover": (
        "LSD 100 ug vs placebo, 20 healthy volunteers (Mueller 2018, NeuroImage Clin; "
        "Carhart-Harris 2016, PNAS): within-DMN FC decreases, DMN-salience anticorrelation "
        "weakens, DMN amplitude falls, global signal rises; more head motion under drug "
        "(a real confound); an ego-dissolution rating tracks the DMN decrease "
        "(Carhart-Harris 2016; Tagliazucchi 2016).",
        StudySpec(
            name="psychedelic-crossover",
            design=DesignSpec(
                kind="crossover",
                n_subjects=20,
                conditions=(_PLACEBO, Condition("lsd", 0.1)),
                hours_since_dose=2.5,
                hours_sd=0.5,
            ),
            effects=(
                Effect("within_fc", -0.08, "DMN"),
                Effect("between_fc", 0.035, "DMN", "SN"),
                Effect("amplitude", -0.10, "DMN"),
                Effect("global_signal", 0.15),
                Effect("motion", 0.04),
            ),
            response=ResponseSpec(
                reference_dose_mg=0.1,
                tmax_hours=2.5,
                half_life_hours=3.6,
                heterogeneity_sd=0.4,
                rating="ego_dissolution",
                rating_correlation=-0.5,
            ),
        ),
    ),
    "antipsychotic-trial": (
        "First-episode psychosis randomised to antipsychotic or placebo (with therapy), "
        "scanned at baseline and 12 weeks, with healthy controls (as STAGES; Chopra 2021, "
        "JAMA Psychiatry). Patients start with DMN hyperconnectivity (Whitfield-Gabrieli "
        "2009; contested by meta-analyses) and weaker DMN-salience coupling (Manoliu "
        "2014); treatment normalizes half of it, placebo a little; symptom change "
        "correlates with the DMN change.",
        StudySpec(
            name="antipsychotic-trial",
            design=DesignSpec(
                kind="trial",
                n_subjects=36,
                n_controls=18,
                conditions=(_PLACEBO, Condition("risperidone", 2.0)),
                weeks=(0.0, 12.0),
            ),
            effects=(),
            response=ResponseSpec(
                reference_dose_mg=2.0,
                heterogeneity_sd=0.4,
                onset_weeks=3.0,
                patient_effects=(
                    Effect("within_fc", 0.06, "DMN"),
                    Effect("between_fc", -0.04, "DMN", "SN"),
                ),
                normalization=0.5,
                placebo_normalization=0.1,
            ),
        ),
    ),
    "dose-response": (
        "Four-level within-subject dose study, 0/5/10/20 mg (as Licata 2013, NeuroImage, "
        "zolpidem), Williams-balanced order, 12 volunteers; within-DMN decrease saturating "
        "in dose (Emax, ED50 8 mg).",
        StudySpec(
            name="dose-response",
            design=DesignSpec(
                kind="crossover",
                n_subjects=12,
                conditions=(
                    _PLACEBO,
                    Condition("dose5", 5.0),
                    Condition("dose10", 10.0),
                    Condition("dose20", 20.0),
                ),
                hours_since_dose=0.75,
                hours_sd=0.1,
            ),
            effects=(Effect("within_fc", -0.08, "DMN"),),
            response=ResponseSpec(
                dose_response="emax",
                reference_dose_mg=20.0,
                ed50_mg=8.0,
                heterogeneity_sd=0.2,
            ),
        ),
    ),
    "adhd-stimulant": (
        "Methylphenidate 20 mg vs placebo in 20 adults with ADHD: the DMN decouples from "
        "the dorsal attention network (stronger anticorrelation; Sripada 2013, Silk 2017) "
        "and DMN amplitude falls.",
        StudySpec(
            name="adhd-stimulant",
            design=DesignSpec(
                kind="crossover",
                n_subjects=20,
                conditions=(_PLACEBO, Condition("methylphenidate", 20.0)),
                hours_since_dose=1.5,
            ),
            effects=(
                Effect("between_fc", -0.045, "DMN", "DAN"),
                Effect("amplitude", -0.08, "DMN"),
            ),
            response=ResponseSpec(
                reference_dose_mg=20.0,
                tmax_hours=1.5,
                half_life_hours=3.0,
                heterogeneity_sd=0.3,
            ),
        ),
    ),
    "benzodiazepine-global": (
        "A benzodiazepine vs placebo in 24 volunteers: connectivity falls within the DMN "
        "and sensory networks and the global signal changes (midazolam: Greicius 2008; "
        "note that oxazepam and zolpidem studies found increases, so the direction is "
        "contested).",
        StudySpec(
            name="benzodiazepine-global",
            design=DesignSpec(
                kind="crossover",
                n_subjects=24,
                conditions=(_PLACEBO, Condition("midazolam", 7.5)),
                hours_since_dose=1.0,
            ),
            effects=(
                Effect("within_fc", -0.05, "DMN"),
                Effect("within_fc", -0.04, "SMN"),
                Effect("within_fc", -0.04, "VIS"),
                Effect("global_signal", -0.15),
            ),
            response=ResponseSpec(reference_dose_mg=7.5, heterogeneity_sd=0.3),
        ),
    ),
    "cohort-observational": (
        "An observational cohort over 4 sites: 300 patients (40% on an SSRI) and 150 "
        "controls; patients show slightly lower within-DMN FC (REST-meta-MDD, Yan 2019) "
        "and medication lowers it further; site changes the noise level.",
        StudySpec(
            name="cohort-observational",
            design=DesignSpec(
                kind="cohort",
                n_subjects=300,
                n_controls=150,
                n_sites=4,
                conditions=(Condition("ssri", 20.0),),
                medicated_fraction=0.4,
            ),
            signal=SignalSpec(n_volumes=150),
            effects=(Effect("within_fc", -0.02, "DMN"),),
            response=ResponseSpec(
                reference_dose_mg=20.0,
                heterogeneity_sd=0.3,
                patient_effects=(Effect("within_fc", -0.03, "DMN"),),
            ),
        ),
    ),
}


def preset_names() -> tuple[str, ...]:
    """Return the preset names.

    Returns
    -------
    tuple of str
        Sorted names accepted by :func:`load_preset`.
    """
    return tuple(sorted(PRESETS))


def load_preset(name: str, seed: int | None = None) -> StudySpec:
    """Return a preset's spec, optionally with another seed.

    Parameters
    ----------
    name : str
        One of :func:`preset_names`.
    seed : int or None
        Replaces the preset's seed when given.

    Returns
    -------
    StudySpec
        The specification.
    """
    check_option("preset", name, PRESETS)
    spec = PRESETS[name][1]
    return spec if seed is None else replace(spec, seed=seed)
