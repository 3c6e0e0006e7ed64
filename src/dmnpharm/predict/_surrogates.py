"""Null maps that keep a parcellated map's spatial autocorrelation (Burt et al. 2020).

Correlating two brain maps and reading a parametric p-value is badly liberal:
neighbouring regions are alike, so the regions are not independent samples
(Alexander-Bloch et al. 2018; Burt et al. 2020; Markello & Misic 2021). The
variogram-matching method of Burt et al. (2020, NeuroImage 220:117038, the
method BrainSMASH implements) builds surrogate maps that keep the map's values
and, approximately, its spatial autocorrelation:

1. the empirical variogram of the map is computed over region pairs closer than
   a percentile of all pairwise distances, smoothed with a Gaussian kernel and
   read at evenly spaced distances;
2. each surrogate starts as a random permutation of the values, smoothed by a
   distance kernel over each region's ``k`` nearest neighbours, for several
   ``k``;
3. for each ``k`` the target variogram is regressed on the smoothed map's
   variogram (intercept ``alpha``, slope ``beta``); the ``k`` with the smallest
   squared error wins and the surrogate is
   ``sqrt(|beta|) * smoothed + sqrt(|alpha|) * noise`` with standard normal
   noise, whose variogram is ``|beta| * gamma_smoothed + |alpha|``;
4. the surrogate's ranks are given the map's sorted values, so every surrogate
   has exactly the map's value distribution.

All surrogates are computed in batches with matrix products (no loop over
surrogates), and everything random is drawn up front from one
:func:`numpy.random.default_rng`, so a seed gives the same surrogates whatever
the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.distance import cdist

from dmnpharm.exceptions import InputError

__all__ = ["empirical_variogram", "euclidean_distance", "spatial_p", "variogram_surrogates"]

#: Fractions of the regions used as nearest neighbours when smoothing (Burt et al. 2020).
DEFAULT_NEIGHBOUR_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

#: Entries of one batch's surrogate-by-pair matrix (float64): about 64 MiB.
_BATCH_ENTRIES = 8_000_000

#: Standard normal quantile at 0.75: a Gaussian's quartiles lie at +-0.6745 sigma.
_NORMAL_Q3 = 0.6744897501960817


def euclidean_distance(coords: ArrayLike) -> NDArray[np.float64]:
    """Return the Euclidean distances between region centroids.

    Parameters
    ----------
    coords : array-like, shape (n_regions, n_dims)
        One row of coordinates per region (e.g. centroids in mm).

    Returns
    -------
    numpy.ndarray, shape (n_regions, n_regions)
        Symmetric distance matrix with a zero diagonal.

    Raises
    ------
    InputError
        When ``coords`` is not a finite 2-D array with at least two rows.
    """
    points = np.asarray(coords, dtype=float)
    if points.ndim != 2 or points.shape[0] < 2:
        raise InputError(
            f"coords must be a 2-D array (n_regions, n_dims) with at least 2 regions; "
            f"got shape {points.shape}"
        )
    if not np.all(np.isfinite(points)):
        bad = np.flatnonzero(~np.all(np.isfinite(points), axis=1))
        raise InputError(f"coords has non-finite values in rows {bad[:10].tolist()}")
    return np.asarray(cdist(points, points), dtype=float)


def spatial_p(observed_r: float, null_r: ArrayLike) -> float:
    """Return the two-sided p-value of a statistic against its spatial null.

    Parameters
    ----------
    observed_r : float
        The observed statistic (e.g. the correlation between two maps).
    null_r : array-like, shape (n_surrogates,)
        The statistic for each surrogate map.

    Returns
    -------
    float
        ``(count + 1) / (n + 1)`` where ``count`` is the number of null
        statistics at least as large as the observed one in absolute value.

    Raises
    ------
    InputError
        When ``observed_r`` is not finite or ``null_r`` is empty, not 1-D or not
        finite.
    """
    null = np.asarray(null_r, dtype=float)
    if null.ndim != 1 or null.size == 0:
        raise InputError(f"null_r must be a non-empty 1-D array; got shape {null.shape}")
    if not np.all(np.isfinite(null)):
        raise InputError(f"null_r has {int(np.sum(~np.isfinite(null)))} non-finite value(s)")
    if not np.isfinite(observed_r):
        raise InputError(f"observed_r must be finite; got {observed_r}")
    count = int(np.sum(np.abs(null) >= abs(float(observed_r))))
    return (count + 1) / (null.size + 1)


def _check_distance(distance: ArrayLike, n_regions: int) -> NDArray[np.float64]:
    """Return ``distance`` as a float array after checking it is a distance matrix."""
    dist = np.asarray(distance, dtype=float)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise InputError(f"distance must be a square 2-D matrix; got shape {dist.shape}")
    if dist.shape[0] != n_regions:
        raise InputError(
            f"distance is {dist.shape[0]} x {dist.shape[1]} but values has {n_regions} "
            "regions; they must describe the same regions in the same order"
        )
    if not np.all(np.isfinite(dist)):
        raise InputError(f"distance has {int(np.sum(~np.isfinite(dist)))} non-finite entries")
    if np.any(dist < 0):
        raise InputError("distance has negative entries")
    if np.any(np.diag(dist) != 0):
        raise InputError("distance must have a zero diagonal (a region is 0 from itself)")
    scale = float(np.max(dist)) if dist.size else 0.0
    if not np.allclose(dist, dist.T, rtol=0.0, atol=1e-8 * max(scale, 1.0)):
        worst = float(np.max(np.abs(dist - dist.T)))
        raise InputError(f"distance must be symmetric; largest |D - D.T| is {worst:.3g}")
    return dist


def _check_values(values: ArrayLike, nan_policy: str) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float array after checking it and its NaNs."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise InputError(f"values must be a 1-D map (one value per region); got shape {x.shape}")
    if nan_policy not in ("raise", "omit"):
        raise InputError(f"nan_policy must be 'raise' or 'omit'; got {nan_policy!r}")
    if np.any(np.isinf(x)):
        raise InputError(f"values has infinite entries at regions {np.flatnonzero(np.isinf(x))}")
    missing = np.flatnonzero(np.isnan(x))
    if missing.size and nan_policy == "raise":
        raise InputError(
            f"values has NaN at {missing.size} region(s) (indices {missing[:10].tolist()}); "
            "pass nan_policy='omit' to build surrogates over the other regions"
        )
    return x


class _Variogram:
    """Smoothed-variogram machinery for one distance matrix (pairs, bins, kernel)."""

    def __init__(
        self,
        dist: NDArray[np.float64],
        max_distance_percentile: float,
        n_bins: int,
        bandwidth: float | None,
    ) -> None:
        if not 0 < max_distance_percentile <= 100:
            raise InputError(
                f"max_distance_percentile must be in (0, 100]; got {max_distance_percentile}"
            )
        if n_bins < 2:
            raise InputError(f"n_bins must be at least 2; got {n_bins}")
        rows, cols = np.triu_indices(dist.shape[0], k=1)
        pair_dist = dist[rows, cols]
        cutoff = float(np.percentile(pair_dist, max_distance_percentile))
        keep = pair_dist <= cutoff
        self.rows, self.cols = rows[keep], cols[keep]
        self.centres = np.linspace(float(pair_dist[keep].min()), cutoff, n_bins)
        width = 3.0 * (self.centres[1] - self.centres[0]) if bandwidth is None else bandwidth
        if not width > 0:
            raise InputError(f"bandwidth must be positive; got {width}")
        # Gaussian whose quartiles lie at +-width/4 (Burt et al. 2020's kernel bandwidth).
        sigma = width / (4.0 * _NORMAL_Q3)
        offset = (pair_dist[keep][:, None] - self.centres[None, :]) / sigma
        weights = np.exp(-0.5 * offset**2)
        totals = weights.sum(axis=0)
        if np.any(totals <= 0):
            raise InputError("the variogram bandwidth is too small: a distance bin has no pairs")
        # Bins x pairs, halved once here (semivariance is half the squared difference).
        self.weights_t = np.ascontiguousarray(0.5 * (weights / totals).T)

    def __call__(self, maps: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the smoothed semivariance of each row of ``maps`` at ``centres``."""
        # Regions x maps, so each pair gathers two contiguous rows (faster than columns).
        by_region = np.ascontiguousarray(maps.T)
        diff = by_region[self.rows]
        diff -= by_region[self.cols]
        np.square(diff, out=diff)
        return np.asarray((self.weights_t @ diff).T, dtype=float)


def empirical_variogram(
    values: ArrayLike,
    distance: ArrayLike,
    *,
    max_distance_percentile: float = 25.0,
    n_bins: int = 25,
    bandwidth: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the kernel-smoothed empirical variogram of one or several maps.

    Parameters
    ----------
    values : array-like, shape (n_regions,) or (n_maps, n_regions)
        The map(s); must be finite.
    distance : array-like, shape (n_regions, n_regions)
        Symmetric region-by-region distance matrix with a zero diagonal.
    max_distance_percentile : float
        Only region pairs closer than this percentile of all pairwise distances
        enter the variogram (25, as in Burt et al. 2020).
    n_bins : int
        Number of evenly spaced distances at which the variogram is read.
    bandwidth : float or None
        Width of the Gaussian smoothing kernel, in distance units (its quartiles
        lie at +-bandwidth/4); None uses three bin spacings.

    Returns
    -------
    distances : numpy.ndarray, shape (n_bins,)
        The distances at which the variogram is read.
    semivariance : numpy.ndarray, shape (n_bins,) or (n_maps, n_bins)
        The smoothed semivariance, one row per map when ``values`` is 2-D.

    Raises
    ------
    InputError
        When the map or the distance matrix is not usable.
    """
    maps = np.asarray(values, dtype=float)
    if maps.ndim not in (1, 2):
        raise InputError(f"values must be 1-D or 2-D; got shape {maps.shape}")
    if not np.all(np.isfinite(maps)):
        raise InputError("values must be finite to compute a variogram")
    dist = _check_distance(distance, maps.shape[-1])
    vario = _Variogram(dist, max_distance_percentile, n_bins, bandwidth)
    gamma = vario(np.atleast_2d(maps))
    return vario.centres, gamma[0] if maps.ndim == 1 else gamma


def _smoothing_operators(
    dist: NDArray[np.float64], fractions: Sequence[float]
) -> list[NDArray[np.float64]]:
    """Return one row-normalised k-nearest-neighbour smoothing matrix per fraction.

    Row ``i`` of each matrix weighs region ``i``'s ``k`` nearest regions (itself
    included) by ``exp(-d / d_k)``, with ``d_k`` the distance to the farthest of them.
    """
    n_regions = dist.shape[0]
    order = np.argsort(dist, axis=1, kind="stable")
    sorted_dist = np.take_along_axis(dist, order, axis=1)
    row_index = np.arange(n_regions)[:, None]
    operators = []
    for fraction in fractions:
        k = min(n_regions, max(2, int(fraction * n_regions)))
        near = sorted_dist[:, :k]
        reach = near[:, -1:]
        weight = np.exp(-near / np.where(reach > 0, reach, 1.0))
        smoother = np.zeros((n_regions, n_regions))
        smoother[row_index, order[:, :k]] = weight / weight.sum(axis=1, keepdims=True)
        operators.append(smoother)
    return operators


def _fit_batch(
    permuted: NDArray[np.float64],
    noise: NDArray[np.float64],
    target: NDArray[np.float64],
    vario: _Variogram,
    smoothers: list[NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Return the variogram-matched (not yet rank-matched) surrogates for one batch."""
    centred_target = target - target.mean()
    best_sse = np.full(permuted.shape[0], np.inf)
    best = np.empty_like(permuted)
    for smoother in smoothers:
        smoothed = permuted @ smoother.T
        gamma = vario(smoothed)
        centred = gamma - gamma.mean(axis=1, keepdims=True)
        beta = (centred @ centred_target) / np.maximum(np.sum(centred**2, axis=1), 1e-300)
        alpha = target.mean() - beta * gamma.mean(axis=1)
        residual = target[None, :] - alpha[:, None] - beta[:, None] * gamma
        sse = np.sum(residual**2, axis=1)
        better = sse < best_sse
        if np.any(better):
            best_sse[better] = sse[better]
            best[better] = (
                np.sqrt(np.abs(beta[better]))[:, None] * smoothed[better]
                + np.sqrt(np.abs(alpha[better]))[:, None] * noise[better]
            )
    return best


def variogram_surrogates(
    values: ArrayLike,
    distance: ArrayLike,
    n_surrogates: int = 1000,
    *,
    seed: int | np.random.Generator = 0,
    neighbour_fractions: Sequence[float] = DEFAULT_NEIGHBOUR_FRACTIONS,
    max_distance_percentile: float = 25.0,
    n_bins: int = 25,
    bandwidth: float | None = None,
    nan_policy: str = "raise",
) -> NDArray[np.float64]:
    """Return surrogate maps that keep a map's values and spatial autocorrelation.

    Variogram matching of Burt et al. (2020), the method of BrainSMASH's ``Base``:
    each surrogate is a random permutation of the map, smoothed over each
    region's nearest neighbours and linearly rescaled (plus white noise) so
    that its variogram matches the map's, then rank-matched to the map's values.

    Parameters
    ----------
    values : array-like, shape (n_regions,)
        The parcellated map.
    distance : array-like, shape (n_regions, n_regions)
        Symmetric region-by-region distance matrix with a zero diagonal (e.g.
        :func:`euclidean_distance` of the centroids, or geodesic distances).
    n_surrogates : int
        Number of surrogate maps.
    seed : int or numpy.random.Generator
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same
        surrogates.
    neighbour_fractions : sequence of float
        Fractions of the regions used as nearest neighbours when smoothing a
        permuted map; each surrogate keeps the one whose variogram fits best.
    max_distance_percentile : float
        Only region pairs closer than this percentile of all pairwise distances
        enter the variogram.
    n_bins : int
        Number of distances at which variograms are compared.
    bandwidth : float or None
        Width of the Gaussian kernel smoothing the variogram (quartiles at
        +-bandwidth/4); None uses three bin spacings.
    nan_policy : {'raise', 'omit'}
        What to do with NaN values: 'raise' refuses the map; 'omit' builds the
        surrogates over the other regions and leaves NaN in the NaN regions.

    Returns
    -------
    numpy.ndarray, shape (n_surrogates, n_regions)
        One surrogate map per row; each row is a permutation of the map's
        (non-NaN) values.

    Raises
    ------
    InputError
        When the map, the distance matrix or a setting is not usable.
    """
    x = _check_values(values, nan_policy)
    dist = _check_distance(distance, x.size)
    if isinstance(n_surrogates, bool) or int(n_surrogates) != n_surrogates or n_surrogates < 1:
        raise InputError(f"n_surrogates must be a positive integer; got {n_surrogates!r}")
    fractions = [float(f) for f in neighbour_fractions]
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise InputError(f"neighbour_fractions must be in (0, 1]; got {list(neighbour_fractions)}")
    kept = np.flatnonzero(~np.isnan(x))
    if kept.size < 4:
        raise InputError(f"values has {kept.size} non-NaN region(s); at least 4 are needed")
    x_kept, dist_kept = x[kept], dist[np.ix_(kept, kept)]
    if np.ptp(x_kept) == 0:
        raise InputError("values is constant: a constant map has no spatial structure")
    vario = _Variogram(dist_kept, max_distance_percentile, n_bins, bandwidth)
    target = vario(x_kept[None, :])[0]
    smoothers = _smoothing_operators(dist_kept, fractions)

    rng = np.random.default_rng(seed)
    count, n_kept = int(n_surrogates), kept.size
    order = rng.permuted(np.tile(np.arange(n_kept), (count, 1)), axis=1)
    noise = rng.standard_normal((count, n_kept))
    sorted_values = np.sort(x_kept)
    out = np.full((count, x.size), np.nan)
    batch = max(1, _BATCH_ENTRIES // max(vario.rows.size, n_kept))
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        matched = _fit_batch(
            x_kept[order[start:stop]], noise[start:stop], target, vario, smoothers
        )
        ranks = np.argsort(np.argsort(matched, axis=1, kind="stable"), axis=1, kind="stable")
        out[start:stop, kept] = sorted_values[ranks]
    return out
