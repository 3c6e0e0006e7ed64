"""A bracketing root finder: Brent's method, without importing ``scipy.optimize``.

``scipy.optimize`` costs about 0.2-0.3 s to import (it pulls in ``scipy.linalg``,
``scipy.sparse`` and linear programming), which the simulator paid for three
one-dimensional root searches. :func:`brent_root` is Brent's zero finder
(R. P. Brent, *Algorithms for Minimization without Derivatives*, 1973, ch. 4):
inverse quadratic interpolation, or the secant step when only two points are
distinct, safeguarded by bisection so that the bracket shrinks at least as fast
as bisection's over a few steps. Its stopping rule is that of
``scipy.optimize.brentq``: the returned ``x`` is within ``xtol + rtol * |x|`` of
a sign change of ``f``, so the two agree to within that tolerance
(``tests/_utils/test_roots.py`` compares them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["brent_root"]

#: Smallest relative tolerance the method can honour (as ``scipy.optimize.brentq``).
_RTOL_MIN = 4 * 2.220446049250313e-16


def _value(f: Callable[[float], float], x: float) -> float:
    """Return ``f(x)`` as a float; NaN is an error (the bracket would be lost)."""
    fx = float(f(x))
    if math.isnan(fx):
        raise ValueError(f"f({x!r}) is NaN; brent_root needs a function defined on the bracket")
    return fx


def _step(
    a: tuple[float, float],
    b: tuple[float, float],
    c: tuple[float, float],
    steps: tuple[float, float],
    tol: float,
) -> tuple[float, float]:
    """Return Brent's next step from the best point ``b``, and the step before it.

    ``a`` is the previous best point, ``c`` the far end of the bracket (``f``
    changes sign between ``b`` and ``c``), each as ``(x, f(x))``; ``steps`` are
    the last step and the one before. Interpolation is used when it lands well
    inside the bracket and the steps keep shrinking, bisection otherwise.
    """
    (xa, fa), (xb, fb), (xc, fc) = a, b, c
    d, e = steps
    m = 0.5 * (xc - xb)
    if abs(e) < tol or abs(fa) <= abs(fb):
        return m, m
    s = fb / fa
    if xa == xc:  # two distinct points: secant
        p = 2.0 * m * s
        q = 1.0 - s
    else:  # three: inverse quadratic interpolation
        q, r = fa / fc, fb / fc
        p = s * (2.0 * m * q * (q - r) - (xb - xa) * (r - 1.0))
        q = (q - 1.0) * (r - 1.0) * (s - 1.0)
    if p > 0:
        q = -q
    else:
        p = -p
    # Accept the interpolated point only short of 3/4 of the way to c, and only
    # if the step is under half the step before last; otherwise bisect.
    if 2.0 * p < 3.0 * m * q - abs(tol * q) and p < abs(0.5 * e * q):
        return p / q, d
    return m, m


def brent_root(
    f: Callable[[float], float],
    low: float,
    high: float,
    *,
    xtol: float = 2e-12,
    rtol: float = _RTOL_MIN,
    maxiter: int = 100,
) -> float:
    """Return a root of ``f`` in ``[low, high]`` by Brent's method.

    Parameters
    ----------
    f : callable
        A continuous function of one float returning a float; ``f(low)`` and
        ``f(high)`` must have different signs (or one be zero).
    low, high : float
        The ends of the bracket (either order).
    xtol, rtol : float
        The returned ``x`` is within ``xtol + rtol * |x|`` of a root (of a sign
        change, for a discontinuous ``f``), as with ``scipy.optimize.brentq``.
        ``xtol`` must be positive and ``rtol`` at least ``4 * eps``.
    maxiter : int
        Most evaluations of ``f`` after the two at the ends.

    Returns
    -------
    float
        The root. An end where ``f`` is zero is returned as it is.

    Raises
    ------
    ValueError
        ``f(low)`` and ``f(high)`` have the same sign, ``f`` returns NaN, or a
        tolerance or ``maxiter`` is out of range.
    RuntimeError
        The bracket did not shrink to the tolerance within ``maxiter``
        evaluations.

    Examples
    --------
    >>> round(brent_root(lambda x: x * x - 2.0, 0.0, 2.0), 12)
    1.414213562373
    >>> brent_root(lambda x: x - 1.0, 1.0, 3.0)
    1.0
    """
    if not xtol > 0:
        raise ValueError(f"xtol must be positive, got {xtol!r}")
    if not rtol >= _RTOL_MIN:
        raise ValueError(f"rtol must be at least {_RTOL_MIN!r}, got {rtol!r}")
    if maxiter < 0:
        raise ValueError(f"maxiter must be non-negative, got {maxiter!r}")
    xb, xc = float(low), float(high)
    fb, fc = _value(f, xb), _value(f, xc)
    if fb == 0:
        return xb
    if fc == 0:
        return xc
    if (fb > 0) == (fc > 0):
        raise ValueError(
            f"f({xb!r}) = {fb!r} and f({xc!r}) = {fc!r} have the same sign: "
            "the interval does not bracket a root"
        )
    xa, fa = xc, fc  # a = c: the first step is a secant
    d = e = xc - xb
    for iteration in range(maxiter + 1):
        if abs(fc) < abs(fb):  # keep the best point in b; a and c take the old b
            xa, fa, xb, fb = xb, fb, xc, fc
            xc, fc = xa, fa
        tol = 0.5 * (xtol + rtol * abs(xb))
        m = 0.5 * (xc - xb)
        if abs(m) <= tol or fb == 0:
            return xb
        if iteration == maxiter:
            break
        d, e = _step((xa, fa), (xb, fb), (xc, fc), (d, e), tol)
        xa, fa = xb, fb
        xb += d if abs(d) > tol else math.copysign(tol, m)
        fb = _value(f, xb)
        if (fb > 0) == (fc > 0):  # the sign change is now between a and b
            xc, fc = xa, fa
            d = e = xb - xa
    raise RuntimeError(
        f"brent_root did not converge in {maxiter} iterations: the root lies in "
        f"[{min(xb, xc)!r}, {max(xb, xc)!r}]"
    )
