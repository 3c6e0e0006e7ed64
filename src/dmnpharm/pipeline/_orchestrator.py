"""``dmnpharm run``: validate a study, compute per-run metrics, test the contrast."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm import __version__
from dmnpharm._utils import closest_match, get_logger, log_to_file, staged_output_dir
from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import OutputExistsError, RunFailuresError, StudyValidationError
from dmnpharm.io import RoiRun, RoiStudy, load_roi_study, read_study_atlas_name
from dmnpharm.execution._cache import RunCache
from dmnpharm.config._analysis import PRIMARY, RunConfig
from dmnpharm.config import Execution
from dmnpharm.execution import make_cache
from dmnpharm.pipeline._tasks import RunTask
from dmnpharm.store import STORE_FILENAME, check_new_analysis, make_analysis_id, store_path

__all__ = [
    "LOG_FILENAME",
    "Outputs",
    "RunResult",
    "StudyRun",
    "run_study",
    "store_target",
]

_LOG = get_logger("run")

#: The run's log inside the output folder.
LOG_FILENAME = "dmnpharm.log"

_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")


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
        ordered = sorted(files)
        digests = self.cache.file_hashes(ordered)
        hashes = {p.relative_to(root).as_posix(): d for p, d in zip(ordered, digests, strict=True)}
        self.cache.save_hashes()
        return hashes


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


def _finish(
    runs: list[StudyRun],
    design: pd.DataFrame,
    staging: Path,
    config: RunConfig,
    provenance: dict[str, Any],
    truth: dict[str, Any] | None,
    outputs: Outputs,
) -> RunResult:
    """Name the analysis, stop if ``out`` holds it already, else do it (both study kinds)."""
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
    # The heavy part (and SciPy, scikit-learn, nilearn, matplotlib) only when there is work.
    from dmnpharm.pipeline._analysis import analyse_study

    provenance = {**provenance, "config": config_record}
    return analyse_study(runs, design, staging, config, provenance, truth, outputs, analysis_id)


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
    # Checked in full here; each run's signals are read again by its task, not held.
    study = load_roi_study(
        study_path, config.atlas, load_atlas(config.atlas).labels, keep_data=False
    )
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
        from dmnpharm.catalog import load_catalog, resolve_drug

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
            cache=make_cache(plan),
            existing=existing,
        )
        if bids:
            from dmnpharm.pipeline._bids import execute_bids

            result = execute_bids(root, staging, cfg, str(root.resolve()), outputs)
        else:
            result = _execute(root, staging, cfg, str(root.resolve()), outputs)
    return _final_result(result, final, staging)
