"""Compare one study's group results with what the evidence catalog says.

The results are a group results table, as ``dmnpharm run`` (``group/results.tsv``)
or ``dmnpharm stats`` (``results.tsv``) write it and :attr:`dmnpharm.Results.results`
holds it: one row per measure with ``estimate`` and ``p_fwer``. A
measure changed in this study when ``p_fwer < 0.05``: ``increase`` or
``decrease`` by the sign of the estimate (first level of the contrast minus
the second); otherwise ``no change``. Each claim of the drug's class and the
population, and each catalogued finding on a measure these results have, is
then marked:

==================  ==========================================================
``agrees``          our direction is the one expected
``contradicts``     significant in the other direction (or a change where the
                    literature reports none)
``inconclusive``    not significant where a change is expected
``mixed``           (claims) agrees on some measures, contradicts on others
``not covered``     (claims) none of the claim's measures is in the results
``not testable``    the expected direction cannot be read from these results:
``here``            "mixed" claims; "normalization" without a patients-versus-
                    controls normalization analysis
==================  ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dmnpharm.catalog._claim_tests import analysis_kind, canonical_measure, measure_map
from dmnpharm.catalog._compare_rows import (
    COMPARE_COLUMNS,
    COMPARE_VERDICTS,
    compare_claim,
    compare_findings,
)
from dmnpharm.catalog._load import load_catalog
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._pooling import pool_literature
from dmnpharm.catalog._results import (
    ALPHA,
    check_columns,
    is_normalization,
    our_result,
    pick_contrast,
)
from dmnpharm.catalog._select import (
    HEALTHY,
    DrugSelection,
    check_population,
    resolve_drug,
    select_claims,
    select_studies,
)

__all__ = ["Comparison", "compare", "comparison_text"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """A study's results beside the catalog's claims and findings.

    Written to disk (``compare.tsv``, ``compare.json`` and a forest plot) by
    :func:`dmnpharm.report.write_comparison`.

    Parameters
    ----------
    rows : pandas.DataFrame
        :data:`COMPARE_COLUMNS`. ``kind`` is ``claim`` (one row per claim and
        measure; measures absent from the results have ``not covered``) or
        ``finding`` (one row per catalogued finding of a publication of the
        class and population on a measure the results have).
    summary : dict
        The inputs (``results``: the name of the results table as given to
        :func:`compare`, ``drug``, ``drug_class``, ``population``,
        ``contrast``, ``model``, ``alpha``, ``catalog_version``), ``counts``
        of claim verdicts, ``claims`` (one entry per claim: verdict, measures
        tested and missing, and a plain ``explanation``), ``not_testable``
        (sentences naming each claim this study cannot test, and why),
        ``n_findings`` and ``notes`` (how to read the comparison).
    """

    rows: pd.DataFrame
    summary: dict[str, Any]


def _not_testable(entries: list[dict[str, Any]]) -> list[str]:
    """Return a sentence for each claim this study cannot test, saying why."""
    return [
        f"claim {e['id']} ('{e['statement']}') is not testable from this study: "
        + e["explanation"].removeprefix("not testable from this study: ")
        for e in entries
        if e["verdict"] in ("not covered", "not testable with this analysis")
    ]


def _notes(used: str, selection: DrugSelection, pop: str, has_claims: bool) -> list[str]:
    """Return the notes on how to read a comparison."""
    notes = [
        f"a measure changed when p_fwer < {ALPHA}: increase or decrease by the sign of the "
        f"estimate of '{used or 'the contrast'}' (first level minus second); otherwise "
        "'no change', which is absence of evidence, not evidence of absence",
        "literature effect sizes mix metrics (d, d_z, g, r, t, z) and designs; compare "
        "directions, and magnitudes only within one metric",
    ]
    if not has_claims:
        notes.append(
            f"the catalog has no claim about {selection.drug_class.name} in population {pop}"
        )
    return notes


def compare(
    results: pd.DataFrame,
    drug: str,
    population: str = HEALTHY,
    catalog: Catalog | None = None,
    contrast: str | None = None,
    source: str = "results",
) -> Comparison:
    """Compare a study's group results with the catalog's claims and findings.

    Parameters
    ----------
    results : pandas.DataFrame
        The group results table: one row per measure with ``measure``,
        ``estimate`` and ``p_fwer``, and where present ``contrast``,
        ``model``, ``ci_low``/``ci_high`` and the effect-size columns (as
        :func:`read_results` reads a ``results.tsv`` back, or as
        :attr:`dmnpharm.Results.results` holds it).
    drug : str
        The drug studied: an agent id or name, or a drug class id. Claims are
        those of its class (and cross-class claims).
    population : str
        Population id of the catalog, or ``patients`` for every population
        but healthy volunteers. Claims and studies of other populations are
        left out.
    catalog : Catalog, optional
        The catalog; by default the one shipped with dmnpharm.
    contrast : str, optional
        Which contrast of the results to read, when they hold several.
    source : str
        What to call the table in messages and in ``summary["results"]``,
        e.g. ``"group/results.tsv"``; nothing is read from it.

    Returns
    -------
    Comparison
        One row per claim and measure and per catalogued finding on a
        measure of the results, and a summary.

    Raises
    ------
    InputError
        Results lacking a needed column (the message names ``source``), an
        unknown drug or population, or an ambiguous or unknown contrast.
    """
    cat = load_catalog() if catalog is None else catalog
    check_columns(results, source)
    table = pick_contrast(results, contrast, source)
    selection: DrugSelection = resolve_drug(cat, drug)
    pop = check_population(cat, population)
    analysis = analysis_kind(table)
    normalization = analysis == "normalization" or is_normalization(table)
    if normalization:
        analysis = "normalization"
    ours = {
        canonical_measure(str(row["measure"])): our_result(row, normalization)
        for _, row in table.iterrows()
    }
    whole_class = DrugSelection(selection.drug_class, None)
    claims = select_claims(cat, whole_class, pop)
    claim_rows: list[dict[str, Any]] = []
    entries = []
    for claim in claims:
        rows, entry = compare_claim(claim, ours, analysis)
        claim_rows += rows
        entries.append(entry)
    scope = {a.id for a in cat.agents if a.drug_class == selection.drug_class.id}
    studies = select_studies(cat, whole_class, pop)
    finding_rows = compare_findings(cat, studies, ours, analysis, scope)
    frame = pd.DataFrame(claim_rows + finding_rows, columns=list(COMPARE_COLUMNS))
    used = table["contrast"].astype(str).iloc[0] if "contrast" in table and len(table) else ""
    counts = {v: sum(e["verdict"] == v for e in entries) for v in COMPARE_VERDICTS}
    summary: dict[str, Any] = {
        "results": source,
        "drug": drug,
        "agent": selection.agent.id if selection.agent is not None else None,
        "drug_class": selection.drug_class.id,
        "population": pop,
        "contrast": used,
        "model": "normalization" if normalization else "contrast",
        "analysis": analysis,
        "alpha": ALPHA,
        "catalog_version": cat.version,
        "counts": counts,
        "claims": entries,
        "not_testable": _not_testable(entries),
        "n_findings": len(finding_rows),
        "notes": _notes(used, selection, pop, bool(claims)),
    }
    pooled = pool_literature(frame)
    summary["pooled"] = pooled.to_dict(orient="records")
    names = [str(m) for m in table["measure"]]
    summary["measure_map"] = measure_map(names).to_dict(orient="records")
    return Comparison(rows=frame, summary=summary)


def comparison_text(comparison: Comparison) -> str:
    """Describe a comparison in plain words, claim by claim.

    Parameters
    ----------
    comparison : Comparison
        As :func:`compare` returns.

    Returns
    -------
    str
        Multi-line text ending with a newline.
    """
    s = comparison.summary
    who = s["agent"] or s["drug_class"]
    lines = [
        f"{who} ({s['drug_class']}), population {s['population']}: results {s['results']}",
        f"contrast {s['contrast'] or 'n/a'}; changed when p_fwer < {s['alpha']}",
        "claims: "
        + (", ".join(f"{k} {v}" for k, v in s["counts"].items() if v) or "none in the catalog"),
    ]
    for c in s["claims"]:
        lines.append(f"  [{c['verdict']}] {c['id']}: {c['statement']}")
        lines.append(f"      {c['explanation']}")
    findings = comparison.rows[comparison.rows["kind"] == "finding"]
    lines.append(f"catalogued findings on measures of these results: {len(findings)}")
    for _, r in findings.iterrows():
        size = r["literature_effect_size"]
        lit = f"{r['literature_direction']}" + (
            f" ({r['literature_effect_metric'] or 'effect'} {size:g}"
            + (", imputed bound" if r.get("literature_effect_confidence") == "imputed" else "")
            + ")"
            if math.isfinite(size)
            else ""
        )
        lines.append(
            f"  [{r['verdict']}] {r['label']}, {r['measure']}: literature {lit}; ours "
            f"{r['our_direction']} (estimate {r['our_estimate']:.3g}, "
            f"{r['our_effect_size_kind'] or 'effect'} {r['our_effect_size']:.2f})"
        )
    for p in s.get("pooled", []):
        where = (
            f"this study {p['ours_in_pi']} the 95% prediction interval "
            f"[{p['pi_low']:.2f}, {p['pi_high']:.2f}]"
            if p["ours_in_pi"] != "no interval"
            else "too few studies for a prediction interval"
        )
        k_imputed = int(p.get("k_imputed", 0))
        imputed = f", {k_imputed} imputed lower bounds" if k_imputed else ""
        reported = p.get("pooled_reported", math.nan)
        if k_imputed and reported == reported:
            imputed += (
                f"; reported numbers alone {reported:.2f} "
                f"[{p['pooled_reported_ci_low']:.2f}, {p['pooled_reported_ci_high']:.2f}]"
            )
        if k_imputed:
            where += "; the lower bounds make the pool understate the literature's effect"
        lines.append(
            f"literature pooled, {p['measure']} ({p['kind']}, k = {p['k']}{imputed}): "
            f"{p['pooled']:.2f} [{p['pooled_ci_low']:.2f}, {p['pooled_ci_high']:.2f}]; "
            f"this study {p['ours']:.2f}; {where}"
        )
    lines += [f"note: {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"
