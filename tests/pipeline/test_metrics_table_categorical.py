"""Reading tidy tables as categoricals: same values, same models, clear gaps."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.pipeline import read_metrics_table
from dmnpharm.stats import ModelSpec, analyse


def _table(rng: np.random.Generator) -> pd.DataFrame:
    """7 subjects x 3 conditions x 3 measures, two analyses, a group and a dose."""
    rows = []
    for s in range(7):
        for k, condition in enumerate(("placebo", "low", "high")):
            for analysis in ("primary", "gsr_sensitivity"):
                for measure in ("dmn_within_fc", "dmn_salience_fc", "dmn_gbc"):
                    rows.append(
                        {
                            "participant_id": f"sub-{s:02d}",
                            "session_id": f"ses-{k + 1}",
                            "condition": condition,
                            "dose_mg": 10.0 * k,
                            "group": "patient" if s % 2 else "control",
                            "analysis": analysis,
                            "level": "network",
                            "measure": measure,
                            "value": rng.normal() + 0.4 * k * (measure == "dmn_gbc"),
                        }
                    )
    return pd.DataFrame(rows)


def test_parquet_text_is_categorical_with_the_same_values(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    """Text columns come back categorical, filtered to the analysis, unused levels gone."""
    table = _table(rng)
    path = tmp_path / "metrics.parquet"
    table.to_parquet(path, index=False)
    read = read_metrics_table(path)
    assert isinstance(read["measure"].dtype, pd.CategoricalDtype)
    assert list(read["analysis"].cat.categories) == ["primary"]
    expected = table[table["analysis"] == "primary"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        read.astype({c: str for c in read.columns if read[c].dtype == "category"}),
        expected,
        check_dtype=False,
    )
    with pytest.raises(InputError, match="has no rows of analysis 'other'; it has gsr"):
        read_metrics_table(path, analysis="other")


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(within="condition", contrast=("high", "placebo")),
        ModelSpec(within="condition"),
        ModelSpec(within="condition", trend="dose_mg"),
        ModelSpec(between="group"),
    ],
    ids=["paired", "repeated F", "trend", "groups"],
)
def test_models_give_the_same_results_from_categoricals(
    rng: np.random.Generator, tmp_path: Path, spec: ModelSpec
) -> None:
    """A table read from Parquet (categoricals) and from TSV (text) gives the same model."""
    table = _table(rng)
    table.to_parquet(tmp_path / "m.parquet", index=False)
    table.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    from_parquet = analyse(read_metrics_table(tmp_path / "m.parquet"), spec, 99, seed=2)
    from_tsv = analyse(read_metrics_table(tmp_path / "m.tsv"), spec, 99, seed=2)
    pd.testing.assert_frame_equal(from_parquet.results, from_tsv.results)
    assert list(from_parquet.results["measure"]) == [
        "dmn_within_fc",
        "dmn_salience_fc",
        "dmn_gbc",
    ]


def test_a_subject_lacking_a_measure_is_named(rng: np.random.Generator) -> None:
    """A subject without a measure (at a level): the error names the measure and subject."""
    table = _table(rng)
    table = table[table["analysis"] == "primary"]
    gap = (
        (table["participant_id"] == "sub-03")
        & (table["condition"] == "low")
        & (table["measure"] == "dmn_gbc")
    )
    with pytest.raises(InputError, match="'dmn_gbc' has no value for sub-03 at condition 'low'"):
        analyse(table[~gap], ModelSpec(within="condition"), 9)
    never = (table["participant_id"] == "sub-03") & (table["measure"] == "dmn_gbc")
    with pytest.raises(InputError, match="'dmn_gbc' has no value for sub-03"):
        analyse(table[~never], ModelSpec(between="group"), 9)
