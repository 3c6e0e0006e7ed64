"""Student t, F and normal tails and BH FDR as ``scipy.stats`` computes them, without importing it.

``from scipy import stats`` costs 0.6-1.8 s on the 2-core development machine
(it imports scipy.spatial, scipy.optimize, scipy.ndimage ...), more than the
rest of a connectome-scale paired analysis but its sign flips. The group
models need five of its functions; each is written here the way
``scipy.stats`` evaluates it (``rv_continuous.sf`` and ``.ppf`` around the
``scipy.special`` function the distribution calls, and the Benjamini-Hochberg
adjustment of ``false_discovery_control``), so the values are the same to the
bit (``tests/stats/test_dist.py`` compares them with ``scipy.stats``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["f_sf", "fdr_bh", "norm_isf", "norm_sf", "t_isf", "t_ppf", "t_sf"]

Array = npt.NDArray[np.float64]


def _floats(values: npt.ArrayLike) -> Array:
    """Return ``values`` as a float64 array (0-d for a scalar)."""
    return np.asarray(values, dtype=np.float64)


def _out(values: Array) -> Any:
    """Return a 0-d result as a NumPy scalar, as ``scipy.stats`` does."""
    return values[()] if values.ndim == 0 else values


def _sf(x: Array, inside: npt.NDArray[Any], low: float, valid: npt.ArrayLike = True) -> Any:
    """``rv_continuous.sf`` around ``inside``, the tail inside the support ``(low, inf)``.

    1 at or below the support, 0 at infinity, NaN for missing statistics or
    invalid parameters (``valid`` False).
    """
    out = np.where((x > low) & (x < np.inf), inside, 0.0)
    out = np.where(x <= low, 1.0, out)
    return _out(np.where(np.isnan(x) | ~np.asarray(valid, dtype=bool), np.nan, out))


def _quantile(
    q: Array, inside: npt.NDArray[Any], at_zero: float, at_one: float, valid: npt.ArrayLike = True
) -> Any:
    """``rv_continuous.ppf``/``.isf`` around ``inside`` (scale 1, location 0)."""
    out = np.where((q > 0) & (q < 1), inside * 1.0 + 0.0, np.nan)
    out = np.where(q == 0, at_zero, np.where(q == 1, at_one, out))
    return _out(np.where(np.asarray(valid, dtype=bool), out, np.nan))


def t_sf(x: npt.ArrayLike, df: npt.ArrayLike) -> Any:
    """Upper tail of Student's t, ``scipy.stats.t.sf(x, df)`` (``df > 0``).

    Parameters
    ----------
    x : array_like
        Statistics.
    df : array_like
        Degrees of freedom (positive), broadcast against ``x``.

    Returns
    -------
    numpy.ndarray or numpy.float64
        ``P(T > x)``.
    """
    x, df = _floats(x), _floats(df)
    return _sf(x, special.stdtr(df, -x), -np.inf, df > 0)


def t_ppf(q: npt.ArrayLike, df: npt.ArrayLike) -> Any:
    """Quantile of Student's t, ``scipy.stats.t.ppf(q, df)`` (``df > 0``).

    Parameters
    ----------
    q : array_like
        Probabilities in [0, 1].
    df : array_like
        Degrees of freedom (positive).

    Returns
    -------
    numpy.ndarray or numpy.float64
        The quantiles (``-inf``/``inf`` at 0/1, NaN outside [0, 1]).
    """
    q, df = _floats(q), _floats(df)
    return _quantile(q, special.stdtrit(df, q), -np.inf, np.inf, df > 0)


def t_isf(q: npt.ArrayLike, df: npt.ArrayLike) -> Any:
    """Inverse upper tail of Student's t, ``scipy.stats.t.isf(q, df)`` (``df > 0``).

    Parameters
    ----------
    q : array_like
        Upper-tail probabilities in [0, 1].
    df : array_like
        Degrees of freedom (positive).

    Returns
    -------
    numpy.ndarray or numpy.float64
        ``x`` with ``P(T > x) = q``.
    """
    q, df = _floats(q), _floats(df)
    return _quantile(q, -special.stdtrit(df, q), np.inf, -np.inf, df > 0)


def f_sf(x: npt.ArrayLike, dfn: npt.ArrayLike, dfd: npt.ArrayLike) -> Any:
    """Upper tail of the F distribution, ``scipy.stats.f.sf(x, dfn, dfd)``.

    Parameters
    ----------
    x : array_like
        Statistics.
    dfn, dfd : array_like
        Numerator and denominator degrees of freedom (positive).

    Returns
    -------
    numpy.ndarray or numpy.float64
        ``P(F > x)`` (1 for ``x <= 0``).
    """
    x, dfn, dfd = _floats(x), _floats(dfn), _floats(dfd)
    return _sf(x, special.fdtrc(dfn, dfd, x), 0.0, (dfn > 0) & (dfd > 0))


def norm_sf(x: npt.ArrayLike) -> Any:
    """Upper tail of the standard normal, ``scipy.stats.norm.sf(x)``.

    Parameters
    ----------
    x : array_like
        Values.

    Returns
    -------
    numpy.ndarray or numpy.float64
        ``P(Z > x)``.
    """
    x = _floats(x)
    return _sf(x, special.ndtr(-x), -np.inf)


def norm_isf(q: npt.ArrayLike) -> Any:
    """Inverse upper tail of the standard normal, ``scipy.stats.norm.isf(q)``.

    Parameters
    ----------
    q : array_like
        Upper-tail probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray or numpy.float64
        ``z`` with ``P(Z > z) = q``.
    """
    q = _floats(q)
    return _quantile(q, -special.ndtri(q), np.inf, -np.inf)


def fdr_bh(p: npt.ArrayLike) -> Array:
    """Benjamini-Hochberg adjusted p-values, ``scipy.stats.false_discovery_control(p)``.

    Parameters
    ----------
    p : array_like
        One-dimensional p-values in [0, 1].

    Returns
    -------
    numpy.ndarray
        The adjusted p-values, in the order of ``p``.

    Raises
    ------
    ValueError
        A p-value outside [0, 1] (or missing), as ``scipy.stats`` raises.
    """
    ps = np.asarray(p)
    if not (np.issubdtype(ps.dtype, np.integer) or np.issubdtype(ps.dtype, np.floating)) or not (
        np.all(ps == np.clip(ps, 0.0, 1.0))
    ):
        raise ValueError("`ps` must include only numbers between 0 and 1.")
    ps = ps.ravel()
    if ps.size <= 1:
        return ps
    m = ps.shape[-1]
    order = np.argsort(ps, axis=-1)
    ranked = np.take_along_axis(ps, order, axis=-1)
    ranked = ranked * (m / np.arange(1, m + 1, dtype=ranked.dtype))
    np.minimum.accumulate(ranked[::-1], out=ranked[::-1], axis=-1)
    adjusted = np.empty_like(ranked)
    adjusted[order] = ranked
    out: Array = np.clip(adjusted, 0.0, 1.0)
    return out
