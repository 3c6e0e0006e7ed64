"""Connectivity measures against nilearn and brute force."""

import numpy as np
import pytest
from nilearn.connectome import ConnectivityMeasure
from sklearn.covariance import EmpiricalCovariance

from dmnpharm.atlases import load_atlas
from dmnpharm.metrics import MEASURES, fisher_z_connectivity, network_mean_fc, run_fc_metrics


def test_fisher_z_matches_nilearn(rng: np.random.Generator) -> None:
    """Our Fisher z matrix equals arctanh of nilearn's (unshrunk) correlation matrix."""
    data = rng.standard_normal((53, 17)) @ rng.standard_normal((17, 17))
    ours = fisher_z_connectivity(data)
    measure = ConnectivityMeasure(
        cov_estimator=EmpiricalCovariance(), kind="correlation", standardize=False
    )
    reference = measure.fit_transform([data])[0]
    off = ~np.eye(17, dtype=bool)
    np.testing.assert_allclose(ours[off], np.arctanh(reference[off]), rtol=1e-10, atol=1e-12)
    assert np.all(np.diag(ours) == 0)


def test_network_mean_fc_brute_force(rng: np.random.Generator) -> None:
    """Within: mean over distinct pairs; between: mean over the cross block."""
    z = rng.standard_normal((9, 9))
    z = (z + z.T) / 2
    a, b = np.array([1, 4, 6]), np.array([0, 8])
    pairs = [z[i, j] for i in a for j in a if i < j]
    assert network_mean_fc(z, a, a) == pytest.approx(np.mean(pairs))
    assert network_mean_fc(z, a, b) == pytest.approx(np.mean([z[i, j] for i in a for j in b]))
    with pytest.raises(ValueError, match="disjoint"):
        network_mean_fc(z, a, np.array([4, 5]))
    with pytest.raises(ValueError, match="at least two regions"):
        network_mean_fc(z, a[:1], a[:1])


def test_run_fc_metrics_uses_atlas_networks(rng: np.random.Generator) -> None:
    """A shared DMN signal raises within-DMN FC above DMN-salience FC."""
    atlas = load_atlas("seitzman300")
    data = rng.standard_normal((41, atlas.n_regions))
    dmn = atlas.network_indices("DMN")
    data[:, dmn] += 2 * rng.standard_normal((41, 1))
    values = run_fc_metrics(data, atlas)
    assert list(values) == [m.name for m in MEASURES]
    assert values["dmn_within_fc"] > 0.8
    assert abs(values["dmn_salience_fc"]) < 0.3
    with pytest.raises(ValueError, match="299 regions"):
        run_fc_metrics(data[:, :-1], atlas)


def test_constant_signal_is_refused() -> None:
    """A constant region has no correlation; say so rather than return NaN."""
    data = np.ones((10, 3))
    data[:, 1] = np.arange(10)
    with pytest.raises(ValueError, match="constant"):
        fisher_z_connectivity(data)


@pytest.mark.parametrize("n_regions", [7, 64, 65, 150, 300])
def test_fisher_z_equals_the_whole_matrix_transform(
    rng: np.random.Generator, n_regions: int
) -> None:
    """Strip by strip, the matrix is bit for bit arctanh of the clipped correlations."""
    data = rng.standard_normal((40, n_regions)) + rng.standard_normal((40, 1))
    data[:, -1] = 2 * data[:, 0]  # a perfect correlation, clipped to a finite z
    x = data - data.mean(axis=0)
    x /= np.sqrt(np.einsum("ij,ij->j", x, x))
    r = x.T @ x
    expected = np.arctanh(np.clip(r, -(1.0 - 1e-12), 1.0 - 1e-12))
    np.fill_diagonal(expected, 0.0)
    ours = fisher_z_connectivity(data)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(ours, ours.T)
    assert np.isfinite(ours).all()
