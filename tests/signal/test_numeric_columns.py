"""The confounds' columns as one NumPy block: the same numbers as pandas' selection."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.signal import select_confounds
from dmnpharm.signal._confounds import numeric_columns
from dmnpharm.signal._requirements import _empty_required
from dmnpharm.simulate import fmriprep_confounds, simulate_motion


def _confounds(rng: np.random.Generator) -> pd.DataFrame:
    """Return a confounds table as read_csv reads it (n/a first rows, integer flags)."""
    params = simulate_motion(rng, 60, 2.0, 0.2)
    table = fmriprep_confounds(
        params,
        global_signal=rng.normal(size=60),
        csf=rng.normal(size=60),
        white_matter=rng.normal(size=60),
        data=rng.normal(size=(60, 20)),
        acompcor=rng.normal(size=(60, 6)),
        repetition_time=2.0,
    )
    table["motion_outlier00"] = (np.arange(60) == 7).astype(int)
    text = table.to_csv(sep="\t", index=False, na_rep="n/a")
    return pd.read_csv(io.StringIO(text), sep="\t", na_values=["n/a"])


def _pandas_way(table: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return table.loc[:, columns].astype(np.float64).to_numpy().T


def test_numeric_columns_are_pandas_selection(rng: np.random.Generator) -> None:
    """Bit for bit the values of loc + astype, NaN included, integers and booleans too."""
    table = _confounds(rng)
    table["flag"] = table["motion_outlier00"] > 0
    columns = ["trans_x_derivative1", "motion_outlier00", "flag", "global_signal", "rot_z"]
    found = numeric_columns(table, columns)
    assert found is not None
    assert found.flags.c_contiguous
    expected = _pandas_way(table, columns)
    assert np.array_equal(found.view(np.uint64), expected.view(np.uint64))
    assert numeric_columns(table, []) is not None


def test_other_tables_take_pandas_way(rng: np.random.Generator) -> None:
    """A text or nullable column anywhere, repeated names or an absent column: None."""
    table = _confounds(rng)
    with_text = table.assign(note="x")
    assert numeric_columns(with_text, ["trans_x"]) is None
    nullable = table.assign(trans_y=table["trans_y"].astype("Float64"))
    assert numeric_columns(nullable, ["trans_x"]) is None
    assert numeric_columns(table, ["trans_x", "no_such_column"]) is None
    twice = pd.concat([table[["trans_x"]], table[["trans_x"]]], axis=1)
    assert numeric_columns(twice, ["trans_x"]) is None


def test_selection_is_the_same_table_either_way(rng: np.random.Generator) -> None:
    """select_confounds gives pandas' table (values, names, index, layout) on both paths."""
    table = _confounds(rng)
    config = replace(AnalysisConfig().denoise, n_compcor=5)
    fast = select_confounds(table, config)
    slow = select_confounds(table.assign(note="x"), config)  # a text column: pandas' way
    pd.testing.assert_frame_equal(fast, slow)
    assert fast.to_numpy().flags.f_contiguous == slow.to_numpy().flags.f_contiguous
    assert _empty_required(table, list(fast.columns)) == []
    gapped = table.copy()
    gapped.loc[5, "trans_x"] = np.nan
    assert _empty_required(gapped, ["trans_x", "trans_y"]) == ["trans_x"]
    assert _empty_required(gapped.assign(note="x"), ["trans_x", "trans_y"]) == ["trans_x"]
    with pytest.raises(InputError, match="not all numeric"):
        select_confounds(table.assign(trans_x="abc"), config)
