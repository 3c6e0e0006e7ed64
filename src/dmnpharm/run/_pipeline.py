"""``dmnpharm run``: validate a study, compute per-run metrics, test the contrast."""

from __future__ import annotations

import json
import platform
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm import __version__
from dmnpharm._utils import get_logger, sha256_file, staged_output_dir
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError, MotionImbalanceWarning, StudyValidationError
from dmnpharm.io import RoiStudy, load_roi_study, read_study_atlas_name, write_tsv
from dmnpharm.metrics import tangent_connectivity
from dmnpharm.run._config import RunConfig
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

__all__ = ["RunResult", "StudyRun", "run_study"]

_LOG = get_logger("run")
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
    """

    out: Path
    metrics: pd.DataFrame
    results: pd.DataFrame
    report: Path


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
    """

    design: dict[str, Any]
    label: str
    load: Callable[[], npt.NDArray[np.float64]]
    confounds: Path | None
    repetition_time: float


def _tag(table: pd.DataFrame, keys: dict[str, Any], config: RunConfig) -> pd.DataFrame:
    """Put the run's design columns in front of its bundle rows, atlas and estimator after."""
    tagged = pd.concat([pd.DataFrame([keys] * len(table), index=table.index), table], axis=1)
    tagged["atlas"] = config.atlas
    tagged["estimator"] = config.estimator
    return tagged


def _tangent_tables(
    pending: list[tuple[dict[str, Any], ProcessedRun, float, str]],
    atlas: Atlas,
    config: RunConfig,
    records: dict[str, Any],
) -> list[pd.DataFrame]:
    """Tangent-space metrics: one group reference per analysis, from every included run."""
    tables = []
    analyses = dict.fromkeys(c.analysis for _, done, _, _ in pending for c in done.cleaned)
    for analysis in analyses:
        members = [
            (keys, cleaned, tr, label)
            for keys, done, tr, label in pending
            for cleaned in done.cleaned
            if cleaned.analysis == analysis
        ]
        tangent = tangent_connectivity(
            [cleaned.data for _, cleaned, _, _ in members],
            run_ids=[label for *_, label in members],
        )
        records.setdefault("tangent_reference", {})[analysis] = {
            "runs": list(tangent.reference_runs),
            "iterations": tangent.iterations,
            "estimator": tangent.estimator,
        }
        for (keys, cleaned, tr, label), matrix in zip(members, tangent.matrices, strict=True):
            table, record = measure(cleaned, atlas, tr, config, matrix=matrix)
            records[label].setdefault("bundle", {})[analysis] = record
            tables.append(_tag(table, keys, config))
    return tables


def _process_all(
    runs: list[StudyRun], config: RunConfig
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, Any]]:
    """Clean, QC and measure every run; collect exclusions and failures."""
    atlas = load_atlas(str(config.atlas))
    tables: list[pd.DataFrame] = []
    qc_rows: list[dict[str, Any]] = []
    exclusions: list[str] = []
    failures: list[str] = []
    records: dict[str, Any] = {}
    pending: list[tuple[dict[str, Any], ProcessedRun, float, str]] = []
    for run in runs:
        keys = {k: v for k, v in run.design.items() if k not in ("path", "n_volumes")}
        try:
            confounds, meta = read_confounds(run.confounds)
            done = process_run(
                run.load(), confounds, meta, run.repetition_time, config, atlas, run.label
            )
        except InputError as exc:
            failures.append(str(exc))
            continue
        records[run.label] = done.record
        if done.qc:
            qc_rows.append({**keys, **done.qc})
        if done.excluded:
            exclusions.append(f"{run.label}: excluded ({done.excluded})")
            continue
        if config.estimator == "tangent":
            pending.append((keys, done, run.repetition_time, run.label))
        else:
            tables.append(_tag(done.metrics, keys, config))
    if failures and not config.allow_failures:
        raise StudyValidationError(
            "the study", [*failures, "use --allow-failures to go on without these runs"]
        )
    exclusions += [f"failed and left out: {f}" for f in failures]
    if pending:
        tables += _tangent_tables(pending, atlas, config, records)
    metrics = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return metrics, pd.DataFrame(qc_rows), exclusions, records


def _finish(
    runs: list[StudyRun],
    design: pd.DataFrame,
    staging: Path,
    config: RunConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
) -> RunResult:
    """Per-run work, group statistics, QC, outputs and report (shared by both study kinds)."""
    # Per-run work is many small matrix operations (eigen-decompositions of region
    # covariances, per-block regressions): one BLAS thread avoids the oversubscription
    # that made them up to 35x slower on a loaded 2-core machine; parallelism belongs
    # across runs, not inside them.
    with threadpool_limits(limits=1, user_api="blas"):
        everything, qc, exclusions, records = _process_all(runs, config)
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
    if not qc.empty and "condition" in qc:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MotionImbalanceWarning)
            imbalance = motion_imbalance(qc, spec, n_permutations=2000, seed=config.seed)
        for warning in caught:
            _LOG.warning("%s", warning.message)
            exclusions.append(f"motion imbalance: {warning.message}")
        write_tsv(qc, group / "qc.tsv")
        _write_qc_fc(metrics, qc, group)
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
        "config": {**asdict(config), "denoise": config.denoise.to_dict()},
        "denoising": config.denoise.describe(),
        "cleaning_per_run": records,
        "exclusions": exclusions,
        "versions": _versions(),
    }
    (staging / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    report = build_report(
        design, metrics, results, config, provenance, truth, staging / "report.html", exclusions
    )
    return RunResult(out=staging, metrics=metrics, results=results, report=report)


def _identity(data: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return data


def _write_qc_fc(metrics: pd.DataFrame, qc: pd.DataFrame, group: Path) -> None:
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
            )
        )
    return runs


def _execute(study_path: Path, staging: Path, config: RunConfig, recorded_study: str) -> RunResult:
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
    return _finish(runs, study.design, staging, config, provenance, truth)


def run_study(
    study: str | Path,
    out: str | Path,
    config: RunConfig | None = None,
    overwrite: bool = False,
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
        ``group/exclusions.tsv``, ``group/model.txt``, ``provenance.json`` and
        ``report.html``.
    config : RunConfig or None
        Analytic choices; defaults to ``RunConfig()``.
    overwrite : bool
        Replace a non-empty ``out``.

    Returns
    -------
    RunResult
        Tables in memory and the final paths.
    """
    cfg = config or RunConfig()
    root = Path(study)
    bids = (root / "derivatives" / "fmriprep").is_dir()
    if cfg.atlas is None:
        cfg = replace(cfg, atlas="seitzman300" if bids else read_study_atlas_name(study))
    final = Path(out)
    with staged_output_dir(final, overwrite=overwrite) as staging:
        if bids:
            from dmnpharm.run._bids import execute_bids

            result = execute_bids(root, staging, cfg, str(root.resolve()))
        else:
            result = _execute(root, staging, cfg, str(root.resolve()))
    return replace(result, out=final, report=final / "report.html")
