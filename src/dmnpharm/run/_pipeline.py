"""``dmnpharm run``: validate a study, compute per-run metrics, test the contrast."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm import __version__
from dmnpharm._utils import get_logger, sha256_file, staged_output_dir
from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.io import RoiStudy, load_roi_study, read_study_atlas_name, write_tsv
from dmnpharm.metrics import MEASURES, run_fc_metrics
from dmnpharm.run._config import RunConfig
from dmnpharm.run._reporting import build_report
from dmnpharm.stats import ModelSpec, analyse, paired_differences

__all__ = ["RunResult", "run_study"]

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


def _check_pairs(study: RoiStudy, config: RunConfig) -> None:
    """Fail before any metric is computed if a subject lacks a contrast condition."""
    design = study.design
    wanted = set(config.contrast)
    present = set(design["condition"])
    problems = []
    for cond in config.contrast:
        if cond not in present:
            problems.append(
                f"condition '{cond}' of the contrast is in no sessions file "
                f"(conditions: {', '.join(sorted(present))}); fix --contrast or the sessions files"
            )
    if not problems:
        for pid, conds in design.groupby("participant_id")["condition"]:
            have = set(conds) & wanted
            if have != wanted:
                missing = ", ".join(sorted(wanted - have))
                sessions = study.root / str(pid) / f"{pid}_sessions.tsv"
                problems.append(
                    f"{sessions}: participant '{pid}' has no run under '{missing}'; a paired "
                    f"test needs both '{config.contrast[0]}' and '{config.contrast[1]}'. Add "
                    "the session or remove the participant from participants.tsv"
                )
    if problems:
        raise StudyValidationError(str(study.root), problems)


def _metrics_table(study: RoiStudy, config: RunConfig) -> pd.DataFrame:
    atlas = load_atlas(study.atlas)
    spec = {m.name: m for m in MEASURES}
    design_cols = [c for c in study.design.columns if c not in ("path", "n_volumes")]
    rows: list[dict[str, Any]] = []
    for (_, design_row), run in zip(study.design.iterrows(), study.runs, strict=True):
        _LOG.debug("metrics for %s", run.path)
        for measure, value in run_fc_metrics(run.data, atlas).items():
            rows.append(
                {
                    **{c: design_row[c] for c in design_cols},
                    "measure": measure,
                    "network_a": spec[measure].network_a,
                    "network_b": spec[measure].network_b,
                    "value": value,
                    "atlas": study.atlas,
                    "strategy": config.strategy,
                    "estimator": config.estimator,
                }
            )
    return pd.DataFrame(rows)


def _execute(study_path: Path, staging: Path, config: RunConfig, recorded_study: str) -> RunResult:
    if config.atlas is None:
        raise ValueError("the atlas must be resolved before execution")
    study = load_roi_study(study_path, config.atlas, load_atlas(config.atlas).labels)
    _check_pairs(study, config)
    _LOG.info(
        "study %s: %d participants, %d runs, atlas %s",
        recorded_study,
        study.design["participant_id"].nunique(),
        len(study.runs),
        study.atlas,
    )
    metrics = _metrics_table(study, config)
    model = analyse(
        metrics,
        ModelSpec(within="condition", contrast=(config.contrast[0], config.contrast[1])),
        config.n_permutations,
        config.seed,
        confidence=config.confidence,
    )
    results = model.results
    diffs = paired_differences(metrics, *config.contrast)
    group = staging / "group"
    group.mkdir(parents=True, exist_ok=True)
    write_tsv(metrics, staging / "metrics.tsv")
    metrics.to_parquet(staging / "metrics.parquet", index=False)
    write_tsv(results, group / "results.tsv")
    results.to_parquet(group / "results.parquet", index=False)
    write_tsv(study.design, group / "design.tsv")
    (group / "model.txt").write_text(model.summary + "\n", encoding="utf-8")
    write_tsv(diffs.reset_index(), group / "paired_differences.tsv")
    provenance = {
        "command": "run",
        "study": recorded_study,
        "config": asdict(config),
        "versions": _versions(),
        "inputs": {
            p.relative_to(study.root).as_posix(): sha256_file(p)
            for p in sorted(
                [study.root / "participants.tsv"]
                + [r.path for r in study.runs]
                + [r.path.with_suffix(".json") for r in study.runs]
                + list(study.root.glob("sub-*/sub-*_sessions.tsv"))
            )
        },
    }
    (staging / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    truth_file = study.root / "ground_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else None
    report = build_report(
        study.design, metrics, results, config, provenance, truth, staging / "report.html"
    )
    return RunResult(out=staging, metrics=metrics, results=results, report=report)


def run_study(
    study: str | Path,
    out: str | Path,
    config: RunConfig | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Validate an ROI-level study, compute DMN metrics per run and test the contrast.

    Nothing is written until the whole study has been validated; outputs are
    written to a hidden staging folder and moved to ``out`` only when complete.

    Parameters
    ----------
    study : str or Path
        Study folder (see :mod:`dmnpharm.io`).
    out : str or Path
        Output folder: ``metrics.tsv``/``.parquet``, ``group/results.tsv``/
        ``.parquet``, ``group/design.tsv``, ``group/paired_differences.tsv``,
        ``provenance.json`` and ``report.html``.
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
    if cfg.atlas is None:
        cfg = replace(cfg, atlas=read_study_atlas_name(study))
    final = Path(out)
    with staged_output_dir(final, overwrite=overwrite) as staging:
        result = _execute(Path(study), staging, cfg, str(Path(study).resolve()))
    return replace(result, out=final, report=final / "report.html")
