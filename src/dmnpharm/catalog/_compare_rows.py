"""Set our results beside each claim and each catalogued finding, row by row."""

from __future__ import annotations

import math
from typing import Any

from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Publication
from dmnpharm.catalog._results import ALPHA
from dmnpharm.catalog._vocabulary import COMPUTED

__all__ = ["COMPARE_COLUMNS", "COMPARE_VERDICTS", "compare_claim", "compare_findings"]

#: What a comparison says about a claim or a finding.
COMPARE_VERDICTS: tuple[str, ...] = (
    "agrees",
    "contradicts",
    "inconclusive",
    "mixed",
    "not covered",
    "not testable here",
)

#: Columns of :attr:`Comparison.rows` and ``compare.tsv``.
COMPARE_COLUMNS: tuple[str, ...] = (
    "kind",
    "id",
    "label",
    "population",
    "measure",
    "literature_direction",
    "literature_effect",
    "literature_effect_size",
    "literature_effect_metric",
    "contrast",
    "our_estimate",
    "our_ci_low",
    "our_ci_high",
    "our_p_fwer",
    "our_direction",
    "our_effect_size",
    "our_effect_size_ci_low",
    "our_effect_size_ci_high",
    "our_effect_size_kind",
    "verdict",
    "note",
)


def _verdict(expected: str, ours: str, normalization: bool) -> tuple[str, str]:
    """Return the verdict of one expected direction against ours, and why."""
    if expected == "mixed":
        return (
            "not testable here",
            "the literature direction is 'mixed' (the claim says only that it changes); one "
            "contrast can neither agree nor disagree with it",
        )
    if expected == "normalization" and not normalization:
        return (
            "not testable here",
            "'normalization' means patients move toward controls; these results are not a "
            "normalization analysis (see 'dmnpharm stats --normalization')",
        )
    if expected != "normalization" and normalization:
        return (
            "not testable here",
            "these results are distances to controls, not the direction of the measure",
        )
    if ours == "n/a":
        return "inconclusive", "no p_fwer or estimate for this measure"
    if ours == "no change":
        if expected == "no change":
            return (
                "agrees",
                f"not significant (p_fwer >= {ALPHA}), as reported; absence of evidence, not "
                "evidence of absence: read the confidence interval",
            )
        return "inconclusive", f"not significant (p_fwer >= {ALPHA}); {expected} expected"
    if ours == expected:
        return "agrees", f"significant {ours}, as expected"
    if expected == "no change":
        return "contradicts", f"significant {ours} where no change was reported"
    return "contradicts", f"significant {ours}; {expected} expected"


def _missing_note(measures: list[str]) -> str:
    computed = [m for m in measures if m in COMPUTED]
    other = [m for m in measures if m not in COMPUTED]
    parts = []
    if computed:
        parts.append(f"{', '.join(computed)} (computed by dmnpharm, absent from these results)")
    if other:
        parts.append(f"{', '.join(other)} (not computed by dmnpharm)")
    return "needs " + " and ".join(parts)


def _claim_row(
    claim: Claim, measure: str, ours: dict[str, dict[str, Any]], normalization: bool
) -> dict[str, Any]:
    """Return the row of one claim on one of its measures."""
    base = {
        "kind": "claim",
        "id": claim.id,
        "label": claim.statement,
        "population": claim.population,
        "measure": measure,
        "literature_direction": claim.expected_direction,
        "literature_effect": "",
        "literature_effect_size": math.nan,
        "literature_effect_metric": "",
    }
    if measure not in ours:
        return {**base, "verdict": "not covered", "note": _missing_note([measure])}
    verdict, note = _verdict(
        claim.expected_direction, ours[measure]["our_direction"], normalization
    )
    return {**base, **ours[measure], "verdict": verdict, "note": note}


def _overall(rows: list[dict[str, Any]], missing: list[str]) -> tuple[str, str]:
    """Return a claim's verdict over its measures' rows, and a plain explanation."""
    verdicts = [r["verdict"] for r in rows]
    if len(missing) == len(rows):
        return "not covered", f"not testable from this study: {_missing_note(missing)}"
    if all(v == "not testable here" for v in verdicts if v != "not covered"):
        return "not testable here", "not testable from this study: " + next(
            r["note"] for r in rows if r["verdict"] == "not testable here"
        )
    if "contradicts" in verdicts and "agrees" in verdicts:
        overall = "mixed"
    elif "contradicts" in verdicts:
        overall = "contradicts"
    elif "agrees" in verdicts:
        overall = "agrees"
    else:
        overall = "inconclusive"
    explanation = "; ".join(
        f"{r['measure']}: {r['verdict']} ({r['note']}, estimate {r['our_estimate']:.3g}, "
        f"p_fwer {r['our_p_fwer']:.3g})"
        for r in rows
        if r["verdict"] != "not covered"
    )
    if missing:
        explanation += f"; not tested here: {_missing_note(missing)}"
    return overall, explanation


def compare_claim(
    claim: Claim, ours: dict[str, dict[str, Any]], normalization: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return one claim's rows (one per measure) and its entry of the summary."""
    rows = [_claim_row(claim, measure, ours, normalization) for measure in claim.measures]
    tested = [r["measure"] for r in rows if r["verdict"] != "not covered"]
    missing = [r["measure"] for r in rows if r["verdict"] == "not covered"]
    overall, explanation = _overall(rows, missing)
    entry = {
        "id": claim.id,
        "population": claim.population,
        "statement": claim.statement,
        "expected_direction": claim.expected_direction,
        "catalog_verdict": claim.verdict,
        "verdict": overall,
        "measures_tested": tested,
        "measures_missing": missing,
        "explanation": explanation,
    }
    return rows, entry


def compare_findings(
    catalog: Catalog,
    studies: list[Publication],
    ours: dict[str, dict[str, Any]],
    normalization: bool,
) -> list[dict[str, Any]]:
    """Return one row per catalogued finding of ``studies`` on a measure of ``ours``."""
    names = {a.id: a.name for a in catalog.agents}
    rows = []
    for s in studies:
        agents = ", ".join(names.get(a, a) for a in s.agents)
        label = f"{s.first_author or s.id} {s.year or ''}".strip() + (
            f" ({agents})" if agents else ""
        )
        for f in s.findings:
            if f.measure not in ours:
                continue
            verdict, note = _verdict(f.direction, ours[f.measure]["our_direction"], normalization)
            if s.modality == "task":
                note += "; the finding is from task fMRI, not resting state"
            rows.append(
                {
                    "kind": "finding",
                    "id": s.id,
                    "label": label,
                    "population": s.population,
                    "measure": f.measure,
                    "literature_direction": f.direction,
                    "literature_effect": f.effect,
                    "literature_effect_size": (
                        math.nan if f.effect_size is None else float(f.effect_size)
                    ),
                    "literature_effect_metric": f.effect_metric,
                    **ours[f.measure],
                    "verdict": verdict,
                    "note": note,
                }
            )
    return rows
