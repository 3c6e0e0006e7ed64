"""The HTML report: self-contained, escaped, with figures."""

from pathlib import Path

import numpy as np
import pandas as pd

from dmnpharm.report import (
    ReportContent,
    Section,
    paired_condition_figure,
    power_curve_figure,
    render_report,
    write_report,
)
from dmnpharm.stats import RESULT_COLUMNS
from svg_figures import svg_dots, svg_root, svg_texts

EVIL = "<img src=x onerror=alert(1)>"


def _results() -> pd.DataFrame:
    row = dict.fromkeys(RESULT_COLUMNS, 0.5)
    row.update(measure="dmn_within_fc", contrast="drug-placebo", n=10, p_fwer=0.01)
    row.update(test="paired", exchangeability="sign flips", df=9, n_permutations=100)
    return pd.DataFrame([row])


def test_figure_is_an_svg_data_uri(rng: np.random.Generator) -> None:
    """The figure is SVG: one dot per subject and condition, the conditions in order."""
    values = pd.DataFrame(rng.normal(size=(9, 2)), columns=["placebo", "drug"])
    root = svg_root(paired_condition_figure(values, ["placebo", "drug"], "m", "z"))
    assert sum(count for _, count in svg_dots(root)) == 18
    texts = svg_texts(root)
    assert texts.index("placebo") < texts.index("drug")


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    """A hostile participant label or drug name appears as text, never as markup."""
    content = ReportContent(
        title=f"report for {EVIL}",
        design={"participants": EVIL},
        results=_results().assign(contrast=f"{EVIL}-placebo"),
        methods=f"drug {EVIL}",
        provenance={"label": EVIL},
        exclusions=[f"{EVIL}: one condition only"],
    )
    html = write_report(content, tmp_path / "r.html").read_text()
    assert EVIL not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower()


def test_report_is_self_contained() -> None:
    """No external resources: every src is a data URI."""
    content = ReportContent(
        title="t",
        design={"n": "3"},
        results=_results(),
        methods="m",
        provenance={},
        sections=[Section("s", "S", figures=[("data:image/png;base64,AAAA", "a figure")])],
        ground_truth=[
            {
                "measure": "dmn_within_fc",
                "contrast": "drug-placebo",
                "value": -0.1,
                "estimate": -0.09,
                "miss_se": 0.5,
                "covered": True,
            }
        ],
    )
    html = render_report(content)
    assert "http://" not in html
    assert "https://" not in html
    assert 'src="data:image/png;base64,AAAA"' in html
    assert 'class="num sig"' in html  # p_fwer 0.01 is marked
    assert "Planted effects" in html


def test_power_curve_is_a_png() -> None:
    """The power curve renders to PNG bytes from a power table."""
    table = pd.DataFrame(
        {
            "n_subjects": [10, 20],
            "power": [0.4, 0.8],
            "power_ci_low": [0.35, 0.75],
            "power_ci_high": [0.45, 0.85],
            "alpha": [0.05, 0.05],
        }
    )
    png = power_curve_figure(table, "a long title " * 10)
    assert png.startswith(b"\x89PNG")
    assert len(png) > 5000
