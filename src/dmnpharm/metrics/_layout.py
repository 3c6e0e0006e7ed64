"""The bundle's connectivity measures, from region indices worked out once per atlas.

:func:`network_layout` turns an atlas's network and subsystem codes into the
index arrays every connectivity measure of the bundle needs (the DMN, its
subsystems and partners, the task-positive regions, the pairs that enter
segregation and the graph), cached per atlas layout. :func:`layout_measures`
then computes the measures of one matrix by gathering values at those indices.
Each measure takes the same values in the same order, and applies the same
reductions, as the public function that defines it (cited per field), so the
results are equal to theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.metrics._checks import upper_triangle
from dmnpharm.metrics._graph import strongest_edges
from dmnpharm.metrics._systems import TASK_POSITIVE_NETWORKS, _segregation

__all__ = ["LayoutMeasures", "NetworkLayout", "layout_measures", "network_layout"]

Index = npt.NDArray[np.intp]
Array = npt.NDArray[np.float64]

#: DMN's between-network partners measured when the atlas has them.
PARTNERS = (("SN", "dmn_salience_fc"), ("FPN", "dmn_fpn_fc"), ("DAN", "dmn_dan_fc"))


def _frozen(values: npt.ArrayLike) -> Index:
    out = np.asarray(values, dtype=np.intp)
    out.setflags(write=False)
    return out


def _pairs(members: Index, n_regions: int) -> Index:
    """Flat positions (``row * n + column``) of the pairs of ``members``, row-major."""
    rows, cols = upper_triangle(members.size)
    return _frozen(members[rows] * n_regions + members[cols])


@dataclass(frozen=True, eq=False)
class NetworkLayout:
    """Region indices of an atlas's networks, for the bundle's connectivity measures.

    Flat positions index the raveled regions x regions matrix. Region indices
    are in atlas order unless named "reduced" (the regions outside ``"NONE"``,
    ``keep``).

    Parameters
    ----------
    n_regions : int
        Regions of the atlas.
    dmn : numpy.ndarray
        The DMN regions.
    dmn_pairs : numpy.ndarray
        Flat positions of the DMN region pairs (upper triangle, row-major).
    subsystems : tuple
        ``(code, flat positions of its pairs)`` for each DMN subsystem with two
        or more regions, in order of first appearance.
    partners : tuple
        ``(network, measure name, its regions)`` for each of :data:`PARTNERS`
        present.
    others : bool
        Whether the atlas has a network besides the DMN and ``"NONE"``.
    task_positive : numpy.ndarray or None
        Regions of the :data:`TASK_POSITIVE_NETWORKS` present; None if none is.
    rest : numpy.ndarray
        Regions outside the DMN and ``"NONE"``.
    within_pairs, between_pairs : numpy.ndarray
        Flat positions of the pairs of ``keep`` regions in the same network
        and in different networks (upper triangle, row-major).
    keep : numpy.ndarray
        Regions outside ``"NONE"``.
    graph_pairs : numpy.ndarray
        Flat positions of all pairs of ``keep`` regions (row-major).
    graph_rows, graph_cols : numpy.ndarray
        The same pairs as reduced indices.
    modules : numpy.ndarray
        Module (sorted network code) of each reduced region.
    n_modules : int
        Number of modules.
    dmn_reduced : numpy.ndarray
        Reduced indices of the DMN regions.
    """

    n_regions: int
    dmn: Index
    dmn_pairs: Index
    subsystems: tuple[tuple[str, Index], ...]
    partners: tuple[tuple[str, str, Index], ...]
    others: bool
    task_positive: Index | None
    rest: Index
    within_pairs: Index
    between_pairs: Index
    keep: Index
    graph_pairs: Index
    graph_rows: Index
    graph_cols: Index
    modules: Index
    n_modules: int
    dmn_reduced: Index


# A few layouts: runs whose unusable regions are left out each have their own.
@lru_cache(maxsize=4)
def network_layout(networks: tuple[str, ...], subsystems: tuple[str, ...]) -> NetworkLayout:
    """Return the index layout of an atlas's networks (cached per layout).

    Parameters
    ----------
    networks : tuple of str
        Network code per region (``Atlas.networks``).
    subsystems : tuple of str
        DMN subsystem per region or empty (``Atlas.subsystems``).

    Returns
    -------
    NetworkLayout
        The indices; the atlas needs two or more DMN regions.
    """
    labels = np.asarray(networks, dtype=str)
    n = labels.size
    dmn = _frozen(np.flatnonzero(labels == "DMN"))
    subs = np.asarray(subsystems, dtype=str)
    sub_pairs = []
    for code in dict.fromkeys(s for s in subsystems if s):
        members = np.flatnonzero(subs == code)
        if members.size >= 2:
            sub_pairs.append((code, _pairs(members, n)))
    partners = tuple(
        (net, name, _frozen(np.flatnonzero(labels == net)))
        for net, name in PARTNERS
        if net in networks
    )
    present = [net for net in dict.fromkeys(TASK_POSITIVE_NETWORKS) if net in networks]
    keep = _frozen(np.flatnonzero(labels != "NONE"))
    kept = labels[keep]
    rows, cols = upper_triangle(keep.size)
    same = kept[rows] == kept[cols]
    flat = keep[rows] * n + keep[cols]
    names, modules = np.unique(kept, return_inverse=True)
    return NetworkLayout(
        n_regions=n,
        dmn=dmn,
        dmn_pairs=_pairs(dmn, n),
        subsystems=tuple(sub_pairs),
        partners=partners,
        others=bool(set(networks) - {"DMN", "NONE"}),
        task_positive=_frozen(np.flatnonzero(np.isin(labels, present))) if present else None,
        rest=_frozen(keep[kept != "DMN"]),
        within_pairs=_frozen(flat[same]),
        between_pairs=_frozen(flat[~same]),
        keep=keep,
        graph_pairs=_frozen(flat),
        graph_rows=rows,
        graph_cols=cols,
        modules=_frozen(modules),
        n_modules=int(names.size),
        dmn_reduced=_frozen(np.flatnonzero(kept == "DMN")),
    )


@dataclass(frozen=True, eq=False)
class LayoutMeasures:
    """The bundle's connectivity measures of one matrix.

    Parameters
    ----------
    within : float
        ``dmn_within_fc``: mean over DMN pairs.
    subsystems : dict of str to float
        Mean over the pairs of each DMN subsystem.
    partners : dict of str to float
        Measure name to the mean over DMN x partner pairs.
    anticorrelation : float or None
        :func:`~dmnpharm.metrics.dmn_anticorrelation`; None without a
        task-positive network.
    dmn_segregation, system_segregation : float or None
        :func:`~dmnpharm.metrics.network_segregation` of the DMN and
        :func:`~dmnpharm.metrics.system_segregation`; None with the DMN alone.
    gbc : numpy.ndarray
        :func:`~dmnpharm.metrics.global_brain_connectivity` per region.
    degree, participation : numpy.ndarray
        Per DMN region, as :func:`~dmnpharm.metrics.network_node_measures`.
    nodes : numpy.ndarray
        Atlas indices of those regions.
    """

    within: float
    subsystems: dict[str, float]
    partners: dict[str, float]
    anticorrelation: float | None
    dmn_segregation: float | None
    system_segregation: float | None
    gbc: Array
    degree: Array
    participation: Array
    nodes: Index


def _positive_mean(values: Array) -> float:
    return float(np.clip(values, 0.0, None).mean())


def _graph(flat: Array, layout: NetworkLayout, density: float) -> tuple[Array, Array]:
    """Degree and participation of the DMN nodes (:func:`network_node_measures`)."""
    chosen = strongest_edges(flat[layout.graph_pairs], density)
    ends = np.concatenate([layout.graph_rows[chosen], layout.graph_cols[chosen]])
    far = np.concatenate([layout.graph_cols[chosen], layout.graph_rows[chosen]])
    n_kept, n_modules = layout.keep.size, layout.n_modules
    # Edge counts are whole numbers: equal to the binary graph's row sums and products.
    degree = np.bincount(ends, minlength=n_kept).astype(np.float64)
    cells = ends * n_modules + layout.modules[far]
    per_module = np.bincount(cells, minlength=n_kept * n_modules).astype(np.float64)
    per_module = per_module.reshape(n_kept, n_modules)
    k = per_module.sum(axis=1)
    safe = np.where(k > 0, k, 1.0)
    participation = np.where(k > 0, 1.0 - ((per_module / safe[:, None]) ** 2).sum(axis=1), 0.0)
    return degree[layout.dmn_reduced], participation[layout.dmn_reduced]


def layout_measures(matrix: Array, layout: NetworkLayout, density: float) -> LayoutMeasures:
    """Compute the bundle's connectivity measures of one checked matrix.

    Parameters
    ----------
    matrix : numpy.ndarray
        Regions x regions, finite off the diagonal and symmetric (checked by
        the caller with :func:`~dmnpharm.metrics._checks.as_matrix`).
    layout : NetworkLayout
        From :func:`network_layout` of the matrix's atlas.
    density : float
        Proportional threshold of the graph.

    Returns
    -------
    LayoutMeasures
        The values.

    Raises
    ------
    InputError
        As the public functions do: segregation with a non-positive mean
        within-network connectivity, or without within- or between-network
        pairs.
    """
    flat = np.ascontiguousarray(matrix).ravel()
    dmn = layout.dmn
    partners = {
        name: float(matrix[np.ix_(dmn, other)].mean()) for _, name, other in layout.partners
    }
    anti = None
    if layout.task_positive is not None:
        anti = float(matrix[np.ix_(dmn, layout.task_positive)].mean())
    dmn_seg = system_seg = None
    if layout.others:
        between = _positive_mean(matrix[np.ix_(dmn, layout.rest)])
        dmn_seg = _segregation(_positive_mean(flat[layout.dmn_pairs]), between)
        if not layout.within_pairs.size or not layout.between_pairs.size:
            raise InputError("segregation needs at least one within- and one between-network edge")
        system_seg = _segregation(
            _positive_mean(flat[layout.within_pairs]), _positive_mean(flat[layout.between_pairs])
        )
    zeroed = matrix.copy()
    np.fill_diagonal(zeroed, 0.0)
    degree, participation = _graph(flat, layout, density)
    return LayoutMeasures(
        within=float(flat[layout.dmn_pairs].mean()),
        subsystems={code: float(flat[pairs].mean()) for code, pairs in layout.subsystems},
        partners=partners,
        anticorrelation=anti,
        dmn_segregation=dmn_seg,
        system_segregation=system_seg,
        gbc=zeroed.sum(axis=1) / (zeroed.shape[0] - 1),
        degree=degree,
        participation=participation,
        nodes=layout.keep[layout.dmn_reduced],
    )
