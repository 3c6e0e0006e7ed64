"""Region x region views: matrices ordered and labelled by network, and the top edges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import NETWORKS, SUBSYSTEMS

__all__ = ["Blocks", "network_blocks", "robust_limit", "strongest_edges"]

#: Edges drawn on the glass brain at most.
EDGES_DRAWN = 30


@dataclass(frozen=True)
class Blocks:
    """An order of regions and the named blocks (networks, DMN subsystems) it forms.

    Parameters
    ----------
    order : numpy.ndarray
        Region indices, block by block.
    names : tuple of str
        Each block's name, in order.
    bounds : tuple of int
        Each block's first position in ``order``, then ``len(order)``.
    """

    order: npt.NDArray[np.intp]
    names: tuple[str, ...]
    bounds: tuple[int, ...]


def network_blocks(
    networks: Sequence[str], subsystems: Sequence[str] = (), split_dmn: bool = True
) -> Blocks:
    """Order regions by network (DMN first, then the vocabulary's order) and DMN subsystem.

    Parameters
    ----------
    networks : sequence of str
        Network code per region.
    subsystems : sequence of str
        DMN subsystem code per region ("" for none), or empty when the atlas
        has no subsystems.
    split_dmn : bool
        Split the DMN into its subsystems where they are given.

    Returns
    -------
    Blocks
        The order (stable inside a block: atlas order) and the block names,
        e.g. ``DMN core``, ``DMN mtl``, ``DMN``, ``SN``.
    """
    vocabulary = list(NETWORKS)
    codes = list(SUBSYSTEMS)
    keys = []
    for k, network in enumerate(networks):
        code = subsystems[k] if split_dmn and len(subsystems) == len(networks) else ""
        rank = vocabulary.index(network) if network in vocabulary else len(vocabulary)
        sub = codes.index(code) if code in codes else len(codes)
        name = f"{network} {code}" if network == "DMN" and code else str(network)
        keys.append((rank, str(network), sub if network == "DMN" else 0, name))
    order = np.array(sorted(range(len(keys)), key=lambda i: (keys[i][:3], i)), dtype=np.intp)
    names: list[str] = []
    bounds: list[int] = []
    for position, index in enumerate(order):
        name = keys[index][3]
        if not names or names[-1] != name:
            names.append(name)
            bounds.append(position)
    bounds.append(len(order))
    return Blocks(order, tuple(names), tuple(bounds))


def robust_limit(values: npt.ArrayLike, percentile: float = 98.0) -> float:
    """Return a symmetric colour limit: a high percentile of the finite absolute values.

    Parameters
    ----------
    values : array_like
        The values to be coloured (a diagonal should be NaN).
    percentile : float
        The percentile of ``|values|`` that maps to the ends of the scale; the
        few values beyond it are drawn at full colour, not allowed to wash out
        the rest.

    Returns
    -------
    float
        A positive limit (1.0 when nothing is finite or all is zero).
    """
    array = np.abs(np.asarray(values, dtype=np.float64))
    finite = array[np.isfinite(array)]
    if not finite.size:
        return 1.0
    limit = float(np.percentile(finite, percentile))
    return limit if limit > 0 else float(finite.max()) or 1.0


def strongest_edges(
    statistic: npt.NDArray[np.float64],
    significant: npt.NDArray[np.bool_] | None = None,
    count: int = EDGES_DRAWN,
    name: str = "statistic",
) -> tuple[npt.NDArray[np.float64], str]:
    """Keep the ``count`` edges of largest |statistic|, among the significant ones if any.

    Parameters
    ----------
    statistic : numpy.ndarray
        Square symmetric matrix of an edge statistic (NaN where none).
    significant : numpy.ndarray or None
        Square boolean matrix of the edges passing the family-wise test; None
        when no edge-level inference was made.
    count : int
        Edges kept at most.
    name : str
        The statistic's name in the phrase (e.g. ``paired t``).

    Returns
    -------
    tuple
        The matrix with every other edge set to 0, and a phrase saying which
        edges these are (for a caption).
    """
    matrix = np.nan_to_num(np.asarray(statistic, dtype=np.float64))
    n = matrix.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    pool = upper & (matrix != 0)
    if significant is None:
        rule = f"the {{k}} edges with the largest |{name}| (of {int(pool.sum())})"
    elif (pool & significant).any():
        total = int((pool & significant).sum())
        pool &= significant
        rule = f"the {{k}} strongest of the {total} edges with p FWER < 0.05"
    else:
        rule = f"the {{k}} edges with the largest |{name}|: none reached p FWER < 0.05"
    rows, cols = np.nonzero(pool)
    strength = np.abs(matrix[rows, cols])
    keep = np.argsort(-strength, kind="stable")[:count]
    kept = np.zeros_like(matrix)
    kept[rows[keep], cols[keep]] = matrix[rows[keep], cols[keep]]
    kept = kept + kept.T
    return kept, rule.format(k=keep.size)
