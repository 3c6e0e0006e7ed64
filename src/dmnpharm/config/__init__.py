"""Analysis and execution settings: every analytic choice, its default and its check, once."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.config._analysis import (
        DEFAULT_CONTRAST,
        GSR_SENSITIVITY,
        PRIMARY,
        RUN_COVARIATES,
        AnalysisConfig,
        Inference,
        between_model,
        paired_model,
    )
    from dmnpharm.config._execution import CLUSTERS, SCHEDULER_ENV, Execution

__all__ = [
    "CLUSTERS",
    "DEFAULT_CONTRAST",
    "GSR_SENSITIVITY",
    "PRIMARY",
    "RUN_COVARIATES",
    "SCHEDULER_ENV",
    "AnalysisConfig",
    "Execution",
    "Inference",
    "between_model",
    "paired_model",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
