"""Occupancy at a dose (PET hyperbola, mass action, dropped) and the net-sign rules."""

from __future__ import annotations

import numpy as np
import pytest

# Private modules until dmnpharm.catalog and dmnpharm.predict export these names.
from dmnpharm.catalog._pharmacology import (
    Component,
    DoseInfo,
    DrugProfile,
    FreeFraction,
    OccupancyMeasurement,
    PlasmaLevel,
    TargetAffinity,
    load_pharmacology,
)
from dmnpharm.exceptions import InputError
from dmnpharm.predict._occupancy import (
    METHODS,
    emax_occupancy,
    fit_ed50,
    free_concentration_nm,
    net_sign,
    net_sign_rule,
    target_occupancy,
)

DOSE = DoseInfo(usual_dose_mg=10.0, route="oral", basis="single", source="s", confidence="derived")


def profile(
    targets: tuple[TargetAffinity, ...],
    occupancy: tuple[OccupancyMeasurement, ...] = (),
    component: Component | None = None,
    dose: DoseInfo = DOSE,
) -> DrugProfile:
    """Build a profile with one component, ``x``."""
    comp = component or Component(
        name="x", molecular_weight=200.0, source="s", confidence="derived"
    )
    return DrugProfile("testdrug", dose, (comp,), targets, occupancy)


def target(
    name: str = "D2", ki_nm: float | None = 25.0, action: str = "antagonist"
) -> TargetAffinity:
    """Build a target of component ``x``."""
    note = "" if ki_nm is not None else "nothing published"
    return TargetAffinity(name, action, "x", ki_nm, "Ki", "binding", "verified", note=note)


def pet(dose_mg: float, occ: float, name: str = "D2") -> OccupancyMeasurement:
    """Build a PET measurement."""
    return OccupancyMeasurement(name, dose_mg, occ, "tracer", "pet study", "verified")


@pytest.mark.parametrize(("dose", "occ"), [(10.0, 0.64), (0.5, 0.4), (60.0, 0.818), (3.0, 0.01)])
def test_one_point_fit_passes_through_it(dose: float, occ: float) -> None:
    """ED50 = D(1 - occ)/occ reproduces the measured point exactly."""
    ed50 = fit_ed50([dose], [occ])
    assert ed50 == pytest.approx(dose * (1 - occ) / occ)
    assert emax_occupancy(dose, ed50) == pytest.approx(occ, abs=1e-12)


def test_the_hyperbola_is_monotone_and_bounded() -> None:
    """Occupancy rises with dose, stays below 1, and is 0.5 at the ED50."""
    ed50 = fit_ed50([5.0, 10.0, 20.0, 40.0, 60.0], [0.12, 0.40, 0.54, 0.72, 0.74])
    doses = np.geomspace(1e-3, 1e4, 200)
    occ = np.array([emax_occupancy(d, ed50) for d in doses])
    assert np.all(np.diff(occ) > 0)
    assert np.all((occ >= 0) & (occ < 1))
    assert emax_occupancy(ed50, ed50) == pytest.approx(0.5)


def test_least_squares_recovers_an_exact_ed50() -> None:
    """Noise-free points of a hyperbola give back its ED50."""
    doses = [1.0, 4.0, 17.0]
    occ = [d / (d + 7.3) for d in doses]
    assert fit_ed50(doses, occ) == pytest.approx(7.3, rel=1e-6)


@pytest.mark.parametrize(
    ("doses", "occ"), [([], []), ([1.0], [1.0]), ([0.0], [0.5]), ([1.0, 2.0], [0.5])]
)
def test_fit_rejects_unusable_points(doses: list[float], occ: list[float]) -> None:
    """Empty, unequal, zero-dose or saturated inputs raise InputError."""
    with pytest.raises(InputError):
        fit_ed50(doses, occ)


def test_mass_action_matches_a_hand_computation() -> None:
    """C_free = 100 ng/mL x (20/10) x 0.1 x 1000 / 200 g/mol = 100 nM; occ = 100/(100+25)."""
    comp = Component(
        name="x",
        molecular_weight=200.0,
        source="s",
        confidence="derived",
        plasma=PlasmaLevel(10.0, 100.0, "Cmax", "pk study", "verified"),
        free_fraction=FreeFraction(0.1, "binding study", "unverified"),
    )
    assert free_concentration_nm(20.0, 10.0, 100.0, 0.1, 200.0) == pytest.approx(100.0)
    (estimate,) = target_occupancy(profile((target(),), component=comp), dose_mg=20.0)
    assert estimate.method == "mass_action"
    assert estimate.occupancy == pytest.approx(100.0 / 125.0)
    assert "proxy for the brain" in estimate.assumptions
    assert estimate.confidence == "unverified"
    assert set(estimate.sources) == {"binding", "pk study", "binding study", "s"}


def test_pet_data_win_and_say_whether_they_extrapolate() -> None:
    """With PET points the hyperbola is used; doses outside their range are flagged."""
    drug = profile((target(),), occupancy=(pet(2.0, 0.66), pet(6.0, 0.79)))
    (inside,) = target_occupancy(drug, dose_mg=4.0)
    (outside,) = target_occupancy(drug, dose_mg=30.0)
    assert inside.method == "pet_emax"
    assert "interpolation" in inside.assumptions
    assert "extrapolation" in outside.assumptions
    assert 0.66 < inside.occupancy < 0.79 < outside.occupancy < 1.0  # type: ignore[operator]
    (usual,) = target_occupancy(drug)
    assert usual.dose_mg == pytest.approx(10.0)


def test_a_target_without_data_is_dropped_with_a_reason() -> None:
    """No PET, no Ki, no plasma: the estimate stays in the list, empty, with why."""
    (estimate,) = target_occupancy(profile((target(ki_nm=None),)))
    assert estimate.dropped
    assert estimate.occupancy is None
    assert estimate.method == "dropped"
    assert estimate.method in METHODS
    assert "no affinity constant (nothing published)" in estimate.reason
    assert "no plasma level" in estimate.reason


def test_without_an_unbound_fraction_total_plasma_gives_an_upper_bound() -> None:
    """No unbound fraction: mass action on the total level, flagged as an upper bound."""
    comp = Component(
        name="x",
        molecular_weight=200.0,
        source="s",
        confidence="derived",
        plasma=PlasmaLevel(10.0, 100.0, "Cmax", "pk study", "verified"),
        free_fraction=None,
    )
    (estimate,) = target_occupancy(profile((target(),), component=comp), dose_mg=10.0)
    assert estimate.method == "mass_action_total"
    total_nm = 100.0 * 1000.0 / 200.0
    ki = target().ki_nm
    assert ki is not None
    assert estimate.occupancy == pytest.approx(total_nm / (total_nm + ki))
    assert "upper bound" in estimate.assumptions
    assert estimate.confidence == "unverified"


def test_no_dose_in_mg_drops_every_target() -> None:
    """An agent without a usual mg dose needs dose_mg; without it every target is dropped."""
    infusion = DoseInfo(None, "intravenous", "to a target concentration", "s", "unverified")
    estimates = target_occupancy(profile((target(), target("H1")), dose=infusion))
    assert [e.target for e in estimates] == ["D2", "H1"]
    assert all(e.dropped and "pass dose_mg" in e.reason for e in estimates)


@pytest.mark.parametrize("dose", [0.0, -5.0, float("nan")])
def test_a_bad_dose_is_an_input_error(dose: float) -> None:
    """The dose must be a positive number."""
    with pytest.raises(InputError, match="dose_mg"):
        target_occupancy(profile((target(),)), dose_mg=dose)


def test_every_shipped_profile_gives_one_estimate_per_target() -> None:
    """Each agent: every target either has an occupancy in [0, 1] or a stated reason."""
    ph = load_pharmacology()
    for agent in ph.agents:
        drug = ph.profile(agent)
        estimates = target_occupancy(drug)
        assert [e.target for e in estimates] == [t.target for t in drug.targets]
        for e in estimates:
            if e.dropped:
                assert e.reason
            else:
                assert e.occupancy is not None
                assert 0.0 <= e.occupancy <= 1.0
                assert e.sources
                assert e.assumptions


@pytest.mark.parametrize(
    ("action", "excitability", "activity", "expected"),
    [
        ("agonist", 1, None, 1.0),
        ("agonist", -1, None, -1.0),
        ("antagonist", 1, None, -1.0),
        ("antagonist", -1, None, 1.0),
        ("partial agonist", 1, 0.25, -0.5),
        ("partial agonist", -1, 0.25, 0.5),
        ("partial agonist", 1, 1.0, 1.0),
        ("partial agonist", 1, 0.0, -1.0),
        ("partial agonist", 1, None, 0.0),
        ("inhibitor", 1, None, 1.0),
        ("inhibitor", 0, None, 0.0),
        ("releaser", 1, None, 1.0),
        ("modulator", -1, None, -1.0),
        ("blocker", 1, None, -1.0),
        ("blocker", 0, None, 0.0),
    ],
)
def test_net_sign_table(
    action: str, excitability: int, activity: float | None, expected: float
) -> None:
    """The documented rule for each action."""
    assert net_sign(action, excitability, activity) == pytest.approx(expected)


def test_zero_signs_are_explained() -> None:
    """net_sign_rule says why a sign is 0."""
    assert "intrinsic activity unknown" in net_sign_rule("partial agonist", 1)
    assert "unknown or mixed" in net_sign_rule("inhibitor", 0)
    assert "0" not in net_sign_rule("agonist", 1)


@pytest.mark.parametrize(
    ("action", "excitability", "activity", "match"),
    [
        ("agnoist", 1, None, "did you mean 'agonist'"),
        ("agonist", 2, None, "excitability"),
        ("partial agonist", 1, 1.5, "intrinsic_activity"),
    ],
)
def test_net_sign_rejects_bad_input(
    action: str, excitability: int, activity: float | None, match: str
) -> None:
    """Unknown action, excitability outside [-1, 1], intrinsic activity outside [0, 1]."""
    with pytest.raises(InputError, match=match):
        net_sign(action, excitability, activity)
