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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.catalog._load import load_catalog
from dmnpharm.catalog._model import Catalog, Claim, Publication
from dmnpharm.catalog._select import (
    HEALTHY,
    DrugSelection,
    check_population,
    resolve_drug,
    select_claims,
    select_studies,
)
from dmnpharm.catalog._vocabulary import COMPUTED
from dmnpharm.exceptions import InputError

__all__ = [
    "ALPHA",
    "COMPARE_COLUMNS",
    "COMPARE_VERDICTS",
    "Comparison",
    "compare",
    "comparison_text",
    "read_results",
]

#: Family-wise error rate below which a measure counts as changed.
ALPHA = 0.05

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

_NEEDED = ("measure", "estimate", "p_fwer")


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


def _check_columns(table: pd.DataFrame, source: str) -> None:
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise InputError(f"results table '{source}' lacks the column(s) {', '.join(missing)}")


def read_results(path: str | Path) -> pd.DataFrame:
    """Read one group results table and check that :func:`compare` can use it.

    Parameters
    ----------
    path : str or Path
        A results table as ``dmnpharm run`` (``group/results.tsv``) or
        ``dmnpharm stats`` (``results.tsv``) writes it: TSV with ``n/a`` for
        missing values, or Parquet when the name ends in ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        Its rows.

    Raises
    ------
    InputError
        If the file does not exist, cannot be read, or lacks ``measure``,
        ``estimate`` or ``p_fwer`` (the message names the file).
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"results table '{file}' does not exist")
    try:
        if file.suffix.lower() == ".parquet":
            table = pd.read_parquet(file)
        else:
            table = pd.read_csv(file, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"cannot read results table '{file}': {exc}") from None
    _check_columns(table, str(file))
    return table


def _pick_contrast(table: pd.DataFrame, contrast: str | None, source: str) -> pd.DataFrame:
    if "contrast" not in table.columns:
        return table
    contrasts = list(dict.fromkeys(table["contrast"].astype(str)))
    if contrast is None:
        if len(contrasts) > 1:
            raise InputError(
                f"results table '{source}' has several contrasts ({'; '.join(contrasts)}); "
                "choose one with contrast="
            )
        return table
    if contrast not in contrasts:
        raise InputError(
            f"contrast {contrast!r} is not in '{source}'; it has {'; '.join(contrasts)}"
        )
    return table[table["contrast"].astype(str) == contrast]


def _number(row: pd.Series, column: str) -> float:
    value = row.get(column, np.nan)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _is_normalization(table: pd.DataFrame) -> bool:
    if "model" in table.columns and (table["model"].astype(str) == "normalization").all():
        return True
    return "contrast" in table.columns and bool(
        table["contrast"].astype(str).str.startswith("distance to ").all()
    )


def _ours(row: pd.Series, normalization: bool) -> dict[str, Any]:
    """Our estimate, CI, p, direction and standardized effect for one measure."""
    estimate, p = _number(row, "estimate"), _number(row, "p_fwer")
    if not math.isfinite(p) or not math.isfinite(estimate):
        direction = "n/a"
    elif p >= ALPHA or estimate == 0:
        direction = "no change"
    elif normalization:
        direction = "normalization" if estimate < 0 else "away from controls"
    else:
        direction = "increase" if estimate > 0 else "decrease"
    kind = str(row.get("effect_size_kind", "")) if "effect_size_kind" in row.index else ""
    dz = _number(row, "effect_size_dz")
    if math.isfinite(dz):
        size, size_kind = dz, "d_z"
        same = kind == "d_z"
    else:
        size, size_kind, same = _number(row, "effect_size"), kind, True
    return {
        "contrast": str(row.get("contrast", "")),
        "our_estimate": estimate,
        "our_ci_low": _number(row, "ci_low"),
        "our_ci_high": _number(row, "ci_high"),
        "our_p_fwer": p,
        "our_direction": direction,
        "our_effect_size": size,
        "our_effect_size_ci_low": _number(row, "effect_size_ci_low") if same else math.nan,
        "our_effect_size_ci_high": _number(row, "effect_size_ci_high") if same else math.nan,
        "our_effect_size_kind": size_kind,
    }


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


def _claim_rows(
    claim: Claim, ours: dict[str, dict[str, Any]], normalization: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for measure in claim.measures:
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
            rows.append({**base, "verdict": "not covered", "note": _missing_note([measure])})
            continue
        verdict, note = _verdict(
            claim.expected_direction, ours[measure]["our_direction"], normalization
        )
        rows.append({**base, **ours[measure], "verdict": verdict, "note": note})
    verdicts = [r["verdict"] for r in rows]
    tested = [r["measure"] for r in rows if r["verdict"] != "not covered"]
    missing = [r["measure"] for r in rows if r["verdict"] == "not covered"]
    if not tested:
        overall = "not covered"
        explanation = f"not testable from this study: {_missing_note(missing)}"
    elif all(v == "not testable here" for v in verdicts if v != "not covered"):
        overall = "not testable here"
        explanation = "not testable from this study: " + next(
            r["note"] for r in rows if r["verdict"] == "not testable here"
        )
    else:
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


def _finding_rows(
    catalog: Catalog,
    studies: list[Publication],
    ours: dict[str, dict[str, Any]],
    normalization: bool,
) -> list[dict[str, Any]]:
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
    _check_columns(results, source)
    table = _pick_contrast(results, contrast, source)
    selection: DrugSelection = resolve_drug(cat, drug)
    pop = check_population(cat, population)
    normalization = _is_normalization(table)
    ours = {str(row["measure"]): _ours(row, normalization) for _, row in table.iterrows()}
    whole_class = DrugSelection(selection.drug_class, None)
    claims = select_claims(cat, whole_class, pop)
    claim_rows: list[dict[str, Any]] = []
    entries = []
    for claim in claims:
        rows, entry = _claim_rows(claim, ours, normalization)
        claim_rows += rows
        entries.append(entry)
    finding_rows = _finding_rows(cat, select_studies(cat, whole_class, pop), ours, normalization)
    frame = pd.DataFrame(claim_rows + finding_rows, columns=list(COMPARE_COLUMNS))
    used = table["contrast"].astype(str).iloc[0] if "contrast" in table and len(table) else ""
    counts = {v: sum(e["verdict"] == v for e in entries) for v in COMPARE_VERDICTS}
    not_testable = [
        f"claim {e['id']} ('{e['statement']}') is not testable from this study: "
        + e["explanation"].removeprefix("not testable from this study: ")
        for e in entries
        if e["verdict"] in ("not covered", "not testable here")
    ]
    notes = [
        f"a measure changed when p_fwer < {ALPHA}: increase or decrease by the sign of the "
        f"estimate of '{used or 'the contrast'}' (first level minus second); otherwise "
        "'no change', which is absence of evidence, not evidence of absence",
        "literature effect sizes mix metrics (d, d_z, g, r, t, z) and designs; compare "
        "directions, and magnitudes only within one metric",
    ]
    if not claims:
        notes.append(
            f"the catalog has no claim about {selection.drug_class.name} in population {pop}"
        )
    summary: dict[str, Any] = {
        "results": source,
        "drug": drug,
        "agent": selection.agent.id if selection.agent is not None else None,
        "drug_class": selection.drug_class.id,
        "population": pop,
        "contrast": used,
        "model": "normalization" if normalization else "contrast",
        "alpha": ALPHA,
        "catalog_version": cat.version,
        "counts": counts,
        "claims": entries,
        "not_testable": not_testable,
        "n_findings": len(finding_rows),
        "notes": notes,
    }
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
            f" ({r['literature_effect_metric'] or 'effect'} {size:g})"
            if math.isfinite(size)
            else ""
        )
        lines.append(
            f"  [{r['verdict']}] {r['label']}, {r['measure']}: literature {lit}; ours "
            f"{r['our_direction']} (estimate {r['our_estimate']:.3g}, "
            f"{r['our_effect_size_kind'] or 'effect'} {r['our_effect_size']:.2f})"
        )
    lines += [f"note: {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"
