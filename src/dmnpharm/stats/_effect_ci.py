"""Analytic confidence interval of d_z by inverting the noncentral t distribution.

For ``n`` paired differences drawn from a normal distribution with mean ``mu``
and SD ``sigma``, the one-sample ``t = sqrt(n) d_z`` follows a noncentral t
distribution with ``n - 1`` degrees of freedom and noncentrality
``lambda = sqrt(n) mu / sigma``. The interval of ``lambda`` collects the values
for which the observed t is not in either tail (Steiger & Fouladi 1997, in
*What if there were no significance tests?*, ch. 9; Cumming & Finch 2001, Educ
Psychol Meas 61:532; Cumming 2012, *Understanding the New Statistics*, ch. 11):
the lower bound solves ``P(T <= t | lambda) = (1 + c) / 2`` and the upper one
``P(T <= t | lambda) = (1 - c) / 2``. Dividing by ``sqrt(n)`` gives the interval of
``delta = mu / sigma``. It is exact under normality and needs no resampling.

The bounds depend on t alone (for a given n), so for many measures they are
solved on a grid of t values, and interpolated with a cubic spline in
``asinh(t)`` (not-a-knot, as ``scipy.interpolate.CubicSpline``'s default, solved
here on the uniform grid so that ``scipy.interpolate``'s import, a third of a
second, is not paid), in which they are smooth and close to linear; a table of at most
:data:`_DIRECT_LIMIT` distinct t values is solved directly. Solving uses the
noncentral t CDF (``scipy.special.nctdtr``) and a bracketing root finder,
vectorised over the t values (the Illinois variant of regula falsi, here rather
than ``scipy.optimize.elementwise.find_root``, whose package import costs about
0.2 s; tested against a root search on ``scipy.stats.nct``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import special

from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import CONFIDENCE

__all__ = ["dz_interval", "noncentral_t_interval"]

Array = npt.NDArray[np.float64]

#: Up to this many distinct |t| values are solved one by one; more use the grid.
_DIRECT_LIMIT = 512
#: Grid points per unit of asinh(|t|) (spacing 0.01: interpolation error about 1e-9).
_GRID_DENSITY = 100
_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(64)
_WEIGHTS = _WEIGHTS / np.sqrt(np.pi)


def _switch(df: float) -> float:
    """|t| from which :func:`_cdf` integrates instead of calling ``nctdtr``."""
    return max(50.0, 5.0 * float(np.sqrt(2.0 * df)))


def _cdf(df: float, nc: Array, a: Array) -> Array:
    """``P(T <= a | df, nc)`` for ``a >= 0``: ``nctdtr``, or an integral for large ``a``.

    ``scipy.special.nctdtr`` slows down in proportion to the noncentrality
    (about 1 ms at 10,000) and returns NaN far in its tails. For ``a`` above
    :func:`_switch` the CDF is computed from ``T = (Z + nc) / sqrt(V / df)``:
    ``P(T <= a) = E_Z[P(V >= df ((Z + nc) / a)^2)]`` for ``Z + nc > 0`` (and 1
    otherwise), by Gauss-Hermite quadrature over ``Z``; the integrand varies on
    a scale of ``a / sqrt(2 df)`` in ``Z``, so 64 nodes agree with ``nctdtr``
    to about 1e-13 there. NaN tails of ``nctdtr`` are 1 below ``a`` and 0 above.
    """
    nc, a = np.broadcast_arrays(np.asarray(nc, dtype=np.float64), a)
    out = np.empty(nc.shape)
    large = a >= _switch(df)
    small = ~large
    value = special.nctdtr(df, nc[small], a[small])
    out[small] = np.where(np.isnan(value), (nc[small] < a[small]).astype(float), value)
    if large.any():
        z = np.sqrt(2.0) * _NODES
        ratio = np.maximum(z[None, :] + nc[large][:, None], 0.0) / a[large][:, None]
        out[large] = special.chdtrc(df, df * ratio * ratio) @ _WEIGHTS
    return out


def _bounds_at(a: Array, df: float, p: float) -> Array:
    """Noncentrality ``lambda`` with ``P(T <= a | df, lambda) = p``, for each ``a >= 0``."""
    if a.size == 0:
        return np.empty(0)
    width = (abs(special.ndtri(p)) + 2.0) * np.sqrt(1.0 + a * a / (2.0 * df))
    low, high = a - width, a + width
    for _ in range(60):  # widen until the CDF brackets p (it decreases in lambda)
        short_low = _cdf(df, low, a) < p
        short_high = _cdf(df, high, a) > p
        if not (short_low.any() or short_high.any()):
            break
        low = np.where(short_low, low - width, low)
        high = np.where(short_high, high + width, high)
        width = width * 2.0

    return _illinois(lambda nc, at: _cdf(df, nc, at) - p, low, high, a)


def _illinois(gap: Callable[[Array, Array], Array], low: Array, high: Array, a: Array) -> Array:
    """Roots of ``gap(x, a)`` bracketed by ``[low, high]``, each to ``1e-13 (1 + |x|)``.

    Regula falsi with the Illinois modification (Dowell & Jarratt 1971, BIT
    11:168): when one end of a bracket is kept twice in a row its value is
    halved, so both ends close in and convergence is superlinear. A secant
    point that is not strictly inside its bracket is replaced by the midpoint.
    Only the brackets still open are evaluated at each step.
    """
    low, high = low.astype(np.float64), high.astype(np.float64)
    f_low, f_high = gap(low, a), gap(high, a)
    x = np.where(f_low == 0.0, low, high)
    kept = np.zeros(low.shape, dtype=np.int8)  # -1: low kept last step, 1: high kept
    open_ = (f_low != 0.0) & (f_high != 0.0)
    for _ in range(200):
        open_ &= np.abs(high - low) > 1e-13 * (1.0 + np.abs(x))
        i = np.flatnonzero(open_)
        if i.size == 0:
            break
        lo, hi, fl, fh = low[i], high[i], f_low[i], f_high[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            guess = (lo * fh - hi * fl) / (fh - fl)
        inside = (guess > np.minimum(lo, hi)) & (guess < np.maximum(lo, hi))
        guess = np.where(inside, guess, 0.5 * (lo + hi))
        value = gap(guess, a[i])
        x[i] = guess
        done = value == 0.0
        to_low = ~done & (np.sign(value) == np.sign(fl))  # the root lies between guess and high
        to_high = ~done & ~to_low
        # Illinois: halve the value of the end kept for the second time in a row.
        f_high[i[to_low & (kept[i] == 1)]] *= 0.5
        f_low[i[to_high & (kept[i] == -1)]] *= 0.5
        low[i[to_low]], f_low[i[to_low]] = guess[to_low], value[to_low]
        high[i[to_high]], f_high[i[to_high]] = guess[to_high], value[to_high]
        kept[i] = np.where(to_low, 1, np.where(to_high, -1, 0))
        open_[i[done]] = False
    return x


def _bounds(a: Array, df: float, p: float) -> Array:
    """:func:`_bounds_at` for many ``a``: directly, or on a grid in asinh(a) and a spline."""
    distinct, where = np.unique(a, return_inverse=True)
    if distinct.size <= _DIRECT_LIMIT:
        return _bounds_at(distinct, df, p)[where]
    top = float(np.arcsinh(distinct[-1]))
    points = max(16, int(np.ceil(top * _GRID_DENSITY)) + 1)
    grid = np.linspace(0.0, top, points)
    return _uniform_spline(grid, _bounds_at(np.sinh(grid), df, p), np.arcsinh(a))


def _uniform_spline(grid: Array, values: Array, at: Array) -> Array:
    """Evaluate at ``at`` the not-a-knot cubic spline through ``values`` on the uniform ``grid``.

    With knot spacing ``h`` the second derivatives ``m`` satisfy
    ``m[i-1] + 4 m[i] + m[i+1] = 6 (y[i+1] - 2 y[i] + y[i-1]) / h**2`` inside;
    not-a-knot (one cubic over the first two and the last two intervals) means
    ``m[0] - 2 m[1] + m[2] = 0`` and the same at the end, which turns the first
    and last of those equations into ``6 m[1] = r[1]`` and ``6 m[-2] = r[-2]``.
    The rest is a (1, 4, 1) tridiagonal system, solved by elimination.
    """
    n = grid.size
    h = float(grid[1] - grid[0])
    rhs = 6.0 * (values[2:] - 2.0 * values[1:-1] + values[:-2]) / (h * h)
    m = np.empty(n)
    m[1], m[-2] = rhs[0] / 6.0, rhs[-1] / 6.0
    inner = rhs[1:-1].copy()  # equations for m[2] .. m[n-3]
    if inner.size:
        inner[0] -= m[1]
        inner[-1] -= m[-2]
        diagonal = np.full(inner.size, 4.0)
        for i in range(1, inner.size):  # forward elimination, sub/super diagonals of 1
            factor = 1.0 / diagonal[i - 1]
            diagonal[i] -= factor
            inner[i] -= factor * inner[i - 1]
        inner[-1] /= diagonal[-1]
        for i in range(inner.size - 2, -1, -1):
            inner[i] = (inner[i] - inner[i + 1]) / diagonal[i]
        m[2:-2] = inner
    m[0], m[-1] = 2.0 * m[1] - m[2], 2.0 * m[-2] - m[-3]
    i = np.clip(np.floor((at - grid[0]) / h).astype(np.intp), 0, n - 2)
    left, right = at - grid[i], grid[i + 1] - at
    out: Array = (
        (m[i] * right**3 + m[i + 1] * left**3) / (6.0 * h)
        + (values[i] / h - m[i] * h / 6.0) * right
        + (values[i + 1] / h - m[i + 1] * h / 6.0) * left
    )
    return out


def noncentral_t_interval(
    t: npt.ArrayLike, df: float, confidence: float = CONFIDENCE
) -> tuple[Array, Array]:
    """Return the confidence interval of the noncentrality of a noncentral t.

    Parameters
    ----------
    t : array_like
        Observed t statistics (any shape).
    df : float
        Degrees of freedom (positive).
    confidence : float
        Level of the interval, between 0 and 1.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds ``lambda`` (shape of ``t``) with ``P(T <= t |
        lambda_low) = (1 + confidence) / 2`` and ``P(T <= t | lambda_high) = (1
        - confidence) / 2``; NaN where ``t`` is not finite.

    Raises
    ------
    InputError
        If ``df`` is not positive or ``confidence`` not between 0 and 1.
    """
    if not df > 0:
        raise InputError(f"degrees of freedom must be positive, got {df}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    values = np.asarray(t, dtype=np.float64)
    flat = values.ravel()
    finite = np.isfinite(flat)
    a = np.abs(flat[finite])
    # P(T <= -a | lambda) = 1 - P(T <= a | -lambda): negative t mirror positive ones
    upper_p, lower_p = (1 - confidence) / 2, (1 + confidence) / 2
    low_abs, high_abs = _bounds(a, float(df), lower_p), _bounds(a, float(df), upper_p)
    negative = flat[finite] < 0
    low, high = np.full(flat.shape, np.nan), np.full(flat.shape, np.nan)
    low[finite] = np.where(negative, -high_abs, low_abs)
    high[finite] = np.where(negative, -low_abs, high_abs)
    return low.reshape(values.shape), high.reshape(values.shape)


def dz_interval(differences: npt.ArrayLike, confidence: float = CONFIDENCE) -> tuple[Array, Array]:
    """Return the noncentral-t confidence interval of d_z per measure.

    The interval of ``delta = mu / sigma`` of paired differences, exact when
    they are normal (see the module notes); it needs no resampling and is the
    same for every seed.

    Parameters
    ----------
    differences : array_like
        ``subjects x measures`` paired differences (a 1D array is one measure).
    confidence : float
        Level of the interval, between 0 and 1.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds per measure; NaN where the differences have no
        spread (d_z undefined).

    Raises
    ------
    InputError
        Fewer than 2 subjects, non-finite values or a level outside (0, 1).
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n = d.shape[0]
    if n < 2:
        raise InputError(f"an interval of d_z needs at least 2 subjects, got {n}")
    if not np.isfinite(d).all():
        raise InputError("the differences contain non-finite values")
    sd = d.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, d.mean(axis=0) / sd * np.sqrt(n), np.nan)
    low, high = noncentral_t_interval(t, n - 1, confidence)
    return low / np.sqrt(n), high / np.sqrt(n)
