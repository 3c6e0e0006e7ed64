"""Graph measures of a network's nodes on a proportionally thresholded connectivity graph."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import (
    as_matrix,
    as_networks,
    drop_networks,
    network_index,
    upper_triangle,
)

__all__ = [
    "NodeGraphMeasures",
    "network_node_measures",
    "participation_coefficient",
    "proportional_threshold",
    "strongest_edges",
]

_Matrix = npt.NDArray[np.float64]


def proportional_threshold(matrix: npt.ArrayLike, density: float = 0.1) -> _Matrix:
    """Keep the strongest edges of a connectivity matrix, a fixed fraction of all.

    The ``k = round(density * n (n - 1) / 2)`` largest off-diagonal weights (each
    region pair once, ties broken by position) are kept and every other entry,
    the diagonal included, set to zero; kept weights <= 0 are also set to zero,
    so a graph with few positive edges has a lower density than asked. This is
    the rule of the Brain Connectivity Toolbox's ``threshold_proportional``
    (Rubinov & Sporns 2010 NeuroImage 52:1059) for symmetric matrices.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix.
    density : float
        Fraction of the ``n (n - 1) / 2`` possible edges to keep, in (0, 1].

    Returns
    -------
    numpy.ndarray
        Symmetric weighted adjacency matrix, same unit as ``matrix``.
    """
    m = as_matrix(matrix)
    if not 0 < density <= 1:
        raise InputError(f"density must be in (0, 1], got {density}")
    rows, cols = upper_triangle(m.shape[0])
    weights = m[rows, cols]
    order = strongest_edges(weights, density)
    out = np.zeros_like(m)
    out[rows[order], cols[order]] = weights[order]
    adjacency: _Matrix = out + out.T
    return adjacency


def strongest_edges(weights: _Matrix, density: float) -> npt.NDArray[np.intp]:
    """Return the positions of the edges :func:`proportional_threshold` keeps.

    The ``k = round(density * weights.size)`` largest weights (ties broken by
    position, as a stable descending sort would), without those <= 0. Only the
    k-th largest value is searched for (a partition, not a full sort).

    Parameters
    ----------
    weights : numpy.ndarray
        Finite edge weights, one per region pair (1D).
    density : float
        Fraction of the edges to keep, in (0, 1].

    Returns
    -------
    numpy.ndarray
        Positions into ``weights``, ascending.
    """
    k = int(np.floor(density * weights.size + 0.5))
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k >= weights.size:
        chosen = np.arange(weights.size)
    else:
        # The k-th largest weight; every larger weight is kept, ties at it by position.
        kth = np.partition(weights, weights.size - k)[weights.size - k]
        above = weights > kth
        ties = np.flatnonzero(weights == kth)[: k - int(np.count_nonzero(above))]
        above[ties] = True
        chosen = np.flatnonzero(above)
    return chosen[weights[chosen] > 0]


def participation_coefficient(adjacency: npt.ArrayLike, networks: Sequence[str]) -> _Matrix:
    """Return each node's participation coefficient with the networks as modules.

    ``P_i = 1 - sum_s (k_is / k_i)^2``, where ``k_i`` is the degree (strength, for a
    weighted graph) of node i and ``k_is`` the part of it that links to nodes of
    module s. P is 0 when all of a node's links stay in one module and approaches
    ``1 - 1/M`` when they spread evenly over M modules; nodes without links get 0.

    Parameters
    ----------
    adjacency : array-like
        Symmetric non-negative adjacency (binary or weighted), e.g. from
        :func:`proportional_threshold`; the diagonal is ignored.
    networks : sequence of str
        Module (network code) per node.

    Returns
    -------
    numpy.ndarray
        One value per node, unitless, in [0, 1).

    Notes
    -----
    Guimera R, Amaral LAN (2005) Functional cartography of complex metabolic
    networks. Nature 433:895-900.
    """
    a = as_matrix(adjacency, name="adjacency").copy()
    np.fill_diagonal(a, 0.0)
    if np.any(a < 0):
        raise InputError("adjacency must be non-negative; threshold the matrix first")
    labels = as_networks(networks, a.shape[0])
    _, module = np.unique(labels, return_inverse=True)
    onehot = np.eye(int(module.max()) + 1)[module]
    per_module = a @ onehot
    k = per_module.sum(axis=1)
    safe = np.where(k > 0, k, 1.0)
    p: _Matrix = np.where(k > 0, 1.0 - ((per_module / safe[:, None]) ** 2).sum(axis=1), 0.0)
    return p


@dataclass(frozen=True, eq=False)
class NodeGraphMeasures:
    """Degree, strength and participation of one network's nodes on a thresholded graph.

    Parameters
    ----------
    network : str
        The network whose nodes are described.
    density : float
        The proportional threshold asked for.
    nodes : numpy.ndarray
        Region indices (in the input matrix) of the network's nodes.
    degree, strength, participation : numpy.ndarray
        Per node: number of kept edges, sum of their weights (unit of the matrix),
        participation coefficient on the binary graph.
    mean_degree, mean_strength, mean_participation : float
        Averages over the network's nodes.
    """

    network: str
    density: float
    nodes: npt.NDArray[np.intp]
    degree: _Matrix
    strength: _Matrix
    participation: _Matrix
    mean_degree: float
    mean_strength: float
    mean_participation: float


def network_node_measures(
    matrix: npt.ArrayLike,
    networks: Sequence[str],
    network: str = "DMN",
    density: float = 0.1,
    *,
    exclude: Collection[str] = ("NONE",),
) -> NodeGraphMeasures:
    """Return degree, strength and participation coefficient of a network's nodes.

    The whole matrix (excluded networks removed) is thresholded with
    :func:`proportional_threshold` at ``density``; on that graph each node of
    ``network`` gets its degree (edge count), strength (summed kept weights) and
    participation coefficient (Guimera & Amaral 2005) on the binary graph with the
    network labels as modules.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix.
    networks : sequence of str
        Network code per region.
    network : str
        The network whose nodes are described, by default ``"DMN"``.
    density : float
        Fraction of edges kept, by default 0.1, within the 2-15% range common for
        resting-state graphs (Power et al. 2011 Neuron 72:665). A fixed density
        admits weaker, noisier edges in runs with lower overall connectivity
        (e.g. under a sedative), which can masquerade as a topology change (van
        den Heuvel et al. 2017 NeuroImage 152:437); report the mean connectivity
        alongside and check results at a few densities.
    exclude : collection of str
        Networks whose regions are removed before thresholding; by default ``"NONE"``.

    Returns
    -------
    NodeGraphMeasures
        Per-node values and their network averages (degree: edges; strength: unit
        of the matrix; participation: unitless).

    Notes
    -----
    Guimera R, Amaral LAN (2005) Functional cartography of complex metabolic
    networks. Nature 433:895-900.
    """
    m, labels, keep = drop_networks(matrix, networks, exclude)
    idx = network_index(labels, network)
    adjacency = proportional_threshold(m, density)
    binary = (adjacency > 0).astype(np.float64)
    degree = binary.sum(axis=1)[idx]
    strength = adjacency.sum(axis=1)[idx]
    participation = participation_coefficient(binary, labels.tolist())[idx]
    for arr in (degree, strength, participation):
        arr.setflags(write=False)
    nodes = keep[idx]
    nodes.setflags(write=False)
    return NodeGraphMeasures(
        network=network,
        density=density,
        nodes=nodes,
        degree=degree,
        strength=strength,
        participation=participation,
        mean_degree=float(degree.mean()),
        mean_strength=float(strength.mean()),
        mean_participation=float(participation.mean()),
    )
