"""Study adapters, per-run work, the group stage and the one orchestrator."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.pipeline._demo import run_demo
    from dmnpharm.pipeline._orchestrator import RunResult, run_study
    from dmnpharm.pipeline._stats import read_metrics_table, run_stats

__all__ = ["RunResult", "read_metrics_table", "run_demo", "run_stats", "run_study"]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
