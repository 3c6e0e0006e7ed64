"""Queries over the evidence catalog: tables of drugs, studies and claims.

Every filter takes the user's words (see :mod:`dmnpharm.catalog._select`):
``drug`` is an agent (by id or name, any case) or a drug class id;
``population`` a population id, or ``patients`` for every population other
than healthy volunteers; ``measure`` a measure of the catalog's vocabulary.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pandas as pd

from dmnpharm._utils import check_option
from dmnpharm.catalog._model import Agent, Catalog, Claim, Publication
from dmnpharm.catalog._select import (
    check_measure,
    check_population,
    find_study,
    resolve_drug,
    select_claims,
    select_studies,
)
from dmnpharm.catalog._vocabulary import COMPUTED

__all__ = [
    "CLAIM_COLUMNS",
    "FORMATS",
    "KINDS",
    "STUDY_COLUMNS",
    "evidence_summary",
    "records",
    "render",
    "show",
    "summary_text",
    "table_of",
]

#: Tables :func:`table_of` makes.
KINDS: tuple[str, ...] = ("drugs", "studies", "claims")

#: Output formats of :func:`render`.
FORMATS: tuple[str, ...] = ("text", "json", "tsv")

# Cells wider than this are cut (with an ellipsis) in text tables only.
_TEXT_CELL = 40


def _agent_name(catalog: Catalog, agent_id: str) -> str:
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
            "agents": "; ".join(_agent_name(catalog, a) for a in s.agents),
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


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Convert a cell to a JSON value: NaN and NA to None, numpy scalars to Python."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table's rows as JSON-ready dictionaries (missing values as None).

    Parameters
    ----------
    df : pandas.DataFrame
        Any table.

    Returns
    -------
    list of dict
        One dictionary per row, column name to value.
    """
    columns = [str(c) for c in df.columns]
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def _text_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = " ".join(str(value).split())
    if len(text) > _TEXT_CELL:
        text = text[: _TEXT_CELL - 1] + "…"
    return text


def render(df: pd.DataFrame, fmt: str) -> str:
    """Render a table as aligned text, JSON records or TSV.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table (e.g. from :func:`table_of`).
    fmt : str
        ``text``: columns aligned, long cells cut to 40 characters (use json
        or tsv for the full text); ``json``: a list of records, missing
        values as ``null``; ``tsv``: tab separated with a header, missing
        values as ``n/a``, tabs and newlines inside cells replaced by spaces.

    Returns
    -------
    str
        The rendered table, ending with a newline.

    Raises
    ------
    InputError
        If ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return json.dumps(records(df), indent=2, ensure_ascii=False) + "\n"
    if fmt == "tsv":
        clean = df.copy()
        for column in clean.columns:
            if not pd.api.types.is_numeric_dtype(clean[column]):
                clean[column] = clean[column].map(
                    lambda v: " ".join(v.split()) if isinstance(v, str) else v
                )
        out: str = clean.to_csv(sep="\t", index=False, na_rep="n/a", lineterminator="\n")
        return out
    if fmt != "text":
        check_option("format", fmt, FORMATS)
    header = [str(c) for c in df.columns]
    body = [[_text_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    if not body:
        return "(no rows)\n"
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines) + "\n"


# ---------------------------------------------------------------------------
# One study; one class's evidence
# ---------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return "; ".join(str(v) for v in value) or "none"
    return str(value)


def show(catalog: Catalog, study_id: str) -> str:
    """Describe every field of one publication, with the claims and baselines citing it.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    study_id : str
        Publication id (any case), e.g. ``"schaefer2014"``.

    Returns
    -------
    str
        A readable, multi-line description.

    Raises
    ------
    InputError
        If no publication has that id; the message suggests the closest ids.
    """
    s = find_study(catalog, study_id)
    classes = {c.id: c.name for c in catalog.drug_classes}
    populations = {p.id: p.name for p in catalog.populations}
    agents = ", ".join(f"{_agent_name(catalog, a)} ({a})" for a in s.agents) or "none"
    doi = f"{s.doi} (https://doi.org/{s.doi})" if s.doi else "not recorded"
    fields = [
        ("first author", s.first_author),
        ("year", s.year),
        ("journal", s.journal),
        ("doi", doi),
        ("drug class", f"{classes.get(s.drug_class, s.drug_class)} ({s.drug_class})"),
        ("agents", agents),
        ("dose", s.dose),
        ("design", s.design),
        ("population", f"{populations.get(s.population, s.population)} ({s.population})"),
        ("n", s.n),
        ("modality", s.modality),
        ("global signal reg.", s.gsr),
        ("confirmation", s.confirmation),
        ("note", s.note),
    ]
    width = max(len(name) for name, _ in fields)
    lines = [f"{s.id}: {s.first_author or 'first author not seen'} {s.year or 'year not seen'}"]
    lines += [f"  {name.ljust(width)} : {_value(value)}" for name, value in fields]
    lines.append(f"  findings ({len(s.findings)}):")
    for i, f in enumerate(s.findings, 1):
        computed = "" if f.measure in COMPUTED else " (not computed by dmnpharm)"
        size = (
            f"; effect size {f.effect_size:g} ({f.effect_metric or 'metric not recorded'})"
            if f.effect_size is not None
            else ""
        )
        lines.append(f"    {i}. {f.measure}{computed}: {f.direction}{size}")
        if f.effect:
            lines.append(f"       {f.effect}")
    citing = [
        f"    claim {c.id}: {link.relation}"
        for c in catalog.claims
        for link in c.links
        if link.study == s.id
    ]
    citing += [f"    baseline {b.id}" for b in catalog.baselines if s.id in b.studies]
    lines.append("  cited by:" if citing else "  cited by: no claim or baseline")
    lines += citing
    return "\n".join(lines) + "\n"


def evidence_summary(catalog: Catalog, drug_class: str) -> dict[str, Any]:
    """Summarise the catalog's evidence on one drug class (or one agent).

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    drug_class : str
        Drug class id, or an agent id or name (its studies only; the claims
        are its class's).

    Returns
    -------
    dict
        ``drug_class``, ``class_name``, ``agent`` (None for a class),
        ``n_studies``, ``studies`` (ids), ``by_direction`` (number of studies
        reporting each direction on any measure; a study can count under
        several), ``by_design``, ``by_modality`` (rest / task / rest+task),
        ``resting_state`` and ``task_only`` (number of studies with and
        without resting-state data), ``by_confirmation``, ``claims`` (id,
        population, statement, verdict) and ``gaps``: the claims whose
        verdict is not ``supported``, each with its rationale.

    Raises
    ------
    InputError
        If the drug or class is not in the catalog.
    """
    selection = resolve_drug(catalog, drug_class)
    studies = select_studies(catalog, selection)
    claims = select_claims(catalog, selection)
    by_direction: Counter[str] = Counter()
    for s in studies:
        by_direction.update({f.direction for f in s.findings})
    return {
        "drug_class": selection.drug_class.id,
        "class_name": selection.drug_class.name,
        "agent": selection.agent.id if selection.agent is not None else None,
        "n_studies": len(studies),
        "studies": [s.id for s in studies],
        "by_direction": dict(sorted(by_direction.items())),
        "by_design": dict(sorted(Counter(s.design for s in studies).items())),
        "by_modality": dict(sorted(Counter(s.modality for s in studies).items())),
        "resting_state": sum(s.is_resting_state for s in studies),
        "task_only": sum(s.modality == "task" for s in studies),
        "by_confirmation": dict(sorted(Counter(s.confirmation for s in studies).items())),
        "claims": [
            {
                "id": c.id,
                "population": c.population,
                "statement": c.statement,
                "verdict": c.verdict,
            }
            for c in claims
        ],
        "gaps": [
            {
                "claim": c.id,
                "population": c.population,
                "statement": c.statement,
                "verdict": c.verdict,
                "rationale": c.rationale,
            }
            for c in claims
            if c.verdict != "supported"
        ],
    }


def summary_text(summary: dict[str, Any]) -> str:
    """Render :func:`evidence_summary` as readable text.

    Parameters
    ----------
    summary : dict
        As :func:`evidence_summary` returns.

    Returns
    -------
    str
        Multi-line text ending with a newline.
    """

    def counts(mapping: dict[str, int]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in mapping.items()) or "none"

    who = summary["class_name"] + (f", agent {summary['agent']}" if summary["agent"] else "")
    lines = [
        f"{who} ({summary['drug_class']}): {summary['n_studies']} studies in the catalog",
        f"  resting state: {summary['resting_state']}; task only: {summary['task_only']}",
        f"  by modality: {counts(summary['by_modality'])}",
        f"  by direction (studies reporting it): {counts(summary['by_direction'])}",
        f"  by design: {counts(summary['by_design'])}",
        f"  by confirmation: {counts(summary['by_confirmation'])}",
        f"  claims ({len(summary['claims'])}):",
    ]
    lines += [
        f"    {c['id']} [{c['population']}] {c['verdict']}: {c['statement']}"
        for c in summary["claims"]
    ]
    lines.append(f"  gaps ({len(summary['gaps'])} claims not supported):")
    for gap in summary["gaps"]:
        lines.append(f"    {gap['claim']} ({gap['verdict']}): {gap['rationale']}")
    return "\n".join(lines) + "\n"
