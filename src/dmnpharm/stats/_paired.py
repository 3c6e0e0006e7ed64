"""Paired (within-subject) tests with sign-flip permutation inference.

Under the null hypothesis of no condition effect, and with errors symmetric about
zero, each subject's paired difference is as likely to have either sign, so the
subjects are the exchangeability blocks and flipping signs generates the null.
The sum of squares of the differences does not change under a flip, so a flipped
t statistic needs only the flipped sum: one +/-1 matrix times the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import closest_match, fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._backend import array_module, flip_counts
from dmnpharm.stats._defaults import CONFIDENCE, N_PERMUTATIONS
from dmnpharm.stats._dist import fdr_bh, t_ppf, t_sf
from dmnpharm.stats._glm import _count_reaching
from dmnpharm.stats._null import NULL_MEASURE_LIMIT
from dmnpharm.stats._tiles import run_tiles, tile_workers

__all__ = ["RESULT_COLUMNS", "paired_differences", "paired_test", "sign_flip_test"]

#: Columns of a group result table, in order. Other tools read these names.
RESULT_COLUMNS: tuple[str, ...] = (
    "measure",
    "contrast",
    "estimate",
    "ci_low",
    "ci_high",
    "statistic",
    "df",
    "p_parametric",
    "p_uncorrected",
    "p_fwer",
    "p_fdr",
    "n",
    "effect_size_dz",
    "test",
    "n_permutations",
    "exchangeability",
)

# Flipped sums are computed in tiles of at most this many bytes and columns.
_TILE_BYTES = 4 * 2**20
_TILE_COLUMNS = 8192
# Flipped statistics within this relative distance of the observed one count as
# ties (the identity flip must count as "as extreme" despite rounding).
_TIE_RTOL = 1e-10


def paired_differences(
    table: pd.DataFrame,
    condition_a: str,
    condition_b: str,
    condition_column: str = "condition",
) -> pd.DataFrame:
    """Return per-subject differences ``a - b`` of every measure.

    Runs of the same subject and condition are averaged first, so a subject
    counts once whatever its number of runs.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics table with ``participant_id``, ``measure``, ``value`` and
        ``condition_column``.
    condition_a, condition_b : str
        The two conditions compared (e.g. ``"drug"``, ``"placebo"``).
    condition_column : str
        Column holding the condition.

    Returns
    -------
    pandas.DataFrame
        Subjects (index, sorted) x measures (columns, in first-seen order).

    Raises
    ------
    InputError
        A condition is absent, or a subject lacks one of the two conditions.
    """
    for column in ("participant_id", "measure", "value", condition_column):
        if column not in table.columns:
            raise InputError(f"metrics table has no '{column}' column")
    # Distinct values first: iterating an Arrow-backed column in Python costs ~1 us a row.
    present = sorted(str(value) for value in table[condition_column].astype(str).unique())
    for cond in (condition_a, condition_b):
        if cond not in present:
            hint = closest_match(cond, present)
            fix = f"; did you mean '{hint}'?" if hint else ""
            raise InputError(
                f"condition '{cond}' is not in the design (conditions: {', '.join(present)}){fix}"
            )
    if condition_a == condition_b:
        raise InputError(f"the contrast compares '{condition_a}' with itself")
    subset = table[table[condition_column].isin([condition_a, condition_b])]
    means = subset.pivot_table(
        index="participant_id",
        columns=[condition_column, "measure"],
        values="value",
        aggfunc="mean",
        sort=True,
    )
    conditions = subset.groupby("participant_id")[condition_column].unique()
    incomplete = [
        f"{pid} has only {', '.join(sorted(str(c) for c in conds))}"
        for pid, conds in conditions.items()
        if len(conds) < 2
    ]
    if incomplete:
        raise InputError(
            "a paired test needs every subject under both "
            f"'{condition_a}' and '{condition_b}': {'; '.join(incomplete)}. "
            "Add the missing sessions or remove these subjects from participants.tsv"
        )
    measures = [str(measure) for measure in subset["measure"].unique()]
    return pd.DataFrame(
        means[condition_a][measures].to_numpy() - means[condition_b][measures].to_numpy(),
        index=means.index,
        columns=measures,
    )


def _flip_matrix(
    n: int, n_permutations: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], bool]:
    if n < 63 and 2**n <= n_permutations:
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        bits = (codes >> np.arange(n, dtype=np.int64)) & 1
        return (1.0 - 2.0 * bits).astype(np.float64), True
    signs = rng.integers(0, 2, size=(n_permutations, n), dtype=np.int8)
    return (1.0 - 2.0 * signs).astype(np.float64), False


def _t_from_sums(
    sums: npt.NDArray[np.float64], sumsq: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.float64]:
    mean = sums / n
    var = np.maximum(sumsq - n * mean**2, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / np.sqrt(var / n)
    # zero variance: t is 0 when the mean is 0 too, else +/- infinity (a constant shift)
    return np.where(var > 0, t, np.copysign(np.where(mean == 0, 0.0, np.inf), mean))


def _t_from_scaled(scaled_sums: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """Return flipped t from the scaled sum ``u = S / sqrt(n SS)``: ``u sqrt(n-1) / sqrt(1-u^2)``.

    The sum of squares ``SS`` does not change under flips, so ``t`` is this one
    increasing function of ``u`` for every measure; ``|u| = 1`` (all differences
    of one sign and size) gives an infinite t, as :func:`_t_from_sums` does.
    """
    u = np.asarray(scaled_sums, dtype=np.float64)
    rest = 1.0 - u * u
    with np.errstate(divide="ignore", invalid="ignore"):
        t = u * np.sqrt(n - 1) / np.sqrt(rest)
    out: npt.NDArray[np.float64] = np.where(rest > 0, t, np.copysign(np.inf, u))
    return out


def _tiled_counts(
    flips: npt.NDArray[np.float64],
    scaled: npt.NDArray[np.float64],
    threshold: npt.NDArray[np.float64],
    keep: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """CPU reference of :func:`dmnpharm.stats._backend.flip_counts`, in cache-sized tiles.

    Tiles of flips x measures stay in cache between the product, the absolute
    value, the count and the row maximum (about 2x faster than whole-row batches
    on 44,850 measures); column tiles run on worker threads with one BLAS
    thread each (:func:`~dmnpharm.stats._tiles.run_tiles`). ``keep`` (flips x
    measures), when given, receives the signed flipped sums exactly as they
    were counted.
    """
    count = np.zeros(scaled.shape[1], dtype=np.int64)
    cols = min(scaled.shape[1], _TILE_COLUMNS, -(-scaled.shape[1] // tile_workers()))
    rows = max(1, _TILE_BYTES // (8 * max(cols, 1)))

    def tile(c0: int, c1: int) -> npt.NDArray[np.float64]:
        block = np.ascontiguousarray(scaled[:, c0:c1])
        block_threshold = threshold[c0:c1]
        block_count = count[c0:c1]
        row_max = np.zeros(flips.shape[0])
        for start in range(0, flips.shape[0], rows):
            null = flips[start : start + rows] @ block
            if keep is not None:
                keep[start : start + rows, c0:c1] = null
            np.abs(null, out=null)
            block_count += (null >= block_threshold).sum(axis=0)
            row_max[start : start + rows] = null.max(axis=1)
        return row_max

    row_max = run_tiles(tile, scaled.shape[1], cols, flips.shape[0])
    return count, np.maximum(row_max, 0.0)


@fill_doc
def sign_flip_test(
    differences: npt.NDArray[np.floating[Any]],
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    confidence: float = CONFIDENCE,
    backend: str = "numpy",
) -> dict[str, npt.NDArray[np.float64]]:
    """One-sample t test of paired differences with sign-flip permutation p-values.

    Parameters
    ----------
    differences : numpy.ndarray
        Subjects x measures (a 1D array is one measure).
    %(n_permutations)s
        They are sign flips. When ``2**n_subjects`` is not larger, every flip
        is enumerated instead and the p-values are exact.
    %(seed)s
    %(confidence)s
        It sets the parametric interval of the mean difference.
    backend : str
        ``numpy`` (default, the reference) or ``cupy`` to compute the flip null
        on an NVIDIA GPU; both use the same flips and give the same p-values.

    Returns
    -------
    dict of numpy.ndarray
        Per measure: ``estimate`` (mean difference), ``ci_low``, ``ci_high``,
        ``statistic`` (t), ``df``, ``p_parametric`` (two-sided, Student t),
        ``p_uncorrected`` (two-sided permutation), ``p_fwer`` (max-|t| over
        measures), ``effect_size_dz`` (mean / sd); and ``n_permutations`` and
        ``exact`` (1.0 when flips were enumerated) as length-1 arrays. The
        permutation null in t: ``null_statistic`` (flips x measures, signed t
        of each flip; flips x 0 when there are more than
        :data:`~dmnpharm.stats.NULL_MEASURE_LIMIT` measures) and
        ``null_maximum`` (per flip, the largest |t| over measures). A flip
        counts as extreme when its |t| reaches ``|t| * (1 - 1e-10)``; the
        p-values are ``(count + 1) / (flips + 1)``, or ``count / flips`` when
        every flip (the identity included) was enumerated.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n, _ = d.shape
    if n < 2:
        raise InputError(f"a paired test needs at least 2 subjects, got {n}")
    if not np.isfinite(d).all():
        raise InputError("paired differences contain non-finite values")
    if n_permutations < 1:
        raise InputError(f"n_permutations must be positive, got {n_permutations}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    sums = d.sum(axis=0)
    sumsq = np.einsum("ij,ij->j", d, d)
    t_obs = _t_from_sums(sums, sumsq, n)
    mean = sums / n
    sd = d.std(axis=0, ddof=1)
    se = sd / np.sqrt(n)
    crit = t_ppf(0.5 + confidence / 2, n - 1)
    flips, exact = _flip_matrix(n, n_permutations, np.random.default_rng(seed))
    # For one measure, |t| of a flip grows with |sum of flipped differences| because the
    # sum of squares is fixed; dividing each column by sqrt(n * SS) makes the flipped sums
    # monotone in |t| on one scale for every measure, so the max-|t| null needs no t at all.
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sumsq > 0, 1.0 / np.sqrt(n * sumsq), 0.0)
    scaled = d * scale
    threshold = np.abs(sums * scale) * (1 - _TIE_RTOL)
    threshold[sumsq == 0] = np.inf  # all-zero differences: t = 0, p = 1 (set below)
    keep = np.empty((flips.shape[0], d.shape[1])) if d.shape[1] <= NULL_MEASURE_LIMIT else None
    if backend == "numpy":
        count, row_max = _tiled_counts(flips, scaled, threshold, keep)
    else:
        count, row_max = flip_counts(array_module(backend), flips, scaled, threshold)
        if keep is not None:
            keep[:] = flips @ scaled
    # FWER: how many flips' maximum reaches each measure's threshold
    count_max = _count_reaching(row_max, threshold).astype(float)
    n_flips = flips.shape[0]
    if exact:
        p_unc, p_fwer = count / n_flips, count_max / n_flips
    else:
        p_unc, p_fwer = (count + 1) / (n_flips + 1), (count_max + 1) / (n_flips + 1)
    p_unc[sumsq == 0] = 1.0
    p_fwer[sumsq == 0] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        dz = np.where(sd > 0, mean / sd, np.nan)
    return {
        "estimate": mean,
        "ci_low": mean - crit * se,
        "ci_high": mean + crit * se,
        "statistic": t_obs,
        "df": np.full_like(mean, n - 1),
        "p_parametric": 2 * t_sf(np.abs(t_obs), n - 1),
        "p_uncorrected": p_unc,
        "p_fwer": p_fwer,
        "effect_size_dz": dz,
        "n_permutations": np.array([float(n_flips)]),
        "exact": np.array([1.0 if exact else 0.0]),
        "null_statistic": (
            _t_from_scaled(keep, n) if keep is not None else np.empty((flips.shape[0], 0))
        ),
        "null_maximum": _t_from_scaled(row_max, n),
    }


@fill_doc
def paired_test(
    table: pd.DataFrame,
    contrast: Sequence[str],
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    condition_column: str = "condition",
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Test a within-subject contrast of two conditions for every measure.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics table (see :func:`paired_differences`).
    contrast : sequence of two str
        ``(a, b)``: the estimate is the mean over subjects of ``a - b``.
    %(n_permutations)s
        They are sign flips (exact enumeration when there are fewer).
    %(seed)s
    condition_column : str
        Column holding the condition.
    %(confidence)s

    Returns
    -------
    pandas.DataFrame
        One row per measure with :data:`RESULT_COLUMNS`. ``p_fwer`` controls
        the family-wise error over all measures in the table (max-|t|);
        ``p_fdr`` is Benjamini-Hochberg over the permutation p-values.
    """
    if len(contrast) != 2:
        raise InputError(f"a paired contrast names two conditions, got {list(contrast)}")
    cond_a, cond_b = str(contrast[0]), str(contrast[1])
    diffs = paired_differences(table, cond_a, cond_b, condition_column)
    res = sign_flip_test(diffs.to_numpy(), n_permutations, seed, confidence)
    n_subjects = diffs.shape[0]
    n_flips = int(res["n_permutations"][0])
    flips = (
        f"all {n_flips} flips (exact)"
        if res["exact"][0]
        else f"{n_flips} random flips, seed {seed}"
    )
    scheme = (
        "sign flips of per-subject paired differences, each subject one exchangeability "
        f"block; {flips}"
    )
    out = pd.DataFrame(
        {
            "measure": list(diffs.columns),
            "contrast": f"{cond_a}-{cond_b}",
            **{k: res[k] for k in ("estimate", "ci_low", "ci_high", "statistic", "df")},
            "p_parametric": res["p_parametric"],
            "p_uncorrected": res["p_uncorrected"],
            "p_fwer": res["p_fwer"],
            "p_fdr": fdr_bh(res["p_uncorrected"]),
            "n": n_subjects,
            "effect_size_dz": res["effect_size_dz"],
            "test": f"paired t, sign-flip permutation ({cond_a} vs {cond_b})",
            "n_permutations": n_flips,
            "exchangeability": scheme,
        }
    )
    return out[list(RESULT_COLUMNS)]
