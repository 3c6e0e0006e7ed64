"""Set our results beside each claim and each catalogued finding, row by row."""

from __future__ import annotations

import math
from typing import Any

from dmnpharm.catalog._claim_tests import ClaimTest, claim_test
from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Finding, Publication
from dmnpharm.catalog._results import ALPHA
from dmnpharm.catalog._vocabulary import COMPUTED

__all__ = [
    "COMPARE_COLUMNS",
    "COMPARE_VERDICTS",
    "NOT_TESTABLE",
    "compare_claim",
    "compare_findings",
]

#: The verdict of a claim or finding that these results cannot decide.
NOT_TESTABLE = "not testable with this analysis"

#: What a comparison says about a claim or a finding.
COMPARE_VERDICTS: tuple[str, ...] = (
    "agrees",
    "contradicts",
    "inconclusive",
    "mixed",
    "not covered",
    "not testable with this analysis",
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
    "literature_std_effect",
    "literature_std_se",
    "literature_std_kind",
    "literature_n",
    "literature_effect_source",
    "literature_effect_confidence",
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
            "not testable with this analysis",
            "the literature direction is 'mixed' (the claim says only that it changes); one "
            "contrast can neither agree nor disagree with it",
        )
    if expected == "normalization" and not normalization:
        return (
            "not testable with this analysis",
            "'normalization' means patients move toward controls; these results are not a "
            "normalization analysis (see 'dmnpharm stats --normalization')",
        )
    if expected != "normalization" and normalization:
        return (
            "not testable with this analysis",
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


_NO_NUMBER = {
    "literature_effect": "",
    "literature_effect_size": math.nan,
    "literature_effect_metric": "",
    "literature_std_effect": math.nan,
    "literature_std_se": math.nan,
    "literature_std_kind": "",
    "literature_n": math.nan,
    "literature_effect_source": "",
    "literature_effect_confidence": "",
}


def _untestable(test: ClaimTest, analysis: str) -> str:
    what = f"{_a(test.kind)} analysis" + (
        f" with the rating {test.rating!r}" if test.rating else ""
    )
    return (
        f"not testable with this analysis: the claim is decided by {what}, these results are "
        f"{_a(analysis)} analysis; run: {test.command}"
    )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _claim_verdict(
    claim: Claim, test: ClaimTest, ours: dict[str, Any], analysis: str
) -> tuple[str, str]:
    """Verdict of a claim on one measure under the analysis that tests it."""
    direction = str(ours["our_direction"])
    if test.kind == "any change":
        if direction in ("increase", "decrease"):
            return "agrees", f"significant {direction}: the measure changes, as claimed"
        if direction == "n/a":
            return "inconclusive", "no p_fwer or estimate for this measure"
        return "inconclusive", f"not significant (p_fwer >= {ALPHA}); a change is claimed"
    if test.kind == "association":
        # "the decrease is linked to the rating": a larger decrease with a higher rating,
        # a negative slope of the change on the rating (positive for an increase claim).
        expected = "decrease" if claim.expected_direction == "decrease" else "increase"
        verdict, note = _verdict(expected, direction, False)
        return verdict, f"slope of the change on {test.rating}: {note}"
    return _verdict(claim.expected_direction, direction, analysis == "normalization")


def _claim_row(
    claim: Claim, measure: str, ours: dict[str, dict[str, Any]], analysis: str
) -> dict[str, Any]:
    """Return the row of one claim on one of its measures."""
    base = {
        "kind": "claim",
        "id": claim.id,
        "label": claim.statement,
        "population": claim.population,
        "measure": measure,
        "literature_direction": claim.expected_direction,
        **_NO_NUMBER,
    }
    test = claim_test(claim)
    if test.analysis != analysis:
        note = _untestable(test, analysis)
        return {**base, **ours.get(measure, {}), "verdict": NOT_TESTABLE, "note": note}
    if measure not in test.measures(claim.measures):
        note = f"not read: a {test.kind} claim is judged on between-network measures only"
        return {**base, "verdict": "not covered", "note": note}
    if measure not in ours:
        return {**base, "verdict": "not covered", "note": _missing_note([measure])}
    verdict, note = _claim_verdict(claim, test, ours[measure], analysis)
    return {**base, **ours[measure], "verdict": verdict, "note": note}


def _overall(rows: list[dict[str, Any]], missing: list[str]) -> tuple[str, str]:
    """Return a claim's verdict over its measures' rows, and a plain explanation."""
    verdicts = [r["verdict"] for r in rows]
    if len(missing) == len(rows):
        return "not covered", f"not testable from this study: {_missing_note(missing)}"
    if all(v == "not testable with this analysis" for v in verdicts if v != "not covered"):
        note = next(r["note"] for r in rows if r["verdict"] == NOT_TESTABLE)
        prefix = "" if note.startswith(NOT_TESTABLE) else "not testable from this study: "
        return NOT_TESTABLE, prefix + note
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
    claim: Claim, ours: dict[str, dict[str, Any]], analysis: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return one claim's rows (one per measure) and its entry of the summary."""
    rows = [_claim_row(claim, measure, ours, analysis) for measure in claim.measures]
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
        "test": claim_test(claim).kind,
        "command": claim_test(claim).command,
    }
    return rows, entry


def _numbers(f: Finding) -> dict[str, Any]:
    """Return the finding's effect as reported and standardized, signed by its direction."""
    std = f.standardized()
    value, se, kind = (math.nan, math.nan, "") if std is None else std
    sign = {"increase": 1.0, "decrease": -1.0}.get(f.direction, 0.0)
    if sign and value == value and sign * value < 0:  # a magnitude reported unsigned
        value = -value
    return {
        "literature_effect": f.effect,
        "literature_effect_size": math.nan if f.effect_size is None else float(f.effect_size),
        "literature_effect_metric": f.effect_metric,
        "literature_std_effect": float(value),
        "literature_std_se": math.nan if se is None else float(se),
        "literature_std_kind": kind,
        "literature_n": math.nan if f.effect_n is None else float(f.effect_n),
        "literature_effect_source": f.effect_source
        or ("direction only: " + f.direction_only_reason if f.direction_only else ""),
        "literature_effect_confidence": f.effect_confidence,
    }


def _about_another_agent(
    f: Finding, study: Publication, catalog: Catalog, in_scope: set[str]
) -> bool:
    """Whether a finding of a several-agent study names an agent outside the comparison."""
    if len(study.agents) < 2 or ":" not in f.effect:
        return False
    named = f.effect.split(":", 1)[0].strip().lower()
    names = {a.id: {a.id.lower(), a.name.lower()} for a in catalog.agents if a.id in study.agents}
    for agent, spellings in names.items():
        if named in spellings:
            return agent not in in_scope
    return False


def compare_findings(
    catalog: Catalog,
    studies: list[Publication],
    ours: dict[str, dict[str, Any]],
    analysis: str,
    agents_in_scope: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Return one row per catalogued finding of ``studies`` on a measure of ``ours``.

    A finding of a study of several agents whose effect names one of them
    (``"midazolam: d = 0.77"``) is left out when that agent is not in
    ``agents_in_scope`` (the compared drug's class); None keeps every finding.
    """
    agents_in_scope = agents_in_scope or {a.id for a in catalog.agents}
    names = {a.id: a.name for a in catalog.agents}
    rows = []
    for s in studies:
        agents = ", ".join(names.get(a, a) for a in s.agents)
        label = f"{s.first_author or s.id} {s.year or ''}".strip() + (
            f" ({agents})" if agents else ""
        )
        for f in s.findings:
            if f.measure not in ours or _about_another_agent(f, s, catalog, agents_in_scope):
                continue
            if analysis in ("association", "dose-response"):
                verdict = NOT_TESTABLE
                note = (
                    f"not testable with this analysis: the finding is a {f.direction} of the "
                    f"measure's mean, these results are a {analysis} analysis"
                )
            else:
                normalization = analysis == "normalization"
                verdict, note = _verdict(
                    f.direction, ours[f.measure]["our_direction"], normalization
                )
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
                    **_numbers(f),
                    **ours[f.measure],
                    "verdict": verdict,
                    "note": note,
                }
            )
    return rows
