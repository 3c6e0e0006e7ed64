"""Draw one run's signals from its population model, with motion, drift and confounds."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.simulate._confounds import fmriprep_confounds
from dmnpharm.simulate._model import RunModel
from dmnpharm.simulate._motion import framewise_displacement, motion_artifact, simulate_motion
from dmnpharm.simulate._signals import bold_like_noise
from dmnpharm.simulate._spec import SignalSpec

__all__ = ["RunSignals", "drift_batch", "generate_run"]

Array = npt.NDArray[np.float64]

#: Baseline of the written region signals (arbitrary units, percent-like).
BASELINE = 100.0
_N_COMPCOR = 5
_N_NUISANCE_VOXELS = 40


@dataclass(frozen=True, eq=False)
class RunSignals:
    """One run's signals and the parts they are made of.

    Parameters
    ----------
    data : numpy.ndarray
        Region time series as written (volumes x regions): baseline + BOLD +
        thermal noise + drift + motion artifact.
    bold : numpy.ndarray
        The BOLD part alone (what the population model describes).
    global_signal : numpy.ndarray
        The global source ``g`` (volumes).
    nuisance : numpy.ndarray
        Drift + motion artifact per region (what denoising should remove).
    confounds : pandas.DataFrame
        fMRIPrep-style confounds table of the run.
    confounds_meta : dict
        fMRIPrep-style confounds JSON content: per ``a_comp_cor_XX`` its
        method, mask, singular value and (cumulative) variance explained.
    """

    data: Array = field(repr=False)
    bold: Array = field(repr=False)
    global_signal: Array = field(repr=False)
    nuisance: Array = field(repr=False)
    confounds: pd.DataFrame = field(repr=False)
    confounds_meta: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)


def drift_batch(
    rng: np.random.Generator, n_runs: int, n_volumes: int, n_signals: int, sd: float
) -> Array:
    """Slow scanner drift: random linear, quadratic and half-cosine terms per signal.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the weights.
    n_runs, n_volumes, n_signals : int
        Shape of the result.
    sd : float
        Expected SD of each signal's drift over the run.

    Returns
    -------
    numpy.ndarray
        ``n_runs x n_volumes x n_signals``.
    """
    weights = rng.normal(0.0, sd / np.sqrt(3), size=(n_runs, 3, n_signals))
    drift: Array = _drift_basis(n_volumes) @ weights
    return drift


@functools.lru_cache(maxsize=8)
def _drift_basis(n_volumes: int) -> Array:
    """Linear, quadratic and half-cosine drift terms, unit SD (volumes x 3; read-only)."""
    t = np.linspace(-1.0, 1.0, n_volumes)
    basis = np.column_stack([t, t**2 - np.mean(t**2), np.cos(np.pi * (t + 1) / 2)])
    basis /= basis.std(axis=0)
    basis.setflags(write=False)
    return basis


@fill_doc
def local_signal(
    rng: np.random.Generator, factor: Array, n_volumes: int, repetition_time: float
) -> Array:
    """Draw the local signal: BOLD-like, unit variance, correlated across regions.

    Parameters
    ----------
    %(rng)s
    factor : numpy.ndarray
        Regions x components, ``factor @ factor.T`` the regions' correlation
        (:attr:`~dmnpharm.simulate._structure.LocalStructure.factor`).
    %(n_volumes)s
    %(repetition_time)s

    Returns
    -------
    numpy.ndarray
        Volumes x regions.
    """
    components = bold_like_noise(rng, n_volumes, factor.shape[1], repetition_time)
    drawn: Array = components @ factor.T
    return drawn


def _drift(rng: np.random.Generator, n_volumes: int, n_signals: int, sd: float) -> Array:
    drift: Array = drift_batch(rng, 1, n_volumes, n_signals, sd)[0]
    return drift


@fill_doc
def generate_run(
    rng: np.random.Generator, model: RunModel, signal: SignalSpec, mean_fd: float
) -> RunSignals:
    """Draw one run.

    Parameters
    ----------
    %(rng)s
    model : RunModel
        Population parameters of the run (after effects are applied).
    signal : SignalSpec
        Acquisition and nuisance settings.
    mean_fd : float
        Target mean framewise displacement of the run, mm.

    Returns
    -------
    RunSignals
        Signals and confounds.
    """
    n_t, repetition_time = signal.n_volumes, signal.repetition_time
    n_src, n_reg = model.sources.shape[0], model.a.size
    chol = np.linalg.cholesky(model.sources)
    sources = bold_like_noise(rng, n_t, n_src, repetition_time) @ chol.T
    glob = bold_like_noise(rng, n_t, 1, repetition_time)[:, 0]
    region_noise = bold_like_noise(rng, n_t, n_reg, repetition_time)
    region_noise *= np.sqrt(model.noise)
    network = np.where(model.column >= 0, model.a, 0.0) * sources[:, np.maximum(model.column, 0)]
    local = local_signal(rng, model.structure.factor, n_t, repetition_time)
    local *= model.local
    # amp * (network + glob b + local + noise), summed in that order in place (C order)
    bold = np.outer(glob, model.b)
    bold += network
    bold += local
    bold += region_noise
    bold *= model.amp
    thermal = rng.standard_normal((n_t, n_reg))
    thermal *= model.thermal_sd
    params = simulate_motion(rng, n_t, repetition_time, mean_fd)
    fd = framewise_displacement(params)
    artifact = motion_artifact(rng, params, fd, n_reg, signal.motion_artifact)
    nuisance = _drift(rng, n_t, n_reg, signal.drift_sd) + artifact
    data = bold + BASELINE
    data += thermal
    data += nuisance
    # white matter and CSF carry global, drift and motion signal but no neural networks
    compartments = (
        0.3 * glob[:, None]
        + _drift(rng, n_t, _N_NUISANCE_VOXELS, signal.drift_sd)
        + motion_artifact(rng, params, fd, _N_NUISANCE_VOXELS, signal.motion_artifact)
        + 0.5 * rng.standard_normal((n_t, _N_NUISANCE_VOXELS))
    )
    centred = compartments - compartments.mean(axis=0)
    left, singular, _ = np.linalg.svd(centred, full_matrices=False)
    explained = singular**2 / np.sum(singular**2)
    cumulative = np.cumsum(explained)
    meta: dict[str, dict[str, object]] = {
        f"a_comp_cor_{k:02d}": {
            "Method": "aCompCor",
            "Mask": "combined",
            "SingularValue": float(singular[k]),
            "VarianceExplained": float(explained[k]),
            "CumulativeVarianceExplained": float(cumulative[k]),
            "Retained": True,
        }
        for k in range(_N_COMPCOR)
    }
    confounds = fmriprep_confounds(
        params,
        global_signal=data.mean(axis=1),
        csf=BASELINE + compartments[:, : _N_NUISANCE_VOXELS // 2].mean(axis=1),
        white_matter=BASELINE + compartments[:, _N_NUISANCE_VOXELS // 2 :].mean(axis=1),
        data=data,
        acompcor=left[:, :_N_COMPCOR],
        repetition_time=repetition_time,
    )
    return RunSignals(data, bold, glob, nuisance, confounds, meta)
