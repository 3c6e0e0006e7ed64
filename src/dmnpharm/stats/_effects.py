"""Effect sizes with percentile-bootstrap confidence intervals over subjects.

A bootstrap resample of subjects is a vector of counts (how often each subject
was drawn), so a resample's mean, sum of squares or cross-products are weighted
sums: for a chunk of resamples they are one matrix product of the counts with
the (column-centred) data, computed for every measure at once. Measures are
processed in chunks so that the resampled effect sizes held at one time stay
within a fixed number of bytes, and the resamples are drawn again, from the
same seed, for each chunk of measures: every measure sees the same resamples,
exactly those of a loop that resamples ``values[pick]`` one draw at a time.
Chunks run on worker threads (:func:`~dmnpharm.stats._tiles.run_tiles`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import CONFIDENCE, N_BOOTSTRAP
from dmnpharm.stats._tiles import run_tiles

__all__ = ["bootstrap_ci", "cohens_dz", "hedges_g", "pearson_r"]

Array = npt.NDArray[np.float64]

#: Bootstrap draws (resamples x measures) held at once, in bytes.
_DRAW_BYTES = 8 * 2**20
#: Subject indices drawn per call of the generator (bounds the pick matrices).
_PICK_ENTRIES = 2**22
#: A resample whose variance is below this share of its sum of squares about the
#: sample mean counts as constant (its effect size is NaN, as in the direct loop).
_DEGENERATE = 1e-12


def cohens_dz(d: Array) -> Array:
    """Return the mean over the SD of paired differences per column (subjects x measures).

    Parameters
    ----------
    d : numpy.ndarray
        ``subjects x measures`` (or ``... x subjects x measures``) differences.

    Returns
    -------
    numpy.ndarray
        d_z per measure; NaN where the SD is 0.
    """
    sd = d.std(axis=-2, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(sd > 0, d.mean(axis=-2) / sd, np.nan)
    return out


def hedges_g(a: Array, b: Array) -> Array:
    """Return Hedges' g (pooled SD, small-sample corrected) of ``a`` minus ``b`` per column.

    Parameters
    ----------
    a, b : numpy.ndarray
        ``subjects x measures`` (or with leading batch axes) of the two groups.

    Returns
    -------
    numpy.ndarray
        g per measure; NaN where the pooled SD is 0.
    """
    na, nb = a.shape[-2], b.shape[-2]
    df = na + nb - 2
    pooled = np.sqrt(((na - 1) * a.var(axis=-2, ddof=1) + (nb - 1) * b.var(axis=-2, ddof=1)) / df)
    correction = 1.0 - 3.0 / (4.0 * df - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(
            pooled > 0, (a.mean(axis=-2) - b.mean(axis=-2)) / pooled * correction, np.nan
        )
    return out


def pearson_r(x: Array, y: Array) -> Array:
    """Return the Pearson correlation of ``x`` (subjects) with each column of ``y``.

    Parameters
    ----------
    x : numpy.ndarray
        ``subjects`` (or ``batch x subjects``) values.
    y : numpy.ndarray
        ``subjects x measures`` (or ``batch x subjects x measures``).

    Returns
    -------
    numpy.ndarray
        r per measure.
    """
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-2, keepdims=True)
    num = np.einsum("...n,...nk->...k", xc, yc)
    den = np.sqrt(np.einsum("...n,...n->...", xc, xc))[..., None] * np.sqrt(
        np.einsum("...nk,...nk->...k", yc, yc)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(den > 0, num / den, np.nan)
    return out


def _resamples(
    kind: str, n: int, n_bootstrap: int, seed: int, groups: npt.NDArray[np.bool_] | None
) -> Iterator[list[npt.NDArray[np.int64]]]:
    """Yield chunks of resamples as subject indices (one array per resampled group).

    ``dz`` and ``r`` resample all ``n`` subjects; ``g`` resamples within each
    group (group A's picks, then group B's, per chunk). The chunking depends
    only on the sizes, so the same seed always gives the same resamples.
    """
    rng = np.random.default_rng(seed)
    rows = max(1, _PICK_ENTRIES // max(n, 1))
    for start in range(0, n_bootstrap, rows):
        size = min(rows, n_bootstrap - start)
        if kind == "g":
            assert groups is not None
            ia, ib = np.flatnonzero(groups), np.flatnonzero(~groups)
            yield [
                ia[rng.integers(0, ia.size, (size, ia.size))],
                ib[rng.integers(0, ib.size, (size, ib.size))],
            ]
        else:
            yield [rng.integers(0, n, (size, n))]


def _counts(pick: npt.NDArray[np.int64], n: int) -> Array:
    """Resamples x subjects: how often each subject was drawn in each resample."""
    rows = pick.shape[0]
    flat = (pick + n * np.arange(rows)[:, None]).ravel()
    counts: Array = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
    return counts


def _moments(w: Array, centred: Array) -> tuple[Array, Array]:
    """Resampled mean offset and sum of squared deviations about the resample mean.

    ``w`` (resamples x subjects) counts; ``centred`` (subjects x measures) data
    minus their column means. Returns the offset of each resample's mean from
    the sample mean and its centred sum of squares (resamples x measures).
    """
    size = w.sum(axis=1, keepdims=True)
    offset = w @ centred
    offset /= size
    squares = w @ (centred * centred)
    ss = offset * offset
    ss *= size
    np.subtract(squares, ss, out=ss)
    # a constant resample leaves only rounding error here: call it zero
    squares *= _DEGENERATE
    ss[ss <= squares] = 0.0
    return offset, ss


def _dz_draws(w: Array, centred: Array, mean: Array, n: int) -> Array:
    offset, ss = _moments(w, centred)
    offset += mean
    ss *= 1.0 / (n - 1)
    np.sqrt(ss, out=ss)
    out: Array = np.full_like(offset, np.nan)
    np.divide(offset, ss, out=out, where=ss > 0)
    return out


def _g_draws(
    wa: Array, wb: Array, ca: Array, cb: Array, mean_diff: Array, na: int, nb: int
) -> Array:
    off_a, ss_a = _moments(wa, ca)
    off_b, ss_b = _moments(wb, cb)
    df = na + nb - 2
    pooled = np.sqrt((ss_a + ss_b) / df)
    correction = 1.0 - 3.0 / (4.0 * df - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(
            pooled > 0, (mean_diff + off_a - off_b) / pooled * correction, np.nan
        )
    return out


def _r_draws(w: Array, xc: Array, yc: Array) -> Array:
    off_x, sxx = _moments(w, xc[:, None])
    off_y, syy = _moments(w, yc)
    size = w.sum(axis=1, keepdims=True)
    sxy = w @ (xc[:, None] * yc) - size * off_x * off_y
    den = np.sqrt(sxx * syy)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(den > 0, sxy / den, np.nan)
    return out


def _percentiles(draws: Array, q: tuple[float, float]) -> tuple[Array, Array]:
    """Per row of ``draws`` (measures x resamples), two percentiles ignoring NaN.

    As ``numpy.nanpercentile`` (linear interpolation between order statistics),
    from a sort of each row (NaN last), which NumPy vectorises and is about 4x
    faster than the partition behind ``percentile``. Rows without a defined
    value give NaN.
    """
    ordered = np.sort(draws, axis=1)
    valid = draws.shape[1] - np.isnan(draws).sum(axis=1)
    rows = np.arange(draws.shape[0])
    bounds = []
    for share in q:
        position = share / 100 * np.maximum(valid - 1, 0)
        below = np.floor(position).astype(np.intp)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        low_value, high_value = ordered[rows, below], ordered[rows, above]
        value = low_value + (high_value - low_value) * (position - below)
        bounds.append(np.where(valid > 0, value, np.nan))
    return bounds[0], bounds[1]


def _check_bootstrap(
    kind: str,
    values: Array,
    groups: npt.NDArray[np.bool_] | None,
    covariate: Array | None,
    n_bootstrap: int,
    confidence: float,
) -> None:
    if kind not in ("dz", "g", "r"):
        raise InputError(f"kind must be 'dz', 'g' or 'r'; got {kind!r}")
    if values.ndim != 2:
        raise InputError(f"values must be subjects x measures; got shape {values.shape}")
    n = values.shape[0]
    if kind == "g" and (groups is None or groups.shape != (n,)):
        raise InputError(f"kind 'g' needs groups: one True/False per subject ({n})")
    if kind == "g" and groups is not None and min(groups.sum(), (~groups).sum()) < 2:
        raise InputError("kind 'g' needs at least 2 subjects in each group")
    if kind == "r" and (covariate is None or np.shape(covariate) != (n,)):
        raise InputError(f"kind 'r' needs a covariate: one value per subject ({n})")
    if n < 2:
        raise InputError(f"a bootstrap interval needs at least 2 subjects, got {n}")
    if n_bootstrap < 1:
        raise InputError(f"n_bootstrap must be positive, got {n_bootstrap}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")


@fill_doc
def bootstrap_ci(
    kind: str,
    values: Array,
    *,
    groups: npt.NDArray[np.bool_] | None = None,
    covariate: Array | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[Array, Array]:
    """Percentile bootstrap interval of an effect size, resampling subjects.

    Every measure is resampled with the same draws of subjects; each draw's
    effect sizes for all measures come from matrix products of the draw's
    subject counts with the data (see the module notes), in chunks of
    measures that bound memory.

    Parameters
    ----------
    kind : str
        ``dz`` (paired differences), ``g`` (two groups, resampled within each
        group) or ``r`` (correlation with ``covariate``).
    values : numpy.ndarray
        ``subjects x measures``.
    groups : numpy.ndarray of bool, optional
        For ``g``: True for group A.
    covariate : numpy.ndarray, optional
        For ``r``: one value per subject.
    %(n_bootstrap)s
    %(confidence)s
    %(seed)s

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds per measure: the ``(1 - confidence) / 2`` and
        ``(1 + confidence) / 2`` percentiles (linear interpolation) of the
        resampled effect sizes, ignoring resamples whose effect size is
        undefined (a resample with zero variance).

    Raises
    ------
    InputError
        Unknown kind, missing ``groups`` or ``covariate``, fewer than 2
        subjects (per group for ``g``), or invalid counts or level.
    """
    values = np.asarray(values, dtype=np.float64)
    _check_bootstrap(kind, values, groups, covariate, n_bootstrap, confidence)
    n, m = values.shape
    tail = (1 - confidence) / 2 * 100
    q = (tail, 100 - tail)
    low, high = np.empty(m), np.empty(m)

    def chunk(c0: int, c1: int) -> Array:
        block = values[:, c0:c1]
        mean = block.mean(axis=0)
        draws = np.empty((block.shape[1], n_bootstrap))
        start = 0
        for picks in _resamples(kind, n, n_bootstrap, seed, groups):
            stop = start + picks[0].shape[0]
            if kind == "g":
                assert groups is not None
                a, b = block[groups], block[~groups]
                ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
                w_a = _counts(np.searchsorted(np.flatnonzero(groups), picks[0]), a.shape[0])
                w_b = _counts(np.searchsorted(np.flatnonzero(~groups), picks[1]), b.shape[0])
                diff = a.mean(axis=0) - b.mean(axis=0)
                part = _g_draws(w_a, w_b, ca, cb, diff, a.shape[0], b.shape[0])
            elif kind == "r":
                assert covariate is not None
                x = np.asarray(covariate, dtype=np.float64)
                part = _r_draws(_counts(picks[0], n), x - x.mean(), block - mean)
            else:
                part = _dz_draws(_counts(picks[0], n), block - mean, mean, n)
            draws[:, start:stop] = part.T
            start = stop
        low[c0:c1], high[c0:c1] = _percentiles(draws, q)
        return np.empty(0)

    # chunks of measures on worker threads, each with single-threaded BLAS
    run_tiles(chunk, m, max(1, _DRAW_BYTES // (8 * n_bootstrap)), 0)
    return low, high
