"""Realistic simulated connectivity: subsystems, distance, and session-to-session states."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dmnpharm.atlases import load_atlas
from dmnpharm.metrics import fisher_z_connectivity
from dmnpharm.simulate import DesignSpec, Effect, SignalSpec, StudySpec, simulate_study
from dmnpharm.simulate._structure import local_structure

ATLAS = load_atlas("seitzman300")
DMN = ATLAS.network_indices("DMN")


def test_local_correlation_is_a_correlation_matrix_with_compact_groups() -> None:
    """Unit diagonal, positive semi-definite; DMN groups are spatially compact clusters."""
    structure = local_structure("seitzman300", 20.0)
    corr = structure.corr
    assert np.allclose(np.diag(corr), 1.0)
    assert np.linalg.eigvalsh(corr)[0] > -1e-10
    np.testing.assert_allclose(structure.factor @ structure.factor.T, corr, atol=1e-10)
    groups = structure.groups[DMN]
    assert 4 <= np.unique(groups).size <= 7  # 67 DMN regions in clusters of about 12
    coords = np.asarray(ATLAS.coords)[DMN]
    same = groups[:, None] == groups[None, :]
    distance = np.linalg.norm(coords[:, None] - coords[None, :], axis=2)
    off = ~np.eye(DMN.size, dtype=bool)
    assert distance[same & off].mean() < 0.6 * distance[~same].mean()


def test_simulated_dmn_is_stronger_within_subsystems_and_falls_with_distance() -> None:
    """Measured FC of simulated runs: higher within clusters, lower for distant pairs."""
    spec = StudySpec(design=DesignSpec(n_subjects=4), effects=(), seed=2)
    study = simulate_study(spec)
    groups = local_structure("seitzman300", 20.0).groups[DMN]
    coords = np.asarray(ATLAS.coords)[DMN]
    distance = np.linalg.norm(coords[:, None] - coords[None, :], axis=2)
    i, j = np.triu_indices(DMN.size, k=1)
    same = groups[i] == groups[j]
    within, across, near, far = [], [], [], []
    for run in study.runs:
        z = fisher_z_connectivity(run.data[:, DMN])[i, j]
        within.append(z[same].mean())
        across.append(z[~same].mean())
        near.append(z[distance[i, j] < 30].mean())
        far.append(z[distance[i, j] > 80].mean())
    assert np.mean(within) > np.mean(across) + 0.05
    assert np.mean(near) > np.mean(far) + 0.05
    flat = simulate_study(replace(spec, signal=SignalSpec(local_loading=0.0)))
    z = np.mean([fisher_z_connectivity(r.data[:, DMN])[i, j] for r in flat.runs], axis=0)
    assert abs(z[same].mean() - z[~same].mean()) < 0.03  # no structure without it


def test_session_states_move_network_fc_but_not_amplitude() -> None:
    """session_network_sd spreads a subject's population within-DMN FC; BOLD SD stays 1."""
    spread, bold_sd = {}, {}
    for sd in (0.0, 0.15):
        spec = StudySpec(
            design=DesignSpec(n_subjects=12),
            signal=SignalSpec(n_volumes=100, session_network_sd=sd),
            effects=(Effect("within_fc", 0.0, "DMN"),),  # records each run's population FC
            seed=5,
        )
        study = simulate_study(spec)
        truth = pd.DataFrame(study.ground_truth["runs"])
        by_subject = truth.pivot_table(
            index="participant_id", columns="condition", values="within_fc_DMN"
        )
        spread[sd] = float((by_subject["drug"] - by_subject["placebo"]).std())
        bold_sd[sd] = float(np.mean([r.signals.bold[:, DMN].std(axis=0) for r in study.runs]))
    assert spread[0.0] < 0.03  # region-level session jitter only
    assert 0.08 < spread[0.15] < 0.2  # state changes: test-retest noise of network FC
    assert abs(bold_sd[0.15] - bold_sd[0.0]) < 0.03  # amplitude does not move with FC
