"""Report parts: permutation-null figures and section, group and covariate figures, citations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmnpharm.report import (
    ReportContent,
    covariate_figure,
    group_values_figure,
    max_null_figure,
    null_figure,
    null_section,
    references_sentence,
    render_report,
)
from dmnpharm.stats import NULL_MEASURE_LIMIT, PermutationNull, sign_flip_test
from svg_figures import svg_dots, svg_root, svg_texts


def _paired(rng: np.random.Generator, k: int) -> tuple[pd.DataFrame, PermutationNull]:
    """Results and the sign-flip null of k measures (the first with an effect)."""
    d = rng.normal(0.0, 1.0, (14, k))
    d[:, 0] += 1.2
    out = sign_flip_test(d, n_permutations=300, seed=2)
    measures = [f"m{j}" for j in range(k)]
    results = pd.DataFrame(
        {
            "measure": measures,
            "statistic": out["statistic"],
            "p_uncorrected": out["p_uncorrected"],
            "p_fwer": out["p_fwer"],
        }
    )
    kept = out["null_statistic"]
    null = PermutationNull(
        "t", out["null_maximum"], kept if kept.shape[1] else None, tuple(measures)
    )
    return results, null


def test_null_figures_are_svgs(rng: np.random.Generator) -> None:
    """Per-measure and maximum nulls render, also with infinite or off-range values."""
    null = rng.normal(size=500)
    svg_root(null_figure(null, 2.5, 3.1, "t", "m"))
    svg_root(null_figure(np.append(null, np.inf), np.inf, np.inf, "t", "constant"))
    svg_root(null_figure(rng.f(2, 20, 300), 7.0, 4.2, "F", "an F"))
    svg_root(max_null_figure(np.abs(null), [0.5, -4.0, np.inf], 3.0, "t", "maximum"))
    named = max_null_figure(np.abs(null), [0.5, -4.0, 3.5], 3.0, "t", "named", ["a", "b", "c"])
    assert {"b", "c"} <= set(svg_texts(svg_root(named)))


def test_null_section_is_one_figure_of_the_maximum(rng: np.random.Generator) -> None:
    """One figure for every measure: the maximum's null, every observed |t| marked."""
    results, null = _paired(rng, 5)
    section = null_section(results, null)
    assert section.anchor == "nulls"
    assert len(section.figures) == 1
    svg_root(section.figures[0][0])
    assert "(count + 1) / (300 + 1)" in section.note
    assert "every measure's observed |t|" in section.figures[0][1]
    assert f"all {len(results)} measures" in section.figures[0][1]


def test_null_section_with_only_the_maximum(rng: np.random.Generator) -> None:
    """More measures than the per-measure limit: still the one maximum figure."""
    results, null = _paired(rng, NULL_MEASURE_LIMIT + 1)
    assert null.per_measure is None
    section = null_section(results, null)
    assert len(section.figures) == 1
    svg_root(section.figures[0][0])


def test_group_and_covariate_figures_are_svgs(rng: np.random.Generator) -> None:
    """One value per subject by group, and against a covariate (with its line)."""
    subjects = [f"sub-{i}" for i in range(9)]
    values = pd.Series(rng.normal(size=9), index=subjects)
    groups = pd.Series(["a", "b", "c"] * 3, index=subjects)
    by_group = svg_root(group_values_figure(values, groups, ["b", "a", "absent"], "m", "z"))
    assert sum(count for _, count in svg_dots(by_group)) == 6  # groups b and a only
    assert {"b", "a", "absent", "m", "z"} <= set(svg_texts(by_group))
    scatter = svg_root(covariate_figure(rng.normal(size=9), values.to_numpy(), "m", "rating", "z"))
    assert sum(count for _, count in svg_dots(scatter)) == 9
    assert {"rating", "z"} <= set(svg_texts(scatter))
    flat = svg_root(covariate_figure(np.ones(3), [1.0, 2.0, np.nan], "flat", "x", "y"))
    assert sum(count for _, count in svg_dots(flat)) == 2  # no line through one x value


def test_references_sentence_groups_sources() -> None:
    """Measures sharing a source are cited together; plain averages and unknowns are not."""
    text = references_sentence(
        ["dmn_segregation", "dmn_within_fc", "not_a_measure", "system_segregation", "dmn_alff"],
        "tangent",
    )
    assert text.startswith("References: tangent connectivity: Varoquaux et al. 2010")
    assert "dmn_segregation and system_segregation: Chan et al. 2014" in text
    assert "dmn_alff: Zang et al. 2007" in text
    assert "dmn_within_fc is a plain average" in text
    assert "not_a_measure" not in text
    assert references_sentence(["not_a_measure"], "pearson") == ""


@pytest.mark.parametrize(
    ("kind", "header", "cell"),
    [("hedges_g", "effect size (hedges_g)", "0.50</td>"), (None, "effect size (d_z)", "0.40")],
)
def test_results_table_names_the_effect_size(kind: str | None, header: str, cell: str) -> None:
    """The effect size's kind heads its column; tables without one show d_z."""
    row = {
        "measure": "m",
        "contrast": "a-b",
        "estimate": 0.1,
        "ci_low": 0.0,
        "ci_high": 0.2,
        "statistic": 2.0,
        "df": 9,
        "p_parametric": 0.05,
        "p_uncorrected": 0.05,
        "p_fwer": 0.05,
        "p_fdr": 0.05,
        "n": 10,
        "effect_size_dz": 0.4,
        "exchangeability": "sign flips.",
    }
    if kind:
        row.update(effect_size=0.5, effect_size_kind=kind)
    content = ReportContent(
        title="t",
        design={},
        results=pd.DataFrame([row]),
        methods="m",
        provenance={},
        statistic_name="F",
        fwer_method="maximum F over measures",
    )
    html = render_report(content)
    assert header in html
    assert cell in html
    assert "<th>F (df)</th>" in html
    assert "maximum F over measures" in html
    assert "sign flips.." not in html
    assert "Every measure" not in html  # no figures, no empty heading
    assert 'class="summary"' not in html  # no summary given, none shown


def test_planted_value_is_the_effect_part_and_the_miss_is_in_standard_errors() -> None:
    """Planted = mean over subjects of (with - without effects); miss = (est - planted) / SE."""
    from dmnpharm.report._study_parts import ground_truth_rows

    runs = []
    for s, (state_p, state_d) in enumerate([(0.30, 0.42), (0.25, 0.20), (0.35, 0.33)]):
        # placebo carries no effect; the drug run carries -0.10 on top of its session state
        runs.append(
            {
                "participant_id": f"s{s}",
                "condition": "placebo",
                "within_fc_DMN": state_p,
                "within_fc_DMN_without_effects": state_p,
            }
        )
        runs.append(
            {
                "participant_id": f"s{s}",
                "condition": "drug",
                "within_fc_DMN": state_d - 0.10,
                "within_fc_DMN_without_effects": state_d,
            }
        )
    results = pd.DataFrame(
        [{"measure": "dmn_within_fc", "estimate": -0.04, "ci_low": -0.2, "ci_high": 0.12, "df": 2}]
    )
    (row,) = ground_truth_rows({"runs": runs}, results, ("drug", "placebo"))
    assert row["value"] == pytest.approx(-0.10)  # not the states' -0.0833
    se = 0.32 / (2 * 4.302652729911275)  # t(0.975, 2)
    assert row["miss_se"] == pytest.approx(0.06 / se)
    assert row["covered"]
