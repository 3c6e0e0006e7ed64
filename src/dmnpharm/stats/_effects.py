"""Effect sizes with percentile-bootstrap confidence intervals over subjects."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.stats._defaults import CONFIDENCE, N_BOOTSTRAP

__all__ = ["bootstrap_ci", "cohens_dz", "hedges_g", "pearson_r"]

Array = npt.NDArray[np.float64]

_BATCH_BYTES = 64 * 2**20


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
        Lower and upper bounds per measure (NaN-resistant percentiles).
    """
    rng = np.random.default_rng(seed)
    n, m = values.shape
    batch = max(1, _BATCH_BYTES // (8 * n * m))
    draws = []
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        if kind == "g" and groups is not None:
            ia, ib = np.flatnonzero(groups), np.flatnonzero(~groups)
            pick_a = ia[rng.integers(0, ia.size, (size, ia.size))]
            pick_b = ib[rng.integers(0, ib.size, (size, ib.size))]
            draws.append(hedges_g(values[pick_a], values[pick_b]))
            continue
        pick = rng.integers(0, n, (size, n))
        if kind == "r" and covariate is not None:
            draws.append(pearson_r(covariate[pick], values[pick]))
        else:
            draws.append(cohens_dz(values[pick]))
    stacked = np.concatenate(draws, axis=0)
    tail = (1 - confidence) / 2 * 100
    with np.errstate(invalid="ignore"):
        low, high = np.nanpercentile(stacked, [tail, 100 - tail], axis=0)
    return low, high
