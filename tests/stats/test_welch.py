"""Unequal variances: the G statistic equals Welch's t and keeps two-group tests calibrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from dmnpharm.stats import ModelSpec, analyse, permutation_glm
from dmnpharm.stats._welch import welch_glm


def test_two_groups_give_welchs_t_test(rng: np.random.Generator) -> None:
    """No covariates: statistic, p and df equal scipy's ttest_ind(equal_var=False)."""
    in_a = np.repeat([True, False], [9, 21])
    y = rng.normal(size=(30, 4)) * np.where(in_a, 2.0, 1.0)[:, None]
    x = np.column_stack([np.ones(30), in_a.astype(float)])
    res = welch_glm(y, x, [0, 1], in_a, n_permutations=499, seed=1)
    welch = sps.ttest_ind(y[in_a], y[~in_a], equal_var=False)
    np.testing.assert_allclose(res.statistic, welch.statistic, rtol=1e-10)
    np.testing.assert_allclose(res.p_parametric, welch.pvalue, rtol=1e-8)
    np.testing.assert_allclose(res.df[1], welch.df, rtol=1e-10)


def test_with_a_covariate_it_is_weighted_least_squares(rng: np.random.Generator) -> None:
    """Estimate and SE equal statsmodels WLS with 1 / (group residual variance) weights."""
    n = 28
    in_a = np.arange(n) < 8
    age = rng.uniform(20, 60, n)
    y = 0.02 * age + rng.normal(size=n) * np.where(in_a, 2.5, 1.0)
    x = np.column_stack([np.ones(n), in_a.astype(float), age - age.mean()])
    res = welch_glm(y, x, [0, 1, 0], in_a, n_permutations=99)
    ols = sm.OLS(y, x).fit()
    hat = x @ np.linalg.pinv(x)
    weights = np.empty(n)
    for group in (in_a, ~in_a):
        trace = np.sum(1 - np.diag(hat)[group])
        weights[group] = trace / np.sum(ols.resid[group] ** 2)
    wls = sm.WLS(y, x, weights=weights).fit()
    assert res.estimate[0] == pytest.approx(wls.params[1], rel=1e-10)
    assert res.se[0] == pytest.approx(np.sqrt(wls.normalized_cov_params[1, 1]), rel=1e-10)


def _null_study(rng: np.random.Generator) -> pd.DataFrame:
    """24 controls and 8 patients whose SD is 2.5 times larger; no group difference."""
    rows = []
    for s in range(32):
        patient = s < 8
        value = rng.normal() * (2.5 if patient else 1.0)
        rows.append(
            {
                "participant_id": f"sub-{s:02d}",
                "group": "patient" if patient else "control",
                "measure": "m1",
                "value": value,
            }
        )
    return pd.DataFrame(rows)


def test_unequal_groups_and_variances_stay_calibrated() -> None:
    """250 null studies, 24 vs 8, SD ratio 2.5: G near 0.05 where OLS permutation is not."""
    rng = np.random.default_rng(7)
    spec = ModelSpec(between="group", between_contrast=("patient", "control"))
    ols = ModelSpec(
        between="group", between_contrast=("patient", "control"), variance_groups="off"
    )
    g_hits, ols_hits = [], []
    for seed in range(250):
        table = _null_study(rng)
        g_hits.append(analyse(table, spec, 199, seed).results["p_uncorrected"].iloc[0] < 0.05)
        ols_hits.append(analyse(table, ols, 199, seed).results["p_uncorrected"].iloc[0] < 0.05)
    se = np.sqrt(0.05 * 0.95 / 250)
    assert abs(np.mean(g_hits) - 0.05) < 3 * se, np.mean(g_hits)
    assert np.mean(ols_hits) > 0.05 + 3 * se, np.mean(ols_hits)


def test_equal_groups_keep_ordinary_least_squares(rng: np.random.Generator) -> None:
    """Equal sizes: auto keeps the OLS t (robust there), which permutation_glm gives."""
    table = _null_study(rng)
    table["group"] = np.where(np.arange(32) % 2 == 0, "patient", "control")
    spec = ModelSpec(between="group", between_contrast=("patient", "control"))
    result = analyse(table, spec, 99)
    assert "Aspin-Welch" not in result.summary
    x = np.column_stack([np.ones(32), (table["group"] == "patient").to_numpy(float) - 0.5])
    ref = permutation_glm(table["value"].to_numpy(), x, [0, 1], n_permutations=99)
    assert result.results["statistic"].iloc[0] == pytest.approx(ref.statistic[0], rel=1e-10)


def test_permuted_g_ranks_permutations_by_their_welch_p(rng: np.random.Generator) -> None:
    """Permute mode: p counts permutations whose scipy Welch p is at most the observed one."""
    from dmnpharm.stats._glm import Exchangeability, draw_permutations

    in_a = np.repeat([True, False], [14, 6])
    y = np.exp(rng.normal(size=(20, 2))) * np.where(in_a, 1.0, 2.0)[:, None]
    x = np.column_stack([np.ones(20), in_a.astype(float)])
    exch = Exchangeability("permute", None, "subjects permuted")
    res = welch_glm(y, x, [0, 1], in_a, n_permutations=299, seed=3, exchangeability=exch)
    perms = draw_permutations(exch, 20, 299, np.random.default_rng(3))
    for m in range(2):
        observed = sps.ttest_ind(y[in_a, m], y[~in_a, m], equal_var=False).pvalue
        permuted = np.array(
            [sps.ttest_ind(y[p][in_a, m], y[p][~in_a, m], equal_var=False).pvalue for p in perms]
        )
        expected = (1 + np.sum(permuted <= observed * (1 + 1e-9))) / 300
        assert res.p_uncorrected[m] == pytest.approx(expected)
        np.testing.assert_allclose(res.p_parametric[m], observed, rtol=1e-8)


@pytest.mark.parametrize("n_groups", [2, 3])
def test_null_weights_from_projections_equal_formed_residuals(
    rng: np.random.Generator, n_groups: int
) -> None:
    """The permutations' weights (no residuals formed) equal tr_g(R) / e_g'e_g to 1e-10."""
    from dmnpharm.stats._welch import _Groups

    n = 45
    groups = np.arange(n) % n_groups
    x = np.column_stack(
        [np.ones(n), groups == 1, rng.normal(size=n), rng.uniform(20, 60, n)]
    ).astype(float)
    model = _Groups(x, groups)
    data = rng.normal(size=(n, 6)) * (1 + groups)[:, None] + 3 * (groups == 1)[:, None]
    shuffled = np.stack([data[rng.permutation(n)] for _ in range(20)])  # permuted rows
    flipped = rng.choice([-1.0, 1.0], size=(20, n, 1)) * data[None]  # sign flips
    for m in (shuffled, flipped):
        per_group = model.x_by_group[None] @ m[:, None]
        np.testing.assert_allclose(model.weights_from(m, per_group), model.weights(m), rtol=1e-10)
    # Values the design fits exactly leave no residual: infinite weights, where the formed
    # residuals leave rounding (weights of 1e20 and more).
    exact = (x @ [1.0, 2.0, 0.5, 0.01])[None, :, None]
    weights = model.weights_from(exact, model.x_by_group[None] @ exact[:, None])
    assert np.isposinf(weights).all()
    assert (model.weights(exact) > 1e20).all()


@pytest.mark.parametrize("kind", ["permute", "sign-flip"])
def test_a_group_without_variance_gives_welchs_limit(rng: np.random.Generator, kind: str) -> None:
    """A measure constant within one group: Welch's t with that variance zero, no error."""
    from dmnpharm.stats._glm import Exchangeability

    in_a = np.repeat([False, True], [16, 8])
    y = rng.normal(size=(24, 3))
    y[in_a, 1] = 1.5  # constant in the smaller group
    y[:, 2] = 3.0  # constant everywhere: nothing to test
    x = np.column_stack([np.ones(24), in_a.astype(float)])
    res = welch_glm(y, x, [0, 1], in_a, 199, 3, Exchangeability(kind, None, ""))
    # Welch's t and df in closed form (scipy warns about the zero variance).
    a, b = y[in_a, :2], y[~in_a, :2]
    share_a, share_b = a.var(axis=0, ddof=1) / 8, b.var(axis=0, ddof=1) / 16
    t = (a.mean(axis=0) - b.mean(axis=0)) / np.sqrt(share_a + share_b)
    df = (share_a + share_b) ** 2 / (share_a**2 / 7 + share_b**2 / 15)
    np.testing.assert_allclose(res.statistic[:2], t, rtol=1e-6)
    np.testing.assert_allclose(res.df[1][:2], df, rtol=1e-6)
    np.testing.assert_allclose(res.p_parametric[:2], 2 * sps.t.sf(np.abs(t), df), rtol=1e-5)
    assert res.p_uncorrected[1] < 0.05  # the constant group differs from the other
    assert (res.statistic[2], res.p_uncorrected[2]) == (0.0, 1.0)
