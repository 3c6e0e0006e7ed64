"""Power analysis: calibrated under the null, agrees with noncentral-t power, right contrasts."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as sps

from dmnpharm.exceptions import InputError
from dmnpharm.simulate import (
    POWER_COLUMNS,
    Condition,
    DesignSpec,
    Effect,
    SignalSpec,
    StudySpec,
    load_preset,
    main_contrast,
    power_analysis,
)

#: Short runs keep these tests fast; power depends on them only through the noise.
SHORT = SignalSpec(n_volumes=60)


def test_null_spec_rejects_at_alpha() -> None:
    """No planted effect: the share of significant studies is alpha.

    400 crossover studies of 12 and 400 parallel studies of 12: each rate within
    0.05 +/- 0.035 (about 3 binomial SE).
    """
    crossover = StudySpec(signal=SHORT, effects=(Effect("within_fc", 0.0, "DMN"),))
    parallel = replace(crossover, design=DesignSpec(kind="parallel", n_subjects=12))
    for spec in (crossover, parallel):
        result = power_analysis(spec, [12], 400, n_permutations=199, seed=3)
        assert result.table["power"].iloc[0] == pytest.approx(0.05, abs=0.035)


def test_power_matches_noncentral_t_at_the_simulated_effect() -> None:
    """Crossover power equals the paired t test's noncentral-t power for the same d_z.

    d_z is estimated from the simulated differences themselves (pooled over
    studies); the Monte Carlo power must lie within 3 SE (plus 0.02 for the
    permutation vs t difference) of the analytic value, and rise with n.
    """
    spec = replace(load_preset("crossover-ssri-healthy"), signal=SHORT)
    result = power_analysis(spec, [8, 16], 300, n_permutations=255, seed=1)
    table = result.table.set_index("n_subjects")
    assert list(result.table.columns) == list(POWER_COLUMNS)
    assert table.loc[16, "power"] > table.loc[8, "power"]
    for n in (8, 16):
        studies = result.studies[result.studies["n_subjects"] == n]
        # a study's estimate is a mean of n differences: SD of one difference = SD * sqrt(n)
        d_z = studies["estimate"].mean() / np.sqrt(studies["estimate"].var() * n)
        df = n - 1
        crit = sps.t.ppf(0.975, df)
        nc = abs(d_z) * np.sqrt(n)
        analytic = sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc)
        power = table.loc[n, "power"]
        se = np.sqrt(analytic * (1 - analytic) / 300)
        assert abs(power - analytic) < 3 * se + 0.02, (n, power, analytic)
        assert table.loc[n, "power_ci_low"] <= power <= table.loc[n, "power_ci_high"]


def test_main_contrast_follows_the_design() -> None:
    """Each design kind gets the test its analysis uses, on the planted FC measure."""
    crossover = main_contrast(load_preset("dose-response"))
    assert (crossover.test, crossover.condition_a, crossover.condition_b) == (
        "paired sign-flip",
        "dose20",
        "placebo",
    )
    trial = main_contrast(load_preset("antipsychotic-trial"))
    assert trial.test == "two-sample permutation"
    assert trial.target.name == "within_fc_DMN"
    cohort = main_contrast(load_preset("cohort-observational"))
    assert (cohort.condition_a, cohort.condition_b) == ("ssri", "none")
    between = main_contrast(load_preset("adhd-stimulant"))
    assert between.target.name == "between_fc_DMN_DAN"
    chosen = main_contrast(load_preset("psychedelic-crossover"), measure="between_fc_DMN_SN")
    assert chosen.target.networks == ("DMN", "SN")


def test_trial_and_cohort_designs_run() -> None:
    """Between-subject contrasts run end to end and estimate the planted direction."""
    trial = replace(load_preset("antipsychotic-trial"), signal=SHORT)
    result = power_analysis(trial, [20], 40, n_permutations=99)
    # patients start 0.06 above controls; the drug removes 0.5, placebo 0.1 of it
    assert result.table["mean_estimate"].iloc[0] < 0
    cohort = replace(load_preset("cohort-observational"), signal=SHORT)
    result = power_analysis(cohort, [20], 20, n_permutations=99)
    assert result.table["n_studies"].iloc[0] == 20


def test_power_rejects_bad_requests() -> None:
    """Bad sample sizes, measures and alpha fail with a clear message."""
    spec = replace(load_preset("demo-crossover"), signal=SHORT)
    with pytest.raises(InputError, match="counterbalanced"):
        power_analysis(spec, [11], 5)
    with pytest.raises(InputError, match="connectivity measure"):
        power_analysis(spec, [10], 5, measure="amplitude_DMN")
    with pytest.raises(InputError, match="alpha"):
        power_analysis(spec, [10], 5, alpha=1.5)
    with pytest.raises(InputError, match="at least 2"):
        power_analysis(spec, [1], 5)
    no_fc = StudySpec(effects=(Effect("motion", 0.05),))
    with pytest.raises(InputError, match="no connectivity effect"):
        main_contrast(no_fc)
    three_arms = DesignSpec(
        kind="parallel",
        n_subjects=12,
        conditions=(Condition("placebo"), Condition("low", 1.0), Condition("high", 2.0)),
    )
    assert main_contrast(replace(spec, design=three_arms)).condition_a == "high"


def test_progress_bar_at_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal a bar counts the sample sizes; in a pipe nothing is drawn."""
    import logging
    import sys

    from dmnpharm._utils import get_logger

    spec = StudySpec(signal=SignalSpec(n_volumes=30), effects=(Effect("within_fc", 0.1, "DMN"),))
    power_analysis(spec, [6, 8], 4, n_permutations=19, seed=0)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(get_logger(), "level", logging.INFO)
    power_analysis(spec, [6, 8], 4, n_permutations=19, seed=0)
    assert "simulating and testing 4 studies per size" in capsys.readouterr().err
