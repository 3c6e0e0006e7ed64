"""Two independent groups: Welch t with label-permutation inference.

Under the null hypothesis that group membership does not matter, the subjects'
labels are exchangeable (each subject is its own block), so permuting labels
generates the null. The statistic is Welch's t: the test is exact when the groups'
distributions are the same under the null, and stays asymptotically valid for the
mean difference when their variances differ (Janssen 1997, Stat Probab Lett
36:9-21). In small, unequal groups with unequal variances it is somewhat liberal:
with 7 vs 13 subjects and a 4-fold variance ratio we measured 6.1 % rejections at
a nominal 5 % (8,000 null tests), where Welch's parametric p gave 4.9 %. Both
p-values are returned.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import N_PERMUTATIONS
from dmnpharm.stats._dist import t_sf

__all__ = ["two_sample_permutation_test"]

Array = npt.NDArray[np.float64]

_TIE_RTOL = 1e-10


def _welch(values: Array, in_a: npt.NDArray[np.bool_]) -> tuple[Array, Array, Array]:
    """Welch t, df and mean difference per column for each labelling (rows of ``in_a``).

    ``values`` is subjects x measures; ``in_a`` is labellings x subjects.
    """
    weight_a = in_a.astype(np.float64)
    weight_b = 1.0 - weight_a
    n_a, n_b = weight_a.sum(axis=1)[:, None], weight_b.sum(axis=1)[:, None]
    sum_a, sum_b = weight_a @ values, weight_b @ values
    sq_a, sq_b = weight_a @ values**2, weight_b @ values**2
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a = np.maximum(sq_a - n_a * mean_a**2, 0.0) / (n_a - 1)
    var_b = np.maximum(sq_b - n_b * mean_b**2, 0.0) / (n_b - 1)
    se2 = var_a / n_a + var_b / n_b
    diff = mean_a - mean_b
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se2 > 0, diff / np.sqrt(se2), 0.0)
        df = se2**2 / ((var_a / n_a) ** 2 / (n_a - 1) + (var_b / n_b) ** 2 / (n_b - 1))
    return t, np.nan_to_num(df, nan=float(n_a[0, 0] + n_b[0, 0] - 2)), diff


@fill_doc
def two_sample_permutation_test(
    values: npt.NDArray[np.floating[Any]],
    in_group_a: npt.ArrayLike,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> dict[str, Array]:
    """Compare two independent groups on one or more measures by permuting labels.

    Parameters
    ----------
    values : numpy.ndarray
        Subjects x measures (a 1D array is one measure); one value per subject.
    in_group_a : array_like of bool
        True for subjects of group A; the estimate is ``mean(A) - mean(B)``.
    %(n_permutations)s
        They are relabellings. When the number of distinct labellings is not
        larger, every one is enumerated instead and the p-values are exact.
    %(seed)s

    Returns
    -------
    dict of numpy.ndarray
        Per measure: ``estimate`` (mean difference), ``statistic`` (Welch t),
        ``df`` (Welch-Satterthwaite), ``p_parametric`` (two-sided Welch t test),
        ``p_uncorrected`` (two-sided permutation, ``(count + 1) / (B + 1)`` for
        random relabellings), ``p_fwer`` (max-|t| over measures) and
        ``effect_size_g`` (Hedges' g, pooled SD); and ``n_permutations`` and
        ``exact`` as length-1 arrays.

    Raises
    ------
    InputError
        If a group has fewer than two subjects, values are not finite, or the
        shapes disagree.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    labels = np.asarray(in_group_a, dtype=bool)
    if labels.shape != (y.shape[0],):
        raise InputError(f"in_group_a has {labels.size} labels but values has {y.shape[0]} rows")
    n, n_a = labels.size, int(labels.sum())
    if min(n_a, n - n_a) < 2:
        raise InputError(f"each group needs at least 2 subjects; got {n_a} and {n - n_a}")
    if not np.isfinite(y).all():
        raise InputError("values contain non-finite numbers")
    if n_permutations < 1:
        raise InputError(f"n_permutations must be positive, got {n_permutations}")
    total = math.comb(n, n_a)
    exact = total <= n_permutations
    if exact:
        perms = np.zeros((total, n), dtype=bool)
        for row, chosen in enumerate(combinations(range(n), n_a)):
            perms[row, list(chosen)] = True
    else:
        rng = np.random.default_rng(seed)
        order = np.argsort(rng.random((n_permutations, n)), axis=1)[:, :n_a]
        perms = np.zeros((n_permutations, n), dtype=bool)
        np.put_along_axis(perms, order, True, axis=1)
    t_obs, df, diff = (a[0] for a in _welch(y, labels[None]))
    t_perm, _, _ = _welch(y, perms)
    tol = _TIE_RTOL * np.maximum(np.abs(t_obs), 1.0)
    count = (np.abs(t_perm) >= np.abs(t_obs) - tol).sum(axis=0)
    max_t = np.abs(t_perm).max(axis=1)
    count_max = (max_t[:, None] >= np.abs(t_obs) - tol).sum(axis=0)
    if exact:
        p_unc, p_fwer = count / total, count_max / total
    else:
        p_unc = (count + 1) / (n_permutations + 1)
        p_fwer = (count_max + 1) / (n_permutations + 1)
    a, b = y[labels], y[~labels]
    pooled = np.sqrt(
        ((n_a - 1) * a.var(axis=0, ddof=1) + (n - n_a - 1) * b.var(axis=0, ddof=1)) / (n - 2)
    )
    correction = 1.0 - 3.0 / (4.0 * (n - 2) - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(pooled > 0, diff / pooled * correction, 0.0)
    return {
        "estimate": diff,
        "statistic": t_obs,
        "df": df,
        "p_parametric": 2 * t_sf(np.abs(t_obs), df),
        "p_uncorrected": p_unc.astype(np.float64),
        "p_fwer": p_fwer.astype(np.float64),
        "effect_size_g": g,
        "n_permutations": np.array([float(total if exact else n_permutations)]),
        "exact": np.array([1.0 if exact else 0.0]),
    }
