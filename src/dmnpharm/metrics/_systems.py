"""Network-level DMN measures: segregation, global connectivity, anticorrelation.

Every function takes a symmetric regions x regions matrix (Fisher z or r; the
diagonal is ignored) and one network code per region in matrix order (e.g.
``Atlas.networks``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import as_matrix, as_networks, drop_networks, network_index

__all__ = [
    "TASK_POSITIVE_NETWORKS",
    "AnticorrelationResult",
    "dmn_anticorrelation",
    "global_brain_connectivity",
    "network_gbc",
    "network_segregation",
    "system_segregation",
]

#: Networks pooled as "task-positive" for :func:`dmn_anticorrelation` (Fox et al. 2005).
TASK_POSITIVE_NETWORKS: tuple[str, ...] = ("DAN", "FPN", "SN", "VAN", "CON")

_Matrix = npt.NDArray[np.float64]


def _segregation(within: float, between: float) -> float:
    if within <= 0:
        raise InputError(
            f"segregation is undefined: mean within-network connectivity is {within:.3g} "
            "(it must be positive)"
        )
    return (within - between) / within


def system_segregation(
    matrix: npt.ArrayLike, networks: Sequence[str], *, exclude: Collection[str] = ("NONE",)
) -> float:
    """Return whole-system segregation: how much stronger within- than between-network edges are.

    ``S = (W - B) / W``, where W is the mean over every within-network edge (each
    region pair once, pooled over networks) and B the mean over every
    between-network edge, after setting negative weights to zero. As in Chan et al.
    (2014) and their published code, negative edges count as zero weight (they stay
    in both means); the diagonal is ignored.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix.
    networks : sequence of str
        Network code per region.
    exclude : collection of str
        Networks whose regions are left out entirely; by default the unassigned
        regions (``"NONE"``), which form no system.

    Returns
    -------
    float
        Segregation, unitless; 1 when between-network edges are all <= 0, 0 when
        within and between edges are equally strong, negative when between are
        stronger.

    Notes
    -----
    Chan MY, Park DC, Savalia NK, Petersen SE, Wig GS (2014) Decreased segregation
    of brain systems across the healthy adult lifespan. PNAS 111:E4997-E5006.
    """
    m, labels, _ = drop_networks(matrix, networks, exclude)
    w = np.clip(m, 0.0, None)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    if not np.any(same & upper) or not np.any(~same & upper):
        raise InputError("segregation needs at least one within- and one between-network edge")
    return _segregation(float(w[same & upper].mean()), float(w[~same & upper].mean()))


def network_segregation(
    matrix: npt.ArrayLike,
    networks: Sequence[str],
    network: str = "DMN",
    *,
    exclude: Collection[str] = ("NONE",),
) -> float:
    """Return the segregation of one network from all the others.

    ``S = (W - B) / W`` with W the mean weight over pairs of the network's regions
    and B the mean weight between its regions and every other (non-excluded)
    region, negative weights set to zero (Chan et al. 2014).

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix.
    networks : sequence of str
        Network code per region.
    network : str
        The network, by default ``"DMN"``; needs two or more regions.
    exclude : collection of str
        Networks whose regions are left out; by default ``"NONE"`` (unassigned).

    Returns
    -------
    float
        Segregation of ``network``, unitless (see :func:`system_segregation`).

    Notes
    -----
    Chan MY, Park DC, Savalia NK, Petersen SE, Wig GS (2014) Decreased segregation
    of brain systems across the healthy adult lifespan. PNAS 111:E4997-E5006.
    """
    m, labels, _ = drop_networks(matrix, networks, exclude)
    idx = network_index(labels, network)
    rest = np.flatnonzero(labels != network)
    if idx.size < 2 or rest.size == 0:
        raise InputError(
            f"segregation of {network!r} needs two of its regions and one other region, "
            f"got {idx.size} and {rest.size}"
        )
    w = np.clip(m, 0.0, None)
    block = w[np.ix_(idx, idx)]
    within = float(block[np.triu_indices(idx.size, k=1)].mean())
    return _segregation(within, float(w[np.ix_(idx, rest)].mean()))


def global_brain_connectivity(matrix: npt.ArrayLike) -> _Matrix:
    """Return each region's global brain connectivity (GBC).

    GBC of region i is the mean of its connectivity with every other region,
    ``sum_{j != i} z_ij / (n - 1)``, over all signs (no threshold).

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix; the diagonal is ignored.

    Returns
    -------
    numpy.ndarray
        One value per region, in the unit of ``matrix`` (mean Fisher z).

    Notes
    -----
    After global signal regression every region's mean connectivity is pushed
    toward zero (Murphy & Fox 2017, NeuroImage 154:169-173), so GBC is not
    comparable between cleanings with and without GSR.

    Cole MW, Pathak S, Schneider W (2010) Identifying the brain's most globally
    connected regions. NeuroImage 49:3132-3148.
    """
    m = as_matrix(matrix).copy()
    np.fill_diagonal(m, 0.0)
    gbc: _Matrix = m.sum(axis=1) / (m.shape[0] - 1)
    return gbc


def network_gbc(matrix: npt.ArrayLike, networks: Sequence[str]) -> dict[str, float]:
    """Return the mean global brain connectivity of each network's regions.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z (or r) matrix.
    networks : sequence of str
        Network code per region.

    Returns
    -------
    dict
        Network code (sorted) to the mean over its regions of
        :func:`global_brain_connectivity` (mean Fisher z; Cole et al. 2010
        NeuroImage 49:3132).
    """
    gbc = global_brain_connectivity(matrix)
    labels = as_networks(networks, gbc.size)
    return {str(net): float(gbc[labels == net].mean()) for net in np.unique(labels)}


@dataclass(frozen=True)
class AnticorrelationResult:
    """Mean connectivity between the DMN and the task-positive networks present.

    Parameters
    ----------
    value : float
        Mean Fisher z over every DMN x task-positive region pair.
    networks_used : tuple of str
        Task-positive networks found in the atlas and pooled.
    networks_missing : tuple of str
        Task-positive networks asked for but absent from the atlas.
    n_pairs : int
        Number of region pairs averaged.
    """

    value: float
    networks_used: tuple[str, ...]
    networks_missing: tuple[str, ...]
    n_pairs: int


def dmn_anticorrelation(
    matrix: npt.ArrayLike,
    networks: Sequence[str],
    task_positive: Sequence[str] = TASK_POSITIVE_NETWORKS,
) -> AnticorrelationResult:
    """Return the mean DMN - task-positive connectivity (negative when anticorrelated).

    The mean of ``z_ij`` over every pair of a DMN region i and a region j of the
    union of the task-positive networks the atlas has (by default DAN, FPN, SN,
    VAN and CON). Atlases lack some of these (Schaefer-7 has no CON, Dosenbach
    no DAN); those present are used and the result records which. The sign
    depends on preprocessing: global signal regression shifts it negative
    (Murphy et al. 2009 NeuroImage 44:893), so compare only like with like.

    Parameters
    ----------
    matrix : array-like
        Symmetric regions x regions Fisher z matrix.
    networks : sequence of str
        Network code per region.
    task_positive : sequence of str
        Networks pooled as task-positive.

    Returns
    -------
    AnticorrelationResult
        The mean Fisher z (unitless), the networks used and missing, and the
        number of pairs.

    Notes
    -----
    Fox MD, Snyder AZ, Vincent JL, Corbetta M, Van Essen DC, Raichle ME (2005)
    The human brain is intrinsically organized into dynamic, anticorrelated
    functional networks. PNAS 102:9673-9678.
    """
    m = as_matrix(matrix)
    labels = as_networks(networks, m.shape[0])
    dmn = network_index(labels, "DMN")
    wanted = tuple(dict.fromkeys(task_positive))
    if "DMN" in wanted or not wanted:
        raise InputError(f"task_positive must list non-DMN networks, got {list(wanted)}")
    present = set(labels.tolist())
    used = tuple(net for net in wanted if net in present)
    missing = tuple(net for net in wanted if net not in present)
    if not used:
        raise InputError(
            f"none of the task-positive networks {list(wanted)} is in the atlas; "
            f"it has {sorted(present)}"
        )
    tp = np.flatnonzero(np.isin(labels, used))
    block = m[np.ix_(dmn, tp)]
    return AnticorrelationResult(float(block.mean()), used, missing, int(block.size))
