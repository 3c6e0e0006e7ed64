"""Mixed models: Satterthwaite t equals the paired t when balanced, and stays calibrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.regression.mixed_linear_model import MixedLM

from dmnpharm.stats import ModelSpec, mixed_model

SPEC = ModelSpec(within="condition", contrast=("drug", "placebo"))


def crossover(
    rng: np.random.Generator, n: int, effect: float = 0.0, missing: int = 0, measures: int = 2
) -> pd.DataFrame:
    """Subjects with random intercepts under placebo and drug; ``missing`` lack the drug run."""
    rows = []
    for s in range(n):
        intercept = rng.normal(0, 1.0, measures)
        for condition in ("placebo", "drug"):
            if condition == "drug" and s < missing:
                continue
            for m in range(measures):
                value = intercept[m] + rng.normal(0, 0.7) + (effect if condition == "drug" else 0)
                rows.append(
                    {
                        "participant_id": f"sub-{s:02d}",
                        "condition": condition,
                        "site": f"site-{s % 3}",
                        "measure": f"m{m}",
                        "value": value,
                    }
                )
    return pd.DataFrame(rows)


def test_balanced_complete_data_give_the_paired_t_test(rng: np.random.Generator) -> None:
    """Every subject under both conditions: t, df n - 1 and p equal scipy's ttest_rel."""
    table = crossover(rng, 12, effect=0.4)
    res = mixed_model(table, SPEC).results.set_index("measure")
    for measure in ("m0", "m1"):
        wide = table[table["measure"] == measure].pivot_table(
            index="participant_id", columns="condition", values="value"
        )
        reference = sps.ttest_rel(wide["drug"], wide["placebo"])
        if res.loc[measure, "df"] != pytest.approx(11.0, abs=1e-3):
            # A boundary fit (subject variance 0) is OLS: n_obs - p degrees of freedom.
            assert res.loc[measure, "df"] == pytest.approx(22.0)
            continue
        assert res.loc[measure, "statistic"] == pytest.approx(reference.statistic, rel=1e-4)
        assert res.loc[measure, "p_parametric"] == pytest.approx(reference.pvalue, rel=1e-3)


def test_missing_sessions_follow_statsmodels_and_gls(rng: np.random.Generator) -> None:
    """Two subjects lack the drug run: statsmodels' estimate, the GLS SE, df below OLS's."""
    table = crossover(rng, 12, effect=0.3, missing=2)
    res = mixed_model(table, SPEC).results.set_index("measure")
    for measure in ("m0", "m1"):
        sub = table[table["measure"] == measure]
        x = np.column_stack([np.ones(len(sub)), (sub["condition"] == "drug").astype(float)])
        fit = MixedLM(sub["value"].to_numpy(), x, groups=sub["participant_id"]).fit(reml=True)
        assert res.loc[measure, "estimate"] == pytest.approx(fit.fe_params[1], rel=1e-6)
        se = (res.loc[measure, "ci_high"] - res.loc[measure, "estimate"]) / sps.t.ppf(
            0.975, res.loc[measure, "df"]
        )
        # The fixed effects' covariance as lme4 and lmerTest take it: the GLS
        # (X' V^-1 X)^-1 at the REML variances, built here as explicit matrices.
        # (statsmodels' bse_fe comes from its own Hessian and differs near a boundary.)
        s_u, s_e = float(np.asarray(fit.cov_re)[0, 0]), float(fit.scale)
        same = sub["participant_id"].to_numpy()[:, None] == sub["participant_id"].to_numpy()
        v = s_e * np.eye(len(sub)) + s_u * same
        gls = np.linalg.inv(x.T @ np.linalg.solve(v, x))
        assert se == pytest.approx(np.sqrt(gls[1, 1]), rel=1e-6)
        # fewer than OLS's n - p; the exact value is checked in the balanced case (n - 1)
        assert 1.0 < res.loc[measure, "df"] < len(sub) - 2


def test_a_measure_that_cannot_be_fitted_is_reported_and_the_others_go_on(
    rng: np.random.Generator,
) -> None:
    """A constant measure is 'not estimable' with NaN p; Holm runs over the others."""
    table = crossover(rng, 10, effect=0.5, measures=3)
    table.loc[table["measure"] == "m2", "value"] = 1.0
    result = mixed_model(table, SPEC)
    res = result.results.set_index("measure")
    assert np.isnan(res.loc["m2", "p_parametric"])
    assert np.isnan(res.loc["m2", "p_fwer"])
    assert np.isfinite(res.loc[["m0", "m1"], "p_fwer"]).all()
    assert "m2: not estimable" in result.summary


def test_a_text_covariate_is_dummy_coded(rng: np.random.Generator) -> None:
    """A site column of text enters as site dummies instead of failing."""
    table = crossover(rng, 12, effect=0.4, missing=1)
    result = mixed_model(
        table, ModelSpec(within="condition", contrast=("drug", "placebo"), covariates=("site",))
    )
    assert "site=site-1" in result.summary
    assert np.isfinite(result.results["p_parametric"]).all()
