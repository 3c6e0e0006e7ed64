"""split_levels and tag_rows give what their straightforward forms give, faster."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.metrics._bundle import bundle_rows
from dmnpharm.metrics._table import stacked_frame
from dmnpharm.pipeline._levels import LEVEL_FILES, split_levels, tag_rows


def _tagged(table: pd.DataFrame, keys: dict[str, Any], atlas: str, estimator: str) -> pd.DataFrame:
    """Return the rows with a frame of the keys in front and the atlas and estimator after."""
    front = pd.DataFrame({k: [v] * len(table) for k, v in keys.items()}, index=table.index)
    tagged = pd.concat([front, table], axis=1)
    tagged["atlas"] = atlas
    tagged["estimator"] = estimator
    return tagged


def _split(
    table: pd.DataFrame, keys: dict[str, Any], atlas: str, estimator: str
) -> tuple[pd.DataFrame, dict[str, pa.Table]]:
    """Split the rows by filtering each level's text, as split_levels did before."""
    arrow = pa.Table.from_pandas(table, preserve_index=False, nthreads=1)
    level = arrow.column("level")
    is_network = pc.fill_null(pc.equal(level, "network"), False).to_numpy()
    network = _tagged(table[is_network], keys, atlas, estimator)
    constants = {**keys, "atlas": atlas, "estimator": estimator}
    kinds = pa.Schema.from_pandas(pd.DataFrame({k: [v] for k, v in constants.items()}))
    tables = {}
    for name in LEVEL_FILES:
        part = arrow.filter(pc.equal(level, name))
        if not part.num_rows:
            continue
        made = {
            k: pa.array([v] * part.num_rows, type=kinds.field(k).type, from_pandas=True)
            for k, v in constants.items()
        }
        names = [*keys, *part.column_names, "atlas", "estimator"]
        columns = [made[n] if n in made else part.column(n) for n in names]
        tables[name] = pa.Table.from_arrays(columns, names=names)
    return network, tables


@pytest.fixture(scope="module")
def run_table() -> pd.DataFrame:
    """Return a run's metrics: two analyses of a 300-region atlas (network, region, edges)."""
    atlas = load_atlas("seitzman300")
    data = np.random.default_rng(5).standard_normal((120, atlas.n_regions))
    first, _ = bundle_rows(data, atlas, 2.0, amplitude_data=data)
    second, _ = bundle_rows(data[::-1].copy(), atlas, 2.0)
    parts = [(first, {"analysis": "primary"}), (second, {"analysis": "gsr_sensitivity"})]
    return stacked_frame(parts, before=("analysis",))


KEYS = [
    {"participant_id": "sub-01", "session_id": "ses-1", "condition": "drug", "dose_mg": 10.0},
    {"participant_id": "sub-02", "note": None, "age": np.nan, "visits": 3, "flag": True},
    {"participant_id": "sub-03", "weight": np.float64(71.5), "site": "a", "count": np.int64(2)},
    {},
]


@pytest.mark.parametrize("keys", [*KEYS, {"unit": "mm", "participant_id": "s"}])
def test_split_levels_equals_filtering_each_level(
    run_table: pd.DataFrame, keys: dict[str, Any]
) -> None:
    """Network rows (index included) and each level's Arrow table are the same."""
    got = split_levels(run_table, keys, "seitzman300", "pearson")
    network, tables = _split(run_table, keys, "seitzman300", "pearson")
    pd.testing.assert_frame_equal(got.network, network, check_exact=True)
    assert set(got.levels) == set(tables) == {"region", "edge"}
    for name, table in tables.items():
        whole = got.table(name)
        # The constants come as dictionaries of their one value (nulls as nulls), the
        # bundle's texts as dictionaries of their distinct values; as their values'
        # types, the table is the straightforward one.
        assert whole.column_names == table.column_names
        for index, (column, expected) in enumerate(zip(whole.columns, table.columns, strict=True)):
            assert column.cast(expected.type).equals(expected)
            # a design column named like a bundle column holds the design's value in both
            column_name = table.column_names[index]
            constant = got.constants.get(column_name)
            text = pa.types.is_large_string(expected.type) or pa.types.is_string(expected.type)
            coded = constant.is_valid if constant is not None else text and not expected.null_count
            assert pa.types.is_dictionary(column.type) == coded
        # Sent without the constant columns: one value each, repeated where written.
        assert got.levels[name].column_names == [str(c) for c in run_table.columns]
        assert len(pickle.dumps(got.levels[name])) < len(pickle.dumps(table)) or not keys


def test_split_levels_of_network_rows_only(run_table: pd.DataFrame) -> None:
    """A run without region and edge rows has no level tables, and all its network rows."""
    only = run_table[run_table["level"] == "network"]
    got = split_levels(only, KEYS[0], "a", "e")
    network, tables = _split(only, KEYS[0], "a", "e")
    assert tables == {}
    assert got.levels == {}
    pd.testing.assert_frame_equal(got.network, network, check_exact=True)


@pytest.mark.parametrize("keys", [*KEYS, {"unit": "mm", "participant_id": "s"}])
def test_tag_rows_equals_concatenating_a_frame_of_the_keys(
    run_table: pd.DataFrame, keys: dict[str, Any]
) -> None:
    """The same columns, order, types and index, a key named like a column included."""
    rows = run_table.iloc[::7]
    pd.testing.assert_frame_equal(
        tag_rows(rows, keys, "x", "pearson"), _tagged(rows, keys, "x", "pearson"), check_exact=True
    )


def test_run_rows_travel_as_ipc_streams(run_table: pd.DataFrame) -> None:
    """Pickled (a worker's result), a run's rows come back equal, dictionaries included."""
    got = split_levels(run_table, KEYS[0], "seitzman300", "pearson")
    back = pickle.loads(pickle.dumps(got, protocol=5))
    pd.testing.assert_frame_equal(back.network, got.network, check_exact=True)
    assert set(back.levels) == set(got.levels)
    for name, table in got.levels.items():
        assert back.levels[name].equals(table)
        assert back.levels[name].schema.equals(table.schema)
        assert back.table(name).equals(got.table(name))
    assert back.names == got.names
    assert back.constants == got.constants
