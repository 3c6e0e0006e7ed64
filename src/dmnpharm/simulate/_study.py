"""Simulate a whole study from a :class:`StudySpec`: runs, confounds, ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._design import build_design
from dmnpharm.simulate._model import (
    NOISE_FLOOR,
    RunModel,
    mean_fisher_z,
    solve_between,
    solve_within,
)
from dmnpharm.simulate._run_signals import RunSignals, generate_run
from dmnpharm.simulate._spec import EFFECT_MEASURES, Effect, StudySpec, spec_to_dict

__all__ = ["SimulatedRun", "SimulatedStudy", "simulate_study"]


@dataclass(frozen=True, eq=False)
class SimulatedRun:
    """One simulated run.

    Parameters
    ----------
    participant_id, session_id, condition : str
        Labels of the run.
    signals : RunSignals
        Region time series, confounds and the parts they are made of.
    truth : dict
        Population values of the planted measures in this run, and the
        run's exposure, patient shift and target mean FD.
    """

    participant_id: str
    session_id: str
    condition: str
    signals: RunSignals = field(repr=False)
    truth: dict[str, float]

    @property
    def data(self) -> npt.NDArray[np.float64]:
        """Region time series, volumes x regions."""
        return self.signals.data


@dataclass(frozen=True, eq=False)
class SimulatedStudy:
    """A simulated study held in memory.

    Parameters
    ----------
    spec : StudySpec
        What was simulated.
    atlas : Atlas
        Regions and networks of the columns.
    participants : pandas.DataFrame
        One row per participant (as written to ``participants.tsv``).
    sessions : pandas.DataFrame
        One row per run with the design columns (as written to the sessions files).
    runs : tuple of SimulatedRun
        Every run, in the order of ``sessions``.
    ground_truth : dict
        JSON-ready record of the spec, the planted effects and per-run truths.
    """

    spec: StudySpec
    atlas: Atlas
    participants: pd.DataFrame
    sessions: pd.DataFrame
    runs: tuple[SimulatedRun, ...]
    ground_truth: dict[str, Any]


def _effect_key(effect: Effect) -> str:
    if effect.measure == "between_fc":
        return f"between_fc_{effect.network}_{effect.other}"
    if effect.measure in ("within_fc", "amplitude"):
        return f"{effect.measure}_{effect.network}"
    return effect.measure


def _check_effects(spec: StudySpec, latent: list[str]) -> None:
    for effect in (*spec.effects, *spec.response.patient_effects):
        if effect.measure in ("global_signal", "motion"):
            continue
        for net in (
            (effect.network, effect.other) if effect.measure == "between_fc" else (effect.network,)
        ):
            if net not in latent:
                raise InputError(
                    f"the {effect.measure} effect names network {net!r}, which atlas "
                    f"{spec.signal.atlas!r} does not have (it has {', '.join(latent)})"
                )
    if spec.response.rating_correlation and not spec.effects:
        raise InputError("a rating correlated with brain change needs at least one effect")


def _measure_value(model: RunModel, effect: Effect, latent: list[str], fd: float) -> float:
    if effect.measure == "within_fc":
        idx = np.flatnonzero(model.column == latent.index(effect.network))
        return mean_fisher_z(model, idx, idx)
    if effect.measure == "between_fc":
        a = np.flatnonzero(model.column == latent.index(effect.network))
        b = np.flatnonzero(model.column == latent.index(effect.other))
        return mean_fisher_z(model, a, b)
    if effect.measure == "amplitude":
        idx = np.flatnonzero(model.column == latent.index(effect.network))
        return float(np.mean(model.amp[idx]))
    if effect.measure == "global_signal":
        return float(np.mean(model.b))
    return fd


def _apply(
    model: RunModel, scaled: list[tuple[Effect, float]], latent: list[str], label: str
) -> RunModel:
    """Apply effects (each with its multiplier) in a fixed order: scale, then FC targets."""
    for effect, mult in scaled:
        if effect.measure == "amplitude" and mult:
            idx = model.column == latent.index(effect.network)
            amp = model.amp.copy()
            amp[idx] *= 1.0 + effect.size * mult
            model = replace(model, amp=amp)
        elif effect.measure == "global_signal" and mult:
            model = replace(model, b=model.b * (1.0 + effect.size * mult))
    for effect, mult in scaled:
        if effect.measure not in ("within_fc", "between_fc") or not mult:
            continue
        k = latent.index(effect.network)
        if effect.measure == "within_fc":
            idx = np.flatnonzero(model.column == k)
            target = mean_fisher_z(model, idx, idx) + effect.size * mult
            model = solve_within(model, k, target, label)
        else:
            q = latent.index(effect.other)
            a, b = np.flatnonzero(model.column == k), np.flatnonzero(model.column == q)
            target = mean_fisher_z(model, a, b) + effect.size * mult
            model = solve_between(model, k, q, target, label)
    return model


def _source_covariance(
    latent: list[str], coupling: tuple[tuple[str, str, float], ...]
) -> npt.NDArray[np.float64]:
    index = {n: i for i, n in enumerate(latent)}
    corr = np.eye(len(latent))
    for a, b, value in coupling:
        if a in index and b in index:
            corr[index[a], index[b]] = corr[index[b], index[a]] = value
    if np.linalg.eigvalsh(corr)[0] <= 1e-6:
        raise InputError("network_coupling does not form a valid correlation matrix; weaken it")
    return corr


def simulate_study(spec: StudySpec) -> SimulatedStudy:
    """Simulate a study with planted effects.

    Parameters
    ----------
    spec : StudySpec
        The study; validated before anything is drawn.

    Returns
    -------
    SimulatedStudy
        Runs in memory, design tables and ground truth; write them with
        :func:`dmnpharm.simulate.write_simulated_study`.
    """
    sig = spec.signal
    atlas = load_atlas(sig.atlas)
    latent = sorted(set(atlas.networks) - {"NONE"})
    _check_effects(spec, latent)
    nets = np.asarray(atlas.networks)
    column = np.array([latent.index(n) if n != "NONE" else -1 for n in nets], dtype=np.intp)
    base_sources = _source_covariance(latent, sig.network_coupling)
    rng = np.random.default_rng(spec.seed)
    participants, sessions = build_design(spec, rng)
    site_thermal = {
        f"site{i + 1}": float(rng.uniform(0.8, 1.25)) for i in range(spec.design.n_sites)
    }
    n_reg = atlas.n_regions
    runs: list[SimulatedRun] = []
    subject_state: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]] = {}
    for row in sessions.to_dict(orient="records"):
        pid = str(row["participant_id"])
        if pid not in subject_state:
            net_scale = np.clip(rng.normal(1.0, 0.08, size=len(latent)), 0.6, 1.4)
            mean_a = np.where(
                column >= 0, sig.network_loading * net_scale[np.maximum(column, 0)], 0.0
            )
            a_subj = np.clip(mean_a + rng.normal(0, sig.subject_loading_sd, n_reg), 0.05, 0.75)
            a_subj[column < 0] = 0.0
            b_subj = np.clip(sig.global_loading + rng.normal(0, 0.05, n_reg), 0.0, 0.6)
            base_fd = sig.mean_fd * float(np.exp(rng.normal(0.0, 0.3)))
            subject_state[pid] = (a_subj, b_subj, base_fd)
        a_subj, b_subj, base_fd = subject_state[pid]
        a = np.clip(a_subj + rng.normal(0, sig.session_loading_sd, n_reg), 0.05, 0.75)
        a[column < 0] = 0.0
        noise = 1.0 - a**2 - b_subj**2
        if noise.min() < NOISE_FLOOR:
            raise InputError("loadings leave too little region noise; lower the loadings")
        thermal = sig.thermal_noise_sd * site_thermal.get(str(row.get("site", "")), 1.0)
        base = RunModel(
            column, a, b_subj.copy(), noise, np.ones(n_reg), base_sources.copy(), thermal
        )
        exposure, shift = float(row["exposure"]), float(row["patient_shift"])
        label = f"{pid} {row['session_id']}"
        scaled = [(e, shift) for e in spec.response.patient_effects]
        scaled += [(e, exposure) for e in spec.effects]
        model = _apply(base, scaled, latent, label)
        fd_target = base_fd * float(np.exp(rng.normal(0.0, 0.1)))
        fd_target += sum(e.size * m for e, m in scaled if e.measure == "motion")
        fd_target = max(fd_target, 0.02)
        signals = generate_run(rng, model, sig, fd_target)
        truth: dict[str, float] = {
            "exposure": exposure,
            "patient_shift": shift,
            "mean_fd_target": fd_target,
        }
        for effect in (*spec.effects, *spec.response.patient_effects):
            key = _effect_key(effect)
            truth[key] = _measure_value(model, effect, latent, fd_target)
            truth[f"{key}_without_effects"] = _measure_value(base, effect, latent, base_fd)
        runs.append(
            SimulatedRun(pid, str(row["session_id"]), str(row["condition"]), signals, truth)
        )
    participants = _add_rating(spec, participants, sessions, rng)
    ground_truth = {
        "generator": "dmnpharm.simulate.simulate_study",
        "dmnpharm_version": __version__,
        "spec": spec_to_dict(spec),
        "planted_effects": [
            {
                "measure": e.measure,
                "network": e.network if e.measure not in ("global_signal", "motion") else "",
                "other": e.other,
                "size": e.size,
                "unit": EFFECT_MEASURES[e.measure],
                "applies_to": "drug exposure (1 at the reference dose and peak time)",
            }
            for e in spec.effects
        ]
        + [
            {
                "measure": e.measure,
                "network": e.network,
                "other": e.other,
                "size": e.size,
                "unit": EFFECT_MEASURES[e.measure],
                "applies_to": "patients vs controls before treatment",
            }
            for e in spec.response.patient_effects
        ],
        "runs": [
            {
                "participant_id": r.participant_id,
                "session_id": r.session_id,
                "condition": r.condition,
                **r.truth,
            }
            for r in runs
        ],
    }
    return SimulatedStudy(spec, atlas, participants, sessions, tuple(runs), ground_truth)


def _add_rating(
    spec: StudySpec, participants: pd.DataFrame, sessions: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Add a rating correlated with each subject's planted brain change of the first effect."""
    response = spec.response
    if not response.rating:
        return participants
    peak = sessions.groupby("participant_id")["exposure"].max()
    size = spec.effects[0].size if spec.effects else 0.0
    change = participants["participant_id"].map(peak).to_numpy(dtype=float) * size
    out = participants.copy()
    out["planted_brain_change"] = change
    r = response.rating_correlation
    noise = rng.standard_normal(len(out))
    if r:
        spread = change.std()
        if spread == 0:
            raise InputError(
                "a rating correlated with brain change needs brain changes that differ between "
                "subjects: set heterogeneity_sd > 0 or use several doses"
            )
        z = (change - change.mean()) / spread
        score = r * z + np.sqrt(1 - r**2) * noise
    else:
        score = noise
    out[response.rating] = np.round(50 + 15 * score, 2)
    return out
