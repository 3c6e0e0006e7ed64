"""The simulator's own k-means and distances equal SciPy's, so simulated studies do not change."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.cluster.vq import kmeans2
from scipy.spatial.distance import cdist

from dmnpharm.atlases import available_atlases, load_atlas
from dmnpharm.simulate._kmeans import LLOYD_ITERATIONS, euclidean_distances, kmeans_labels
from dmnpharm.simulate._structure import CLUSTER_SIZE

EMBEDDED = ("seitzman300", "dosenbach160", "andrews_hanna")


def _scipy_labels(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster (both keep its centre)
        return kmeans2(points, k, seed=seed, minit="++")[1]


def _compare_atlas(name: str) -> int:
    """Compare labels (every network, several k) and distances on one atlas; return cases."""
    atlas = load_atlas(name)
    coords = np.asarray(atlas.coords, dtype=np.float64).reshape(atlas.n_regions, -1)
    assert np.array_equal(euclidean_distances(coords), cdist(coords, coords)), name
    networks = np.asarray(atlas.networks)
    cases = 0
    for network in sorted(set(atlas.networks)):
        points = coords[networks == network]
        simulated = max(1, round(points.shape[0] / CLUSTER_SIZE))  # the simulator's k
        for k in sorted({simulated, 2, 3, 7}):
            if k > points.shape[0]:
                continue
            ours = kmeans_labels(points, k, seed=0)
            assert np.array_equal(ours, _scipy_labels(points, k, 0)), (name, network, k)
            cases += 1
    return cases


@pytest.mark.parametrize("name", EMBEDDED)
def test_labels_and_distances_equal_scipys_on_the_embedded_atlases(name: str) -> None:
    """Every network of the atlases that ship with the package, with the simulator's k and more."""
    assert _compare_atlas(name) > 0


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
def test_labels_and_distances_equal_scipys_on_every_atlas_with_files() -> None:
    """The Schaefer, Schaefer-Tian and Yeo atlases read from the real atlas folder."""
    others = [name for name in available_atlases() if name not in EMBEDDED]
    assert others
    assert sum(_compare_atlas(name) for name in others) > 100


def test_labels_equal_scipys_on_random_points_with_ties() -> None:
    """Random points, integer grids full of ties and repeated points, several seeds and k."""
    for case in range(200):
        rng = np.random.default_rng(case)
        n, dims = int(rng.integers(2, 60)), int(rng.integers(1, 4))
        if case % 2:
            points = rng.integers(-4, 5, (n, dims)).astype(np.float64)
        else:
            points = 30.0 * rng.standard_normal((n, dims))
        k, seed = int(rng.integers(1, min(n, 9) + 1)), int(rng.integers(0, 5))
        ours = kmeans_labels(points, k, seed=seed)
        assert np.array_equal(ours, _scipy_labels(points, k, seed)), case


def test_identical_points_and_one_cluster() -> None:
    """All points alike: every later centre is the first point, as SciPy picks it."""
    points = np.ones((5, 3))
    assert np.array_equal(kmeans_labels(points, 3), _scipy_labels(points, 3, 0))
    assert np.array_equal(kmeans_labels(points, 1), np.zeros(5, dtype=np.intp))


def test_clusters_are_compact_and_iterations_are_lloyds() -> None:
    """Two far-apart blobs split cleanly; more iterations never undo a converged split."""
    rng = np.random.default_rng(3)
    blobs = np.vstack([rng.normal(0, 1, (20, 3)), rng.normal(50, 1, (20, 3))])
    labels = kmeans_labels(blobs, 2, seed=1)
    assert len(set(labels[:20])) == 1
    assert len(set(labels[20:])) == 1
    assert labels[0] != labels[-1]
    again = kmeans_labels(blobs, 2, seed=1, iterations=3 * LLOYD_ITERATIONS)
    assert np.array_equal(labels, again)


@pytest.mark.parametrize(
    ("points", "k", "iterations", "message"),
    [
        (np.zeros((0, 3)), 1, 10, "non-empty finite 2D"),
        (np.zeros(4), 1, 10, "non-empty finite 2D"),
        (np.array([[0.0, np.nan]]), 1, 10, "non-empty finite 2D"),
        (np.zeros((3, 2)), 0, 10, "k must be between 1 and 3"),
        (np.zeros((3, 2)), 4, 10, "k must be between 1 and 3"),
        (np.zeros((3, 2)), 1, 0, "iterations must be at least 1"),
    ],
)
def test_bad_arguments_are_refused(
    points: np.ndarray, k: int, iterations: int, message: str
) -> None:
    """Shapes, non-finite values, k and iterations out of range: a ValueError naming them."""
    with pytest.raises(ValueError, match=message):
        kmeans_labels(points, k, iterations=iterations)


@pytest.mark.parametrize("dims", [1, 2, 3, 7, 8, 12])
def test_distances_equal_cdists_in_any_dimension(dims: int) -> None:
    """The squares are added in coordinate order, as cdist adds them, beyond 8 too."""
    points = 40.0 * np.random.default_rng(dims).standard_normal((30, dims))
    assert np.array_equal(euclidean_distances(points), cdist(points, points))


def test_distances_refuse_a_vector() -> None:
    """Distances need points x coordinates."""
    with pytest.raises(ValueError, match="points x coordinates"):
        euclidean_distances(np.zeros(3))
