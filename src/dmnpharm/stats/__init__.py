"""Group statistics: paired and two-group designs with permutation inference."""

from dmnpharm.stats._paired import (
    RESULT_COLUMNS,
    paired_differences,
    paired_test,
    sign_flip_test,
)
from dmnpharm.stats._two_sample import two_sample_permutation_test

__all__ = [
    "RESULT_COLUMNS",
    "paired_differences",
    "paired_test",
    "sign_flip_test",
    "two_sample_permutation_test",
]
