"""A run's metrics table: both analyses' rows built as one table, as concatenating them gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.config import GSR_SENSITIVITY, PRIMARY, AnalysisConfig
from dmnpharm.metrics import estimate_connectivity, run_bundle
from dmnpharm.metrics._bundle import bundle_rows
from dmnpharm.metrics._table import RowBlocks, stacked_frame
from dmnpharm.pipeline._process import measure, process_run
from dmnpharm.simulate import DesignSpec, load_preset, simulate_study

ATLAS = load_atlas("seitzman300")


def _concatenated(parts: list[tuple[pd.DataFrame, str, str]]) -> pd.DataFrame:
    """Return the straightforward table: each part with its columns, then concatenated."""
    tables = []
    for table, analysis, strategy in parts:
        table = table.copy()
        table.insert(0, "analysis", analysis)
        table["strategy"] = strategy
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def test_stacked_frame_equals_concatenated_bundle_tables(rng: np.random.Generator) -> None:
    """Two bundles of one run and a small part: the same table, dtypes and index included."""
    data = rng.standard_normal((150, ATLAS.n_regions))
    broad = rng.standard_normal((150, ATLAS.n_regions))
    first, _ = bundle_rows(data, ATLAS, 2.0, amplitude_data=broad)
    second, _ = bundle_rows(data[::-1].copy(), ATLAS, 2.0)
    small = RowBlocks()
    small.add(["a", "b"], "region", [1.0, np.nan], "z", ["DMN", "VIS"], "", ["r1", "r2"])
    parts = [
        (first, {"analysis": PRIMARY, "strategy": "6p"}),
        (second, {"analysis": GSR_SENSITIVITY, "strategy": "6p+gsr"}),
        (small, {"analysis": "other", "strategy": "none"}),
    ]
    got = stacked_frame(parts, before=("analysis",), after=("strategy",))
    expected = _concatenated([(rows.frame(), c["analysis"], c["strategy"]) for rows, c in parts])
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.columns[0] == "analysis"
    assert got.columns[-1] == "strategy"
    # run_bundle's table is the rows' frame.
    table, _ = run_bundle(data, ATLAS, 2.0, amplitude_data=broad)
    pd.testing.assert_frame_equal(table, first.frame(), check_exact=True)


def test_stacked_frame_of_no_rows_and_of_an_empty_part() -> None:
    """An empty part adds nothing; no parts give an empty table with every column."""
    rows = RowBlocks()
    rows.add("dmn_within_fc", "network", 0.5, "Fisher z", "DMN")
    got = stacked_frame(
        [(RowBlocks(), {"analysis": "x"}), (rows, {"analysis": "y"})], ["analysis"]
    )
    assert got["analysis"].tolist() == ["y"]
    assert got["value"].tolist() == [0.5]
    empty = stacked_frame([], before=("analysis",))
    assert list(empty.columns) == ["analysis", *rows.frame().columns]
    assert empty.empty


@pytest.mark.parametrize("censored", [False, True])
def test_processed_run_metrics_equal_each_analysis_measured_apart(censored: bool) -> None:
    """process_run's table is each cleaning's measure() table, concatenated (GSR twin too)."""
    spec = load_preset("demo-crossover")
    spec = replace(spec, design=replace(spec.design, n_subjects=2))
    assert isinstance(spec.design, DesignSpec)
    run = simulate_study(spec).runs[0].signals
    confounds = run.confounds.copy()
    if censored:
        confounds.loc[40, "framewise_displacement"] = 5.0
    else:
        for column, most in (("framewise_displacement", 0.1), ("std_dvars", 1.0)):
            confounds[column] = confounds[column].clip(upper=most)
    config = AnalysisConfig(atlas="seitzman300")
    done = process_run(run.data, confounds, run.confounds_meta, 2.0, config, ATLAS, "run")
    assert done.excluded is None
    assert {c.analysis for c in done.cleaned} == {PRIMARY, GSR_SENSITIVITY}
    assert (not done.cleaned[0].kept.all()) is censored
    parts, measured = [], []
    for cleaned in done.cleaned:
        matrix = estimate_connectivity(cleaned.data, config.estimator)
        table, _ = run_bundle(
            cleaned.data,
            ATLAS,
            2.0,
            config=config.bundle,
            matrix=matrix,
            amplitude_data=cleaned.amplitude,
            kept=None if cleaned.kept.all() else cleaned.kept,
        )
        parts.append((table, cleaned.analysis, cleaned.strategy))
        measured.append(measure(cleaned, ATLAS, 2.0, config, matrix=matrix)[0])
    expected = _concatenated(parts)
    pd.testing.assert_frame_equal(done.metrics, expected, check_exact=True)
    # measure() gives each cleaning's own part of it.
    pd.testing.assert_frame_equal(
        pd.concat(measured, ignore_index=True), expected, check_exact=True
    )
