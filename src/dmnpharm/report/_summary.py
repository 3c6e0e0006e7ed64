"""The answer first: the primary contrast in one sentence, then literature, prediction, QC."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dmnpharm.catalog import Comparison

__all__ = [
    "Summary",
    "headline",
    "literature_line",
    "measures_line",
    "rank_results",
]

#: Measures named one by one in the summary at most.
NAMED = 8


@dataclass(frozen=True)
class Summary:
    """What the top of a report says, in plain sentences.

    Parameters
    ----------
    headline : str
        The primary contrast: estimate, CI, effect size, p FWER.
    lines : list of str
        The other measures, the literature, the prediction, the sample.
    warnings : list of str
        QC warnings (motion imbalance, exclusions, censoring, coverage).
    all_clear : str
        Shown when there is no warning: what was checked.
    """

    headline: str
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    all_clear: str = ""


def _num(value: float, digits: int = 3) -> str:
    """Format a number for prose: ``digits`` significant digits, a true minus sign."""
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}g}"
    if "e" in text:
        text = f"{value:.{digits - 1}e}"
    return text.replace("-", "\u2212")


def _fixed(value: float, decimals: int) -> str:
    """Format a number with fixed decimals and a true minus sign."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.{decimals}f}".replace("-", "\u2212")


def _decimals(value: float) -> int:
    """Decimals that give an estimate about three significant digits (0 to 6)."""
    if not math.isfinite(value) or value == 0:
        return 3
    return int(min(6, max(0, 2 - math.floor(math.log10(abs(value))))))


def _p(value: float) -> str:
    """Format a p-value for prose (two significant digits)."""
    return _num(value, 2)


def _float(row: Mapping[str, Any], key: str) -> float:
    value = pd.to_numeric(pd.Series([row.get(key)]), errors="coerce").iloc[0]
    return float(value)


def effect_text(row: Mapping[str, Any]) -> str:
    """Return ``d_z = -0.70`` (or the row's own effect-size kind); "" when it has none."""
    kind = row.get("effect_size_kind")
    if isinstance(kind, str) and kind:
        value = _float(row, "effect_size")
    else:
        kind, value = "d_z", _float(row, "effect_size_dz")
    return f"{kind} = {_fixed(value, 2)}" if math.isfinite(value) else ""


def inference_text(row: Mapping[str, Any]) -> str:
    """Return ``10,000 sign flips`` or ``500 permutations`` (``all 256 ...`` if exact)."""
    count = _float(row, "n_permutations")
    how = str(row.get("exchangeability", ""))
    kind = "sign flips" if "flip" in how.lower() else "permutations"
    if "(exact)" in how or "exact enumeration" in how:
        return f"all {int(count):,} {kind}" if math.isfinite(count) else f"every {kind[:-1]}"
    if math.isfinite(count) and count > 0:
        return f"{int(count):,} {kind}"
    return str(row.get("test", "")) or "the model's test"


def headline(
    row: Mapping[str, Any],
    subject: str = "",
    unit: str = "",
    confidence: float = 0.95,
    what: str = "",
    alpha: float = 0.05,
) -> str:
    """State one result in a sentence: direction, size, CI, effect size, p FWER.

    Parameters
    ----------
    row : mapping
        One row of a result table (``measure``, ``contrast``, ``estimate``,
        ``ci_low``, ``ci_high``, ``statistic``, ``p_fwer``, effect size,
        ``n_permutations``, ``exchangeability``).
    subject : str
        Who acted in a two-condition contrast, e.g. ``"LSD (vs placebo)"``:
        the sentence then says it lowered or raised the measure. "" states
        the row's ``contrast`` instead (any model: group differences, slopes,
        F tests).
    unit : str
        The measure's unit ("" for none).
    confidence : float
        Level of the interval.
    what : str
        A description of the measure, shown after its name.
    alpha : float
        Family-wise level at which a change is claimed.

    Returns
    -------
    str
        E.g. "LSD (vs placebo) lowered dmn_within_fc (...) by 0.102 Fisher z
        (95% CI 0.056-0.148; d_z = -0.70; p FWER = 0.0009, 10,000 sign flips)."
        A result that misses ``alpha`` is said to be not detected, with its
        signed estimate and interval.
    """
    estimate = _float(row, "estimate")
    low, high = _float(row, "ci_low"), _float(row, "ci_high")
    p_fwer = _float(row, "p_fwer")
    measure = str(row.get("measure", "the measure"))
    named = f"{measure} ({what})" if what else measure
    passed = math.isfinite(p_fwer) and p_fwer < alpha
    parts = [effect_text(row), f"p FWER = {_p(p_fwer)}, {inference_text(row)}"]
    tail = "; ".join(part for part in parts if part)
    unit_text = f" {unit}" if unit else ""
    # About three significant digits of the largest of the estimate and its bounds.
    finite = [abs(v) for v in (estimate, low, high) if math.isfinite(v)]
    digits = _decimals(max(finite, default=math.nan))

    def fmt(value: float) -> str:
        return _fixed(value, digits)

    interval = f"{confidence:.0%} CI {fmt(low)} to {fmt(high)}"
    if low * high > 0:  # on one side of zero: as magnitudes when the sentence gives a direction
        near, far = sorted((abs(low), abs(high)))
        magnitudes = f"{confidence:.0%} CI {fmt(near)}\u2013{fmt(far)}"
    else:
        magnitudes = interval
    if not math.isfinite(estimate):  # an F test: no single estimate
        statistic = _float(row, "statistic")
        verdict = "a difference" if passed else "no detectable difference"
        return f"{named}, {row.get('contrast', '')}: {verdict} (F = {_num(statistic)}; {tail})."
    if not passed:
        who = f"{subject}: no" if subject else f"{named}, {row.get('contrast', '')}: no"
        about = f" in {named}" if subject else ""
        return (
            f"{who} detectable change{about}; estimate {fmt(estimate)}{unit_text} "
            f"({interval}; {tail}). Absence of evidence is not evidence of absence: the "
            "interval shows the changes this study cannot rule out."
        )
    if subject:
        verb = "lowered" if estimate < 0 else "raised"
        return (
            f"{subject} {verb} {named} by {fmt(abs(estimate))}{unit_text} ({magnitudes}; {tail})."
        )
    return f"{named}, {row.get('contrast', '')}: {fmt(estimate)}{unit_text} ({interval}; {tail})."


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    """Return a column as numbers (NaN where missing or not numeric)."""
    if name not in table:
        return pd.Series(np.nan, index=table.index)
    return pd.Series(pd.to_numeric(table[name], errors="coerce"), index=table.index)


def rank_results(results: pd.DataFrame) -> pd.DataFrame:
    """Order result rows by p FWER, then uncorrected p, then the largest |effect|.

    Parameters
    ----------
    results : pandas.DataFrame
        A result table.

    Returns
    -------
    pandas.DataFrame
        The same rows, strongest first (stable for ties).
    """
    effect = _column(results, "effect_size")
    if effect.isna().all():
        effect = _column(results, "statistic")
    keys = pd.DataFrame(
        {
            "a": _column(results, "p_fwer"),
            "b": _column(results, "p_uncorrected"),
            "c": -effect.abs(),
        },
        index=results.index,
    )
    order = keys.sort_values(["a", "b", "c"], kind="stable", na_position="last").index
    return results.loc[order]


def measures_line(results: pd.DataFrame, alpha: float = 0.05) -> str:
    """Say how many measures changed, and name them with their direction.

    Parameters
    ----------
    results : pandas.DataFrame
        The result table (``measure``, ``estimate``, ``p_fwer``).
    alpha : float
        Family-wise level.

    Returns
    -------
    str
        One sentence; the first :data:`NAMED` changed measures are named,
        strongest first.
    """
    total = len(results)
    changed = rank_results(results[pd.to_numeric(results["p_fwer"], errors="coerce") < alpha])
    if changed.empty:
        return f"None of the {total:,} measures tested changed at p FWER < {alpha:g}."
    lower = int((changed["estimate"] < 0).sum())
    named = [
        f"{m} ({'lower' if e < 0 else 'higher'})"
        for m, e in zip(
            changed["measure"].head(NAMED), changed["estimate"].head(NAMED), strict=True
        )
    ]
    more = f" and {len(changed) - NAMED:,} more" if len(changed) > NAMED else ""
    return (
        f"{len(changed):,} of the {total:,} measures tested changed at p FWER < {alpha:g} "
        f"({lower:,} lower, {len(changed) - lower:,} higher): {', '.join(named)}{more}."
    )


def literature_line(comparison: Comparison) -> str:
    """One sentence putting this study beside the evidence catalog.

    Parameters
    ----------
    comparison : Comparison
        From :func:`dmnpharm.catalog.compare`.

    Returns
    -------
    str
        The verdicts on the catalog's claims and findings, and the primary
        measure's standardized effect beside the pooled literature effect
        when the catalog pools one.
    """
    summary = comparison.summary
    rows = comparison.rows
    counts = dict(summary.get("counts", {}))
    testable = {k: v for k, v in counts.items() if not str(k).startswith("not ") and v}
    claims = ", ".join(f"{k} {v}" for k, v in testable.items()) or "none testable here"
    findings = rows[rows["kind"] == "finding"]["verdict"].value_counts()
    finding_text = ", ".join(f"{k} {v}" for k, v in findings.items())
    text = (
        f"Beside the evidence catalog ({summary.get('drug')}, {summary.get('population')}; "
        f"version {summary.get('catalog_version')}): the catalog's claims: {claims}"
    )
    if finding_text:
        text += f"; its {int(findings.sum())} published findings: {finding_text}"
    pooled = [p for p in summary.get("pooled", []) if p.get("k", 0) and p.get("k", 0) > 1]
    if pooled:
        first = pooled[0]
        interval = str(first.get("ours_in_pi", ""))
        where = (
            f", {interval} its 95% prediction interval"
            if interval in ("inside", "outside")
            else ""
        )
        k_imputed = int(first.get("k_imputed", 0) or 0)
        bounds = (
            f", {k_imputed} of them lower bounds imputed from reported significance"
            if k_imputed
            else ""
        )
        text += (
            f". {first['measure']}: this study's {first.get('kind')} = "
            f"{_fixed(float(first['ours']), 2)} vs the pooled literature "
            f"{_fixed(float(first['pooled']), 2)} (95% CI "
            f"{_fixed(float(first['pooled_ci_low']), 2)} to "
            f"{_fixed(float(first['pooled_ci_high']), 2)}, {first['k']} studies{bounds}){where}"
        )
    return text + "."


def first_sentences(note: str, stop: str = " Predictions come from") -> str:
    """Return a section note up to a boilerplate tail (e.g. the prediction's caveat).

    Parameters
    ----------
    note : str
        The note.
    stop : str
        Where the boilerplate starts.

    Returns
    -------
    str
        The note's informative part.
    """
    return note.split(stop, 1)[0].strip()


def sample_line(
    participants: int, in_model: Sequence[int], runs: int, unit: str, rows: str = "runs"
) -> str:
    """Say how many participants and runs there were and how many the model used.

    Parameters
    ----------
    participants : int
        Participants with data (the design or metrics table).
    in_model : sequence of int
        Each measure's n in the fitted model.
    runs : int
        Runs (or table rows) with data.
    unit : str
        What the model tests, e.g. ``"the paired test"``.
    rows : str
        What ``runs`` counts.

    Returns
    -------
    str
        One sentence; when the model used fewer participants it says how many
        were left out (listed under Exclusions).
    """
    used = sorted({int(n) for n in in_model if n == n})
    used_text = "/".join(f"{n:,}" for n in used) if used else "0"
    text = f"{participants:,} participants ({runs:,} {rows}); {used_text} entered {unit}"
    top = max(used, default=0)
    if top < participants:
        text += f" ({participants - top:,} left out, listed under Exclusions)"
    return text + "."
