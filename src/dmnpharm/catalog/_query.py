"""Queries over the evidence catalog: tables of drugs, studies, findings and claims.

Every filter takes the user's words (see :mod:`dmnpharm.catalog._select`):
``drug`` is an agent (by id or name, any case) or a drug class id;
``population`` a population id, or ``patients`` for every population other
than healthy volunteers; ``measure`` a measure of the catalog's vocabulary.
Rendering a table as text, JSON or TSV is ``_render``'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import fields
from typing import Any

import pandas as pd

from dmnpharm._utils import check_option
from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._drugs import Agent
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Finding, Publication
from dmnpharm.catalog._render import records
from dmnpharm.catalog._select import (
    check_measure,
    check_population,
    resolve_drug,
    select_claims,
    select_studies,
)

__all__ = [
    "CLAIM_COLUMNS",
    "FINDING_COLUMNS",
    "FINDING_FIELDS",
    "KINDS",
    "STUDY_COLUMNS",
    "agent_name",
    "finding_record",
    "study_records",
    "table_of",
]

#: Tables :func:`table_of` makes.
KINDS: tuple[str, ...] = ("drugs", "studies", "findings", "claims")


def agent_name(catalog: Catalog, agent_id: str) -> str:
    """Return the display name of an agent id (the id itself when unknown)."""
    for agent in catalog.agents:
        if agent.id == agent_id:
            return agent.name
    return agent_id


def _targets(agent: Agent) -> str:
    return "; ".join(f"{t.target} {t.mode}".strip() for t in agent.targets)


def _drugs_table(studies: list[Publication], agents: list[Agent]) -> pd.DataFrame:
    count = Counter(a for s in studies for a in s.agents)
    rows = [
        {
            "id": a.id,
            "name": a.name,
            "class": a.drug_class,
            "targets": _targets(a),
            "n_studies": count.get(a.id, 0),
        }
        for a in agents
    ]
    return pd.DataFrame(rows, columns=["id", "name", "class", "targets", "n_studies"])


#: Columns of the ``studies`` table: one row per publication.
STUDY_COLUMNS: tuple[str, ...] = (
    "id",
    "first_author",
    "year",
    "year_reason",
    "journal",
    "doi",
    "doi_reason",
    "agents",
    "drug_class",
    "dose",
    "design",
    "population",
    "n",
    "modality",
    "gsr",
    "confirmation",
    "note",
    "n_findings",
    "measures",
    "source",
)

#: Every field of a :class:`Finding`, in the order of its definition.
FINDING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Finding))

#: Columns of the ``findings`` table: one row per finding, with its study's
#: id, the finding's number within the study (from 1), every finding field,
#: and the study fields to filter on.
FINDING_COLUMNS: tuple[str, ...] = (
    "study_id",
    "finding",
    *FINDING_FIELDS,
    "agents",
    "drug_class",
    "design",
    "population",
    "modality",
    "year",
    "source",
)

CLAIM_COLUMNS: tuple[str, ...] = (
    "id",
    "class",
    "population",
    "measures",
    "expected_direction",
    "verdict",
    "n_supporting",
    "n_contradicting",
    "n_partial",
    "statement",
)


def _source(study: Publication, local: Collection[str]) -> str:
    return "local" if study.id in local else "bundled"


def _studies_table(studies: list[Publication], local: Collection[str]) -> pd.DataFrame:
    rows = [
        {
            "id": s.id,
            "first_author": s.first_author,
            "year": s.year,
            "year_reason": s.year_reason,
            "journal": s.journal,
            "doi": s.doi,
            "doi_reason": s.doi_reason,
            "agents": list(s.agents),
            "drug_class": s.drug_class,
            "dose": s.dose,
            "design": s.design,
            "population": s.population,
            "n": s.n,
            "modality": s.modality,
            "gsr": s.gsr,
            "confirmation": s.confirmation,
            "note": s.note,
            "n_findings": len(s.findings),
            "measures": list(dict.fromkeys(f.measure for f in s.findings)),
            "source": _source(s, local),
        }
        for s in studies
    ]
    table = pd.DataFrame(rows, columns=list(STUDY_COLUMNS))
    table["year"] = pd.to_numeric(table["year"], errors="coerce").astype("Int64")
    table["n_findings"] = table["n_findings"].astype("int64")
    return table


def finding_record(finding: Finding) -> dict[str, Any]:
    """Return every field of a finding as JSON-ready values (tuples as lists).

    Parameters
    ----------
    finding : Finding
        One finding of a publication.

    Returns
    -------
    dict
        :data:`FINDING_FIELDS` to values; missing numbers are None.
    """
    out: dict[str, Any] = {}
    for name in FINDING_FIELDS:
        value = getattr(finding, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _findings_table(
    studies: list[Publication], measure: str | None, local: Collection[str]
) -> pd.DataFrame:
    rows = [
        {
            "study_id": s.id,
            "finding": number,
            **finding_record(f),
            "agents": list(s.agents),
            "drug_class": s.drug_class,
            "design": s.design,
            "population": s.population,
            "modality": s.modality,
            "year": s.year,
            "source": _source(s, local),
        }
        for s in studies
        for number, f in enumerate(s.findings, 1)
        if measure is None or f.measure == measure
    ]
    table = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    for column in ("effect_size", "ci_low", "ci_high", "se"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in ("finding", "effect_n", "year"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    table["direction_only"] = table["direction_only"].astype(bool)
    return table


def _claims_table(claims: list[Claim]) -> pd.DataFrame:
    rows = []
    for c in claims:
        relations = Counter(link.relation for link in c.links)
        rows.append(
            {
                "id": c.id,
                "class": c.drug_class,
                "population": c.population,
                "measures": "; ".join(c.measures),
                "expected_direction": c.expected_direction,
                "verdict": c.verdict,
                "n_supporting": relations.get("supports", 0),
                "n_contradicting": relations.get("contradicts", 0),
                "n_partial": relations.get("partial", 0),
                "statement": c.statement,
            }
        )
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def table_of(
    catalog: Catalog,
    kind: str,
    drug: str | None = None,
    population: str | None = None,
    measure: str | None = None,
    local: Collection[str] = (),
) -> pd.DataFrame:
    """Return one table of the catalog, filtered.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog (see :func:`load_catalog`), with local studies
        merged in where there are some.
    kind : str
        ``drugs`` (one row per agent: id, name, class, targets such as
        ``"SERT inhibitor; 5-HT1A partial agonist"``, number of studies),
        ``studies`` (one row per publication: :data:`STUDY_COLUMNS`, its
        findings counted in ``n_findings`` and their measures listed in
        ``measures``), ``findings`` (one row per finding:
        :data:`FINDING_COLUMNS`, ``study_id`` naming its publication) or
        ``claims`` (one row per claim: :data:`CLAIM_COLUMNS`, with the number
        of supporting, contradicting and partly supporting studies). List
        fields (``agents``, ``measures``, ``effect_group_sizes``) are lists.
    drug : str, optional
        Agent id or name, or drug class id. Drugs: that agent or the class's
        agents; studies and findings: of studies of that agent or class;
        claims: claims about the class.
    population : str, optional
        Population id or ``patients`` (every population but healthy). Drugs:
        agents with a catalog study in that population.
    measure : str, optional
        Measure of the vocabulary. Studies: those with a finding on it (all
        their findings are counted); findings: only those on it; claims:
        claims naming it; drugs: agents with a study reporting it.
    local : collection of str
        Ids of the studies read from a local catalog: their ``source`` is
        ``local``, every other study's ``bundled``.

    Returns
    -------
    pandas.DataFrame
        The table, possibly empty (with its columns).

    Raises
    ------
    InputError
        Unknown kind, drug, population or measure; the message names the
        value and suggests the closest valid ones.
    """
    if kind not in KINDS:
        check_option("table", kind, KINDS)
    selection = resolve_drug(catalog, drug) if drug is not None else None
    pop = check_population(catalog, population) if population is not None else None
    meas = check_measure(measure) if measure is not None else None
    if kind == "claims":
        return _claims_table(select_claims(catalog, selection, pop, meas))
    studies = select_studies(catalog, selection, pop, meas)
    if kind == "studies":
        return _studies_table(studies, local)
    if kind == "findings":
        return _findings_table(studies, meas, local)
    agents = list(catalog.agents)
    if selection is not None:
        if selection.agent is not None:
            agents = [selection.agent]
        else:
            agents = [a for a in agents if a.drug_class == selection.drug_class.id]
    if pop is not None or meas is not None:
        studied = {a for s in studies for a in s.agents}
        agents = [a for a in agents if a.id in studied]
    return _drugs_table(studies, agents)


def study_records(
    catalog: Catalog,
    drug: str | None = None,
    population: str | None = None,
    measure: str | None = None,
    local: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Return the ``studies`` table as records, each with its findings nested.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog, with local studies merged in where there are some.
    drug, population, measure : str, optional
        Filters, as for :func:`table_of`.
    local : collection of str
        Ids of the local studies (``source = "local"``).

    Returns
    -------
    list of dict
        One record per publication: :data:`STUDY_COLUMNS` (missing values
        None, lists as lists) and ``findings``, a list of every finding with
        every field (:func:`finding_record`).

    Raises
    ------
    InputError
        Unknown drug, population or measure.
    """
    table = table_of(catalog, "studies", drug, population, measure, local)
    by_id = catalog.studies_by_id
    out = records(table)
    for record in out:
        record["findings"] = [finding_record(f) for f in by_id[record["id"]].findings]
    return out
