"""The pharmacology file: schema checks, coverage of the catalog, a source for every number."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

# Private modules until dmnpharm.catalog exports these names.
from dmnpharm.catalog import load_catalog
from dmnpharm.catalog._pharmacology import CONFIDENCE, Pharmacology, load_pharmacology
from dmnpharm.exceptions import InputError

SHIPPED = Path(__file__).resolve().parents[2] / "src/dmnpharm/catalog/data/pharmacology.toml"

#: The 19 PET maps of Hansen et al. (2022).
HANSEN_TARGETS = {"5HT1a", "5HT1b", "5HT2a", "5HT4", "5HT6", "5HTT", "A4B2", "CB1", "D1", "D2"}
HANSEN_TARGETS |= {"DAT", "GABAa", "H3", "M1", "mGluR5", "MOR", "NET", "NMDA", "VAChT"}

MINIMAL = """
version = "2026.11.0"

[[receptors]]
target = "5HTT"
transmitter = "serotonin"
coupling = "transporter"
excitability = 0
in_hansen2022 = true
source = "IUPHAR/BPS Guide to Pharmacology"

[[agents]]
id = "escitalopram"

[agents.dose]
usual_dose_mg = 10.0
route = "oral"
basis = "daily dose"
source = "labelling"
confidence = "unverified"

[[agents.components]]
name = "escitalopram"
molecular_weight = 324.4
source = "formula"
confidence = "derived"

[agents.components.plasma]
dose_mg = 10.0
concentration_ng_ml = 20.0
kind = "Cmax"
source = "a PK study"
confidence = "unverified"

[[agents.targets]]
target = "5HTT"
action = "inhibitor"
ki_nM = 1.1
ki_kind = "Ki"
source = "a binding study"
confidence = "unverified"

[[agents.occupancy]]
target = "5HTT"
dose_mg = 10.0
occupancy = 0.64
tracer = "[123I]ADAM SPECT"
source = "a PET study"
confidence = "verified"
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a pharmacology file and return its path."""
    path = tmp_path / "pharmacology.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped() -> Pharmacology:
    """Load the pharmacology file shipped with dmnpharm."""
    return load_pharmacology()


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    """A small valid file gives profiles, receptors and lookups."""
    ph = load_pharmacology(write(tmp_path, MINIMAL))
    profile = ph.profile("escitalopram")
    assert ph.agents == ("escitalopram",)
    assert profile.targets[0].ki_nm == pytest.approx(1.1)
    assert profile.targets[0].component == "escitalopram"
    assert profile.measurements("5HTT")[0].occupancy == pytest.approx(0.64)
    assert ph.receptor("5HTT").coupling == "transporter"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('tracer = "[123I]ADAM SPECT"\n', "", "occupancy[0] (5HTT): missing field 'tracer'"),
        ('action = "inhibitor"', 'action = "inhibtor"', "did you mean 'inhibitor'?"),
        ("occupancy = 0.64", "occupancy = 1.2", "occupancy 1.2 is outside [0.0, 1.0]"),
        ("ki_nM = 1.1", "ki_nM = -1.1", "ki_nM -1.1 is outside (0.0, inf]"),
        ('source = "a binding study"\n', "", "ki_nM given without source"),
        ('source = "a PK study"\n', "", "plasma: missing field 'source'"),
        ('id = "escitalopram"', 'id = "escitalopam"', "is not an agent of the catalog"),
        ("excitability = 0", "excitability = 2", "excitability 2 is not one of"),
    ],
)
def test_each_kind_of_bad_field_is_named(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """Missing field, unknown action, occupancy > 1, negative Ki, no source, unknown agent."""
    assert old in MINIMAL
    with pytest.raises(InputError) as info:
        load_pharmacology(write(tmp_path, MINIMAL.replace(old, new, 1)))
    message = str(info.value)
    assert expected in message
    assert "pharmacology.toml" in message
    if "receptors" not in message:
        assert "agents[0] (escital" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    """Two bad fields give two lines, not the first only."""
    text = MINIMAL.replace("occupancy = 0.64", "occupancy = -0.5").replace(
        "ki_nM = 1.1", "ki_nM = 0"
    )
    with pytest.raises(InputError, match=r"occupancy -0\.5") as info:
        load_pharmacology(write(tmp_path, text))
    assert "ki_nM 0 is outside" in str(info.value)


def test_unreadable_files_are_input_errors(tmp_path: Path) -> None:
    """A missing file and a file that is not TOML raise InputError naming the file."""
    with pytest.raises(InputError, match="cannot read pharmacology file"):
        load_pharmacology(tmp_path / "absent.toml")
    with pytest.raises(InputError, match="cannot be read as TOML"):
        load_pharmacology(write(tmp_path, "version = \n"))


def test_unknown_lookups_suggest_the_closest(shipped: Pharmacology) -> None:
    """Profile and receptor lookups fail with a did-you-mean."""
    with pytest.raises(InputError, match="did you mean 'escitalopram'"):
        shipped.profile("escitalopam")
    with pytest.raises(InputError, match="did you mean '5HT2a'"):
        shipped.receptor("5HT2A ")


def test_the_shipped_file_is_cached(shipped: Pharmacology) -> None:
    """Loading twice returns the same object."""
    assert load_pharmacology() is shipped


def test_every_catalog_agent_has_a_profile(shipped: Pharmacology) -> None:
    """The shipped file covers exactly the agents of evidence.toml, with their targets."""
    catalog = load_catalog()
    assert sorted(shipped.agents) == sorted(a.id for a in catalog.agents)
    for agent in catalog.agents:
        profiled = {t.target for t in shipped.profile(agent.id).targets}
        assert {t.target for t in agent.targets} <= profiled, agent.id


def test_every_target_has_a_coupling(shipped: Pharmacology) -> None:
    """All 19 Hansen maps and every target used appear in [[receptors]]."""
    receptors = {r.target for r in shipped.receptors}
    assert receptors >= HANSEN_TARGETS
    assert {r.target for r in shipped.receptors if r.in_hansen2022} == HANSEN_TARGETS
    used = {t.target for p in shipped.profiles for t in p.targets}
    assert used <= receptors


def _tables(node: Any) -> list[dict[str, Any]]:
    """Every table of a parsed TOML document, nested ones included."""
    if isinstance(node, list):
        return [t for item in node for t in _tables(item)]
    if isinstance(node, dict):
        return [node, *(t for value in node.values() for t in _tables(value))]
    return []


def test_every_number_has_a_source_and_a_confidence() -> None:
    """Each table holding a number names its source; agent numbers also say how checked."""
    raw = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    checked = 0
    for table in _tables(raw["agents"]) + _tables(raw["receptors"]):
        numbers = [
            k
            for k, v in table.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "excitability"
        ]
        for key in numbers:
            checked += 1
            source = table.get(f"{key}_source", table.get("source", ""))
            assert isinstance(source, str), (key, table)
            assert source.strip(), (key, table)
            if key != "intrinsic_activity":
                assert table.get("confidence") in CONFIDENCE, (key, table)
    assert checked > 150


def test_no_doi_is_malformed() -> None:
    """Every DOI cited has the 10.NNNN/suffix form."""
    text = SHIPPED.read_text(encoding="utf-8")
    for doi in re.findall(r"doi:(\S+?)[;,)\"\s]", text):
        assert re.match(r"^10\.\d{4,9}/\S+$", doi), doi
