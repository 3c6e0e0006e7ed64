"""The t, F and normal tails and the BH adjustment equal ``scipy.stats``' to the bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sps

from dmnpharm.stats._dist import f_sf, fdr_bh, norm_isf, norm_sf, t_isf, t_ppf, t_sf

#: Statistics: ordinary, tiny, huge, zero of both signs, infinite and missing.
X = np.array([-40.0, -3.2, -1.0, -1e-12, -0.0, 0.0, 1e-300, 0.5, 2.0, 7.5, 1e6, np.inf, -np.inf])
X_NAN = np.append(X, np.nan)
#: Probabilities, the ends and outside [0, 1] included.
Q = np.array([0.0, 1e-300, 1e-12, 0.001, 0.025, 0.5, 0.975, 0.999999, 1.0, -0.1, 1.1, np.nan])


def _same(ours: object, theirs: object) -> None:
    """Equal values (NaN where NaN), equal types (scalars stay scalars)."""
    assert type(ours) is type(theirs)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("df", [1.0, 2.5, 19.0, 1e-3, np.array([1.0, 4.0, 30.0, 1e6])])
def test_t_matches_scipy(rng: np.random.Generator, df: float | np.ndarray) -> None:
    """t.sf, t.ppf and t.isf, scalars and arrays, broadcast against df."""
    x = np.concatenate([X_NAN, rng.standard_t(5, 200)])
    if isinstance(df, np.ndarray):
        x = x[: (x.size // df.size) * df.size].reshape(-1, df.size)
    _same(t_sf(x, df), sps.t.sf(x, df))
    _same(t_sf(1.7, 12.0), sps.t.sf(1.7, 12.0))
    q = np.concatenate([Q, rng.random(100)])
    if isinstance(df, np.ndarray):
        q = q[: (q.size // df.size) * df.size].reshape(-1, df.size)
    _same(t_ppf(q, df), sps.t.ppf(q, df))
    _same(t_isf(q, df), sps.t.isf(q, df))
    _same(t_ppf(0.975, 7), sps.t.ppf(0.975, 7))


def test_f_and_normal_match_scipy(rng: np.random.Generator) -> None:
    """f.sf (zero and negative statistics included), norm.sf and norm.isf."""
    x = np.concatenate([X_NAN, rng.chisquare(3, 200)])
    for dfn, dfd in ((1, 5), (3.0, 17.5), (2, np.array([4.0] * x.size))):
        _same(f_sf(x, dfn, dfd), sps.f.sf(x, dfn, dfd))
    _same(f_sf(2.0, 3, 10), sps.f.sf(2.0, 3, 10))
    _same(norm_sf(x), sps.norm.sf(x))
    q = np.concatenate([Q, rng.random(100)])
    _same(norm_isf(q), sps.norm.isf(q))
    _same(norm_isf(0.3), sps.norm.isf(0.3))


def test_fdr_matches_scipy_with_ties(rng: np.random.Generator) -> None:
    """BH adjusted p equal scipy's, with tied, zero and one p-values; bad p refused alike."""
    p = np.concatenate([rng.random(500), rng.integers(1, 20, 300) / 20, [0.0, 1.0, 1.0]])
    rng.shuffle(p)
    np.testing.assert_array_equal(fdr_bh(p), sps.false_discovery_control(p, method="bh"))
    np.testing.assert_array_equal(fdr_bh([0.3]), sps.false_discovery_control([0.3]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        fdr_bh([0.2, 1.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        fdr_bh([0.2, np.nan])
