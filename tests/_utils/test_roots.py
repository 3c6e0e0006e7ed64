"""Brent's root finder against ``scipy.optimize.brentq``: same roots, tolerance and errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from scipy.optimize import brentq

from dmnpharm._utils._roots import brent_root

EPS = 2.220446049250313e-16
RTOL = 4 * EPS

#: Elimination rate (1/h) and time of the peak (h) of the Bateman curve in
#: ``dmnpharm.simulate._design.time_course``: half-life 6 h, peak at 1.5 h.
KE = math.log(2) / 6.0
TMAX = 1.5


def _bateman_gap(ka: float) -> float:
    """Return the time of the Bateman curve's peak for absorption rate ``ka``, less ``TMAX``."""
    return math.log(ka / KE) / (ka - KE) - TMAX


#: name -> (f, low, high, exact root or None when only brentq knows it)
CASES: dict[str, tuple[Callable[[float], float], float, float, float | None]] = {
    "sqrt2": (lambda x: x * x - 2.0, 0.0, 2.0, math.sqrt(2.0)),
    "cubic-middle-root": (lambda x: (x - 1) * (x - 2) * (x - 3), 1.5, 2.7, 2.0),
    "cubic-newton": (lambda x: x**3 - 2 * x - 5, 2.0, 3.0, None),
    "exp": (lambda x: math.exp(x) - 3.0, -5.0, 5.0, math.log(3.0)),
    "log": (lambda x: math.log(x) - 1.5, 0.1, 100.0, math.exp(1.5)),
    "cos": (lambda x: math.cos(x) - x, 0.0, 1.0, None),
    "bateman": (_bateman_gap, KE * (1 + 1e-9), 1e4, None),
    "steep-tanh": (lambda x: math.tanh(1e4 * (x - 0.3)), -1.0, 1.0, 0.3),
    "x^20": (lambda x: x**20 - 1e-10, 0.0, 2.0, 10.0 ** (-0.5)),
    "atan-far-bracket": (lambda x: math.atan(x - 7.0), -100.0, 1000.0, 7.0),
}


class _Counted:
    """``f`` that counts its evaluations."""

    def __init__(self, f: Callable[[float], float]) -> None:
        self.f = f
        self.calls = 0

    def __call__(self, x: float) -> float:
        self.calls += 1
        return self.f(x)


@pytest.mark.parametrize("xtol", [2e-12, 1e-13, 1e-6])
@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_brentq(name: str, xtol: float) -> None:
    """The root is within xtol + rtol|x| of brentq's and of the true root, in as few steps."""
    f, low, high, exact = CASES[name]
    ours, theirs = _Counted(f), _Counted(f)
    root = brent_root(ours, low, high, xtol=xtol)
    reference = brentq(theirs, low, high, xtol=xtol)
    tol = xtol + RTOL * abs(root)
    assert abs(root - reference) <= tol
    if exact is not None:
        assert abs(root - exact) <= tol
    # f changes sign within the tolerance of the returned x
    assert f(root) == 0 or (f(root - tol) > 0) != (f(root + tol) > 0)
    assert ours.calls <= theirs.calls + 2


def test_the_bateman_peak_is_where_the_curve_is_flat() -> None:
    """At the solved ka the Bateman curve's derivative vanishes at tmax, as time_course needs."""
    ka = brent_root(_bateman_gap, KE * (1 + 1e-9), 1e4)
    assert ka == pytest.approx(2.0246311457948183, abs=2e-12)
    slope = -KE * math.exp(-KE * TMAX) + ka * math.exp(-ka * TMAX)
    assert abs(slope) < 1e-12


def test_a_root_at_an_end_is_returned_exactly() -> None:
    """f(low) or f(high) == 0 returns that end after the two end evaluations."""
    f = _Counted(lambda x: x - 1.0)
    assert brent_root(f, 1.0, 3.0) == 1.0
    assert brent_root(f, -1.0, 1.0) == 1.0
    assert f.calls == 4
    assert brentq(lambda x: x - 1.0, -1.0, 1.0) == 1.0


def test_the_bracket_may_be_given_either_way_round() -> None:
    """A bracket given high end first finds the same root."""
    f, low, high, exact = CASES["exp"]
    assert exact is not None
    assert abs(brent_root(f, high, low) - exact) <= 2e-12 + RTOL * exact


def test_a_jump_is_found_as_a_sign_change() -> None:
    """A discontinuous f gives the point of its sign change, as brentq does."""

    def step(x: float) -> float:
        return -1.0 if x < 0.1 else 1.0

    root = brent_root(step, -1.0, 1.0)
    assert abs(root - 0.1) <= 2e-12 + RTOL * 0.1
    assert abs(root - brentq(step, -1.0, 1.0)) <= 2e-12 + RTOL * 0.1


def test_same_signs_at_the_ends_are_refused() -> None:
    """No sign change between low and high is a ValueError naming the values, as in brentq."""

    def f(x: float) -> float:
        return x * x + 1.0

    with pytest.raises(ValueError, match=r"f\(-1\.0\) = 2\.0 and f\(2\.0\) = 5\.0 have the same"):
        brent_root(f, -1.0, 2.0)
    with pytest.raises(ValueError, match="different signs"):
        brentq(f, -1.0, 2.0)


def test_the_iteration_cap() -> None:
    """The cap counts evaluations after the two ends: enough converges, one fewer raises."""
    f = _Counted(CASES["cos"][0])
    root = brent_root(f, 0.0, 1.0, maxiter=6)
    assert f.calls == 8
    assert abs(root - 0.7390851332151607) <= 2e-12
    with pytest.raises(RuntimeError, match="did not converge in 5 iterations"):
        brent_root(f, 0.0, 1.0, maxiter=5)


def test_a_flat_root_needs_more_iterations_here_and_in_brentq() -> None:
    """(x - 1)^3 is too flat for 100 iterations in both; 200 finds x = 1 in both."""

    def flat(x: float) -> float:
        return (x - 1.0) ** 3

    with pytest.raises(RuntimeError, match="100 iterations"):
        brent_root(flat, 0.0, 3.0)
    with pytest.raises(RuntimeError):
        brentq(flat, 0.0, 3.0)
    assert abs(brent_root(flat, 0.0, 3.0, maxiter=200) - 1.0) <= 2e-12 + RTOL
    assert abs(brentq(flat, 0.0, 3.0, maxiter=200) - 1.0) <= 2e-12 + RTOL


def test_nan_and_bad_tolerances_are_refused() -> None:
    """A NaN value would lose the bracket; tolerances below what floats allow are refused."""
    with pytest.raises(ValueError, match="NaN"):
        brent_root(lambda x: math.nan if x > 0.5 else x - 0.7, 0.0, 1.0)
    with pytest.raises(ValueError, match="xtol"):
        brent_root(lambda x: x, -1.0, 1.0, xtol=0.0)
    with pytest.raises(ValueError, match="rtol"):
        brent_root(lambda x: x, -1.0, 1.0, rtol=EPS)
    with pytest.raises(ValueError, match="maxiter"):
        brent_root(lambda x: x, -1.0, 1.0, maxiter=-1)
