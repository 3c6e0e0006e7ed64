"""The population model of one run: loadings, source covariance, and exact targets.

Region ``i`` of network ``k`` has BOLD signal
``m_i (a_i s_k + b_i g + c_i u_i + sqrt(n_i) e_i)`` plus white scanner noise of SD
``t``: ``s`` are network sources with covariance ``S``, ``g`` the global signal,
``u`` the local signal whose correlation ``K`` follows subsystems and distance
(:mod:`dmnpharm.simulate._structure`), ``e_i`` region noise, ``m_i`` an amplitude
factor. The population correlation of regions ``i`` (network ``k``) and ``j``
(network ``l``) is ``m_i m_j (a_i a_j S_kl + b_i b_j + c_i c_j K_ij) / (sd_i sd_j)``
with ``sd_i^2 = m_i^2 (a_i^2 S_kk + b_i^2 + c_i^2 + n_i) + t^2``. Network-level connectivity is the
mean Fisher z over region pairs, so targets set in Fisher z are met exactly by a
one-dimensional root search on ``S_kk`` (within) or ``S_kl`` (between).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm._utils._roots import brent_root
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._structure import LocalStructure

__all__ = [
    "NOISE_FLOOR",
    "RunModel",
    "UnreachableTargetError",
    "mean_fisher_z",
    "solve_between",
    "solve_mean_atanh",
    "solve_within",
]

#: Smallest region-noise variance a solution may leave.
NOISE_FLOOR = 0.05

Array = npt.NDArray[np.float64]


class UnreachableTargetError(InputError):
    """A run's drawn loadings cannot carry the effect planted in it.

    The simulator then draws that run's loadings again (see
    :func:`dmnpharm.simulate.simulate_study`); only a spec whose effect no
    plausible run can carry is refused.
    """


@dataclass(frozen=True, eq=False)
class RunModel:
    """Parameters of one run's population model.

    Parameters
    ----------
    column : numpy.ndarray
        Source index per region (-1: no network).
    a, b, noise, amp : numpy.ndarray
        Per region: network loading, global loading, region-noise variance,
        amplitude factor.
    sources : numpy.ndarray
        Source covariance (networks x networks).
    thermal_sd : float
        White scanner noise SD.
    local : numpy.ndarray
        Per region: loading on the local (subsystem and distance) signal.
    structure : LocalStructure
        Correlation of the local signal between regions, and its factor.
    """

    column: npt.NDArray[np.intp]
    a: Array
    b: Array
    noise: Array
    amp: Array
    sources: Array
    thermal_sd: float
    local: Array
    structure: LocalStructure

    def region_sd(self) -> Array:
        """Return each region's population signal SD (BOLD and thermal noise).

        Returns
        -------
        numpy.ndarray
            One value per region.
        """
        s_kk = np.where(self.column >= 0, np.diag(self.sources)[np.maximum(self.column, 0)], 0.0)
        bold = self.amp**2 * (self.a**2 * s_kk + self.b**2 + self.local**2 + self.noise)
        sd: Array = np.sqrt(bold + self.thermal_sd**2)
        return sd


def mean_fisher_z(
    model: RunModel, idx_a: npt.NDArray[np.intp], idx_b: npt.NDArray[np.intp]
) -> float:
    """Return the population mean Fisher z between two region sets.

    When the two sets are the same, the mean is over distinct pairs.

    Parameters
    ----------
    model : RunModel
        The run's parameters.
    idx_a, idx_b : numpy.ndarray
        Region indices.

    Returns
    -------
    float
        Mean of ``arctanh(rho_ij)``.
    """
    sd = model.region_sd()
    ca, cb = model.column[idx_a], model.column[idx_b]
    s_ab = model.sources[np.ix_(np.maximum(ca, 0), np.maximum(cb, 0))]
    s_ab = np.where((ca[:, None] >= 0) & (cb[None, :] >= 0), s_ab, 0.0)
    cov = np.outer(model.amp[idx_a] * model.a[idx_a], model.amp[idx_b] * model.a[idx_b]) * s_ab
    cov += np.outer(model.amp[idx_a] * model.b[idx_a], model.amp[idx_b] * model.b[idx_b])
    local_a, local_b = model.amp[idx_a] * model.local[idx_a], model.amp[idx_b] * model.local[idx_b]
    cov += np.outer(local_a, local_b) * model.structure.corr[np.ix_(idx_a, idx_b)]
    rho = cov / np.outer(sd[idx_a], sd[idx_b])
    if np.array_equal(idx_a, idx_b):
        rho = rho[_upper_pairs(idx_a.size)]
    return float(np.arctanh(np.clip(rho, -0.999999, 0.999999)).mean())


def _with_variance(model: RunModel, k: int, members: npt.NDArray[np.intp], v: float) -> RunModel:
    """Set S_kk = v; region noise of network k absorbs the change (BOLD variance kept)."""
    sources = model.sources.copy()
    old = sources[k, k]
    sources[k, k] = v
    noise = model.noise.copy()
    noise[members] -= model.a[members] ** 2 * (v - old)
    return replace(model, sources=sources, noise=noise)


def _with_covariance(model: RunModel, k: int, q: int, c: float) -> RunModel:
    sources = model.sources.copy()
    sources[k, q] = sources[q, k] = c
    return replace(model, sources=sources)


@functools.lru_cache(maxsize=16)
def _upper_pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``np.triu_indices(n, k=1)``, computed once per size (read-only)."""
    rows, cols = np.triu_indices(n, k=1)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def _within_gap(
    model: RunModel, k: int, members: npt.NDArray[np.intp], target: float
) -> Callable[[float], float]:
    """``v -> mean_fisher_z(_with_variance(model, k, members, v), members, members) - target``.

    The parts that do not depend on ``v`` are computed once; every operation that
    does is the one :func:`mean_fisher_z` and :meth:`RunModel.region_sd` apply, on
    the network's regions only, so the value is the same to the last bit.
    """
    a, b, local, amp = (x[members] for x in (model.a, model.b, model.local, model.amp))
    a2, b2, local2, amp2 = a**2, b**2, local**2, amp**2
    network = np.outer(amp * a, amp * a)
    shared = np.outer(amp * b, amp * b)
    local_part = (
        np.outer(amp * local, amp * local) * model.structure.corr[np.ix_(members, members)]
    )
    noise, old, thermal2 = model.noise[members], model.sources[k, k], model.thermal_sd**2
    upper = _upper_pairs(members.size)

    def gap(v: float) -> float:
        noise_v = noise - a2 * (v - old)
        sd = np.sqrt(amp2 * (a2 * v + b2 + local2 + noise_v) + thermal2)
        cov = network * v
        cov += shared
        cov += local_part
        rho = (cov / np.outer(sd, sd))[upper]
        return float(np.arctanh(np.clip(rho, -0.999999, 0.999999)).mean()) - target

    return gap


def _between_gap(
    model: RunModel, regions: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]], target: float
) -> Callable[[float], float]:
    """``c -> mean_fisher_z(_with_covariance(model, k, q, c), *regions) - target``.

    As :func:`_within_gap`: the parts that do not depend on ``c`` (region SDs
    among them) are computed once, the rest as :func:`mean_fisher_z` does.
    """
    idx_a, idx_b = regions
    sd = model.region_sd()
    scale_a, scale_b = model.amp[idx_a], model.amp[idx_b]
    network = np.outer(scale_a * model.a[idx_a], scale_b * model.a[idx_b])
    shared = np.outer(scale_a * model.b[idx_a], scale_b * model.b[idx_b])
    local_a, local_b = scale_a * model.local[idx_a], scale_b * model.local[idx_b]
    local_part = np.outer(local_a, local_b) * model.structure.corr[np.ix_(idx_a, idx_b)]
    sd_ab = np.outer(sd[idx_a], sd[idx_b])

    def gap(c: float) -> float:
        cov = network * c
        cov += shared
        cov += local_part
        rho = cov / sd_ab
        return float(np.arctanh(np.clip(rho, -0.999999, 0.999999)).mean()) - target

    return gap


@fill_doc
def solve_within(model: RunModel, k: int, target: float, label: str) -> RunModel:
    """Return the model with S_kk set so the within-network mean Fisher z equals ``target``.

    Parameters
    ----------
    model : RunModel
        Current parameters.
    k : int
        Source index of the network.
    target : float
        Wanted population mean Fisher z over the network's region pairs.
    %(effect_label)s

    Returns
    -------
    RunModel
        A new model.
    """
    members = np.flatnonzero(model.column == k)
    others = [i for i in range(model.sources.shape[0]) if i != k]
    c = model.sources[others, k]
    low = float(c @ np.linalg.solve(model.sources[np.ix_(others, others)], c)) + 1e-6
    a2 = model.a[members] ** 2
    high = model.sources[k, k] + float(np.min((model.noise[members] - NOISE_FLOOR) / a2))

    gap = _within_gap(model, k, members, target)
    if not low < high or gap(low) > 0 or gap(high) < 0:
        reach = (gap(low) + target, gap(high) + target) if low < high else (np.nan, np.nan)
        raise UnreachableTargetError(
            f"{label}: a within-network Fisher z of {target:.3f} is outside what this run's "
            f"model can reach ({reach[0]:.3f} to {reach[1]:.3f}); choose a smaller effect"
        )
    v = brent_root(gap, low, high, xtol=1e-13)
    return _with_variance(model, k, members, v)


def _pd_interval(model: RunModel, k: int, q: int) -> tuple[float, float]:
    """Find by bisection the interval of S_kq values keeping S positive definite."""

    def ok(c: float) -> bool:
        return bool(np.linalg.eigvalsh(_with_covariance(model, k, q, c).sources)[0] > 1e-6)

    start = model.sources[k, q]
    bound = float(np.sqrt(model.sources[k, k] * model.sources[q, q]))
    ends = []
    for limit in (-bound, bound):
        inside, outside = start, limit
        for _ in range(60):
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if ok(mid) else (inside, mid)
        ends.append(inside)
    return ends[0], ends[1]


@fill_doc
def solve_between(model: RunModel, k: int, q: int, target: float, label: str) -> RunModel:
    """Return the model with S_kl set so the between-network mean Fisher z equals ``target``.

    Parameters
    ----------
    model : RunModel
        Current parameters.
    k, q : int
        Source indices of the two networks.
    target : float
        Wanted population mean Fisher z over region pairs of the two networks.
    %(effect_label)s

    Returns
    -------
    RunModel
        A new model.
    """
    idx_k = np.flatnonzero(model.column == k)
    idx_l = np.flatnonzero(model.column == q)
    low, high = _pd_interval(model, k, q)

    gap = _between_gap(model, (idx_k, idx_l), target)
    if gap(low) > 0 or gap(high) < 0:
        raise UnreachableTargetError(
            f"{label}: a between-network Fisher z of {target:.3f} is outside what this run's "
            f"model can reach ({gap(low) + target:.3f} to {gap(high) + target:.3f}); choose a "
            "smaller effect"
        )
    return _with_covariance(model, k, q, brent_root(gap, low, high, xtol=1e-13))


@fill_doc
def solve_mean_atanh(
    slope: Array,
    offset: Array,
    start: Array,
    target: Array,
    bounds: tuple[Array, Array],
    label: str,
    *,
    reachable: npt.NDArray[np.bool_] | None = None,
) -> Array:
    """Solve ``mean_p arctanh(slope[b, p] x + offset[b, p]) = target[b]`` for each ``b``.

    The vectorised counterpart of :func:`solve_within` and :func:`solve_between`:
    a run's region correlations are affine in the source variance (within) or
    covariance (between) being solved for, so the mean Fisher z is a smooth
    increasing function of it and Newton's method, kept inside the bounds,
    converges in a few steps for every run at once.

    Parameters
    ----------
    slope, offset : numpy.ndarray
        Runs x pairs: each pair's population correlation is ``slope * x + offset``.
        Slopes must be positive.
    start : numpy.ndarray
        Current value per run (where the solution starts).
    target : numpy.ndarray
        Wanted mean Fisher z per run.
    bounds : tuple of numpy.ndarray
        Lowest and highest allowed value per run.
    %(effect_label)s
    reachable : numpy.ndarray of bool or None
        When given (one entry per run), a run whose target lies out of reach
        is set False here and solved for the nearest reachable value, instead
        of raising; the caller draws that run again.

    Returns
    -------
    numpy.ndarray
        The solution per run, within the bounds.

    Raises
    ------
    UnreachableTargetError
        If a run's target lies outside what its bounds allow (and
        ``reachable`` is None).
    """
    low, high = bounds

    def mean_z(x: Array) -> Array:
        rho = np.clip(slope * x[:, None] + offset, -0.999999, 0.999999)
        value: Array = np.arctanh(rho).mean(axis=1)
        return value

    reach_low, reach_high = mean_z(low), mean_z(high)
    bad = (target < reach_low - 1e-12) | (target > reach_high + 1e-12)
    if reachable is not None:
        reachable &= ~bad
        target = np.clip(target, reach_low, reach_high)
    elif bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UnreachableTargetError(
            f"{label}: a Fisher z of {target[i]:.3f} is outside what run {i}'s model can "
            f"reach ({reach_low[i]:.3f} to {reach_high[i]:.3f}); choose a smaller effect"
        )
    x = np.clip(start, low, high)
    for _ in range(100):
        gap = mean_z(x) - target
        if np.all(np.abs(gap) < 1e-12):
            break
        rho = np.clip(slope * x[:, None] + offset, -0.999999, 0.999999)
        derivative = (slope / (1.0 - rho**2)).mean(axis=1)
        x = np.clip(x - gap / derivative, low, high)
    else:  # pragma: no cover - Newton on a smooth monotone function always converges here
        raise InputError(f"{label}: the model could not be solved for the requested effect")
    return x
