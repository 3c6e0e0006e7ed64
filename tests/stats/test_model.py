"""Group models from tidy tables: right test per design, equal to scipy/statsmodels, calibrated."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from dmnpharm.exceptions import InputError
from dmnpharm.stats import EXTRA_COLUMNS, RESULT_COLUMNS, ModelSpec, analyse, paired_test

MEASURES = ("m1", "m2", "m3")


def _table(
    rng: np.random.Generator,
    n: int,
    levels: tuple[str, ...] = ("placebo", "drug"),
    effect: float = 0.0,
    n_measures: int = 3,
) -> pd.DataFrame:
    """Long table: n subjects x levels x measures, subject random intercepts, covariates."""
    rows = []
    group = np.where(np.arange(n) % 2 == 0, "patient", "control")
    site = np.array([f"site{i % 3 + 1}" for i in range(n)])
    age = rng.uniform(20, 60, n).round(1)
    rating = rng.normal(50, 10, n)
    for s in range(n):
        base = rng.normal(0, 1, n_measures)
        for k, level in enumerate(levels):
            noise = rng.normal(0, 1, n_measures)
            for j in range(n_measures):
                rows.append(
                    {
                        "participant_id": f"sub-{s:02d}",
                        "session_id": f"ses-{k + 1}",
                        "condition": level,
                        "dose_mg": 10.0 * k,
                        "group": group[s],
                        "site": site[s],
                        "age": age[s],
                        "rating": rating[s],
                        "measure": f"m{j + 1}",
                        "value": base[j] + noise[j] + effect * k * (j == 0),
                    }
                )
    return pd.DataFrame(rows)


def _wide(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    return table[table["measure"] == measure].pivot_table(
        index="participant_id", columns="condition", values="value"
    )


def test_paired_equals_ttest_rel_and_the_skeleton(rng: np.random.Generator) -> None:
    """Paired model: t and p equal scipy.stats.ttest_rel; results equal paired_test."""
    table = _table(rng, 15, effect=0.8)
    res = analyse(table, ModelSpec(within="condition", contrast=("drug", "placebo")), 999)
    assert list(res.results.columns) == list(RESULT_COLUMNS + EXTRA_COLUMNS)
    for i, measure in enumerate(MEASURES):
        w = _wide(table, measure)
        ref = sps.ttest_rel(w["drug"], w["placebo"])
        row = res.results.iloc[i]
        assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-8)
        assert row["p_parametric"] == pytest.approx(ref.pvalue, rel=1e-8)
        diff = w["drug"] - w["placebo"]
        assert row["effect_size"] == pytest.approx(diff.mean() / diff.std(ddof=1), rel=1e-10)
        assert row["effect_size_ci_low"] < row["effect_size"] < row["effect_size_ci_high"]
    skeleton = paired_test(table, ("drug", "placebo"), 999)
    pd.testing.assert_frame_equal(
        res.results[list(RESULT_COLUMNS)].drop(columns=["test", "exchangeability"]),
        skeleton.drop(columns=["test", "exchangeability"]),
    )
    assert "Sign flips" in res.summary


def test_interaction_equals_ttest_ind_on_changes(rng: np.random.Generator) -> None:
    """Group x time: the pooled t on per-subject changes, patient minus control."""
    table = _table(rng, 20, ("pre", "post"))
    spec = ModelSpec(
        within="condition",
        contrast=("post", "pre"),
        between="group",
        between_contrast=("patient", "control"),
    )
    res = analyse(table, spec, 999)
    groups = table.groupby("participant_id")["group"].first()
    for i, measure in enumerate(MEASURES):
        w = _wide(table, measure)
        change = w["post"] - w["pre"]
        ref = sps.ttest_ind(change[groups == "patient"], change[groups == "control"])
        row = res.results.iloc[i]
        assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-8)
        assert row["p_parametric"] == pytest.approx(ref.pvalue, rel=1e-8)
        assert row["estimate"] == pytest.approx(
            change[groups == "patient"].mean() - change[groups == "control"].mean()
        )
    assert res.results["effect_size_kind"].eq("hedges_g").all()


def test_brain_behaviour_equals_pearsonr(rng: np.random.Generator) -> None:
    """Change vs rating: parametric p equals scipy.stats.pearsonr, effect size is r."""
    table = _table(rng, 18)
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"), test_covariate="rating")
    res = analyse(table, spec, 999)
    rating = table.groupby("participant_id")["rating"].first()
    for i, measure in enumerate(MEASURES):
        w = _wide(table, measure)
        ref = sps.pearsonr(rating, w["drug"] - w["placebo"])
        row = res.results.iloc[i]
        assert row["effect_size"] == pytest.approx(ref.statistic, rel=1e-8)
        assert row["p_parametric"] == pytest.approx(ref.pvalue, rel=1e-8)


def test_repeated_f_equals_anova_rm_and_trend_equals_ols(rng: np.random.Generator) -> None:
    """Several doses: F equals statsmodels AnovaRM; the dose trend equals OLS with subjects."""
    table = _table(rng, 12, ("placebo", "low", "mid", "high"), effect=0.3)
    res_f = analyse(table, ModelSpec(within="condition"), 499)
    res_t = analyse(table, ModelSpec(within="condition", trend="dose_mg"), 499)
    for i, measure in enumerate(MEASURES):
        sub = table[table["measure"] == measure]
        anova = AnovaRM(sub, "value", "participant_id", within=["condition"]).fit()
        assert res_f.results.iloc[i]["statistic"] == pytest.approx(
            anova.anova_table["F Value"].iloc[0], rel=1e-8
        )
        assert res_f.results.iloc[i]["p_parametric"] == pytest.approx(
            anova.anova_table["Pr > F"].iloc[0], rel=1e-8
        )
        ols = smf.ols("value ~ dose_mg + C(participant_id)", data=sub).fit()
        assert res_t.results.iloc[i]["statistic"] == pytest.approx(
            ols.tvalues["dose_mg"], rel=1e-8
        )
        assert res_t.results.iloc[i]["estimate"] == pytest.approx(ols.params["dose_mg"], rel=1e-8)
    assert "within subject" in res_f.summary


def test_groups_with_covariates_and_site_equal_ols(rng: np.random.Generator) -> None:
    """Observational contrast with age and site: t equals the OLS formula fit."""
    table = _table(rng, 30, ("rest",))
    spec = ModelSpec(
        between="group",
        between_contrast=("patient", "control"),
        covariates=("age",),
        block="site",
    )
    res = analyse(table, spec, 499)
    for i, measure in enumerate(MEASURES):
        sub = table[table["measure"] == measure]
        ols = smf.ols("value ~ C(group, Treatment('control')) + age + C(site)", data=sub).fit()
        name = "C(group, Treatment('control'))[T.patient]"
        assert res.results.iloc[i]["estimate"] == pytest.approx(ols.params[name], rel=1e-8)
        assert res.results.iloc[i]["statistic"] == pytest.approx(ols.tvalues[name], rel=1e-8)
        assert res.results.iloc[i]["p_parametric"] == pytest.approx(ols.pvalues[name], rel=1e-8)
    assert "within the same site" in res.summary


SPECS = {
    "paired": ModelSpec(within="condition", contrast=("drug", "placebo")),
    "paired+covariate": ModelSpec(
        within="condition", contrast=("drug", "placebo"), covariates=("age",)
    ),
    "interaction": ModelSpec(
        within="condition",
        contrast=("drug", "placebo"),
        between="group",
        between_contrast=("patient", "control"),
    ),
    "brain-behaviour": ModelSpec(
        within="condition", contrast=("drug", "placebo"), test_covariate="rating"
    ),
    "repeated F": ModelSpec(within="condition"),
    "groups+site": ModelSpec(
        between="group", between_contrast=("patient", "control"), block="site"
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_design_is_calibrated_under_the_null(rng: np.random.Generator, name: str) -> None:
    """No effect: per-test and family-wise rates at 0.05 are within Monte Carlo error.

    200 simulated studies of 16 subjects x 8 measures per design (1,600 tests): the
    per-test rate must lie in 0.05 +/- 0.02 (3.7 SE) and the FWER in 0.05 +/- 0.045
    (2.9 SE).
    """
    levels = ("placebo", "drug", "third") if name == "repeated F" else ("placebo", "drug")
    unc, fwer = [], []
    for i in range(200):
        table = _table(rng, 16, levels, n_measures=8)
        res = analyse(table, SPECS[name], 99, seed=i, n_bootstrap=0).results
        unc.append(res["p_uncorrected"] <= 0.05)
        fwer.append(res["p_fwer"].min() <= 0.05)
    assert np.mean(unc) == pytest.approx(0.05, abs=0.02)
    assert np.mean(fwer) == pytest.approx(0.05, abs=0.045)


def test_bad_input_is_explained(rng: np.random.Generator) -> None:
    """Unknown levels and columns get suggestions; missing conditions refuse or drop."""
    table = _table(rng, 6)
    with pytest.raises(InputError, match="did you mean 'drug'"):
        analyse(table, ModelSpec(within="condition", contrast=("drugs", "placebo")))
    with pytest.raises(InputError, match="did you mean 'condition'"):
        analyse(table, ModelSpec(within="conditon", contrast=("drug", "placebo")))
    gap = table[~((table["participant_id"] == "sub-03") & (table["condition"] == "drug"))]
    with pytest.raises(InputError, match="sub-03: no drug"):
        analyse(gap, ModelSpec(within="condition", contrast=("drug", "placebo")))
    dropped = analyse(
        gap, ModelSpec(within="condition", contrast=("drug", "placebo"), incomplete="drop"), 99
    )
    assert dropped.dropped == ("sub-03: no drug",)
    assert dropped.results["n"].eq(5).all()
    one = table[table["participant_id"] == "sub-00"]
    with pytest.raises(InputError, match="at least 2 subjects"):
        analyse(one, ModelSpec(within="condition", contrast=("drug", "placebo")))
    nan = table.assign(value=table["value"].where(table.index != 4))
    with pytest.raises(InputError, match="non-finite"):
        analyse(nan, ModelSpec(within="condition", contrast=("drug", "placebo")))
    with pytest.raises(InputError, match="tests nothing"):
        analyse(table, ModelSpec())
    with pytest.raises(InputError, match="constant within subject"):
        analyse(table, ModelSpec(test_covariate="dose_mg"))
