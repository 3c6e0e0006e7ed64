"""One measure vocabulary on the command line: results/catalog names and simulator names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmnpharm.atlases import NETWORKS
from dmnpharm.catalog import COMPUTED, VOCABULARY
from dmnpharm.catalog._claim_tests import MEASURE_ALIASES
from dmnpharm.cli import main
from dmnpharm.cli._measures import (
    power_measure,
    results_measure,
    results_spelling,
    vocabulary_text,
)
from dmnpharm.exceptions import UsageError


@pytest.mark.parametrize(("simulated", "ours"), sorted(MEASURE_ALIASES.items()))
def test_the_two_spellings_name_one_definition(simulated: str, ours: str) -> None:
    """Each pair is one measure: the catalog's definition names the simulator's networks."""
    assert ours in COMPUTED
    definition = VOCABULARY[ours].lower()
    networks = simulated.split("_fc_")[1].split("_")
    for code in networks:
        words = NETWORKS[code].removesuffix(" network").lower()
        assert code.lower() in definition or words in definition, (simulated, definition)
    assert ("between" in definition) == (len(networks) == 2)


@pytest.mark.parametrize(("simulated", "ours"), sorted(MEASURE_ALIASES.items()))
def test_either_spelling_translates_both_ways(simulated: str, ours: str) -> None:
    """Results commands get the results name, power the simulator's, from either spelling."""
    for given in (simulated, ours, simulated.lower(), ours.upper(), f" {ours} "):
        assert results_measure(given) == ours
        assert power_measure(given) == simulated
    assert results_spelling(simulated) == ours


def test_between_network_pairs_in_either_order() -> None:
    """DMN-SN connectivity is one measure whichever network is named first."""
    assert results_measure("between_fc_SN_DMN") == "dmn_salience_fc"
    assert power_measure("between_fc_sn_dmn") == "between_fc_DMN_SN"
    assert results_spelling("between_fc_FPN_DMN") == "dmn_fpn_fc"


def test_other_networks_stay_simulator_names() -> None:
    """Power simulates any network pair; only the codes' case is corrected."""
    assert power_measure("within_fc_sn") == "within_fc_SN"
    assert power_measure("between_fc_SN_FPN") == "between_fc_SN_FPN"
    assert results_spelling("within_fc_SN") is None
    with pytest.raises(UsageError, match="no measure of that definition"):
        results_measure("within_fc_SN")


def test_catalog_only_and_results_names_resolve() -> None:
    """Every name of the catalog's vocabulary is accepted as it is."""
    for name in VOCABULARY:
        assert results_measure(name) == name


def test_power_refuses_what_it_cannot_simulate() -> None:
    """A results measure that is not connectivity is refused, with what power can test."""
    with pytest.raises(UsageError) as err:
        power_measure("dmn_alff")
    message = str(err.value)
    assert "'dmn_alff' is a measure of results tables that power cannot simulate" in message
    assert "dmn_within_fc = within_fc_DMN" in message


@pytest.mark.parametrize(
    ("given", "suggested", "translate"),
    [
        ("dmn_withn_fc", "dmn_within_fc", results_measure),
        ("within_fc_dmm", "within_fc_DMN", power_measure),
        ("dmn_salience", "dmn_salience_fc", power_measure),
    ],
)
def test_unknown_names_get_the_closest_of_both_vocabularies(
    given: str, suggested: str, translate: object
) -> None:
    """The error suggests the closest name and lists both spellings."""
    assert callable(translate)
    with pytest.raises(UsageError) as err:
        translate(given)
    message = str(err.value)
    assert f"--measure {given!r} is not a measure; did you mean '{suggested}'?" in message
    assert "dmn_within_fc" in message
    assert "within_fc_<NET>" in message


def test_the_vocabulary_text_lists_both_spellings() -> None:
    """Every computed measure, the catalog-only ones apart, and the simulator's patterns."""
    text = vocabulary_text()
    assert all(name in text for name in VOCABULARY)
    assert "catalog only: brain_entropy" in text
    assert "between_fc_<A>_<B>" in text
    power = vocabulary_text(for_power=True)
    assert "dmn_alff" not in power
    assert all(name in power for name in MEASURE_ALIASES)


def test_power_takes_the_results_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``power --measure dmn_salience_fc`` is ``--measure between_fc_SN_DMN``: same files."""
    base = ["power", "--subjects", "6", "--studies", "4", "--permutations", "19"]
    base += ["--workers", "1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--measure", "dmn_salience_fc"]) == 0
    said = capsys.readouterr().err
    assert "between_fc_DMN_SN is dmn_salience_fc in results tables and the catalog" in said
    assert main([*base, "--out", str(tmp_path / "b"), "--measure", "between_fc_SN_DMN", "-q"]) == 0
    for name in ("power.tsv", "power_studies.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    record = json.loads((tmp_path / "a" / "power.json").read_text())
    assert record["contrast"]["measure"] == "between_fc_DMN_SN"
    assert main([*base, "--out", str(tmp_path / "c"), "--measure", "dmn_alf"]) == 2
    assert "did you mean 'dmn_alff'?" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_catalog_takes_the_simulator_name(capsys: pytest.CaptureFixture[str]) -> None:
    """``catalog findings --measure within_fc_DMN`` lists the findings on dmn_within_fc."""
    argv = ["catalog", "findings", "--format", "tsv", "--measure"]
    assert main([*argv, "dmn_within_fc"]) == 0
    ours = capsys.readouterr().out
    assert main([*argv, "within_fc_DMN"]) == 0
    assert capsys.readouterr().out == ours
    assert "\tdmn_within_fc\t" in ours
    assert main([*argv, "within_fc_VIS"]) == 2
    assert "no measure of that definition" in capsys.readouterr().err
