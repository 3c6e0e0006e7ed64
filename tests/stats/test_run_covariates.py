"""Run-level covariates: the paired estimate is the change at equal motion (statsmodels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from dmnpharm.exceptions import InputError
from dmnpharm.stats import ModelSpec, analyse


def motion_table(rng: np.random.Generator, n: int = 16) -> pd.DataFrame:
    """Crossover where the drug raises motion and motion lowers the measure; no drug effect."""
    rows = []
    for s in range(n):
        base = rng.normal()
        for level, session in (("placebo", "ses-1"), ("drug", "ses-2"), ("other", "ses-3")):
            fd = 0.15 + rng.gamma(2.0, 0.03) + (0.08 if level == "drug" else 0.0)
            for measure in ("m1", "m2"):
                value = base - 2.0 * fd + rng.normal(0, 0.1)
                rows.append(
                    {
                        "participant_id": f"sub-{s:02d}",
                        "session_id": session,
                        "condition": level,
                        "mean_fd": fd,
                        "measure": measure,
                        "value": value,
                    }
                )
    return pd.DataFrame(rows)


def test_paired_run_covariate_equals_the_ols_intercept(rng: np.random.Generator) -> None:
    """Intercept of change ~ 1 + change in mean FD (uncentred), as statsmodels fits it."""
    table = motion_table(rng)
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"))
    plain = analyse(table, spec, 999).results.set_index("measure")
    adjusted_spec = ModelSpec(
        within="condition", contrast=("drug", "placebo"), run_covariates=("mean_fd",)
    )
    adjusted = analyse(table, adjusted_spec, 999)
    res = adjusted.results.set_index("measure")
    for measure in ("m1", "m2"):
        wide = table[table["measure"] == measure].pivot_table(
            index="participant_id", columns="condition", values=["value", "mean_fd"]
        )
        frame = pd.DataFrame(
            {
                "d": wide["value"]["drug"] - wide["value"]["placebo"],
                "dfd": wide["mean_fd"]["drug"] - wide["mean_fd"]["placebo"],
            }
        )
        ols = smf.ols("d ~ 1 + dfd", data=frame).fit()
        assert res.loc[measure, "estimate"] == pytest.approx(ols.params["Intercept"], rel=1e-8)
        assert res.loc[measure, "statistic"] == pytest.approx(ols.tvalues["Intercept"], rel=1e-8)
    # motion made a spurious drug "effect"; adjusted for it, the CI covers zero
    assert plain.loc["m1", "ci_high"] < 0
    assert res.loc["m1", "ci_low"] < 0 < res.loc["m1", "ci_high"]
    assert "change at equal mean_fd" in adjusted.summary


def test_repeated_measures_take_a_run_covariate(rng: np.random.Generator) -> None:
    """F over three levels with mean FD beside the subject intercepts equals statsmodels."""
    table = motion_table(rng)
    spec = ModelSpec(within="condition", run_covariates=("mean_fd",))
    res = analyse(table, spec, 499).results.set_index("measure")
    sub = table[table["measure"] == "m1"]
    full = smf.ols("value ~ C(condition) + mean_fd + C(participant_id)", data=sub).fit()
    reduced = smf.ols("value ~ mean_fd + C(participant_id)", data=sub).fit()
    f_value = ((reduced.ssr - full.ssr) / 2) / (full.ssr / full.df_resid)
    assert res.loc["m1", "statistic"] == pytest.approx(f_value, rel=1e-8)


def test_run_covariates_are_checked(rng: np.random.Generator) -> None:
    """A missing or non-numeric run covariate, or one without a within factor, is refused."""
    table = motion_table(rng)
    with pytest.raises(InputError, match="run covariate column 'mean_df'"):
        analyse(table, ModelSpec(within="condition", run_covariates=("mean_df",)), 99)
    broken = table.assign(mean_fd=table["mean_fd"].astype(object))
    broken.loc[3, "mean_fd"] = "n/a"
    with pytest.raises(InputError, match="must be a number for every run"):
        analyse(
            broken,
            ModelSpec(
                within="condition", contrast=("drug", "placebo"), run_covariates=("mean_fd",)
            ),
            99,
        )
    with pytest.raises(InputError, match="need a within-subject factor"):
        analyse(
            table.assign(group="a"), ModelSpec(between="group", run_covariates=("mean_fd",)), 99
        )


def test_stats_command_takes_a_run_covariate(rng: np.random.Generator, tmp_path: Path) -> None:
    """``dmnpharm stats --run-covariate mean_fd`` gives the same estimates as the API."""
    from dmnpharm.cli import main

    table = motion_table(rng)
    source = tmp_path / "metrics.tsv"
    table.to_csv(source, sep="\t", index=False)
    out = tmp_path / "stats"
    args = ["--within", "condition", "--contrast", "drug-placebo", "--run-covariate", "mean_fd"]
    assert (
        main(["stats", str(source), "--out", str(out), *args, "--permutations", "99", "-q"]) == 0
    )
    written = pd.read_csv(out / "results.tsv", sep="\t").set_index("measure")
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"), run_covariates=("mean_fd",))
    expected = analyse(table, spec, 99).results.set_index("measure")
    np.testing.assert_allclose(written["estimate"], expected["estimate"], rtol=1e-10)
