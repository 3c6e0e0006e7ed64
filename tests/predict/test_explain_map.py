"""The data-driven predictor on known truth: the map that made the effect is named."""

from __future__ import annotations

import numpy as np
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.predict import ReceptorMaps, RegionalMap, euclidean_distance, explain_map


def smooth_maps(
    coords: np.ndarray, n_maps: int, length: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian random fields with exponential covariance over region centroids."""
    cov = np.exp(-euclidean_distance(coords) / length)
    chol = np.linalg.cholesky(cov + 1e-8 * np.eye(len(coords)))
    return np.asarray(chol @ rng.normal(size=(len(coords), n_maps)))


def test_the_driving_map_is_dominant_and_significant(rng: np.random.Generator) -> None:
    """Observed = map T2 + noise: T2 ranks first, dominates, and passes the spatial null."""
    atlas = load_atlas("seitzman300")
    coords = np.asarray(atlas.coords, dtype=np.float64)
    raw = smooth_maps(coords, 6, 20.0, rng)
    z = (raw - raw.mean(0)) / raw.std(0)
    targets = tuple(f"T{j}" for j in range(6))
    maps = ReceptorMaps(atlas.labels, targets, z, raw, True, "synthetic", coords)
    values = z[:, 2] + 0.7 * rng.normal(size=len(coords))
    observed = RegionalMap(atlas.labels, values, "synthetic", "T2 plus noise")
    found = explain_map(observed, maps, n_null=500, seed=1)
    assert found.dominant == "T2"
    top = found.correlations.iloc[0]
    assert top["target"] == "T2"
    assert top["p_spatial"] < 0.05
    assert found.p_r2_adjusted < 0.05
    assert found.null_r.shape == (500, 6)
    assert found.details["regions_left_out"] == []
    dominance = found.dominance_table()
    assert dominance["total_dominance"].sum() == pytest.approx(dominance["r2"].iloc[0])


def test_regions_without_maps_are_left_out_and_listed(rng: np.random.Generator) -> None:
    """Observed regions the maps lack (subcortex) are dropped and named; too few refuse."""
    atlas = load_atlas("seitzman300")
    coords = np.asarray(atlas.coords, dtype=np.float64)
    raw = smooth_maps(coords, 3, 20.0, rng)
    maps = ReceptorMaps(
        atlas.labels[:250], ("A", "B", "C"), raw[:250], raw[:250], False, "x", coords[:250]
    )
    observed = RegionalMap(atlas.labels, rng.normal(size=300), "obs", "noise")
    found = explain_map(observed, maps, n_null=200)
    assert found.details["regions_used"] == 250
    assert found.details["regions_left_out"] == list(atlas.labels[250:])
    few = ReceptorMaps(atlas.labels[:5], ("A",), raw[:5, :1], raw[:5, :1], False, "x", coords[:5])
    with pytest.raises(InputError, match="only 5 region"):
        explain_map(observed, few, n_null=200)
    nocoords = ReceptorMaps(atlas.labels, ("A",), raw[:, :1], raw[:, :1], False, "x")
    with pytest.raises(InputError, match="--distance"):
        explain_map(observed, nocoords, n_null=200)
