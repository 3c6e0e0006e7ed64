"""Pipeline configuration and execution: study folder in, results out."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.run._cache import RunCache, default_cache_dir
    from dmnpharm.run._config import RunConfig
    from dmnpharm.run._demo import run_demo
    from dmnpharm.run._execute import CLUSTERS, SCHEDULER_ENV, Execution
    from dmnpharm.run._pipeline import RunResult, run_study
    from dmnpharm.run._power import PowerOutputs, write_power
    from dmnpharm.run._stats import read_metrics_table, run_stats

__all__ = [
    "CLUSTERS",
    "SCHEDULER_ENV",
    "Execution",
    "PowerOutputs",
    "RunCache",
    "RunConfig",
    "RunResult",
    "default_cache_dir",
    "read_metrics_table",
    "run_demo",
    "run_stats",
    "run_study",
    "write_power",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
