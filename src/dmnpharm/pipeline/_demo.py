"""``dmnpharm demo``: simulate a crossover study, run the pipeline, write the report."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from dmnpharm._utils import get_logger, log_to_file, staged_output_dir
from dmnpharm.config._analysis import RunConfig
from dmnpharm.config import Execution
from dmnpharm.execution import make_cache
from dmnpharm.pipeline._orchestrator import (
    LOG_FILENAME,
    Outputs,
    RunResult,
    _execute,
    _final_result,
    store_target,
)
from dmnpharm.simulate import StudySpec, load_preset, simulate_study, write_simulated_study

__all__ = ["run_demo"]

_LOG = get_logger("run")


def run_demo(
    out: str | Path,
    spec: StudySpec | None = None,
    config: RunConfig | None = None,
    overwrite: bool = False,
    store: str | Path | None = None,
    log_level: int = logging.INFO,
    execution: Execution | None = None,
) -> RunResult:
    """Simulate a placebo/drug crossover study into ``out/study`` and analyse it into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder; receives ``study/``, the outputs of
        :func:`dmnpharm.run.run_study` and ``report.html``.
    spec : StudySpec or None
        The simulated study; defaults to the ``demo-crossover`` preset (24
        subjects, within-DMN FC 0.10 lower under drug).
    config : RunConfig or None
        Analytic choices; the atlas is the simulated one.
    overwrite : bool
        Replace a non-empty ``out`` (and the analysis in ``store``).
    store : str, Path or None
        Results store to append the analysis to; None: ``out/results.duckdb``.
    log_level : int
        Lowest level of the records written to ``out/dmnpharm.log``.
    execution : Execution or None
        Where per-run work runs and is cached (see :func:`dmnpharm.run.run_study`).

    Returns
    -------
    RunResult
        Tables and final paths.
    """
    sim_spec = spec or load_preset("demo-crossover")
    cfg = replace(config or RunConfig(), atlas=sim_spec.signal.atlas)
    final = Path(out)
    with (
        staged_output_dir(final, overwrite=overwrite) as staging,
        log_to_file(staging / LOG_FILENAME, log_level),
    ):
        _LOG.info("simulating %s (seed %d)", sim_spec.name, sim_spec.seed)
        write_simulated_study(simulate_study(sim_spec), staging / "study")
        target = store_target(store, final, staging)
        plan = execution or Execution()
        outputs = Outputs(
            final,
            target,
            overwrite,
            final.resolve() / "study",
            staging / "study",
            execution=plan,
            cache=make_cache(plan),
        )
        result = _execute(staging / "study", staging, cfg, "study", outputs)
    return _final_result(result, final, staging)
