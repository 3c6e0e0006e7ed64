"""Measures whose meaning depends on SNR or GSR carry their caveat in the methods text."""

from __future__ import annotations

from dmnpharm.metrics import MEASURE_CAVEATS, NETWORK_MEASURES
from dmnpharm.report import caveats_sentence


def test_every_caveat_names_a_bundle_measure() -> None:
    """Caveats are keyed by network-level measures of the bundle."""
    assert set(MEASURE_CAVEATS) <= set(NETWORK_MEASURES)
    assert {"dmn_sample_entropy", "dmn_lz_complexity", "dmn_gbc"} <= set(MEASURE_CAVEATS)


def test_the_sentence_lists_only_reported_measures_with_a_caveat() -> None:
    """Entropy's SNR caveat and GBC's GSR caveat appear; plain FC has none."""
    text = caveats_sentence(["dmn_within_fc", "dmn_sample_entropy", "dmn_gbc"])
    assert text.startswith("Caveats: ")
    assert "signal-to-noise" in text
    assert "global signal regression" in text
    assert "dmn_within_fc" not in text
    assert caveats_sentence(["dmn_within_fc"]) == ""
