"""Defaults of the group statistics, each written once and cited.

Every command, configuration object and function that permutes takes its
default from here.
"""

from __future__ import annotations

__all__ = ["CONFIDENCE", "MOTION_PERMUTATIONS", "N_BOOTSTRAP", "N_PERMUTATIONS"]

#: Permutations (or sign flips) of the group tests. With 10,000 the Monte-Carlo
#: standard error of a p-value near 0.05 is about 0.002 (Winkler et al. 2014,
#: NeuroImage 92:381, recommend thousands; PALM's default is 10,000).
N_PERMUTATIONS = 10_000

#: Permutations of the motion-imbalance test between conditions or groups (a
#: screening test whose p-value needs less precision).
MOTION_PERMUTATIONS = 2000

#: Bootstrap resamples of the effect-size confidence intervals.
N_BOOTSTRAP = 2000

#: Level of every confidence interval.
CONFIDENCE = 0.95
