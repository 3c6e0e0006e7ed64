"""A drug's predicted change in FC from the Hopf model, with a band over couplings and seeds.

:func:`predict_fc_change` fits ``G`` to the placebo FC (:func:`fit_coupling`)
and shifts regional excitability, ``a_j + scale * perturbation_j`` (after Deco
et al. 2018, Curr Biol 28:3065, who scaled regional gain by 5-HT2A density).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.predict import _hopf as hopf
from dmnpharm.predict._hopf import DEFAULT_A, DEFAULT_OMEGA, DEFAULT_SIGMA, Connectome
from dmnpharm.predict._hopf_fit import CouplingFit, _fisher, _upper, fit_coupling

__all__ = [
    "DEFAULT_SCALE",
    "MAX_BAND_COUPLINGS",
    "ModelPrediction",
    "band_couplings",
    "predict_fc_change",
]

FloatArray = npt.NDArray[np.float64]

#: Default shift of ``a`` per unit of perturbation: a perturbation of 3 moves the
#: default ``a = -0.02`` by half its size (to -0.01 or -0.03); ``a`` reaches the
#: bifurcation (0) only at a perturbation of 6.
DEFAULT_SCALE = abs(DEFAULT_A) / 6.0

#: Float64 entries of simulated time series held at once (about 128 MiB).
_BATCH_ENTRIES = 16_000_000


@dataclass(frozen=True, eq=False)
class ModelPrediction:
    """A drug's predicted change in FC from the Hopf model, with its uncertainty band.

    All matrices are (n_regions, n_regions) in the connectome's region order;
    differences are drug - placebo in Fisher z (``arctanh r``), zero diagonal.

    Parameters
    ----------
    placebo_fc, drug_fc : numpy.ndarray
        Linear-noise model FC (r) at the best ``G``, placebo and drug ``a``.
    delta_fc : numpy.ndarray
        ``arctanh(drug_fc) - arctanh(placebo_fc)``.
    band_mean, band_low, band_high : numpy.ndarray
        Mean, 2.5th and 97.5th percentiles over simulated runs of the drug -
        placebo difference of finite-run FC.
    fit : CouplingFit
        The coupling fit to the placebo FC.
    samples : numpy.ndarray
        The simulated drug - placebo differences, (couplings x seeds, edges)
        upper triangles in Fisher z, for bands of any summary of them.
    sample_weights : numpy.ndarray
        Weight of each sample (its coupling's count in the plausible set).
    a_placebo, a_drug : numpy.ndarray
        Bifurcation parameter per region; ``a_drug = a_placebo + scale * perturbation``.
    settings : dict
        Everything else the prediction assumed (see :meth:`record`).
    """

    placebo_fc: FloatArray
    drug_fc: FloatArray
    delta_fc: FloatArray
    band_mean: FloatArray
    band_low: FloatArray
    band_high: FloatArray
    fit: CouplingFit
    samples: FloatArray
    sample_weights: FloatArray
    a_placebo: FloatArray
    a_drug: FloatArray
    settings: dict[str, object] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """Return everything the prediction assumed (model, connectome, fit, a, settings)."""
        return {
            "model": "Hopf network (Deco et al. 2017), FC by linear-noise approximation",
            "drug_action": "a_j + scale * perturbation_j (after Deco et al. 2018, Curr Biol)",
            "delta_fc_units": "Fisher z, drug - placebo",
            "band": "2.5-97.5th percentiles of simulated drug - placebo FC (Fisher z), "
            "independent noise per condition, each G weighted by its count in coupling_set",
            **self.fit.record(),
            "a_placebo": _compact(self.a_placebo),
            "a_drug": self.a_drug.tolist(),
            **self.settings,
        }


def _compact(values: FloatArray) -> float | list[float]:
    """Return one float when all regions share a value, else the list."""
    return float(values[0]) if np.ptp(values) == 0 else [float(v) for v in values]


def _drug_a(a: FloatArray, perturbation: FloatArray, scale: float) -> FloatArray:
    """Return ``a + scale * perturbation`` after checking both keep every a_j < 0."""
    if np.any(a >= 0):
        raise InputError(
            f"a must be < 0 in every region (placebo below the bifurcation); "
            f"a[{int(np.argmax(a))}] = {a.max():g}"
        )
    drug = a + scale * perturbation
    if np.any(drug >= 0):
        j = int(np.argmax(drug))
        raise InputError(
            f"the perturbation pushes region {j} to the Hopf bifurcation (a = {a[j]:g} + "
            f"{scale:g} x {perturbation[j]:g} = {drug[j]:+.3g} >= 0, no linear-noise FC): it "
            f"must stay below |a| / scale = {abs(a[j]) / scale:.3g} there; lower it or scale"
        )
    return drug


def _weighted_percentiles(
    samples: FloatArray, weights: FloatArray, percents: tuple[float, ...]
) -> FloatArray:
    """Return inverted-CDF weighted percentiles of each column of ``samples``."""
    order = np.argsort(samples, axis=0)
    ordered = np.take_along_axis(samples, order, axis=0)
    cumulative = np.cumsum(weights[order], axis=0) / weights.sum()
    last, columns = samples.shape[0] - 1, np.arange(samples.shape[1])
    rows = [np.minimum(np.sum(cumulative < q / 100 - 1e-12, axis=0), last) for q in percents]
    return np.stack([ordered[r, columns] for r in rows])


def _run_fc_upper(x: FloatArray) -> FloatArray:
    """Return the Fisher-z upper triangle of each run's FC; ``x`` is (runs, T, N)."""
    centred = x - x.mean(axis=1, keepdims=True)
    centred /= np.sqrt(np.sum(centred * centred, axis=1, keepdims=True))
    return _fisher(_upper(centred.transpose(0, 2, 1) @ centred))


def _band(
    c: FloatArray,
    couplings: FloatArray,
    a_pair: tuple[FloatArray, FloatArray],
    omega: FloatArray,
    settings: tuple[float, int, tuple[float, int, int, int]],
    rng: np.random.Generator,
) -> FloatArray:
    """Return the simulated drug - placebo Fisher-z FC, (couplings, seeds, edges)."""
    sigma, n_seeds, timing = settings
    n, n_volumes = c.shape[0], timing[3]
    per_chunk = max(1, _BATCH_ENTRIES // (2 * n_seeds * n_volumes * n))
    parts = []
    for start in range(0, couplings.size, per_chunk):
        keys = [(float(g), a) for g in couplings[start : start + per_chunk] for a in a_pair]
        x = hopf.simulate_groups(c, keys, n_seeds, omega, sigma, timing, rng)
        z = _run_fc_upper(x.reshape(-1, n_volumes, n)).reshape(len(keys) // 2, 2, n_seeds, -1)
        parts.append(z[:, 1] - z[:, 0])
    return np.concatenate(parts)


#: Most distinct couplings simulated for the band; a larger plausible set is
#: summarised by its weighted quantiles.
MAX_BAND_COUPLINGS = 8


def band_couplings(coupling_set: tuple[float, ...]) -> tuple[FloatArray, FloatArray]:
    """Return the couplings simulated for the band and their weights.

    The plausible set (a bootstrap's best couplings, with repeats, or the
    near-optimal set) is used as it is when it has at most
    :data:`MAX_BAND_COUPLINGS` distinct values; otherwise it is summarised by
    that many of its quantiles (inverted CDF), each weighted equally.

    Parameters
    ----------
    coupling_set : tuple of float
        The plausible couplings (see :class:`CouplingFit`).

    Returns
    -------
    tuple of numpy.ndarray
        Distinct couplings, increasing, and their counts as weights.
    """
    values = np.sort(np.asarray(coupling_set, dtype=np.float64))
    if np.unique(values).size > MAX_BAND_COUPLINGS:
        levels = (np.arange(MAX_BAND_COUPLINGS) + 0.5) / MAX_BAND_COUPLINGS
        values = np.quantile(values, levels, method="inverted_cdf")
    unique, counts = np.unique(values, return_counts=True)
    return unique, counts.astype(np.float64)


def _square(upper: FloatArray, n: int) -> FloatArray:
    """Return the symmetric (n, n) matrix with this upper triangle and a zero diagonal."""
    out = np.zeros((n, n))
    out[np.triu_indices(n, k=1)] = upper
    return out + out.T


def predict_fc_change(
    connectome: npt.ArrayLike | Connectome,
    placebo_fc: npt.ArrayLike,
    perturbation: npt.ArrayLike,
    *,
    n_volumes: int,
    repetition_time: float,
    scale: float = DEFAULT_SCALE,
    a: npt.ArrayLike = DEFAULT_A,
    omega: npt.ArrayLike = DEFAULT_OMEGA,
    sigma: float = DEFAULT_SIGMA,
    couplings: npt.ArrayLike | None = None,
    n_bootstrap: int = 50,
    tolerance: float = 0.01,
    n_seeds: int = 10,
    dt: float = 0.1,
    transient: float = 60.0,
    seed: int | np.random.Generator | None = None,
) -> ModelPrediction:
    """Predict the change in FC when a drug shifts regional excitability.

    ``G`` is fitted to the placebo FC (:func:`fit_coupling`); the drug sets
    ``a_j + scale * perturbation_j``. The change is the linear-noise FC's at the
    best ``G``. The band: for each ``G`` of the fit's plausible set (weighted by
    its count), ``n_seeds`` placebo and drug runs of ``n_volumes`` volumes with
    independent noise: the spread of one finite scan pair.

    Parameters
    ----------
    connectome : array-like or Connectome, shape (n_regions, n_regions)
        Structural connectome (see :func:`hopf_jacobian`).
    placebo_fc : array-like, shape (n_regions, n_regions) or (subjects, n, n)
        Placebo FC as correlations r (see :func:`fit_coupling`).
    perturbation : array-like, shape (n_regions,)
        The drug's regional map (e.g. receptor z-score x occupancy x action
        sign); positive values move ``a`` towards the bifurcation.
    n_volumes : int
        Volumes of each simulated run (the study's length).
    repetition_time : float
        Seconds between volumes (the study's TR).
    scale : float
        Shift of ``a`` per unit of perturbation (:data:`DEFAULT_SCALE`).
    a : float or array-like, shape (n_regions,)
        Placebo bifurcation parameter(s), all < 0.
    omega : float or array-like, shape (n_regions,)
        Angular frequency (rad/s).
    sigma : float
        Noise SD of the simulations (the analytic FC does not depend on it).
    couplings : array-like or None
        Coupling grid (see :func:`fit_coupling`).
    n_bootstrap, tolerance : int, float
        The fit's bootstrap resamples (a stack) or near-optimal tolerance (one FC).
    n_seeds : int
        Simulated runs per condition and coupling.
    dt, transient : float
        Integration step, and time discarded at the start of each run (s).
    seed : int, numpy.random.Generator or None
        Seed of the bootstrap and the simulations.

    Returns
    -------
    ModelPrediction
        Model FC for placebo and drug, their Fisher-z difference and the band.

    Raises
    ------
    InputError
        When an input is not usable, a placebo ``a`` >= 0, or the perturbation
        would push a region to the bifurcation (the message gives its limit).
    """
    conn = hopf.as_connectome(connectome)
    c = hopf.normalised_weights(conn)
    n = c.shape[0]
    a_vec, omega_vec = hopf.regional(a, n, "a"), hopf.regional(omega, n, "omega")
    step = hopf.positive(
        scale, "scale", f"the shift of a per unit perturbation, e.g. {DEFAULT_SCALE:.3g}"
    )
    a_drug = _drug_a(a_vec, hopf.regional(perturbation, n, "perturbation"), step)
    timing = hopf.step_timing(repetition_time, dt, transient, n_volumes)
    noise = hopf.positive(sigma, "sigma", f"the noise SD, e.g. {DEFAULT_SIGMA}")
    if int(n_seeds) != n_seeds or n_seeds < 2:
        raise InputError(f"n_seeds must be a whole number >= 2; got {n_seeds}")
    rng = np.random.default_rng(seed)
    fit = fit_coupling(
        conn,
        placebo_fc,
        a=a_vec,
        omega=omega_vec,
        couplings=couplings,
        n_bootstrap=n_bootstrap,
        tolerance=tolerance,
        seed=rng,
    )
    placebo = hopf.correlation(hopf.covariance(c, fit.best_coupling, a_vec, omega_vec)[:n, :n])
    drug = hopf.correlation(hopf.covariance(c, fit.best_coupling, a_drug, omega_vec)[:n, :n])
    delta = _fisher(drug) - _fisher(placebo)
    np.fill_diagonal(delta, 0.0)
    band_g, counts = band_couplings(fit.coupling_set)
    diffs = _band(c, band_g, (a_vec, a_drug), omega_vec, (noise, int(n_seeds), timing), rng)
    weights = np.repeat(counts.astype(np.float64), int(n_seeds))
    samples = diffs.reshape(-1, diffs.shape[-1])
    low, high = _weighted_percentiles(samples, weights, (2.5, 97.5))
    settings: dict[str, object] = {
        **conn.record(),
        "scale": step,
        "frequency_hz": _compact(omega_vec / (2.0 * np.pi)),
        "sigma": noise,
        "dt": timing[0],
        "integration": "exponential Euler-Maruyama (exact linear propagator, split noise)",
        "transient_s": float(transient),
        "n_volumes": timing[3],
        "repetition_time": float(repetition_time),
        "n_seeds": int(n_seeds),
        "band_couplings": band_g.tolist(),
        "band_coupling_counts": counts.tolist(),
        "seed": int(seed) if isinstance(seed, int | np.integer) else None,
    }
    return ModelPrediction(
        placebo_fc=placebo,
        drug_fc=drug,
        delta_fc=delta,
        band_mean=_square(np.average(samples, axis=0, weights=weights), n),
        band_low=_square(low, n),
        band_high=_square(high, n),
        fit=fit,
        samples=samples,
        sample_weights=weights,
        a_placebo=a_vec,
        a_drug=a_drug,
        settings=settings,
    )
