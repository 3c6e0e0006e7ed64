"""Simulate a whole study from a :class:`StudySpec`: runs, confounds, ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm._utils import fill_doc
from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._design import build_design, dose_response
from dmnpharm.simulate._model import (
    NOISE_FLOOR,
    RunModel,
    UnreachableTargetError,
    mean_fisher_z,
    solve_between,
    solve_within,
)
from dmnpharm.simulate._regional import apply_regional, check_regional_weights
from dmnpharm.simulate._run_signals import RunSignals, generate_run
from dmnpharm.simulate._spec import Effect, SignalSpec, StudySpec, spec_to_dict
from dmnpharm.simulate._structure import LocalStructure, local_structure
from dmnpharm.simulate._truth import planted_effects, run_truth
from dmnpharm.simulate._weights import REGIONAL_MEASURES

__all__ = [
    "SimulatedRun",
    "SimulatedStudy",
    "check_reachable",
    "session_network_scale",
    "simulate_study",
]


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


def _check_effects(spec: StudySpec, atlas: Atlas, latent: list[str]) -> None:
    check_regional_weights((*spec.effects, *spec.response.patient_effects), atlas)
    for effect in (*spec.effects, *spec.response.patient_effects):
        if effect.measure in ("global_signal", "motion", *REGIONAL_MEASURES):
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


def _apply(model: RunModel, scaled: list[tuple[Effect, float]], state: _RunState) -> RunModel:
    """Apply effects (each with its multiplier) in a fixed order: scale, then FC targets."""
    latent, label = state.latent, state.label
    for effect, mult in scaled:
        if effect.measure == "amplitude" and mult:
            idx = model.column == latent.index(effect.network)
            amp = model.amp.copy()
            amp[idx] *= 1.0 + effect.size * mult
            model = replace(model, amp=amp)
        elif effect.measure == "global_signal" and mult:
            model = replace(model, b=model.b * (1.0 + effect.size * mult))
        elif effect.measure in REGIONAL_MEASURES and mult:
            model = apply_regional(model, effect, mult, state.regions, label)
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


def check_reachable(spec: StudySpec) -> None:
    """Refuse a spec whose effects a typical run cannot carry, before anything is drawn.

    The typical run has the spec's mean loadings (no subject or session
    variation) and carries every effect at the largest multiplier its design
    gives a subject of average response at peak time: the largest relative
    dose of :func:`~dmnpharm.simulate.dose_response` (at least 1), and a
    patient shift of 1. Individual runs that cannot carry their effect are
    drawn again while simulating; a spec that fails here would need every
    run redrawn, so its effect is beyond the signal model.

    Parameters
    ----------
    spec : StudySpec
        The study.

    Raises
    ------
    InputError
        Naming the effect, the Fisher z wanted and what the typical run can
        reach.
    """
    sig = spec.signal
    atlas = sig.atlas_object()
    latent = sorted(set(atlas.networks) - {"NONE"})
    _check_effects(spec, atlas, latent)
    column = np.array(
        [latent.index(n) if n != "NONE" else -1 for n in atlas.networks], dtype=np.intp
    )
    doses = [c.dose_mg for c in spec.design.conditions if c.dose_mg > 0]
    drug = max([1.0, *(dose_response(d, spec.response) for d in doses)])
    scaled = [(e, 1.0) for e in spec.response.patient_effects]
    scaled += [(e, drug) for e in spec.effects]
    state = _RunState(
        column,
        np.full(column.size, sig.global_loading),
        _source_covariance(latent, sig.network_coupling),
        sig.thermal_noise_sd,
        latent,
        "a typical run",
        np.full(column.size, sig.local_loading),
        local_structure(sig.atlas, sig.local_length_mm, sig.atlas_network_map),
        atlas.labels,
    )
    a = np.where(column >= 0, sig.network_loading, 0.0)
    try:
        _apply(state.model(a), scaled, state)
    except UnreachableTargetError as exc:
        raise InputError(
            f"the spec's effects cannot be met: {exc} (effects at {drug:g} x their size, the "
            "largest relative dose of the design, on a run with the spec's mean loadings)"
        ) from None


#: Draws of a run's session loadings (then of fresh subject loadings) before giving up.
SESSION_REDRAWS, MAX_REDRAWS = 20, 200


@dataclass(frozen=True, eq=False)
class _RunState:
    """What a run's model is built from, apart from its network loadings."""

    column: npt.NDArray[np.intp]
    b: npt.NDArray[np.float64]
    sources: npt.NDArray[np.float64]
    thermal: float
    latent: list[str]
    label: str
    local: npt.NDArray[np.float64]
    structure: LocalStructure
    regions: tuple[str, ...]

    def model(self, a: npt.NDArray[np.float64]) -> RunModel:
        """Return the run's model with network loadings ``a`` (BOLD variance 1)."""
        noise = 1.0 - a**2 - self.b**2 - self.local**2
        if noise.min() < NOISE_FLOOR:
            raise InputError("loadings leave too little region noise; lower the loadings")
        n = a.size
        return RunModel(
            self.column,
            a,
            self.b.copy(),
            noise,
            np.ones(n),
            self.sources.copy(),
            self.thermal,
            self.local,
            self.structure,
        )


def _subject_loadings(
    rng: np.random.Generator, sig: SignalSpec, column: npt.NDArray[np.intp], n_latent: int
) -> npt.NDArray[np.float64]:
    """Draw one subject's network loadings: a network scale, then region deviations."""
    net_scale = np.clip(rng.normal(1.0, 0.08, size=n_latent), 0.6, 1.4)
    mean_a = np.where(column >= 0, sig.network_loading * net_scale[np.maximum(column, 0)], 0.0)
    a_subj = np.clip(mean_a + rng.normal(0, sig.subject_loading_sd, column.size), 0.05, 0.75)
    a_subj[column < 0] = 0.0
    return a_subj


@fill_doc
def session_network_scale(
    rng: np.random.Generator, sig: SignalSpec, shape: tuple[int, ...]
) -> npt.NDArray[np.float64]:
    """Draw per-session network loading factors (mean 1, SD ``session_network_sd``).

    Parameters
    ----------
    %(rng)s
    sig : SignalSpec
        The signal settings.
    shape : tuple of int
        Shape of the draw (e.g. runs x networks).

    Returns
    -------
    numpy.ndarray
        Factors clipped to [0.5, 1.5].
    """
    factor: npt.NDArray[np.float64] = np.clip(
        rng.normal(1.0, sig.session_network_sd, size=shape), 0.5, 1.5
    )
    return factor


def _carrying_model(
    rng: np.random.Generator,
    sig: SignalSpec,
    state: _RunState,
    a_subj: npt.NDArray[np.float64],
    scaled: list[tuple[Effect, float]],
) -> tuple[RunModel, RunModel, int]:
    """Draw a run's loadings until its model can carry the planted effects.

    The session's loadings are drawn around the subject's; when a draw leaves
    a planted Fisher-z target out of reach (a run near the edge of the model,
    or a strong responder), they are drawn again, first around the subject's
    loadings (:data:`SESSION_REDRAWS` times) and then from fresh subject-level
    loadings, up to :data:`MAX_REDRAWS`. The effect itself is never changed, and
    every run's truth (with and without effects) is recorded, so the redraws
    change which nuisance loadings a run has, not what was planted.

    Returns the run's model without and with effects, and the number of redraws.
    """
    for attempt in range(MAX_REDRAWS + 1):
        centre = a_subj if attempt <= SESSION_REDRAWS else None
        if centre is None:
            centre = _subject_loadings(rng, sig, state.column, len(state.latent))
        state_scale = session_network_scale(rng, sig, (len(state.latent),))
        scale = np.where(state.column >= 0, state_scale[np.maximum(state.column, 0)], 1.0)
        a = centre * scale + rng.normal(0, sig.session_loading_sd, centre.size)
        a = np.clip(a, 0.05, 0.75)
        a[state.column < 0] = 0.0
        base = state.model(a)
        try:
            return base, _apply(base, scaled, state), attempt
        except UnreachableTargetError as exc:
            last = exc
    raise InputError(
        f"{last}; no draw of this run's loadings in {MAX_REDRAWS + 1} could carry it (the "
        "spec's effects, multiplied by this run's exposure, exceed what its signal model "
        "allows); plant a smaller effect or lower heterogeneity_sd"
    )


def simulate_study(
    spec: StudySpec, *, on_run: Callable[[SimulatedRun], object] | None = None
) -> SimulatedStudy:
    """Simulate a study with planted effects.

    Parameters
    ----------
    spec : StudySpec
        The study; validated before anything is drawn.
    on_run : callable or None
        Called with each run as soon as it is drawn, in order (to write it
        while the next one is drawn, say); its return value is ignored. The
        draws do not depend on it.

    Returns
    -------
    SimulatedStudy
        Runs in memory, design tables and ground truth; write them with
        :func:`dmnpharm.simulate.write_simulated_study`.
    """
    # Many small matrix products (300 regions, 150 volumes): one BLAS thread. OpenBLAS's
    # own threads made the demo's 80 runs 3x slower on 2 cores (2.7 s against 0.9 s).
    with threadpool_limits(limits=1, user_api="blas"):
        return _simulate(spec, on_run)


def _simulate(spec: StudySpec, on_run: Callable[[SimulatedRun], object] | None) -> SimulatedStudy:
    sig = spec.signal
    atlas = sig.atlas_object()
    latent = sorted(set(atlas.networks) - {"NONE"})
    check_reachable(spec)
    nets = np.asarray(atlas.networks)
    column = np.array([latent.index(n) if n != "NONE" else -1 for n in nets], dtype=np.intp)
    base_sources = _source_covariance(latent, sig.network_coupling)
    structure = local_structure(sig.atlas, sig.local_length_mm, sig.atlas_network_map)
    local = np.full(column.size, sig.local_loading)
    rng = np.random.default_rng(spec.seed)
    participants, sessions = build_design(spec, rng)
    site_thermal = {
        f"site{i + 1}": float(rng.uniform(0.8, 1.25)) for i in range(spec.design.n_sites)
    }
    n_reg = atlas.n_regions
    runs: list[SimulatedRun] = []
    subject_state: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]] = {}
    redraws = 0
    for row in sessions.to_dict(orient="records"):
        pid = str(row["participant_id"])
        if pid not in subject_state:
            a_subj = _subject_loadings(rng, sig, column, len(latent))
            b_subj = np.clip(sig.global_loading + rng.normal(0, 0.05, n_reg), 0.0, 0.6)
            base_fd = sig.mean_fd * float(np.exp(rng.normal(0.0, 0.3)))
            subject_state[pid] = (a_subj, b_subj, base_fd)
        a_subj, b_subj, base_fd = subject_state[pid]
        thermal = sig.thermal_noise_sd * site_thermal.get(str(row.get("site", "")), 1.0)
        exposure, shift = float(row["exposure"]), float(row["patient_shift"])
        label = f"{pid} {row['session_id']}"
        scaled = [(e, shift) for e in spec.response.patient_effects]
        scaled += [(e, exposure) for e in spec.effects]
        run_state = _RunState(
            column, b_subj, base_sources, thermal, latent, label, local, structure, atlas.labels
        )
        base, model, tries = _carrying_model(rng, sig, run_state, a_subj, scaled)
        redraws += tries
        fd_target = base_fd * float(np.exp(rng.normal(0.0, 0.1)))
        fd_target += sum(e.size * m for e, m in scaled if e.measure == "motion")
        fd_target = max(fd_target, 0.02)
        signals = generate_run(rng, model, sig, fd_target)
        truth: dict[str, float] = {
            "exposure": exposure,
            "patient_shift": shift,
            "mean_fd_target": fd_target,
            "loading_redraws": tries,
        }
        truth |= run_truth(spec, (model, base), latent, (fd_target, base_fd), (exposure, shift))
        runs.append(
            SimulatedRun(pid, str(row["session_id"]), str(row["condition"]), signals, truth)
        )
        if on_run is not None:
            on_run(runs[-1])
    participants = _add_rating(spec, participants, sessions, rng)
    ground_truth = {
        "generator": "dmnpharm.simulate.simulate_study",
        "dmnpharm_version": __version__,
        "spec": spec_to_dict(spec),
        "loading_redraws": {
            "runs_redrawn": sum(run.truth["loading_redraws"] > 0 for run in runs),
            "draws": redraws,
            "why": "a run whose drawn loadings could not carry its planted effect had its "
            "loadings drawn again; effects are never changed",
        },
        "planted_effects": planted_effects(spec),
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
