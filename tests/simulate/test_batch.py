"""The vectorised batch simulator agrees with the full simulator and with metrics."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import MEASURES, fisher_z_connectivity, network_mean_fc, run_fc_metrics
from dmnpharm.simulate import (
    Condition,
    DesignSpec,
    Effect,
    MeasureTarget,
    ResponseSpec,
    RunModel,
    SignalSpec,
    StudySpec,
    framewise_displacement,
    simulate_measure_runs,
    simulate_motion_batch,
    simulate_study,
)
from dmnpharm.simulate._batch import _fisher_mean, _layout
from dmnpharm.simulate._model import mean_fisher_z, solve_mean_atanh, solve_within
from dmnpharm.simulate._structure import LocalStructure

ATLAS = load_atlas("seitzman300")

#: Every kind of effect at once, with heterogeneous responses.
FULL_SPEC = StudySpec(
    design=DesignSpec(n_subjects=60, conditions=(Condition("placebo"), Condition("drug", 1.0))),
    signal=SignalSpec(n_volumes=100),
    effects=(
        Effect("within_fc", -0.08, "DMN"),
        Effect("between_fc", 0.04, "DMN", "SN"),
        Effect("amplitude", -0.1, "DMN"),
        Effect("global_signal", 0.1),
        Effect("motion", 0.03),
    ),
    response=ResponseSpec(heterogeneity_sd=0.2),
)


def test_batch_measure_equals_metrics_definition(rng: np.random.Generator) -> None:
    """The batch's mean Fisher z is run_fc_metrics' value for the same data, to 1e-12."""
    for target, key in [
        (MeasureTarget("within_fc", "DMN"), "dmn_within_fc"),
        (MeasureTarget("between_fc", "DMN", "SN"), "dmn_salience_fc"),
    ]:
        layout = _layout(FULL_SPEC, target)
        data = rng.standard_normal((3, layout.column.size, 50)).cumsum(axis=2)
        full = np.zeros((50, ATLAS.n_regions))
        for run in range(3):
            order = np.concatenate([ATLAS.network_indices(n) for n in target.networks])
            full[:, order] = data[run].T
            only = tuple(m for m in MEASURES if m.name == key)
            expected = run_fc_metrics(full, ATLAS, only)[key]
            assert _fisher_mean(data, layout, target)[run] == pytest.approx(expected, abs=1e-12)


def test_vectorised_solver_matches_scalar_solver(rng: np.random.Generator) -> None:
    """solve_mean_atanh finds the same source variance as the scalar brentq solver.

    With a local (subsystem and distance) signal too, whose correlation enters
    the pairs' offsets in the batch as it enters mean_fisher_z.
    """
    n = 12
    column = np.zeros(n, dtype=np.intp)
    a = rng.uniform(0.3, 0.6, n)
    b = rng.uniform(0.1, 0.3, n)
    local = np.full(n, 0.3)
    groups = np.repeat([0, 1, 2], 4)
    corr = 0.5 * np.exp(-np.abs(np.subtract.outer(np.arange(n), np.arange(n))) / 3.0)
    corr += 0.5 * (groups[:, None] == groups[None, :])
    structure = LocalStructure(corr, np.linalg.cholesky(corr), groups)
    noise = 1 - a**2 - b**2 - local**2
    model = RunModel(column, a, b, noise, np.ones(n), np.eye(1), 0.3, local, structure)
    idx = np.arange(n)
    target = mean_fisher_z(model, idx, idx) - 0.05
    expected = solve_within(model, 0, target, "test").sources[0, 0]
    sd = model.region_sd()
    i, j = np.triu_indices(n, k=1)
    slope = (a / sd)[i] * (a / sd)[j]
    offset = (b / sd)[i] * (b / sd)[j] + (local / sd)[i] * (local / sd)[j] * corr[i, j]
    found = solve_mean_atanh(
        slope[None],
        offset[None],
        np.ones(1),
        np.array([target]),
        (np.zeros(1), np.ones(1) * 3),
        "t",
    )
    assert found[0] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(InputError, match="outside what run 0"):
        solve_mean_atanh(
            slope[None], offset[None], np.ones(1), np.array([5.0]), (np.zeros(1), np.ones(1)), "t"
        )


def _slow_values(spec: StudySpec, key: str, seeds: range) -> pd.DataFrame:
    frames = []
    for seed in seeds:
        study = simulate_study(replace(spec, seed=seed))
        frames.append(
            pd.DataFrame(
                {
                    "study": seed,
                    "participant_id": [r.participant_id for r in study.runs],
                    "condition": [r.condition for r in study.runs],
                    "value": [run_fc_metrics(r.data, ATLAS)[key] for r in study.runs],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(
    ("target", "key"),
    [
        (MeasureTarget("within_fc", "DMN"), "dmn_within_fc"),
        (MeasureTarget("between_fc", "DMN", "SN"), "dmn_salience_fc"),
    ],
)
def test_batch_distribution_matches_full_simulator(target: MeasureTarget, key: str) -> None:
    """Per-condition means and the SD of paired differences agree with simulate_study.

    The full simulator's 180 subjects give standard errors of about 0.006 for a
    condition mean and 0.005 for the SD of differences; means must agree within
    4 combined standard errors and the SDs within 20 %.
    """
    slow = _slow_values(FULL_SPEC, key, range(3))
    fast = simulate_measure_runs(FULL_SPEC, target, 10, seed=5)
    for condition in ("placebo", "drug"):
        a = slow.loc[slow["condition"] == condition, "value"]
        b = fast.loc[fast["condition"] == condition, "value"]
        se = np.hypot(a.std() / np.sqrt(a.size), b.std() / np.sqrt(b.size))
        assert abs(a.mean() - b.mean()) < 4 * se, (condition, a.mean(), b.mean(), se)
    diffs = []
    for frame in (slow, fast):
        wide = frame.pivot_table(
            index=["study", "participant_id"], columns="condition", values="value"
        )
        diffs.append(wide["drug"] - wide["placebo"])
    assert diffs[1].std() == pytest.approx(diffs[0].std(), rel=0.2)


def test_batch_is_reproducible_and_independent_of_workers() -> None:
    """Same seed, same values; two processes give exactly what one gives."""
    spec = replace(FULL_SPEC, signal=SignalSpec(n_volumes=40))
    target = MeasureTarget("within_fc", "DMN")
    one = simulate_measure_runs(spec, target, 6, seed=3, chunk_runs=150)
    again = simulate_measure_runs(spec, target, 6, seed=3, chunk_runs=150)
    two = simulate_measure_runs(spec, target, 6, seed=3, workers=2, chunk_runs=150)
    pd.testing.assert_frame_equal(one, again)
    pd.testing.assert_frame_equal(one, two)
    assert one["study"].nunique() == 6
    assert len(one) == 6 * 120
    other = simulate_measure_runs(spec, target, 6, seed=4, chunk_runs=150)
    assert not np.allclose(one["value"], other["value"])


def test_batch_rejects_bad_requests() -> None:
    """Unknown networks, non-FC measures and bad counts fail before any simulation."""
    with pytest.raises(InputError, match="does not have"):
        simulate_measure_runs(FULL_SPEC, MeasureTarget("within_fc", "XYZ"), 2, 0)
    with pytest.raises(InputError, match="connectivity measures"):
        MeasureTarget("amplitude", "DMN")
    with pytest.raises(InputError, match="two different networks"):
        MeasureTarget("between_fc", "DMN", "DMN")
    with pytest.raises(InputError, match="n_studies"):
        simulate_measure_runs(FULL_SPEC, MeasureTarget("within_fc", "DMN"), 0, 0)


def test_motion_batch_meets_each_runs_target(rng: np.random.Generator) -> None:
    """Every run of a batch has its own requested mean FD, as the scalar function promises."""
    targets = rng.uniform(0.08, 0.6, 25)
    params = simulate_motion_batch(rng, 120, 2.0, targets)
    assert params.shape == (25, 120, 6)
    realised = [np.nanmean(framewise_displacement(p)) for p in params]
    np.testing.assert_allclose(realised, targets, rtol=1e-9)
    with pytest.raises(InputError, match="mean_fd"):
        simulate_motion_batch(rng, 120, 2.0, [0.1, -0.2])


def test_fisher_helpers_agree_with_metrics_on_one_run(rng: np.random.Generator) -> None:
    """Sanity link: network_mean_fc of fisher_z_connectivity is what the batch reproduces."""
    data = rng.standard_normal((40, 5))
    z = fisher_z_connectivity(data)
    idx = np.arange(5)
    assert network_mean_fc(z, idx, idx) == pytest.approx(
        np.arctanh(np.corrcoef(data, rowvar=False)[np.triu_indices(5, 1)]).mean()
    )
