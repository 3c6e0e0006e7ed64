"""Explain a regional effect map by receptor maps (Hansen et al. 2022).

Two analyses of one observed map (one value per region, e.g. a drug's change
in connectivity strength) against :class:`ReceptorMaps`:

* :func:`receptor_correlations`: Pearson and Spearman correlation with each
  map, a parametric p and, given surrogate maps of the observed map that keep
  its spatial autocorrelation, a spatial-null p.
* :func:`dominance_analysis`: the multiple linear regression of the observed
  map on all maps and each map's total dominance (Budescu 1993; Azen &
  Budescu 2003), from the R^2 of every subset of predictors.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from dmnpharm.exceptions import InputError
from dmnpharm.predict._receptors import ReceptorMaps

__all__ = [
    "MAX_DOMINANCE_PREDICTORS",
    "DominanceResult",
    "adjusted_r2_null",
    "dominance_analysis",
    "receptor_correlations",
]

#: Dominance analysis keeps the R^2 of all 2**p subsets; 2**24 floats is 128 MiB.
MAX_DOMINANCE_PREDICTORS = 24

FloatArray = npt.NDArray[np.float64]


def _observed(observed: npt.ArrayLike | pd.Series, maps: ReceptorMaps) -> FloatArray:
    """Return the observed map as floats in the maps' region order."""
    if isinstance(observed, pd.Series):
        index = [str(i) for i in observed.index]
        known = set(index)
        absent = [r for r in maps.regions if r not in known]
        if absent:
            raise InputError(
                f"the observed map has no value for {len(absent)} map region(s): "
                f"{', '.join(map(repr, absent[:10]))}"
            )
        observed = pd.Series(observed.to_numpy(), index=index).loc[list(maps.regions)]
    y = np.asarray(observed, dtype=np.float64)
    if y.shape != (len(maps.regions),):
        raise InputError(
            f"the observed map has shape {y.shape}, expected ({len(maps.regions)},): one "
            "value per region of the receptor maps (see align_regions)"
        )
    if not np.all(np.isfinite(y)):
        raise InputError("the observed map has missing or infinite values")
    if not np.ptp(y) > 0:
        raise InputError("the observed map is constant: nothing to explain")
    return y


def _standardise(a: FloatArray, axis: int) -> FloatArray:
    """Centre and scale to unit norm / sqrt(n) (so z.T @ z / n is a correlation)."""
    centred = a - a.mean(axis=axis, keepdims=True)
    sd = centred.std(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(centred / sd, dtype=np.float64)


def _nulls(nulls: npt.ArrayLike, n_regions: int) -> FloatArray:
    array = np.asarray(nulls, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != n_regions or array.shape[0] < 1:
        raise InputError(
            f"nulls has shape {array.shape}, expected (n_null, {n_regions}): one surrogate "
            "of the observed map per row"
        )
    if not np.all(np.isfinite(array)):
        raise InputError("nulls has missing or infinite values")
    return array


def receptor_correlations(
    observed: npt.ArrayLike | pd.Series,
    maps: ReceptorMaps,
    *,
    nulls: npt.ArrayLike | None = None,
    null_method: str = "",
) -> pd.DataFrame:
    """Correlate an observed regional map with each receptor map.

    Parameters
    ----------
    observed : array-like or pandas.Series
        One value per region of ``maps`` (a Series is aligned by its index).
    maps : ReceptorMaps
        The receptor maps (see :func:`align_regions`).
    nulls : array-like or None
        Surrogate maps of ``observed``, shape (n_null, regions), e.g.
        variogram-matched or spin nulls. The spatial p of a target is the
        two-sided ``(#{|r_null| >= |r|} + 1) / (n_null + 1)`` of the Pearson r.
    null_method : str
        What the surrogates are (recorded in the table; "" reads as
        ``"user-supplied"`` when ``nulls`` is given).

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target``, ``r_pearson``, ``r_spearman``,
        ``p_parametric`` (Pearson's t test, n - 2 degrees of freedom),
        ``p_spatial`` (NaN without nulls), ``null_method`` ("none" without
        nulls) and ``n_null``.

    Raises
    ------
    InputError
        If ``observed`` or ``nulls`` do not have one finite value per region,
        or ``observed`` is constant.
    """
    y = _observed(observed, maps)
    n = y.size
    x = _standardise(maps.values, axis=0)
    r = x.T @ _standardise(y, axis=0) / n
    ranks_x = _standardise(stats.rankdata(maps.values, axis=0), axis=0)
    rho = ranks_x.T @ _standardise(stats.rankdata(y), axis=0) / n
    r = np.clip(r, -1.0, 1.0)
    with np.errstate(divide="ignore"):
        t = r * np.sqrt((n - 2) / np.maximum(1.0 - r**2, 0.0))
    p_parametric = 2.0 * stats.t.sf(np.abs(t), n - 2)
    if nulls is None:
        p_spatial = np.full(r.shape, np.nan)
        method, n_null = "none", 0
    else:
        null_maps = _nulls(nulls, n)
        r_null = _standardise(null_maps, axis=1) @ x / n  # n_null x targets
        # A tolerance so that a null equal to the observed map counts as "as extreme".
        extreme = np.abs(r_null) >= np.abs(r) - 1e-12
        n_null = null_maps.shape[0]
        p_spatial = (extreme.sum(axis=0) + 1.0) / (n_null + 1.0)
        method = null_method or "user-supplied"
    return pd.DataFrame(
        {
            "target": list(maps.targets),
            "r_pearson": r,
            "r_spearman": rho,
            "p_parametric": p_parametric,
            "p_spatial": p_spatial,
            "null_method": method,
            "n_null": n_null,
        }
    )


@dataclass(frozen=True, eq=False)
class DominanceResult:
    """The multiple regression of an observed map on receptor maps, with dominance.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per target: ``target``, ``total_dominance`` (the mean R^2
        increment it adds, over subset sizes; they sum to ``r2``) and
        ``relative_dominance`` (``total_dominance / r2``).
    r2 : float
        R^2 of the full model (all targets and an intercept).
    r2_adjusted : float
        Adjusted R^2, ``1 - (1 - r2) (n - 1) / (n - p - 1)``.
    n_regions : int
        Regions (observations) n.
    n_predictors : int
        Targets (predictors) p.
    """

    table: pd.DataFrame
    r2: float
    r2_adjusted: float
    n_regions: int
    n_predictors: int


def _gram(y: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """Return X'X, X'y and y'y of the centred data (an intercept is in every model)."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    return xc.T @ xc, xc.T @ yc, float(yc @ yc)


def _solve(gram: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve a stack of small systems; a singular one is solved by pseudo-inverse."""
    try:
        return np.asarray(np.linalg.solve(gram, rhs[..., None])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.einsum("...ij,...j->...i", np.linalg.pinv(gram), rhs))


def subset_r2(gram: FloatArray, xty: FloatArray, yty: float) -> FloatArray:
    """Return the R^2 of every subset of predictors, indexed by bit mask.

    Parameters
    ----------
    gram : numpy.ndarray
        p x p cross-products of the centred predictors.
    xty : numpy.ndarray
        Length-p cross-products of the centred predictors with the centred outcome.
    yty : float
        Sum of squares of the centred outcome.

    Returns
    -------
    numpy.ndarray
        Length ``2**p``; entry ``m`` is the R^2 of the model with predictor
        ``j`` for each set bit ``j`` of ``m`` (entry 0, no predictor, is 0).
    """
    p = xty.size
    r2 = np.zeros(2**p)
    for k in range(1, p + 1):
        # All size-k subsets at once: batched k x k solves of the Gram sub-matrices.
        idx = np.array(list(itertools.combinations(range(p), k)), dtype=np.intp)
        for chunk in np.array_split(idx, max(1, idx.shape[0] // 20000)):
            sub_gram = gram[chunk[:, :, None], chunk[:, None, :]]
            sub_xty = xty[chunk]
            beta = _solve(sub_gram, sub_xty)
            masks = (1 << chunk).sum(axis=1)
            r2[masks] = np.einsum("ij,ij->i", beta, sub_xty) / yty
    return r2


def total_dominance(r2: FloatArray, p: int) -> FloatArray:
    """Return each predictor's total dominance from the R^2 of every subset.

    Parameters
    ----------
    r2 : numpy.ndarray
        Length ``2**p``, from :func:`subset_r2`.
    p : int
        Number of predictors.

    Returns
    -------
    numpy.ndarray
        Length p: for predictor j, the mean over subset sizes k = 0..p-1 of the
        mean R^2 increment of adding j to the size-k subsets of the others.
    """
    masks = np.arange(2**p, dtype=np.int64)
    sizes = np.zeros(masks.size, dtype=np.int64)
    for j in range(p):
        sizes += (masks >> j) & 1
    out = np.empty(p)
    for j in range(p):
        bit = 1 << j
        without = masks[(masks & bit) == 0]
        gain = r2[without | bit] - r2[without]
        k = sizes[without]
        per_size = np.bincount(k, weights=gain, minlength=p) / np.bincount(k, minlength=p)
        out[j] = per_size.mean()
    return out


def _maps_matrix(maps: ReceptorMaps, n_regions: int) -> FloatArray:
    p = len(maps.targets)
    if p > MAX_DOMINANCE_PREDICTORS:
        raise InputError(
            f"dominance analysis over {p} targets needs the R^2 of 2**{p} subsets; at most "
            f"{MAX_DOMINANCE_PREDICTORS} targets are supported (select fewer maps)"
        )
    if n_regions <= p + 1:
        raise InputError(
            f"{n_regions} regions for {p} receptor maps: the regression needs more regions "
            "than maps + 1"
        )
    return np.asarray(maps.values, dtype=np.float64)


def _adjusted(r2: FloatArray | float, n: int, p: int) -> FloatArray:
    return np.asarray(1.0 - (1.0 - np.asarray(r2)) * (n - 1) / (n - p - 1), dtype=np.float64)


def dominance_analysis(observed: npt.ArrayLike | pd.Series, maps: ReceptorMaps) -> DominanceResult:
    """Regress an observed map on all receptor maps and find each map's total dominance.

    As in Hansen et al. (2022): ordinary least squares with an intercept, and
    dominance analysis (Budescu 1993; Azen & Budescu 2003). A target's total
    dominance is the R^2 it adds to a model of the other targets, averaged
    over the models of each size and then over sizes; the totals sum to the
    full model's R^2. The R^2 of all ``2**p`` subsets comes from the Gram
    matrix with batched solves (19 maps: 524,288 subsets, about a second).

    Parameters
    ----------
    observed : array-like or pandas.Series
        One value per region of ``maps`` (a Series is aligned by its index).
    maps : ReceptorMaps
        The predictors, at most :data:`MAX_DOMINANCE_PREDICTORS`.

    Returns
    -------
    DominanceResult
        The per-target table and the full model's R^2 and adjusted R^2.

    Raises
    ------
    InputError
        If ``observed`` does not fit the maps, or there are too many maps or
        too few regions.
    """
    y = _observed(observed, maps)
    x = _maps_matrix(maps, y.size)
    p = x.shape[1]
    r2 = subset_r2(*_gram(y, x))
    dominance = total_dominance(r2, p)
    full = float(r2[-1])
    table = pd.DataFrame(
        {
            "target": list(maps.targets),
            "total_dominance": dominance,
            "relative_dominance": dominance / full if full > 0 else np.nan,
        }
    )
    return DominanceResult(table, full, float(_adjusted(full, y.size, p)), y.size, p)


def adjusted_r2_null(observed_nulls: npt.ArrayLike, maps: ReceptorMaps) -> FloatArray:
    """Return the full model's adjusted R^2 for each surrogate of the observed map.

    Compare :attr:`DominanceResult.r2_adjusted` with these for a spatial p of
    the model fit: ``(#{null >= observed} + 1) / (n_null + 1)``.

    Parameters
    ----------
    observed_nulls : array-like
        Surrogate maps, shape (n_null, regions).
    maps : ReceptorMaps
        The predictors.

    Returns
    -------
    numpy.ndarray
        Length n_null adjusted R^2 values.

    Raises
    ------
    InputError
        If the nulls do not have one finite value per region, or there are too
        few regions.
    """
    n = len(maps.regions)
    nulls = _nulls(observed_nulls, n)
    x = _maps_matrix(maps, n)
    xc = x - x.mean(axis=0)
    yc = nulls - nulls.mean(axis=1, keepdims=True)
    xty = xc.T @ yc.T  # p x n_null
    beta = np.linalg.lstsq(xc.T @ xc, xty, rcond=None)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.einsum("ij,ij->j", beta, xty) / np.einsum("ij,ij->i", yc, yc)
    return _adjusted(r2, n, x.shape[1])
