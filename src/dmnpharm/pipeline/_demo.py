"""``dmnpharm demo``: simulate a crossover study, analyse it, write the report."""

from __future__ import annotations

import logging
from pathlib import Path

from dmnpharm._utils import get_logger, log_to_file, staged_output_dir
from dmnpharm.atlases import is_atlas_path
from dmnpharm.config import AnalysisConfig
from dmnpharm.io import OutputLayout
from dmnpharm.pipeline._adapters import plan_roi
from dmnpharm.pipeline._orchestrator import analyse_plan, resolve_config
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._results import Results
from dmnpharm.simulate import StudySpec, load_preset, simulate_study, write_simulated_study

__all__ = ["DEMO_STUDY", "make_demo"]

_LOG = get_logger("pipeline")

#: Where the demo's simulated study is written inside its output folder.
DEMO_STUDY = "study"


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
        Tables and final paths.
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
        _LOG.info("simulating %s (seed %d)", sim_spec.name, sim_spec.seed)
        study = staging / DEMO_STUDY
        write_simulated_study(simulate_study(sim_spec), study)
        cfg = resolve_config(cfg, study, "roi")
        source = final.resolve() / DEMO_STUDY
        outputs = Outputs.make(final, staging, cfg, overwrite, store, source, source_now=study)
        result = analyse_plan(plan_roi(study, cfg), staging, cfg, DEMO_STUDY, outputs)
    return result.moved(staging, final)
