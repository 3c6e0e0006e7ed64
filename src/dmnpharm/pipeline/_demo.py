"""``dmnpharm demo``: simulate a crossover study, analyse it, write the report."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from dmnpharm._utils import get_logger, log_to_file, staged_output_dir
from dmnpharm._utils._forked import call_beside
from dmnpharm.atlases import is_atlas_path
from dmnpharm.config import AnalysisConfig
from dmnpharm.io import OutputLayout
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._results import Results
from dmnpharm.pipeline._snapshot_key import snapshot_key
from dmnpharm.pipeline._snapshots import load_snapshot, restored
from dmnpharm.simulate import StudySpec, load_preset

__all__ = ["ANALYSIS_MODULES", "DEMO_STUDY", "make_demo"]

_LOG = get_logger("pipeline")

#: Where the demo's simulated study is written inside its output folder.
DEMO_STUDY = "study"

#: Modules the demo's analysis imports (the report's, the catalog's, Jinja2), imported while
#: its study is simulated in a forked process: 0.25-0.3 s of imports overlap the simulation.
ANALYSIS_MODULES = (
    "dmnpharm.pipeline._adapters",
    "dmnpharm.pipeline._orchestrator",
    "dmnpharm.pipeline._group",
    "dmnpharm.report._study_report",
    "dmnpharm.catalog._build",
    "dmnpharm.catalog._claim_tests",
    "dmnpharm.catalog._compare",
)


def make_demo(
    out: str | Path,
    spec: StudySpec | None = None,
    config: AnalysisConfig | None = None,
    *,
    overwrite: bool = False,
    store: str | Path | None = None,
    log_level: int = logging.INFO,
) -> Results:
    """Simulate a placebo/drug crossover study into ``out/study`` and analyse it into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder; receives ``study/`` and every output of an analysis
        (:class:`dmnpharm.io.OutputLayout`).
    spec : StudySpec or None
        The simulated study; defaults to the ``demo-crossover`` preset (24
        subjects, within-DMN FC 0.10 lower under drug).
    config : AnalysisConfig or None
        Analytic choices and execution settings; the atlas is the simulated one.
    overwrite : bool
        Replace a non-empty ``out`` (and the analysis in ``store``).
    store : str, Path or None
        Results store to append the analysis to; None: ``out/results.duckdb``.
    log_level : int
        Lowest level of the records written to ``out/dmnpharm.log``.

    Returns
    -------
    Results
        Tables and final paths. A demo identical to one already complete
        (same simulation, choices, execution and dmnpharm code, with the
        cache on) is copied from the cache, study included, instead of being
        simulated and analysed again.
    """
    sim_spec = spec or load_preset("demo-crossover")
    signal = sim_spec.signal
    atlas = signal.atlas_object() if is_atlas_path(signal.atlas) else signal.atlas
    cfg = (config or AnalysisConfig()).replace(atlas=atlas)
    final = Path(out)
    with (
        staged_output_dir(final, overwrite=overwrite) as staging,
        log_to_file(OutputLayout.analysis(staging).log, log_level),
    ):
        study = staging / DEMO_STUDY
        source = final.resolve() / DEMO_STUDY
        outputs = Outputs.make(final, staging, cfg, overwrite, store, source, source_now=study)
        # The demo is a pure function of its simulation and choices: an identical demo
        # already complete elsewhere is copied from the cache, study included.
        key = _demo_key(outputs, sim_spec, cfg)
        kept = load_snapshot(outputs.cache, key)
        if kept is not None:
            from dmnpharm.store import check_new_analysis

            check_new_analysis(outputs.store, kept.results["analysis_id"], outputs.overwrite)
            result = restored(kept, staging, outputs)
        else:
            _LOG.info("simulating %s (seed %d)", sim_spec.name, sim_spec.seed)
            if cfg.execution.in_process:  # the work stays in this process, as asked
                _simulate(sim_spec, study)
            else:
                # The study is simulated in a forked process while this one imports the
                # analysis (each on its own core); neither is imported by a restored demo.
                call_beside(_simulate, (sim_spec, study), _import_analysis)
            from dmnpharm.pipeline._adapters import plan_roi
            from dmnpharm.pipeline._orchestrator import analyse_plan, resolve_config

            cfg = resolve_config(cfg, study, "roi")
            plan = plan_roi(study, cfg)
            result = analyse_plan(plan, staging, cfg, DEMO_STUDY, outputs, snapshot=key)
    return result.moved(staging, final)


def _simulate(spec: StudySpec, study: Path) -> None:
    """Simulate the study and write it into ``study`` (run in a forked process)."""
    from dmnpharm.simulate import simulate_and_write_study

    # ``study`` is inside the demo's own locked staging folder: a forked process that died
    # after moving it into place is simply written over when this runs here instead.
    simulate_and_write_study(spec, study, overwrite=True)


def _import_analysis() -> None:
    """Import the modules the demo's analysis uses (while its study is simulated)."""
    for name in ANALYSIS_MODULES:
        importlib.import_module(name)


def _demo_key(outputs: Outputs, spec: StudySpec, config: AnalysisConfig) -> str | None:
    """Return the cache key of a demo's complete outputs (its study included)."""
    identity = {
        "demo": repr(spec),
        "study": DEMO_STUDY,
        "config": config.record(),
        "execution": outputs.execution.describe(),
    }
    return snapshot_key(outputs.cache, config, identity)
