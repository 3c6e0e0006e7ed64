"""Per-run work as the client sees it: dispatch every run, handle each outcome in study order.

Each outcome (from the cache or a worker) is written as it is handled: the
run's derivatives (time series, matrix, motion, outliers, coverage, QC and voxel
maps, see :mod:`dmnpharm.pipeline._derivatives`), its region and edge rows
(streamed to Parquet); only network-level rows, QC rows and records are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._utils import get_logger
from dmnpharm.atlases import Atlas
from dmnpharm.config import PRIMARY, AnalysisConfig
from dmnpharm.execution import RunCache, dispatch
from dmnpharm.execution._cluster import EngineChoice
from dmnpharm.execution._dispatch import plan_engine
from dmnpharm.metrics import tangent_connectivity
from dmnpharm.pipeline._adapters import StudyRun
from dmnpharm.pipeline._derivatives import DERIVATIVES_FOLDER, DerivativeWriter
from dmnpharm.pipeline._levels import LevelFiles, RunRows, split_levels
from dmnpharm.pipeline._process import ProcessedRun, measure
from dmnpharm.pipeline._run_output import write_run_files
from dmnpharm.pipeline._tasks import RunTask, RunTrace, TaskOutcome
from dmnpharm.pipeline._work import RUN_STAGE

__all__ = ["Processed", "RunTraces", "process_runs"]

_LOG = get_logger("pipeline")

#: Design columns that do not tag a run's rows.
_UNTAGGED = ("path", "n_volumes")


@dataclass(frozen=True, eq=False)
class Processed:
    """Every run after per-run work.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Network-level rows of every included run (both analyses).
    qc : pandas.DataFrame
        One QC row per run that was read.
    runs : pandas.DataFrame
        One row per run: design, status, reason, volumes, derivatives.
    exclusions : list of str
        Runs left out, each with its reason.
    records : dict
        Each run's cleaning and bundle record, by source.
    failures : list of str
        Runs that could not be read (each naming its file).
    traces : RunTraces
        FD per volume, tSNR and coverage per region of every run that was read.
    engine : EngineChoice or None
        Where the runs were to be computed, and why, as decided before the
        first of them started (None: not recorded).
    """

    metrics: pd.DataFrame
    qc: pd.DataFrame
    runs: pd.DataFrame
    exclusions: list[str]
    records: dict[str, Any]
    failures: list[str]
    traces: RunTraces = field(default_factory=lambda: RunTraces({}, ()))
    engine: EngineChoice | None = None


@dataclass(frozen=True, eq=False)
class RunTraces:
    """Every run's QC traces, by run source, as the report's long tables.

    Parameters
    ----------
    by_source : dict of str to RunTrace
        Each read run's traces (:func:`dmnpharm.pipeline._work.run_trace`).
    labels : tuple of str
        The atlas's region labels (the tSNR and coverage columns' order).
    """

    by_source: dict[str, RunTrace]
    labels: tuple[str, ...]

    def fd_series(self) -> pd.DataFrame | None:
        """Return ``path``, ``volume``, ``framewise_displacement`` rows, or None without FD."""
        runs = {k: t.fd for k, t in self.by_source.items() if t.fd is not None}
        if not runs:
            return None
        sizes = [v.size for v in runs.values()]
        return pd.DataFrame(
            {
                "path": pd.Categorical(np.repeat(list(runs), sizes)),
                "volume": np.concatenate([np.arange(n, dtype=np.int32) for n in sizes]),
                "framewise_displacement": np.concatenate(list(runs.values())),
            }
        )

    def per_region(self, kind: str) -> pd.DataFrame | None:
        """Return ``path``, ``region``, ``kind`` rows (``tsnr`` or ``coverage``), or None."""
        runs = {
            k: v
            for k, t in self.by_source.items()
            if (v := getattr(t, kind)) is not None and v.size == len(self.labels)
        }
        if not runs:
            return None
        return pd.DataFrame(
            {
                "path": pd.Categorical(np.repeat(list(runs), len(self.labels))),
                "region": pd.Categorical(np.tile(np.asarray(self.labels), len(runs))),
                kind: np.concatenate(list(runs.values())),
            }
        )


def _counts(record: Mapping[str, Any]) -> dict[str, Any]:
    """Volumes in, kept and censored, from a cleaning record."""
    return {k: record.get(k) for k in ("n_volumes", "n_kept", "n_censored")}


def _tangent_tables(
    pending: list[tuple[StudyRun, dict[str, Any], ProcessedRun]],
    atlas: Atlas,
    config: AnalysisConfig,
    records: dict[str, Any],
    writer: DerivativeWriter,
) -> tuple[list[RunRows], dict[str, Path]]:
    """Tangent-space metrics: one group reference per analysis, from every included run.

    Returns each run and analysis's rows, split by level, and, per run label, the
    primary analysis's matrix file.
    """
    tables: list[RunRows] = []
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
            tables.append(split_levels(table, keys, config.atlas_name, config.estimator))
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


@dataclass(eq=False)
class _Collector:
    """Handles run outcomes one by one, writing their files and keeping their rows."""

    config: AnalysisConfig
    writer: DerivativeWriter
    levels: LevelFiles
    tables: list[pd.DataFrame] = field(default_factory=list)
    qc_rows: list[dict[str, Any]] = field(default_factory=list)
    run_rows: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    pending: list[tuple[StudyRun, dict[str, Any], ProcessedRun]] = field(default_factory=list)
    included: dict[str, dict[str, Any]] = field(default_factory=dict)
    traces: dict[str, RunTrace] = field(default_factory=dict)

    def shown(self, path: Path) -> str:
        """Return a derivative's path as the run table names it."""
        return (DERIVATIVES_FOLDER / path.relative_to(self.writer.root)).as_posix()

    def handle(self, run: StudyRun, outcome: TaskOutcome) -> None:
        """Record one run's outcome: failed, excluded, or included (files written)."""
        keys = {k: v for k, v in run.design.items() if k not in _UNTAGGED}
        row: dict[str, Any] = {**keys, "source": run.source}
        done = outcome.processed
        if done is None:
            self.failures.append(str(outcome.error))
            self.run_rows.append({**row, "status": "failed", "reason": outcome.error})
            return
        if outcome.trace is not None:
            self.traces[run.source] = outcome.trace
        written = self._files(run, outcome)
        self.records[run.source] = done.record
        row.update(done.qc)
        row.update(_counts(done.record))
        missing = done.record.get("coverage", {}).get("regions_without_signal")
        if missing:
            row["regions_without_signal"] = " ".join(missing)
            if not done.excluded:
                _LOG.warning(
                    "%s: %d regions without a signal left out of its measures: %s",
                    run.label,
                    len(missing),
                    ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""),
                )
        if done.qc:
            self.qc_rows.append({**keys, **done.qc})
        if done.excluded:
            self.exclusions.append(f"{run.label}: excluded ({done.excluded})")
            self.run_rows.append({**row, "status": "excluded", "reason": done.excluded})
            return
        row.update(written)
        _LOG.debug(
            "%s: kept %s of %s volumes, files %s",
            run.label,
            done.record.get("n_kept"),
            done.record.get("n_volumes"),
            ", ".join(Path(f).name for f in written.values()) or "none",
        )
        if self.config.estimator == "tangent":
            self.pending.append((run, keys, done))
        else:  # tagged and split where it was computed, or here (cached or sent back)
            rows = outcome.rows
            if rows is None:
                rows = split_levels(
                    done.metrics, keys, self.config.atlas_name, self.config.estimator
                )
            self.tables.append(self.levels.add_rows(rows))
        row.update(status="included", reason=None)
        self.run_rows.append(row)
        self.included[run.source] = row

    def _files(self, run: StudyRun, outcome: TaskOutcome) -> dict[str, str]:
        """Return the run's files as the run table names them, writing them unless written."""
        if outcome.written is not None:  # the worker wrote them
            return {k: (DERIVATIVES_FOLDER / v).as_posix() for k, v in outcome.written.items()}
        tangent = self.config.estimator == "tangent"
        files = write_run_files(self.writer, run.task, run.entities, outcome, matrix=not tangent)
        return {kind: self.shown(path) for kind, path in files.items()}

    def finish(self, engine: EngineChoice | None = None) -> Processed:
        """Measure tangent-space runs (they need every run), log and return everything."""
        for failure in self.failures:
            _LOG.error("run failed: %s", failure)
        self.exclusions += [f"failed and left out: {f}" for f in self.failures]
        if self.pending:
            tables, relmats = _tangent_tables(
                self.pending, self.writer.atlas, self.config, self.records, self.writer
            )
            self.tables += [self.levels.add_rows(rows) for rows in tables]
            for source, path in relmats.items():
                self.included[source]["relmat"] = self.shown(path)
        metrics = pd.concat(self.tables, ignore_index=True) if self.tables else pd.DataFrame()
        _LOG.info(
            "%d runs measured, %d excluded, %d failed",
            sum(r["status"] == "included" for r in self.run_rows),
            sum(r["status"] == "excluded" for r in self.run_rows),
            len(self.failures),
        )
        qc, runs = pd.DataFrame(self.qc_rows), pd.DataFrame(self.run_rows)
        traces = RunTraces(self.traces, tuple(self.writer.atlas.labels))
        return Processed(
            metrics, qc, runs, self.exclusions, self.records, self.failures, traces, engine
        )


def _tasks(runs: list[StudyRun], writer: DerivativeWriter) -> list[RunTask]:
    """Each run's task, naming where its worker writes its files when it can.

    Workers write their run's derivatives when they share this file system
    (``Execution.worker_files``), except for the tangent estimator, whose
    matrices need every run.
    """
    config = writer.config
    if not config.execution.worker_files or config.estimator == "tangent":
        return [run.task for run in runs]
    root = str(writer.root)
    return [
        replace(
            run.task,
            derivatives=root,
            entities=tuple(run.entities.items()),
            design=tuple((k, v) for k, v in run.design.items() if k not in _UNTAGGED),
        )
        for run in runs
    ]


def process_runs(
    runs: list[StudyRun],
    config: AnalysisConfig,
    writer: DerivativeWriter,
    cache: RunCache,
    maps_folder: Path,
    levels: LevelFiles,
) -> Processed:
    """Clean, QC and measure every run; write its derivatives; collect exclusions and failures.

    Parameters
    ----------
    runs : list of StudyRun
        The study's runs, in design order.
    config : AnalysisConfig
        Analytic choices and where to compute (``config.execution``).
    writer : DerivativeWriter
        Writes each included run's signals and matrix.
    cache : RunCache
        Per-run results by content.
    maps_folder : Path
        Unused: voxel maps go into the derivatives dataset, each run's under its
        ``func/`` folder (``OutputLayout.voxel_maps`` is that dataset).
    levels : LevelFiles
        Receives region and edge rows as runs are handled.

    Returns
    -------
    Processed
        Network rows, QC, the run table, exclusions, records and failures.
    """
    del maps_folder  # the writer places the maps (kept for the callers' signature)
    if runs:
        writer.write_atlas(runs[0].task.kind)
    collector = _Collector(config, writer, levels)
    tasks = _tasks(runs, writer)
    # Decided once, before any thread of this process starts; recorded in the provenance.
    engine = plan_engine(tasks, RUN_STAGE, config.execution)
    # Outputs are written in study order whatever order the workers finished in; a run
    # is handled (and its outcome let go) as soon as every run before it is in.
    arrived: dict[int, TaskOutcome] = {}
    handled = 0
    for index, outcome in dispatch(tasks, RUN_STAGE, config.execution, cache, engine):
        arrived[index] = outcome
        while handled in arrived:
            collector.handle(runs[handled], arrived.pop(handled))
            handled += 1
    return collector.finish(engine)
