"""Catalog tables, rendering, one publication and a class's evidence summary.

Most tests use a small catalog built here from the dataclasses, so that every
expected row is known; the last ones run the same queries on the shipped catalog.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from dmnpharm.catalog import (
    Agent,
    Baseline,
    Catalog,
    Claim,
    ClaimLink,
    DrugClass,
    Finding,
    Population,
    Publication,
    Target,
    evidence_summary,
    load_catalog,
    render,
    show,
    table_of,
)
from dmnpharm.exceptions import InputError


def _publication(
    id: str,
    agents: tuple[str, ...],
    drug_class: str,
    population: str,
    findings: tuple[Finding, ...],
    design: str = "crossover",
    modality: str = "rest",
    confirmation: str = "confirmed",
) -> Publication:
    return Publication(
        id=id,
        first_author=id[:-4].capitalize(),
        year=int(id[-4:]),
        journal="J Test 1:1-2",
        doi=f"10.1234/{id}",
        agents=agents,
        drug_class=drug_class,
        dose="20 mg oral, single dose",
        design=design,
        population=population,
        n="22",
        modality=modality,
        findings=findings,
        gsr=False,
        confirmation=confirmation,
        note=f"note on {id}",
    )


@pytest.fixture(scope="module")
def tiny() -> Catalog:
    """Two classes, three agents, two populations, five studies, three claims."""
    within = "dmn_within_fc"
    studies = (
        _publication(
            "vandeven2013",
            ("escitalopram",),
            "ssri_snri",
            "healthy",
            (Finding(within, "decrease", "t = -3.1", -0.66, "d"),),
        ),
        _publication(
            "schaefer2014",
            ("escitalopram",),
            "ssri_snri",
            "healthy",
            (
                Finding("dmn_centrality", "decrease", "", None, ""),
                Finding(within, "decrease", "", None, ""),
            ),
        ),
        _publication(
            "wang2017",
            ("vilazodone",),
            "ssri_snri",
            "mdd",
            (Finding("dmn_core_within_fc", "normalization", "", None, ""),),
            design="longitudinal",
        ),
        _publication(
            "spies2017",
            ("escitalopram",),
            "ssri_snri",
            "mdd",
            (Finding("dmn_activity_task", "increase", "", None, ""),),
            design="open",
            modality="task",
        ),
        _publication(
            "carhart2016",
            ("lsd",),
            "psychedelic",
            "healthy",
            (
                Finding(within, "decrease", "", -0.9, "g"),
                Finding("dmn_salience_fc", "increase", "", 0.5, "d"),
            ),
            confirmation="partial",
        ),
    )
    return Catalog(
        version="2026.11.0",
        drug_classes=(
            DrugClass("ssri_snri", "SSRIs and SNRIs", "serotonin reuptake inhibitors"),
            DrugClass("psychedelic", "Classic psychedelics", "5-HT2A agonists"),
        ),
        agents=(
            Agent("escitalopram", "Escitalopram", "ssri_snri", (Target("SERT", "inhibitor"),)),
            Agent(
                "vilazodone",
                "Vilazodone",
                "ssri_snri",
                (Target("SERT", "inhibitor"), Target("5-HT1A", "partial agonist")),
            ),
            Agent("lsd", "LSD", "psychedelic", (Target("5HT2a", "agonist"),)),
        ),
        populations=(
            Population("healthy", "Healthy volunteers", "no diagnosis"),
            Population("mdd", "Major depression", "DSM major depressive disorder"),
        ),
        studies=studies,
        baselines=(
            Baseline("mdd_core", "mdd", "dmn_core_within_fc", "decrease", ("wang2017",), ""),
        ),
        claims=(
            Claim(
                "ssri_healthy_within",
                "ssri_snri",
                "healthy",
                "Within-DMN connectivity decreases in healthy volunteers.",
                (within,),
                "decrease",
                (ClaimLink("vandeven2013", "supports"), ClaimLink("schaefer2014", "partial")),
                "weak",
                "One confirmed supporting study; the other is partial.",
            ),
            Claim(
                "ssri_mdd_normalize",
                "ssri_snri",
                "mdd",
                "Heightened DMN connectivity normalizes with treatment.",
                ("dmn_core_within_fc",),
                "normalization",
                (ClaimLink("wang2017", "supports"), ClaimLink("spies2017", "contradicts")),
                "weak",
                "A single resting-state study.",
            ),
            Claim(
                "psychedelic_healthy",
                "psychedelic",
                "healthy",
                "DMN integrity decreases.",
                (within, "dmn_salience_fc"),
                "decrease",
                (ClaimLink("carhart2016", "supports"),),
                "supported",
                "Replicated.",
            ),
        ),
    )


# --- tables -----------------------------------------------------------------


def test_drugs_table_lists_targets_and_filters(tiny: Catalog) -> None:
    """One row per agent; targets joined with '; '; --drug takes a class or an agent."""
    drugs = table_of(tiny, "drugs")
    assert list(drugs["id"]) == ["escitalopram", "vilazodone", "lsd"]
    vila = drugs.set_index("id").loc["vilazodone"]
    assert vila["targets"] == "SERT inhibitor; 5-HT1A partial agonist"
    assert vila["class"] == "ssri_snri"
    assert drugs.set_index("id").loc["escitalopram", "n_studies"] == 3
    assert list(table_of(tiny, "drugs", drug="ssri_snri")["id"]) == ["escitalopram", "vilazodone"]
    assert list(table_of(tiny, "drugs", drug="  LSD ")["id"]) == ["lsd"]
    assert list(table_of(tiny, "drugs", population="mdd")["id"]) == ["escitalopram", "vilazodone"]
    assert list(table_of(tiny, "drugs", measure="dmn_salience_fc")["id"]) == ["lsd"]


def test_studies_are_one_row_each_and_findings_link_back(tiny: Catalog) -> None:
    """Studies: one row per study; findings: one row per finding with study_id; filters combine."""
    studies = table_of(tiny, "studies")
    assert len(studies) == 5
    assert studies["id"].is_unique
    assert list(studies.columns[:3]) == ["id", "first_author", "year"]
    for column in ("doi", "agents", "dose", "modality", "gsr", "confirmation", "n_findings"):
        assert column in studies.columns
    row = studies[studies["id"] == "vandeven2013"].iloc[0]
    assert (row["first_author"], row["year"]) == ("Vandeven", 2013)
    assert list(row["agents"]) == ["escitalopram"]
    findings = table_of(tiny, "findings")
    assert len(findings) == 7  # 1 + 2 + 1 + 1 + 2 findings
    assert int(studies["n_findings"].sum()) == len(findings)
    first = findings[findings["study_id"] == "vandeven2013"].iloc[0]
    assert (first["measure"], first["direction"], first["effect_size"]) == (
        "dmn_within_fc",
        "decrease",
        -0.66,
    )
    by_agent = table_of(tiny, "studies", drug="Escitalopram")
    assert set(by_agent["id"]) == {"vandeven2013", "schaefer2014", "spies2017"}
    within = table_of(tiny, "findings", measure="dmn_within_fc")
    assert set(within["measure"]) == {"dmn_within_fc"}
    assert set(within["study_id"]) == {"vandeven2013", "schaefer2014", "carhart2016"}
    patients = table_of(tiny, "studies", population="patients")
    assert set(patients["population"]) == {"mdd"}
    both = table_of(
        tiny, "studies", drug="ssri_snri", population="healthy", measure="dmn_centrality"
    )
    assert list(both["id"]) == ["schaefer2014"]


def test_claims_table_counts_links(tiny: Catalog) -> None:
    """Claims carry class, population, verdict and the count of each relation."""
    claims = table_of(tiny, "claims").set_index("id")
    row = claims.loc["ssri_mdd_normalize"]
    assert (row["class"], row["population"], row["verdict"]) == ("ssri_snri", "mdd", "weak")
    assert (row["n_supporting"], row["n_contradicting"], row["n_partial"]) == (1, 1, 0)
    assert claims.loc["ssri_healthy_within", "n_partial"] == 1
    by_drug = table_of(tiny, "claims", drug="escitalopram")
    assert list(by_drug["id"]) == ["ssri_healthy_within", "ssri_mdd_normalize"]
    assert list(table_of(tiny, "claims", measure="dmn_salience_fc")["id"]) == [
        "psychedelic_healthy"
    ]
    assert list(table_of(tiny, "claims", population="healthy", drug="ssri_snri")["id"]) == [
        "ssri_healthy_within"
    ]


def test_empty_selection_keeps_columns(tiny: Catalog) -> None:
    """A filter matching nothing gives an empty table with its columns, rendered as such."""
    empty = table_of(tiny, "studies", drug="lsd", population="mdd")
    assert empty.empty
    assert "measures" in empty.columns
    assert render(empty, "text") == "(no rows)\n"
    assert json.loads(render(empty, "json")) == []


# --- rendering --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["drugs", "studies", "findings", "claims"])
def test_json_and_tsv_parse_back(tiny: Catalog, kind: str) -> None:
    """JSON gives one record per row (missing as null); TSV reads back with pandas."""
    table = table_of(tiny, kind)
    parsed = json.loads(render(table, "json"))
    assert len(parsed) == len(table)
    assert list(parsed[0]) == list(table.columns)
    back = pd.read_csv(io.StringIO(render(table, "tsv")), sep="\t", na_values=["n/a"])
    assert back.shape == table.shape
    assert list(back.columns) == list(table.columns)
    key = "study_id" if kind == "findings" else "id"
    assert list(back[key]) == list(table[key])
    if kind == "findings":
        sizes = {
            r["study_id"]: r["effect_size"] for r in parsed if r["measure"] == "dmn_centrality"
        }
        assert sizes == {"schaefer2014": None}


def test_text_table_is_aligned(tiny: Catalog) -> None:
    """Text output has a header, a rule and one line per row, columns aligned."""
    table = table_of(tiny, "drugs")
    lines = render(table, "text").splitlines()
    assert len(lines) == 2 + len(table)
    assert lines[0].split() == list(table.columns)
    start = lines[0].index("class")
    assert all(
        line[start:].startswith(cls) for line, cls in zip(lines[2:], table["class"], strict=True)
    )


def test_tsv_cells_have_no_tabs_or_newlines() -> None:
    """Free text with tabs or newlines cannot break TSV rows."""
    frame = pd.DataFrame({"id": ["a"], "note": ["two\tparts\nand a line"]})
    text = render(frame, "tsv")
    assert text == "id\tnote\na\ttwo parts and a line\n"


def test_unknown_format(tiny: Catalog) -> None:
    """A format other than text, json or tsv is named, with the closest one."""
    with pytest.raises(InputError, match=r"format 'jsn'.*'json'"):
        render(table_of(tiny, "drugs"), "jsn")


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"drug": "escitalopramm"}, r"drug 'escitalopramm' .*did you mean 'Escitalopram'"),
        ({"drug": "ssri"}, r"drug 'ssri' .*'ssri_snri'"),
        ({"population": "heathy"}, r"population 'heathy' .*did you mean 'healthy'"),
        ({"measure": "dmn_within"}, r"measure 'dmn_within' .*'dmn_within_fc'"),
    ],
)
def test_unknown_values_are_named_with_suggestions(
    tiny: Catalog, kwargs: dict[str, str], pattern: str
) -> None:
    """Unknown drug, population or measure: InputError naming it and the closest ones."""
    with pytest.raises(InputError, match=pattern):
        table_of(tiny, "studies", **kwargs)


def test_unknown_kind(tiny: Catalog) -> None:
    """Only drugs, studies and claims are tables."""
    with pytest.raises(InputError, match=r"table 'study' .*'studies'"):
        table_of(tiny, "study")


def test_unknown_study_id(tiny: Catalog) -> None:
    """show() names the unknown id and suggests the closest study."""
    with pytest.raises(InputError, match=r"study 'schafer2014' .*'schaefer2014'"):
        show(tiny, "schafer2014")


# --- show and summary -------------------------------------------------------


def test_show_lists_every_field_and_citations(tiny: Catalog) -> None:
    """Every field of the study, each finding, and the claims and baselines citing it."""
    text = show(tiny, "WANG2017")
    for expected in (
        "wang2017: Wang 2017",
        "J Test 1:1-2",
        "https://doi.org/10.1234/wang2017",
        "SSRIs and SNRIs (ssri_snri)",
        "Vilazodone (vilazodone)",
        "20 mg oral, single dose",
        "longitudinal",
        "Major depression (mdd)",
        ": 22",
        ": rest",
        "global signal reg. : no",
        "confirmed",
        "note on wang2017",
        "1. dmn_core_within_fc: normalization",
        "claim ssri_mdd_normalize: supports",
        "baseline mdd_core",
    ):
        assert expected in text, expected
    task = show(tiny, "spies2017")
    assert "dmn_activity_task (not computed by dmnpharm): increase" in task
    lsd = show(tiny, "carhart2016")
    assert "effect size -0.9 (g)" in lsd


def test_evidence_summary_counts_and_gaps(tiny: Catalog) -> None:
    """Counts by direction, design and modality; gaps are the claims not supported."""
    summary = evidence_summary(tiny, "ssri_snri")
    assert summary["drug_class"] == "ssri_snri"
    assert summary["agent"] is None
    assert summary["n_studies"] == 4
    assert summary["by_direction"] == {"decrease": 2, "increase": 1, "normalization": 1}
    assert summary["by_design"] == {"crossover": 2, "longitudinal": 1, "open": 1}
    assert summary["by_modality"] == {"rest": 3, "task": 1}
    assert (summary["resting_state"], summary["task_only"]) == (3, 1)
    assert [g["claim"] for g in summary["gaps"]] == ["ssri_healthy_within", "ssri_mdd_normalize"]
    assert summary["gaps"][0]["rationale"].startswith("One confirmed")
    assert json.loads(json.dumps(summary)) == summary
    agent = evidence_summary(tiny, "vilazodone")
    assert (agent["agent"], agent["n_studies"], agent["studies"]) == (
        "vilazodone",
        1,
        ["wang2017"],
    )
    assert evidence_summary(tiny, "psychedelic")["gaps"] == []


# --- the shipped catalog ----------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    """Load the catalog shipped with dmnpharm."""
    return load_catalog()


@pytest.mark.parametrize("kind", ["drugs", "studies", "claims"])
@pytest.mark.parametrize("fmt", ["text", "json", "tsv"])
def test_shipped_tables_render(shipped: Catalog, kind: str, fmt: str) -> None:
    """Every table of the shipped catalog renders in every format and parses back."""
    table = table_of(shipped, kind)
    assert len(table) > 0
    text = render(table, fmt)
    if fmt == "json":
        assert len(json.loads(text)) == len(table)
    elif fmt == "tsv":
        back = pd.read_csv(io.StringIO(text), sep="\t", na_values=["n/a"])
        assert back.shape == table.shape


def test_shipped_every_study_shows_and_every_class_summarises(shipped: Catalog) -> None:
    """show() works for every study id; evidence_summary() for every class."""
    for study in shipped.studies:
        assert show(shipped, study.id).startswith(f"{study.id}:")
    for cls in shipped.drug_classes:
        summary = evidence_summary(shipped, cls.id)
        assert all(g["verdict"] != "supported" for g in summary["gaps"])


def test_shipped_filters(shipped: Catalog) -> None:
    """A drug name selects its studies; 'patients' leaves healthy volunteers out."""
    ssri = table_of(shipped, "studies", drug="escitalopram")
    assert len(ssri) > 0
    assert all("escitalopram" in agents for agents in ssri["agents"])
    patients = table_of(shipped, "studies", population="patients")
    assert "healthy" not in set(patients["population"])
    assert len(patients) > 0
