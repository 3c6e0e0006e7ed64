"""Assemble the report of a run from its tables and configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from dmnpharm.atlases import Atlas
from dmnpharm.catalog import Comparison
from dmnpharm.config import AnalysisConfig, Inference
from dmnpharm.metrics import ESTIMATORS, NETWORK_MEASURES
from dmnpharm.report import (
    ReportContent,
    Section,
    caveats_sentence,
    connectome_figure,
    figure_uri,
    matrix_figure,
    null_section,
    paired_condition_figure,
    references_sentence,
    write_report,
)
from dmnpharm.report._forest import forest_figure
from dmnpharm.stats import PermutationNull

__all__ = ["build_report", "methods_paragraph"]


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


# Ground-truth keys of the simulator for the measures this pipeline computes.
_TRUTH_KEYS = {"dmn_within_fc": "within_fc_DMN", "dmn_salience_fc": "between_fc_DMN_SN"}


def _standard_error(row: Mapping[Any, Any]) -> float:
    """Return the SE behind a result row's t-based 95 % CI (NaN when it has none)."""
    df = pd.to_numeric(pd.Series([row.get("df")]), errors="coerce").iloc[0]
    width = float(row["ci_high"]) - float(row["ci_low"])
    if not (np.isfinite(df) and df > 0 and np.isfinite(width)):
        return float("nan")
    return width / (2 * float(sps.t.ppf(0.975, df)))


def _ground_truth_rows(
    truth: dict[str, Any], results: pd.DataFrame, contrast: tuple[str, str]
) -> list[dict[str, Any]]:
    """Planted contrast per measure, the estimate, and the miss in standard errors.

    The planted value is what the simulator put in: per run, the population
    value with effects minus the same run without them, averaged over subjects
    as the contrast. Session-to-session states are not part of it; like
    scanner noise they are sampling error, which the confidence interval
    covers.
    """
    runs = pd.DataFrame(truth.get("runs", []))
    if runs.empty or "condition" not in runs:
        return []
    rows = []
    for r in results.to_dict(orient="records"):
        key = _TRUTH_KEYS.get(str(r["measure"]))
        if key is None or f"{key}_without_effects" not in runs:
            continue
        planted = runs.assign(_planted=runs[key] - runs[f"{key}_without_effects"])
        means = planted.pivot_table(index="participant_id", columns="condition", values="_planted")
        if not set(contrast) <= set(means.columns):
            continue
        value = float((means[contrast[0]] - means[contrast[1]]).mean())
        se = _standard_error(r)
        rows.append(
            {
                "measure": r["measure"],
                "contrast": f"{contrast[0]}-{contrast[1]}",
                "value": value,
                "estimate": float(r["estimate"]),
                "miss_se": (float(r["estimate"]) - value) / se if se > 0 else float("nan"),
                "covered": bool(r["ci_low"] <= value <= r["ci_high"]),
            }
        )
    return rows


def _adjusted_table(results: pd.DataFrame, adjusted: pd.DataFrame) -> pd.DataFrame:
    """Each measure's estimate beside the estimate at equal mean FD."""
    left = results.set_index("measure")[["estimate", "ci_low", "ci_high", "p_fwer"]]
    right = adjusted.set_index("measure")[["estimate", "ci_low", "ci_high", "p_fwer"]]
    table = left.merge(
        right,
        left_index=True,
        right_index=True,
        suffixes=(" (as tested)", " (at equal mean FD)"),
    )
    return table.reset_index()


def _qc_section(
    qc: pd.DataFrame | None,
    imbalance: pd.DataFrame | None,
    qc_fc: dict[str, Any] | None,
    adjusted: pd.DataFrame | None = None,
    results: pd.DataFrame | None = None,
) -> Section | None:
    """Motion and censoring by condition, the imbalance test, QC-FC, the adjusted check."""
    if qc is None or qc.empty or "condition" not in qc:
        return None
    columns = [c for c in ("mean_fd", "max_fd", "percent_censored", "dof_lost") if c in qc]
    by_condition = qc.groupby("condition")[columns].agg(["mean", "std"])
    pairs: list[Any] = list(by_condition.columns)
    by_condition.columns = [f"{pair[0]} {pair[1]}" for pair in pairs]
    by_condition.insert(0, "runs", qc.groupby("condition").size())
    tables = [
        ("Motion and censoring by condition (mean and SD over runs)", by_condition.reset_index())
    ]
    if imbalance is not None and not imbalance.empty:
        tables.append(("Does motion or censoring differ between conditions?", imbalance))
    note = (
        "Head motion (framewise displacement, mm) and censoring per run. A difference between "
        "conditions can masquerade as a drug effect on connectivity; it is tested with the "
        "same paired permutation test as the measures."
    )
    if adjusted is not None and results is not None and not adjusted.empty:
        tables.append(
            ("Estimates as tested and at equal mean FD", _adjusted_table(results, adjusted))
        )
        note += (
            " Because motion differed, the paired test was refitted with each run's mean FD "
            "as a covariate (its within-subject change, uncentred, so the estimate is the "
            "change at equal motion; group/results_motion_adjusted.tsv). An effect that "
            "shrinks there may be partly motion; the adjustment assumes a linear motion "
            "effect and is a check, not the primary test. When the drug changed every "
            "subject's motion the same way, 'equal motion' lies outside the data and the "
            "adjusted intervals widen accordingly: it is an extrapolation."
        )
    if qc_fc:
        summary = ", ".join(f"{k.replace('_', ' ')} {float(v):.3g}" for k, v in qc_fc.items())
        note += f" QC-FC (measures vs mean FD across subjects): {summary}."
    return Section("qc", "Quality control", note, tables)


def _edge_matrices(
    edges: pd.DataFrame, labels: list[str], contrast: tuple[str, str]
) -> tuple[dict[str, Any], Any]:
    """Condition mean DMN matrices, their difference and the paired t of each edge."""
    a, b = contrast
    index = {label: k for k, label in enumerate(labels)}
    per_subject = edges.pivot_table(
        index="participant_id", columns=["condition", "region_a", "region_b"], values="value"
    )
    n = len(labels)

    def fill(values: Any) -> Any:
        matrix = np.zeros((n, n))
        for pair, value in values.items():
            i, j = index[str(pair[0])], index[str(pair[1])]
            matrix[i, j] = matrix[j, i] = value
        return matrix

    means: dict[str, Any] = {c: fill(per_subject[c].mean(axis=0)) for c in (b, a)}
    diff: Any = per_subject[a] - per_subject[b]
    counts = diff.notna().sum(axis=0)
    t_matrix = fill(diff.mean(axis=0) / (diff.std(axis=0, ddof=1) / np.sqrt(counts)))
    means[f"difference {a} - {b}"] = means[a] - means[b]
    return means, t_matrix


def _connectivity_section(
    edges: pd.DataFrame | None, atlas: Atlas, contrast: tuple[str, str]
) -> Section | None:
    """DMN edge matrices by condition, their difference, and the changed edges on a brain."""
    if edges is None or edges.empty or not set(contrast) <= set(edges["condition"]):
        return None
    dmn = [atlas.labels[int(i)] for i in atlas.network_indices("DMN")]
    matrices, t_matrix = _edge_matrices(edges, dmn, contrast)
    figures = [
        (
            matrix_figure(matrices, "within-DMN connectivity"),
            "Mean within-DMN connectivity (one row and column per DMN region, atlas order) "
            "under each condition, and their difference.",
        )
    ]
    coords = [atlas.coords[atlas.labels.index(label)] for label in dmn]
    finite = np.isfinite(np.asarray(coords, dtype=float)).all()
    strong = np.abs(np.nan_to_num(t_matrix)) > 3.5
    if finite and strong.any():
        shown = np.where(strong, t_matrix, 0.0)
        figures.append(
            (
                connectome_figure(shown, coords, "DMN edges with |paired t| > 3.5"),
                f"DMN nodes and the edges whose paired t ({contrast[0]} - {contrast[1]}) "
                f"exceeds 3.5 in size ({int(strong.sum() // 2)} edges). Descriptive only: "
                "edge-level inference needs NBS or max-T over edges (dmnpharm stats).",
            )
        )
    note = (
        "Connectivity between every pair of DMN regions, averaged over subjects "
        "(each subject's runs under a condition averaged first)."
    )
    return Section("connectivity", "Within-DMN connectivity", note, figures=figures)


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
) -> Path:
    """Write the HTML report of a run.

    Parameters
    ----------
    design : pandas.DataFrame
        One row per run included.
    metrics : pandas.DataFrame
        Tidy metrics table.
    results : pandas.DataFrame
        Group results.
    config : AnalysisConfig
        Analytic choices.
    provenance : dict
        Recorded configuration, versions and input hashes.
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
    prediction : Section or None
        The prediction of the drug from its receptor targets, shown after the
        catalog comparison (``run --drug --receptors``).
    null : PermutationNull or None
        The sign-flip null behind the results (``StatsResult.null``), drawn per
        measure with its observed t and the family-wise critical value.

    Returns
    -------
    Path
        The written report.
    """
    a, b = config.contrast
    per_subject = metrics.pivot_table(
        index="participant_id", columns=["measure", "condition"], values="value", aggfunc="mean"
    )
    units: dict[str, str] = (
        {str(k): str(v) for k, v in metrics.groupby("measure")["unit"].first().items()}
        if "unit" in metrics
        else {}
    )
    shown = [
        m
        for m in results["measure"]
        if m in ("dmn_within_fc", "dmn_salience_fc")
        or float(results.set_index("measure").loc[m, "p_fwer"]) < 0.05
    ]
    figures = {
        m: paired_condition_figure(pd.DataFrame(per_subject[m]), [b, a], m, str(units.get(m, "")))
        for m in shown
        if m in per_subject.columns.get_level_values(0)
    }
    conditions = design.groupby("condition")["participant_id"].nunique()
    design_lines = {
        "design": f"within-subject crossover, contrast {a} - {b}",
        "participants": str(design["participant_id"].nunique()),
        "runs": str(len(design)),
        "participants per condition": ", ".join(f"{c}: {n}" for c, n in conditions.items()),
        "atlas": config.atlas_name,
        "confound strategy": (
            f"none here: denoised by {config.denoise.done_by}"
            if config.denoise.done_by
            else config.strategy
        ),
        "connectivity estimator": config.estimator,
        "permutations": _flips_used(
            str(results["exchangeability"].iloc[0]) if "exchangeability" in results else None,
            config.inference,
        ),
    }
    content = ReportContent(
        title=f"dmnpharm report: {a} vs {b}",
        design=design_lines,
        results=results,
        figures=figures,
        methods=methods_paragraph(
            design,
            config,
            provenance.get("versions", {}),
            list(results["measure"]),
            flips=str(results["exchangeability"].iloc[0])
            if "exchangeability" in results
            else None,
        ),
        provenance=provenance,
        exclusions=list(exclusions or []),
        ground_truth=_ground_truth_rows(truth, results, config.contrast) if truth else [],
        sections=[
            section
            for section in (
                null_section(results, null) if null is not None else None,
                _qc_section(qc, imbalance, qc_fc, motion_adjusted, results),
                _connectivity_section(edges, config.atlas_object(), config.contrast),
                catalog_section(comparison) if comparison is not None else None,
                prediction,
            )
            if section is not None
        ],
    )
    return write_report(content, path)
