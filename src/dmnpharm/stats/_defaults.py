"""Defaults of the group statistics, each written once and cited.

Every command, configuration object and function that permutes takes its
default from here.
"""

from __future__ import annotations

__all__ = [
    "CONFIDENCE",
    "EFFECT_CI",
    "EFFECT_CI_METHODS",
    "MOTION_PERMUTATIONS",
    "N_BOOTSTRAP",
    "N_PERMUTATIONS",
]

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

#: Interval of the paired effect size d_z: ``noncentral-t`` inverts the noncentral t
#: distribution of t = sqrt(n) d_z (Steiger & Fouladi 1997; Cumming 2012, ch. 11), exact
#: for normal differences; ``bootstrap`` is the percentile bootstrap over subjects. The
#: noncentral t is the default: with 12-40 subjects the percentile bootstrap covered the
#: true d_z in 79-95 % of 2,000 simulated studies per cell (normal, t5 and skewed
#: differences) where 95 % was asked, the noncentral t in 90-99.7 % (95 % under
#: normality); Kelley 2005 (Educ Psychol Meas 65:51) reports the same pattern
#: (``benchmarks/effect_ci_coverage.py``). Hedges' g and Pearson r keep the bootstrap.
EFFECT_CI = "noncentral-t"

#: The accepted values of ``effect_ci``.
EFFECT_CI_METHODS = ("noncentral-t", "bootstrap")
