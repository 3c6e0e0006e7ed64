"""Vectorised ROI-level simulation of one connectivity measure over many studies.

Power analysis needs tens of thousands of simulated runs. This module draws them
from the same population model as :func:`dmnpharm.simulate.simulate_study` (the
same design builder, subject and session loadings, effects solved to their exact
Fisher-z targets, BOLD-spectrum sources, global signal, thermal noise, drift and
head-motion artifacts) but for all runs of many studies at once, and only for the
regions the measure uses. It then computes the measure the way
:mod:`dmnpharm.metrics` does (mean Fisher z of Pearson correlations).

What is left out does not change the measure's distribution: regions and sources
of other networks (the sources of the measured networks are drawn from their
marginal covariance) and the confounds table, which the analysis does not use
without denoising. Positive definiteness is checked over the measured networks'
sources only.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.metrics._fc import _R_CLIP
from dmnpharm.simulate._design import build_design
from dmnpharm.simulate._model import NOISE_FLOOR, solve_mean_atanh
from dmnpharm.simulate._motion import (
    framewise_displacement_batch,
    motion_artifact_batch,
    simulate_motion_batch,
)
from dmnpharm.simulate._regional import RegionParts, check_regional_weights, scale_regions
from dmnpharm.simulate._run_signals import drift_batch
from dmnpharm.simulate._signals import bold_gain, bold_like_noise
from dmnpharm.simulate._spec import Effect, SignalSpec, StudySpec
from dmnpharm.simulate._structure import LocalStructure, local_structure
from dmnpharm.simulate._study import (
    MAX_REDRAWS,
    SESSION_REDRAWS,
    _source_covariance,
    check_reachable,
    session_network_scale,
)
from dmnpharm.simulate._weights import REGIONAL_MEASURES

__all__ = ["MeasureTarget", "simulate_measure_runs"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MeasureTarget:
    """A network connectivity measure to simulate.

    Parameters
    ----------
    measure : str
        ``within_fc`` or ``between_fc``.
    network : str
        Network code (e.g. ``"DMN"``).
    other : str
        Second network of a ``between_fc`` measure.
    """

    measure: str
    network: str
    other: str = ""

    def __post_init__(self) -> None:
        """Check the measure kind and networks."""
        if self.measure not in ("within_fc", "between_fc"):
            raise InputError(
                f"power analysis simulates connectivity measures (within_fc, between_fc); "
                f"got {self.measure!r}"
            )
        if (self.measure == "between_fc") != bool(self.other) or self.other == self.network:
            raise InputError("a between_fc measure needs two different networks; within_fc one")

    @property
    def name(self) -> str:
        """Key of the measure, as in ``ground_truth.json`` (e.g. ``within_fc_DMN``)."""
        if self.measure == "between_fc":
            return f"between_fc_{self.network}_{self.other}"
        return f"within_fc_{self.network}"

    @property
    def networks(self) -> tuple[str, ...]:
        """The networks whose regions the measure uses."""
        return (self.network, self.other) if self.other else (self.network,)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Regions and sources of the measured networks."""

    column: npt.NDArray[np.intp]  # source (0..K-1) of each selected region
    sources: Array  # K x K base source covariance
    names: tuple[str, ...]
    structure: LocalStructure  # local signal of the selected regions
    local: float  # every region's loading on it
    regions: npt.NDArray[np.intp]  # atlas index of each selected region
    labels: tuple[str, ...]  # atlas label of each selected region


def _layout(spec: StudySpec, target: MeasureTarget) -> _Layout:
    atlas = spec.signal.atlas_object()
    latent = sorted(set(atlas.networks) - {"NONE"})
    check_regional_weights((*spec.effects, *spec.response.patient_effects), atlas)
    for net in target.networks:
        if net not in latent:
            raise InputError(
                f"measure {target.name!r} needs network {net!r}, which atlas "
                f"{spec.signal.atlas!r} does not have (it has {', '.join(latent)})"
            )
    full = _source_covariance(latent, spec.signal.network_coupling)
    keep = [latent.index(n) for n in target.networks]
    column = np.concatenate(
        [
            np.full(atlas.network_indices(n).size, k, dtype=np.intp)
            for k, n in enumerate(target.networks)
        ]
    )
    regions = np.concatenate([atlas.network_indices(n) for n in target.networks])
    structure = local_structure(
        spec.signal.atlas, spec.signal.local_length_mm, spec.signal.atlas_network_map
    )
    return _Layout(
        column,
        full[np.ix_(keep, keep)],
        target.networks,
        structure.restricted(regions),
        spec.signal.local_loading,
        regions,
        tuple(atlas.labels[i] for i in regions),
    )


def _draw_designs(
    spec: StudySpec, n_studies: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, Array]:
    """Designs of ``n_studies`` studies, stacked, and each run's thermal noise SD."""
    frames, thermal = [], []
    for study in range(n_studies):
        _, runs = build_design(spec, rng)
        site_factor = {
            f"site{i + 1}": float(rng.uniform(0.8, 1.25)) for i in range(spec.design.n_sites)
        }
        factor = runs["site"].map(site_factor) if "site" in runs else pd.Series(1.0, runs.index)
        thermal.append(spec.signal.thermal_noise_sd * factor.to_numpy(dtype=float))
        frames.append(runs.assign(study=study))
    return pd.concat(frames, ignore_index=True), np.concatenate(thermal)


def _pairs(
    idx_a: npt.NDArray[np.intp], idx_b: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], ...]:
    """Region pairs of a within (upper triangle) or between measure."""
    if np.array_equal(idx_a, idx_b):
        i, j = np.triu_indices(idx_a.size, k=1)
        return idx_a[i], idx_a[j]
    return np.repeat(idx_a, idx_b.size), np.tile(idx_b, idx_a.size)


class _Models:
    """Population parameters of a batch of runs over the selected regions."""

    def __init__(
        self, a: Array, b: Array, noise: Array, thermal: Array, sources: Array, local: float
    ) -> None:
        self.a, self.b, self.noise, self.thermal = a, b, noise, thermal
        self.amp = np.ones_like(a)
        self.sources = sources
        self.local = np.full_like(a, local)

    def region_sd(self, column: npt.NDArray[np.intp]) -> Array:
        s_kk = np.diagonal(self.sources, axis1=1, axis2=2)[:, column]
        shared = self.a**2 * s_kk + self.b**2 + self.local**2 + self.noise
        var = self.amp**2 * shared + self.thermal[:, None] ** 2
        sd: Array = np.sqrt(var)
        return sd


def _apply_effects(
    models: _Models, layout: _Layout, scaled: list[tuple[Effect, Array]], label: str
) -> npt.NDArray[np.bool_]:
    """Apply effects in the order of the full simulator: scalings, then FC targets.

    Returns, per run, whether its model could carry every effect (False: draw
    its loadings again).
    """
    reachable = np.ones(models.a.shape[0], dtype=bool)
    for effect, mult in scaled:
        if effect.measure == "amplitude" and effect.network in layout.names:
            members = layout.column == layout.names.index(effect.network)
            models.amp[:, members] *= 1.0 + effect.size * mult[:, None]
        elif effect.measure == "global_signal":
            models.b = models.b * (1.0 + effect.size * mult[:, None])
        elif effect.measure in REGIONAL_MEASURES:
            _apply_regional(models, layout, effect, mult, label)
    sd = models.region_sd(layout.column)
    loading, glob = models.amp * models.a / sd, models.amp * models.b / sd
    local = models.amp * models.local / sd
    for effect, mult in scaled:
        nets = (
            (effect.network, effect.other) if effect.measure == "between_fc" else (effect.network,)
        )
        if effect.measure not in ("within_fc", "between_fc") or not set(nets) <= set(layout.names):
            continue
        rows = np.flatnonzero(mult != 0)
        if rows.size == 0:
            continue
        k = layout.names.index(effect.network)
        q = layout.names.index(effect.other) if effect.other else k
        i, j = _pairs(np.flatnonzero(layout.column == k), np.flatnonzero(layout.column == q))
        slope = loading[np.ix_(rows, i)] * loading[np.ix_(rows, j)]
        offset = glob[np.ix_(rows, i)] * glob[np.ix_(rows, j)]
        offset += local[np.ix_(rows, i)] * local[np.ix_(rows, j)] * layout.structure.corr[i, j]
        s = models.sources[rows]
        current = s[:, k, q]
        start_z = np.arctanh(np.clip(slope * current[:, None] + offset, -0.999999, 0.999999))
        target = start_z.mean(axis=1) + effect.size * mult[rows]
        ok = np.ones(rows.size, dtype=bool)
        if k == q:
            members = np.flatnonzero(layout.column == k)
            others = [x for x in range(len(layout.names)) if x != k]
            low = np.full(rows.size, 1e-6)
            for o in others:  # keeps the 2 x 2 source covariance positive definite
                low = np.maximum(low, s[:, k, o] ** 2 / s[:, o, o] + 1e-6)
            a2 = models.a[np.ix_(rows, members)] ** 2
            headroom = (models.noise[np.ix_(rows, members)] - NOISE_FLOOR) / a2
            high = current + headroom.min(axis=1)
            value = solve_mean_atanh(
                slope, offset, current, target, (low, high), label, reachable=ok
            )
            models.noise[np.ix_(rows, members)] -= a2 * (value - current)[:, None]
        else:
            bound = np.sqrt(s[:, k, k] * s[:, q, q]) * (1 - 1e-6)
            value = solve_mean_atanh(
                slope, offset, current, target, (-bound, bound), label, reachable=ok
            )
        models.sources[rows, k, q] = models.sources[rows, q, k] = value
        reachable[rows] &= ok
    return reachable


def _apply_regional(
    models: _Models, layout: _Layout, effect: Effect, mult: Array, label: str
) -> None:
    """Apply a regional effect to the selected regions as the full simulator does."""
    s_kk = np.diagonal(models.sources, axis1=1, axis2=2)[:, layout.column]
    parts = RegionParts(models.a, models.b, models.local, models.noise, models.amp, s_kk)
    weights = np.asarray(effect.weights)[layout.regions]
    scaled = scale_regions(parts, effect, weights, mult, layout.labels, label)
    for name in ("a", "b", "local", "noise", "amp"):
        setattr(models, name, getattr(scaled, name))


def _fisher_mean(data: Array, layout: _Layout, target: MeasureTarget) -> Array:
    """Mean Fisher z of the measure per run (runs x regions x volumes), as metrics does."""
    x = data - data.mean(axis=2, keepdims=True)
    x /= np.sqrt(np.einsum("brt,brt->br", x, x))[:, :, None]
    idx_a = np.flatnonzero(layout.column == 0)
    idx_b = np.flatnonzero(layout.column == (1 if target.other else 0))
    r = np.matmul(x[:, idx_a], x[:, idx_b].transpose(0, 2, 1))
    if target.other:
        means: Array = np.arctanh(np.clip(r, -_R_CLIP, _R_CLIP)).mean(axis=(1, 2))
        return means
    i, j = np.triu_indices(idx_a.size, k=1)
    within: Array = np.arctanh(np.clip(r[:, i, j], -_R_CLIP, _R_CLIP)).mean(axis=1)
    return within


def _signals(
    rng: np.random.Generator, spec: StudySpec, models: _Models, layout: _Layout, fd_target: Array
) -> Array:
    """Region time series (runs x regions x volumes) of the selected regions.

    Region noise (BOLD spectrum, scaled by the amplitude factor) and thermal noise
    (white) are independent stationary Gaussian processes, so their sum is drawn
    at once by shaping white noise with the square root of the summed spectra.
    """
    sig = spec.signal
    n_t, repetition_time = sig.n_volumes, sig.repetition_time
    n_run, n_reg = models.a.shape
    n_src = models.sources.shape[1]
    try:
        chol = np.linalg.cholesky(models.sources)
    except np.linalg.LinAlgError:
        raise InputError(
            "the effects make a run's source covariance not positive definite; weaken them"
        ) from None
    gain2 = bold_gain(n_t, repetition_time) ** 2
    shape = np.sqrt(
        (models.amp**2 * models.noise)[:, :, None] * gain2 + models.thermal[:, None, None] ** 2
    )
    spectrum = np.fft.rfft(rng.standard_normal((n_run, n_reg, n_t)), axis=2)
    spectrum *= shape
    data = np.fft.irfft(spectrum, n=n_t, axis=2)
    sources = bold_like_noise(rng, n_t, n_run * n_src, repetition_time).T.reshape(
        n_run, n_src, n_t
    )
    sources = np.matmul(chol, sources)
    glob = bold_like_noise(rng, n_t, n_run, repetition_time).T
    data += (models.amp * models.a)[:, :, None] * sources[:, layout.column]
    data += (models.amp * models.b)[:, :, None] * glob[:, None, :]
    factor = layout.structure.factor
    components = bold_like_noise(rng, n_t, n_run * factor.shape[1], repetition_time)
    local = np.matmul(factor, components.T.reshape(n_run, factor.shape[1], n_t))
    data += (models.amp * models.local)[:, :, None] * local
    params = simulate_motion_batch(rng, n_t, repetition_time, fd_target)
    fd = framewise_displacement_batch(params)
    nuisance = motion_artifact_batch(rng, params, fd, n_reg, sig.motion_artifact)
    nuisance += drift_batch(rng, n_run, n_t, n_reg, sig.drift_sd)
    data += nuisance.transpose(0, 2, 1)
    return data


def _subject_loadings(rng: np.random.Generator, sig: SignalSpec, layout: _Layout, n: int) -> Array:
    """Draw ``n`` subjects' network loadings (network scale, then region deviations)."""
    net_scale = np.clip(rng.normal(1.0, 0.08, size=(n, len(layout.names))), 0.6, 1.4)
    a_subj = sig.network_loading * net_scale[:, layout.column]
    clipped: Array = np.clip(
        a_subj + rng.normal(0, sig.subject_loading_sd, (n, layout.column.size)), 0.05, 0.75
    )
    return clipped


def _models(
    rng: np.random.Generator,
    sig: SignalSpec,
    layout: _Layout,
    centre: Array,
    b: Array,
    thermal: Array,
) -> _Models:
    """Draw session loadings around ``centre`` and return the runs' models, without effects."""
    scale = session_network_scale(rng, sig, (centre.shape[0], len(layout.names)))
    a = centre * scale[:, layout.column] + rng.normal(0, sig.session_loading_sd, centre.shape)
    a = np.clip(a, 0.05, 0.75)
    noise = 1.0 - a**2 - b**2 - layout.local**2
    if noise.min() < NOISE_FLOOR:
        raise InputError("loadings leave too little region noise; lower the loadings")
    sources = np.repeat(layout.sources[None], a.shape[0], axis=0)
    return _Models(a, b.copy(), noise, thermal, sources, layout.local)


def _carrying_models(
    rng: np.random.Generator,
    sig: SignalSpec,
    layout: _Layout,
    a_subj: Array,
    b: Array,
    thermal: Array,
    scaled: list[tuple[Effect, Array]],
) -> _Models:
    """Return runs' models with effects, drawing again a run that cannot carry them.

    As :func:`dmnpharm.simulate._study._carrying_model`: session loadings
    around the subject's first, fresh subject-level loadings after
    :data:`SESSION_REDRAWS` tries, and an error after :data:`MAX_REDRAWS`.
    """
    models = _models(rng, sig, layout, a_subj, b, thermal)
    bad = ~_apply_effects(models, layout, scaled, "")
    for attempt in range(1, MAX_REDRAWS + 1):
        if not bad.any():
            return models
        rows = np.flatnonzero(bad)
        centre = (
            a_subj[rows]
            if attempt <= SESSION_REDRAWS
            else _subject_loadings(rng, sig, layout, rows.size)
        )
        redrawn = _models(rng, sig, layout, centre, b[rows], thermal[rows])
        sub = [(effect, mult[rows]) for effect, mult in scaled]
        bad[rows] = ~_apply_effects(redrawn, layout, sub, "")
        for name in ("a", "b", "noise", "amp", "sources", "local"):
            getattr(models, name)[rows] = getattr(redrawn, name)
    if bad.any():
        raise InputError(
            f"{bad.sum()} runs could not carry the planted effects in {MAX_REDRAWS + 1} draws "
            "of their loadings (the spec's effects, multiplied by their exposure, exceed what "
            "the signal model allows); plant a smaller effect or lower heterogeneity_sd"
        )
    return models


def _chunk(
    spec: StudySpec,
    target: MeasureTarget,
    layout: _Layout,
    n_studies: int,
    seed: np.random.SeedSequence,
) -> pd.DataFrame:
    """Simulate ``n_studies`` studies and return their run table with the measure."""
    rng = np.random.default_rng(seed)
    sig = spec.signal
    runs, thermal = _draw_designs(spec, n_studies, rng)
    subject, _ = pd.factorize(runs["study"].astype(str) + "/" + runs["participant_id"].astype(str))
    n_sub, n_run, n_reg = int(subject.max()) + 1, len(runs), layout.column.size
    a_subj = _subject_loadings(rng, sig, layout, n_sub)
    b_subj = np.clip(sig.global_loading + rng.normal(0, 0.05, (n_sub, n_reg)), 0.0, 0.6)
    base_fd = sig.mean_fd * np.exp(rng.normal(0.0, 0.3, n_sub))
    exposure = runs["exposure"].to_numpy(dtype=float)
    shift = runs["patient_shift"].to_numpy(dtype=float)
    scaled = [(e, shift) for e in spec.response.patient_effects]
    scaled += [(e, exposure) for e in spec.effects]
    models = _carrying_models(rng, sig, layout, a_subj[subject], b_subj[subject], thermal, scaled)
    fd_target = base_fd[subject] * np.exp(rng.normal(0.0, 0.1, n_run))
    fd_target += sum((e.size * m for e, m in scaled if e.measure == "motion"), np.zeros(n_run))
    fd_target = np.maximum(fd_target, 0.02)
    data = _signals(rng, spec, models, layout, fd_target)
    return runs.assign(value=_fisher_mean(data, layout, target), mean_fd_target=fd_target)


def _chunk_one_thread(
    spec: StudySpec,
    target: MeasureTarget,
    layout: _Layout,
    n_studies: int,
    seed: np.random.SeedSequence,
) -> pd.DataFrame:
    """:func:`_chunk` with one BLAS thread, so that worker processes do not oversubscribe."""
    with threadpool_limits(limits=1):
        return _chunk(spec, target, layout, n_studies, seed)


@fill_doc
def simulate_measure_runs(
    spec: StudySpec,
    target: MeasureTarget,
    n_studies: int,
    seed: int,
    *,
    workers: int = 1,
    chunk_runs: int = 400,
) -> pd.DataFrame:
    """Simulate many studies of one spec and measure one connectivity value per run.

    Parameters
    ----------
    spec : StudySpec
        The study (its own ``seed`` is not used; ``seed`` is).
    target : MeasureTarget
        The measure, e.g. ``MeasureTarget("within_fc", "DMN")``.
    n_studies : int
        Independent studies to simulate.
    %(seed)s
        Studies are simulated in fixed chunks, each with its own child seed,
        so the result does not depend on how chunks are spread over processes.
    workers : int
        Processes to spread the chunks over (1: this process).
    chunk_runs : int
        Runs simulated at once (bounds memory: about 10 arrays of
        ``chunk_runs x volumes x regions`` floats).

    Returns
    -------
    pandas.DataFrame
        The design's run table for every study (``study``, ``participant_id``,
        ``session_id``, ``condition``, ``dose_mg``, ``group``, ``exposure``, ...)
        with ``value``, the measured mean Fisher z of the run.
    """
    if int(n_studies) != n_studies or n_studies < 1:
        raise InputError(f"n_studies must be a positive integer; got {n_studies!r}")
    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a positive integer; got {workers!r}")
    layout = _layout(spec, target)
    check_reachable(spec)
    _, probe = build_design(spec, np.random.default_rng(0))
    per_chunk = max(1, chunk_runs // len(probe))
    seeds = np.random.SeedSequence(seed).spawn(-(-n_studies // per_chunk))
    counts = [min(per_chunk, n_studies - i * per_chunk) for i in range(len(seeds))]
    jobs = [
        (spec, target, layout, count, child) for count, child in zip(counts, seeds, strict=True)
    ]
    if workers == 1 or len(jobs) == 1:
        frames = [_chunk(*job) for job in jobs]
    else:
        context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            frames = list(pool.map(_chunk_one_thread, *zip(*jobs, strict=True)))
    offsets = np.cumsum([0, *counts[:-1]])
    return pd.concat(
        [f.assign(study=f["study"] + int(o)) for f, o in zip(frames, offsets, strict=True)],
        ignore_index=True,
    )
