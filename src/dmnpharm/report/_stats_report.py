"""The HTML report of ``dmnpharm stats``: a group model on any tidy metrics table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.io import OutputLayout
from dmnpharm.metrics import NETWORK_MEASURES
from dmnpharm.report import (
    ReportContent,
    Section,
    caveats_sentence,
    null_section,
    references_sentence,
    write_report,
)
from dmnpharm.report._multiples import multiples_figure
from dmnpharm.report._stats_views import (
    edge_section,
    estimates_figure,
    p_histogram_figure,
    value_panels,
)
from dmnpharm.report._summary import Summary, headline, measures_line, rank_results, sample_line
from dmnpharm.stats import ModelSpec, StatsResult

if TYPE_CHECKING:  # the QC figures import matplotlib: only when a QC section is drawn
    from dmnpharm.report._qc import RunQC

__all__ = ["build_stats_report", "stats_methods_paragraph"]

#: Up to this many measures, every one is drawn (one small panel each).
PANELS_ALL = 48
#: Up to this many measures, the results table lists every one.
RESULTS_ALL = 60
#: Measures listed and drawn when there are more (the strongest).
TOP_SHOWN = 20
#: The measure the report's first sentence is about, when the table has it.
PRIMARY_MEASURE = "dmn_within_fc"


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
    effect_ci: str = "noncentral-t",
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
    effect_ci : str
        How the d_z interval was computed: ``noncentral-t`` or ``bootstrap``.

    Returns
    -------
    str
        One paragraph of plain text.
    """
    measures = [str(m) for m in result.results["measure"].to_numpy(dtype=object)]
    n_subjects = table[spec.subject].nunique()
    text = [
        f"The metrics table {table_name} ({len(table)} rows, {n_subjects} subjects, "
        f"{len(measures)} measures) was analysed with dmnpharm "
        f"{versions.get('dmnpharm', '?')}, each measure separately with one shared model."
    ]
    in_model = int(result.results["n"].max()) if len(result.results) else 0
    if in_model < n_subjects:
        text.append(f"{in_model} of the {n_subjects} subjects entered the model")
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
    kinds = sorted({str(k) for k in result.results["effect_size_kind"].unique() if k})
    if kinds:
        how = (
            "the noncentral-t interval for d_z (Steiger & Fouladi 1997), the percentile "
            "bootstrap over subjects for other effect sizes"
            if effect_ci == "noncentral-t"
            else "the percentile bootstrap over subjects for the effect size"
        )
        text.append(
            f"Effect sizes: {', '.join(kinds)}; confidence intervals are 95 % (parametric "
            f"for the estimate; {how})"
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


def _left_out(table: pd.DataFrame, spec: ModelSpec, result: StatsResult) -> list[str]:
    """Name the subjects of the table the fitted model did not use, with the reason."""
    design = result.design
    if spec.subject not in design or spec.subject not in table:
        return []
    used = {str(s) for s in design[spec.subject].unique()}
    missing = sorted({str(s) for s in table[spec.subject].unique()} - used)
    explained = {str(d).split(":", 1)[0].strip() for d in result.dropped}
    missing = [s for s in missing if s not in explained]
    if not missing:
        return []
    reason = "not in the model's rows"
    if spec.between and spec.between_contrast and spec.between in table:
        firsts = table.groupby(spec.subject)[spec.between].first()
        levels = firsts.set_axis(firsts.index.astype(str)).astype(str).loc[missing]
        others = ", ".join(repr(v) for v in sorted(set(levels)))
        compared = " - ".join(spec.between_contrast)
        reason = f"their {spec.between} ({others}) is not in the contrast {compared}"
    elif spec.within and spec.contrast and spec.within in table:
        reason = f"they lack {spec.within} {' or '.join(spec.contrast)}"
    named = ", ".join(missing[:10]) + (
        f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    )
    return [f"{len(missing)} subjects of the table are not in the model ({reason}): {named}"]


def _values_section(
    table: pd.DataFrame, spec: ModelSpec, results: pd.DataFrame, ranked: pd.DataFrame
) -> Section | None:
    """Draw every measure in one small-multiples figure; the strongest when there are many."""
    if len(results) > PANELS_ALL:
        top = ranked.head(TOP_SHOWN)
        caption = (
            f"The {TOP_SHOWN} strongest of the {len(results):,} measures (smallest p FWER, then "
            "p, then largest |effect|): estimate and 95% CI, red where p FWER < 0.05. Every "
            "measure is in the results file beside this report, in the p histogram and on the "
            "null figure."
        )
        uri = estimates_figure(top, f"strongest {TOP_SHOWN} of {len(results):,} measures")
        note = "Too many measures to draw one by one: the strongest, with their intervals."
        return Section("values", "Strongest measures", note, figures=[(uri, caption)])
    panels = value_panels(table, spec, results, [str(m) for m in results["measure"]])
    if not panels:
        return None
    by = spec.within or spec.between or spec.test_covariate or "subject"
    caption = (
        f"All {len(panels)} measures, in the order of the results table. Each panel shows the "
        f"values the model compares, per subject, by {by} (grey: subjects; red: means "
        "\u00b1 1.96 SEM, or the least-squares line); above it the estimate (\u0394, or F) and "
        "p FWER; red frames mark p FWER < 0.05."
    )
    note = f"The values the model compares, per subject, by {by}."
    figure = (multiples_figure(panels), caption)
    return Section("values", "Values per measure", note, figures=[figure])


def _distribution_section(results: pd.DataFrame) -> Section | None:
    """Draw the histogram of p over many measures (flat: no effect anywhere)."""
    if len(results) <= PANELS_ALL:
        return None
    p = pd.to_numeric(results["p_uncorrected"], errors="coerce")
    passed = int((pd.to_numeric(results["p_fwer"], errors="coerce") < 0.05).sum())
    caption = (
        f"Uncorrected p of all {len(results):,} measures; dashed: the flat histogram expected "
        f"if no measure changed. {passed:,} measures have p FWER < 0.05."
    )
    figure = p_histogram_figure(p.to_numpy(), f"p over {len(results):,} measures")
    return Section("p-values", "Distribution of p", "", figures=[(figure, caption)])


def _codes(column: pd.Series) -> tuple[npt.NDArray[np.signedinteger[Any]], list[str]]:
    """Integer codes (-1: missing) of a column and the text of the labels they index.

    A categorical's own (small) codes: no text per row, little memory (a
    connectome-scale table has millions of rows and a handful of subjects and
    levels).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes), [str(v) for v in column.cat.categories]
    factorized, labels = pd.factorize(column)
    return np.asarray(factorized), [str(v) for v in labels]


def _subjects_per_level(table: pd.DataFrame, within: str, subject: str) -> dict[str, int]:
    """Count the subjects with rows at each level of ``within`` (fast on big tables)."""
    subjects, subject_labels = _codes(table[subject])
    codes, labels = _codes(table[within])
    names = sorted(set(labels))  # labels equal as text are one level
    level_of = np.array([names.index(label) for label in labels] + [-1], dtype=np.int32)
    # one number per (subject, level) pair: -1 codes (missing) fall in the first row/column
    pair = (subjects.astype(np.int32) + 1) * (len(names) + 1) + (level_of[codes] + 1)
    width = (len(subject_labels) + 1) * (len(names) + 1)
    seen = np.bincount(pair, minlength=width).reshape(-1, len(names) + 1)[1:, 1:] > 0
    counts = seen.sum(axis=0)
    return {name: int(count) for name, count in zip(names, counts, strict=True) if count}


def _design_lines(
    table: pd.DataFrame, spec: ModelSpec, result: StatsResult, method: str, **given: Any
) -> dict[str, str]:
    """Summarise the design: the table, the subjects in the model, the model's roles."""
    results = result.results
    design = {
        "metrics table": str(given["table_name"]),
        "subjects in the table": str(table[spec.subject].nunique()),
        "subjects in the model": ", ".join(f"{n:,}" for n in sorted(set(results["n"].unique()))),
        "rows": f"{len(table):,}",
        "measures": f"{len(results):,}",
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
        levels = _subjects_per_level(table, spec.within, spec.subject)
        design[f"subjects per {spec.within}"] = ", ".join(f"{k}: {n}" for k, n in levels.items())
    if method != "mixed":
        provenance = given["provenance"]
        design["permutations"] = (
            f"{provenance.get('n_permutations')}, seed {provenance.get('seed')}"
        )
    return design


def _summary(
    table: pd.DataFrame,
    sample: pd.DataFrame,
    spec: ModelSpec,
    results: pd.DataFrame,
    ranked: pd.DataFrame,
    left_out: list[str],
    quality: RunQC | None = None,
) -> Summary | None:
    """Put the answer first: the primary (or strongest) measure, the others, the sample."""
    if results.empty:
        return None
    primary = results[results["measure"].astype(str) == PRIMARY_MEASURE]
    top = primary if len(primary) else ranked
    row = {str(k): v for k, v in top.iloc[0].items()}
    measure = str(row["measure"])
    lead = "Strongest measure: " if len(primary) == 0 and len(results) > 1 else ""
    unit = ""
    if "unit" in table:
        for rows in (sample, table):  # one subject's rows first: far fewer to search
            units = rows.loc[rows["measure"] == row["measure"], "unit"].dropna()
            if len(units):
                unit = str(units.iloc[0])
                break
    sentence = lead + headline(row, unit=unit, what=NETWORK_MEASURES.get(measure, ""))
    runs = len(table)
    lines = [
        measures_line(results),
        sample_line(table[spec.subject].nunique(), list(results["n"]), runs, "the model", "rows"),
    ]
    warnings: list[str] = []
    clear = ""
    if quality is not None:
        from dmnpharm.report._qc import qc_warnings

        warnings, clear = qc_warnings(quality)
    return Summary(sentence, lines, [*left_out, *warnings], clear)


def build_stats_report(
    table: pd.DataFrame,
    spec: ModelSpec,
    result: StatsResult,
    method: str,
    provenance: dict[str, Any],
    path: Path,
    table_name: str,
    exclusions: Sequence[str] = (),
    *,
    quality: RunQC | None = None,
) -> Path:
    """Write the HTML report of a ``dmnpharm stats`` analysis, summarising a large one.

    Parameters
    ----------
    table : pandas.DataFrame
        The metrics table as read (rows of the analysis tested).
    spec : ModelSpec
        The model.
    result : StatsResult
        The fitted model; its ``null`` (when there is one) is drawn once: the
        maximum statistic with every measure's observed statistic.
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
        between-subject design), listed with the subjects the model dropped
        and the subjects of the table it did not use.
    quality : RunQC or None
        Per-run quality data when the table comes from ``dmnpharm run`` (a
        between-subject design): its QC section and warnings are shown.

    Returns
    -------
    Path
        The written report. With more than :data:`RESULTS_ALL` measures the
        results table shows the :data:`TOP_SHOWN` strongest (the full table is
        ``results.tsv`` beside the report) and the values figure the same.
    """
    results = result.results
    contrast = str(results["contrast"].iloc[0]) if len(results) else "no measures"
    null = result.null
    statistic = null.statistic if null is not None else "t"
    if method == "mixed":
        statistic, fwer = "z", "Holm's step-down adjustment of the Wald p-values"
    else:
        fwer = f"maximum {'|t|' if statistic == 't' else statistic} over measures"
    # One subject's rows: where each measure's unit and regions are looked up first.
    sample = table[table[spec.subject] == table[spec.subject].iloc[0]] if len(table) else table
    ranked = rank_results(results)  # strongest first: the table, the figure, the headline
    sections = [
        _values_section(table, spec, results, ranked),
        _distribution_section(results),
        edge_section(table, sample, results, statistic),
    ]
    if null is not None and len(results):
        sections.append(null_section(results, null))
    if quality is not None:
        from dmnpharm.report._qc import qc_section

        sections.append(qc_section(quality))
    left_out = _left_out(table, spec, result)
    shown, note = results, ""
    if len(results) > RESULTS_ALL:
        shown = ranked.head(TOP_SHOWN)
        full = OutputLayout.stats(path.parent).results_tsv.name
        note = (
            f"The {TOP_SHOWN} strongest of {len(results):,} measures (smallest p FWER, then p, "
            f"then largest |effect|). Every measure is in {full} beside this report."
        )
    listed = [*exclusions, *(d for d in result.dropped if d not in exclusions), *left_out]
    content = ReportContent(
        title=f"dmnpharm stats: {contrast}",
        design=_design_lines(
            table, spec, result, method, table_name=table_name, provenance=provenance
        ),
        results=shown,
        methods=stats_methods_paragraph(
            table,
            spec,
            result,
            method,
            provenance.get("versions", {}),
            table_name,
            effect_ci=str(provenance.get("effect_ci", "noncentral-t")),
        ),
        provenance=provenance,
        exclusions=listed,
        sections=[s for s in sections if s is not None],
        statistic_name=statistic,
        fwer_method=fwer,
        summary=_summary(table, sample, spec, results, ranked, left_out, quality),
        n_measures=len(results),
        results_note=note,
    )
    return write_report(content, path)
