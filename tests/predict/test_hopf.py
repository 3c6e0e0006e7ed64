"""The Hopf whole-brain model: linear-noise FC, simulation, coupling fit, drug prediction."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from dmnpharm.exceptions import InputError
from dmnpharm.predict import (
    MAX_BAND_COUPLINGS,
    ModelPrediction,
    band_couplings,
    fit_coupling,
    predict_fc_change,
)
from dmnpharm.predict._hopf import (
    Connectome,
    covariance,
    distance_connectome,
    hopf_jacobian,
    linear_noise_fc,
    normalised_weights,
    simulate_hopf,
)

#: Per-region peak frequencies in the 0.04-0.07 Hz band (exercises the Lyapunov solver).
SPREAD = 2.0 * np.pi * np.linspace(0.04, 0.07, 9)


#: A prediction and what made it: region centroids (mm), the perturbation, the result.
Case = tuple[np.ndarray, np.ndarray, ModelPrediction]


def random_connectome(rng: np.random.Generator, n: int, density: float = 0.6) -> np.ndarray:
    """Return a symmetric, non-negative, sparse connectome with a zero diagonal."""
    weights = np.triu(rng.random((n, n)) * (rng.random((n, n)) < density), k=1)
    weights[np.arange(n - 1), np.arange(1, n)] += 0.1  # a chain keeps it connected
    return weights + weights.T


def stationary_covariance(
    weights: np.ndarray, coupling: float, a: np.ndarray, omega: np.ndarray, sigma: float
) -> np.ndarray:
    """Return the model's (2N, 2N) linear-noise covariance for noise SD ``sigma``."""
    return sigma**2 * covariance(normalised_weights(weights), coupling, a, omega)


def upper(matrix: np.ndarray) -> np.ndarray:
    """Return the upper triangle (k = 1) of a square matrix."""
    return matrix[np.triu_indices(matrix.shape[0], k=1)]


def mean_fc(runs: np.ndarray) -> np.ndarray:
    """Return the mean over runs (runs, volumes, regions) of each run's correlation matrix."""
    return np.mean([np.corrcoef(run.T) for run in runs], axis=0)


@pytest.mark.parametrize("omega", [2.0 * np.pi * 0.05, SPREAD], ids=["one-frequency", "spread"])
def test_simulated_fc_agrees_with_linear_noise_fc(
    rng: np.random.Generator, omega: float | np.ndarray
) -> None:
    """Long runs in the stable, low-noise regime reproduce the analytic FC (validates both)."""
    weights = random_connectome(rng, 9)
    analytic = linear_noise_fc(weights, 0.3, omega=omega)
    runs = simulate_hopf(weights, 0.3, 1500, 2.0, omega=omega, dt=0.2, n_seeds=6, seed=rng)
    assert runs.shape == (6, 1500, 9)
    simulated = mean_fc(runs)
    assert np.corrcoef(upper(analytic), upper(simulated))[0, 1] > 0.95
    assert np.max(np.abs(upper(analytic) - upper(simulated))) < 0.12
    assert np.mean(upper(analytic)) > 0.2  # coupled enough for the check to mean something


def test_uncoupled_model_has_identity_fc(rng: np.random.Generator) -> None:
    """With G = 0 every region is independent: off-diagonal FC is exactly 0."""
    weights = random_connectome(rng, 9)
    for omega in (2.0 * np.pi * 0.05, SPREAD):
        np.testing.assert_allclose(
            linear_noise_fc(weights, 0.0, omega=omega), np.eye(9), atol=1e-12
        )


def test_lyapunov_solution_satisfies_its_equation(rng: np.random.Generator) -> None:
    """The covariance solves J S + S J^T + sigma^2 I = 0, checked by a Kronecker solve."""
    weights = random_connectome(rng, 9)
    a = rng.uniform(-0.05, -0.01, 9)
    sigma = 0.03
    jac = hopf_jacobian(weights, 0.2, a=a, omega=SPREAD)
    cov = stationary_covariance(weights, 0.2, a, SPREAD, sigma)
    eye = np.eye(jac.shape[0])
    residual = jac @ cov + cov @ jac.T + sigma**2 * eye
    assert np.max(np.abs(residual)) < 1e-12 * np.max(np.abs(cov)) * 100
    # vec(J S + S J^T) = (I kron J + J kron I) vec(S), column-major vec.
    operator = np.kron(eye, jac) + np.kron(jac, eye)
    direct = np.linalg.solve(operator, -(sigma**2) * eye.ravel(order="F"))
    np.testing.assert_allclose(
        cov, direct.reshape(cov.shape, order="F"), rtol=1e-8, atol=1e-12 * np.abs(cov).max()
    )


def test_one_frequency_closed_form_matches_scipy(rng: np.random.Generator) -> None:
    """The closed form -sigma^2 M^-1 / 2 used for one frequency equals SciPy's solution."""
    weights = random_connectome(rng, 9)
    a = rng.uniform(-0.05, -0.01, 9)
    jac = hopf_jacobian(weights, 0.7, a=a)
    expected = solve_continuous_lyapunov(jac, -(0.02**2) * np.eye(18))
    cov = stationary_covariance(weights, 0.7, a, np.full(9, 2.0 * np.pi * 0.05), 0.02)
    np.testing.assert_allclose(cov, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())


def test_connectome_scale_does_not_matter(rng: np.random.Generator) -> None:
    """Weights are rescaled to a largest weight of 0.2; a diagonal is ignored."""
    weights = random_connectome(rng, 9)
    with_diagonal = 7.0 * weights + np.diag(rng.random(9))
    np.testing.assert_allclose(linear_noise_fc(with_diagonal, 0.3), linear_noise_fc(weights, 0.3))


def test_fit_recovers_the_coupling_that_made_the_fc(rng: np.random.Generator) -> None:
    """Noise-free: the exact grid value; 15 noisy subjects: a bootstrap set around it."""
    weights = random_connectome(rng, 11)
    grid = np.geomspace(0.01, 3.0, 25)
    true = grid[14]
    target = linear_noise_fc(weights, true)
    fit = fit_coupling(weights, target, couplings=grid)
    assert fit.best_coupling == pytest.approx(true)
    assert fit.best_fit == pytest.approx(0.0, abs=1e-6)  # minus the RMS difference
    assert fit.pattern_r[14] == pytest.approx(1.0)
    assert fit.set_method == "near-optimal"
    assert true in fit.coupling_set
    subjects = np.tanh(
        np.arctanh(np.clip(target, -0.999, 0.999)) + 0.15 * rng.standard_normal((15, 11, 11))
    )
    subjects = (subjects + subjects.transpose(0, 2, 1)) / 2
    noisy = fit_coupling(weights, subjects, couplings=grid, n_bootstrap=40, seed=3)
    assert noisy.set_method == "bootstrap"
    assert len(noisy.coupling_set) == 40
    assert abs(np.log(noisy.best_coupling / true)) < np.log(grid[1] / grid[0]) * 3.5
    assert np.min(noisy.coupling_set) <= noisy.best_coupling <= np.max(noisy.coupling_set)
    assert noisy == fit_coupling(weights, subjects, couplings=grid, n_bootstrap=40, seed=3)


def test_default_grid_and_fit_record(rng: np.random.Generator) -> None:
    """The default grid starts at 0, where the pattern r is undefined (NaN) but the fit is not."""
    weights = random_connectome(rng, 9)
    fit = fit_coupling(weights, linear_noise_fc(weights, 0.5))
    assert fit.couplings[0] == 0.0
    assert np.isnan(fit.pattern_r[0])
    assert np.isfinite(fit.fit[0])
    assert len(fit.couplings) == 52
    assert fit.best_fit > -0.05  # the grid does not hold 0.5 itself
    assert np.nanmax(fit.pattern_r) > 0.99
    json.dumps(fit.record())


@pytest.fixture(scope="module")
def prediction() -> Case:
    """Predict on a distance-rule connectome, 3 of 9 regions pushed towards the bifurcation."""
    coords = np.random.default_rng(7).uniform(-40.0, 40.0, size=(9, 3))
    connectome = distance_connectome(coords, decay=0.05)
    placebo = linear_noise_fc(connectome, 0.6)
    perturbation = np.zeros(9)
    perturbation[:3] = 3.0
    result = predict_fc_change(
        connectome,
        placebo,
        perturbation,
        n_volumes=150,
        repetition_time=2.0,
        couplings=np.geomspace(0.05, 5.0, 12),
        tolerance=0.002,
        n_seeds=8,
        dt=0.2,
        seed=11,
    )
    return coords, perturbation, result


def test_excitability_raises_fc_of_the_perturbed_regions(
    prediction: Case,
) -> None:
    """Documented direction: a towards 0 raises FC, most within the perturbed set."""
    _, perturbation, result = prediction
    hit = perturbation > 0
    delta = result.delta_fc
    within = upper(delta[np.ix_(hit, hit)]).mean()
    between = delta[np.ix_(hit, ~hit)].mean()
    outside = upper(delta[np.ix_(~hit, ~hit)]).mean()
    assert within > between > outside >= 0
    assert np.all(np.diag(delta) == 0)
    assert np.allclose(delta, delta.T)
    np.testing.assert_allclose(
        result.a_drug - result.a_placebo, result.settings["scale"] * perturbation
    )


def test_band_contains_the_analytic_change(
    prediction: Case,
) -> None:
    """The simulated band holds the analytic delta for most edges, and is ordered."""
    _, _, result = prediction
    low, high, mean = result.band_low, result.band_high, result.band_mean
    delta = upper(result.delta_fc)
    inside = (upper(low) <= delta) & (delta <= upper(high))
    assert inside.mean() >= 0.9
    assert np.all(upper(low) <= upper(mean))
    assert np.all(upper(mean) <= upper(high))
    assert low.shape == high.shape == mean.shape == (9, 9)


def test_long_runs_average_to_the_analytic_change() -> None:
    """With long runs the band's mean is the analytic drug - placebo change."""
    coords = np.random.default_rng(3).uniform(-40.0, 40.0, size=(9, 3))
    connectome = distance_connectome(coords, decay=0.05)
    perturbation = np.repeat([4.0, 0.0, -4.0], 3)
    result = predict_fc_change(
        connectome,
        linear_noise_fc(connectome, 0.6),
        perturbation,
        n_volumes=3000,
        repetition_time=2.0,
        couplings=[0.6, 6.0],
        tolerance=1e-6,
        n_seeds=20,
        dt=0.5,
        seed=2,
    )
    assert result.fit.coupling_set == (0.6,)
    delta, mean = upper(result.delta_fc), upper(result.band_mean)
    assert np.corrcoef(delta, mean)[0, 1] > 0.8
    assert np.max(np.abs(delta - mean)) < 0.05
    assert np.ptp(delta) > 0.04


def test_record_says_what_was_assumed(prediction: Case) -> None:
    """The record is JSON-ready and names the fallback connectome and the settings."""
    _, _, result = prediction
    record = result.record()
    json.dumps(record)
    assert record["distance_fallback"] is True
    assert record["distance_decay_per_mm"] == 0.05
    for key in (
        "couplings",
        "best_coupling",
        "coupling_set",
        "scale",
        "a_placebo",
        "sigma",
        "dt",
        "n_seeds",
        "frequency_hz",
        "connectome_normalisation",
        "seed",
    ):
        assert key in record


def test_same_seed_same_prediction(prediction: Case) -> None:
    """The seed fixes the band; another seed changes it."""
    coords, perturbation, result = prediction
    connectome = distance_connectome(coords, decay=0.05)
    kwargs = {
        "n_volumes": 40,
        "repetition_time": 2.0,
        "couplings": [0.3, 0.6],
        "n_seeds": 3,
        "dt": 0.5,
        "transient": 10.0,
    }
    placebo = linear_noise_fc(connectome, 0.6)
    first = predict_fc_change(connectome, placebo, perturbation, seed=4, **kwargs)
    again = predict_fc_change(connectome, placebo, perturbation, seed=4, **kwargs)
    other = predict_fc_change(connectome, placebo, perturbation, seed=5, **kwargs)
    np.testing.assert_array_equal(first.band_mean, again.band_mean)
    assert not np.array_equal(first.band_mean, other.band_mean)
    runs = simulate_hopf(connectome, 0.6, 20, 2.0, n_seeds=2, seed=9, dt=0.5)
    np.testing.assert_array_equal(
        runs, simulate_hopf(connectome, 0.6, 20, 2.0, n_seeds=2, seed=9, dt=0.5)
    )
    del result


def test_distance_connectome_from_coordinates_or_distances(rng: np.random.Generator) -> None:
    """Centroids and their distance matrix give the same weights, exp(-decay * d)."""
    coords = rng.uniform(-50.0, 50.0, size=(7, 3))
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    from_coords = distance_connectome(coords)
    np.testing.assert_allclose(from_coords.weights, distance_connectome(dist).weights)
    expected = np.exp(-0.18 * dist)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(from_coords.weights, expected)
    assert from_coords.source == "distance"
    assert Connectome(expected).source == "structural"


def test_unstable_parameters_are_refused(rng: np.random.Generator) -> None:
    """A region above the bifurcation, or a perturbation pushing one there, is refused."""
    weights = random_connectome(rng, 9)
    a = np.full(9, -0.02)
    a[4] = 0.05
    with pytest.raises(InputError, match=r"unstable.*region 4"):
        linear_noise_fc(weights, 0.0, a=a)
    with pytest.raises(InputError, match="unstable"):
        linear_noise_fc(weights, 0.0, a=a, omega=SPREAD)
    placebo = linear_noise_fc(weights, 0.3)
    push = np.zeros(9)
    push[2] = 7.0  # 7 x 0.02 / 6 > 0.02
    with pytest.raises(InputError, match=r"region 2.*below \|a\| / scale = 6"):
        predict_fc_change(weights, placebo, push, n_volumes=50, repetition_time=2.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w: w[:, :-1], "square"),
        (lambda w: w - 0.5, "negative"),
        (lambda w: np.where(np.eye(len(w), k=1) > 0, np.nan, w), "NaN"),
        (lambda w: w + np.triu(w, k=1), "symmetric"),
        (lambda w: np.zeros_like(w), "no connections"),
    ],
    ids=["non-square", "negative", "nan", "asymmetric", "empty"],
)
def test_bad_connectomes_are_refused(
    rng: np.random.Generator, change: Callable[[np.ndarray], np.ndarray], message: str
) -> None:
    """The connectome must be square, finite, non-negative, symmetric, with connections."""
    weights = change(random_connectome(rng, 9))
    with pytest.raises(InputError, match=message):
        linear_noise_fc(weights, 0.3)


def test_bad_arguments_are_refused(rng: np.random.Generator) -> None:
    """Fisher z targets, wrong lengths, a TR that is not a whole number of steps, G < 0."""
    weights = random_connectome(rng, 9)
    target = linear_noise_fc(weights, 0.3)
    with pytest.raises(InputError, match="tanh"):
        fit_coupling(weights, np.arctanh(np.clip(target, -0.99, 0.99)) * 3)
    with pytest.raises(InputError, match=r"\(9, 9\)"):
        fit_coupling(weights, target[:8, :8])
    with pytest.raises(InputError, match="perturbation"):
        predict_fc_change(weights, target, np.ones(8), n_volumes=50, repetition_time=2.0)
    with pytest.raises(InputError, match=r"use dt = 0\.1875"):
        simulate_hopf(weights, 0.3, 10, 0.75, dt=0.2)
    with pytest.raises(InputError, match="coupling"):
        linear_noise_fc(weights, -0.1)
    with pytest.raises(InputError, match="a must be"):
        linear_noise_fc(weights, 0.3, a=np.full(8, -0.02))


def test_band_couplings_summarise_a_large_plausible_set() -> None:
    """A set of <= 8 distinct couplings is kept; a larger one becomes 8 equal quantiles."""
    small, weights = band_couplings((0.1, 0.2, 0.2, 0.3))
    np.testing.assert_allclose(small, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(weights, [1, 2, 1])
    values = tuple(np.linspace(0.0, 1.0, 50))
    large, weights = band_couplings(values)
    assert large.size == MAX_BAND_COUPLINGS
    assert weights.sum() == MAX_BAND_COUPLINGS
    assert large[0] >= min(values)
    assert large[-1] <= max(values)
    expected = np.quantile(values, (np.arange(8) + 0.5) / 8, method="inverted_cdf")
    np.testing.assert_allclose(large, expected)
