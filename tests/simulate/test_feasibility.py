"""Presets fit every seed and large samples; a spec no run can carry is refused up front."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.simulate import (
    Effect,
    MeasureTarget,
    load_preset,
    preset_names,
    simulate_measure_runs,
    simulate_study,
)
from dmnpharm.simulate._study import check_reachable


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_reachable(name: str) -> None:
    """A typical run carries every preset's effects at the design's largest dose."""
    check_reachable(load_preset(name))


def test_seeds_that_once_failed_now_simulate_with_their_redraws_recorded() -> None:
    """Seeds 2 and 9 of the psychedelic preset once hit the model's edge; now redrawn."""
    redrawn = 0
    for seed in (2, 9):
        study = simulate_study(load_preset("psychedelic-crossover", seed=seed))
        redrawn += study.ground_truth["loading_redraws"]["runs_redrawn"]
        for run in study.runs:
            assert run.truth["loading_redraws"] >= 0
    assert redrawn >= 1


def test_redrawn_runs_carry_exactly_their_planted_effect() -> None:
    """Each drug run's recorded within-DMN truth equals its baseline plus size x exposure."""
    spec = load_preset("psychedelic-crossover", seed=9)
    study = simulate_study(spec)
    size = next(e.size for e in spec.effects if e.measure == "within_fc")
    truths = pd.DataFrame([run.truth for run in study.runs])
    drug = truths[truths["exposure"] != 0]
    # Amplitude and global-signal effects come first and move the baseline, so the
    # within target is met exactly from the scaled model (the recorded value).
    assert (drug["loading_redraws"] > 0).any()
    planted = drug["within_fc_DMN"] - drug["within_fc_DMN_without_effects"]
    assert np.corrcoef(planted, size * drug["exposure"])[0, 1] > 0.95


def test_two_hundred_subjects_simulate() -> None:
    """A 200-subject psychedelic crossover (400 runs, some redrawn) simulates."""
    spec = load_preset("psychedelic-crossover", seed=0)
    spec = replace(spec, design=replace(spec.design, n_subjects=200))
    spec = replace(spec, signal=replace(spec.signal, n_volumes=60))
    study = simulate_study(spec)
    assert len(study.runs) == 400


def test_power_batch_redraws_instead_of_aborting() -> None:
    """The batch simulator used by ``power`` survives runs at the model's edge."""
    spec = load_preset("psychedelic-crossover")
    spec = replace(spec, signal=replace(spec.signal, n_volumes=60))
    runs = simulate_measure_runs(spec, MeasureTarget("within_fc", "DMN"), n_studies=60, seed=1)
    assert np.isfinite(runs["value"]).all()
    assert runs["study"].nunique() == 60


def test_an_effect_no_run_can_carry_is_refused_before_drawing() -> None:
    """A within-DMN decrease of 0.5 Fisher z is beyond the model: refused by name."""
    spec = load_preset("psychedelic-crossover")
    spec = replace(spec, effects=(Effect("within_fc", -0.5, "DMN"),))
    with pytest.raises(InputError, match="the spec's effects cannot be met: a typical run"):
        simulate_study(spec)
    with pytest.raises(InputError, match="cannot be met"):
        simulate_measure_runs(spec, MeasureTarget("within_fc", "DMN"), n_studies=2, seed=0)
