"""The embedded atlases and the network vocabulary."""

import numpy as np
import pytest

from dmnpharm.atlases import NETWORKS, Atlas, available_atlases, load_atlas
from dmnpharm.exceptions import InputError


def test_seitzman300_regions_and_networks() -> None:
    """Seitzman-300 has 300 regions; its network counts follow the published labels."""
    atlas = load_atlas("seitzman300")
    assert atlas.n_regions == 300
    assert len(set(atlas.labels)) == 300
    assert atlas.networks.count("DMN") == 67
    assert atlas.networks.count("SN") == 9
    assert set(atlas.networks) <= set(NETWORKS)
    dmn = atlas.network_indices("DMN")
    assert all(atlas.source_networks[i] == "DefaultMode" for i in dmn)
    # the posterior cingulate/precuneus core of the DMN lies near the midline, posterior
    coords = np.asarray(atlas.coords)[dmn]
    assert np.any((np.abs(coords[:, 0]) < 12) & (coords[:, 1] < -40) & (coords[:, 2] > 15))


def test_dosenbach160_loads() -> None:
    """Dosenbach-160 has 160 regions, 34 of them default-network."""
    atlas = load_atlas("dosenbach160")
    assert atlas.n_regions == 160
    assert atlas.networks.count("DMN") == 34


def test_unknown_atlas_suggests_closest() -> None:
    """A misspelt atlas name gets a suggestion."""
    assert "seitzman300" in available_atlases()
    with pytest.raises(InputError, match="did you mean 'seitzman300'"):
        load_atlas("seitzman-300")


def test_network_indices_errors() -> None:
    """Unknown codes and networks the atlas lacks are clear errors."""
    atlas = load_atlas("dosenbach160")
    with pytest.raises(InputError, match="did you mean 'DMN'"):
        atlas.network_indices("dmn")
    with pytest.raises(ValueError, match="has no region in network 'SN'"):
        atlas.network_indices("SN")


def test_atlas_checks_lengths() -> None:
    """Per-region fields must all have one entry per region."""
    with pytest.raises(ValueError, match="networks has a length"):
        Atlas("x", ("a", "b"), ("DMN",), ("d", "d"), ((0, 0, 0), (1, 1, 1)), "MNI152", "")
    with pytest.raises(ValueError, match="not in NETWORKS"):
        Atlas("x", ("a",), ("XYZ",), ("d",), ((0, 0, 0),), "MNI152", "")
