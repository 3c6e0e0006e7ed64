"""Explaining an observed map by receptor maps: correlations, spatial p, dominance."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from dmnpharm.exceptions import InputError
from dmnpharm.predict import (
    ReceptorMaps,
    adjusted_r2_null,
    dominance_analysis,
    load_hansen2022,
    receptor_correlations,
)
from dmnpharm.predict._explain import subset_r2


def make_maps(rng: np.random.Generator, n_regions: int, n_targets: int) -> ReceptorMaps:
    """Correlated maps (a shared component) with unequal regions and targets."""
    raw = rng.normal(size=(n_regions, n_targets)) + rng.normal(size=(n_regions, 1))
    values = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    regions = tuple(f"region{i}" for i in range(n_regions))
    targets = tuple(f"T{j}" for j in range(n_targets))
    return ReceptorMaps(regions, targets, values, raw, True, "synthetic")


def ols_r2(y: np.ndarray, x: np.ndarray) -> float:
    """R^2 of least squares with an intercept, by numpy's lstsq."""
    design = np.column_stack([np.ones(y.size), x])
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    return float(1.0 - resid @ resid / ((y - y.mean()) @ (y - y.mean())))


def brute_force_dominance(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Total dominance straight from Azen & Budescu (2003), one regression per subset."""
    p = x.shape[1]
    out = np.zeros(p)
    for j in range(p):
        others = [i for i in range(p) if i != j]
        per_size = []
        for k in range(p):
            gains = []
            for subset in itertools.combinations(others, k):
                base = ols_r2(y, x[:, list(subset)]) if subset else 0.0
                gains.append(ols_r2(y, x[:, [*subset, j]]) - base)
            per_size.append(np.mean(gains))
        out[j] = np.mean(per_size)
    return out


def test_correlations_match_scipy(rng: np.random.Generator) -> None:
    """r, rho and the parametric p are scipy's pearsonr and spearmanr."""
    maps = make_maps(rng, 37, 5)
    values = maps.to_frame().to_numpy()
    observed = values[:, 2] + rng.normal(size=37)
    table = receptor_correlations(observed, maps)
    assert list(table["target"]) == list(maps.targets)
    for j, row in table.iterrows():
        pearson = stats.pearsonr(observed, values[:, j])
        assert row["r_pearson"] == pytest.approx(pearson.statistic, abs=1e-12)
        assert row["p_parametric"] == pytest.approx(pearson.pvalue, rel=1e-8)
        spearman = stats.spearmanr(observed, values[:, j]).statistic
        assert row["r_spearman"] == pytest.approx(spearman, abs=1e-12)
    assert table["p_spatial"].isna().all()
    assert (table["null_method"] == "none").all()
    assert (table["n_null"] == 0).all()


def test_series_is_aligned_by_region(rng: np.random.Generator) -> None:
    """A Series is put in the maps' region order; a missing region is refused."""
    maps = make_maps(rng, 23, 3)
    observed = rng.normal(size=23)
    shuffled = pd.Series(observed, index=list(maps.regions)).iloc[::-1]
    pd.testing.assert_frame_equal(
        receptor_correlations(shuffled, maps), receptor_correlations(observed, maps)
    )
    with pytest.raises(InputError, match="no value for 1 map region"):
        receptor_correlations(shuffled.iloc[1:], maps)


def test_spatial_p_counts_nulls_as_extreme(rng: np.random.Generator) -> None:
    """Hand-made nulls: known |r_null| against the observed r of each target."""
    maps = make_maps(rng, 29, 2)
    values = maps.to_frame().to_numpy()
    observed = values[:, 0] + 0.5 * rng.normal(size=29)
    r = receptor_correlations(observed, maps)["r_pearson"].to_numpy()
    # Nulls: the observed map itself (|r| equal: counts), its negation (counts, two-sided),
    # and a map orthogonal-ish to everything (a weak r: counts for neither if |r| > it).
    noise = rng.normal(size=29)
    nulls = np.vstack([observed, -observed, noise, noise])
    table = receptor_correlations(observed, maps, nulls=nulls, null_method="hand-made")
    r_noise = np.array([stats.pearsonr(noise, values[:, j]).statistic for j in (0, 1)])
    expected = (2 + 2 * (np.abs(r_noise) >= np.abs(r)) + 1) / 5
    np.testing.assert_allclose(table["p_spatial"], expected)
    assert (table["null_method"] == "hand-made").all()
    assert (table["n_null"] == 4).all()
    with pytest.raises(InputError, match=r"nulls has shape \(4, 28\)"):
        receptor_correlations(observed, maps, nulls=nulls[:, 1:])


def test_bad_observed_maps_are_refused(rng: np.random.Generator) -> None:
    """Wrong length, constant or missing values are refused."""
    maps = make_maps(rng, 11, 2)
    with pytest.raises(InputError, match=r"shape \(10,\), expected \(11,\)"):
        receptor_correlations(np.ones(10), maps)
    with pytest.raises(InputError, match="constant"):
        dominance_analysis(np.ones(11), maps)
    observed = rng.normal(size=11)
    observed[3] = np.nan
    with pytest.raises(InputError, match="missing"):
        receptor_correlations(observed, maps)


def test_dominance_matches_brute_force_and_ols(rng: np.random.Generator) -> None:
    """Totals equal one-regression-per-subset dominance and sum to the OLS R^2."""
    maps = make_maps(rng, 41, 5)
    values = maps.to_frame().to_numpy()
    observed = values @ np.array([1.0, -0.5, 0.0, 0.3, 0.8]) + rng.normal(size=41)
    result = dominance_analysis(observed, maps)
    full = ols_r2(observed, values)
    assert result.r2 == pytest.approx(full, abs=1e-10)
    assert result.r2_adjusted == pytest.approx(1 - (1 - full) * 40 / 35, abs=1e-10)
    fit = sm.OLS(observed, sm.add_constant(values)).fit()  # an independent reference
    assert result.r2 == pytest.approx(fit.rsquared, abs=1e-10)
    assert result.r2_adjusted == pytest.approx(fit.rsquared_adj, abs=1e-10)
    assert (result.n_regions, result.n_predictors) == (41, 5)
    totals = result.table["total_dominance"].to_numpy()
    assert totals.sum() == pytest.approx(result.r2, abs=1e-10)
    np.testing.assert_allclose(totals, brute_force_dominance(observed, values), atol=1e-10)
    assert result.table["relative_dominance"].sum() == pytest.approx(1.0)


def test_subset_r2_is_every_subsets_ols_r2(rng: np.random.Generator) -> None:
    """Entry m of subset_r2 is the OLS R^2 of the predictors in bit mask m."""
    maps = make_maps(rng, 19, 4)
    values = maps.to_frame().to_numpy()
    y = rng.normal(size=19)
    x = values - values.mean(axis=0)
    yc = y - y.mean()
    r2 = subset_r2(x.T @ x, x.T @ yc, float(yc @ yc))
    for mask in range(1, 16):
        columns = [j for j in range(4) if mask >> j & 1]
        assert r2[mask] == pytest.approx(ols_r2(y, values[:, columns]), abs=1e-10)


def test_dominance_needs_more_regions_than_maps(rng: np.random.Generator) -> None:
    """With n <= p + 1 regions there are no residual degrees of freedom: refused."""
    maps = make_maps(rng, 6, 5)
    with pytest.raises(InputError, match="6 regions for 5 receptor maps"):
        dominance_analysis(rng.normal(size=6), maps)


def test_adjusted_r2_null_matches_dominance(rng: np.random.Generator) -> None:
    """The vectorised null fits equal one full regression per null map."""
    maps = make_maps(rng, 31, 3)
    nulls = rng.normal(size=(4, 31))
    expected = [dominance_analysis(null, maps).r2_adjusted for null in nulls]
    np.testing.assert_allclose(adjusted_r2_null(nulls, maps), expected, atol=1e-10)


@pytest.mark.realdata
def test_dominance_on_hansen_maps(shared_data: Path, rng: np.random.Generator) -> None:
    """19 Hansen maps at Schaefer-100: 2**19 subsets, totals sum to the full R^2."""
    folder = shared_data / "receptors_hansen2022"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    maps = load_hansen2022(folder, 100, labels=[f"p{i}" for i in range(100)])
    values = maps.to_frame().to_numpy()
    observed = values[:, maps.targets.index("5HT2a")] + 0.5 * rng.normal(size=100)
    result = dominance_analysis(observed, maps)
    assert result.r2 == pytest.approx(ols_r2(observed, values), abs=1e-10)
    assert result.table["total_dominance"].sum() == pytest.approx(result.r2, abs=1e-10)
    top = result.table.sort_values("total_dominance").iloc[-1]["target"]
    print(f"most dominant: {top}, R2 = {result.r2:.3f}, adjusted {result.r2_adjusted:.3f}")
    assert top == "5HT2a"
