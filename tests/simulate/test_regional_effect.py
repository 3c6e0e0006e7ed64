"""Regional effects: a planted change whose size per region follows a map, recovered.

A smooth map over the Seitzman atlas (a Gaussian bump along y, a gradient along x)
drives ``regional_coupling`` and ``regional_amplitude`` in a small crossover study;
the per-region drug-placebo change of GBC and of ALFF must follow its own map and
not an unrelated one.
"""

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.cli import main
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import (
    MEASURES,
    fisher_z_connectivity,
    global_brain_connectivity,
    region_amplitude,
    run_fc_metrics,
)
from dmnpharm.simulate import (
    EFFECT_MEASURES,
    Condition,
    DesignSpec,
    Effect,
    MeasureTarget,
    SignalSpec,
    SimulatedStudy,
    StudySpec,
    regional_effect,
    simulate_measure_runs,
    simulate_study,
    spec_from_dict,
    spec_to_dict,
)
from dmnpharm.simulate._batch import _apply_effects, _layout, _Models
from dmnpharm.simulate._structure import local_structure
from dmnpharm.simulate._study import _apply, _RunState, _source_covariance

ATLAS = load_atlas("seitzman300")
XYZ = np.asarray(ATLAS.coords)
NETWORKS = np.asarray(ATLAS.networks)

#: A frontal Gaussian bump along y (30 mm, SD 25 mm), centred: the coupling map.
BUMP = np.exp(-((XYZ[:, 1] - 30.0) ** 2) / (2 * 25.0**2))
COUPLING = regional_effect("regional_coupling", 0.5, BUMP - BUMP.mean(), ATLAS, label="bump")
#: A left-right gradient: the amplitude map (correlation with the bump map about 0.05).
AMPLITUDE = regional_effect("regional_amplitude", 0.2, XYZ[:, 0], ATLAS, label="x gradient")

#: 30 subjects x 150 volumes, default session noise, drift and motion.
SPEC = StudySpec(
    design=DesignSpec(n_subjects=30),
    signal=SignalSpec(n_volumes=150),
    effects=(COUPLING, AMPLITUDE),
    seed=7,
)


@pytest.fixture(scope="module")
def study() -> SimulatedStudy:
    """Simulate the crossover with both regional effects once (read-only)."""
    return simulate_study(SPEC)


def _change(study: SimulatedStudy, measure: str) -> npt.NDArray[np.float64]:
    """Mean over subjects of the drug-placebo change per region of GBC or log ALFF."""
    values: dict[tuple[str, str], npt.NDArray[np.float64]] = {}
    for run in study.runs:
        if measure == "gbc":
            value = global_brain_connectivity(fisher_z_connectivity(run.data))
        else:
            alff = region_amplitude(run.data, SPEC.signal.repetition_time, ATLAS.networks).alff
            value = np.log(alff)
        values[(run.participant_id, run.condition)] = value
    subjects = sorted({pid for pid, _ in values})
    diffs = [values[(s, "drug")] - values[(s, "placebo")] for s in subjects]
    mean: npt.NDArray[np.float64] = np.mean(diffs, axis=0)
    return mean


def _r(x: npt.NDArray[np.float64], y: npt.ArrayLike) -> float:
    return float(np.corrcoef(x, np.asarray(y, dtype=float))[0, 1])


def test_gbc_change_follows_the_coupling_map(
    study: SimulatedStudy, rng: np.random.Generator
) -> None:
    """The regional GBC change correlates with the coupling map, not with a shuffled one.

    The population GBC change of a typical run correlates 0.97 with the map;
    sampling noise (30 subjects, 150 raw volumes with drift, motion and network
    session states) brings the measured correlation to 0.66-0.80 over seeds 0-19
    (0.79 at seed 7). A shuffled map has a null SD of about 0.06 over 300 regions.
    """
    change = _change(study, "gbc")
    weights = np.asarray(COUPLING.weights)
    assert _r(change, weights) > 0.5
    assert abs(_r(change, rng.permutation(weights))) < 0.25


def test_alff_change_follows_the_amplitude_map_only(study: SimulatedStudy) -> None:
    """Log ALFF moves with the amplitude map (r > 0.8; 0.94-0.96 over seeds 0-19).

    Coupling keeps each region's BOLD variance, so the log-ALFF change does not
    follow the coupling map (|r| at most 0.13 over seeds 0-19).
    """
    change = _change(study, "alff")
    assert _r(change, AMPLITUDE.weights) > 0.8
    assert abs(_r(change, COUPLING.weights)) < 0.3


def test_ground_truth_records_the_regional_effects(study: SimulatedStudy) -> None:
    """Measure, size, label and a digest of the weights, with where the weights are."""
    first, second = study.ground_truth["planted_effects"]
    assert (first["measure"], first["size"], first["label"]) == ("regional_coupling", 0.5, "bump")
    assert second["label"] == "x gradient"
    assert first["weights_digest"].startswith("sha256:")
    assert first["weights_digest"] != second["weights_digest"]
    assert first["weights_at"].startswith("spec.effects[0].weights")
    assert first["n_weights"] == ATLAS.n_regions
    assert first["unit"] == EFFECT_MEASURES["regional_coupling"]
    assert spec_from_dict(study.ground_truth["spec"]) == SPEC
    runs = pd.DataFrame(study.ground_truth["runs"])
    planted = runs["regional_coupling_bump"] - runs["regional_coupling_bump_without_effects"]
    np.testing.assert_allclose(planted, 0.5 * runs["exposure"])


def test_weights_follow_the_map_and_align_by_label(rng: np.random.Generator) -> None:
    """A Series is aligned by label (extra labels ignored); weights peak at |1|."""
    values = rng.standard_normal(ATLAS.n_regions)
    from_array = regional_effect("regional_amplitude", 0.1, values, ATLAS)
    assert max(abs(w) for w in from_array.weights) == pytest.approx(1.0)
    series = pd.Series(values, index=list(ATLAS.labels))
    shuffled = series.sample(frac=1.0, random_state=1)
    extra = pd.concat([shuffled, pd.Series([99.0], index=["not_a_region"])])
    assert regional_effect("regional_amplitude", 0.1, extra, list(ATLAS.labels)) == from_array
    with pytest.raises(InputError, match=r"no value for 1 of the 300 regions"):
        regional_effect("regional_amplitude", 0.1, series.iloc[1:], ATLAS)
    holed = series.copy()
    holed.iloc[3] = np.nan
    with pytest.raises(
        InputError, match=re.escape(f"not finite at 1 regions, e.g. '{holed.index[3]}'")
    ):
        regional_effect("regional_amplitude", 0.1, holed, ATLAS)
    with pytest.raises(InputError, match="builds regional_amplitude or regional_coupling"):
        regional_effect("within_fc", 0.1, values, ATLAS)
    with pytest.raises(InputError, match="one value per region"):
        regional_effect("regional_amplitude", 0.1, values[:10], ATLAS)
    with pytest.raises(InputError, match="0 at every region"):
        regional_effect("regional_amplitude", 0.1, np.zeros(ATLAS.n_regions), ATLAS)


def test_spec_with_weights_round_trips_through_json() -> None:
    """Weights and label survive JSON; integer weights read back as the same floats."""
    text = json.dumps(spec_to_dict(SPEC))
    assert spec_from_dict(json.loads(text)) == SPEC
    data = spec_to_dict(SPEC)
    data["effects"][0]["weights"] = [1] + [0] * (ATLAS.n_regions - 1)
    effect = spec_from_dict(data).effects[0]
    assert effect.weights[:2] == (1.0, 0.0)
    assert all(isinstance(w, float) for w in effect.weights)
    assert hash(effect) == hash(replace(effect))


def test_bad_regional_effects_are_refused() -> None:
    """Missing weights, weights on a network effect, NaN, wrong count, non-positive scaling."""
    ones = (1.0,) * ATLAS.n_regions
    with pytest.raises(InputError, match="a regional_coupling effect needs weights"):
        Effect("regional_coupling", 0.2)
    with pytest.raises(InputError, match="within_fc effect got 300 weights"):
        Effect("within_fc", -0.1, "DMN", weights=ones)
    with pytest.raises(InputError, match=r"weight 2 of the regional_amplitude effect is nan"):
        Effect("regional_amplitude", 0.1, weights=(0.5, 1.0, float("nan")))
    with pytest.raises(InputError, match="must be a number"):
        Effect("regional_amplitude", 0.1, weights=(True, 1.0))
    with pytest.raises(InputError, match=r"scales region 1 .* which must be positive"):
        Effect("regional_amplitude", -2.0, weights=(0.1, 1.0))
    with pytest.raises(InputError, match="are all 0"):
        Effect("regional_coupling", 0.1, weights=(0.0, 0.0))
    with pytest.raises(InputError, match=r"'spec\.effects\[0\]\.weight'.*did you mean 'weights'"):
        spec_from_dict({"effects": [{"measure": "regional_coupling", "size": 0.1, "weight": []}]})
    short = StudySpec(
        signal=SignalSpec(n_volumes=20),
        effects=(Effect("regional_coupling", 0.2, weights=(1.0,) * 10, label="short"),),
    )
    with pytest.raises(InputError, match="has 10 weights, but atlas 'seitzman300' has 300"):
        simulate_study(short)
    with pytest.raises(InputError, match="has 10 weights"):
        simulate_measure_runs(short, MeasureTarget("within_fc", "DMN"), 1, seed=0)
    # valid at the reference dose (1 - 0.6 > 0), not at twice it: refused up front, by region
    double = StudySpec(
        design=DesignSpec(n_subjects=4, conditions=(Condition("placebo"), Condition("drug", 2))),
        signal=SignalSpec(n_volumes=20),
        effects=(regional_effect("regional_amplitude", -0.6, BUMP, ATLAS),),
    )
    peak = ATLAS.labels[int(np.argmax(BUMP))]
    with pytest.raises(InputError, match=re.escape(f"region '{peak}' by -0.2, which must be")):
        simulate_study(double)


def test_batch_applies_regional_effects_exactly_as_the_full_simulator(
    rng: np.random.Generator,
) -> None:
    """One run's loadings through both paths give the same parameters, to 1e-12.

    The effects include a within-DMN target, which both paths solve after the
    regional scalings.
    """
    effects = (COUPLING, AMPLITUDE, Effect("global_signal", 0.1), Effect("within_fc", 0.05))
    spec = replace(SPEC, effects=effects)
    sig = spec.signal
    latent = sorted(set(ATLAS.networks) - {"NONE"})
    column = np.array([latent.index(n) if n != "NONE" else -1 for n in NETWORKS], dtype=np.intp)
    a = np.where(column >= 0, rng.uniform(0.35, 0.6, column.size), 0.0)
    b = rng.uniform(0.15, 0.35, column.size)
    local = np.full(column.size, sig.local_loading)
    structure = local_structure(sig.atlas, sig.local_length_mm, sig.atlas_network_map)
    sources = _source_covariance(latent, sig.network_coupling)
    state = _RunState(column, b, sources, 0.3, latent, "t", local, structure, ATLAS.labels)
    full = _apply(state.model(a), [(e, 1.3) for e in effects], state)

    layout = _layout(spec, MeasureTarget("within_fc", "DMN"))
    idx = layout.regions
    noise = 1.0 - a[idx] ** 2 - b[idx] ** 2 - sig.local_loading**2
    batch = _Models(
        a[idx][None], b[idx][None], noise[None], np.array([0.3]), layout.sources[None].copy(), 0.35
    )
    assert _apply_effects(batch, layout, [(e, np.array([1.3])) for e in effects], "t").all()
    for name in ("a", "b", "local", "noise", "amp"):
        np.testing.assert_allclose(getattr(batch, name)[0], getattr(full, name)[idx], rtol=1e-12)
    k = latent.index("DMN")
    assert batch.sources[0, 0, 0] == pytest.approx(full.sources[k, k], rel=1e-9)


def test_batch_and_full_simulator_agree_on_a_regional_coupling_change() -> None:
    """Within-DMN FC rises alike in both paths under a coupling map on the DMN.

    Map: 1 on anterior DMN regions, 0.5 on posterior ones, 0 elsewhere; size 0.8.
    The paired change is about 0.16 Fisher z; its standard error is about 0.02 in
    the full simulator's 40 subjects and 0.011 in the batch's 5 x 40; the two
    means must agree within 4 combined standard errors.
    """
    weights = np.where(NETWORKS == "DMN", np.where(XYZ[:, 1] > 0, 1.0, 0.5), 0.0)
    effect = regional_effect("regional_coupling", 0.8, weights, ATLAS, label="DMN")
    spec = StudySpec(
        design=DesignSpec(n_subjects=40), signal=SignalSpec(n_volumes=100), effects=(effect,)
    )
    only = tuple(m for m in MEASURES if m.name == "dmn_within_fc")
    full = simulate_study(spec)
    slow = pd.DataFrame(
        {
            "participant_id": [r.participant_id for r in full.runs],
            "condition": [r.condition for r in full.runs],
            "value": [run_fc_metrics(r.data, ATLAS, only)["dmn_within_fc"] for r in full.runs],
        }
    )
    fast = simulate_measure_runs(spec, MeasureTarget("within_fc", "DMN"), 5, seed=3)
    fast["participant_id"] = fast["study"].astype(str) + "/" + fast["participant_id"]
    changes = []
    for frame in (slow, fast):
        wide = frame.pivot_table(index="participant_id", columns="condition", values="value")
        diff = wide["drug"] - wide["placebo"]
        changes.append((float(diff.mean()), float(diff.std() / np.sqrt(diff.size))))
    (slow_mean, slow_se), (fast_mean, fast_se) = changes
    assert slow_mean > 4 * slow_se
    assert fast_mean > 4 * fast_se
    assert abs(slow_mean - fast_mean) < 4 * np.hypot(slow_se, fast_se)


def test_cli_reads_a_spec_file_with_a_regional_effect(tmp_path: Path) -> None:
    """``dmnpharm simulate --spec`` accepts the effect and writes it into the ground truth."""
    small = replace(SPEC, design=DesignSpec(n_subjects=2), signal=SignalSpec(n_volumes=20))
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"spec": spec_to_dict(small)}), encoding="utf-8")
    out = tmp_path / "study"
    assert main(["simulate", "--spec", str(path), "--out", str(out)]) == 0
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    assert [e["label"] for e in truth["planted_effects"]] == ["bump", "x gradient"]
    assert spec_from_dict(truth["spec"]) == small
