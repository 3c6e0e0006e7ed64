"""Graph and network-level measures against hand-computed matrices and loop references.

Covers _graph and _systems (they share the test matrices); networkx and bctpy serve as
independent references when installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.metrics import (
    TASK_POSITIVE_NETWORKS,
    dmn_anticorrelation,
    global_brain_connectivity,
    network_gbc,
    network_node_measures,
    network_segregation,
    participation_coefficient,
    proportional_threshold,
    system_segregation,
)

# Five regions: two DMN, two SN, one unassigned with strong edges that must be ignored.
#   DMN-DMN 0.8, SN-SN 0.6; DMN-SN 0.2, -0.4 (counts as 0), 0.1, 0.3.
HAND_NETWORKS = ["DMN", "SN", "DMN", "SN", "NONE"]
HAND = np.array(
    [
        [0.0, 0.2, 0.8, -0.4, 0.9],
        [0.2, 0.0, 0.1, 0.6, 0.9],
        [0.8, 0.1, 0.0, 0.3, 0.9],
        [-0.4, 0.6, 0.3, 0.0, 0.9],
        [0.9, 0.9, 0.9, 0.9, 0.0],
    ]
)


def _random_matrix(rng: np.random.Generator, n: int) -> np.ndarray:
    """Symmetric matrix with mostly positive, some negative, no tied values."""
    a = rng.normal(0.2, 0.3, (n, n))
    m = (a + a.T) / 2
    np.fill_diagonal(m, 0.0)
    return m


def _labels(rng: np.random.Generator, n: int) -> list[str]:
    nets = ["DMN", "SN", "FPN", "DAN", "VIS"]
    labels = [nets[i % len(nets)] for i in range(n)]
    return [str(x) for x in rng.permutation(labels)]


def test_segregation_hand_computed() -> None:
    """W = (0.8 + 0.6)/2, B = (0.2 + 0 + 0.1 + 0.3)/4: S = (0.7 - 0.15)/0.7."""
    assert system_segregation(HAND, HAND_NETWORKS) == pytest.approx(0.55 / 0.7)
    assert network_segregation(HAND, HAND_NETWORKS, "DMN") == pytest.approx(0.65 / 0.8)
    assert network_segregation(HAND, HAND_NETWORKS, "SN") == pytest.approx(0.45 / 0.6)
    # Keeping the unassigned region adds it as a third system with 0.9 between edges.
    kept = system_segregation(HAND, HAND_NETWORKS, exclude=())
    assert kept == pytest.approx((0.7 - (0.6 + 3.6) / 8) / 0.7)


def _loop_segregation(m: np.ndarray, labels: list[str], network: str | None) -> float:
    within, between = [], []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            if network is not None and network not in (labels[i], labels[j]):
                continue
            (within if labels[i] == labels[j] else between).append(max(m[i, j], 0.0))
    return (np.mean(within) - np.mean(between)) / np.mean(within)


def test_segregation_matches_loop(rng: np.random.Generator) -> None:
    """Pooled within/between means equal a loop over region pairs."""
    m, labels = _random_matrix(rng, 23), _labels(rng, 23)
    assert system_segregation(m, labels) == pytest.approx(_loop_segregation(m, labels, None))
    for net in ("DMN", "VIS"):
        assert network_segregation(m, labels, net) == pytest.approx(
            _loop_segregation(m, labels, net)
        )


def test_segregation_refuses_undefined_cases() -> None:
    """No positive within edge, unknown network, wrong label count: clear errors."""
    m = np.array([[0, -0.5, 0.2], [-0.5, 0, 0.1], [0.2, 0.1, 0]])
    with pytest.raises(InputError, match="segregation is undefined"):
        network_segregation(m, ["DMN", "DMN", "SN"], "DMN")
    with pytest.raises(InputError, match="did you mean 'DMN'"):
        network_segregation(m, ["DMN", "DMN", "SN"], "dmn")
    with pytest.raises(InputError, match="networks has 2 entries but the data have 3"):
        system_segregation(m, ["DMN", "SN"])
    with pytest.raises(InputError, match="not symmetric"):
        system_segregation(np.triu(m + 1), ["DMN", "DMN", "SN"])


def test_global_brain_connectivity_hand_and_loop(rng: np.random.Generator) -> None:
    """GBC is the mean over the other regions (diagonal ignored, all signs kept)."""
    gbc = global_brain_connectivity(HAND)
    assert gbc[0] == pytest.approx((0.2 + 0.8 - 0.4 + 0.9) / 4)
    assert gbc[4] == pytest.approx(0.9)
    m = _random_matrix(rng, 11)
    m[np.diag_indices(11)] = np.inf  # the diagonal (arctanh 1) must not enter
    loop = [np.mean([m[i, j] for j in range(11) if j != i]) for i in range(11)]
    np.testing.assert_allclose(global_brain_connectivity(m), loop)
    by_net = network_gbc(HAND, HAND_NETWORKS)
    assert list(by_net) == ["DMN", "NONE", "SN"]
    assert by_net["DMN"] == pytest.approx((gbc[0] + gbc[2]) / 2)


def test_proportional_threshold_keeps_strongest(rng: np.random.Generator) -> None:
    """round(density * n(n-1)/2) strongest pairs survive; all kept >= all dropped."""
    m = _random_matrix(rng, 30)
    for density in (0.1, 0.15):
        adj = proportional_threshold(m, density)
        kept = np.triu(adj, 1) != 0
        assert kept.sum() == round(density * 30 * 29 / 2)
        np.testing.assert_array_equal(adj, adj.T)
        np.testing.assert_array_equal(adj[kept], m[kept])
        iu = np.triu(np.ones_like(kept), 1)
        assert m[kept].min() > m[iu & ~kept].max()
    negative = -np.abs(m)
    assert not np.any(proportional_threshold(negative, 0.1))
    with pytest.raises(InputError, match="density"):
        proportional_threshold(m, 0.0)


def test_degree_matches_networkx(rng: np.random.Generator) -> None:
    """Degree and strength equal networkx's on the same thresholded graph."""
    nx = pytest.importorskip("networkx")
    m, labels = _random_matrix(rng, 25), _labels(rng, 25)
    adj = proportional_threshold(m, 0.15)
    graph = nx.from_numpy_array(adj)
    res = network_node_measures(m, labels, "DMN", density=0.15)
    np.testing.assert_array_equal(res.degree, [graph.degree(int(i)) for i in res.nodes])
    np.testing.assert_allclose(
        res.strength, [graph.degree(int(i), weight="weight") for i in res.nodes]
    )


def _loop_participation(adj: np.ndarray, labels: list[str]) -> np.ndarray:
    out = []
    for i in range(len(labels)):
        total = sum(adj[i, j] for j in range(len(labels)) if j != i)
        if total == 0:
            out.append(0.0)
            continue
        share = {}
        for j in range(len(labels)):
            if j != i:
                share[labels[j]] = share.get(labels[j], 0.0) + adj[i, j]
        out.append(1.0 - sum((v / total) ** 2 for v in share.values()))
    return np.array(out)


def test_participation_coefficient_hand_and_loop(rng: np.random.Generator) -> None:
    """Hand cases, then a loop over nodes and modules on binary and weighted graphs."""
    adj = np.zeros((5, 5))
    for i, j in [(0, 1), (0, 2), (3, 4)]:
        adj[i, j] = adj[j, i] = 1.0
    labels = ["DMN", "DMN", "SN", "SN", "SN"]
    # Node 0: one link in DMN, one in SN -> 1 - (1/4 + 1/4) = 0.5; node 3: all in SN -> 0.
    np.testing.assert_allclose(participation_coefficient(adj, labels), [0.5, 0, 0, 0, 0])
    m, labs = _random_matrix(rng, 27), _labels(rng, 27)
    weighted = proportional_threshold(m, 0.2)
    binary = (weighted > 0).astype(float)
    for graph in (weighted, binary):
        np.testing.assert_allclose(
            participation_coefficient(graph, labs), _loop_participation(graph, labs), atol=1e-12
        )
    with pytest.raises(InputError, match="non-negative"):
        participation_coefficient(m, labs)


def test_participation_coefficient_matches_bctpy(rng: np.random.Generator) -> None:
    """Equal to bct.participation_coef, and thresholding equal to bct's proportional rule."""
    bct = pytest.importorskip("bct")
    m, labs = _random_matrix(rng, 31), _labels(rng, 31)
    for density in (0.1, 0.15):
        ours = proportional_threshold(m, density)
        np.testing.assert_allclose(ours, bct.threshold_proportional(m, density))
        _, codes = np.unique(labs, return_inverse=True)
        for graph in (ours, (ours > 0).astype(float)):
            with np.errstate(divide="ignore", invalid="ignore"):  # bct divides by 0 degree
                expected = bct.participation_coef(graph, codes + 1)
            np.testing.assert_allclose(
                participation_coefficient(graph, labs), expected, atol=1e-12
            )


def test_network_node_measures_hand() -> None:
    """Unassigned region removed; 3 of 6 edges kept at density 0.5 (0.8, 0.6, 0.3)."""
    res = network_node_measures(HAND, HAND_NETWORKS, "DMN", density=0.5)
    np.testing.assert_array_equal(res.nodes, [0, 2])
    np.testing.assert_array_equal(res.degree, [1, 2])
    np.testing.assert_allclose(res.strength, [0.8, 1.1])
    # Node 2 links to DMN node 0 and SN node 3: P = 0.5; node 0 only within DMN: 0.
    np.testing.assert_allclose(res.participation, [0.0, 0.5])
    assert res.mean_degree == pytest.approx(1.5)
    assert res.mean_strength == pytest.approx(0.95)
    assert res.mean_participation == pytest.approx(0.25)
    assert res.density == 0.5
    assert res.network == "DMN"


def test_network_node_measures_matches_parts(rng: np.random.Generator) -> None:
    """Averages equal the per-node values computed from the building blocks."""
    m, labels = _random_matrix(rng, 29), _labels(rng, 29)
    res = network_node_measures(m, labels, "DMN", density=0.12, exclude=())
    adj = proportional_threshold(m, 0.12)
    binary = (adj > 0).astype(float)
    dmn = np.flatnonzero(np.array(labels) == "DMN")
    np.testing.assert_array_equal(res.nodes, dmn)
    np.testing.assert_array_equal(res.degree, binary[dmn].sum(axis=1))
    np.testing.assert_allclose(res.strength, adj[dmn].sum(axis=1))
    loop = _loop_participation(binary, labels)[dmn]
    np.testing.assert_allclose(res.participation, loop, atol=1e-12)
    assert res.mean_participation == pytest.approx(loop.mean())
    assert not res.degree.flags.writeable


def test_anticorrelation_pools_present_networks() -> None:
    """Mean over DMN x (SN + FPN) pairs; the missing networks are recorded."""
    labels = ["DMN", "SN", "DMN", "FPN", "VIS"]
    m = np.zeros((5, 5))
    pairs = {(0, 1): -0.3, (0, 3): -0.1, (2, 1): 0.2, (2, 3): -0.6, (0, 4): 0.9, (0, 2): 0.7}
    for (i, j), v in pairs.items():
        m[i, j] = m[j, i] = v
    res = dmn_anticorrelation(m, labels)
    assert res.value == pytest.approx((-0.3 - 0.1 + 0.2 - 0.6) / 4)
    assert res.networks_used == ("FPN", "SN")
    assert res.networks_missing == ("DAN", "VAN", "CON")
    assert res.n_pairs == 4
    assert TASK_POSITIVE_NETWORKS == ("DAN", "FPN", "SN", "VAN", "CON")
    only_sn = dmn_anticorrelation(m, labels, task_positive=["SN"])
    assert only_sn.value == pytest.approx((-0.3 + 0.2) / 2)
    with pytest.raises(InputError, match="none of the task-positive networks"):
        dmn_anticorrelation(m, labels, task_positive=["DAN"])
    with pytest.raises(InputError, match="non-DMN"):
        dmn_anticorrelation(m, labels, task_positive=["DMN", "SN"])
    with pytest.raises(InputError, match="'DMN' is not one of"):
        dmn_anticorrelation(m, ["SN"] * 5)


def test_anticorrelation_on_dosenbach_atlas(rng: np.random.Generator) -> None:
    """Dosenbach-160 has FPN and CON but no DAN, SN or VAN: those two are pooled."""
    from dmnpharm.atlases import load_atlas

    atlas = load_atlas("dosenbach160")
    m = _random_matrix(rng, atlas.n_regions)
    res = dmn_anticorrelation(m, atlas.networks)
    assert set(res.networks_used) == {"FPN", "CON"}
    assert set(res.networks_missing) == {"DAN", "SN", "VAN"}
    nets = np.array(atlas.networks)
    block = m[np.ix_(nets == "DMN", np.isin(nets, ["FPN", "CON"]))]
    assert res.value == pytest.approx(block.mean())
    assert res.n_pairs == block.size
