"""Group statistics: paired designs and sign-flip permutation inference."""

from dmnpharm.stats._paired import (
    RESULT_COLUMNS,
    paired_differences,
    paired_test,
    sign_flip_test,
)

__all__ = ["RESULT_COLUMNS", "paired_differences", "paired_test", "sign_flip_test"]
