"""The simulator's faster code draws the very same numbers as its straightforward form.

Each function is compared, bit for bit and for the same generator state, with a
reference written here the plain way (what the simulator computed before it was
made faster): signals, drift, DVARS, the confounds table, the Fisher-z root
searches and a whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import brentq

from dmnpharm._utils._roots import brent_root
from dmnpharm.atlases import load_atlas
from dmnpharm.simulate import SignalSpec, dvars
from dmnpharm.simulate._confounds import _expanded, cosine_basis, fmriprep_confounds
from dmnpharm.simulate._model import (
    NOISE_FLOOR,
    RunModel,
    _between_gap,
    _pd_interval,
    _with_covariance,
    _with_variance,
    _within_gap,
    mean_fisher_z,
    solve_between,
    solve_within,
)
from dmnpharm.simulate._motion import (
    MOTION_COLUMNS,
    framewise_displacement,
    motion_artifact,
    simulate_motion,
)
from dmnpharm.simulate._run_signals import drift_batch, generate_run
from dmnpharm.simulate._signals import bold_gain, bold_like_noise
from dmnpharm.simulate._structure import local_structure
from dmnpharm.simulate._study import _RunState, _source_covariance

Array = npt.NDArray[np.float64]

SIGNAL = SignalSpec(n_volumes=48, repetition_time=1.5)


def _bits(a: Array, b: Array) -> bool:
    """Tell whether two arrays have the same shape, memory order and bits."""
    a, b = np.asarray(a), np.asarray(b)
    return (
        a.shape == b.shape
        and a.flags.c_contiguous == b.flags.c_contiguous
        and np.array_equal(a.view(np.uint64), b.view(np.uint64))
    )


def _gain(n_volumes: int, repetition_time: float) -> Array:
    freqs = np.fft.rfftfreq(n_volumes, d=repetition_time)
    power = 1.0 / (0.01 + freqs) / (1.0 + (freqs / 0.1) ** 4)
    power[0] = 0.0
    weights = np.full(freqs.size, 2.0)
    weights[0] = 1.0
    if n_volumes % 2 == 0:
        weights[-1] = 1.0
    gain: Array = np.sqrt(power * n_volumes / np.sum(weights * power))
    return gain


def _noise(rng: np.random.Generator, n_volumes: int, n_signals: int, tr: float) -> Array:
    white = rng.standard_normal((n_volumes, n_signals))
    spectrum = np.fft.rfft(white, axis=0) * _gain(n_volumes, tr)[:, None]
    signals: Array = np.fft.irfft(spectrum, n=n_volumes, axis=0)
    return signals


def _drift(rng: np.random.Generator, n_runs: int, n_volumes: int, n: int, sd: float) -> Array:
    t = np.linspace(-1.0, 1.0, n_volumes)
    basis = np.column_stack([t, t**2 - np.mean(t**2), np.cos(np.pi * (t + 1) / 2)])
    basis /= basis.std(axis=0)
    drift: Array = basis @ rng.normal(0.0, sd / np.sqrt(3), size=(n_runs, 3, n))
    return drift


def _dvars(values: Array) -> tuple[Array, Array]:
    upper, lower = np.percentile(values, [75, 25], axis=0, method="lower")
    robust_sd = (upper - lower) / 1.349
    varies = robust_sd > 0
    values, robust_sd = values[:, varies], robust_sd[varies]
    centred = values - values.mean(axis=0)
    ar1 = (centred[1:] * centred[:-1]).sum(axis=0) / (centred**2).sum(axis=0)
    expected = float(np.mean(np.sqrt(2.0 * (1.0 - ar1)) * robust_sd))
    raw = np.concatenate([[np.nan], np.sqrt((np.diff(values, axis=0) ** 2).mean(axis=1))])
    return raw, raw / expected


def _confounds(
    motion: Array, tissues: dict[str, Array], data: Array, acompcor: Array, tr: float
) -> pd.DataFrame:
    columns: dict[str, Array] = {}
    for name, values in tissues.items():
        columns |= _expanded(name, values)
    columns["dvars"], columns["std_dvars"] = _dvars(data)
    columns["framewise_displacement"] = framewise_displacement(motion)
    for index, name in enumerate(MOTION_COLUMNS):
        columns |= _expanded(name, motion[:, index])
    for index in range(acompcor.shape[1]):
        columns[f"a_comp_cor_{index:02d}"] = acompcor[:, index]
    cosines = cosine_basis(motion.shape[0], tr)
    for index in range(cosines.shape[1]):
        columns[f"cosine{index:02d}"] = cosines[:, index]
    return pd.DataFrame(columns)


def _run(rng: np.random.Generator, model: RunModel, signal: SignalSpec, mean_fd: float) -> dict:
    """Draw a run as generate_run did, written the plain way."""
    n_t, tr = signal.n_volumes, signal.repetition_time
    chol = np.linalg.cholesky(model.sources)
    sources = _noise(rng, n_t, model.sources.shape[0], tr) @ chol.T
    glob = _noise(rng, n_t, 1, tr)[:, 0]
    region_noise = _noise(rng, n_t, model.a.size, tr) * np.sqrt(model.noise)
    network = np.where(model.column >= 0, model.a, 0.0) * sources[:, np.maximum(model.column, 0)]
    factor = model.structure.factor
    local = (_noise(rng, n_t, factor.shape[1], tr) @ factor.T) * model.local
    bold = model.amp * (network + np.outer(glob, model.b) + local + region_noise)
    thermal = model.thermal_sd * rng.standard_normal((n_t, model.a.size))
    params = simulate_motion(rng, n_t, tr, mean_fd)
    fd = framewise_displacement(params)
    artifact = motion_artifact(rng, params, fd, model.a.size, signal.motion_artifact)
    nuisance = _drift(rng, 1, n_t, model.a.size, signal.drift_sd)[0] + artifact
    data = 100.0 + bold + thermal + nuisance
    compartments = (
        0.3 * glob[:, None]
        + _drift(rng, 1, n_t, 40, signal.drift_sd)[0]
        + motion_artifact(rng, params, fd, 40, signal.motion_artifact)
        + 0.5 * rng.standard_normal((n_t, 40))
    )
    left, singular, _ = np.linalg.svd(compartments - compartments.mean(axis=0), False)
    explained = singular**2 / np.sum(singular**2)
    tissues = {
        "global_signal": data.mean(axis=1),
        "csf": 100.0 + compartments[:, :20].mean(axis=1),
        "white_matter": 100.0 + compartments[:, 20:].mean(axis=1),
    }
    return {
        "data": data,
        "bold": bold,
        "global_signal": glob,
        "nuisance": nuisance,
        "confounds": _confounds(params, tissues, data, left[:, :5], tr),
        "cumulative": [float(np.cumsum(explained)[k]) for k in range(5)],
    }


def _model(rng: np.random.Generator) -> RunModel:
    atlas = load_atlas(SIGNAL.atlas)
    latent = sorted(set(atlas.networks) - {"NONE"})
    column = np.array([latent.index(n) if n != "NONE" else -1 for n in atlas.networks])
    b = rng.uniform(0.15, 0.35, column.size)
    local = np.full(column.size, SIGNAL.local_loading)
    structure = local_structure(SIGNAL.atlas, SIGNAL.local_length_mm, SIGNAL.atlas_network_map)
    sources = _source_covariance(latent, SIGNAL.network_coupling)
    state = _RunState(column, b, sources, 0.3, latent, "t", local, structure, atlas.labels)
    model = state.model(np.where(column >= 0, rng.uniform(0.35, 0.6, column.size), 0.0))
    return replace(model, amp=rng.uniform(0.8, 1.2, column.size))


def test_bold_noise_gain_and_drift_are_drawn_as_before(rng: np.random.Generator) -> None:
    """Same numbers from the same generator state; the gain is a fresh, writable copy."""
    for n_volumes, tr, n in ((48, 1.5, 7), (33, 2.0, 1), (200, 0.8, 300)):
        state = rng.bit_generator.state
        found = bold_like_noise(rng, n_volumes, n, tr)
        rng.bit_generator.state = state
        assert _bits(found, _noise(rng, n_volumes, n, tr))
        gain = bold_gain(n_volumes, tr)
        assert _bits(gain, _gain(n_volumes, tr))
        gain[:] = 0.0  # the caller's copy
        assert _bits(bold_gain(n_volumes, tr), _gain(n_volumes, tr))
        state = rng.bit_generator.state
        found = drift_batch(rng, 3, n_volumes, n, 0.2)
        rng.bit_generator.state = state
        assert _bits(found, _drift(rng, 3, n_volumes, n, 0.2))


def test_dvars_and_confounds_table_are_as_before(rng: np.random.Generator) -> None:
    """DVARS from a sort (not np.percentile), and the table built as one block, change nothing."""
    for n_volumes in (3, 4, 48, 201):
        values = 100 + rng.standard_normal((n_volumes, 30))
        values[:, 3] = 7.0  # a constant signal, left out
        values[: n_volumes // 2, 4] = 0.0  # ties, and signed zeros
        values[n_volumes // 2 :, 4] = -0.0
        for found, expected in zip(dvars(values), _dvars(values), strict=True):
            assert _bits(found, expected)
    motion = 0.1 * rng.standard_normal((48, 6))
    tissues = {name: rng.standard_normal(48) for name in ("global_signal", "csf", "white_matter")}
    data, acompcor = 100 + rng.standard_normal((48, 20)), rng.standard_normal((48, 5))
    found = fmriprep_confounds(
        motion, data=data, acompcor=acompcor, repetition_time=2.0, **tissues
    )
    expected = _confounds(motion, tissues, data, acompcor, 2.0)
    pd.testing.assert_frame_equal(found, expected, check_exact=True)
    assert _bits(found.to_numpy(), expected.to_numpy())
    assert _bits(found._mgr.blocks[0].values, expected._mgr.blocks[0].values)


def test_root_searches_evaluate_the_model_as_mean_fisher_z(rng: np.random.Generator) -> None:
    """The precomputed gaps equal mean_fisher_z of the changed model, and so do the roots."""
    model = _model(rng)
    k, q = 2, 5
    members = np.flatnonzero(model.column == k)
    others = np.flatnonzero(model.column == q)
    target = mean_fisher_z(model, members, members) - 0.04
    gap = _within_gap(model, k, members, target)
    for v in (0.7, 0.9, float(model.sources[k, k]), 1.3):
        changed = _with_variance(model, k, members, v)
        assert gap(v) == mean_fisher_z(changed, members, members) - target
    between = _between_gap(model, (members, others), target)
    for c in (-0.3, 0.0, 0.21):
        changed = _with_covariance(model, k, q, c)
        assert between(c) == mean_fisher_z(changed, members, others) - target

    within = solve_within(model, k, target, "t").sources[k, k]
    assert within == _solve_within(model, k, target)
    wanted = mean_fisher_z(model, members, others) + 0.02
    found = solve_between(model, k, q, wanted, "t").sources[k, q]
    assert found == _solve_between(model, k, q, wanted)
    # brent_root replaced scipy.optimize.brentq: each root is within xtol + 4 eps |x| of
    # the true one, so the two are within twice that of each other
    reference = _solve_within(model, k, target, brentq)
    assert abs(within - reference) <= 2 * (1e-13 + 8.9e-16 * abs(within))
    reference = _solve_between(model, k, q, wanted, brentq)
    assert abs(found - reference) <= 2 * (1e-13 + 8.9e-16 * abs(found))


#: The root finder the simulator uses, or scipy's for comparison.
RootFinder = Callable[..., float]


def _solve_within(model: RunModel, k: int, target: float, find: RootFinder = brent_root) -> float:
    """solve_within's root, each step through mean_fisher_z of the changed model."""
    members = np.flatnonzero(model.column == k)
    others = [i for i in range(model.sources.shape[0]) if i != k]
    c = model.sources[others, k]
    low = float(c @ np.linalg.solve(model.sources[np.ix_(others, others)], c)) + 1e-6
    a2 = model.a[members] ** 2
    high = model.sources[k, k] + float(np.min((model.noise[members] - NOISE_FLOOR) / a2))

    def gap(v: float) -> float:
        return mean_fisher_z(_with_variance(model, k, members, v), members, members) - target

    return float(find(gap, low, high, xtol=1e-13))


def _solve_between(
    model: RunModel, k: int, q: int, target: float, find: RootFinder = brent_root
) -> float:
    """solve_between's root, each step through mean_fisher_z of the changed model."""
    idx_k, idx_l = np.flatnonzero(model.column == k), np.flatnonzero(model.column == q)

    def gap(c: float) -> float:
        return mean_fisher_z(_with_covariance(model, k, q, c), idx_k, idx_l) - target

    return float(find(gap, *_pd_interval(model, k, q), xtol=1e-13))


def test_a_run_is_drawn_as_before(rng: np.random.Generator) -> None:
    """generate_run gives the plain form's arrays, bit for bit and in the same memory order."""
    model = _model(rng)
    state = rng.bit_generator.state
    found = generate_run(rng, model, SIGNAL, 0.2)
    rng.bit_generator.state = state
    expected = _run(rng, model, SIGNAL, 0.2)
    for name in ("data", "bold", "global_signal", "nuisance"):
        assert _bits(getattr(found, name), expected[name]), name
    pd.testing.assert_frame_equal(found.confounds, expected["confounds"], check_exact=True)
    assert _bits(found.confounds.to_numpy(), expected["confounds"].to_numpy())
    cumulative = [found.confounds_meta[f"a_comp_cor_{k:02d}"] for k in range(5)]
    assert [c["CumulativeVarianceExplained"] for c in cumulative] == expected["cumulative"]
