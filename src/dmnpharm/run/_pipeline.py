"""``dmnpharm run``: validate a study, compute per-run metrics, test the contrast."""

from __future__ import annotations

import json
import logging
import platform
import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm import __version__
from dmnpharm._utils import (
    atomic_write_bytes,
    closest_match,
    get_logger,
    log_to_file,
    staged_output_dir,
)
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.catalog import compare, load_catalog, resolve_drug, write_comparison
from dmnpharm.exceptions import (
    InputError,
    MotionImbalanceWarning,
    OutputExistsError,
    RunFailuresError,
    StudyValidationError,
)
from dmnpharm.io import RoiRun, RoiStudy, load_roi_study, read_study_atlas_name, write_tsv
from dmnpharm.metrics import tangent_connectivity
from dmnpharm.run._cache import RunCache
from dmnpharm.run._config import RunConfig
from dmnpharm.run._derivatives import DERIVATIVES_FOLDER, DerivativeWriter
from dmnpharm.run._execute import Execution, run_tasks
from dmnpharm.run._process import (
    GSR_SENSITIVITY,
    PRIMARY,
    ProcessedRun,
    measure,
)
from dmnpharm.run._reporting import build_report
from dmnpharm.run._stats_report import build_stats_report
from dmnpharm.run._tasks import RunTask, Signals
from dmnpharm.stats import (
    ModelSpec,
    StatsResult,
    analyse,
    motion_imbalance,
    paired_differences,
    qc_fc,
)
from dmnpharm.store import (
    STORE_FILENAME,
    check_new_analysis,
    make_analysis_id,
    store_path,
    write_analysis,
)

__all__ = [
    "LOG_FILENAME",
    "Outputs",
    "RunResult",
    "StudyRun",
    "model_spec",
    "run_study",
    "store_target",
]

_LOG = get_logger("run")

#: The run's log inside the output folder.
LOG_FILENAME = "dmnpharm.log"

_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")
_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "nilearn", "matplotlib", "jinja2")


@dataclass(frozen=True, eq=False)
class RunResult:
    """What ``run_study`` produced.

    Parameters
    ----------
    out : Path
        The output folder.
    metrics : pandas.DataFrame
        Tidy metrics table (one row per run and measure).
    results : pandas.DataFrame
        Group results (one row per measure).
    report : Path
        The HTML report.
    analysis_id : str
        The analysis's id in the results store.
    store : Path or None
        The results store the analysis was written to.
    failures : tuple of str
        Runs that failed (each naming its file); their subjects are not in
        the results.
    """

    out: Path
    metrics: pd.DataFrame
    results: pd.DataFrame
    report: Path
    analysis_id: str = ""
    store: Path | None = None
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outputs:
    """Where an analysis's outputs go besides its staging folder.

    Parameters
    ----------
    final : Path
        The output folder the staging folder becomes.
    store : Path
        The results store file to append to (inside the staging folder for
        the default ``<out>/results.duckdb``).
    overwrite : bool
        Replace the analysis if the store already holds it.
    source : Path
        The input study folder, absolute, as the derivatives name it.
    source_now : Path or None
        Where that folder is while the analysis runs, when elsewhere (the
        demo's study is inside the staging folder).
    execution : Execution
        Where per-run work runs.
    cache : RunCache
        Per-run results and input files' digests.
    existing : dict or None
        The provenance of a complete analysis already in ``final`` (when not
        overwriting): if it is this analysis, nothing is redone.
    """

    final: Path
    store: Path
    overwrite: bool
    source: Path
    source_now: Path | None = None
    execution: Execution = field(default_factory=Execution)
    cache: RunCache = field(default_factory=lambda: RunCache(None))
    existing: dict[str, Any] | None = None

    def input_hashes(self, root: Path, files: list[Path]) -> dict[str, str]:
        """Return the SHA-256 of input files by path relative to ``root``, sorted.

        Digests of files unchanged since an earlier invocation come from the cache.
        """
        hashes = {p.relative_to(root).as_posix(): self.cache.file_hash(p) for p in sorted(files)}
        self.cache.save_hashes()
        return hashes


def _versions() -> dict[str, str]:
    found = {"dmnpharm": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


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


def _check_between(design: pd.DataFrame, config: RunConfig, root: Path) -> None:
    """Fail before any heavy work if the between-subject model's columns or levels are absent."""
    problems = []
    table = root / "participants.tsv"
    wanted = [config.between, *config.covariates, config.block]
    for column in [c for c in wanted if c is not None]:
        if column not in design:
            hint = closest_match(column, [str(c) for c in design.columns])
            problems.append(
                f"{table}: has no column '{column}'"
                + (f"; did you mean '{hint}'?" if hint else "")
            )
    if not problems and config.between_contrast is not None:
        levels = set(design[str(config.between)].astype(str))
        for level in config.between_contrast:
            if level not in levels:
                problems.append(
                    f"{table}: no participant has {config.between} = '{level}' (levels: "
                    f"{', '.join(sorted(levels))}); fix --between-contrast"
                )
    if problems:
        raise StudyValidationError(str(root), problems)


def _check_design_pairs(design: pd.DataFrame, config: RunConfig, root: Path) -> None:
    """Fail before any heavy work if a subject lacks a contrast condition (or model column)."""
    if config.between is not None:
        _check_between(design, config, root)
        return
    wanted = set(config.contrast)
    present = set(design["condition"]) if "condition" in design else set()
    problems = []
    for cond in config.contrast:
        if cond not in present:
            problems.append(
                f"condition '{cond}' of the contrast is in no sessions file "
                f"(conditions: {', '.join(sorted(map(str, present)))}); fix --contrast or the "
                "sessions files"
            )
    if not problems:
        for pid, conds in design.groupby("participant_id")["condition"]:
            have = set(conds) & wanted
            if have != wanted:
                missing = ", ".join(sorted(wanted - have))
                sessions = root / str(pid) / f"{pid}_sessions.tsv"
                problems.append(
                    f"{sessions}: participant '{pid}' has no run under '{missing}'; a paired "
                    f"test needs both '{config.contrast[0]}' and '{config.contrast[1]}'. Add "
                    "the session or remove the participant from participants.tsv"
                )
    if problems:
        raise StudyValidationError(str(root), problems)


@dataclass(frozen=True, eq=False)
class StudyRun:
    """One run ready for per-run work, from either kind of study.

    Parameters
    ----------
    design : dict
        The run's design row (``participant_id``, ``session_id``, ``condition`` ...).
    task : RunTask
        Its per-run work (files and choices), as sent to a worker.
    entities : mapping of str to str
        BIDS labels of the run without prefixes (``sub``, ``ses``, ``task``,
        ``run``, ``space``), for the derivatives' file names.
    """

    design: dict[str, Any]
    task: RunTask
    entities: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The run's input file, naming it in messages."""
        return self.task.label

    @property
    def source(self) -> str:
        """The input file relative to the study folder (names the run in records)."""
        return self.task.source

    @property
    def repetition_time(self) -> float:
        """Seconds."""
        return self.task.repetition_time


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
    tagged = pd.concat([pd.DataFrame([keys] * len(table), index=table.index), table], axis=1)
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
) -> _Processed:
    """Clean, QC and measure every run; write its derivatives; collect exclusions and failures."""
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

    outcomes = dict(run_tasks([run.task for run in runs], execution, cache))
    # Outputs are written in study order whatever order the workers finished in.
    for index, run in enumerate(runs):
        outcome = outcomes[index]
        keys = {k: v for k, v in run.design.items() if k not in ("path", "n_volumes")}
        row: dict[str, Any] = {**keys, "source": run.source}
        done = outcome.processed
        if done is None:
            failures.append(str(outcome.error))
            run_rows.append({**row, "status": "failed", "reason": outcome.error})
            continue
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
            continue
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
            tables.append(_tag(done.metrics, keys, config))
        row.update(status="included", reason=None)
        run_rows.append(row)
        included[run.source] = row
    for failure in failures:
        _LOG.error("run failed: %s", failure)
    exclusions += [f"failed and left out: {f}" for f in failures]
    if pending:
        tangent_tables, relmats = _tangent_tables(pending, atlas, config, records, writer)
        tables += tangent_tables
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


def _finish(
    runs: list[StudyRun],
    design: pd.DataFrame,
    staging: Path,
    config: RunConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    outputs: Outputs,
) -> RunResult:
    """Per-run work, group statistics, QC, outputs and report (shared by both study kinds)."""
    config_record = {**asdict(config), "denoise": config.denoise.to_dict()}
    analysis_id = make_analysis_id(
        str(config.atlas),
        config.strategy,
        config.estimator,
        {"config": config_record, "inputs": provenance.get("inputs", {})},
    )
    if outputs.existing is not None:
        _up_to_date_or_refuse(outputs.final, outputs.existing, analysis_id)
    check_new_analysis(outputs.store, analysis_id, overwrite=outputs.overwrite)
    _LOG.info("analysis %s", analysis_id)
    writer = DerivativeWriter(staging / DERIVATIVES_FOLDER, load_atlas(str(config.atlas)), config)
    writer.start(outputs.source, outputs.source_now or outputs.source)
    # Per-run work is many small matrix operations (eigen-decompositions of region
    # covariances, per-block regressions): one BLAS thread avoids the oversubscription
    # that made them up to 35x slower on a loaded 2-core machine; parallelism belongs
    # across runs, not inside them.
    with threadpool_limits(limits=1, user_api="blas"):
        processed = _process_all(
            runs, config, writer, outputs.execution, outputs.cache, staging / "voxel_maps"
        )
    everything, qc, exclusions = processed.metrics, processed.qc, processed.exclusions
    records = processed.records
    if everything.empty:
        raise StudyValidationError("the study", ["every run was excluded", *exclusions])
    network = everything[everything["level"] == "network"].reset_index(drop=True)
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
    for level in ("region", "edge"):
        rows = everything[everything["level"] == level]
        if not rows.empty:
            rows.to_parquet(staging / f"metrics_{level}s.parquet", index=False)
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
        "config": config_record,
        "denoising": config.denoise.describe(),
        "cleaning_per_run": records,
        "exclusions": exclusions,
        "failures": processed.failures,
        "execution": outputs.execution.describe(),
        "versions": _versions(),
    }
    (staging / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    edges = everything[(everything["level"] == "edge") & (everything["analysis"] == PRIMARY)]
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
            edges=edges,
            comparison=comparison,
        )
    store = write_analysis(
        outputs.store,
        analysis_id=analysis_id,
        runs=processed.runs,
        metrics=network,
        results=_stored_results(results, sensitivity_results, config),
        provenance=provenance,
        regions=everything[everything["level"] == "region"].reset_index(drop=True),
        edges=everything[everything["level"] == "edge"].reset_index(drop=True),
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


def _roi_entities(run: RoiRun) -> dict[str, str]:
    """BIDS labels of an ROI-level run: the design's subject and session, the file's task.

    A file name without ``task-`` is a resting-state run (``task-rest``), as
    the ROI-level format is for resting-state studies.
    """
    named = dict(_ENTITY.findall(run.path.name.removesuffix("_timeseries.tsv")))
    return {
        "sub": run.participant_id.removeprefix("sub-"),
        "ses": run.session_id.removeprefix("ses-"),
        "task": named.get("task", "rest"),
        "run": run.run,
        "space": named.get("space", ""),
    }


def _roi_runs(study: RoiStudy, config: RunConfig) -> list[StudyRun]:
    runs = []
    for (_, row), run in zip(study.design.iterrows(), study.runs, strict=True):
        stem = run.path.name.split("_atlas-")[0]
        confounds = run.path.parent / f"{stem}_desc-confounds_timeseries.tsv"
        task = RunTask(
            label=str(run.path),
            source=run.path.relative_to(study.root).as_posix(),
            kind="roi",
            data_file=str(run.path),
            repetition_time=run.repetition_time,
            config=config,
            confounds=str(confounds) if confounds.is_file() else None,
        )
        runs.append(StudyRun({str(k): v for k, v in row.items()}, task, _roi_entities(run)))
    return runs


def _execute(
    study_path: Path, staging: Path, config: RunConfig, recorded_study: str, outputs: Outputs
) -> RunResult:
    if config.atlas is None:
        raise ValueError("the atlas must be resolved before execution")
    study = load_roi_study(study_path, config.atlas, load_atlas(config.atlas).labels)
    _check_design_pairs(study.design, config, study.root)
    _LOG.info(
        "study %s: %d participants, %d runs, atlas %s, denoising %s",
        recorded_study,
        study.design["participant_id"].nunique(),
        len(study.runs),
        study.atlas,
        config.strategy,
    )
    runs = _roi_runs(study, config)
    inputs = [study.root / "participants.tsv", *study.root.glob("sub-*/sub-*_sessions.tsv")]
    inputs += [Path(f) for r in runs for f in r.task.input_files()]
    provenance = {
        "command": "run",
        "study": recorded_study,
        "inputs": outputs.input_hashes(study.root, sorted(set(inputs))),
    }
    truth_file = study.root / "ground_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else None
    return _finish(runs, study.design, staging, config, provenance, truth, outputs)


def store_target(store: str | Path | None, final: Path, staging: Path) -> Path:
    """Return the store file to write while ``final`` is being staged.

    Parameters
    ----------
    store : str, Path or None
        The store asked for (a file, or a folder to hold ``results.duckdb``);
        None for ``<final>/results.duckdb``.
    final : Path
        The output folder.
    staging : Path
        Its staging folder.

    Returns
    -------
    Path
        A store inside ``final`` is written inside ``staging`` (it moves into
        place with the rest); any other is written where it is.
    """
    if store is None:
        return staging / STORE_FILENAME
    target = store_path(store).resolve()
    try:
        inside = target.relative_to(final.resolve())
    except ValueError:
        return target
    return staging / inside


class _UpToDateError(Exception):
    """The output folder already holds this very analysis, complete."""


def _up_to_date_or_refuse(final: Path, existing: dict[str, Any], analysis_id: str) -> None:
    """Stop (nothing to do) when ``final`` holds this analysis; refuse to replace another."""
    same_version = existing.get("versions", {}).get("dmnpharm") == __version__
    if existing.get("analysis_id") == analysis_id and same_version:
        raise _UpToDateError
    raise OutputExistsError(
        f"output folder '{final}' holds another analysis ({existing.get('analysis_id')}, "
        f"dmnpharm {existing.get('versions', {}).get('dmnpharm')}); choose another --out or "
        "pass --overwrite to replace it"
    )


def _existing_analysis(final: Path, overwrite: bool) -> dict[str, Any] | None:
    """Return the provenance of a complete earlier analysis in ``final`` (not overwriting)."""
    record = final / "provenance.json"
    if overwrite or not record.is_file() or not (final / "report.html").is_file():
        return None
    try:
        content: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return content


def _stored_result(final: Path, existing: dict[str, Any]) -> RunResult:
    """Read back the result of the complete analysis already in ``final``."""
    network = pd.read_parquet(final / "metrics.parquet")
    metrics = network[network["analysis"] == PRIMARY].reset_index(drop=True)
    store = final / STORE_FILENAME
    return RunResult(
        out=final,
        metrics=metrics,
        results=pd.read_parquet(final / "group" / "results.parquet"),
        report=final / "report.html",
        analysis_id=str(existing.get("analysis_id", "")),
        store=store if store.is_file() else None,
        failures=tuple(existing.get("failures", ())),
    )


def _final_result(result: RunResult, final: Path, staging: Path) -> RunResult:
    """Point a result's paths at the output folder the staging folder became."""
    store = result.store
    if store is not None and store.is_relative_to(staging):
        store = final / store.relative_to(staging)
    return replace(result, out=final, report=final / "report.html", store=store)


def run_study(
    study: str | Path,
    out: str | Path,
    config: RunConfig | None = None,
    overwrite: bool = False,
    store: str | Path | None = None,
    log_level: int = logging.INFO,
    execution: Execution | None = None,
) -> RunResult:
    """Validate a study, clean and measure every run, and test the contrast.

    A folder with ``derivatives/fmriprep`` is a BIDS study: its runs are
    discovered and validated (:func:`dmnpharm.io.discover_study`), region
    signals are extracted from each preprocessed image in one streaming pass
    (:func:`dmnpharm.extract.extract_timeseries`). Otherwise it is an ROI-level
    study (:func:`dmnpharm.io.load_roi_study`). Either way every run is cleaned
    with ``config.denoise`` and its confounds, summarised for QC, measured,
    and the paired contrast is tested; motion imbalance between the conditions
    is tested and warned about. Nothing is written until the whole study has
    been validated; outputs are written to a hidden staging folder and moved
    to ``out`` only when complete.

    Parameters
    ----------
    study : str or Path
        Study folder (see :mod:`dmnpharm.io`).
    out : str or Path
        Output folder: ``metrics.tsv``/``.parquet``, ``group/results.tsv``/
        ``.parquet``, ``group/design.tsv``, ``group/paired_differences.tsv``,
        ``group/qc.tsv``, ``group/motion_imbalance.tsv``,
        ``group/exclusions.tsv``, ``group/model.txt``, ``provenance.json``,
        ``report.html``, the log ``dmnpharm.log``, the results store
        ``results.duckdb`` (unless ``store`` names another) and the
        BIDS-derivatives dataset ``derivatives/dmnpharm/`` (each run's cleaned
        region signals and connectivity matrix, with JSON sidecars).
    config : RunConfig or None
        Analytic choices; defaults to ``RunConfig()``.
    overwrite : bool
        Replace a non-empty ``out``, and the analysis in ``store`` if it
        holds the same analysis id already. Without it, an ``out`` that
        already holds this very analysis, complete (same inputs by content,
        same choices, same dmnpharm version), is left as it is and its
        results are returned: nothing is redone.
    store : str, Path or None
        Results store to append the analysis to (:mod:`dmnpharm.store`); a
        folder means its ``results.duckdb``. None: ``out/results.duckdb``.
        An analysis id the store holds already is refused before any work
        unless ``overwrite``.
    log_level : int
        Lowest level of the records written to ``out/dmnpharm.log``.
    execution : Execution or None
        Where per-run work runs (a local Dask cluster by default, or
        ``$DMNPHARM_SCHEDULER``) and where per-run results are cached
        (:class:`Execution`). Results do not depend on it.

    Returns
    -------
    RunResult
        Tables in memory, the final paths and the analysis id.

    Raises
    ------
    RunFailuresError
        Some runs could not be read and ``config.allow_failures`` is False:
        the other runs' results are written to ``out`` all the same, with the
        failures listed, and the error says so.
    OutputLockedError
        Another process is writing ``out``.
    """
    cfg = config or RunConfig()
    if cfg.drug is not None:
        # Checked before any work: a misspelt drug must not cost a whole run.
        resolve_drug(load_catalog(), cfg.drug)
    root = Path(study)
    bids = (root / "derivatives" / "fmriprep").is_dir()
    if cfg.atlas is None:
        cfg = replace(cfg, atlas="seitzman300" if bids else read_study_atlas_name(study))
    final = Path(out)
    plan = execution or Execution()
    existing = _existing_analysis(final, overwrite)
    try:
        result = _run_staged(
            root, final, cfg, overwrite or existing is not None, store, log_level, plan, existing
        )
    except _UpToDateError:
        assert existing is not None
        _LOG.info("%s already holds this analysis, complete: nothing to do", final)
        result = _stored_result(final, existing)
    if result.failures and not cfg.allow_failures:
        raise RunFailuresError(str(final), list(result.failures))
    return result


def _run_staged(
    root: Path,
    final: Path,
    cfg: RunConfig,
    overwrite: bool,
    store: str | Path | None,
    log_level: int,
    plan: Execution,
    existing: dict[str, Any] | None,
) -> RunResult:
    """Analyse the study into a staging folder that becomes ``final`` when complete."""
    bids = (root / "derivatives" / "fmriprep").is_dir()
    with (
        staged_output_dir(final, overwrite=overwrite) as staging,
        log_to_file(staging / LOG_FILENAME, log_level),
    ):
        outputs = Outputs(
            final,
            store_target(store, final, staging),
            overwrite,
            root.resolve(),
            execution=plan,
            cache=plan.make_cache(),
            existing=existing,
        )
        if bids:
            from dmnpharm.run._bids import execute_bids

            result = execute_bids(root, staging, cfg, str(root.resolve()), outputs)
        else:
            result = _execute(root, staging, cfg, str(root.resolve()), outputs)
    return _final_result(result, final, staging)
