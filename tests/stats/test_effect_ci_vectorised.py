"""Effect-size intervals, checked against references.

The vectorised bootstrap equals the per-resample loop on the same resamples;
d_z's noncentral-t interval equals a root search on scipy.stats.nct.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps
from scipy.interpolate import CubicSpline

from dmnpharm.exceptions import InputError
from dmnpharm.stats import (
    EFFECT_CI,
    ModelSpec,
    _effect_ci,
    _effects,
    analyse,
    bootstrap_ci,
    cohens_dz,
    dz_interval,
    hedges_g,
    noncentral_t_interval,
    pearson_r,
)


def _loop_interval(
    kind: str,
    values: np.ndarray,
    groups: np.ndarray,
    covariate: np.ndarray,
    n_bootstrap: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the straightforward bootstrap: each resample, then each measure, one at a time."""
    n, m = values.shape
    draws = np.full((n_bootstrap, m), np.nan)
    row = 0
    for picks in _effects._resamples(kind, n, n_bootstrap, seed, groups):
        for b in range(picks[0].shape[0]):
            for j in range(m):
                if kind == "g":
                    a, c = values[picks[0][b], j], values[picks[1][b], j]
                    draws[row, j] = hedges_g(a[:, None], c[:, None])[0]
                elif kind == "r":
                    pick = picks[0][b]
                    draws[row, j] = pearson_r(covariate[pick], values[pick, j][:, None])[0]
                else:
                    draws[row, j] = cohens_dz(values[picks[0][b], j][:, None])[0]
            row += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN measures give NaN
        low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    return low, high


@pytest.fixture
def sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """11 subjects x 6 measures with a constant and a two-valued column; groups; a covariate."""
    values = rng.normal(0.3, 1.0, (11, 6))
    values[:, 1] = 2.0  # constant: every resample's effect size is undefined
    values[:, 2] = rng.integers(0, 2, 11)  # two values: some resamples are constant
    groups = np.arange(11) % 3 == 0
    return values, groups, rng.normal(size=11)


@pytest.mark.parametrize("kind", ["dz", "g", "r"])
def test_bootstrap_equals_the_per_resample_loop(
    kind: str, sample: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    """Same resamples, same numbers: matrix products of counts equal the direct loop."""
    values, groups, covariate = sample
    low, high = bootstrap_ci(
        kind, values, groups=groups, covariate=covariate, n_bootstrap=150, seed=4
    )
    ref_low, ref_high = _loop_interval(kind, values, groups, covariate, 150, 4)
    np.testing.assert_allclose(low, ref_low, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-10, atol=1e-12)
    assert np.isnan(low[1])  # a constant measure has no effect size in any resample


def test_bootstrap_chunks_do_not_change_the_interval(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measures split into chunks, resamples drawn again per chunk: the same interval."""
    values, groups, _ = sample
    whole = bootstrap_ci("g", values, groups=groups, n_bootstrap=120, seed=9)
    monkeypatch.setattr(_effects, "_DRAW_BYTES", 8 * 120 * 2)  # two measures per chunk
    chunked = bootstrap_ci("g", values, groups=groups, n_bootstrap=120, seed=9)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])


def test_bootstrap_refuses_bad_arguments(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Unknown kinds and missing groups or covariates are errors, not silent d_z."""
    values, _, _ = sample
    with pytest.raises(InputError, match="kind must be"):
        bootstrap_ci("d", values)
    with pytest.raises(InputError, match="needs groups"):
        bootstrap_ci("g", values)
    with pytest.raises(InputError, match="needs a covariate"):
        bootstrap_ci("r", values)


def _nct_bound(t: float, df: float, p: float) -> float:
    """Noncentrality with P(T <= |t|) = p, by brentq on scipy.stats.nct.cdf."""

    def gap(nc: float) -> float:
        value = sps.nct.cdf(t, df, nc)
        return (float(nc < t) if np.isnan(value) else float(value)) - p

    width = 4.0 * np.sqrt(1.0 + t * t / (2.0 * df)) + 4.0
    return float(optimize.brentq(gap, t - width, t + width, xtol=1e-13, rtol=1e-14))


def _reference(t: float, df: float, confidence: float) -> tuple[float, float]:
    """Interval of the noncentrality, negative t mirrored (P(T <= -a | l) = 1 - P(T <= a | -l))."""
    hi_p, lo_p = (1 - confidence) / 2, (1 + confidence) / 2
    low, high = _nct_bound(abs(t), df, lo_p), _nct_bound(abs(t), df, hi_p)
    return (low, high) if t >= 0 else (-high, -low)


@pytest.mark.parametrize("df", [2, 19, 150])
def test_noncentral_t_interval_equals_scipy_nct(df: int) -> None:
    """Each bound puts the observed t at the tail probability asked, as scipy.stats.nct says."""
    t = np.array([-7.5, -0.4, 0.0, 0.9, 2.6, 11.0, 80.0])
    low, high = noncentral_t_interval(t, df, 0.9)
    for i, value in enumerate(t):
        ref_low, ref_high = _reference(float(value), df, 0.9)
        assert low[i] == pytest.approx(ref_low, abs=1e-8)
        assert high[i] == pytest.approx(ref_high, abs=1e-8)


def test_the_interpolated_interval_equals_the_direct_one(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many measures: bounds from a grid in asinh(t) and a spline, within 1e-8 of exact."""
    t = np.concatenate([rng.normal(0, 3, 300), [0.0, 35.0, -60.0]])
    direct = noncentral_t_interval(t, 19)
    monkeypatch.setattr(_effect_ci, "_DIRECT_LIMIT", 10)
    grid = noncentral_t_interval(t, 19)
    np.testing.assert_allclose(grid[0], direct[0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(grid[1], direct[1], rtol=0, atol=1e-8)
    for i in (0, 300, 302):
        ref = _reference(float(t[i]), 19, 0.95)
        assert grid[0][i] == pytest.approx(ref[0], abs=1e-8)
        assert grid[1][i] == pytest.approx(ref[1], abs=1e-8)


@pytest.mark.parametrize("points", [16, 17, 40, 761])
def test_the_grid_spline_equals_scipy_cubic_spline(points: int, rng: np.random.Generator) -> None:
    """The spline through the grid's bounds is scipy's not-a-knot CubicSpline, to 1e-12."""
    grid = np.linspace(0.0, 7.3, points)
    values = np.sin(grid) * grid + 0.3 * grid**1.5 + rng.normal(0.0, 0.01, points)
    at = np.concatenate([rng.uniform(0.0, 7.3, 500), grid[[0, 1, -2, -1]]])
    ours = _effect_ci._uniform_spline(grid, values, at)
    np.testing.assert_allclose(ours, CubicSpline(grid, values)(at), rtol=0, atol=1e-12)


def test_dz_interval_is_the_nct_interval_over_sqrt_n(rng: np.random.Generator) -> None:
    """d_z's interval: the noncentrality's over sqrt(n); NaN without spread; bad input refused."""
    d = rng.normal(0.6, 1.0, (14, 3))
    d[:, 2] = 0.25
    low, high = dz_interval(d, 0.95)
    t = d[:, :2].mean(axis=0) / d[:, :2].std(axis=0, ddof=1) * np.sqrt(14)
    for j in range(2):
        ref = _reference(float(t[j]), 13, 0.95)
        assert low[j] == pytest.approx(ref[0] / np.sqrt(14), abs=1e-9)
        assert high[j] == pytest.approx(ref[1] / np.sqrt(14), abs=1e-9)
        assert low[j] < cohens_dz(d)[j] < high[j]
    assert np.isnan(low[2])
    assert np.isnan(high[2])
    with pytest.raises(InputError, match="at least 2 subjects"):
        dz_interval(d[:1])
    with pytest.raises(InputError, match="non-finite"):
        dz_interval(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(InputError, match="confidence"):
        noncentral_t_interval([1.0], 5, 1.5)
    with pytest.raises(InputError, match="degrees of freedom"):
        noncentral_t_interval([1.0], 0)
    assert np.isnan(noncentral_t_interval([np.inf], 5)[0]).all()


def _paired_table(rng: np.random.Generator, n: int = 12) -> pd.DataFrame:
    subjects = np.repeat([f"sub-{i:02d}" for i in range(n)], 4)
    condition = np.tile(np.repeat(["placebo", "drug"], 2), n)
    measure = np.tile(["a", "b"], 2 * n)
    value = rng.normal(size=4 * n) + 0.7 * (condition == "drug") * (measure == "a")
    return pd.DataFrame(
        {"participant_id": subjects, "condition": condition, "measure": measure, "value": value}
    )


def test_analyse_uses_the_nct_interval_by_default_and_the_bootstrap_on_request(
    rng: np.random.Generator,
) -> None:
    """The paired model's d_z interval: noncentral t (default) or the bootstrap, as asked."""
    table = _paired_table(rng)
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"))
    wide = table.pivot_table(index="participant_id", columns=["condition", "measure"])["value"]
    d = (wide["drug"] - wide["placebo"])[["a", "b"]].to_numpy()
    assert EFFECT_CI == "noncentral-t"
    default = analyse(table, spec, 99)
    np.testing.assert_allclose(default.results["effect_size_ci_low"], dz_interval(d)[0])
    assert "noncentral t" in default.summary
    boot = analyse(table, spec, 99, seed=3, n_bootstrap=300, effect_ci="bootstrap")
    np.testing.assert_allclose(
        boot.results["effect_size_ci_high"], bootstrap_ci("dz", d, n_bootstrap=300, seed=3)[1]
    )
    assert "percentile bootstrap" in boot.summary
    assert "interval" not in boot.results["exchangeability"].iloc[0]
    with pytest.raises(InputError, match="effect_ci must be one of"):
        analyse(table, spec, 99, effect_ci="bca")
