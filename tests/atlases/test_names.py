"""Common network names of users' atlas tables map onto the vocabulary."""

from __future__ import annotations

import pytest

from dmnpharm.atlases import NETWORKS
from dmnpharm.atlases._names import COMMON_NETWORK_NAMES, normalise_network_name, standard_network


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Default", "DMN"),
        ("Default mode", "DMN"),
        ("DefaultMode", "DMN"),
        ("default_mode_network", "DMN"),
        ("7Networks_7", "DMN"),
        ("SalVentAttn", "SN"),
        ("Fronto-parietal Task Control", "FPN"),
        ("Cingulo-opercular Task Control", "CON"),
        ("DorsAttn", "DAN"),
        ("Sensory/somatomotor Hand", "SMN"),
        ("Visual", "VIS"),
        ("Limbic", "LIM"),
        ("Subcortical", "SUB"),
        ("Uncertain", "NONE"),
        ("DMN", "DMN"),
    ],
)
def test_common_names_are_recognised(name: str, code: str) -> None:
    """Yeo, Schaefer, Power/Seitzman and Gordon spellings map to their codes."""
    assert standard_network(name) == code


def test_every_common_name_maps_into_the_vocabulary() -> None:
    """Keys are already normalised and values are codes of NETWORKS."""
    for key, code in COMMON_NETWORK_NAMES.items():
        assert normalise_network_name(key) == key
        assert code in NETWORKS
    assert standard_network("Wernicke") is None
    assert standard_network("Ventral Attention") is None  # ambiguous: needs a mapping
