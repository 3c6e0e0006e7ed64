"""Spatial structure of simulated connectivity: subsystems and distance.

Real resting-state connectivity is not flat within a network. Regions of one
subsystem (the DMN's core, dorsomedial and medial-temporal subsystems of
Andrews-Hanna et al. 2010, Neuron 65:550-562) are more strongly coupled than
regions of different subsystems, and coupling falls with distance (Power et
al. 2011, Neuron 72:665-678, Fig. 3; Betzel et al. 2016, NeuroImage
124:1054-1064). The simulator adds, to every region, a "local" signal with
loading ``local_loading`` whose correlation between regions ``i`` and ``j`` is

    K_ij = 0.5 exp(-d_ij / length) + 0.5 [i and j in the same subsystem],

with ``d_ij`` the distance of the region centres in mm. ``K`` has a unit
diagonal and is positive semi-definite (a sum of an exponential kernel and a
block matrix of ones), so it is a correlation matrix. Subsystems are the
atlas's own (:attr:`dmnpharm.atlases.Atlas.subsystems`) where it has them;
otherwise each network's regions are split into spatially compact clusters
of about :data:`CLUSTER_SIZE` regions (seeded k-means on their coordinates,
:func:`~dmnpharm.simulate._kmeans.kmeans_labels`), which stand in for
subsystems. The local signal is part of each region's
fixed BOLD variance, so it changes no amplitude measure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import load_atlas
from dmnpharm.simulate._kmeans import euclidean_distances, kmeans_labels

__all__ = ["CLUSTER_SIZE", "LocalStructure", "local_structure"]

#: Regions per spatial cluster where an atlas has no subsystem labels.
CLUSTER_SIZE = 12

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LocalStructure:
    """The correlation of the local signal between regions, and a factor of it.

    Parameters
    ----------
    corr : numpy.ndarray
        Regions x regions correlation ``K`` (unit diagonal).
    factor : numpy.ndarray
        Regions x components with ``factor @ factor.T == corr``.
    groups : numpy.ndarray
        Subsystem (or spatial cluster) index of each region.
    """

    corr: Array
    factor: Array
    groups: npt.NDArray[np.intp]

    def restricted(self, regions: npt.NDArray[np.intp]) -> LocalStructure:
        """Return the structure of a subset of regions.

        Parameters
        ----------
        regions : numpy.ndarray
            Region indices.

        Returns
        -------
        LocalStructure
            Correlation, factor and groups of those regions.
        """
        corr = self.corr[np.ix_(regions, regions)]
        return LocalStructure(corr, _factor(corr), self.groups[regions])


def _factor(corr: Array) -> Array:
    values, vectors = np.linalg.eigh(corr)
    keep = values > 1e-10 * values.max()
    factor: Array = vectors[:, keep] * np.sqrt(values[keep])
    return factor


def _groups(
    networks: tuple[str, ...], subsystems: tuple[str, ...], coords: Array
) -> npt.NDArray[np.intp]:
    """Subsystem labels where the atlas has them, else seeded spatial clusters per network."""
    labels = np.empty(len(networks), dtype=object)
    for net in sorted(set(networks)):
        members = np.flatnonzero(np.asarray(networks) == net)
        named = [subsystems[i] for i in members] if subsystems else []
        if named and all(named):
            labels[members] = [f"{net}/{s}" for s in named]
            continue
        k = max(1, round(members.size / CLUSTER_SIZE))
        if k == 1 or not np.ptp(coords[members], axis=0).any():
            labels[members] = net
            continue
        assigned = kmeans_labels(coords[members], k, seed=0)
        labels[members] = [f"{net}/{c}" for c in assigned]
    codes: npt.NDArray[np.intp] = np.unique(labels.astype(str), return_inverse=True)[1]
    return codes


@functools.lru_cache(maxsize=8)
def local_structure(atlas_name: str, length_mm: float, network_map: str = "") -> LocalStructure:
    """Return the local signal's correlation structure over an atlas's regions.

    Parameters
    ----------
    atlas_name : str
        A registered atlas, or an atlas file (see
        :func:`dmnpharm.atlases.load_atlas`); without coordinates only the
        subsystem part remains.
    length_mm : float
        Distance over which the distance part of the correlation falls by a
        factor e; 0 leaves only the subsystem part.
    network_map : str
        For an atlas file: its network mapping TSV ("" for none).

    Returns
    -------
    LocalStructure
        Cached per atlas and length.

    Examples
    --------
    >>> s = local_structure("seitzman300", 20.0)
    >>> s.corr.shape, bool(np.allclose(np.diag(s.corr), 1.0))
    ((300, 300), True)
    """
    atlas = load_atlas(atlas_name, network_map or None)
    coords = np.asarray(atlas.coords, dtype=np.float64).reshape(atlas.n_regions, -1)
    placed = coords.shape[1] == 3 and bool(np.isfinite(coords).all())
    if not placed:  # no coordinates: one group per network, no distance part
        coords = np.zeros((atlas.n_regions, 3))
    groups = _groups(tuple(atlas.networks), tuple(atlas.subsystems), coords)
    same = (groups[:, None] == groups[None, :]).astype(np.float64)
    if length_mm > 0 and placed:
        distance = np.exp(-euclidean_distances(coords) / length_mm)
    else:
        distance = np.eye(coords.shape[0])
    corr = 0.5 * distance + 0.5 * same
    return LocalStructure(corr, _factor(corr), groups)
