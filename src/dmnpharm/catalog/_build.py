"""Turn the rows of a validated catalog file into the catalog's frozen records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmnpharm.catalog._claims import Claim, ClaimLink
from dmnpharm.catalog._drugs import Agent, DrugClass, Target
from dmnpharm.catalog._imputation import impute_from_significance
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Baseline, Finding, Population, Publication

__all__ = ["build_catalog", "build_study"]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _imputed(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a finding row with its effect imputed from ``significance_p``, if it has one."""
    if "significance_p" not in row:
        return dict(row)
    imputed = impute_from_significance(
        float(row["significance_p"]),
        row["effect_kind"],
        row["direction"],
        row.get("effect_n"),
        tuple(row.get("effect_group_sizes", ())),
    )
    return {
        **row,
        "effect_size": round(imputed.value, 4),
        "effect_derivation": imputed.derivation,
        "effect_confidence": "imputed",
    }


def _finding(raw: Mapping[str, Any]) -> Finding:
    row = _imputed(raw)
    n = row.get("effect_n")
    return Finding(
        measure=row["measure"],
        direction=row["direction"],
        effect=row["effect"],
        effect_size=_float(row.get("effect_size")),
        effect_metric=row.get("effect_metric", ""),
        effect_kind=row.get("effect_kind", ""),
        effect_n=None if n is None else int(n),
        effect_group_sizes=tuple(int(g) for g in row.get("effect_group_sizes", ())),
        ci_low=_float(row.get("ci_low")),
        ci_high=_float(row.get("ci_high")),
        se=_float(row.get("se")),
        effect_source=row.get("effect_source", ""),
        effect_derivation=row.get("effect_derivation", ""),
        effect_confidence=row.get("effect_confidence", ""),
        direction_only=bool(row.get("direction_only", False)),
        direction_only_reason=row.get("direction_only_reason", ""),
        significance_p=_float(row.get("significance_p")),
    )


def build_study(row: Mapping[str, Any]) -> Publication:
    """Return the :class:`Publication` of one ``[[studies]]`` row.

    Raises ``KeyError`` or ``TypeError`` when the row (or one of its
    findings) lacks a field or has one of the wrong kind.
    """
    return Publication(
        id=row["id"],
        first_author=row["first_author"],
        year=row.get("year"),
        journal=row["journal"],
        doi=row.get("doi"),
        agents=tuple(row["agents"]),
        drug_class=row["drug_class"],
        dose=row["dose"],
        design=row["design"],
        population=row["population"],
        n=row["n"],
        modality=row["modality"],
        findings=tuple(_finding(f) for f in row["findings"]),
        gsr=row.get("gsr"),
        confirmation=row["confirmation"],
        note=row["note"],
        doi_reason=row.get("doi_reason", ""),
        year_reason=row.get("year_reason", ""),
    )


def _claim(row: Mapping[str, Any]) -> Claim:
    return Claim(
        id=row["id"],
        drug_class=row["drug_class"],
        population=row["population"],
        statement=row["statement"],
        measures=tuple(row["measures"]),
        expected_direction=row["expected_direction"],
        links=tuple(ClaimLink(x["study"], x["relation"]) for x in row["links"]),
        verdict=row["verdict"],
        rationale=row["rationale"],
    )


def build_catalog(raw: Mapping[str, Any]) -> Catalog:
    """Turn a validated TOML document into a :class:`Catalog`."""
    return Catalog(
        version=raw["version"],
        drug_classes=tuple(
            DrugClass(r["id"], r["name"], r["description"]) for r in raw.get("drug_classes", [])
        ),
        agents=tuple(
            Agent(
                r["id"],
                r["name"],
                r["drug_class"],
                tuple(Target(t["target"], t["mode"]) for t in r["targets"]),
            )
            for r in raw.get("agents", [])
        ),
        populations=tuple(
            Population(r["id"], r["name"], r["description"]) for r in raw.get("populations", [])
        ),
        studies=tuple(build_study(r) for r in raw.get("studies", [])),
        baselines=tuple(
            Baseline(
                r["id"],
                r["population"],
                r["measure"],
                r["direction"],
                tuple(r["studies"]),
                r["note"],
            )
            for r in raw.get("baselines", [])
        ),
        claims=tuple(_claim(r) for r in raw.get("claims", [])),
    )
