"""Network-based statistic: finds a planted subnetwork, calibrated under the null."""

import numpy as np
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.stats import Exchangeability, network_based_statistic

N_NODES = 20
EDGES = np.array([(i, j) for i in range(N_NODES) for j in range(i + 1, N_NODES)])


def _paired(rng: np.random.Generator, n: int, effect: float) -> np.ndarray:
    """Per-subject differences; edges among nodes 0-5 increase by ``effect`` SD."""
    d = rng.normal(size=(n, EDGES.shape[0]))
    planted = (EDGES[:, 0] < 6) & (EDGES[:, 1] < 6)
    d[:, planted] += effect
    return d


def test_nbs_finds_the_planted_component(rng: np.random.Generator) -> None:
    """The 15 planted edges form the significant component; nothing else is."""
    d = _paired(rng, 20, 1.2)
    flips = Exchangeability("sign-flip")
    res = network_based_statistic(
        d, np.ones((20, 1)), [1], EDGES, N_NODES, 3.0, exchangeability=flips, n_permutations=999
    )
    top = res.components.iloc[0]
    assert top["sign"] == 1
    assert top["p_fwer"] < 0.01
    assert set(map(int, top["nodes"].split(","))) <= set(range(6))
    assert top["n_edges"] >= 12
    assert (res.components["p_fwer"].iloc[1:] > 0.05).all()
    intensity = network_based_statistic(
        d,
        np.ones((20, 1)),
        [1],
        EDGES,
        N_NODES,
        3.0,
        exchangeability=flips,
        n_permutations=199,
        measure="intensity",
    )
    assert intensity.components["p_fwer"].iloc[0] < 0.05


@pytest.mark.parametrize(
    ("measure", "low", "high"), [("intensity", 0.005, 0.095), ("extent", 0.0, 0.08)]
)
def test_nbs_null_fwer_is_alpha(
    rng: np.random.Generator, measure: str, low: float, high: float
) -> None:
    """No effect: some component reaches p <= 0.05 in about 5 % of 200 datasets.

    Intensity is continuous: 0.05 +/- 0.045. Extents are small integers with many
    ties here (20 nodes, threshold 2.5), which makes the extent test conservative
    (3.7 % over 300 datasets in our check), so only an upper bound is asserted.
    """
    flips = Exchangeability("sign-flip")
    hits = []
    for i in range(200):
        res = network_based_statistic(
            _paired(rng, 14, 0.0),
            np.ones((14, 1)),
            [1],
            EDGES,
            N_NODES,
            2.5,
            exchangeability=flips,
            n_permutations=99,
            seed=i,
            measure=measure,
        )
        hits.append(bool((res.components["p_fwer"] <= 0.05).any()))
    assert low <= np.mean(hits) <= high


def test_nbs_rejects_bad_input(rng: np.random.Generator) -> None:
    """Edges, tail, measure and threshold are checked."""
    d = _paired(rng, 10, 0.0)
    x = np.ones((10, 1))
    with pytest.raises(InputError, match="edges"):
        network_based_statistic(d, x, [1], EDGES[:5], N_NODES)
    with pytest.raises(InputError, match="differ"):
        network_based_statistic(d, x, [1], np.zeros_like(EDGES), N_NODES)
    with pytest.raises(InputError, match="tail"):
        network_based_statistic(d, x, [1], EDGES, N_NODES, tail="up")
    with pytest.raises(InputError, match="threshold"):
        network_based_statistic(d, x, [1], EDGES, N_NODES, threshold=-1.0)
