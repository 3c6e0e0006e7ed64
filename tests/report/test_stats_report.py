"""The HTML report of ``dmnpharm stats`` for every kind of model."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm import Inference
from dmnpharm.pipeline import analyse_table
from dmnpharm.stats import ModelSpec

EVIL = "<img src=x onerror=alert(1)>"


def _table(
    rng: np.random.Generator, levels: tuple[str, ...], measures: tuple[str, ...]
) -> pd.DataFrame:
    """14 subjects x levels x measures, two runs per level, subject covariates."""
    rows = []
    for s in range(14):
        base = rng.normal(0, 1, len(measures))
        for k, level in enumerate(levels):
            for run in (1, 2):
                for j, measure in enumerate(measures):
                    rows.append(
                        {
                            "participant_id": f"sub-{s:02d}",
                            "run": run,
                            "condition": level,
                            "dose_mg": 5.0 * k,
                            "group": "patient" if s % 2 else "control",
                            "arm": "drug" if s % 4 < 2 else "placebo",
                            "site": f"site{s % 3}",
                            "age": 20.0 + s,
                            "rating": float(rng.normal(50, 10)),
                            "measure": measure,
                            "value": base[j] + rng.normal(0, 0.5) + 0.8 * k * (j == 0),
                            "unit": "Fisher z",
                        }
                    )
    table = pd.DataFrame(rows)
    table["rating"] = table.groupby("participant_id")["rating"].transform("first")
    return table


def _images(text: str) -> list[bytes]:
    found = re.findall(r'src="data:image/(?:png|svg\+xml);base64,([^"]+)"', text)
    return [base64.b64decode(data) for data in found]


MEASURES = ("dmn_within_fc", "dmn_segregation", "dmn_alff")
CASES = {
    "paired": (("placebo", "drug"), ModelSpec(within="condition", contrast=("drug", "placebo"))),
    "interaction": (
        ("placebo", "drug"),
        ModelSpec(within="condition", contrast=("drug", "placebo"), between="group"),
    ),
    "brain-behaviour": (
        ("placebo", "drug"),
        ModelSpec(within="condition", contrast=("drug", "placebo"), test_covariate="rating"),
    ),
    "repeated": (("a", "b", "c"), ModelSpec(within="condition")),
    "trend": (("0mg", "5mg", "10mg"), ModelSpec(within="condition", trend="dose_mg")),
    "groups": (
        ("placebo",),
        ModelSpec(
            between="group",
            between_contrast=("patient", "control"),
            covariates=("age",),
            block="site",
        ),
    ),
    "covariate": (("placebo",), ModelSpec(test_covariate="rating")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_stats_writes_a_report_for_each_model(
    rng: np.random.Generator, tmp_path: Path, name: str
) -> None:
    """Summary, results, values per measure, nulls with their numbers, methods, provenance."""
    levels, spec = CASES[name]
    table = _table(rng, levels, MEASURES)
    source = tmp_path / "metrics.tsv"
    table.to_csv(source, sep="\t", index=False)
    result = analyse_table(source, tmp_path / "out", spec, Inference(n_permutations=199, seed=4))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page.lower()
    for heading in ("Design", "Group results", "Values per measure", "Permutation null"):
        assert heading in text
    assert "metrics.tsv" in text
    assert f"{len(table)}" in text  # rows of the table
    assert result.summary in text
    assert "Methods" in text
    assert "Chan et al. 2014, PNAS 111:E4997-E5006" in text  # dmn_segregation's source
    assert "provenance.json" in text
    for row in result.results.itertuples():
        assert f'data-measure="{row.measure}"' in page
        assert f"{row.p_fwer:.4f}".rstrip("0").rstrip(".") in text
    images = _images(page)
    # every measure in one small-multiples figure, and the one maximum-statistic null
    assert len(images) == 2
    assert 'class="summary"' in page
    assert "entered the model" in text
    assert all(image.startswith(b"<svg ") for image in images)
    statistic = "F (df)" if name == "repeated" else "t (df)"
    assert statistic in text
    for role in (spec.within, spec.between, spec.test_covariate, spec.trend, spec.block):
        if role:
            assert role in text
    if spec.covariates:
        assert "Nuisance covariates: age" in text
        assert "Freedman and Lane (1983)" in text


def test_mixed_and_normalization_reports(rng: np.random.Generator, tmp_path: Path) -> None:
    """The mixed model says Holm and shows no null; normalization shows its null."""
    table = _table(rng, ("pre", "post"), MEASURES)
    source = tmp_path / "metrics.tsv"
    table.to_csv(source, sep="\t", index=False)
    spec = ModelSpec(within="condition", contrast=("post", "pre"))
    analyse_table(source, tmp_path / "mixed", spec, method="mixed")
    page = (tmp_path / "mixed" / "report.html").read_text(encoding="utf-8")
    assert "Holm" in page
    assert "Permutation null" not in page
    assert "z (df)" in page
    analyse_table(
        source,
        tmp_path / "norm",
        spec,
        Inference(n_permutations=99),
        method="normalization",
        groups=("patient", "control"),
    )
    page = (tmp_path / "norm" / "report.html").read_text(encoding="utf-8")
    assert "Permutation null" in page
    assert "normalization" in page.lower()


def test_user_strings_in_the_table_are_escaped(rng: np.random.Generator, tmp_path: Path) -> None:
    """Hostile measure names and levels show as text in the stats report."""
    table = _table(rng, ("placebo", EVIL), (EVIL, "dmn_alff"))
    source = tmp_path / "metrics.tsv"
    table.to_csv(source, sep="\t", index=False)
    spec = ModelSpec(within="condition", contrast=(EVIL, "placebo"))
    analyse_table(source, tmp_path / "out", spec, Inference(n_permutations=99))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert EVIL not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
