"""The shipped evidence catalog, its schema checks and its lookups."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dmnpharm.catalog import (
    COMPUTED,
    DESIGNS,
    VERDICTS,
    VOCABULARY,
    Catalog,
    Claim,
    ClaimLink,
    Publication,
    default_catalog_path,
    derive_verdict,
    load_catalog,
    validate,
)
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import NETWORK_MEASURES

#: The drug classes of docs/design.md's claims table (plus ketamine), by catalog id.
DESIGN_CLASSES = {
    "SSRIs/SNRIs": "ssri_snri",
    "tricyclics": "tca",
    "atypical antipsychotics": "atypical_antipsychotic",
    "lithium and anticonvulsants": "mood_stabilizer",
    "benzodiazepines and Z-drugs": "benzodiazepine",
    "ADHD stimulants": "stimulant",
    "LSD, psilocybin, MDMA": "psychedelic",
    "ketamine": "nmda_antagonist",
}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """Return the shipped TOML document, parsed."""
    with default_catalog_path().open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """Return the shipped catalog."""
    return load_catalog()


def _minimal() -> dict[str, Any]:
    """Return a small valid catalog document to break by hand."""
    study = {
        "id": "smith2020",
        "first_author": "Smith",
        "year": 2020,
        "journal": "J Test 1:1",
        "doi": "10.1234/test.1",
        "agents": ["drug_a"],
        "drug_class": "cls",
        "dose": "10 mg",
        "design": "crossover",
        "population": "healthy",
        "n": "20 HC",
        "modality": "rest",
        "confirmation": "confirmed",
        "note": "",
        "findings": [
            {
                "measure": "dmn_within_fc",
                "direction": "decrease",
                "effect": "d = 0.5",
                "effect_size": 0.5,
                "effect_kind": "d",
                "effect_n": 20,
                "se": 0.23,
                "effect_source": "Table 1",
                "effect_confidence": "verified",
            }
        ],
    }
    other = {**copy.deepcopy(study), "id": "jones2021", "doi": "10.1234/test.2"}
    return {
        "version": "2026.11.0",
        "drug_classes": [{"id": "cls", "name": "A class", "description": "x"}],
        "agents": [
            {
                "id": "drug_a",
                "name": "Drug A",
                "drug_class": "cls",
                "targets": [{"target": "5HTT", "mode": "inhibitor"}],
            }
        ],
        "populations": [{"id": "healthy", "name": "Healthy", "description": "x"}],
        "studies": [study, other],
        "baselines": [],
        "claims": [
            {
                "id": "claim_a",
                "drug_class": "cls",
                "population": "healthy",
                "statement": "Drug A lowers within-DMN FC.",
                "measures": ["dmn_within_fc"],
                "expected_direction": "decrease",
                "links": [
                    {"study": "smith2020", "relation": "supports"},
                    {"study": "jones2021", "relation": "supports"},
                ],
                "verdict": "supported",
                "rationale": "Two confirmed resting studies agree.",
            }
        ],
    }


def test_shipped_catalog_validates(raw: dict[str, Any]) -> None:
    """The shipped file has no schema problem and carries its version."""
    assert validate(raw) == []
    assert raw["version"] == "2026.12.1"


def test_shipped_catalog_size(catalog: Catalog) -> None:
    """Every study of the reference table (95 rows) is transcribed."""
    assert len(catalog.studies) == 95
    assert not any(re.search(r"\bRow \d", s.note) for s in catalog.studies)
    assert len(catalog.claims) >= 10
    assert catalog.baselines


@pytest.mark.parametrize(("label", "class_id"), DESIGN_CLASSES.items())
def test_every_design_drug_class_is_present(catalog: Catalog, label: str, class_id: str) -> None:
    """Each class of docs/design.md has an entry, agents, and (except ketamine) a claim."""
    assert catalog.drug_class(class_id).id == class_id, label
    assert any(a.drug_class == class_id for a in catalog.agents)
    if class_id != "nmda_antagonist":
        assert catalog.claims_for(drug_class=class_id)


def test_dois_are_valid_and_unique(catalog: Catalog) -> None:
    """Every DOI matches the DOI syntax and none is used twice."""
    dois = [s.doi for s in catalog.studies if s.doi is not None]
    assert len(dois) > 60
    assert all(re.match(r"^10\.\d{4,9}/\S+$", d) for d in dois)
    assert len({d.lower() for d in dois}) == len(dois)


def test_study_ids_are_unique_and_lowercase(catalog: Catalog) -> None:
    """Publication (study) ids are unique lowercase letters and digits."""
    ids = [s.id for s in catalog.studies]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*", i) for i in ids)


def test_stored_verdicts_follow_the_rule(catalog: Catalog) -> None:
    """Each claim's stored verdict equals the derived one."""
    by_id = catalog.studies_by_id
    for claim in catalog.claims:
        assert claim.verdict == derive_verdict(claim, by_id), claim.id


def test_verdicts_reflect_the_evidence(catalog: Catalog) -> None:
    """Claims without resting evidence or with contradictions say so."""
    verdicts = {c.id: c.verdict for c in catalog.claims}
    assert set(verdicts.values()) <= set(VERDICTS)
    assert verdicts["tca_broader_effects"] == "no resting-state evidence"
    assert verdicts["benzodiazepine_anxiety_decrease"] == "no resting-state evidence"
    assert verdicts["ssri_healthy_within_decrease"] == "contested"
    assert verdicts["stimulant_adhd_dmn_activity"] == "weak"


def test_every_measure_is_in_the_vocabulary(catalog: Catalog) -> None:
    """Findings, baselines and claims use the controlled vocabulary only."""
    used = {f.measure for s in catalog.studies for f in s.findings}
    used |= {b.measure for b in catalog.baselines}
    used |= {m for c in catalog.claims for m in c.measures}
    assert used <= set(VOCABULARY)
    assert set(NETWORK_MEASURES) == COMPUTED
    assert set(VOCABULARY) > COMPUTED
    assert all("[catalog only]" in VOCABULARY[m] for m in set(VOCABULARY) - COMPUTED)


def test_task_only_studies_are_marked(catalog: Catalog) -> None:
    """Task-evoked findings come from task studies, never from rest-only ones."""
    for study in catalog.studies:
        if any(f.measure == "dmn_activity_task" for f in study.findings):
            assert study.modality in ("task", "rest+task"), study.id
    assert catalog.study("peterson2009").modality == "task"


def test_effect_sizes_are_transcribed(catalog: Catalog) -> None:
    """Standardized effects given in the reference are stored with their kind."""
    norman = {f.measure: f for f in catalog.study("norman2022").findings}
    assert norman["dmn_dan_fc"].effect_size == pytest.approx(0.17)
    assert (norman["dmn_dan_fc"].effect_metric, norman["dmn_dan_fc"].effect_kind) == ("d", "d")
    core = catalog.study("pmc7856327").findings[0]
    assert (core.effect_size, core.effect_metric) == (pytest.approx(-0.246), "g")
    assert (core.effect_kind, core.ci_low, core.ci_high) == ("hedges_g", -0.417, -0.074)


def test_validate_reports_every_problem_at_once() -> None:
    """Bad enum, unknown reference, duplicate id and bad DOI are all listed."""
    doc = _minimal()
    assert validate(doc) == []
    doc["studies"][0]["design"] = "crosover"
    doc["studies"][1]["doi"] = "doi:10.1234/x"
    doc["studies"].append(copy.deepcopy(doc["studies"][0]) | {"doi": "10.1234/test.9"})
    doc["claims"][0]["links"].append({"study": "nobody1999", "relation": "supports"})
    problems = validate(doc)
    text = "\n".join(problems)
    assert "design 'crosover' is not one of" in text
    assert "did you mean 'crossover'?" in text
    assert "'doi:10.1234/x' is not a DOI" in text
    assert "duplicate id 'smith2020'" in text
    assert "study 'nobody1999' is not a known study" in text
    assert len(problems) >= 4


def test_validate_finds_schema_and_reference_problems() -> None:
    """Unknown keys, missing fields, unknown measures and agents, repeated DOIs."""
    doc = _minimal()
    doc["studies"][0]["colour"] = "blue"
    del doc["studies"][1]["n"]
    doc["studies"][1]["doi"] = "10.1234/TEST.1"
    doc["studies"][0]["findings"][0]["measure"] = "dmn_within"
    doc["studies"][0]["agents"] = ["drug_b"]
    doc["claims"][0]["population"] = "martians"
    doc["bogus"] = 1
    text = "\n".join(validate(doc))
    assert "unknown key 'colour'" in text
    assert "missing field 'n'" in text
    assert "is used by more than one study" in text
    assert "measure 'dmn_within' is not one of" in text
    assert "agents 'drug_b' is not a known agent" in text
    assert "population 'martians' is not a known population" in text
    assert "unknown top-level key 'bogus'" in text


def test_validate_checks_the_verdict() -> None:
    """A stored verdict that the links do not give is reported."""
    doc = _minimal()
    doc["claims"][0]["verdict"] = "weak"
    assert any("derived 'supported'" in p for p in validate(doc))
    doc["studies"][1]["modality"] = "task"
    doc["claims"][0]["verdict"] = "weak"
    assert validate(doc) == []


def test_load_catalog_raises_with_all_problems(tmp_path: Path) -> None:
    """A broken file raises InputError naming every problem."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'version = "2026.11.0"\n[[studies]]\nid = "x2020"\ndesign = "xover"\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match="problems") as info:
        load_catalog(bad)
    assert "xover" in str(info.value)
    assert "missing field 'journal'" in str(info.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_catalog(broken)
    with pytest.raises(InputError, match="cannot read"):
        load_catalog(tmp_path / "missing.toml")


def test_derive_verdict_rule() -> None:
    """The written rule: rest only; contradiction; two confirmed or a meta-analysis."""
    base = Publication(
        id="a2020",
        first_author="A",
        year=2020,
        journal="",
        doi=None,
        agents=(),
        drug_class="x",
        dose="",
        design="crossover",
        population="healthy",
        n="",
        modality="rest",
        findings=(),
        gsr=None,
        confirmation="confirmed",
        note="",
    )
    studies = {
        "rest1": base,
        "rest2": base,
        "task": base.__class__(**{**base.__dict__, "modality": "task"}),
        "meta": base.__class__(**{**base.__dict__, "design": "meta-analysis"}),
        "partial": base.__class__(**{**base.__dict__, "confirmation": "partial"}),
        "unconf": base.__class__(**{**base.__dict__, "confirmation": "unconfirmed"}),
    }

    def verdict(*links: tuple[str, str]) -> str:
        claim = Claim("c", "x", "healthy", "", (), "decrease", (), "weak", "")
        claim = Claim(**{**claim.__dict__, "links": tuple(ClaimLink(s, r) for s, r in links)})
        return derive_verdict(claim, studies)

    assert verdict() == "no resting-state evidence"
    assert verdict(("task", "supports")) == "no resting-state evidence"
    assert verdict(("rest1", "supports")) == "weak"
    assert verdict(("rest1", "supports"), ("rest2", "supports")) == "supported"
    assert verdict(("meta", "supports")) == "supported"
    assert verdict(("rest1", "supports"), ("partial", "supports")) == "weak"
    assert verdict(("rest1", "supports"), ("rest2", "supports"), ("partial", "contradicts")) == (
        "contested"
    )
    assert verdict(("rest1", "supports"), ("rest2", "supports"), ("unconf", "contradicts")) == (
        "supported"
    )
    with pytest.raises(InputError, match="unknown study"):
        verdict(("nobody", "supports"))


def test_lookups(catalog: Catalog) -> None:
    """Studies, agents, classes, claims and baselines are found by their keys."""
    assert catalog.study("Schaefer2014").doi == "10.1016/j.cub.2014.08.024"
    assert catalog.agent("LSD").id == "lsd"
    assert catalog.agent("Methylphenidate").drug_class == "stimulant"
    assert catalog.drug_class("ssri_snri").name == "SSRIs and SNRIs"
    with pytest.raises(InputError, match="did you mean 'escitalopram'"):
        catalog.agent("escitalopran")
    with pytest.raises(InputError, match="study"):
        catalog.study("nobody1999")

    ssri = catalog.claims_for(drug_class="ssri_snri")
    assert {c.drug_class for c in ssri} == {"ssri_snri", "any"}
    assert {c.population for c in ssri} == {"mdd", "healthy", "any"}
    assert catalog.claims_for(drug_class="escitalopram") == ssri
    healthy = catalog.claims_for(population="healthy")
    assert any(c.population == "any" for c in healthy)
    assert all(
        "dmn_anticorrelation" in c.measures
        for c in catalog.claims_for(measure="dmn_anticorrelation")
    )

    lsd = catalog.studies_for(drug="lsd")
    assert {"muller2018", "preller2018", "carhartharris2016"} <= {s.id for s in lsd}
    psychedelic = catalog.studies_for(drug="psychedelic", population="healthy")
    assert {s.id for s in lsd if s.population == "healthy"} <= {s.id for s in psychedelic}
    adhd_anti = catalog.studies_for(population="adhd", measure="dmn_anticorrelation")
    assert {"norman2022", "castellanos2008"} <= {s.id for s in adhd_anti}
    with pytest.raises(InputError, match="measure"):
        catalog.studies_for(measure="dmn_within")
    assert {b.id for b in catalog.baselines_for(population="mdd", measure="dmn_within_fc")} == {
        "mdd_within_hyper",
        "mdd_within_hypo",
        "mdd_within_none",
    }


def test_designs_cover_the_data(catalog: Catalog) -> None:
    """Every design used is known and the extended designs are in use."""
    used = {s.design for s in catalog.studies}
    assert used <= set(DESIGNS)
    assert {"review", "modeling", "placebo-controlled"} <= used


def test_catalog_is_hashable(catalog: Catalog) -> None:
    """The frozen catalog can go into provenance and sets."""
    assert hash(catalog) == hash(load_catalog())
