"""The report in a real headless browser (Chromium driven by Playwright).

The browser fixtures live in ``tests/report/conftest.py``; without Playwright or a
Chromium binary these tests skip and say why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dmnpharm import Inference
from dmnpharm.pipeline import analyse_table
from dmnpharm.report import ReportContent, Section, matrix_figure, write_report
from dmnpharm.report._summary import Summary, _decimals, _fixed
from dmnpharm.stats import ModelSpec

HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"

#: The page opener and image lister from ``tests/report/conftest.py``.
Opener = Callable[[Any, Path], tuple[Any, dict[str, list[str]]]]
Lister = Callable[[Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def demo_report(default_demo: tuple[Path, str]) -> tuple[Path, pd.DataFrame]:
    """Return the report and the group results of the default demo (tests/conftest.py)."""
    out, _ = default_demo
    return out / "report.html", pd.read_parquet(out / "group" / "results.parquet")


def test_demo_report_renders_without_errors(
    browser: Any,
    demo_report: tuple[Path, pd.DataFrame],
    open_page: Opener,
    images_shown: Lister,
) -> None:
    """No console or page errors; every figure loads and has a size; key numbers are shown."""
    path, results = demo_report
    page, seen = open_page(browser, path)
    assert seen == {"console": [], "page": [], "dialog": []}
    images = images_shown(page)
    assert len(images) >= 4
    for image in images:
        assert image["complete"], image["alt"]
        assert image["natural"] > 0, image["alt"]
        assert image["width"] > 50, image["alt"]
        assert image["height"] > 50, image["alt"]
    text = page.inner_text("body")
    within = results.set_index("measure").loc["dmn_within_fc"]
    assert f"{within['estimate']:.4f}" in text
    for heading in ("Group results", "Quality control", "Within-DMN connectivity", "Methods"):
        assert heading in text
    assert "Permutation null" in text
    assert "Chan et al. 2014, PNAS 111:E4997-E5006" in text  # a measure's source, in methods
    row = page.locator('tr[data-measure="dmn_within_fc"]')
    assert row.count() == 1
    page.close()


def test_demo_report_answers_first_and_fits_a_laptop(
    browser: Any, demo_report: tuple[Path, pd.DataFrame], open_page: Opener
) -> None:
    """At 1366x768 the answer is on the first screen and nothing stretches the page sideways."""
    path, results = demo_report
    page, seen = open_page(browser, path)
    page.set_viewport_size({"width": 1366, "height": 768})
    assert seen["console"] == []
    summary = page.locator("section.summary")
    box = summary.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] < 768
    headline = page.locator("p.headline").inner_text()
    within = results.set_index("measure").loc["dmn_within_fc"]
    assert "dmn_within_fc" in headline
    assert "p FWER" in headline
    assert "95% CI" in headline
    estimate = float(within["estimate"])
    widest = max(abs(estimate), abs(float(within["ci_low"])), abs(float(within["ci_high"])))
    assert _fixed(abs(estimate), _decimals(widest)) in headline
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
    # one small-multiples figure draws every measure: no silent subset
    assert f"All {len(results)} measures tested" in page.inner_text("#measures ~ .figs")
    page.close()


def test_stats_report_renders_without_errors(
    browser: Any,
    demo_report: tuple[Path, pd.DataFrame],
    tmp_path: Path,
    open_page: Opener,
    images_shown: Lister,
) -> None:
    """``dmnpharm stats`` on the demo's metrics: a clean page, figures shown, numbers present."""
    path, _ = demo_report
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"))
    inference = Inference(n_permutations=500, seed=1)
    result = analyse_table(path.parent / "metrics.parquet", tmp_path / "stats", spec, inference)
    page, seen = open_page(browser, tmp_path / "stats" / "report.html")
    assert seen == {"console": [], "page": [], "dialog": []}
    images = images_shown(page)
    # every measure in one small-multiples figure, and the one maximum-statistic null
    assert len(images) == 2
    for image in images:
        assert image["complete"], image["alt"]
        assert image["natural"] > 0, image["alt"]
        assert image["width"] > 50, image["alt"]
        assert image["height"] > 50, image["alt"]
    text = page.inner_text("body")
    for heading in ("Design", "Group results", "Values per measure", "Permutation null"):
        assert heading in text
    assert "Methods" in text
    assert "Provenance" in text
    assert "metrics.parquet" in text
    within = result.results.set_index("measure").loc["dmn_within_fc"]
    row = page.locator('tr[data-measure="dmn_within_fc"]')
    assert row.count() == 1
    cells = row.inner_text()
    assert f"{within['estimate']:.4f}" in cells
    assert f"{within['statistic']:.2f}" in cells
    assert f"{within['p_uncorrected']:.4f}" in cells
    assert result.summary.split(";")[0] in text
    page.close()


def test_user_strings_show_as_text_and_run_nothing(
    browser: Any, tmp_path: Path, open_page: Opener
) -> None:
    """A participant label holding HTML shows literally; no script or handler runs."""
    results = pd.DataFrame(
        [
            {
                "measure": HOSTILE,
                "contrast": SCRIPT,
                "estimate": -0.1,
                "ci_low": -0.2,
                "ci_high": 0.0,
                "statistic": -2.0,
                "df": 9,
                "p_parametric": 0.04,
                "p_uncorrected": 0.05,
                "p_fwer": 0.05,
                "p_fdr": 0.05,
                "effect_size_dz": -0.6,
                "n": 10,
                "exchangeability": SCRIPT,
            }
        ]
    )
    figure = matrix_figure({"a": pd.DataFrame([[0.0, 1.0], [1.0, 0.0]]).to_numpy()}, HOSTILE)
    content = ReportContent(
        title=f"report for {HOSTILE}",
        design={"participants": HOSTILE, SCRIPT: "drug"},
        results=results,
        methods=f"Participant {HOSTILE} was scanned.",
        provenance={"study": HOSTILE},
        exclusions=[f"sub-{HOSTILE}: excluded"],
        summary=Summary(f"headline {HOSTILE}", [SCRIPT], [f"warning {HOSTILE}"]),
        sections=[
            Section(
                "extra",
                SCRIPT,
                note=HOSTILE,
                tables=[(HOSTILE, pd.DataFrame({HOSTILE: [SCRIPT]}))],
                figures=[(figure, HOSTILE)],
            )
        ],
    )
    path = write_report(content, tmp_path / "report.html")
    page, seen = open_page(browser, path)
    assert seen["dialog"] == []
    assert seen["page"] == []
    text = page.inner_text("body")
    assert f"sub-{HOSTILE}: excluded" in text
    assert f"headline {HOSTILE}" in text
    assert f"warning {HOSTILE}" in text
    assert SCRIPT in text
    # Only the embedded figure is an image: the label did not become an <img>.
    assert page.evaluate("() => document.images.length") == 1
    assert page.evaluate("() => document.scripts.length") == 0
    page.close()
