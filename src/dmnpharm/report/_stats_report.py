"""The HTML report of ``dmnpharm stats``: a group model on any tidy metrics table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.report import (
    ReportContent,
    Section,
    caveats_sentence,
    covariate_figure,
    group_values_figure,
    null_section,
    paired_condition_figure,
    references_sentence,
    write_report,
)
from dmnpharm.stats import ModelSpec, StatsResult

__all__ = ["build_stats_report", "stats_methods_paragraph"]

#: Measures drawn by condition or group at most (those with the smallest p FWER).
VALUE_FIGURES_SHOWN = 12


def _simple_paired(spec: ModelSpec) -> bool:
    """Whether :func:`dmnpharm.stats.analyse` takes its sign-flip path (no GLM)."""
    return bool(
        spec.within
        and spec.contrast
        and not (spec.between or spec.test_covariate or spec.covariates or spec.block)
    )


def stats_methods_paragraph(
    table: pd.DataFrame,
    spec: ModelSpec,
    result: StatsResult,
    method: str,
    versions: dict[str, str],
    table_name: str,
) -> str:
    """Write the methods paragraph of a ``dmnpharm stats`` analysis from its model.

    Parameters
    ----------
    table : pandas.DataFrame
        The metrics table as read (rows of the analysis tested).
    spec : ModelSpec
        The model.
    result : StatsResult
        The fitted model (its summary states the test and the permutation scheme).
    method : str
        ``permutation``, ``mixed`` or ``normalization``.
    versions : dict
        Package versions recorded in provenance.
    table_name : str
        File name of the metrics table.

    Returns
    -------
    str
        One paragraph of plain text.
    """
    measures = [str(m) for m in result.results["measure"]]
    n_subjects = table[spec.subject].nunique()
    text = [
        f"The metrics table {table_name} ({len(table)} rows, {n_subjects} subjects, "
        f"{len(measures)} measures) was analysed with dmnpharm "
        f"{versions.get('dmnpharm', '?')}, each measure separately with one shared model."
    ]
    if spec.within and method != "mixed":
        text.append(f"Runs of a subject at the same level of {spec.within} were averaged first.")
    elif method != "mixed":
        text.append("Runs of a subject were averaged first (one value per subject).")
    text.append(result.summary.rstrip("."))
    if spec.covariates:
        text.append(
            f"Nuisance covariates: {', '.join(spec.covariates)} (numeric ones centred, "
            "text ones dummy coded)"
        )
    if spec.block:
        text.append(
            f"Each {spec.block} had its own intercept and permutations stayed within {spec.block}"
        )
    if method == "mixed":
        text.append(
            "Family-wise error across measures was controlled by Holm's step-down "
            "adjustment and the false discovery rate by Benjamini-Hochberg"
        )
    else:
        if "ter Braak" in result.summary:
            text.append(
                "With one error variance per group the sign flips used the full model's "
                "residuals (ter Braak 1992), which keep each subject in its variance group; "
                "residuals of the nuisance-only model were liberal with small unequal groups "
                "(docs/calibration.md)"
            )
        elif method == "permutation" and not _simple_paired(spec):
            text.append(
                "Permutations followed Freedman and Lane (1983), permuting the residuals "
                "of the nuisance-only model (Winkler et al. 2014, NeuroImage 92:381-397)"
            )
        text.append(
            f"Family-wise error across the {len(measures)} measures was controlled by the "
            "maximum statistic over measures in each permutation, and the false discovery "
            "rate by Benjamini-Hochberg over the permutation p-values"
        )
    kinds = sorted({str(k) for k in result.results["effect_size_kind"] if k})
    if kinds:
        text.append(
            f"Effect sizes: {', '.join(kinds)}; confidence intervals are 95 % (parametric "
            "for the estimate, bootstrap over subjects for the effect size where given)"
        )
    if result.dropped:
        text.append(f"Left out: {'; '.join(result.dropped)}")
    software = ", ".join(
        f"{name} {versions[name]}"
        for name in ("numpy", "scipy", "pandas", "statsmodels")
        if name in versions
    )
    if software:
        text.append(f"Software: {software}")
    paragraph = ". ".join(part.rstrip(". ") for part in text) + "."
    cited = " ".join(t for t in (references_sentence(measures), caveats_sentence(measures)) if t)
    return f"{paragraph} {cited}" if cited else paragraph


def _subject_means(table: pd.DataFrame, spec: ModelSpec, measure: str) -> pd.DataFrame:
    """Subjects x levels of ``within`` (mean over runs) for one measure."""
    assert spec.within is not None
    rows = table[table["measure"].astype(str) == measure]
    return rows.assign(_level=rows[spec.within].astype(str)).pivot_table(
        index=spec.subject, columns="_level", values="value", aggfunc="mean"
    )


def _per_subject(table: pd.DataFrame, spec: ModelSpec, column: str) -> pd.Series:
    return table.groupby(spec.subject)[column].first()


def _value_figure(table: pd.DataFrame, spec: ModelSpec, measure: str) -> tuple[str, str] | None:
    """One measure drawn the way the model compares it, with its caption."""
    unit = ""
    rows = table[table["measure"].astype(str) == measure]
    if "unit" in rows and rows["unit"].notna().any():
        unit = str(rows["unit"].dropna().iloc[0])
    if spec.within:
        means = _subject_means(table, spec, measure)
        if spec.contrast:
            a, b = spec.contrast
            if not {a, b} <= set(means.columns):
                return None
            change = (means[a] - means[b]).dropna()
            label = f"{measure}: {a} - {b}"
            if spec.between or spec.test_covariate:
                return _subject_figure(change, table, spec, label, unit, "one subject's change")
            levels = [b, a]
        else:
            levels = sorted(means.columns)
            if spec.trend:
                dose = (
                    table.assign(_level=table[spec.within].astype(str))
                    .groupby("_level")[spec.trend]
                    .agg(lambda s: float(np.mean(pd.to_numeric(s, errors="coerce"))))
                )
                levels = sorted(levels, key=lambda level: (dose.get(level, np.inf), level))
        return (
            paired_condition_figure(means, levels, measure, unit),
            f"{measure}: each grey line is one subject's mean over runs at each level of "
            f"{spec.within}; red: the mean ± 1.96 standard errors.",
        )
    values = rows.groupby(spec.subject)["value"].mean()
    if spec.between or spec.test_covariate:
        return _subject_figure(values, table, spec, measure, unit, "one subject (mean over runs)")
    return None


def _subject_figure(
    values: pd.Series, table: pd.DataFrame, spec: ModelSpec, label: str, unit: str, dot: str
) -> tuple[str, str]:
    """Draw one value per subject by the between factor, or against the tested covariate."""
    if spec.between:
        groups = _per_subject(table, spec, spec.between).astype(str)
        order = list(spec.between_contrast or sorted(set(groups.loc[values.index])))
        return (
            group_values_figure(values, groups, order, label, unit),
            f"{label}: each dot is {dot}, by {spec.between}; red: the group mean ± 1.96 "
            "standard errors.",
        )
    covariate_name = str(spec.test_covariate)
    covariate = pd.to_numeric(_per_subject(table, spec, covariate_name), errors="coerce").loc[
        values.index
    ]
    return (
        covariate_figure(covariate, values, label, covariate_name, unit),
        f"{label}: each dot is {dot} against {covariate_name}; red: the least-squares line.",
    )


def _values_section(table: pd.DataFrame, spec: ModelSpec, results: pd.DataFrame) -> Section:
    ranked = results.assign(_order=np.arange(len(results))).sort_values(
        ["p_fwer", "p_uncorrected", "_order"], kind="stable"
    )
    chosen = set(ranked["measure"].astype(str).head(VALUE_FIGURES_SHOWN))
    figures = [
        figure
        for measure in results["measure"].astype(str)
        if measure in chosen
        for figure in [_value_figure(table, spec, measure)]
        if figure is not None
    ]
    by = spec.within or spec.between or spec.test_covariate or "subject"
    note = f"The values the model compares, per subject, by {by}."
    if len(results) > VALUE_FIGURES_SHOWN:
        note += (
            f" Shown: the {VALUE_FIGURES_SHOWN} measures with the smallest p FWER of "
            f"{len(results)}."
        )
    return Section("values", "Values per measure", note, figures=figures)


def build_stats_report(
    table: pd.DataFrame,
    spec: ModelSpec,
    result: StatsResult,
    method: str,
    provenance: dict[str, Any],
    path: Path,
    table_name: str,
    exclusions: Sequence[str] = (),
) -> Path:
    """Write the HTML report of a ``dmnpharm stats`` analysis.

    Parameters
    ----------
    table : pandas.DataFrame
        The metrics table as read (rows of the analysis tested).
    spec : ModelSpec
        The model.
    result : StatsResult
        The fitted model; its ``null`` (when there is one) is drawn per measure.
    method : str
        ``permutation``, ``mixed`` or ``normalization``.
    provenance : dict
        The record written to ``provenance.json`` (versions, inputs, seed).
    path : Path
        Destination file.
    table_name : str
        File name of the metrics table, for the summary and methods.
    exclusions : sequence of str
        Runs left out or failed before the model (``dmnpharm run`` with a
        between-subject design), listed with the subjects the model dropped.

    Returns
    -------
    Path
        The written report.
    """
    results = result.results
    measures = results["measure"].astype(str)
    contrast = str(results["contrast"].iloc[0]) if len(results) else "no measures"
    design = {
        "metrics table": table_name,
        "subjects": str(table[spec.subject].nunique()),
        "rows": str(len(table)),
        "measures": str(len(measures)),
        "subjects in the model": ", ".join(str(n) for n in sorted(set(results["n"]))),
        "test": str(results["test"].iloc[0]) if len(results) else "",
        "model": result.summary,
    }
    roles = {
        "within": spec.within,
        "contrast": " - ".join(spec.contrast) if spec.contrast else None,
        "between": spec.between,
        "between contrast": " - ".join(spec.between_contrast) if spec.between_contrast else None,
        "covariates": ", ".join(spec.covariates) or None,
        "test covariate": spec.test_covariate,
        "trend": spec.trend,
        "block": spec.block,
    }
    design.update({role: str(value) for role, value in roles.items() if value})
    if spec.within and spec.within in table:
        levels = table.groupby(table[spec.within].astype(str))[spec.subject].nunique()
        design[f"subjects per {spec.within}"] = ", ".join(f"{k}: {n}" for k, n in levels.items())
    if method != "mixed":
        design["permutations"] = (
            f"{provenance.get('n_permutations')}, seed {provenance.get('seed')}"
        )
    null = result.null
    statistic = null.statistic if null is not None else "t"
    if method == "mixed":
        statistic, fwer = "z", "Holm's step-down adjustment of the Wald p-values"
    else:
        fwer = f"maximum {'|t|' if statistic == 't' else statistic} over measures"
    sections = [_values_section(table, spec, results)]
    if null is not None and len(results):
        sections.append(null_section(results, null))
    content = ReportContent(
        title=f"dmnpharm stats: {contrast}",
        design=design,
        results=results,
        figures={},
        methods=stats_methods_paragraph(
            table, spec, result, method, provenance.get("versions", {}), table_name
        ),
        provenance=provenance,
        exclusions=[*exclusions, *(d for d in result.dropped if d not in exclusions)],
        sections=sections,
        statistic_name=statistic,
        fwer_method=fwer,
    )
    return write_report(content, path)
