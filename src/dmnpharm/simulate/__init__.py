"""Synthetic studies with known (planted) drug effects.

The generator that tests, the demo and users share: same spec and seed, same
bytes.
"""

from dmnpharm.simulate._crossover import (
    CrossoverSpec,
    SimulatedRun,
    SimulatedStudy,
    simulate_crossover,
)
from dmnpharm.simulate._signals import bold_like_noise
from dmnpharm.simulate._write import write_simulated_study

__all__ = [
    "CrossoverSpec",
    "SimulatedRun",
    "SimulatedStudy",
    "bold_like_noise",
    "simulate_crossover",
    "write_simulated_study",
]
