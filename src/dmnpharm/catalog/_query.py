"""Queries over the evidence catalog: tables of drugs, studies and claims.

Every filter takes the user's words (see :mod:`dmnpharm.catalog._select`):
``drug`` is an agent (by id or name, any case) or a drug class id;
``population`` a population id, or ``patients`` for every population other
than healthy volunteers; ``measure`` a measure of the catalog's vocabulary.
Rendering a table as text, JSON or TSV is ``_render``'s.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from dmnpharm._utils import check_option
from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._drugs import Agent
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Publication
from dmnpharm.catalog._select import (
    check_measure,
    check_population,
    resolve_drug,
    select_claims,
    select_studies,
)

__all__ = [
    "CLAIM_COLUMNS",
    "KINDS",
    "STUDY_COLUMNS",
    "agent_name",
    "table_of",
]

#: Tables :func:`table_of` makes.
KINDS: tuple[str, ...] = ("drugs", "studies", "claims")


def agent_name(catalog: Catalog, agent_id: str) -> str:
    """Return the display name of an agent id (the id itself when unknown)."""
    for agent in catalog.agents:
        if agent.id == agent_id:
            return agent.name
    return agent_id


def _targets(agent: Agent) -> str:
    return "; ".join(f"{t.target} {t.mode}".strip() for t in agent.targets)


def _cell(value: Any) -> Any:
    """Flatten a catalog value for a table cell (tuples joined, None kept)."""
    if isinstance(value, tuple | list | frozenset | set):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


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


STUDY_COLUMNS: tuple[str, ...] = (
    "id",
    "author",
    "year",
    "journal",
    "doi",
    "agents",
    "dose",
    "design",
    "population",
    "n",
    "modality",
    "measure",
    "direction",
    "effect",
    "effect_size",
    "effect_metric",
    "gsr",
    "confirmation",
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


def _studies_table(
    catalog: Catalog, studies: list[Publication], measure: str | None
) -> pd.DataFrame:
    rows = []
    for s in studies:
        common = {
            "id": s.id,
            "author": s.first_author,
            "year": s.year,
            "journal": s.journal,
            "doi": s.doi,
            "agents": "; ".join(agent_name(catalog, a) for a in s.agents),
            "dose": s.dose,
            "design": s.design,
            "population": s.population,
            "n": s.n,
            "modality": s.modality,
            "gsr": _cell(s.gsr),
            "confirmation": s.confirmation,
        }
        findings = [f for f in s.findings if measure is None or f.measure == measure]
        if not findings:
            rows.append(common)
        for f in findings:
            rows.append(
                {
                    **common,
                    "measure": f.measure,
                    "direction": f.direction,
                    "effect": f.effect,
                    "effect_size": f.effect_size,
                    "effect_metric": f.effect_metric,
                }
            )
    table = pd.DataFrame(rows, columns=list(STUDY_COLUMNS))
    table["effect_size"] = pd.to_numeric(table["effect_size"], errors="coerce")
    table["year"] = pd.to_numeric(table["year"], errors="coerce").astype("Int64")
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
) -> pd.DataFrame:
    """Return one table of the catalog, filtered.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog (see :func:`load_catalog`).
    kind : str
        ``drugs`` (one row per agent: id, name, class, targets such as
        ``"SERT inhibitor; 5-HT1A partial agonist"``, number of studies),
        ``studies`` (one row per finding: :data:`STUDY_COLUMNS`; a publication
        without findings has one row with an empty measure) or ``claims``
        (one row per claim: :data:`CLAIM_COLUMNS`, with the number of
        supporting, contradicting and partly supporting studies).
    drug : str, optional
        Agent id or name, or drug class id. Drugs: that agent or the class's
        agents; studies: studies of that agent or class; claims: claims about
        the class.
    population : str, optional
        Population id or ``patients`` (every population but healthy). Drugs:
        agents with a catalog study in that population.
    measure : str, optional
        Measure of the vocabulary. Studies: only findings on it; claims:
        claims naming it; drugs: agents with a study reporting it.

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
    if kind == "studies":
        return _studies_table(catalog, select_studies(catalog, selection, pop, meas), meas)
    agents = list(catalog.agents)
    if selection is not None:
        if selection.agent is not None:
            agents = [selection.agent]
        else:
            agents = [a for a in agents if a.drug_class == selection.drug_class.id]
    studies = select_studies(catalog, selection, pop, meas)
    if pop is not None or meas is not None:
        studied = {a for s in studies for a in s.agents}
        agents = [a for a in agents if a.id in studied]
    return _drugs_table(studies, agents)
