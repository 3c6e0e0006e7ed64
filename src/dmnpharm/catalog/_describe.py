"""Readable descriptions from the evidence catalog: one publication, one class's evidence."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._query import agent_name
from dmnpharm.catalog._select import find_study, resolve_drug, select_claims, select_studies
from dmnpharm.catalog._vocabulary import COMPUTED

__all__ = ["evidence_summary", "show", "summary_text"]


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
    agents = ", ".join(f"{agent_name(catalog, a)} ({a})" for a in s.agents) or "none"
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
