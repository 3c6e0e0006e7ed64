"""A whole-brain Hopf (Stuart-Landau) network model: linear-noise FC and fast simulation.

Region ``j`` is a Hopf normal form (Deco et al. 2017, Sci Rep 7:3095), ``z_j = x_j +
i y_j`` with ``x_j`` the BOLD signal, ``omega_j = 2 pi f_j`` in rad/s, time in s::

    dz_j/dt = (a_j + i omega_j - |z_j|^2) z_j + G sum_k C_jk (z_k - z_j) + sigma eta_j(t)

The connectome's diagonal is ignored and its largest weight rescaled to 0.2
(:data:`CONNECTOME_MAX`, as Deco et al. 2017). Linear-noise FC (Ponce-Alvarez &
Deco 2024, Sci Rep 14:2615): around ``z = 0`` the stationary covariance solves
``J S + S J^T + sigma^2 I = 0``; FC is the correlation of its ``x`` block, free of
``sigma``. The symmetric part of ``J`` is ``M = diag(a) + G (C - diag(strength))``,
so ``a_j < 0`` everywhere makes the model stable at every ``G >= 0``; with one
frequency for all regions ``S_xx = -sigma^2 M^-1 / 2`` (no Lyapunov solve).

Simulation: exponential Euler-Maruyama. Per step the linear part moves exactly by
``expm(J dt)``, the cubic term by Euler, and the step's noise is added half before
and half after the propagation (stationary covariance right to second order in
``dt``; plain Euler at ``dt = 0.1`` s adds a spurious growth ``dt omega^2 / 2``, a
quarter of ``|a| = 0.02`` at 0.05 Hz). Runs start from the linear stationary law;
with one frequency they move in the frame rotating at ``omega``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.linalg import expm, solve_continuous_lyapunov
from scipy.spatial.distance import cdist

from dmnpharm.exceptions import InputError

__all__ = [
    "CONNECTOME_MAX",
    "DEFAULT_A",
    "DEFAULT_OMEGA",
    "DEFAULT_SIGMA",
    "EDR_DECAY",
    "Connectome",
    "distance_connectome",
    "hopf_jacobian",
    "linear_noise_fc",
    "simulate_hopf",
]

FloatArray = npt.NDArray[np.float64]

#: Largest weight of the rescaled connectome (Deco et al. 2017 scale theirs to 0.2).
CONNECTOME_MAX = 0.2

#: Default bifurcation parameter, just below the Hopf bifurcation (Deco et al. 2017).
DEFAULT_A = -0.02

#: Default angular frequency: 0.05 Hz (centre of the 0.04-0.07 Hz band) in rad/s.
DEFAULT_OMEGA = 2.0 * np.pi * 0.05

#: Default noise SD. Deco et al. (2017) use 0.02, but with ``a = -0.02`` the cubic term
#: then about doubles each region's damping (``<|z|^2> ~ sigma^2 / |a| = |a|``) and the
#: simulations leave the linear regime in which ``G`` is fitted. FC, a correlation, does
#: not depend on the noise scale in that regime, so a ten times smaller noise is used.
DEFAULT_SIGMA = 0.002

#: Decay of the exponential distance rule, per mm (Ercsey-Ravasz et al. 2013 report
#: 0.188/mm in macaque cortex; Deco and Kringelbach's human models use 0.18/mm).
EDR_DECAY = 0.18

#: A mode whose eigenvalue's real part is above this counts as unstable.
_STABILITY_MARGIN = -1e-10


@dataclass(frozen=True, eq=False)
class Connectome:
    """A connectome and where it came from (recorded with every model result).

    Parameters
    ----------
    weights : numpy.ndarray, shape (n_regions, n_regions)
        Symmetric non-negative weights, in any units (the model rescales them).
    source : str
        ``"structural"`` (measured) or ``"distance"`` (:func:`distance_connectome`).
    decay : float or None
        The distance rule's decay (per mm) for a ``"distance"`` connectome.
    """

    weights: FloatArray
    source: str = "structural"
    decay: float | None = None

    def record(self) -> dict[str, object]:
        """Return the connectome's source, fallback flag, decay and normalisation (a dict)."""
        return {
            "connectome_source": self.source,
            "distance_fallback": self.source == "distance",
            "distance_decay_per_mm": self.decay,
            "connectome_normalisation": f"diagonal set to 0, largest weight scaled to "
            f"{CONNECTOME_MAX} (Deco et al. 2017, Sci Rep 7:3095)",
            "n_regions": int(self.weights.shape[0]),
        }


def as_connectome(connectome: npt.ArrayLike | Connectome) -> Connectome:
    """Return ``connectome`` as a :class:`Connectome` (an array is ``"structural"``)."""
    if isinstance(connectome, Connectome):
        return connectome
    return Connectome(np.asarray(connectome, dtype=np.float64))


def distance_connectome(
    coords_or_distance: npt.ArrayLike, *, decay: float = EDR_DECAY
) -> Connectome:
    """Build a fallback connectome from the exponential distance rule.

    ``C_ij = exp(-decay * d_ij)`` for ``i != j`` (Ercsey-Ravasz et al. 2013,
    Neuron 80:184). Use it only without a measured structural connectome: the
    result is labelled ``source="distance"`` and every model record says so.

    Parameters
    ----------
    coords_or_distance : array-like
        Region centroids in mm, (n_regions, 2 or 3), or a distance matrix in mm,
        (n_regions, n_regions): read as distances when symmetric, zero diagonal.
    decay : float
        Decay of the rule, per mm (:data:`EDR_DECAY`).

    Returns
    -------
    Connectome
        Weights with a zero diagonal, ``source="distance"`` and ``decay``.

    Raises
    ------
    InputError
        When the input is neither centroids nor distances, or not finite.
    """
    values = np.asarray(coords_or_distance, dtype=np.float64)
    rate = positive(decay, "decay", f"a rate per mm, e.g. {EDR_DECAY}")
    usable = values.ndim == 2 and values.shape[0] >= 2 and bool(np.all(np.isfinite(values)))
    square = usable and values.shape[0] == values.shape[1] and not np.any(np.diag(values))
    is_distance = square and bool(np.allclose(values, values.T) and values.min() >= 0)
    if not (is_distance or (usable and values.shape[1] in (2, 3))):
        raise InputError(
            "coords_or_distance must be finite centroids (n_regions, 2 or 3) or a symmetric "
            f"non-negative distance matrix with a zero diagonal; got shape {values.shape}"
        )
    weights = np.exp(-rate * (values if is_distance else cdist(values, values)))
    np.fill_diagonal(weights, 0.0)
    return Connectome(weights, "distance", rate)


def normalised_weights(connectome: npt.ArrayLike | Connectome) -> FloatArray:
    """Return the checked connectome, diagonal 0, rescaled to a largest weight of 0.2."""
    c = np.array(as_connectome(connectome).weights, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        raise InputError(f"connectome must be a square matrix of >= 2 regions; got {c.shape}")
    if not np.all(np.isfinite(c)):
        rows = np.flatnonzero(~np.all(np.isfinite(c), axis=1))
        raise InputError(f"connectome has NaN or infinite weights in rows {rows[:10].tolist()}")
    np.fill_diagonal(c, 0.0)
    if np.any(c < 0):
        i, j = np.argwhere(c < 0)[0]
        raise InputError(
            f"connectome has negative weights (e.g. C[{i}, {j}] = {c[i, j]:.3g}); structural "
            "weights must be >= 0 (was a functional connectivity matrix passed?)"
        )
    largest = float(c.max())
    if not largest > 0:
        raise InputError("connectome has no connections (all off-diagonal weights are 0)")
    if not np.allclose(c, c.T, rtol=1e-6, atol=1e-9 * largest):
        worst = float(np.max(np.abs(c - c.T)))
        raise InputError(
            f"connectome must be symmetric; largest |C - C.T| is {worst:.3g}: pass "
            "(C + C.T) / 2 for an undirected connectome"
        )
    return np.asarray(0.5 * (c + c.T) * (CONNECTOME_MAX / largest), dtype=np.float64)


def regional(values: npt.ArrayLike, n_regions: int, name: str) -> FloatArray:
    """Return a scalar or per-region parameter as a finite (n_regions,) array."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n_regions, float(array))
    if array.shape != (n_regions,):
        raise InputError(
            f"{name} must be a number or ({n_regions},), one per region; got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array))[:10].tolist()
        raise InputError(f"{name} has NaN or infinite values at regions {bad}")
    return array


def positive(value: float, name: str, hint: str, *, zero: bool = False) -> float:
    """Return ``value`` as a float after checking it is finite and > 0 (>= 0 with ``zero``)."""
    number = float(value)
    if not (np.isfinite(number) and (number > 0 or (zero and number == 0))):
        raise InputError(
            f"{name} must be a finite number {'>=' if zero else '>'} 0 ({hint}); got {value}"
        )
    return number


def check_coupling(value: float) -> float:
    """Return the global coupling ``G`` after checking it is finite and >= 0."""
    return positive(value, "coupling G", "the global coupling", zero=True)


def _unstable(coupling: float, a: FloatArray, real: float, weight: FloatArray) -> InputError:
    """Return the error for an unstable linearisation, naming the region it is centred on."""
    region, above = int(np.argmax(weight)), np.flatnonzero(a >= 0)[:10].tolist()
    return InputError(
        f"the linearised Hopf model is unstable at coupling G = {coupling:g} (leading eigenvalue "
        f"real part {real:+.3g} >= 0, mode centred on region {region}, a = {a[region]:.3g}; "
        f"a >= 0 in regions {above}): lower a below 0 there. With a < 0 in every region the "
        "model is stable at any G >= 0 (diffusive coupling damps; lowering G does not help)"
    )


def _drift(c: FloatArray, coupling: float, a: FloatArray) -> FloatArray:
    """Return ``M = diag(a) + G (C - diag(strength))``, the symmetric part of the Jacobian."""
    return np.asarray(coupling * (c - np.diag(c.sum(axis=1))) + np.diag(a), dtype=np.float64)


def _jacobian(c: FloatArray, coupling: float, a: FloatArray, omega: FloatArray) -> FloatArray:
    m, rot = _drift(c, coupling, a), np.diag(omega)
    return np.asarray(np.block([[m, -rot], [rot, m]]), dtype=np.float64)


def covariance(c: FloatArray, coupling: float, a: FloatArray, omega: FloatArray) -> FloatArray:
    """Return the (2N, 2N) stationary covariance for unit noise, after a stability check."""
    n = a.size
    if np.ptp(omega) == 0:
        evals, evecs = np.linalg.eigh(_drift(c, coupling, a))
        if evals[-1] > _STABILITY_MARGIN:
            raise _unstable(coupling, a, float(evals[-1]), evecs[:, -1] ** 2)
        block = (evecs / (-2.0 * evals)) @ evecs.T
        cov = np.zeros((2 * n, 2 * n))
        cov[:n, :n] = cov[n:, n:] = 0.5 * (block + block.T)
        return cov
    # z = x + i y moves by A = M + i diag(omega); its covariance H = E[z z^H] solves
    # A H + H A^H + 2 I = 0 and E[z z^T] = 0, so S_xx = S_yy = Re H / 2, S_yx = Im H / 2.
    drift = _drift(c, coupling, a) + 1j * np.diag(omega)
    evals_c, evecs_c = np.linalg.eig(drift)
    lead = int(np.argmax(evals_c.real))
    if evals_c.real[lead] > _STABILITY_MARGIN:
        raise _unstable(coupling, a, float(evals_c.real[lead]), np.abs(evecs_c[:, lead]) ** 2)
    solved = np.asarray(solve_continuous_lyapunov(drift, -2.0 * np.eye(n)), dtype=complex)
    sxx, syx = 0.25 * (solved.real + solved.real.T), 0.25 * (solved.imag - solved.imag.T)
    return np.asarray(np.block([[sxx, -syx], [syx, sxx]]), dtype=np.float64)


def correlation(cov: FloatArray) -> FloatArray:
    """Return the correlation matrix of a covariance matrix (diagonal exactly 1)."""
    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / sd[:, None] / sd[None, :], -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return np.asarray(corr, dtype=np.float64)


def hopf_jacobian(
    connectome: npt.ArrayLike | Connectome,
    coupling: float,
    *,
    a: npt.ArrayLike = DEFAULT_A,
    omega: npt.ArrayLike = DEFAULT_OMEGA,
) -> FloatArray:
    """Return the Jacobian of the Hopf network at its fixed point ``z = 0``.

    Parameters
    ----------
    connectome : array-like or Connectome, shape (n_regions, n_regions)
        Structural connectome: symmetric, non-negative, finite; the diagonal is
        ignored and the weights are rescaled to a largest weight of 0.2.
    coupling : float
        Global coupling ``G >= 0``.
    a : float or array-like, shape (n_regions,)
        Bifurcation parameter, one for all regions or one per region.
    omega : float or array-like, shape (n_regions,)
        Angular frequency ``2 pi f`` in rad/s (default 0.05 Hz everywhere).

    Returns
    -------
    numpy.ndarray, shape (2 n_regions, 2 n_regions)
        ``[[M, -diag(omega)], [diag(omega), M]]`` acting on
        ``[x_1..x_N, y_1..y_N]``, ``M = diag(a) + G (C - diag(strength))``.

    Raises
    ------
    InputError
        When the connectome or a parameter is not usable.
    """
    c = normalised_weights(connectome)
    n = c.shape[0]
    return _jacobian(c, check_coupling(coupling), regional(a, n, "a"), regional(omega, n, "omega"))


def linear_noise_fc(
    connectome: npt.ArrayLike | Connectome,
    coupling: float,
    *,
    a: npt.ArrayLike = DEFAULT_A,
    omega: npt.ArrayLike = DEFAULT_OMEGA,
) -> FloatArray:
    """Return the model FC from the linear-noise approximation (independent of the noise SD).

    Parameters
    ----------
    connectome : array-like or Connectome, shape (n_regions, n_regions)
        Structural connectome (see :func:`hopf_jacobian`).
    coupling : float
        Global coupling ``G >= 0``.
    a : float or array-like, shape (n_regions,)
        Bifurcation parameter(s).
    omega : float or array-like, shape (n_regions,)
        Angular frequency (rad/s).

    Returns
    -------
    numpy.ndarray, shape (n_regions, n_regions)
        Pearson correlation of the regions' ``x`` (ones on the diagonal), in the
        connectome's region order.

    Raises
    ------
    InputError
        When the linearised model is unstable or an input is not usable.
    """
    c = normalised_weights(connectome)
    n = c.shape[0]
    cov = covariance(c, check_coupling(coupling), regional(a, n, "a"), regional(omega, n, "omega"))
    return correlation(cov[:n, :n])


def _propagator(
    c: FloatArray, coupling: float, a: FloatArray, omega: FloatArray, dt: float
) -> FloatArray:
    """Return ``expm(J dt)``: (N, N) for ``expm(M dt)`` with one frequency, else (2N, 2N)."""
    if np.ptp(omega) == 0:
        evals, evecs = np.linalg.eigh(_drift(c, coupling, a))
        return np.asarray((evecs * np.exp(evals * dt)) @ evecs.T, dtype=np.float64)
    return np.asarray(expm(_jacobian(c, coupling, a, omega) * dt).T, dtype=np.float64)


def _initial_state(
    c: FloatArray,
    key: tuple[float, FloatArray],
    omega: FloatArray,
    rows: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Draw (rows, 2, N) states from the linear stationary law (unit noise).

    An unstable linearisation (a region above its bifurcation) starts near 0 instead.
    """
    draws = rng.standard_normal((rows, 2 * c.shape[0]))
    try:
        cov = covariance(c, key[0], key[1], omega)
    except InputError:
        return np.asarray(0.01 * draws.reshape(rows, 2, -1))
    factor = np.linalg.cholesky(cov + 1e-12 * np.max(np.diag(cov)) * np.eye(cov.shape[0]))
    return np.asarray((draws @ factor.T).reshape(rows, 2, -1))


def simulate_groups(
    c: FloatArray,
    keys: list[tuple[float, FloatArray]],
    n_rows: int,
    omega: FloatArray,
    sigma: float,
    timing: tuple[float, int, int, int],
    rng: np.random.Generator,
) -> FloatArray:
    """Simulate ``n_rows`` runs for each ``(G, a)`` in ``keys``: x of shape (keys, rows, T, N).

    ``timing`` is ``(dt, steps per volume, transient steps, volumes)``. The state
    is (keys, rows, 2, N): one batched matrix product per step moves every run.
    With one frequency the runs move in the frame rotating at ``omega`` (exact: the
    coupling, the cubic term and the circular noise all commute with a common
    rotation), and ``x`` is rotated back at each volume.
    """
    dt, per_volume, transient, n_volumes = timing
    n, groups = c.shape[0], len(keys)
    same_omega = np.ptp(omega) == 0
    prop = np.stack([_propagator(c, g, a, omega, dt) for g, a in keys])
    state = sigma * np.stack([_initial_state(c, k, omega, n_rows, rng) for k in keys])
    flat = (groups, 2 * n_rows, n) if same_omega else (groups, n_rows, 2 * n)
    half_sd = 0.5 * sigma * np.sqrt(dt)
    out = np.empty((groups, n_rows, n_volumes, n))
    total = transient + n_volumes * per_volume
    for start in range(0, total, per_volume):
        steps = min(per_volume, total - start)
        noise = rng.standard_normal((steps, groups, n_rows, 2, n))
        noise *= half_sd
        for k in range(steps):
            cubic = (-dt * np.sum(state * state, axis=2, keepdims=True)) * state
            state += noise[k]
            cubic += noise[k]
            state = (state.reshape(flat) @ prop).reshape(cubic.shape)
            state += cubic
            step = start + k + 1 - transient
            if step > 0 and step % per_volume == 0:
                angle = omega[0] * (start + k + 1) * dt if same_omega else 0.0
                x = np.cos(angle) * state[:, :, 0] - np.sin(angle) * state[:, :, 1]
                out[:, :, step // per_volume - 1] = x
    if not np.all(np.isfinite(out)):
        raise InputError(f"the simulation diverged; use a smaller dt than {dt:g} s")
    return out


def step_timing(
    repetition_time: float, dt: float, transient: float, n_volumes: int
) -> tuple[float, int, int, int]:
    """Return ``(dt, steps per volume, transient steps, volumes)`` after checking them."""
    tr = positive(repetition_time, "repetition_time", "seconds between volumes")
    step = positive(dt, "dt", "the integration step in seconds, e.g. 0.1")
    per_volume = round(tr / step)
    if per_volume < 1 or abs(per_volume * step - tr) > 1e-9 * tr:
        fix = tr / max(1, int(np.ceil(tr / step)))
        raise InputError(
            f"repetition_time = {tr:g} s must be a whole number of steps dt = {step:g} s; "
            f"use dt = {fix:g}"
        )
    positive(transient, "transient", "seconds discarded", zero=True)
    if int(n_volumes) != n_volumes or n_volumes < 3:
        raise InputError(f"n_volumes must be a whole number >= 3; got {n_volumes}")
    return step, per_volume, round(transient / step), int(n_volumes)


def simulate_hopf(
    connectome: npt.ArrayLike | Connectome,
    coupling: float,
    n_volumes: int,
    repetition_time: float,
    *,
    a: npt.ArrayLike = DEFAULT_A,
    omega: npt.ArrayLike = DEFAULT_OMEGA,
    sigma: float = DEFAULT_SIGMA,
    dt: float = 0.1,
    n_seeds: int = 1,
    seed: int | np.random.Generator | None = None,
    transient: float = 60.0,
) -> FloatArray:
    """Simulate the Hopf network; return ``x`` (the BOLD signal) at every volume.

    Parameters
    ----------
    connectome : array-like or Connectome, shape (n_regions, n_regions)
        Structural connectome (see :func:`hopf_jacobian`).
    coupling : float
        Global coupling ``G >= 0``.
    n_volumes : int
        Volumes to return per run.
    repetition_time : float
        Seconds between volumes, a whole number of steps ``dt``.
    a : float or array-like, shape (n_regions,)
        Bifurcation parameter(s).
    omega : float or array-like, shape (n_regions,)
        Angular frequency (rad/s).
    sigma : float
        Noise SD of the real and imaginary parts (:data:`DEFAULT_SIGMA`).
    dt : float
        Integration step in seconds.
    n_seeds : int
        Independent runs, simulated together (one matrix product per step).
    seed : int, numpy.random.Generator or None
        Seed of :func:`numpy.random.default_rng` (same seed and arguments, same runs).
    transient : float
        Seconds simulated and discarded before the first volume.

    Returns
    -------
    numpy.ndarray, shape (n_seeds, n_volumes, n_regions)
        ``x`` sampled every ``repetition_time`` seconds.

    Raises
    ------
    InputError
        When an input is not usable or the integration diverges.
    """
    c = normalised_weights(connectome)
    n = c.shape[0]
    if int(n_seeds) != n_seeds or n_seeds < 1:
        raise InputError(f"n_seeds must be a whole number >= 1; got {n_seeds}")
    timing = step_timing(repetition_time, dt, transient, n_volumes)
    key = (check_coupling(coupling), regional(a, n, "a"))
    noise = positive(sigma, "sigma", f"the noise SD, e.g. {DEFAULT_SIGMA}")
    rng = np.random.default_rng(seed)
    omegas = regional(omega, n, "omega")
    runs = simulate_groups(c, [key], int(n_seeds), omegas, noise, timing, rng)
    return np.asarray(runs[0], dtype=np.float64)
