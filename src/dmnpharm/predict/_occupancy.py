"""Target occupancy of a drug at a dose, and the sign of its net effect on excitability.

:func:`target_occupancy` estimates, for every target of a
:class:`~dmnpharm.catalog._pharmacology.DrugProfile`, the fraction occupied at a
dose by the first rule that has data:

1. ``"pet_emax"`` - the target has PET occupancy measurements: a single-site
   hyperbola ``occ = D / (D + ED50)`` (maximal occupancy 1) is fitted to the
   measured (dose, occupancy) points - in closed form for one point, by least
   squares for several - and evaluated at the dose. The estimate says whether
   the dose is inside the measured range (interpolation) or not (extrapolation).
2. ``"mass_action"`` - no PET, but an affinity, a plasma level and an unbound
   fraction: ``occ = C_free / (C_free + K)`` with ``C_free`` the plasma level
   scaled linearly from its reference dose, times the unbound fraction,
   converted to nM with the component's molecular weight. The unbound plasma
   concentration stands in for the brain's extracellular concentration.
   ``"mass_action_total"`` - the same without a recorded unbound fraction: the
   total plasma concentration is used, an upper bound on the occupancy (the
   direction of a prediction does not depend on it; its size is overstated).
3. ``"dropped"`` - otherwise the occupancy is unknown and the target is kept in
   the result with ``occupancy=None`` and the reason, never left out silently.

Kinds of action: for a releaser the constant is the EC50 of release, so the
value is the fraction of maximal release; for an enzyme inhibitor it is the
fraction of enzyme inhibited (substrate competition ignored); for an
allosteric modulator or channel blocker with an IC50/EC50 it is the fraction of
the maximal effect. An IC50 is used as if it were a Ki (no Cheng-Prusoff
correction).

:func:`net_sign` turns an action and a target's excitability sign (see
:class:`~dmnpharm.catalog._pharmacology.ReceptorCoupling`) into the direction
of the drug's effect on the excitability of neurons bearing the target;
:func:`net_sign_rule` says which rule gave it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from dmnpharm._utils import closest_match
from dmnpharm.catalog import MODES
from dmnpharm.catalog._pharmacology import DrugProfile, OccupancyMeasurement, TargetAffinity
from dmnpharm.exceptions import InputError

__all__ = [
    "METHODS",
    "OccupancyEstimate",
    "emax_occupancy",
    "fit_ed50",
    "free_concentration_nm",
    "mass_action_occupancy",
    "net_sign",
    "net_sign_rule",
    "target_occupancy",
]

#: How an occupancy estimate was obtained.
METHODS: tuple[str, ...] = ("pet_emax", "mass_action", "mass_action_total", "dropped")

_ORDER = {"verified": 0, "derived": 1, "unverified": 2}

_ACTION_NOTES = {
    "releaser": "the constant is an EC50 of transporter-mediated release, so the value is the "
    "fraction of maximal release, not binding occupancy",
    "inhibitor": "for an enzyme the value is the fraction of enzyme inhibited (competition with "
    "substrate ignored); for a transporter, the fraction of transporters blocked",
    "modulator": "for an allosteric modulator the value is the fraction of modulatory sites "
    "bound (or of maximal potentiation when the constant is an EC50)",
    "blocker": "channel block is use-dependent; one constant stands for all channel states",
}


@dataclass(frozen=True)
class OccupancyEstimate:
    """The estimated occupancy of one target at one dose, with how it was obtained.

    Parameters
    ----------
    agent, target, action : str
        Agent id, target name and the agent's action on it.
    dose_mg : float or None
        The dose of the estimate (None when no dose was given or recorded).
    occupancy : float or None
        Fraction occupied in [0, 1]; None when the target is dropped.
    method : str
        One of :data:`METHODS`.
    assumptions : str
        The model, its parameters and what it assumes, in words.
    sources : tuple of str
        The publications behind the numbers used.
    confidence : str
        The weakest confidence of the numbers used ("verified", "derived" or
        "unverified"); "" for a dropped target.
    reason : str
        Why the target is dropped ("" otherwise).
    """

    agent: str
    target: str
    action: str
    dose_mg: float | None
    occupancy: float | None
    method: str
    assumptions: str
    sources: tuple[str, ...]
    confidence: str
    reason: str = ""

    @property
    def dropped(self) -> bool:
        """Whether no occupancy could be estimated for this target."""
        return self.method == "dropped"


def emax_occupancy(dose_mg: float, ed50_mg: float) -> float:
    """Return the occupancy of a single-site hyperbola, ``D / (D + ED50)``.

    Parameters
    ----------
    dose_mg : float
        Dose (>= 0).
    ed50_mg : float
        Dose giving half-maximal occupancy (> 0).

    Returns
    -------
    float
        Occupancy in [0, 1).
    """
    if dose_mg < 0 or ed50_mg <= 0:
        raise InputError(f"dose_mg ({dose_mg}) must be >= 0 and ed50_mg ({ed50_mg}) > 0")
    return dose_mg / (dose_mg + ed50_mg)


def fit_ed50(doses_mg: Sequence[float], occupancies: Sequence[float]) -> float:
    """Fit the ED50 of ``occ = D / (D + ED50)`` to measured occupancies.

    One point is solved in closed form, ``ED50 = D (1 - occ) / occ``, so the
    curve passes through it exactly. Several points are fitted by least
    squares on occupancy, searching ED50 on a log scale.

    Parameters
    ----------
    doses_mg : sequence of float
        Doses (> 0).
    occupancies : sequence of float
        Measured occupancies, each strictly between 0 and 1.

    Returns
    -------
    float
        The ED50 in the unit of ``doses_mg``.

    Raises
    ------
    InputError
        When the sequences are empty or of unequal length, a dose is not
        positive, or an occupancy is not strictly between 0 and 1.
    """
    dose = np.asarray(doses_mg, dtype=float)
    occ = np.asarray(occupancies, dtype=float)
    if dose.size == 0 or dose.shape != occ.shape:
        raise InputError(
            f"need equal, non-empty doses and occupancies; got {dose.size}/{occ.size}"
        )
    if np.any(dose <= 0) or np.any((occ <= 0) | (occ >= 1)):
        raise InputError("doses must be > 0 and occupancies strictly between 0 and 1")
    if dose.size == 1:
        return float(dose[0] * (1.0 - occ[0]) / occ[0])

    def sse(log_ed50: float) -> float:
        return float(np.sum((occ - dose / (dose + math.exp(log_ed50))) ** 2))

    grid = np.linspace(math.log(dose.min()) - 10.0, math.log(dose.max()) + 10.0, 801)
    best = int(np.argmin([sse(g) for g in grid]))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    result = minimize_scalar(sse, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
    return math.exp(float(result.x))


def mass_action_occupancy(free_nm: float, ki_nm: float) -> float:
    """Return the equilibrium occupancy ``C / (C + K)`` of a single site.

    Parameters
    ----------
    free_nm : float
        Free ligand concentration in nM (>= 0).
    ki_nm : float
        Dissociation (or inhibition) constant in nM (> 0).

    Returns
    -------
    float
        Occupancy in [0, 1).
    """
    if free_nm < 0 or ki_nm <= 0:
        raise InputError(f"free_nm ({free_nm}) must be >= 0 and ki_nm ({ki_nm}) > 0")
    return free_nm / (free_nm + ki_nm)


def free_concentration_nm(
    dose_mg: float, ref_dose_mg: float, level_ng_ml: float, free_fraction: float, mw: float
) -> float:
    """Return the unbound plasma concentration at a dose, in nM.

    ``C_free = level x (dose / ref_dose) x free_fraction x 1000 / mw``: the
    level is scaled linearly from its reference dose, and ng/mL divided by
    g/mol is umol/L.

    Parameters
    ----------
    dose_mg, ref_dose_mg : float
        The dose wanted and the dose the level was measured at (> 0).
    level_ng_ml : float
        Total plasma concentration at the reference dose, ng/mL.
    free_fraction : float
        Unbound fraction in (0, 1].
    mw : float
        Molecular weight of the measured moiety, g/mol.

    Returns
    -------
    float
        Unbound concentration in nM.
    """
    if min(dose_mg, ref_dose_mg, level_ng_ml, mw) <= 0 or not 0 < free_fraction <= 1:
        raise InputError("doses, level and molecular weight must be > 0; free_fraction in (0, 1]")
    return level_ng_ml * (dose_mg / ref_dose_mg) * free_fraction * 1000.0 / mw


def _weakest(*levels: str) -> str:
    return max(levels, key=lambda level: _ORDER.get(level, 2))


def _from_pet(profile: DrugProfile, t: TargetAffinity, dose: float) -> OccupancyEstimate | None:
    """Return the PET-based estimate of one target, or None when no point can be fitted."""
    points: list[OccupancyMeasurement] = [
        m for m in profile.measurements(t.target) if 0.0 < m.occupancy < 1.0
    ]
    if not points:
        return None
    ed50 = fit_ed50([m.dose_mg for m in points], [m.occupancy for m in points])
    low, high = min(m.dose_mg for m in points), max(m.dose_mg for m in points)
    where = "interpolation" if low <= dose <= high else "extrapolation"
    fit = "closed form through one point" if len(points) == 1 else "least squares"
    tracers = sorted({m.tracer for m in points})
    text = (
        f"single-site hyperbola occ = D/(D + ED50) with maximal occupancy 1, {fit} to "
        f"{len(points)} measured point(s) at {low:g}-{high:g} mg (ED50 = {ed50:.4g} mg); "
        f"{where} to {dose:g} mg; tracer(s): {'; '.join(tracers)}; points may mix single "
        "doses and steady state, regions and populations (see the measurements' notes)"
    )
    return OccupancyEstimate(
        agent=profile.agent,
        target=t.target,
        action=t.action,
        dose_mg=dose,
        occupancy=emax_occupancy(dose, ed50),
        method="pet_emax",
        assumptions=text,
        sources=tuple(dict.fromkeys(m.source for m in points)),
        confidence=_weakest(*(m.confidence for m in points)),
    )


def _missing_for_mass_action(profile: DrugProfile, t: TargetAffinity) -> str:
    """Return why mass action cannot be used for a target ("" when it can)."""
    component = profile.component(t.component)
    missing = []
    if t.ki_nm is None:
        missing.append(f"no affinity constant ({t.note or 'none recorded'})")
    if component.plasma is None:
        missing.append(f"no plasma level recorded for {component.name}")
    return "; ".join(missing)


def _from_mass_action(
    profile: DrugProfile, t: TargetAffinity, dose: float
) -> OccupancyEstimate | None:
    """Return the mass-action estimate of one target, or None when an input is missing."""
    component = profile.component(t.component)
    plasma, free = component.plasma, component.free_fraction
    if plasma is None or t.ki_nm is None:
        return None
    fraction = 1.0 if free is None else free.value
    c_free = free_concentration_nm(
        dose, plasma.dose_mg, plasma.concentration_ng_ml, fraction, component.molecular_weight
    )
    unbound = (
        "no unbound fraction recorded, so the TOTAL plasma concentration is used: an upper "
        "bound on occupancy"
        if free is None
        else f"x unbound fraction {fraction:g}"
    )
    text = (
        f"law of mass action at equilibrium, occ = C_free/(C_free + {t.ki_kind}); "
        f"{t.ki_kind} = {t.ki_nm:g} nM; C_free = {c_free:.4g} nM from {component.name} "
        f"{plasma.concentration_ng_ml:g} ng/mL ({plasma.kind}) at {plasma.dose_mg:g} mg scaled "
        f"linearly to {dose:g} mg, {unbound}, "
        f"/ {component.molecular_weight:g} g/mol; the unbound plasma concentration is taken "
        "as a proxy for the brain's (blood-brain barrier transport, efflux and non-equilibrium "
        "are ignored)"
    )
    if t.action in _ACTION_NOTES:
        text += f"; {_ACTION_NOTES[t.action]}"
    return OccupancyEstimate(
        agent=profile.agent,
        target=t.target,
        action=t.action,
        dose_mg=dose,
        occupancy=mass_action_occupancy(c_free, t.ki_nm),
        method="mass_action" if free is not None else "mass_action_total",
        assumptions=text,
        sources=tuple(
            x
            for x in dict.fromkeys(
                (t.source, plasma.source, "" if free is None else free.source, component.source)
            )
            if x
        ),
        confidence=_weakest(
            t.confidence,
            plasma.confidence,
            "unverified" if free is None else free.confidence,
            component.confidence,
        ),
    )


def _dropped(
    profile: DrugProfile, t: TargetAffinity, dose: float | None, reason: str
) -> OccupancyEstimate:
    return OccupancyEstimate(
        agent=profile.agent,
        target=t.target,
        action=t.action,
        dose_mg=dose,
        occupancy=None,
        method="dropped",
        assumptions="occupancy unknown: left out of any prediction",
        sources=(),
        confidence="",
        reason=reason,
    )


def target_occupancy(
    profile: DrugProfile, dose_mg: float | None = None
) -> list[OccupancyEstimate]:
    """Estimate the occupancy of every target of an agent at a dose.

    Rules, first that applies: PET measurements (hyperbola fitted to them),
    else the law of mass action with the unbound plasma concentration, else
    dropped with a reason (see the module docstring).

    Parameters
    ----------
    profile : DrugProfile
        The agent's profile (from ``load_pharmacology().profile(agent_id)``).
    dose_mg : float or None
        Dose in the agent's dose unit (mg of the administered compound); None
        uses the profile's usual dose.

    Returns
    -------
    list of OccupancyEstimate
        One per target, in the profile's order; dropped targets included, with
        ``occupancy=None`` and the reason.

    Raises
    ------
    InputError
        When ``dose_mg`` is given but not a positive number.
    """
    if dose_mg is not None and (isinstance(dose_mg, bool) or not dose_mg > 0):
        raise InputError(f"dose_mg must be a positive number of mg, got {dose_mg!r}")
    dose = dose_mg if dose_mg is not None else profile.dose.usual_dose_mg
    estimates = []
    for t in profile.targets:
        if dose is None:
            reason = (
                f"no dose given and {profile.agent} has no usual dose in mg "
                f"({profile.dose.basis}); pass dose_mg"
            )
            estimates.append(_dropped(profile, t, None, reason))
            continue
        estimate = _from_pet(profile, t, dose) or _from_mass_action(profile, t, dose)
        if estimate is None:
            reason = f"no PET occupancy; {_missing_for_mass_action(profile, t)}"
            estimate = _dropped(profile, t, dose, reason)
        estimates.append(estimate)
    return estimates


#: The rule net_sign applies for each action, in words.
_RULES = {
    "agonist": "agonist: +1 x excitability",
    "antagonist": "antagonist: -1 x excitability (removes endogenous tone)",
    "partial agonist": "partial agonist: (2 x intrinsic_activity - 1) x excitability, i.e. "
    "agonist-like above half the endogenous agonist's efficacy, antagonist-like below",
    "inhibitor": "inhibitor of a transporter or enzyme: +1 x excitability (the target's "
    "excitability already encodes the effect of more transmitter)",
    "releaser": "releaser: +1 x excitability (more transmitter, as for an inhibitor)",
    "modulator": "positive allosteric modulator: +1 x excitability",
    "blocker": "channel blocker: -1 x excitability",
}


def _check_sign_inputs(action: str, excitability: float, intrinsic_activity: float | None) -> None:
    if action not in MODES:
        hint = closest_match(action, MODES)
        extra = f"; did you mean {hint!r}?" if hint else ""
        raise InputError(f"action {action!r} is not one of {', '.join(MODES)}{extra}")
    if not -1.0 <= excitability <= 1.0:
        raise InputError(f"excitability must be in [-1, 1] (+1, 0 or -1), got {excitability!r}")
    if intrinsic_activity is not None and not 0.0 <= intrinsic_activity <= 1.0:
        raise InputError(f"intrinsic_activity must be in [0, 1], got {intrinsic_activity!r}")


def net_sign(action: str, excitability: float, intrinsic_activity: float | None = None) -> float:
    """Return the direction of a drug's effect on the excitability of neurons bearing a target.

    Rules (``excitability`` is the target's sign, +1, 0 or -1):

    - agonist: ``+excitability``;
    - antagonist: ``-excitability`` (it removes the endogenous tone);
    - partial agonist: ``(2 * intrinsic_activity - 1) * excitability`` - the
      drug pulls the receptor's activation towards its own efficacy, so it acts
      as an agonist where the endogenous tone is below half-maximal and as an
      antagonist above; assuming a half-maximal tone gives this linear rule,
      +1 for a full agonist and -1 for a silent antagonist. With no intrinsic
      activity the direction is undetermined and the result is 0;
    - inhibitor and releaser (transporters, enzymes): ``+excitability``, the
      target's excitability being the sign of more transmitter;
    - modulator (positive allosteric): ``+excitability``;
    - blocker: ``-excitability``.

    The result is 0 whenever ``excitability`` is 0 (unknown or mixed target),
    and for a partial agonist without an intrinsic activity;
    :func:`net_sign_rule` names the rule applied.

    Parameters
    ----------
    action : str
        One of the catalog's MODES.
    excitability : float
        The target's excitability sign, in [-1, 1].
    intrinsic_activity : float or None
        Efficacy relative to the endogenous agonist (0-1); used for partial agonists.

    Returns
    -------
    float
        In [-1, 1]: positive raises, negative lowers excitability, 0 is unknown.
    """
    _check_sign_inputs(action, excitability, intrinsic_activity)
    if action == "partial agonist":
        if intrinsic_activity is None:
            return 0.0
        return (2.0 * intrinsic_activity - 1.0) * excitability + 0.0
    factor = -1.0 if action in ("antagonist", "blocker") else 1.0
    return factor * excitability + 0.0


def net_sign_rule(
    action: str, excitability: float, intrinsic_activity: float | None = None
) -> str:
    """Return, in words, the rule :func:`net_sign` applies and why a result is 0.

    Parameters
    ----------
    action : str
        One of the catalog's MODES.
    excitability : float
        The target's excitability sign, in [-1, 1].
    intrinsic_activity : float or None
        Efficacy relative to the endogenous agonist (0-1).

    Returns
    -------
    str
        The rule; when the sign is 0, the reason.
    """
    _check_sign_inputs(action, excitability, intrinsic_activity)
    rule = _RULES[action]
    if action == "partial agonist" and intrinsic_activity is None:
        return f"{rule}; intrinsic activity unknown, so the direction is undetermined: 0"
    if excitability == 0:
        return f"{rule}; the target's excitability sign is 0 (unknown or mixed): 0"
    return rule
