"""``dmnpharm run``: validate a study, compute per-run metrics, test the contrast."""

from __future__ import annotations

import json
import logging
import platform
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm import __version__
from dmnpharm._utils import get_logger, log_to_file, progress, sha256_file, staged_output_dir
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.catalog import compare, load_catalog, resolve_drug, write_comparison
from dmnpharm.exceptions import InputError, MotionImbalanceWarning, StudyValidationError
from dmnpharm.io import RoiRun, RoiStudy, load_roi_study, read_study_atlas_name, write_tsv
from dmnpharm.metrics import tangent_connectivity
from dmnpharm.run._config import RunConfig
from dmnpharm.run._derivatives import DERIVATIVES_FOLDER, DerivativeWriter
from dmnpharm.run._process import (
    GSR_SENSITIVITY,
    PRIMARY,
    ProcessedRun,
    measure,
    process_run,
    read_confounds,
)
from dmnpharm.run._reporting import build_report
from dmnpharm.stats import ModelSpec, analyse, motion_imbalance, paired_differences, qc_fc
from dmnpharm.store import (
    STORE_FILENAME,
    check_new_analysis,
    make_analysis_id,
    store_path,
    write_analysis,
)

__all__ = ["LOG_FILENAME", "Outputs", "RunResult", "StudyRun", "run_study", "store_target"]

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
    """

    out: Path
    metrics: pd.DataFrame
    results: pd.DataFrame
    report: Path
    analysis_id: str = ""
    store: Path | None = None


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
    """

    final: Path
    store: Path
    overwrite: bool
    source: Path
    source_now: Path | None = None


def _versions() -> dict[str, str]:
    found = {"dmnpharm": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _check_design_pairs(design: pd.DataFrame, config: RunConfig, root: Path) -> None:
    """Fail before any heavy work if a subject lacks a contrast condition."""
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
    label : str
        Names the run (its input file) in messages.
    load : Callable
        Returns the region signals (volumes x regions, atlas order).
    confounds : Path or None
        The run's fMRIPrep confounds TSV.
    repetition_time : float
        Seconds.
    entities : mapping of str to str
        BIDS labels of the run without prefixes (``sub``, ``ses``, ``task``,
        ``run``, ``space``), for the derivatives' file names.
    source : str
        The input file relative to the study folder.
    """

    design: dict[str, Any]
    label: str
    load: Callable[[], npt.NDArray[np.float64]]
    confounds: Path | None
    repetition_time: float
    entities: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True, eq=False)
class _Processed:
    """Every run after per-run work: metrics, QC, the run table, exclusions, records."""

    metrics: pd.DataFrame
    qc: pd.DataFrame
    runs: pd.DataFrame
    exclusions: list[str]
    records: dict[str, Any]


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
            run_ids=[run.label for run, _, _ in members],
        )
        reference = {
            "runs": list(tangent.reference_runs),
            "iterations": tangent.iterations,
            "estimator": tangent.estimator,
        }
        records.setdefault("tangent_reference", {})[analysis] = reference
        for (run, keys, cleaned), matrix in zip(members, tangent.matrices, strict=True):
            table, record = measure(cleaned, atlas, run.repetition_time, config, matrix=matrix)
            records[run.label].setdefault("bundle", {})[analysis] = record
            tables.append(_tag(table, keys, config))
            if analysis == PRIMARY:
                relmats[run.label] = writer.write_relmat(
                    run.entities,
                    matrix,
                    records[run.label],
                    run.repetition_time,
                    run.source,
                    reference=reference,
                )
    return tables, relmats


def _process_all(runs: list[StudyRun], config: RunConfig, writer: DerivativeWriter) -> _Processed:
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

    for run in progress(runs, "cleaning and measuring runs"):
        keys = {k: v for k, v in run.design.items() if k not in ("path", "n_volumes")}
        row: dict[str, Any] = {**keys, "source": run.source}
        try:
            confounds, meta = read_confounds(run.confounds)
            done = process_run(
                run.load(), confounds, meta, run.repetition_time, config, atlas, run.label
            )
        except InputError as exc:
            failures.append(str(exc))
            run_rows.append({**row, "status": "failed", "reason": str(exc)})
            continue
        records[run.label] = done.record
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
        included[run.label] = row
    if failures and not config.allow_failures:
        raise StudyValidationError(
            "the study", [*failures, "use --allow-failures to go on without these runs"]
        )
    exclusions += [f"failed and left out: {f}" for f in failures]
    if pending:
        tangent_tables, relmats = _tangent_tables(pending, atlas, config, records, writer)
        tables += tangent_tables
        for label, path in relmats.items():
            included[label]["relmat"] = shown(path)
    metrics = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    _LOG.info(
        "%d runs measured, %d excluded, %d failed",
        sum(r["status"] == "included" for r in run_rows),
        sum(r["status"] == "excluded" for r in run_rows),
        len(failures),
    )
    return _Processed(metrics, pd.DataFrame(qc_rows), pd.DataFrame(run_rows), exclusions, records)


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
    check_new_analysis(outputs.store, analysis_id, overwrite=outputs.overwrite)
    _LOG.info("analysis %s", analysis_id)
    writer = DerivativeWriter(staging / DERIVATIVES_FOLDER, load_atlas(str(config.atlas)), config)
    writer.start(outputs.source, outputs.source_now or outputs.source)
    # Per-run work is many small matrix operations (eigen-decompositions of region
    # covariances, per-block regressions): one BLAS thread avoids the oversubscription
    # that made them up to 35x slower on a loaded 2-core machine; parallelism belongs
    # across runs, not inside them.
    with threadpool_limits(limits=1, user_api="blas"):
        processed = _process_all(runs, config, writer)
    everything, qc, exclusions = processed.metrics, processed.qc, processed.exclusions
    records = processed.records
    if everything.empty:
        raise StudyValidationError("the study", ["every run was excluded", *exclusions])
    network = everything[everything["level"] == "network"].reset_index(drop=True)
    metrics = network[network["analysis"] == PRIMARY].reset_index(drop=True)
    spec = ModelSpec(
        within="condition",
        contrast=(config.contrast[0], config.contrast[1]),
        incomplete="drop" if exclusions else "refuse",
    )
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
    exclusions += [f"left out of the paired test: {d}" for d in model.dropped]
    results = model.results
    group = staging / "group"
    group.mkdir(parents=True, exist_ok=True)
    imbalance = pd.DataFrame()
    qc_fc_summary: dict[str, Any] = {}
    if not qc.empty and "condition" in qc:
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
    diffs = paired_differences(complete, *config.contrast)
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
    write_tsv(diffs.reset_index(), group / "paired_differences.tsv")
    write_tsv(pd.DataFrame({"exclusion": exclusions}), group / "exclusions.tsv")
    provenance = {
        **provenance,
        "analysis_id": analysis_id,
        "config": config_record,
        "denoising": config.denoise.describe(),
        "cleaning_per_run": records,
        "exclusions": exclusions,
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
    report = build_report(
        design,
        metrics,
        results,
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


def _identity(data: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return data


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


def _roi_runs(study: RoiStudy) -> list[StudyRun]:
    runs = []
    for (_, row), run in zip(study.design.iterrows(), study.runs, strict=True):
        stem = run.path.name.split("_atlas-")[0]
        confounds = run.path.parent / f"{stem}_desc-confounds_timeseries.tsv"
        runs.append(
            StudyRun(
                {str(k): v for k, v in row.items()},
                str(run.path),
                partial(_identity, run.data),
                confounds if confounds.is_file() else None,
                run.repetition_time,
                entities=_roi_entities(run),
                source=run.path.relative_to(study.root).as_posix(),
            )
        )
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
    runs = _roi_runs(study)
    inputs = sorted(
        [study.root / "participants.tsv"]
        + [r.path for r in study.runs]
        + [r.path.with_suffix(".json") for r in study.runs]
        + [r.confounds for r in runs if r.confounds is not None]
        + list(study.root.glob("sub-*/sub-*_sessions.tsv"))
    )
    provenance = {
        "command": "run",
        "study": recorded_study,
        "inputs": {p.relative_to(study.root).as_posix(): sha256_file(p) for p in inputs},
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
        holds the same analysis id already.
    store : str, Path or None
        Results store to append the analysis to (:mod:`dmnpharm.store`); a
        folder means its ``results.duckdb``. None: ``out/results.duckdb``.
        An analysis id the store holds already is refused before any work
        unless ``overwrite``.
    log_level : int
        Lowest level of the records written to ``out/dmnpharm.log``.

    Returns
    -------
    RunResult
        Tables in memory, the final paths and the analysis id.
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
    with (
        staged_output_dir(final, overwrite=overwrite) as staging,
        log_to_file(staging / LOG_FILENAME, log_level),
    ):
        outputs = Outputs(final, store_target(store, final, staging), overwrite, root.resolve())
        if bids:
            from dmnpharm.run._bids import execute_bids

            result = execute_bids(root, staging, cfg, str(root.resolve()), outputs)
        else:
            result = _execute(root, staging, cfg, str(root.resolve()), outputs)
    return _final_result(result, final, staging)
