"""Analysis and execution settings: every analytic choice, its default and its check, once."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.config._analysis import GSR_SENSITIVITY, PRIMARY, RunConfig
    from dmnpharm.config._execution import CLUSTERS, SCHEDULER_ENV, Execution

__all__ = [
    "CLUSTERS",
    "GSR_SENSITIVITY",
    "PRIMARY",
    "SCHEDULER_ENV",
    "Execution",
    "RunConfig",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
