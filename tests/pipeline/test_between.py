"""An analysis of an observational cohort: the between-subject design."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from dmnpharm import AnalysisConfig, Inference, Study
from dmnpharm.config import between_model, paired_model
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study
from dmnpharm.stats import analyse

MODEL = between_model("medication", ("ssri", "none"), covariates=("age",), block="site")
CONFIG = AnalysisConfig(
    inference=Inference(n_permutations=499), denoise=DenoiseConfig("6p"), model=MODEL
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write 24 patients and 12 controls over 4 sites, one 80-volume run each.

    Seed 7 puts at least two SSRI and two unmedicated participants at every site.
    """
    base = load_preset("cohort-observational", seed=7)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=24, n_controls=12),
        signal=SignalSpec(n_volumes=80, repetition_time=2.0),
    )
    return write_simulated_study(simulate_study(spec), tmp_path_factory.mktemp("c") / "study")


def test_between_design_matches_least_squares(cohort: Path, tmp_path: Path) -> None:
    """Unequal groups get their own variances (G); with them off, statsmodels OLS.

    One analysis of the cohort: its default model is the G statistic (the SSRI and
    unmedicated groups differ in size), said in model.txt; the same metrics under
    ``variance_groups="off"`` give the estimates and t of statsmodels OLS of
    value ~ medication + age + site per measure.
    """
    result = Study.from_folder(cohort).analyse(CONFIG, tmp_path / "out")
    model = (tmp_path / "out" / "group" / "model.txt").read_text()
    assert "Aspin-Welch" in model
    assert "of the Freedman-Lane residuals; each permutation's G converted to z" in model
    assert "site" in model
    assert result.results["df"].between(1, result.results["n"].iloc[0]).all()
    participants = pd.read_csv(cohort / "participants.tsv", sep="\t")
    metrics = result.metrics
    assert set(metrics["participant_id"]) == set(participants["participant_id"])
    ols = analyse(metrics, replace(MODEL, variance_groups="off"), 99).results.set_index("measure")
    for measure in ("dmn_within_fc", "dmn_salience_fc", "dmn_alff"):
        rows = metrics[metrics["measure"] == measure]
        values = rows.groupby("participant_id")["value"].mean().rename("value")
        table = participants.set_index("participant_id").join(values)
        table = table[table["medication"].isin(["ssri", "none"])]
        table["ssri"] = (table["medication"] == "ssri").astype(float)
        fit = smf.ols("value ~ ssri + age + C(site)", data=table).fit()
        ours = ols.loc[measure]
        assert ours["estimate"] == pytest.approx(fit.params["ssri"], rel=1e-8, abs=1e-12)
        assert ours["statistic"] == pytest.approx(fit.tvalues["ssri"], rel=1e-6)
        assert ours["n"] == len(table)
    assert result.results["p_fwer"].between(0, 1).all()
    assert not (tmp_path / "out" / "group" / "paired_differences.tsv").exists()
    report = (tmp_path / "out" / "report.html").read_text()
    assert "medication" in report
    assert np.isfinite(result.results["estimate"]).all()


def test_between_design_problems_are_named_before_any_work(cohort: Path, tmp_path: Path) -> None:
    """A missing column or level names participants.tsv and suggests the fix."""
    study = Study.from_folder(cohort)
    misspelt = CONFIG.replace(model=replace(MODEL, between="medicaton"))
    with pytest.raises(StudyValidationError, match="did you mean 'medication'"):
        study.analyse(misspelt, tmp_path / "a")
    absent = CONFIG.replace(model=replace(MODEL, between_contrast=("snri", "none")))
    with pytest.raises(StudyValidationError, match="--between-contrast"):
        study.analyse(absent, tmp_path / "b")
    with pytest.raises(InputError, match="between"):
        AnalysisConfig(model=replace(paired_model(), covariates=("age",)))
    assert not (tmp_path / "a").exists()
