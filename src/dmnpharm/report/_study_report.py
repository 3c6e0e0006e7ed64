"""Assemble the report of a run from its tables and configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm.catalog import Comparison
from dmnpharm.config import AnalysisConfig, Inference
from dmnpharm.metrics import ESTIMATORS, NETWORK_MEASURES
from dmnpharm.report import (
    ReportContent,
    Section,
    caveats_sentence,
    null_section,
    references_sentence,
    write_report,
)
from dmnpharm.report._qc import RunQC, qc_section, qc_warnings
from dmnpharm.report._study_parts import (
    adjusted_table,
    connectivity_section,
    ground_truth_rows,
    measures_section,
)
from dmnpharm.report._summary import (
    Summary,
    first_sentences,
    headline,
    literature_line,
    measures_line,
    rank_results,
    sample_line,
)
from dmnpharm.stats import PermutationNull

__all__ = ["build_report", "methods_paragraph"]

#: The measure the report's first sentence is about, when the analysis has it.
PRIMARY_MEASURE = "dmn_within_fc"


def _flips_used(flips: str | None, inference: Inference) -> str:
    """Say which sign flips gave the p-values: all of them (exact) or a random draw."""
    if flips and "(exact)" in flips:
        count = flips.split("all ", 1)[-1].split(" flips", 1)[0]
        smallest = 1 / int(count)
        return f"all {count} sign flips (exact enumeration; smallest attainable p {smallest:.2g})"
    return f"{inference.n_permutations} random sign flips (seed {inference.seed})"


def methods_paragraph(
    design: pd.DataFrame,
    config: AnalysisConfig,
    versions: dict[str, str],
    measures: list[str] | None = None,
    flips: str | None = None,
) -> str:
    """Write the methods paragraph from the configuration actually used.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run included.
    config : AnalysisConfig
        The analytic choices (atlas resolved).
    versions : dict
        Package versions recorded in provenance.
    measures : list of str or None
        The network-level measures tested (None: the within-DMN and
        DMN-salience connectivity).
    flips : str or None
        The sign flips actually used, as the results' ``exchangeability``
        states them (``"all 256 flips (exact)"``); None: the configured count.

    Returns
    -------
    str
        One paragraph of plain text, ending with the source of each measure
        (:data:`dmnpharm.metrics.MEASURE_REFERENCES`) and of the estimator.
    """
    atlas = config.atlas_object()
    n_sub = design["participant_id"].nunique()
    a, b = config.contrast
    inference = config.inference
    repetition_times = sorted(set(design["repetition_time"]))
    tr_seconds = ", ".join(f"{t:g}" for t in repetition_times)
    tested = measures or ["dmn_within_fc", "dmn_salience_fc"]
    measure_text = "; ".join(f"{m} ({NETWORK_MEASURES.get(m, m)})" for m in tested)
    origin = atlas.reference or (
        f"a user-supplied atlas read from {Path(atlas.source).name}, content SHA-256 "
        f"{atlas.fingerprint[:12]}"
        if atlas.source
        else "a user-supplied atlas"
    )
    return (
        f"Region time series of {len(design)} runs from {n_sub} participants (TR {tr_seconds} s) "
        f"were analysed with dmnpharm {versions.get('dmnpharm', '?')}. Regions were the "
        f"{atlas.n_regions} regions of the {atlas.name} atlas ({origin}), with the "
        f"atlas's own network labels mapped to dmnpharm's network vocabulary. "
        f"{config.denoise.describe()} For each run, "
        f"connectivity between all region pairs was estimated as "
        f"{ESTIMATORS[config.estimator]}, and the following network measures were computed: "
        f"{measure_text}. Region-level and DMN edge-level values were stored but not tested. "
        f"{_gsr_text(config)}Runs of a participant under the same condition were "
        f"averaged. The within-subject contrast {a} - {b} was tested with a paired t test per "
        f"measure; p-values came from {_flips_used(flips, inference)} of the participants' "
        "paired differences, with family-wise error controlled across measures by the maximum |t| "
        f"and false discovery rate by Benjamini-Hochberg. Confidence intervals "
        f"({inference.confidence:.0%}) are parametric (Student t, n - 1 degrees of freedom). "
        f"Software: numpy {versions.get('numpy')}, scipy {versions.get('scipy')}, pandas "
        f"{versions.get('pandas')}, nilearn {versions.get('nilearn')}. "
        f"{references_sentence(tested, config.estimator)} {caveats_sentence(tested)}"
    ).rstrip()


def _gsr_text(config: AnalysisConfig) -> str:
    if not config.gsr_sensitivity or config.denoise.strategy == "36p":
        return ""
    other = "without" if config.denoise.gsr else "with"
    return (
        f"As a sensitivity analysis, every run whose confounds include the global signal was "
        f"also cleaned {other} global signal regression and tested the same way "
        f"(group/results_gsr_sensitivity.tsv). "
    )


def catalog_section(comparison: Comparison) -> Section:
    """Put this study's result beside the evidence catalog: claims, verdicts, forest plot.

    Parameters
    ----------
    comparison : Comparison
        From :func:`dmnpharm.catalog.compare` on this run's results.

    Returns
    -------
    Section
        The claims table (one row per claim and measure) and the forest plot.
    """
    rows = comparison.rows
    claims = rows[rows["kind"] == "claim"][
        ["id", "measure", "literature_direction", "our_direction", "verdict"]
    ].rename(columns={"id": "claim", "literature_direction": "expected"})
    summary = comparison.summary
    note = (
        f"{summary['drug']} ({summary['drug_class']}), population {summary['population']}: "
        f"the claims of the evidence catalog (version {summary['catalog_version']}) against "
        f"this study's contrast {summary['contrast']} (a change counts at p FWER < "
        f"{summary['alpha']}). " + " ".join(summary.get("not_testable", []))
    )
    figures = []
    if not rows.empty:
        # Drawn with matplotlib, imported only when a drug is compared.
        from dmnpharm.report._figures import figure_uri
        from dmnpharm.report._forest import forest_figure

        title = f"{summary['drug']}: literature vs this study"
        pooled = pd.DataFrame(summary.get("pooled", []))
        figures.append(
            (
                figure_uri(forest_figure(rows, title, pooled)),
                "This study's standardized effect (red) beside each literature effect on the "
                "same scale (blue, 95% CI), the random-effects pooled estimate (black) and the "
                "95% prediction interval of a new study (grey). Findings reported as a "
                "direction only are in compare/compare.tsv.",
            )
        )
    tables = [("Claims, each judged by the analysis that tests it", claims)]
    mapping = pd.DataFrame(summary.get("measure_map", []))
    if not mapping.empty:
        tables.append(("How this study's measures match the catalog's, by definition", mapping))
    return Section("catalog", "Beside the evidence catalog", note, tables, figures)


def _summary(
    results: pd.DataFrame,
    config: AnalysisConfig,
    design: pd.DataFrame,
    units: Mapping[str, str],
    quality: RunQC,
    provenance: Mapping[str, Any],
    comparison: Comparison | None,
    prediction: Section | None,
) -> Summary:
    """Put the answer first: primary contrast, other measures, literature, prediction, QC."""
    a, b = config.contrast
    ranked = rank_results(results)
    primary = results[results["measure"] == PRIMARY_MEASURE]
    row = {str(k): v for k, v in (primary if len(primary) else ranked).iloc[0].items()}
    measure = str(row["measure"])
    who = f"{config.drug} ({a} vs {b})" if config.drug else f"{a} (vs {b})"
    lines = [measures_line(results)]
    if comparison is not None:
        lines.append(literature_line(comparison))
    if prediction is not None:
        lines.append(f"Prediction from receptor targets: {first_sentences(prediction.note)}")
    lines.append(
        sample_line(
            design["participant_id"].nunique(), list(results["n"]), len(design), "the paired test"
        )
    )
    warnings, clear = qc_warnings(quality)
    failures = list(provenance.get("failures") or [])
    if failures:
        said = "run failed and is" if len(failures) == 1 else "runs failed and are"
        warnings.insert(0, f"{len(failures)} {said} not in the results.")
    return Summary(
        headline(
            row,
            who,
            units.get(measure, ""),
            config.inference.confidence,
            NETWORK_MEASURES.get(measure, ""),
        ),
        lines,
        warnings,
        clear,
    )


def build_report(
    design: pd.DataFrame,
    metrics: pd.DataFrame,
    results: pd.DataFrame,
    config: AnalysisConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    path: Path,
    exclusions: list[str] | None = None,
    *,
    qc: pd.DataFrame | None = None,
    imbalance: pd.DataFrame | None = None,
    motion_adjusted: pd.DataFrame | None = None,
    qc_fc: dict[str, Any] | None = None,
    edges: pd.DataFrame | None = None,
    comparison: Comparison | None = None,
    null: PermutationNull | None = None,
    prediction: Section | None = None,
    fd_series: pd.DataFrame | None = None,
    tsnr: pd.DataFrame | None = None,
    carpet: tuple[Any, ...] | None = None,
    coverage: pd.DataFrame | None = None,
) -> Path:
    """Write the HTML report of a run: the answer first, then the details.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run read (with ``path``, the key of the per-run cleaning
        records in ``provenance``).
    metrics : pandas.DataFrame
        Tidy metrics table.
    results : pandas.DataFrame
        Group results.
    config : AnalysisConfig
        Analytic choices.
    provenance : dict
        Recorded configuration, versions and input hashes; its
        ``cleaning_per_run`` records give each run's censored volumes and
        regions without signal.
    truth : dict or None
        ``ground_truth.json`` of a simulated study, shown beside the estimates.
    path : Path
        Destination file.
    exclusions : list of str, optional
        Runs, subjects or volumes left out and warnings, each with its reason.
    qc : pandas.DataFrame or None
        Per-run QC with the design columns (``group/qc.tsv``).
    imbalance : pandas.DataFrame or None
        The test of motion and censoring between conditions.
    motion_adjusted : pandas.DataFrame or None
        The paired test refitted at equal mean FD (when motion differed),
        shown beside the estimates as tested.
    qc_fc : dict or None
        QC-FC summary (``group/qc_fc.json``).
    edges : pandas.DataFrame or None
        Edge-level rows of the primary analysis (``metrics_edges.parquet``).
    comparison : Comparison or None
        The catalog comparison of this study's results, when a drug was named.
    null : PermutationNull or None
        The sign-flip null behind the results (``StatsResult.null``): its
        maximum statistic is drawn with every measure's observed t.
    prediction : Section or None
        The prediction of the drug from its receptor targets, shown after the
        catalog comparison (``run --drug --receptors``).
    fd_series : pandas.DataFrame or None
        Framewise displacement per run and volume (``path``, ``volume``,
        ``framewise_displacement``): FD traces of the most moving runs.
    tsnr : pandas.DataFrame or None
        Temporal SNR per run and region (``path``, ``region``, ``tsnr``).
    carpet : tuple or None
        ``(path, voxels x volumes)`` of one run of a voxel-level study, and
        optionally each row's network as a third item.
    coverage : pandas.DataFrame or None
        Atlas coverage per run and region (``path``, ``region``,
        ``coverage``: the share of the region's voxels in the brain mask).

    Returns
    -------
    Path
        The written report.
    """
    a, b = config.contrast
    units: dict[str, str] = (
        {str(k): str(v) for k, v in metrics.groupby("measure")["unit"].first().items()}
        if "unit" in metrics
        else {}
    )
    conditions = design.groupby("condition")["participant_id"].nunique()
    flips = str(results["exchangeability"].iloc[0]) if "exchangeability" in results else None
    design_lines = {
        "design": f"within-subject crossover, contrast {a} - {b}",
        "participants": str(design["participant_id"].nunique()),
        "participants in the paired test": ", ".join(str(n) for n in sorted(set(results["n"]))),
        "runs": str(len(design)),
        "participants per condition": ", ".join(f"{c}: {n}" for c, n in conditions.items()),
        "atlas": config.atlas_name,
        "confound strategy": (
            f"none here: denoised by {config.denoise.done_by}"
            if config.denoise.done_by
            else config.strategy
        ),
        "connectivity estimator": config.estimator,
        "permutations": _flips_used(flips, config.inference),
    }
    atlas = config.atlas_object()
    quality = RunQC(
        qc,
        imbalance,
        qc_fc,
        design,
        provenance.get("cleaning_per_run"),
        atlas,
        fd_series,
        tsnr,
        carpet,
        coverage=coverage,
    )
    adjusted = None
    if motion_adjusted is not None and not motion_adjusted.empty:
        adjusted = adjusted_table(results, motion_adjusted)
    sections = (
        measures_section(metrics, results, config.contrast),
        null_section(results, null) if null is not None else None,
        qc_section(quality, adjusted),
        connectivity_section(edges, atlas, config.contrast),
        catalog_section(comparison) if comparison is not None else None,
        prediction,
    )
    content = ReportContent(
        title=f"dmnpharm report: {a} vs {b}",
        design=design_lines,
        results=results,
        methods=methods_paragraph(
            design, config, provenance.get("versions", {}), list(results["measure"]), flips
        ),
        provenance=provenance,
        exclusions=list(exclusions or []),
        ground_truth=ground_truth_rows(truth, results, config.contrast) if truth else [],
        sections=[section for section in sections if section is not None],
        summary=_summary(
            results, config, design, units, quality, provenance, comparison, prediction
        ),
    )
    return write_report(content, path)
