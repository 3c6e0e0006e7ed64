"""Shrunk correlation, partial correlation and tangent space against nilearn and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from nilearn.connectome import ConnectivityMeasure
from scipy import linalg
from sklearn.covariance import LedoitWolf

from dmnpharm.exceptions import DmnpharmError, InputError
from dmnpharm.metrics import (
    CONNECTIVITY_KINDS,
    connectivity_matrix,
    tangent_connectivity,
)

N_REGIONS = 13


def _run(
    rng: np.random.Generator, n_volumes: int, mix: np.ndarray, scales: np.ndarray | None = None
) -> np.ndarray:
    """Correlated signals with unequal scales and offsets (standardisation matters)."""
    if scales is None:
        scales = rng.uniform(0.5, 4.0, mix.shape[0])
    offsets = rng.uniform(-50, 50, mix.shape[0])
    return rng.standard_normal((n_volumes, mix.shape[0])) @ mix * scales + offsets


def _group(rng: np.random.Generator, n_runs: int = 5) -> list[np.ndarray]:
    """Return runs with a shared structure, moderate differences and unequal lengths."""
    mix = rng.standard_normal((N_REGIONS, N_REGIONS))
    scales = rng.uniform(0.5, 4.0, N_REGIONS)
    return [
        _run(rng, 47 + 6 * i, mix + 0.3 * rng.standard_normal(mix.shape), scales)
        for i in range(n_runs)
    ]


@pytest.mark.parametrize("kind", CONNECTIVITY_KINDS)
def test_matches_nilearn_connectivity_measure(rng: np.random.Generator, kind: str) -> None:
    """Our tanh(Fisher z) equals nilearn's default-estimator matrix off the diagonal."""
    data = _run(rng, 41, rng.standard_normal((N_REGIONS, N_REGIONS)))
    result = connectivity_matrix(data, kind)  # type: ignore[arg-type]
    reference = ConnectivityMeasure(kind=kind).fit_transform([data])[0]
    off = ~np.eye(N_REGIONS, dtype=bool)
    # Exact up to rounding, whatever nilearn's z-scoring ddof (0.10: "zscore", later
    # "zscore_sample"): correlation is invariant to it and Ledoit-Wolf to global scale.
    np.testing.assert_allclose(np.tanh(result.matrix[off]), reference[off], atol=1e-10, rtol=0)
    assert np.all(np.diag(result.matrix) == 0)
    assert result.kind == kind
    assert result.estimator == "LedoitWolf"
    assert 0 < result.shrinkage < 1
    assert not result.matrix.flags.writeable


def test_correlation_is_shrunk_pearson(rng: np.random.Generator) -> None:
    """On z-scored data, Ledoit-Wolf correlation is (1 - shrinkage) x Pearson r."""
    data = _run(rng, 35, rng.standard_normal((N_REGIONS, N_REGIONS)))
    result = connectivity_matrix(data, "correlation")
    zscored = (data - data.mean(0)) / data.std(0)
    assert result.shrinkage == pytest.approx(LedoitWolf().fit(zscored).shrinkage_, rel=1e-12)
    pearson = np.corrcoef(data.T)
    off = ~np.eye(N_REGIONS, dtype=bool)
    np.testing.assert_allclose(
        np.tanh(result.matrix[off]), (1 - result.shrinkage) * pearson[off], atol=1e-12
    )


def test_partial_correlation_removes_indirect_link(rng: np.random.Generator) -> None:
    """In a chain a -> b -> c, a and c correlate but their partial correlation is ~0."""
    a = rng.standard_normal(4000)
    b = a + rng.standard_normal(4000)
    c = b + rng.standard_normal(4000)
    data = np.column_stack([a, b, c])
    full = np.tanh(connectivity_matrix(data, "correlation").matrix)
    partial = np.tanh(connectivity_matrix(data, "partial correlation").matrix)
    assert full[0, 2] > 0.4
    assert abs(partial[0, 2]) < 0.06
    # Population values: rho(a, b | c) = 0.5, rho(b, c | a) = 0.71.
    assert partial[0, 1] == pytest.approx(0.5, abs=0.06)
    assert partial[1, 2] == pytest.approx(np.sqrt(0.5), abs=0.06)


def test_connectivity_matrix_refuses_bad_input(rng: np.random.Generator) -> None:
    """Unknown kind (with a suggestion), constant columns, NaN and 1D input are refused."""
    data = rng.standard_normal((20, 4))
    with pytest.raises(InputError, match="did you mean 'partial correlation'"):
        connectivity_matrix(data, "partial_correlation")  # type: ignore[arg-type]
    flat = data.copy()
    flat[:, 2] = 3.0
    with pytest.raises(InputError, match=r"columns \[2\] are constant"):
        connectivity_matrix(flat, "correlation")
    holed = data.copy()
    holed[5, 1] = np.nan
    with pytest.raises(InputError, match=r"NaN or infinite values in region columns \[1\]"):
        connectivity_matrix(holed, "partial correlation")
    with pytest.raises(InputError, match="2D volumes x regions"):
        connectivity_matrix(data[:, 0], "correlation")


def test_tangent_matches_nilearn(rng: np.random.Generator) -> None:
    """Tangent matrices and reference equal nilearn's ConnectivityMeasure(kind='tangent').

    nilearn stops its gradient descent once ||gradient|| / n_regions^2 < 1e-7; ours
    runs to ||gradient|| < 1e-10 n_regions. For runs this similar nilearn's mean is
    within ~5e-7 of the exact one (worst of 200 seeds), so agreement holds to 1e-6
    (more dissimilar runs can differ by ~1e-5). The gradient (the mean tangent
    matrix, zero at the exact mean) is checked to be smaller at our reference.
    """
    runs = _group(rng)
    result = tangent_connectivity(runs)
    measure = ConnectivityMeasure(kind="tangent")
    reference = measure.fit_transform(runs)
    np.testing.assert_allclose(result.matrices, reference, atol=1e-6, rtol=0)
    scale = np.abs(measure.mean_).max()
    np.testing.assert_allclose(result.reference, measure.mean_, atol=1e-6 * scale, rtol=0)
    ours = np.linalg.norm(result.matrices.mean(axis=0))
    assert ours < 1e-10 * N_REGIONS
    assert ours <= np.linalg.norm(reference.mean(axis=0))
    # nilearn's vectorised output keeps the diagonal, scaled by sqrt(2); ours is unscaled.
    assert not np.allclose(np.diagonal(result.matrices, axis1=1, axis2=2), 0)
    assert result.run_ids == result.reference_runs == ("0", "1", "2", "3", "4")
    assert len(result.shrinkage) == 5
    assert result.estimator == "LedoitWolf"


def test_tangent_reference_is_geometric_mean(rng: np.random.Generator) -> None:
    """Two runs: the reference is A # B = A^1/2 (A^-1/2 B A^-1/2)^1/2 A^1/2 (closed form)."""
    runs = _group(rng, n_runs=2)
    a, b = (LedoitWolf().fit(run).covariance_ for run in runs)
    a_half = linalg.sqrtm(a).real
    a_inv_half = linalg.inv(a_half)
    expected = a_half @ linalg.sqrtm(a_inv_half @ b @ a_inv_half).real @ a_half
    result = tangent_connectivity(runs, run_ids=["sub-01_placebo", "sub-01_drug"])
    np.testing.assert_allclose(result.reference, expected, atol=1e-8 * np.abs(expected).max())
    # At the midpoint of the geodesic the two tangent vectors are opposite.
    np.testing.assert_allclose(result.matrices[0], -result.matrices[1], atol=1e-8)
    # And each is the matrix logarithm of the whitened covariance.
    whiten = linalg.inv(linalg.sqrtm(result.reference).real)
    np.testing.assert_allclose(
        result.matrices[0], linalg.logm(whiten @ a @ whiten).real, atol=1e-8
    )


def test_tangent_reference_from_subset_of_runs(rng: np.random.Generator) -> None:
    """A reference from named runs: their tangents average to zero; it is recorded."""
    runs = _group(rng, n_runs=5)
    ids = ["s1_pla", "s1_lsd", "s2_pla", "s2_lsd", "s3_pla"]
    placebo = ["s1_pla", "s2_pla", "s3_pla"]
    result = tangent_connectivity(runs, run_ids=ids, reference_ids=placebo)
    assert result.reference_runs == tuple(placebo)
    assert result.run_ids == tuple(ids)
    on_reference = result.matrices[[0, 2, 4]].mean(axis=0)
    np.testing.assert_allclose(on_reference, 0, atol=1e-8)
    assert np.abs(result.matrices[[1, 3]].mean(axis=0)).max() > 1e-3
    alone = tangent_connectivity([runs[i] for i in (0, 2, 4)])
    np.testing.assert_allclose(result.reference, alone.reference, rtol=1e-9)
    assert not result.matrices.flags.writeable


def test_tangent_refuses_bad_groups(rng: np.random.Generator) -> None:
    """One run, mismatched regions, duplicate or unknown ids are refused with clear messages."""
    runs = _group(rng, n_runs=3)
    with pytest.raises(InputError, match="at least two runs"):
        tangent_connectivity(runs[:1])
    with pytest.raises(InputError, match="different numbers of regions"):
        tangent_connectivity([runs[0], runs[1][:, :-1]])
    with pytest.raises(InputError, match="unique identifiers"):
        tangent_connectivity(runs, run_ids=["a", "a", "b"])
    with pytest.raises(InputError, match="did you mean 'sub-02'"):
        tangent_connectivity(
            runs, run_ids=["sub-01", "sub-02", "sub-03"], reference_ids=["sub-01", "sub02"]
        )
    with pytest.raises(InputError, match="two distinct runs"):
        tangent_connectivity(runs, reference_ids=["0", "0"])
    assert issubclass(InputError, DmnpharmError)
