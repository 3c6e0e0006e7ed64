"""The one orchestrator: a study folder and an analysis configuration in, a complete output out.

:func:`analyse_folder` validates the whole study (through its adapter), names
the analysis by its inputs' content and its choices, stops if the output folder
already holds it, and otherwise runs the per-run work and the group stage into
a hidden staging folder that becomes the output folder only when complete.
``dmnpharm run``, ``dmnpharm demo`` and :meth:`dmnpharm.Study.analyse` all come
through here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from dmnpharm._utils import get_logger, log_to_file, one_blas_thread, staged_output_dir
from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas, is_atlas_path, load_atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError, OutputExistsError, RunFailuresError
from dmnpharm.io import OutputLayout, read_study_atlas_name, roi_atlas_name
from dmnpharm.pipeline._adapters import BidsOptions, StudyPlan
from dmnpharm.pipeline._checks import preflight, read_plan, refuse
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._results import Results, stored_results
from dmnpharm.pipeline._table_plan import is_run_table
from dmnpharm.pipeline._xcpd_plan import resolve_xcpd, xcpd_folder
from dmnpharm.store import check_new_analysis, make_analysis_id

__all__ = ["analyse_folder", "analyse_plan", "resolve_config", "study_kind"]

_LOG = get_logger("pipeline")


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


def study_kind(root: Path, options: BidsOptions | None = None) -> str:
    """Return what kind of study a folder is: ``bids``, ``xcpd`` or ``roi``.

    Parameters
    ----------
    root : Path
        The study folder.
    options : BidsOptions or None
        Its derivatives folder, when not ``<root>/derivatives/fmriprep``.

    Returns
    -------
    str
        ``table`` when ``root`` is a run table (a TSV or CSV listing time-series
        files); ``xcpd`` when the folder (or ``options.derivatives``, or
        ``<root>/derivatives/xcp_d`` without an fMRIPrep folder beside it) was
        written by XCP-D; ``bids`` when the fMRIPrep derivatives folder
        exists; else ``roi`` (a region time-series folder).
    """
    if is_run_table(root):
        return "table"
    if xcpd_folder(root, options) is not None:
        return "xcpd"
    given = options.derivatives if options is not None else None
    fmriprep = Path(given) if given else root / "derivatives" / "fmriprep"
    return "bids" if fmriprep.is_dir() else "roi"


def resolve_config(
    config: AnalysisConfig, root: Path, kind: str, options: BidsOptions | None = None
) -> AnalysisConfig:
    """Check the drug against the catalog and resolve the atlas, before any work.

    Parameters
    ----------
    config : AnalysisConfig
        As given.
    root : Path
        The study folder (an ROI-level study names its atlas in its sidecars).
    kind : str
        :func:`study_kind`: ``bids`` (default atlas ``seitzman300``), ``roi``
        or ``xcpd`` (atlas and cleaning from the XCP-D folder).
    options : BidsOptions or None
        The derivatives folder and task (BIDS and XCP-D).

    Returns
    -------
    AnalysisConfig
        With ``atlas`` set: a registered name, or a user's atlas by value
        (named after the atlas of the files it describes).
    """
    if config.drug is not None:
        from dmnpharm.catalog import load_catalog, resolve_drug

        # Checked before any work: a misspelt drug must not cost a whole analysis.
        resolve_drug(load_catalog(), config.drug)
    if config.receptors is not None:
        from dmnpharm.pipeline._predict import check_prediction_inputs

        check_prediction_inputs(config)
    if kind == "xcpd":
        folder = xcpd_folder(root, options)
        assert folder is not None
        return resolve_xcpd(config, folder, options.task if options is not None else None)
    if kind == "table" and config.atlas is None:
        raise InputError(
            f"run table '{root}' does not say which regions its time series hold: give "
            "--atlas (a regions table naming each column's network, or a registered atlas)"
        )
    if config.atlas is None:
        bids = kind == "bids"
        return config.replace(atlas="seitzman300" if bids else read_study_atlas_name(root))
    if isinstance(config.atlas, str) and not is_atlas_path(config.atlas):
        return config
    atlas = config.atlas if isinstance(config.atlas, Atlas) else load_atlas(config.atlas)
    if kind == "roi":
        atlas = replace(atlas, name=roi_atlas_name(root, atlas.name))
    return config.replace(atlas=atlas)


def analyse_plan(
    plan: StudyPlan,
    staging: Path,
    config: AnalysisConfig,
    recorded_study: str,
    outputs: Outputs,
    snapshot: str | None = None,
) -> Results:
    """Check the design, name the analysis, stop if done, else do it into ``staging``.

    Parameters
    ----------
    plan : StudyPlan
        The validated study.
    staging : Path
        The folder being written.
    config : AnalysisConfig
        Analytic choices, atlas resolved.
    recorded_study : str
        How the provenance names the study.
    outputs : Outputs
        The output folder, store, cache and execution.
    snapshot : str or None
        The cache key under which the complete outputs are kept for an
        identical analysis elsewhere (the demo's, keyed by its simulation:
        :mod:`dmnpharm.pipeline._snapshots`); None: not kept.

    Returns
    -------
    Results
        Paths inside ``staging``.
    """
    # The checks run on forked processes: one BLAS thread, set before they fork, so that no
    # child has to set it (OpenBLAS would start its helper threads there, and they spin;
    # dmnpharm._utils._blas). The runs hold it too (_per_run); the group model runs in the
    # process's own setting (the command line's: one thread unless the user chose).
    with one_blas_thread():
        refuse(plan.root, preflight(plan, config))
    _LOG.info("study %s: %s, denoising %s", recorded_study, plan.summary, config.strategy)
    provenance: dict[str, Any] = {
        "command": "run",
        "study": recorded_study,
        **plan.record,
        "inputs": outputs.input_hashes(plan.root, plan.inputs),
    }
    config_record = config.record()
    identity = {"config": config_record, "inputs": provenance["inputs"]}
    analysis_id = make_analysis_id(config.atlas_name, config.strategy, config.estimator, identity)
    if outputs.existing is not None:
        _up_to_date_or_refuse(outputs.final, outputs.existing, analysis_id)
    check_new_analysis(outputs.store, analysis_id, overwrite=outputs.overwrite)
    _LOG.info("analysis %s", analysis_id)
    truth = plan.ground_truth()
    # The heavy part (and SciPy, scikit-learn, nilearn, matplotlib) only when there is work.
    from dmnpharm.pipeline._group import analyse_study

    provenance["config"] = config_record
    return analyse_study(
        plan, staging, config, provenance, truth, outputs, analysis_id, snapshot=snapshot
    )


def analyse_folder(
    root: str | Path,
    config: AnalysisConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    store: str | Path | None = None,
    log_level: int = logging.INFO,
    options: BidsOptions | None = None,
) -> Results:
    """Analyse a study folder into ``out`` (see :meth:`dmnpharm.Study.analyse`).

    Parameters
    ----------
    root : str or Path
        BIDS folder with fMRIPrep derivatives, or an ROI-level folder.
    config : AnalysisConfig
        Every analytic choice, and the execution settings.
    out : str or Path
        Output folder (:class:`dmnpharm.io.OutputLayout`).
    overwrite : bool
        Replace a non-empty ``out`` and the analysis in ``store``.
    store : str, Path or None
        Results store to append to; None: ``out/results.duckdb``.
    log_level : int
        Lowest level of the records written to ``out/dmnpharm.log``.
    options : BidsOptions or None
        Which runs of a BIDS study (derivatives folder, task, resolution,
        design file).

    Returns
    -------
    Results
        Tables in memory and the final paths.

    Raises
    ------
    RunFailuresError
        Some runs failed while computing and ``config.allow_failures`` is
        False; ``out`` is left as it was and the finished runs are cached.
    """
    folder = Path(root)
    kind = study_kind(folder, options)
    cfg = resolve_config(config, folder, kind, options)
    final = Path(out)
    existing = _existing_analysis(final, overwrite)
    try:
        with (
            staged_output_dir(final, overwrite=overwrite or existing is not None) as staging,
            log_to_file(OutputLayout.analysis(staging).log, log_level),
        ):
            outputs = Outputs.make(
                final, staging, cfg, overwrite, store, folder.resolve(), existing
            )
            plan = read_plan(folder, cfg, kind, options)
            if kind == "table":  # its files lie around the table: sources are named from there
                outputs = replace(outputs, source=plan.root.resolve())
            result = analyse_plan(plan, staging, cfg, str(folder.resolve()), outputs)
        result = result.moved(staging, final)
    except _UpToDateError:
        _LOG.info("%s already holds this analysis, complete: nothing to do", final)
        result = stored_results(final)
    if result.failures and not cfg.allow_failures:
        raise RunFailuresError(str(final), list(result.failures))
    return result


def _existing_analysis(final: Path, overwrite: bool) -> dict[str, Any] | None:
    """Return the provenance of a complete earlier analysis in ``final`` (not overwriting)."""
    layout = OutputLayout.analysis(final)
    if overwrite or not layout.provenance.is_file() or not layout.report.is_file():
        return None
    try:
        content: dict[str, Any] = json.loads(layout.provenance.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return content
