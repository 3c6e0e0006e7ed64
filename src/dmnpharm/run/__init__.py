"""Pipeline configuration and execution: study folder in, results out."""

from dmnpharm.run._config import RunConfig
from dmnpharm.run._demo import run_demo
from dmnpharm.run._pipeline import RunResult, run_study
from dmnpharm.run._power import PowerOutputs, write_power

__all__ = ["PowerOutputs", "RunConfig", "RunResult", "run_demo", "run_study", "write_power"]
