"""Claims judged by the analysis that tests them; measures matched by definition; pooling."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from dmnpharm.catalog import compare, load_catalog
from dmnpharm.catalog._claim_tests import analysis_kind, claim_test, measure_map
from dmnpharm.catalog._compare_rows import NOT_TESTABLE
from dmnpharm.catalog._pooling import pool_literature
from dmnpharm.cli import main


def _results(model: str, contrast: str, estimate: float, kind: str = "d_z") -> pd.DataFrame:
    """One results row per measure, as ``run``/``stats`` write them."""
    rows = []
    for measure in ("dmn_within_fc", "dmn_salience_fc", "dmn_fpn_fc", "dmn_anticorrelation"):
        rows.append(
            {
                "measure": measure,
                "contrast": contrast,
                "estimate": estimate,
                "ci_low": estimate - 0.05,
                "ci_high": estimate + 0.05,
                "p_fwer": 0.01,
                "effect_size": -0.8,
                "effect_size_kind": kind,
                "effect_size_ci_low": -1.2,
                "effect_size_ci_high": -0.4,
                "model": model,
                "test": model,
            }
        )
    return pd.DataFrame(rows)


def test_each_claim_names_the_analysis_that_tests_it() -> None:
    """Ego dissolution needs a rating association, normalization its own test."""
    claims = {c.id: c for c in load_catalog().claims}
    ego = claim_test(claims["psychedelic_ego_dissolution"])
    assert (ego.kind, ego.analysis, ego.rating) == (
        "association",
        "association",
        "ego_dissolution",
    )
    assert "--test-covariate ego_dissolution" in ego.command
    assert claim_test(claims["ssri_mdd_normalization"]).kind == "normalization"
    balance = claim_test(claims["stimulant_adhd_task_positive_balance"])
    assert balance.measures(("dmn_within_fc", "dmn_dan_fc")) == ("dmn_dan_fc",)
    assert claim_test(claims["psychedelic_healthy_dmn_decrease"]).kind == "mean change"
    assert claim_test(claims["antipsychotic_sz_dmn_salience"]).kind == "any change"


def test_the_kind_of_analysis_is_read_from_the_results() -> None:
    """Paired contrast, brain-behaviour slope, normalization and trend are told apart."""
    assert analysis_kind(_results("paired", "drug-placebo", -0.1)) == "mean change"
    slope = _results("brain-behaviour", "slope of (drug-placebo) on ego_dissolution", -0.1)
    assert analysis_kind(slope) == "association"
    assert analysis_kind(_results("normalization", "distance to controls", -0.1)) == (
        "normalization"
    )
    assert analysis_kind(_results("trend", "linear trend in dose_mg", 0.1)) == "dose-response"


def test_a_mean_decrease_does_not_decide_the_ego_dissolution_claim() -> None:
    """A paired decrease: the ego-dissolution claim is refused with the command to run."""
    result = compare(_results("paired", "drug-placebo", -0.1), "lsd", "healthy")
    claims = {c["id"]: c for c in result.summary["claims"]}
    ego = claims["psychedelic_ego_dissolution"]
    assert ego["verdict"] == NOT_TESTABLE
    assert "--test-covariate ego_dissolution" in ego["explanation"]
    assert claims["psychedelic_healthy_dmn_decrease"]["verdict"] == "agrees"


def test_a_slope_on_the_rating_decides_it_and_findings_are_not_compared() -> None:
    """A slope on the rating tests the association claim; findings are not compared."""
    slope = _results("brain-behaviour", "slope of (drug-placebo) on ego_dissolution", -0.1)
    result = compare(slope, "lsd", "healthy")
    claims = {c["id"]: c for c in result.summary["claims"]}
    assert claims["psychedelic_ego_dissolution"]["verdict"] == "agrees"
    assert claims["psychedelic_healthy_dmn_decrease"]["verdict"] == NOT_TESTABLE
    findings = result.rows[result.rows["kind"] == "finding"]
    assert not findings.empty
    assert (findings["verdict"] == NOT_TESTABLE).all()


def test_measures_are_matched_by_definition() -> None:
    """within_fc_DMN is dmn_within_fc; a similar-looking name is not matched."""
    table = measure_map(["within_fc_DMN", "dmn_gbc", "dmn_within_fc_custom"])
    found = dict(zip(table["results_measure"], table["catalog_measure"], strict=True))
    assert found["within_fc_DMN"] == "dmn_within_fc"
    assert found["dmn_gbc"] == "dmn_gbc"
    assert found["dmn_within_fc_custom"] == "(not in the catalog)"


def _rows(values: list[float], ses: list[float], ours: float) -> pd.DataFrame:
    base = {"kind": "finding", "measure": "dmn_within_fc", "our_effect_size_kind": "d_z"}
    return pd.DataFrame(
        [
            {
                **base,
                "literature_std_effect": v,
                "literature_std_se": s,
                "literature_std_kind": "d_z",
                "our_effect_size": ours,
            }
            for v, s in zip(values, ses, strict=True)
        ]
    )


def test_pooling_is_dersimonian_laird_with_a_prediction_interval() -> None:
    """Pooled estimate and tau^2 are DerSimonian-Laird's; the PI is Higgins et al.'s."""
    values, ses = [-0.9, -0.5, -0.2, -0.7], [0.2, 0.25, 0.3, 0.2]
    pooled = pool_literature(_rows(values, ses, ours=-0.6)).iloc[0]
    reference = combine_effects(np.array(values), np.array(ses) ** 2, method_re="chi2")
    assert pooled["pooled"] == pytest.approx(reference.mean_effect_re)
    w = 1 / np.square(ses)
    fixed = np.sum(w * values) / w.sum()
    q = np.sum(w * (np.array(values) - fixed) ** 2)
    tau2 = max(0.0, (q - 3) / (w.sum() - np.sum(w**2) / w.sum()))
    assert pooled["tau2"] == pytest.approx(tau2)
    w_re = 1 / (np.square(ses) + tau2)
    mean = np.sum(w_re * values) / w_re.sum()
    half = 4.302652729911275 * math.sqrt(tau2 + 1 / w_re.sum())  # t(0.975, 2)
    assert pooled["pi_low"] == pytest.approx(mean - half)
    assert pooled["pi_high"] == pytest.approx(mean + half)
    assert pooled["ours_in_pi"] == "inside"
    far = pool_literature(_rows(values, ses, ours=5.0)).iloc[0]
    assert far["ours_in_pi"] == "outside"
    two = pool_literature(_rows(values[:2], ses[:2], ours=-0.6)).iloc[0]
    assert two["ours_in_pi"] == "no interval"


def test_pooling_truncates_tau2_at_zero_when_q_is_below_its_df() -> None:
    """With Q < k - 1 the DerSimonian-Laird pool is the fixed-effect pool (tau^2 = 0).

    statsmodels' one-step estimate goes negative here; its fixed-effect pool is
    the reference.
    """
    values, ses = [-0.47, -0.46, -0.48], [0.2355, 0.2, 0.25]
    pooled = pool_literature(_rows(values, ses, ours=-0.5)).iloc[0]
    with warnings.catch_warnings():  # its unused HKSJ variance is negative here too
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = combine_effects(np.array(values), np.array(ses) ** 2, method_re="chi2")
    assert reference.tau2 < 0  # the untruncated estimate
    assert pooled["tau2"] == 0.0
    assert pooled["pooled"] == pytest.approx(reference.mean_effect_fe)
    assert pooled["pooled_ci_high"] - pooled["pooled"] == pytest.approx(
        1.959963984540054 * reference.sd_eff_w_fe
    )


def test_pooling_reports_imputed_bounds_and_the_reported_numbers_alone() -> None:
    """Imputed lower bounds are counted, and a pool of the reported numbers is given."""
    values, ses = [-0.9, -0.5, -0.47, -0.47], [0.2, 0.25, 0.24, 0.24]
    rows = _rows(values, ses, ours=-0.6)
    rows["literature_effect_confidence"] = ["verified", "derived", "imputed", "imputed"]
    pooled = pool_literature(rows).iloc[0]
    assert pooled["k"] == 4
    assert pooled["k_imputed"] == 2
    alone = pool_literature(_rows(values[:2], ses[:2], ours=-0.6)).iloc[0]
    assert pooled["pooled_reported"] == pytest.approx(alone["pooled"])
    assert pooled["pooled_reported_ci_low"] == pytest.approx(alone["pooled_ci_low"])
    every = pool_literature(rows.assign(literature_effect_confidence="imputed")).iloc[0]
    assert math.isnan(every["pooled_reported"])


def test_a_finding_about_another_agent_of_the_study_is_left_out() -> None:
    """Adhikari 2020 reports ketamine and midazolam: comparing ketamine keeps only its own."""
    rows = compare(_results("paired", "drug-placebo", -0.1), "ketamine", "healthy").rows
    effects = rows.loc[rows["kind"] == "finding", "literature_effect"].astype(str)
    assert effects.str.startswith("ketamine:").any()
    assert not effects.str.startswith("midazolam:").any()


def test_the_text_says_where_this_study_falls() -> None:
    """The plain-text comparison gives each pooled measure and the prediction interval."""
    from dmnpharm.catalog import comparison_text

    result = compare(_results("paired", "drug-placebo", -0.1), "lsd", "healthy")
    values, ses = [-0.9, -0.5, -0.2, -0.7], [0.2, 0.25, 0.3, 0.2]
    result.summary["pooled"] = pool_literature(_rows(values, ses, ours=-0.6)).to_dict(
        orient="records"
    )
    text = comparison_text(result)
    assert "literature pooled, dmn_within_fc (d_z, k = 4)" in text
    assert "this study inside the 95% prediction interval" in text


def test_run_drug_compares_with_the_local_catalog_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab's own study in the local catalog appears in the comparison 'run --drug' writes."""
    from dmnpharm.catalog import template_text
    from dmnpharm.config import AnalysisConfig
    from dmnpharm.io import OutputLayout
    from dmnpharm.pipeline._group import _comparison

    own = tmp_path / "own.toml"
    own.write_text(template_text(load_catalog()).replace('id = ""', 'id = "ourlab2026"'))
    local = tmp_path / "local.toml"
    monkeypatch.setenv("DMNPHARM_CATALOG", str(local))
    assert main(["catalog", "add", str(own)]) == 0
    layout = OutputLayout.analysis(tmp_path / "out")
    layout.group.mkdir(parents=True)
    config = AnalysisConfig(drug="escitalopram")
    comparison = _comparison(_results("paired", "drug-placebo", -0.1), config, layout)
    assert comparison is not None
    assert "ourlab2026" in set(comparison.rows["id"])
