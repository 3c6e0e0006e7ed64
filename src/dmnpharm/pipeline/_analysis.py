"""The work of ``dmnpharm run`` once a study is validated and its analysis named.

Per-run work through the cache and the workers, the group model, QC, every
output table, the report and the results store. Imported only when there is
work to do: a rerun whose output is complete stops before this module (and the
SciPy, scikit-learn, nilearn and matplotlib it needs) is loaded.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm._utils import atomic_write_bytes, get_logger, versions
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.catalog import compare, write_comparison
from dmnpharm.exceptions import InputError, MotionImbalanceWarning, StudyValidationError
from dmnpharm.io import write_tsv
from dmnpharm.metrics import tangent_connectivity
from dmnpharm.execution import RunCache
from dmnpharm.config._analysis import GSR_SENSITIVITY, PRIMARY, RunConfig
from dmnpharm.pipeline._derivatives import DERIVATIVES_FOLDER, DerivativeWriter
from dmnpharm.execution import dispatch
from dmnpharm.config import Execution
from dmnpharm.pipeline._levels import LevelFiles
from dmnpharm.pipeline._orchestrator import Outputs, RunResult, StudyRun
from dmnpharm.pipeline._process import ProcessedRun, measure
from dmnpharm.report._study_report import build_report
from dmnpharm.report._stats_report import build_stats_report
from dmnpharm.pipeline._tasks import RUN_STAGE, Signals, TaskOutcome
from dmnpharm.stats import (
    ModelSpec,
    StatsResult,
    analyse,
    motion_imbalance,
    paired_differences,
    qc_fc,
)
from dmnpharm.store import write_analysis

__all__ = ["analyse_study", "model_spec"]

_LOG = get_logger("run")


def model_spec(config: RunConfig, incomplete: str = "refuse") -> ModelSpec:
    """Return the group model of a run configuration.

    Parameters
    ----------
    config : RunConfig
        With ``between``: the between-subject comparison of that column, with
        its covariates and exchangeability blocks; otherwise the paired
        contrast of ``condition``.
    incomplete : str
        ``refuse`` or ``drop`` subjects lacking a contrast condition (paired).

    Returns
    -------
    ModelSpec
        For :func:`dmnpharm.stats.analyse`.
    """
    if config.between is not None:
        return ModelSpec(
            between=config.between,
            between_contrast=config.between_contrast,
            covariates=config.covariates,
            block=config.block,
        )
    return ModelSpec(
        within="condition",
        contrast=(config.contrast[0], config.contrast[1]),
        incomplete=incomplete,
    )


@dataclass(frozen=True, eq=False)
class _Processed:
    """Every run after per-run work: metrics, QC, the run table, exclusions, records, failures."""

    metrics: pd.DataFrame
    qc: pd.DataFrame
    runs: pd.DataFrame
    exclusions: list[str]
    records: dict[str, Any]
    failures: list[str]


def _counts(record: Mapping[str, Any]) -> dict[str, Any]:
    """Volumes in, kept and censored, from a cleaning record."""
    return {k: record.get(k) for k in ("n_volumes", "n_kept", "n_censored")}


def _tag(table: pd.DataFrame, keys: dict[str, Any], config: RunConfig) -> pd.DataFrame:
    """Put the run's design columns in front of its bundle rows, atlas and estimator after."""
    front = pd.DataFrame({k: [v] * len(table) for k, v in keys.items()}, index=table.index)
    tagged = pd.concat([front, table], axis=1)
    tagged["atlas"] = config.atlas
    tagged["estimator"] = config.estimator
    return tagged


def _tangent_tables(
    pending: list[tuple[StudyRun, dict[str, Any], ProcessedRun]],
    atlas: Atlas,
    config: RunConfig,
    records: dict[str, Any],
    writer: DerivativeWriter,
) -> tuple[list[pd.DataFrame], dict[str, Path]]:
    """Tangent-space metrics: one group reference per analysis, from every included run.

    Returns the tables and, per run label, the primary analysis's matrix file.
    """
    tables = []
    relmats: dict[str, Path] = {}
    analyses = dict.fromkeys(c.analysis for _, _, done in pending for c in done.cleaned)
    for analysis in analyses:
        members = [
            (run, keys, cleaned)
            for run, keys, done in pending
            for cleaned in done.cleaned
            if cleaned.analysis == analysis
        ]
        tangent = tangent_connectivity(
            [cleaned.data for _, _, cleaned in members],
            run_ids=[run.source for run, _, _ in members],
        )
        reference = {
            "runs": list(tangent.reference_runs),
            "iterations": tangent.iterations,
            "estimator": tangent.estimator,
        }
        records.setdefault("tangent_reference", {})[analysis] = reference
        for (run, keys, cleaned), matrix in zip(members, tangent.matrices, strict=True):
            table, record = measure(cleaned, atlas, run.repetition_time, config, matrix=matrix)
            records[run.source].setdefault("bundle", {})[analysis] = record
            tables.append(_tag(table, keys, config))
            if analysis == PRIMARY:
                relmats[run.source] = writer.write_relmat(
                    run.entities,
                    matrix,
                    records[run.source],
                    run.repetition_time,
                    run.source,
                    reference=reference,
                )
    return tables, relmats


def _write_maps(signals: Signals | None, folder: Path, run: StudyRun) -> None:
    """Write a run's voxel map files (computed by its task) into the output."""
    if signals is None:
        return
    if signals.maps_note:
        _LOG.warning("no voxel maps for %s: %s", run.label, signals.maps_note)
    for name, content in sorted(signals.maps.items()):
        atomic_write_bytes(folder / name, content)
    if signals.maps:
        _LOG.debug("wrote %d voxel map files of %s", len(signals.maps), run.label)


def _process_all(
    runs: list[StudyRun],
    config: RunConfig,
    writer: DerivativeWriter,
    execution: Execution,
    cache: RunCache,
    maps_folder: Path,
    levels: LevelFiles,
) -> _Processed:
    """Clean, QC and measure every run; write its derivatives; collect exclusions and failures.

    Region and edge rows go to ``levels`` as runs are handled; network rows are returned.
    """
    atlas = writer.atlas
    tables: list[pd.DataFrame] = []
    qc_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    exclusions: list[str] = []
    failures: list[str] = []
    records: dict[str, Any] = {}
    pending: list[tuple[StudyRun, dict[str, Any], ProcessedRun]] = []
    included: dict[str, dict[str, Any]] = {}

    def shown(path: Path) -> str:
        return (DERIVATIVES_FOLDER / path.relative_to(writer.root)).as_posix()

    def handle(run: StudyRun, outcome: TaskOutcome) -> None:
        keys = {k: v for k, v in run.design.items() if k not in ("path", "n_volumes")}
        row: dict[str, Any] = {**keys, "source": run.source}
        done = outcome.processed
        if done is None:
            failures.append(str(outcome.error))
            run_rows.append({**row, "status": "failed", "reason": outcome.error})
            return
        if config.voxel_maps:
            _write_maps(outcome.signals, maps_folder, run)
        records[run.source] = done.record
        row.update(done.qc)
        row.update(_counts(done.record))
        if done.qc:
            qc_rows.append({**keys, **done.qc})
        if done.excluded:
            exclusions.append(f"{run.label}: excluded ({done.excluded})")
            run_rows.append({**row, "status": "excluded", "reason": done.excluded})
            return
        primary = next(c for c in done.cleaned if c.analysis == PRIMARY)
        written = writer.write_timeseries(
            run.entities, primary.data, done.record, run.repetition_time, run.source
        )
        row["timeseries"] = shown(written)
        _LOG.debug(
            "%s: kept %s of %s volumes, wrote %s",
            run.label,
            done.record.get("n_kept"),
            done.record.get("n_volumes"),
            written.name,
        )
        if config.estimator == "tangent" or done.matrix is None:
            pending.append((run, keys, done))
        else:
            matrix = writer.write_relmat(
                run.entities, done.matrix, done.record, run.repetition_time, run.source
            )
            row["relmat"] = shown(matrix)
            tables.append(levels.add(_tag(done.metrics, keys, config)))
        row.update(status="included", reason=None)
        run_rows.append(row)
        included[run.source] = row

    # Outputs are written in study order whatever order the workers finished in; a run
    # is handled (and its outcome let go) as soon as every run before it is in.
    arrived: dict[int, TaskOutcome] = {}
    handled = 0
    for index, outcome in dispatch([run.task for run in runs], RUN_STAGE, execution, cache):
        arrived[index] = outcome
        while handled in arrived:
            handle(runs[handled], arrived.pop(handled))
            handled += 1
    for failure in failures:
        _LOG.error("run failed: %s", failure)
    exclusions += [f"failed and left out: {f}" for f in failures]
    if pending:
        tangent_tables, relmats = _tangent_tables(pending, atlas, config, records, writer)
        tables += [levels.add(table) for table in tangent_tables]
        for source, path in relmats.items():
            included[source]["relmat"] = shown(path)
    metrics = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    _LOG.info(
        "%d runs measured, %d excluded, %d failed",
        sum(r["status"] == "included" for r in run_rows),
        sum(r["status"] == "excluded" for r in run_rows),
        len(failures),
    )
    return _Processed(
        metrics, pd.DataFrame(qc_rows), pd.DataFrame(run_rows), exclusions, records, failures
    )


def analyse_study(
    runs: list[StudyRun],
    design: pd.DataFrame,
    staging: Path,
    config: RunConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    outputs: Outputs,
    analysis_id: str,
) -> RunResult:
    """Per-run work, group statistics, QC, outputs and report (shared by both study kinds).

    Parameters
    ----------
    runs : list of StudyRun
        The study's runs, validated.
    design : pandas.DataFrame
        One row per run (participants and sessions columns).
    staging : Path
        The staging folder being written.
    config : RunConfig
        Analytic choices, atlas resolved.
    provenance : dict
        What is known before the work: command, study, input digests, config.
    truth : dict or None
        A simulated study's planted effects, for the report.
    outputs : Outputs
        Output folder, results store, execution and cache.
    analysis_id : str
        The analysis's id (from its inputs and choices).

    Returns
    -------
    RunResult
        Tables in memory and paths inside ``staging``.
    """
    writer = DerivativeWriter(staging / DERIVATIVES_FOLDER, load_atlas(str(config.atlas)), config)
    writer.start(outputs.source, outputs.source_now or outputs.source)
    # Per-run work is many small matrix operations (eigen-decompositions of region
    # covariances, per-block regressions): one BLAS thread avoids the oversubscription
    # that made them up to 35x slower on a loaded 2-core machine; parallelism belongs
    # across runs, not inside them.
    keys = design.drop(columns=["path", "n_volumes"], errors="ignore")
    with (
        threadpool_limits(limits=1, user_api="blas"),
        LevelFiles(staging, keys) as levels,
    ):
        processed = _process_all(
            runs, config, writer, outputs.execution, outputs.cache, staging / "voxel_maps", levels
        )
    network, qc, exclusions = processed.metrics, processed.qc, processed.exclusions
    level_files = levels.close()
    records = processed.records
    if network.empty:
        raise StudyValidationError("the study", ["every run was excluded", *exclusions])
    metrics = network[network["analysis"] == PRIMARY].reset_index(drop=True)
    spec = model_spec(config, incomplete="drop" if exclusions else "refuse")
    model = analyse(
        metrics, spec, config.n_permutations, config.seed, confidence=config.confidence
    )
    sensitivity = network[network["analysis"] == GSR_SENSITIVITY]
    sensitivity_results = pd.DataFrame()
    if not sensitivity.empty:
        sensitivity_results = analyse(
            sensitivity.reset_index(drop=True),
            spec,
            config.n_permutations,
            config.seed,
            confidence=config.confidence,
        ).results
        sensitivity_results.insert(0, "strategy", str(sensitivity["strategy"].iloc[0]))
    test_name = "the between-subject test" if config.between else "the paired test"
    exclusions += [f"left out of {test_name}: {d}" for d in model.dropped]
    results = model.results
    group = staging / "group"
    group.mkdir(parents=True, exist_ok=True)
    imbalance = pd.DataFrame()
    qc_fc_summary: dict[str, Any] = {}
    if not qc.empty and ("condition" in qc or config.between):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MotionImbalanceWarning)
            imbalance = motion_imbalance(qc, spec, n_permutations=2000, seed=config.seed)
        for warning in caught:
            _LOG.warning("%s", warning.message)
            exclusions.append(f"motion imbalance: {warning.message}")
        write_tsv(qc, group / "qc.tsv")
        qc_fc_summary = _write_qc_fc(metrics, qc, group)
        if not imbalance.empty:
            write_tsv(imbalance, group / "motion_imbalance.tsv")
    dropped_ids = {d.split(":")[0] for d in model.dropped}
    complete = metrics[~metrics["participant_id"].isin(dropped_ids)]
    if config.between is None:
        diffs = paired_differences(complete, *config.contrast)
        write_tsv(diffs.reset_index(), group / "paired_differences.tsv")
    write_tsv(network, staging / "metrics.tsv")
    network.to_parquet(staging / "metrics.parquet", index=False)
    if not sensitivity_results.empty:
        write_tsv(sensitivity_results, group / "results_gsr_sensitivity.tsv")
    write_tsv(results, group / "results.tsv")
    results.to_parquet(group / "results.parquet", index=False)
    write_tsv(design, group / "design.tsv")
    (group / "model.txt").write_text(model.summary + "\n", encoding="utf-8")
    write_tsv(pd.DataFrame({"exclusion": exclusions}), group / "exclusions.tsv")
    if processed.failures:
        write_tsv(pd.DataFrame({"failure": processed.failures}), group / "failures.tsv")
    provenance = {
        **provenance,
        "analysis_id": analysis_id,
        "denoising": config.denoise.describe(),
        "cleaning_per_run": records,
        "exclusions": exclusions,
        "failures": processed.failures,
        "execution": outputs.execution.describe(),
        "versions": versions(),
    }
    (staging / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    comparison = None
    if config.drug is not None:
        comparison = compare(staging, config.drug, config.population)
        write_comparison(comparison, staging / "compare")
    if config.between is not None:
        # A between-subject design (cohorts): the group-model report of dmnpharm stats,
        # which draws values by group and states the model, blocks and covariates.
        report = build_stats_report(
            complete,
            spec,
            model,
            "permutation",
            {**provenance, "n_permutations": config.n_permutations, "seed": config.seed},
            staging / "report.html",
            "metrics.tsv",
            exclusions=exclusions,
        )
    else:
        report = _paired_report(
            design,
            metrics,
            model,
            config,
            provenance,
            truth,
            staging / "report.html",
            exclusions,
            qc=qc,
            imbalance=imbalance,
            qc_fc={k: v for k, v in qc_fc_summary.items() if isinstance(v, int | float)},
            edges=_primary_edges(level_files.get("edge")),
            comparison=comparison,
        )
    store = write_analysis(
        outputs.store,
        analysis_id=analysis_id,
        runs=processed.runs,
        metrics=network,
        results=_stored_results(results, sensitivity_results, config),
        provenance=provenance,
        regions=level_files.get("region"),
        edges=level_files.get("edge"),
        output=str(outputs.final),
        overwrite=outputs.overwrite,
    )
    shown = outputs.final / store.relative_to(staging) if store.is_relative_to(staging) else store
    _LOG.info("analysis %s stored in %s", analysis_id, shown)
    return RunResult(
        out=staging,
        metrics=metrics,
        results=results,
        report=report,
        analysis_id=analysis_id,
        store=store,
        failures=tuple(processed.failures),
    )


def _primary_edges(file: Path | None) -> pd.DataFrame:
    """Read back the configured cleaning's edge rows, for the paired report's edge figures."""
    if file is None:
        return pd.DataFrame()
    return pd.read_parquet(file, filters=[("analysis", "==", PRIMARY)])


def _paired_report(
    design: pd.DataFrame,
    metrics: pd.DataFrame,
    model: StatsResult,
    config: RunConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    path: Path,
    exclusions: list[str],
    **sections: Any,
) -> Path:
    """Write the report of a paired (crossover) analysis."""
    return build_report(
        design,
        metrics,
        model.results,
        config,
        provenance,
        truth,
        path,
        exclusions,
        null=model.null,
        **sections,
    )


def _stored_results(
    results: pd.DataFrame, sensitivity: pd.DataFrame, config: RunConfig
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


def _write_qc_fc(metrics: pd.DataFrame, qc: pd.DataFrame, group: Path) -> dict[str, Any]:
    """QC-FC over subjects: each measure's subject mean vs the subject's mean FD."""
    values = metrics.pivot_table(
        index="participant_id", columns="measure", values="value", aggfunc="mean"
    )
    fd = qc.groupby("participant_id")["mean_fd"].mean()
    try:
        summary = qc_fc(values, fd)
    except InputError as exc:
        summary = {"not computed": str(exc)}  # type: ignore[dict-item]
    (group / "qc_fc.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return dict(summary)
