"""Seeded k-means of region coordinates, and their distances, in NumPy alone.

The simulator splits each network that has no subsystem labels into compact
spatial clusters (:mod:`dmnpharm.simulate._structure`). It used
``scipy.cluster.vq.kmeans2(points, k, seed=0, minit="++")`` and
``scipy.spatial.distance.cdist``; importing them loads ``scipy.spatial`` and
``scipy.special`` (about 180 modules, 0.15-0.2 s on the 2-core development
machine), on the critical path of ``dmnpharm demo``, whose study is simulated
in a process of its own while the analysis is imported beside it.

These functions give the same clusters and the same distances:

* the seeding is k-means++ (Arthur & Vassilvitskii 2007) with the draws that
  call makes: a legacy ``RandomState`` of the seed picks the first centre
  uniformly (``randint``), then each next centre is the data point where one
  ``uniform()`` draw falls on the cumulative share of the squared distances to
  the nearest centre chosen so far;
* then a fixed number of Lloyd iterations (10, as ``kmeans2``): each point to
  its nearest centre (the first on a tie), each centre to the mean of its
  points; a centre that loses every point stays where it was.

``tests/simulate/test_kmeans.py`` compares the labels with ``kmeans2``'s on
every network of every registered atlas with coordinates, and the distances
with ``cdist``'s, value for value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["LLOYD_ITERATIONS", "euclidean_distances", "kmeans_labels"]

#: Lloyd iterations after the seeding (``scipy.cluster.vq.kmeans2``'s default).
LLOYD_ITERATIONS = 10

_Array = npt.NDArray[np.float64]


def _squared_distances(points: _Array, centres: _Array) -> _Array:
    """Return ``(centres, points)`` squared Euclidean distances, coordinates added in order.

    One coordinate at a time, so the squares are added first to last whatever their
    number (a NumPy sum over 8 or more would add them pairwise, in another order).
    """
    squared: _Array = np.zeros((centres.shape[0], points.shape[0]))
    for k in range(points.shape[1]):
        difference = centres[:, k, None] - points[None, :, k]
        difference *= difference
        squared += difference
    return squared


def euclidean_distances(points: npt.ArrayLike) -> _Array:
    """Return the Euclidean distance between every pair of rows.

    Parameters
    ----------
    points : array-like
        Points x coordinates.

    Returns
    -------
    numpy.ndarray
        Points x points, ``sqrt(sum_k (a_k - b_k) ** 2)`` with the squares
        added in coordinate order (as ``scipy.spatial.distance.cdist``).

    Examples
    --------
    >>> euclidean_distances([[0.0, 0.0], [3.0, 4.0]])
    array([[0., 5.],
           [5., 0.]])
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"points must be points x coordinates, got shape {x.shape}")
    distances: _Array = np.sqrt(_squared_distances(x, x))
    return distances


def _seed_centres(points: _Array, k: int, rng: np.random.RandomState) -> _Array:
    """Choose ``k`` starting centres among ``points`` by k-means++."""
    centres = np.empty((k, points.shape[1]))
    centres[0] = points[rng.randint(0, points.shape[0])]
    for i in range(1, k):
        nearest = _squared_distances(points, centres[:i]).min(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # all on a centre: the first
            share = (nearest / nearest.sum()).cumsum()
        centres[i] = points[int(np.searchsorted(share, rng.uniform()))]
    return centres


def kmeans_labels(
    points: npt.ArrayLike, k: int, seed: int = 0, iterations: int = LLOYD_ITERATIONS
) -> npt.NDArray[np.intp]:
    """Return the k-means cluster of each point (k-means++ seeding, then Lloyd iterations).

    Parameters
    ----------
    points : array-like
        Points x coordinates (finite).
    k : int
        Clusters, at least 1 and at most the number of points.
    seed : int
        Seed of the legacy ``numpy.random.RandomState`` that draws the
        seeding; ``kmeans_labels(x, k, s)`` gives the labels of
        ``scipy.cluster.vq.kmeans2(x, k, seed=s, minit="++")``.
    iterations : int
        Lloyd iterations after the seeding.

    Returns
    -------
    numpy.ndarray
        The cluster index (0 .. k - 1) of each point; a cluster may end empty.

    Raises
    ------
    ValueError
        If ``points`` is not a non-empty finite 2D array, or ``k`` or
        ``iterations`` is out of range.

    Examples
    --------
    >>> x = [[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]]
    >>> labels = kmeans_labels(x, 2)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or not np.isfinite(x).all():
        raise ValueError(f"points must be a non-empty finite 2D array, got shape {x.shape}")
    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and {x.shape[0]} (the points), got {k}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    # The legacy generator on purpose: its draws are the ones the clusters were made with.
    centres = _seed_centres(x, k, np.random.RandomState(seed))
    labels = np.zeros(x.shape[0], dtype=np.intp)
    for _ in range(iterations):
        labels = _squared_distances(x, centres).argmin(axis=0)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, x)  # in the points' order, one after the other
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return labels
