"""The simulation specification: design, signal, effects and response, all frozen.

A :class:`StudySpec` is plain data: it is saved into ``ground_truth.json`` and read
back by :func:`spec_from_dict`, which refuses unknown fields and impossible values
before anything is simulated or written.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dmnpharm._utils import check_option, closest_match, fill_doc
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._weights import REGIONAL_UNITS, check_weights

__all__ = [
    "DESIGN_KINDS",
    "EFFECT_MEASURES",
    "Condition",
    "DesignSpec",
    "Effect",
    "ResponseSpec",
    "SignalSpec",
    "StudySpec",
    "spec_from_dict",
    "spec_to_dict",
]

DESIGN_KINDS = ("crossover", "parallel", "trial", "cohort")

#: Effect kinds and the unit of their ``size``.
EFFECT_MEASURES: dict[str, str] = {
    "within_fc": "change of the population mean Fisher z over the network's region pairs",
    "between_fc": "change of the population mean Fisher z between two networks' regions",
    "amplitude": "fractional change of the network regions' BOLD signal SD (ALFF scales so)",
    "global_signal": "fractional change of every region's global-signal loading",
    "motion": "change of the run's mean framewise displacement, mm",
    **REGIONAL_UNITS,  # regional_amplitude, regional_coupling: see _weights
}


def _finite(name: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number; got {value!r}")


def _at_least(name: str, value: float, low: float, strict: bool = False) -> None:
    _finite(name, value)
    if value < low or (strict and value == low):
        relation = "greater than" if strict else "at least"
        raise InputError(f"{name} must be {relation} {low}; got {value!r}")


@dataclass(frozen=True)
class Condition:
    """One condition (crossover) or arm (parallel, trial).

    Parameters
    ----------
    label : str
        Written in the ``condition`` (or ``arm``) column, e.g. ``"placebo"``.
    dose_mg : float
        Dose; 0 means placebo (no drug exposure).
    """

    label: str
    dose_mg: float = 0.0

    def __post_init__(self) -> None:
        """Check the label and dose."""
        if not self.label or self.label != self.label.strip() or "-" in self.label:
            raise InputError(
                f"condition label {self.label!r} must be non-empty, without surrounding "
                "spaces or '-' (contrasts are written A-B)"
            )
        _at_least(f"dose_mg of condition {self.label!r}", self.dose_mg, 0.0)


@dataclass(frozen=True)
class DesignSpec:
    """Who is scanned when, under what.

    Parameters
    ----------
    kind : str
        ``crossover`` (every subject under every condition, counterbalanced
        order), ``parallel`` (one arm per subject, one session), ``trial``
        (patients randomised to arms plus healthy controls, scanned at each of
        ``weeks``) or ``cohort`` (one session per subject, several sites, a
        medication column).
    n_subjects : int
        Subjects (trial: patients, controls come on top; cohort: everyone).
    conditions : tuple of Condition
        Conditions (crossover) or arms (parallel, trial). Cohort: the first
        condition with a positive dose is the medication.
    hours_since_dose : float
        Mean time from dose to scan; each session varies by ``hours_sd``.
    hours_sd : float
        Between-session SD of the time since dose.
    n_controls : int
        Trial and cohort: healthy controls.
    weeks : tuple of float
        Trial: weeks of treatment at each scan (the first is baseline, 0).
    n_sites : int
        Cohort: sites; subjects are spread evenly.
    medicated_fraction : float
        Cohort: share of patients on the medication.
    """

    kind: str = "crossover"
    n_subjects: int = 24
    conditions: tuple[Condition, ...] = (Condition("placebo", 0.0), Condition("drug", 1.0))
    hours_since_dose: float = 2.0
    hours_sd: float = 0.25
    n_controls: int = 0
    weeks: tuple[float, ...] = (0.0, 6.0)
    n_sites: int = 1
    medicated_fraction: float = 0.5

    def __post_init__(self) -> None:
        """Check the design can be built."""
        check_option("design kind", self.kind, DESIGN_KINDS)
        if not isinstance(self.n_subjects, int) or self.n_subjects < 2:
            raise InputError(
                f"n_subjects must be an integer of at least 2; got {self.n_subjects!r}"
            )
        if not isinstance(self.n_controls, int) or self.n_controls < 0:
            raise InputError(f"n_controls must be a non-negative integer; got {self.n_controls!r}")
        if not self.conditions:
            raise InputError("conditions must name at least one condition")
        labels = [c.label for c in self.conditions]
        if len(set(labels)) != len(labels):
            raise InputError(f"condition labels must be unique; got {labels}")
        _at_least("hours_since_dose", self.hours_since_dose, 0.0)
        _at_least("hours_sd", self.hours_sd, 0.0)
        if not isinstance(self.n_sites, int) or self.n_sites < 1:
            raise InputError(f"n_sites must be a positive integer; got {self.n_sites!r}")
        _finite("medicated_fraction", self.medicated_fraction)
        if not 0 <= self.medicated_fraction <= 1:
            raise InputError(
                f"medicated_fraction must be between 0 and 1; got {self.medicated_fraction!r}"
            )
        if self.kind in ("crossover", "parallel") and len(self.conditions) < 2:
            raise InputError(f"a {self.kind} design needs at least two conditions")
        weeks_ok = len(self.weeks) >= 2 and self.weeks[0] == 0
        weeks_ok = weeks_ok and list(self.weeks) == sorted(set(self.weeks))
        if self.kind == "trial" and not weeks_ok:
            raise InputError(
                f"weeks must start at 0 and increase, with a follow-up; got {self.weeks!r}"
            )
        if self.kind == "cohort" and not any(c.dose_mg > 0 for c in self.conditions):
            raise InputError("a cohort needs one condition with a positive dose (the medication)")


@fill_doc
@dataclass(frozen=True)
class SignalSpec:
    """How region signals are generated.

    Parameters
    ----------
    atlas : str
        Atlas whose regions and networks are simulated: a registered name or
        a path to a user's atlas file (see :func:`dmnpharm.atlases.load_atlas`).
    %(n_volumes)s
    %(repetition_time)s
    network_loading : float
        Mean loading of a region on its network source (BOLD signal has unit
        variance per region).
    global_loading : float
        Mean loading on the global signal.
    subject_loading_sd, session_loading_sd : float
        Between-subject and between-session SD of region loadings.
    session_network_sd : float
        Between-session SD of a factor (mean 1) that scales all of a
        network's loadings in one session: state fluctuations (arousal,
        attention) that move a subject's network connectivity from scan to
        scan. It sets the test-retest noise of network-level FC, and with it
        how large a planted change is in standardised units: the default
        gives within-DMN FC a session-to-session SD of about 0.09 Fisher z,
        so the paired difference has an SD of about 0.13, as in test-retest
        studies of network-mean connectivity (Noble et al. 2019, NeuroImage
        191:1-24, for edge-level reliability; see docs/simulation.md).
        Only loadings change: each region's BOLD variance stays 1, so
        amplitude measures do not move with it.
    local_loading : float
        Loading of every region on the local signal it shares with its
        subsystem and its neighbours (:mod:`dmnpharm.simulate._structure`):
        connectivity is stronger within subsystems and falls with distance.
        0 gives networks without internal structure.
    local_length_mm : float
        Distance (mm) over which the distance part of the local signal's
        correlation falls by a factor e.
    thermal_noise_sd : float
        White scanner noise added to the unit-variance BOLD signal; lower is a
        higher SNR.
    drift_sd : float
        SD of each region's slow scanner drift (up to a quadratic, random per run).
    mean_fd : float
        Mean framewise displacement (mm) of a typical run; subjects vary
        log-normally around it.
    motion_artifact : float
        Strength of the motion artifact in the signals (0: none).
    network_coupling : tuple of (str, str, float)
        Correlations between network sources; unlisted pairs are 0.
    atlas_network_map : str
        For an atlas file: a TSV of ``name`` and ``network`` mapping its
        network names to codes ("" for none).
    """

    atlas: str = "seitzman300"
    n_volumes: int = 200
    repetition_time: float = 2.0
    network_loading: float = 0.5
    global_loading: float = 0.25
    subject_loading_sd: float = 0.06
    session_loading_sd: float = 0.04
    session_network_sd: float = 0.15
    local_loading: float = 0.35
    local_length_mm: float = 20.0
    thermal_noise_sd: float = 0.3
    drift_sd: float = 0.2
    mean_fd: float = 0.15
    motion_artifact: float = 0.3
    network_coupling: tuple[tuple[str, str, float], ...] = (
        ("DMN", "DAN", -0.25),
        ("DMN", "SN", -0.15),
        ("DMN", "CON", -0.15),
        ("DMN", "FPN", 0.05),
        ("DAN", "FPN", 0.3),
        ("SN", "CON", 0.4),
        ("SN", "VAN", 0.3),
        ("VIS", "SMN", 0.2),
        ("SMN", "AUD", 0.3),
    )
    atlas_network_map: str = ""

    def atlas_object(self) -> Atlas:
        """Return the simulated atlas (a registered one, or read from its file).

        Returns
        -------
        Atlas
            Its regions, networks and coordinates.
        """
        return load_atlas(self.atlas, self.atlas_network_map or None)

    def __post_init__(self) -> None:
        """Check ranges."""
        if not isinstance(self.n_volumes, int) or self.n_volumes < 20:
            raise InputError(
                f"n_volumes must be an integer of at least 20; got {self.n_volumes!r}"
            )
        _at_least("repetition_time", self.repetition_time, 0.0, strict=True)
        for name in ("network_loading", "global_loading"):
            value = getattr(self, name)
            _finite(name, value)
            if not 0 <= value < 1:
                raise InputError(f"{name} must be between 0 and 1; got {value!r}")
        for name in ("subject_loading_sd", "session_loading_sd", "thermal_noise_sd", "drift_sd"):
            _at_least(name, getattr(self, name), 0.0)
        _at_least("session_network_sd", self.session_network_sd, 0.0)
        _at_least("local_length_mm", self.local_length_mm, 0.0)
        _finite("local_loading", self.local_loading)
        if not 0 <= self.local_loading < 0.7:
            raise InputError(f"local_loading must be in [0, 0.7); got {self.local_loading!r}")
        if self.session_network_sd > 0.4:
            raise InputError(
                f"session_network_sd must be at most 0.4 (a network's loadings would often "
                f"change sign or saturate); got {self.session_network_sd!r}"
            )
        _at_least("mean_fd", self.mean_fd, 0.0, strict=True)
        _at_least("motion_artifact", self.motion_artifact, 0.0)
        for a, b, value in self.network_coupling:
            _finite(f"network_coupling {a}-{b}", value)
            if not -1 < value < 1 or a == b:
                raise InputError(
                    f"network_coupling {a}-{b} must be in (-1, 1) between two networks"
                )


@dataclass(frozen=True)
class Effect:
    """One planted effect, at full exposure (the reference dose, at peak).

    Parameters
    ----------
    measure : str
        One of :data:`EFFECT_MEASURES`.
    size : float
        Signed size in the unit of the measure (see :data:`EFFECT_MEASURES`).
    network : str
        Network code (``"DMN"``); unused for ``global_signal``, ``motion`` and
        the regional measures.
    other : str
        Second network of a ``between_fc`` effect.
    weights : tuple of float
        Regional measures only (and required there): one weight per atlas
        region, in atlas order, used as given, so region ``i`` is scaled by
        ``1 + size x exposure x w_i``. :func:`dmnpharm.simulate.regional_effect`
        builds them from a map, rescaled to ``max |w| = 1``.
    label : str
        What the weights are (e.g. ``"5-HT2A (Hansen 2022)"``), kept in the
        ground truth.
    """

    measure: str
    size: float
    network: str = "DMN"
    other: str = ""
    weights: tuple[float, ...] = field(default=(), repr=False)
    label: str = ""

    def __post_init__(self) -> None:
        """Check the measure, size and weights (stored as a tuple of floats)."""
        check_option("effect measure", self.measure, EFFECT_MEASURES)
        _finite(f"size of the {self.measure} effect", self.size)
        if self.measure == "between_fc" and (not self.other or self.other == self.network):
            raise InputError("a between_fc effect needs 'other', a network other than 'network'")
        if self.measure == "amplitude" and self.size <= -1:
            raise InputError(f"an amplitude change must be above -1 (-100%); got {self.size!r}")
        weights = check_weights(self.measure, self.size, self.weights, self.label)
        object.__setattr__(self, "weights", weights)


@dataclass(frozen=True)
class ResponseSpec:
    """How exposure, and so every drug effect, depends on dose, time and subject.

    Parameters
    ----------
    dose_response : str
        ``"linear"`` (effect proportional to dose) or ``"emax"`` (saturating,
        ``d / (d + ed50_mg)``); both equal 1 at ``reference_dose_mg``.
    reference_dose_mg : float
        Dose at which effects have their stated size.
    ed50_mg : float
        Dose giving half the maximal effect (``emax`` only).
    tmax_hours : float
        Time from dose to peak effect.
    half_life_hours : float
        Elimination half-life; 0 means the effect does not depend on time since dose.
    heterogeneity_sd : float
        SD across subjects of a multiplicative response factor (mean 1).
    onset_weeks : float
        Trial: time constant of the build-up of treatment effects over weeks.
    patient_effects : tuple of Effect
        Trial and cohort: how patients differ from controls before treatment.
    normalization : float
        Trial: fraction of the patient difference the drug removes at full onset.
    placebo_normalization : float
        Trial: fraction removed in the placebo arm (regression to the mean, care).
    rating : str
        Name of the behavioural rating column (empty: none).
    rating_correlation : float
        Population correlation between the rating and each subject's planted
        brain change of the first effect.
    """

    dose_response: str = "linear"
    reference_dose_mg: float = 1.0
    ed50_mg: float = 1.0
    tmax_hours: float = 2.0
    half_life_hours: float = 0.0
    heterogeneity_sd: float = 0.0
    onset_weeks: float = 2.0
    patient_effects: tuple[Effect, ...] = ()
    normalization: float = 0.0
    placebo_normalization: float = 0.0
    rating: str = ""
    rating_correlation: float = 0.0

    def __post_init__(self) -> None:
        """Check ranges."""
        check_option("dose_response", self.dose_response, ("linear", "emax"))
        _at_least("reference_dose_mg", self.reference_dose_mg, 0.0, strict=True)
        _at_least("ed50_mg", self.ed50_mg, 0.0, strict=True)
        for name in ("tmax_hours", "half_life_hours", "heterogeneity_sd"):
            _at_least(name, getattr(self, name), 0.0)
        _at_least("onset_weeks", self.onset_weeks, 0.0, strict=True)
        for name in ("normalization", "placebo_normalization"):
            value = getattr(self, name)
            _finite(name, value)
            if not 0 <= value <= 1:
                raise InputError(f"{name} must be between 0 and 1; got {value!r}")
        _finite("rating_correlation", self.rating_correlation)
        if not -1 <= self.rating_correlation <= 1:
            raise InputError(
                f"rating_correlation must be between -1 and 1; got {self.rating_correlation!r}"
            )
        if self.rating_correlation and not self.rating:
            raise InputError("rating_correlation needs a rating name")


@fill_doc
@dataclass(frozen=True)
class StudySpec:
    """A whole simulated study.

    Parameters
    ----------
    design : DesignSpec
        Subjects, sessions and conditions.
    signal : SignalSpec
        Signal model and acquisition.
    effects : tuple of Effect
        Drug effects at full exposure.
    response : ResponseSpec
        Dose, time, subject and patient modulation of the effects.
    %(seed)s
        Written files are byte-identical too.
    name : str
        Label (a preset name, or "custom").
    """

    design: DesignSpec = field(default_factory=DesignSpec)
    signal: SignalSpec = field(default_factory=SignalSpec)
    effects: tuple[Effect, ...] = (Effect("within_fc", -0.10, "DMN"),)
    response: ResponseSpec = field(default_factory=ResponseSpec)
    seed: int = 0
    name: str = "custom"

    def __post_init__(self) -> None:
        """Check the seed."""
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer; got {self.seed!r}")


def spec_to_dict(spec: StudySpec) -> dict[str, Any]:
    """Return the spec as JSON-ready nested dictionaries and lists.

    Parameters
    ----------
    spec : StudySpec
        The specification.

    Returns
    -------
    dict
        Round-trips through :func:`spec_from_dict`.
    """
    return asdict(spec)


def _build(cls: type[Any], data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise InputError(f"{path} must be a mapping of field names to values; got {data!r}")
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            hint = closest_match(str(key), known)
            fix = f"; did you mean '{hint}'?" if hint else ""
            raise InputError(f"unknown field '{path}.{key}' (known: {', '.join(known)}){fix}")
    values: dict[str, Any] = {}
    nested = {"design": DesignSpec, "signal": SignalSpec, "response": ResponseSpec}
    for key, value in data.items():
        where = f"{path}.{key}"
        if key in nested and cls is StudySpec:
            values[key] = _build(nested[key], value, where)
        elif key in ("effects", "patient_effects"):
            values[key] = tuple(_build(Effect, v, f"{where}[{i}]") for i, v in enumerate(value))
        elif key == "conditions":
            values[key] = tuple(_build(Condition, v, f"{where}[{i}]") for i, v in enumerate(value))
        elif key == "network_coupling":
            values[key] = tuple((str(a), str(b), float(c)) for a, b, c in value)
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return cls(**values)


def spec_from_dict(data: dict[str, Any]) -> StudySpec:
    """Build a spec from nested dictionaries (e.g. a JSON file), strictly.

    Parameters
    ----------
    data : dict
        As written by :func:`spec_to_dict`; missing fields take their defaults.

    Returns
    -------
    StudySpec
        The validated specification.

    Raises
    ------
    InputError
        An unknown field (with the closest known one), a wrong type, or a value
        out of range.
    """
    try:
        spec: StudySpec = _build(StudySpec, data, "spec")
    except TypeError as exc:
        raise InputError(f"spec has a value of the wrong type: {exc}") from None
    return spec
