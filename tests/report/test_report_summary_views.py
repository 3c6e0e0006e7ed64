"""Report views: network-ordered matrices, strongest edges, small multiples, large analyses."""

from __future__ import annotations

import html
import re
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from dmnpharm import Inference
from dmnpharm.pipeline import analyse_table
from dmnpharm.report import matrix_figure
from dmnpharm.report._figures import _power_figure
from dmnpharm.report._matrices import network_blocks, robust_limit, strongest_edges
from dmnpharm.report._multiples import Panel, draw_levels, multiples_figure
from dmnpharm.report._stats_report import TOP_SHOWN, _subjects_per_level
from dmnpharm.report._stats_views import edge_section
from dmnpharm.report._svg import RED
from dmnpharm.stats import ModelSpec
from svg_figures import svg_dots, svg_elements, svg_root, svg_texts


def test_network_blocks_put_the_dmn_first_and_split_its_subsystems() -> None:
    """DMN subsystems (core, dmpfc, mtl, then none) first, then the vocabulary's order."""
    networks = ["VIS", "DMN", "SN", "DMN", "DMN", "VIS", "DMN"]
    subsystems = ["", "mtl", "", "core", "", "", "core"]
    blocks = network_blocks(networks, subsystems)
    assert blocks.names == ("DMN core", "DMN mtl", "DMN", "SN", "VIS")
    assert list(blocks.order) == [3, 6, 1, 4, 2, 0, 5]
    assert blocks.bounds == (0, 2, 3, 4, 5, 7)
    assert network_blocks(networks, subsystems, split_dmn=False).names == ("DMN", "SN", "VIS")


def test_robust_limit_is_the_percentile_of_absolute_values(rng: np.random.Generator) -> None:
    """The colour limit equals numpy's percentile of |x| over finite values."""
    values = rng.normal(size=(20, 20))
    values[0, 0] = 1e6  # one extreme value must not set the scale
    values[1, 1] = np.nan
    finite = np.abs(values[np.isfinite(values)])
    assert robust_limit(values, 98) == np.percentile(finite, 98)
    assert robust_limit(values, 98) < 10
    assert robust_limit(np.zeros(3)) == 1.0


def test_strongest_edges_keeps_the_largest_among_the_significant(
    rng: np.random.Generator,
) -> None:
    """The k largest |t| among the significant edges; without any, the k largest overall."""
    n = 12
    t = rng.normal(size=(n, n))
    t = (t + t.T) / 2
    significant = np.abs(t) > 1.0
    kept, rule = strongest_edges(t, significant, count=5)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    pool = np.sort(np.abs(t[upper & significant]))[::-1][:5]
    assert np.allclose(np.sort(np.abs(kept[upper & (kept != 0)]))[::-1], pool)
    assert np.allclose(kept, kept.T)
    assert "p FWER < 0.05" in rule
    kept, rule = strongest_edges(t, np.zeros((n, n), dtype=bool), count=5)
    assert np.count_nonzero(kept[upper]) == 5
    assert "none reached" in rule
    _, rule = strongest_edges(t, None, count=5)
    assert rule.startswith("the 5 edges with the largest |statistic|")


def test_matrix_figure_labels_blocks() -> None:
    """Matrices ordered by network blocks render, condition panels and a difference."""
    blocks = network_blocks(["DMN", "SN", "DMN", "SN"])
    matrix = np.arange(16, dtype=float).reshape(4, 4)
    root = svg_root(matrix_figure({"a": matrix, "difference a - b": -matrix}, "t", blocks))
    assert {"DMN", "SN"} <= set(svg_texts(root))


def test_multiples_figure_draws_every_panel(rng: np.random.Generator) -> None:
    """Eighteen panels make one figure, six across."""
    panels = [
        Panel(
            f"m{k}",
            "\u0394 0.1 \u00b7 p FWER 0.01",
            partial(draw_levels, table=rng.normal(size=(9, 2)), levels=["a", "b"], small=True),
            highlight=k % 2 == 0,
            unit="z",
        )
        for k in range(18)
    ]
    root = svg_root(multiples_figure(panels))
    assert float(root.get("width", "0")) == 6 * 190
    assert float(root.get("height", "0")) > 3 * 150
    texts = svg_texts(root)
    assert all(f"m{k}" in texts for k in range(18))
    red_frames = [r for r in svg_elements(root, "rect") if r.get("stroke") == RED]
    assert len(red_frames) == 9  # the highlighted panels
    assert sum(count for _, count in svg_dots(root)) == 18 * 9 * 2  # every subject, both levels


def test_power_ticks_are_whole_subjects() -> None:
    """The x ticks of the power curve are the sample sizes, as integers."""
    table = pd.DataFrame(
        {
            "n_subjects": [12, 17, 25],
            "power": [0.3, 0.5, 0.8],
            "power_ci_low": [0.25, 0.45, 0.75],
            "power_ci_high": [0.35, 0.55, 0.85],
            "alpha": [0.05] * 3,
        }
    )
    ax = _power_figure(table, "t", 0.8).axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["12", "17", "25"]


def _edges(rng: np.random.Generator, n_regions: int) -> pd.DataFrame:
    """Ten subjects x two conditions x every edge of n regions (two networks)."""
    regions = [f"r{k}" for k in range(n_regions)]
    networks = ["DMN" if k % 2 else "SN" for k in range(n_regions)]
    i, j = np.triu_indices(n_regions, 1)
    names = [f"fc_{regions[a]}_{regions[b]}" for a, b in zip(i, j, strict=True)]
    rows = []
    for s in range(10):
        base = rng.normal(0, 1, i.size)
        for k, condition in enumerate(("placebo", "drug")):
            rows.append(
                pd.DataFrame(
                    {
                        "participant_id": f"sub-{s}",
                        "condition": condition,
                        "measure": names,
                        "region_a": [regions[a] for a in i],
                        "region_b": [regions[b] for b in j],
                        "network_a": [networks[a] for a in i],
                        "network_b": [networks[b] for b in j],
                        "value": base + rng.normal(0, 0.3, i.size) - 1.5 * k * (i == 0),
                        "unit": "Fisher z",
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_a_large_edge_analysis_is_summarised(rng: np.random.Generator, tmp_path: Path) -> None:
    """More measures than can be drawn: top rows, strongest estimates, p histogram, matrix."""
    table = _edges(rng, 12)  # 66 edges
    source = tmp_path / "edges.parquet"
    table.to_parquet(source)
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"))
    result = analyse_table(source, tmp_path / "out", spec, Inference(n_permutations=99))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert page.count("<tr data-measure=") == TOP_SHOWN
    assert f"The {TOP_SHOWN} strongest of 66 measures" in text
    assert "over all 66 measures of the analysis" in text
    for heading in ("Strongest measures", "Distribution of p", "Edges", "Permutation null"):
        assert heading in text
    assert "Strongest measure: fc_r0_" in text  # the headline names the strongest edge
    assert len(re.findall(r'src="data:image/svg\+xml;base64,', page)) == 4  # no matplotlib
    assert len(result.results) == 66


def test_edge_section_needs_regions_and_draws_the_statistic(rng: np.random.Generator) -> None:
    """Rows naming two regions become a matrix; a table without regions has none."""
    table = _edges(rng, 5)
    results = pd.DataFrame(
        {
            "measure": table["measure"].unique(),
            "statistic": rng.normal(size=10),
            "p_fwer": np.linspace(0.01, 1, 10),
        }
    )
    sample = table[table["participant_id"] == "sub-0"]
    section = edge_section(table, sample, results)
    assert section is not None
    assert "1 of 10 edges have p FWER < 0.05" in section.figures[0][1]
    plain = table.drop(columns=["region_a", "region_b"])
    assert edge_section(plain, plain, results) is None


def test_subjects_per_level_matches_pandas(rng: np.random.Generator) -> None:
    """The fast count of subjects per level equals groupby-nunique."""
    table = pd.DataFrame(
        {
            "participant_id": rng.choice([f"s{k}" for k in range(7)], 200),
            "condition": rng.choice(["a", "b", "c"], 200),
        }
    )
    expected = table.groupby("condition")["participant_id"].nunique().to_dict()
    assert _subjects_per_level(table, "condition", "participant_id") == expected


def test_counts_match_the_model_actually_fitted(rng: np.random.Generator, tmp_path: Path) -> None:
    """Subjects outside the between contrast are counted and named, not 'none excluded'."""
    rows = []
    for s in range(12):
        arm = ("drug", "placebo", "none")[s % 3]
        for measure in ("dmn_within_fc", "dmn_alff"):
            rows.append(
                {
                    "participant_id": f"sub-{s:02d}",
                    "arm": arm,
                    "measure": measure,
                    "value": float(rng.normal()),
                }
            )
    source = tmp_path / "metrics.tsv"
    pd.DataFrame(rows).to_csv(source, sep="\t", index=False)
    spec = ModelSpec(between="arm", between_contrast=("drug", "placebo"))
    analyse_table(source, tmp_path / "out", spec, Inference(n_permutations=99))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "subjects in the table 12" in " ".join(text.split())
    assert "subjects in the model 8" in " ".join(text.split())
    assert "4 subjects of the table are not in the model" in text
    assert "their arm ('none') is not in the contrast drug - placebo" in text
    assert "No participant or run was left out" not in text
    assert "8 entered the model (4 left out" in text


def test_a_between_design_report_shows_its_qc(rng: np.random.Generator, tmp_path: Path) -> None:
    """From dmnpharm run with a between design: QC by the between factor, and its warnings."""
    from dmnpharm.report import build_stats_report
    from dmnpharm.report._qc import RunQC
    from dmnpharm.stats import analyse

    subjects = [f"sub-{s:02d}" for s in range(10)]
    arms = ["drug" if s % 2 else "placebo" for s in range(10)]
    table = pd.DataFrame(
        {
            "participant_id": subjects,
            "arm": arms,
            "measure": "dmn_within_fc",
            "value": rng.normal(size=10),
        }
    )
    qc = pd.DataFrame(
        {
            "participant_id": subjects,
            "arm": arms,
            "mean_fd": rng.uniform(0.1, 0.3, 10),
            "percent_censored": rng.uniform(0, 5, 10),
        }
    )
    spec = ModelSpec(between="arm", between_contrast=("drug", "placebo"))
    result = analyse(table, spec, 99, 0)
    provenance = {"n_permutations": 99, "seed": 0}
    path = tmp_path / "report.html"
    build_stats_report(
        table, spec, result, "permutation", provenance, path, "t.tsv", quality=RunQC(qc, by="arm")
    )
    text = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
    assert "Quality control" in text
    assert "Motion and censoring by arm" in text
