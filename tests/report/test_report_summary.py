"""The top of a report: the answer in one sentence, the other measures, sample and literature."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dmnpharm.catalog import compare, load_catalog
from dmnpharm.report._summary import (
    headline,
    literature_line,
    measures_line,
    rank_results,
    sample_line,
)

MINUS = "\u2212"


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "measure": "dmn_within_fc",
        "contrast": "drug-placebo",
        "estimate": -0.1302,
        "ci_low": -0.1811,
        "ci_high": -0.0793,
        "statistic": -5.2,
        "p_fwer": 0.0007,
        "effect_size": -1.2,
        "effect_size_kind": "d_z",
        "n_permutations": 1000,
        "exchangeability": "Sign flips of per-subject changes; 1000 random flips, seed 0.",
    }
    row.update(changes)
    return row


def test_a_significant_decrease_reads_as_one_sentence() -> None:
    """Direction, size, CI as magnitudes, effect size, p FWER and the flips, in one sentence."""
    text = headline(_row(), "LSD (vs placebo)", "Fisher z", 0.95, "within-DMN connectivity")
    assert text == (
        "LSD (vs placebo) lowered dmn_within_fc (within-DMN connectivity) by 0.130 Fisher z "
        f"(95% CI 0.079\u20130.181; d_z = {MINUS}1.20; p FWER = 0.0007, 1,000 sign flips)."
    )


def test_an_increase_and_an_interval_across_zero() -> None:
    """A rise is 'raised'; an interval that crosses zero keeps its signs."""
    text = headline(_row(estimate=0.5, ci_low=-0.1, ci_high=1.1, p_fwer=0.01), "drug (vs placebo)")
    assert "raised dmn_within_fc by 0.50" in text  # digits follow the widest bound, 1.10
    assert f"95% CI {MINUS}0.10 to 1.10" in text


def test_no_detectable_change_says_what_cannot_be_ruled_out() -> None:
    """Above alpha: no claim of change, the signed estimate, and absence is not evidence."""
    text = headline(_row(estimate=-0.0147, ci_low=-0.0387, ci_high=0.0093, p_fwer=0.93), "drug")
    assert text.startswith("drug: no detectable change in dmn_within_fc")
    assert f"estimate {MINUS}0.0147" in text
    assert "p FWER = 0.93" in text
    assert "Absence of evidence is not evidence of absence" in text


def test_without_a_subject_the_contrast_is_stated() -> None:
    """Any model: the row's contrast names what the estimate is; F tests give F."""
    text = headline(_row(contrast="slope on rating", effect_size_kind="pearson_r"))
    assert text.startswith(f"dmn_within_fc, slope on rating: {MINUS}0.130")
    f_test = headline(_row(estimate=np.nan, statistic=104.7, contrast="any difference"))
    assert "a difference (F = 105" in f_test
    exact = headline(_row(exchangeability="all 256 flips (exact)", n_permutations=256))
    assert "all 256 sign flips" in exact


def test_rank_results_orders_by_p_fwer_then_p_then_effect() -> None:
    """Ties in p FWER fall to the uncorrected p, then to the largest |effect|."""
    results = pd.DataFrame(
        {
            "measure": ["a", "b", "c", "d"],
            "p_fwer": [0.5, 0.01, 0.01, 0.01],
            "p_uncorrected": [0.1, 0.001, 0.001, 0.0005],
            "effect_size": [3.0, 0.2, -0.9, 0.1],
        }
    )
    assert list(rank_results(results)["measure"]) == ["d", "c", "b", "a"]


def test_measures_line_counts_and_names_the_changed_measures() -> None:
    """How many changed, how many lower, the names strongest first, then 'and N more'."""
    results = pd.DataFrame(
        {
            "measure": [f"m{k}" for k in range(12)],
            "estimate": [-1.0] * 6 + [1.0] * 4 + [0.1, 0.2],
            "p_fwer": [0.001 * (k + 1) for k in range(10)] + [0.5, 0.9],
            "p_uncorrected": [0.001] * 12,
        }
    )
    text = measures_line(results)
    assert text.startswith(
        "10 of the 12 measures tested changed at p FWER < 0.05 (6 lower, 4 higher)"
    )
    assert "m0 (lower)" in text
    assert "and 2 more" in text
    assert measures_line(results.assign(p_fwer=0.5)).startswith("None of the 12 measures")


def test_sample_line_says_when_the_model_used_fewer_participants() -> None:
    """The counts come from the fitted model's n, not from the table."""
    assert sample_line(54, [36, 36], 108, "the model") == (
        "54 participants (108 runs); 36 entered the model (18 left out, listed under Exclusions)."
    )
    assert sample_line(40, [40], 80, "the paired test").endswith("40 entered the paired test.")


def test_literature_line_gives_the_verdicts_and_the_pooled_effect() -> None:
    """The catalog's verdicts on its claims and findings, ours beside the pooled effect."""
    results = pd.DataFrame([_row(p_uncorrected=0.0001, effect_size_dz=-1.2, n=40)])
    comparison = compare(results, "lsd", "healthy", load_catalog(), source="results.tsv")
    text = literature_line(comparison)
    assert text.startswith("Beside the evidence catalog (lsd, healthy; version ")
    assert "the catalog's claims: agrees 1" in text
    assert "published findings: agrees" in text
    pooled = [p for p in comparison.summary["pooled"] if p["k"] > 1]
    if pooled:
        assert f"{pooled[0]['k']} studies" in text


def test_run_summary_puts_prediction_and_failures_first() -> None:
    """The run report's summary: headline, measures, prediction line, sample, QC warnings."""
    from dmnpharm.config import AnalysisConfig
    from dmnpharm.report import Section
    from dmnpharm.report._qc import RunQC
    from dmnpharm.report._study_report import _summary

    results = pd.DataFrame([_row(n=40, p_uncorrected=0.0001)])
    design = pd.DataFrame({"participant_id": [f"s{k // 2}" for k in range(84)]})
    prediction = Section(
        "prediction", "Prediction", "lsd at 0.1 mg: within-DMN FC decrease. Predictions come from"
    )
    summary = _summary(
        results,
        AnalysisConfig(),
        design,
        {"dmn_within_fc": "Fisher z"},
        RunQC(),
        {"failures": ["sub-9: unreadable"]},
        None,
        prediction,
    )
    assert summary.headline.startswith("drug (vs placebo) lowered dmn_within_fc")
    assert "Fisher z" in summary.headline
    assert "Prediction from receptor targets: lsd at 0.1 mg: within-DMN FC decrease." in (
        summary.lines
    )
    assert summary.lines[-1] == (
        "42 participants (84 runs); 40 entered the paired test (2 left out, listed under "
        "Exclusions)."
    )
    assert summary.warnings == ["1 run failed and is not in the results."]
