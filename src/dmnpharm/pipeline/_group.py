"""The group stage of an analysis: model, motion checks, tables, provenance, report, store.

Imported only when there is work to do: a rerun whose output is complete stops
before this module (and the SciPy, scikit-learn, nilearn and matplotlib it
needs) is loaded.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dmnpharm._utils import get_logger, one_blas_thread, versions
from dmnpharm.config import GSR_SENSITIVITY, PRIMARY, AnalysisConfig
from dmnpharm.exceptions import (
    InputError,
    MotionImbalanceWarning,
    RunFailuresError,
    StudyValidationError,
)
from dmnpharm.io import OutputLayout, write_tsv
from dmnpharm.pipeline._adapters import StudyPlan
from dmnpharm.pipeline._derivatives import DerivativeWriter
from dmnpharm.pipeline._levels import LevelFiles
from dmnpharm.pipeline._motion import motion_adjusted, with_run_qc
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._qc_inputs import report_qc_inputs
from dmnpharm.pipeline._results import Results
from dmnpharm.pipeline._runs import Processed, process_runs
from dmnpharm.pipeline._snapshots import store_and_keep
from dmnpharm.report import build_report, build_stats_report
from dmnpharm.stats import (
    ModelSpec,
    StatsResult,
    analyse,
    motion_imbalance,
    paired_differences,
    qc_fc,
)
from dmnpharm.store._writer import StoreWriter

if TYPE_CHECKING:  # the catalog and the prediction are imported when asked for (--drug)
    from dmnpharm.catalog import Comparison

__all__ = ["analyse_study", "model_spec"]

_LOG = get_logger("pipeline")


def model_spec(config: AnalysisConfig, incomplete: str = "refuse") -> ModelSpec:
    """Return the group model of an analysis, with what to do with incomplete subjects.

    Parameters
    ----------
    config : AnalysisConfig
        Its ``model``: the paired contrast of ``condition``, or a
        between-subject comparison with covariates and blocks.
    incomplete : str
        ``refuse`` or ``drop`` subjects lacking a contrast condition (paired).

    Returns
    -------
    ModelSpec
        For :func:`dmnpharm.stats.analyse`.
    """
    if config.between is not None:
        return config.model
    return replace(config.model, incomplete=incomplete)


@dataclass(frozen=True, eq=False)
class _Group:
    """The fitted group model and what the report and store need of it."""

    metrics: pd.DataFrame
    spec: ModelSpec
    model: StatsResult
    sensitivity: pd.DataFrame
    complete: pd.DataFrame


def _per_run(
    plan: StudyPlan, layout: OutputLayout, config: AnalysisConfig, outputs: Outputs
) -> tuple[Processed, dict[str, Path]]:
    """Every run's work and files; returns the runs and the region/edge Parquet files."""
    writer = DerivativeWriter(layout.derivatives, config.atlas_object(), config)
    writer.start(outputs.source, outputs.source_now or outputs.source)
    # Per-run work is many small matrix operations (eigen-decompositions of region
    # covariances, per-block regressions): one BLAS thread avoids the oversubscription
    # that made them up to 35x slower on a loaded 2-core machine; parallelism belongs
    # across runs, not inside them.
    keys = plan.design.drop(columns=["path", "n_volumes"], errors="ignore")
    with (
        one_blas_thread(),
        LevelFiles(layout.root, keys) as levels,
    ):
        processed = process_runs(
            plan.runs, config, writer, outputs.cache, layout.voxel_maps, levels
        )
    return processed, levels.close()


def _fit(
    network: pd.DataFrame, config: AnalysisConfig, exclusions: list[str], qc: pd.DataFrame
) -> _Group:
    """Fit the group model to the configured cleaning, and to its GSR counterpart."""
    dropping = bool(exclusions) or config.model.incomplete == "drop"
    spec = model_spec(config, incomplete="drop" if dropping else "refuse")
    if spec.run_covariates:  # per-run QC values (--motion-covariate) join their runs' rows
        network = with_run_qc(network, qc, spec.run_covariates)
    metrics = network[network["analysis"] == PRIMARY].reset_index(drop=True)
    inference = config.inference
    confidence = inference.confidence
    try:
        model = analyse(
            metrics, spec, inference.n_permutations, inference.seed, confidence=confidence
        )
    except InputError as exc:
        if not exclusions:
            raise
        # Say why the model lacks data: the runs excluded while measuring.
        raise InputError(f"{exc}, after runs were excluded: {'; '.join(exclusions)}") from None
    sensitivity = network[network["analysis"] == GSR_SENSITIVITY]
    sensitivity_results = pd.DataFrame()
    if not sensitivity.empty:
        sensitivity_results = analyse(
            sensitivity.reset_index(drop=True),
            spec,
            inference.n_permutations,
            inference.seed,
            confidence=confidence,
        ).results
        sensitivity_results.insert(0, "strategy", str(sensitivity["strategy"].iloc[0]))
    test_name = "the between-subject test" if config.between else "the paired test"
    exclusions += [f"left out of {test_name}: {d}" for d in model.dropped]
    dropped_ids = {d.split(":")[0] for d in model.dropped}
    complete = metrics[~metrics["participant_id"].isin(dropped_ids)]
    return _Group(metrics, spec, model, sensitivity_results, complete)


def _motion(
    qc: pd.DataFrame,
    group: _Group,
    config: AnalysisConfig,
    layout: OutputLayout,
    exclusions: list[str],
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame | None]:
    """Test motion and censoring between conditions or groups; QC-FC; write both.

    When motion differs in a paired design, the model is refitted with mean FD
    as a run covariate (the change at equal motion) and written beside it.
    """
    imbalance = pd.DataFrame()
    if qc.empty or not ("condition" in qc or config.between):
        return imbalance, {}, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MotionImbalanceWarning)
        imbalance = motion_imbalance(
            qc,
            replace(group.spec, run_covariates=()),  # motion itself is tested, unadjusted
            n_permutations=config.inference.motion_permutations,
            seed=config.inference.seed,
        )
    for warning in caught:
        _LOG.warning("%s", warning.message)
        exclusions.append(f"motion imbalance: {warning.message}")
    write_tsv(qc, layout.qc)
    qc_fc_summary = _write_qc_fc(group.metrics, qc, layout.qc_fc)
    if not imbalance.empty:
        write_tsv(imbalance, layout.motion_imbalance)
    adjusted = None
    if caught and config.between is None:
        inference = config.inference
        fitted = motion_adjusted(
            group.metrics,
            qc,
            group.spec,
            inference.n_permutations,
            inference.seed,
            inference.confidence,
        )
        if fitted is not None:
            adjusted = fitted.results
            write_tsv(adjusted, layout.results_motion_adjusted)
            exclusions.append(
                "motion imbalance: the paired test refitted at equal mean FD (run covariate) "
                f"is in {layout.results_motion_adjusted.relative_to(layout.root)}"
            )
    return imbalance, qc_fc_summary, adjusted


def _write_tables(
    layout: OutputLayout,
    network: pd.DataFrame,
    group: _Group,
    design: pd.DataFrame,
    processed: Processed,
    config: AnalysisConfig,
) -> None:
    """Write the metrics and every group table."""
    if config.between is None:
        diffs = paired_differences(group.complete, *config.contrast)
        write_tsv(diffs.reset_index(), layout.paired_differences)
    write_tsv(network, layout.metrics_tsv)
    network.to_parquet(layout.metrics_parquet, index=False)
    if not group.sensitivity.empty:
        write_tsv(group.sensitivity, layout.results_gsr_tsv)
    results = group.model.results
    write_tsv(results, layout.results_tsv)
    results.to_parquet(layout.results_parquet, index=False)
    write_tsv(design, layout.design)
    layout.model.write_text(group.model.summary + "\n", encoding="utf-8")
    write_tsv(pd.DataFrame({"exclusion": processed.exclusions}), layout.exclusions)
    if processed.failures:
        write_tsv(pd.DataFrame({"failure": processed.failures}), layout.failures)


def _write_provenance(
    layout: OutputLayout,
    provenance: dict[str, Any],
    processed: Processed,
    config: AnalysisConfig,
    outputs: Outputs,
    analysis_id: str,
) -> dict[str, Any]:
    """Complete the provenance with what the work found, and write it."""
    engine = {} if processed.engine is None else processed.engine.describe()
    provenance = {
        **provenance,
        "analysis_id": analysis_id,
        "denoising": config.denoise.describe(),
        "cleaning_per_run": processed.records,
        "exclusions": processed.exclusions,
        "failures": processed.failures,
        # Where the per-run work was meant to run: the local loop or Dask, and why.
        "execution": {**outputs.execution.describe(), **engine},
        "versions": versions(),
    }
    layout.provenance.write_text(
        json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return provenance


def _comparison(
    results: pd.DataFrame, config: AnalysisConfig, layout: OutputLayout
) -> Comparison | None:
    """Compare the results with the evidence catalog (``config.drug``), and write it.

    The catalog is the bundled one merged with the lab's local catalog
    (``$DMNPHARM_CATALOG`` or ``~/.dmnpharm/catalog.toml``) when that file exists.
    """
    if config.drug is None:
        return None
    from dmnpharm import catalog
    from dmnpharm.report import write_comparison

    source = layout.results_tsv.relative_to(layout.root).as_posix()
    # The lab's local catalog (catalog add / add-result), when there is one, joins the bundled one.
    base = catalog.load_catalog()
    merged = catalog.merge_local(
        base, catalog.read_local_studies(catalog.local_catalog_path(), base)
    )
    comparison = catalog.compare(results, config.drug, config.population, merged, source=source)
    write_comparison(comparison, layout.compare)
    return comparison


def _report(
    plan: StudyPlan,
    group: _Group,
    config: AnalysisConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    layout: OutputLayout,
    exclusions: list[str],
    **sections: Any,
) -> Path:
    """Write the report: the crossover report (paired), or the group-model report (between)."""
    if config.between is not None:
        # A between-subject design (cohorts): the group-model report of dmnpharm stats,
        # which draws values by group and states the model, blocks and covariates.
        inference = {"n_permutations": config.inference.n_permutations}
        return build_stats_report(
            group.complete,
            group.spec,
            group.model,
            "permutation",
            {**provenance, **inference, "seed": config.inference.seed},
            layout.report,
            layout.metrics_tsv.name,
            exclusions=exclusions,
        )
    # The report finds each run's cleaning record by its source (BIDS, XCP-D and table
    # designs have no path column of their own); the plan's runs are in design order.
    design = plan.design
    if len(design) == len(plan.runs):
        design = design.assign(path=[run.source for run in plan.runs])
    return build_report(
        design,
        group.metrics,
        group.model.results,
        config,
        provenance,
        truth,
        layout.report,
        exclusions,
        null=group.model.null,
        **sections,
    )


def analyse_study(
    plan: StudyPlan,
    staging: Path,
    config: AnalysisConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    outputs: Outputs,
    analysis_id: str,
    snapshot: str | None = None,
) -> Results:
    """Per-run work, group statistics, QC, outputs, report and store (any study kind).

    Parameters
    ----------
    plan : StudyPlan
        The validated study.
    staging : Path
        The staging folder being written.
    config : AnalysisConfig
        Analytic choices, atlas resolved.
    provenance : dict
        What is known before the work: command, study, input digests, config.
    truth : dict or None
        A simulated study's planted effects, for the report.
    outputs : Outputs
        Output folder, results store, execution and cache.
    analysis_id : str
        The analysis's id (from its inputs and choices).
    snapshot : str or None
        Cache key under which the complete outputs are kept, for an identical
        analysis into another folder (:mod:`dmnpharm.pipeline._snapshots`);
        None: not kept.

    Returns
    -------
    Results
        Tables in memory and paths inside ``staging``.

    Raises
    ------
    RunFailuresError
        Some runs failed and ``config.allow_failures`` is False: raised before
        any group result, report or store entry is written.
    """
    layout = OutputLayout.analysis(staging)
    processed, level_files = _per_run(plan, layout, config, outputs)
    if processed.failures and not config.allow_failures:
        # Nothing group-level may look complete without these runs: the staging
        # folder is discarded, and the finished runs wait in the cache.
        raise RunFailuresError(str(outputs.final), list(processed.failures))
    if processed.metrics.empty:
        raise StudyValidationError("the study", ["every run was excluded", *processed.exclusions])
    # The store's transaction begins now: DuckDB ingests the region and edge rows in a
    # background thread while the group model, QC and report are computed here.
    with StoreWriter(
        outputs.store,
        analysis_id=analysis_id,
        metrics=processed.metrics,
        regions=level_files.get("region"),
        edges=level_files.get("edge"),
        overwrite=outputs.overwrite,
    ) as store:
        provenance = {**provenance, "analysis_id": analysis_id}
        result, group = _group_stage(
            plan, layout, config, provenance, truth, outputs, processed, level_files.get("edge")
        )
        tables = _store_tables(processed, group, config, result.provenance, level_files)
        return store_and_keep(result, tables, outputs, snapshot, store)


def _group_stage(
    plan: StudyPlan,
    layout: OutputLayout,
    config: AnalysisConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    outputs: Outputs,
    processed: Processed,
    edges: Path | None,
) -> tuple[Results, _Group]:
    """Fit the group model; QC, tables, provenance, comparison, prediction and report.

    ``provenance`` holds the analysis id; ``edges`` is the edge rows' Parquet file.
    """
    network, exclusions = processed.metrics, processed.exclusions
    group = _fit(network, config, exclusions, processed.qc)
    layout.group.mkdir(parents=True, exist_ok=True)
    imbalance, qc_fc_summary, adjusted = _motion(processed.qc, group, config, layout, exclusions)
    _write_tables(layout, network, group, plan.design, processed, config)
    analysis_id = str(provenance["analysis_id"])
    provenance = _write_provenance(layout, provenance, processed, config, outputs, analysis_id)
    comparison = _comparison(group.model.results, config, layout)
    prediction = None
    if config.between is None and config.drug is not None and config.receptors is not None:
        from dmnpharm.pipeline._predict import predict_beside

        prediction = predict_beside(config, layout)
    sections: dict[str, Any] = {}
    if config.between is None:
        sections = {
            "qc": processed.qc,
            "imbalance": imbalance,
            "motion_adjusted": adjusted,
            "qc_fc": {k: v for k, v in qc_fc_summary.items() if isinstance(v, int | float)},
            "edges": _primary_edges(edges),
            "comparison": comparison,
            "prediction": prediction,
            **report_qc_inputs(plan.runs, processed, config),
        }
    report = _report(plan, group, config, provenance, truth, layout, exclusions, **sections)
    result = Results(
        out=layout.root,
        metrics=group.metrics,
        results=group.model.results,
        report_file=report,
        analysis_id=analysis_id,
        failures=tuple(processed.failures),
        provenance=provenance,
        null=group.model.null,
    )
    return result, group


def _store_tables(
    processed: Processed,
    group: _Group,
    config: AnalysisConfig,
    provenance: dict[str, Any],
    level_files: dict[str, Path],
) -> dict[str, Any]:
    """Return what the results store receives of the analysis."""
    return {
        "runs": processed.runs,
        "metrics": processed.metrics,
        "results": _stored_results(group.model.results, group.sensitivity, config),
        "provenance": provenance,
        "regions": level_files.get("region"),
        "edges": level_files.get("edge"),
    }


def _primary_edges(file: Path | None) -> pd.DataFrame:
    """Read back the configured cleaning's edge rows, for the paired report's edge figures."""
    if file is None:
        return pd.DataFrame()
    # Only the columns the edge figures use (the demo's 80 runs: 0.04 s, all columns 0.26 s),
    # read as one file: pandas' row filters import pyarrow.dataset (0.1 s) for nothing more.
    columns = ["participant_id", "condition", "region_a", "region_b", "value"]
    table = pq.ParquetFile(file).read(columns=[*columns, "analysis"])
    kept = table.filter(pc.equal(table["analysis"], PRIMARY)).select(columns)
    frame: pd.DataFrame = kept.to_pandas()
    return frame


def _stored_results(
    results: pd.DataFrame, sensitivity: pd.DataFrame, config: AnalysisConfig
) -> pd.DataFrame:
    """Group results of the configured cleaning and of its GSR counterpart, marked."""
    primary = results.copy()
    primary.insert(0, "strategy", config.strategy)
    primary.insert(0, "analysis", PRIMARY)
    if sensitivity.empty:
        return primary
    other = sensitivity.copy()
    other.insert(0, "analysis", GSR_SENSITIVITY)
    return pd.concat([primary, other], ignore_index=True)


def _write_qc_fc(metrics: pd.DataFrame, qc: pd.DataFrame, path: Path) -> dict[str, Any]:
    """QC-FC over subjects: each measure's subject mean vs the subject's mean FD."""
    values = metrics.pivot_table(
        index="participant_id", columns="measure", values="value", aggfunc="mean"
    )
    fd = qc.groupby("participant_id")["mean_fd"].mean()
    try:
        summary = qc_fc(values, fd)
    except InputError as exc:
        summary = {"not computed": str(exc)}  # type: ignore[dict-item]
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return dict(summary)
