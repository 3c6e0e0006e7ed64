"""Study adapters, per-run work, the group stage and the one orchestrator."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.pipeline._adapters import BidsOptions, StudyPlan, StudyRun
    from dmnpharm.pipeline._demo import make_demo
    from dmnpharm.pipeline._orchestrator import analyse_folder
    from dmnpharm.pipeline._predict import PredictRequest, run_prediction
    from dmnpharm.pipeline._results import Results
    from dmnpharm.pipeline._stats import analyse_table, read_metrics_table
    from dmnpharm.pipeline._study import Study
    from dmnpharm.pipeline._tasks import RunTask, TaskOutcome
    from dmnpharm.pipeline._work import execute_run

__all__ = [
    "BidsOptions",
    "PredictRequest",
    "Results",
    "RunTask",
    "Study",
    "StudyPlan",
    "StudyRun",
    "TaskOutcome",
    "analyse_folder",
    "analyse_table",
    "execute_run",
    "make_demo",
    "read_metrics_table",
    "run_prediction",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
