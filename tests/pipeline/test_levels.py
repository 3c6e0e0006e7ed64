"""Region and edge rows streamed to Parquet run by run."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dmnpharm.pipeline._levels import LEVEL_FILES, LevelFiles


def _run_rows(pid: str, note: object, dose: float) -> pd.DataFrame:
    levels = ["network", "region", "region", "edge"]
    return pd.DataFrame(
        {
            "participant_id": pid,
            "note": note,
            "dose_mg": dose,
            "level": levels,
            "region_a": [None, "PCC", "mPFC", "PCC"],
            "region_b": [None, None, None, "mPFC"],
            "value": np.arange(4, dtype=float),
        }
    )


def test_level_files_hold_every_run_in_order_with_the_designs_types(tmp_path: Path) -> None:
    """Network rows come back; region and edge rows are written in order and typed by the design.

    The second run's text column is missing altogether (pandas makes it a float NaN
    column) and still writes as text; its integer-looking dose stays a float.
    """
    design = pd.DataFrame(
        {"participant_id": ["sub-1", "sub-2"], "note": ["a", np.nan], "dose_mg": [1.5, 0.0]}
    )
    runs = [_run_rows("sub-1", "a", 1.5), _run_rows("sub-2", np.nan, 0.0)]
    with LevelFiles(tmp_path, design) as levels:
        network = pd.concat([levels.add(rows) for rows in runs])
    files = levels.close()
    assert set(files) == {"region", "edge"}
    assert files["region"] == tmp_path / LEVEL_FILES["region"]
    assert list(network["level"]) == ["network", "network"]
    assert levels.rows == {"region": 4, "edge": 2}
    everything = pd.concat(runs, ignore_index=True)
    for level, file in files.items():
        expected = everything[everything["level"] == level].reset_index(drop=True)
        got = pd.read_parquet(file)
        pd.testing.assert_frame_equal(
            got.astype(object).where(got.notna(), None),
            expected.astype(object).where(expected.notna(), None),
        )
        schema = pq.read_schema(file)
        for text in ("note", "region_b"):
            assert str(schema.field(text).type) in ("string", "large_string")
        assert str(schema.field("dose_mg").type) == "double"


def test_rows_split_where_computed_write_the_same_files(tmp_path: Path) -> None:
    """Arrow tables built by split_levels append to the same bytes as tagged pandas rows."""
    from dmnpharm.pipeline._levels import split_levels, tag_rows

    design = pd.DataFrame(
        {"participant_id": ["sub-1", "sub-2"], "note": ["a", np.nan], "dose_mg": [1.5, 0.0]}
    )
    bundles = [
        _run_rows("sub-1", "a", 1.5).drop(columns=["participant_id", "note", "dose_mg"]),
        _run_rows("sub-2", np.nan, 0.0).drop(columns=["participant_id", "note", "dose_mg"]),
    ]
    keys = [
        {"participant_id": "sub-1", "note": "a", "dose_mg": 1.5},
        {"participant_id": "sub-2", "note": np.nan, "dose_mg": 0.0},
    ]
    pandas_way, arrow_way = tmp_path / "p", tmp_path / "a"
    pandas_way.mkdir()
    arrow_way.mkdir()
    with LevelFiles(pandas_way, design) as levels:
        expected = [
            levels.add(tag_rows(b, k, "atlas300", "pearson"))
            for b, k in zip(bundles, keys, strict=True)
        ]
    with LevelFiles(arrow_way, design) as levels:
        split = [
            split_levels(b, k, "atlas300", "pearson") for b, k in zip(bundles, keys, strict=True)
        ]
        got = [levels.add_rows(rows) for rows in split]
    for name in LEVEL_FILES.values():
        # The same rows and types read back (the Arrow way writes its constants as
        # dictionaries; neither file stores an Arrow schema).
        assert pq.read_table(pandas_way / name).equals(pq.read_table(arrow_way / name))
    for a, b in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_runs_are_gathered_into_whole_row_groups_in_order(tmp_path: Path) -> None:
    """Runs' rows make row groups of exactly ROW_GROUP_ROWS rows (the last has the rest)."""
    from dmnpharm.pipeline._levels import ROW_GROUP_ROWS

    n_runs, per_run = 30, 9_000
    design = pd.DataFrame({"participant_id": [f"sub-{i}" for i in range(n_runs)]})
    with LevelFiles(tmp_path, design) as levels:
        for i in range(n_runs):
            levels.add(
                pd.DataFrame(
                    {
                        "participant_id": f"sub-{i}",
                        "level": "edge",
                        "value": np.arange(per_run, dtype=float) + i * per_run,
                    }
                )
            )
    metadata = pq.ParquetFile(tmp_path / LEVEL_FILES["edge"]).metadata
    total = n_runs * per_run
    sizes = [metadata.row_group(k).num_rows for k in range(metadata.num_row_groups)]
    assert sizes == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, total - 2 * ROW_GROUP_ROWS]
    values = pd.read_parquet(tmp_path / LEVEL_FILES["edge"])["value"].to_numpy()
    np.testing.assert_array_equal(values, np.arange(total, dtype=float))
    participants = pd.read_parquet(tmp_path / LEVEL_FILES["edge"])["participant_id"]
    assert participants.tolist() == [f"sub-{i}" for i in range(n_runs) for _ in range(per_run)]
    assert levels.rows["edge"] == total


def test_constant_types_are_pandas_own_and_kept_per_tuple_of_types() -> None:
    """The design columns' Arrow types are pandas' inference, remembered per tuple of types.

    A column missing in one run (None) and present in the next (text) gets each
    run's own type; a value of a type that does not fix its inference (a list)
    is never remembered.
    """
    import pyarrow as pa

    from dmnpharm.pipeline._levels import _INFERRED, _constant_types

    def pandas_types(constants: dict[str, object]) -> dict[str, pa.DataType]:
        schema = pa.Schema.from_pandas(
            pd.DataFrame({k: [v] for k, v in constants.items()}), preserve_index=False
        )
        return {k: schema.field(k).type for k in constants}

    runs = [
        {"participant_id": "sub-1", "note": None, "dose_mg": 1.5, "age": np.int64(30)},
        {"participant_id": "sub-2", "note": "a", "dose_mg": np.nan, "age": np.int64(31)},
        {"participant_id": "sub-3", "note": None, "dose_mg": 0.0, "age": np.int64(32)},
    ]
    for constants in runs:
        assert _constant_types(constants) == pandas_types(constants)
    assert _constant_types(runs[0])["note"] == pa.null()
    assert pa.types.is_string(_constant_types(runs[1])["note"]) or pa.types.is_large_string(
        _constant_types(runs[1])["note"]
    )
    odd = {"participant_id": "sub-4", "tags": ["x", "y"]}
    before = len(_INFERRED)
    assert _constant_types(odd) == pandas_types(odd)
    assert len(_INFERRED) == before


def test_statistics_are_kept_for_the_columns_readers_filter_on(tmp_path: Path) -> None:
    """Row groups carry min/max of the filtered-on columns only; a filtered read skips groups."""
    from dmnpharm.pipeline._levels import ROW_GROUP_ROWS, STATISTICS_COLUMNS

    per_run = ROW_GROUP_ROWS  # one row group per run
    design = pd.DataFrame({"participant_id": ["sub-1", "sub-2"], "site": ["a", "b"]})
    with LevelFiles(tmp_path, design) as levels:
        for pid, site in (("sub-1", "a"), ("sub-2", "b")):
            levels.add(
                pd.DataFrame(
                    {
                        "participant_id": pid,
                        "site": site,
                        "analysis": "primary",
                        "level": "edge",
                        "value": np.arange(per_run, dtype=float),
                    }
                )
            )
    file = pq.ParquetFile(tmp_path / LEVEL_FILES["edge"])
    assert file.metadata.num_row_groups == 2
    names = file.schema_arrow.names
    for group in range(2):
        row_group = file.metadata.row_group(group)
        with_statistics = {
            names[k] for k in range(row_group.num_columns) if row_group.column(k).is_stats_set
        }
        assert with_statistics == {"participant_id", "analysis", "value"}
        assert with_statistics <= set(STATISTICS_COLUMNS)
        index = names.index("participant_id")
        assert row_group.column(index).statistics.min == f"sub-{group + 1}"
        # Text is dictionary-encoded; numbers are not (a dictionary of them seldom pays).
        encodings = {names[k]: row_group.column(k).encodings for k in range(len(names))}
        assert "RLE_DICTIONARY" in encodings["site"]
        assert "RLE_DICTIONARY" not in encodings["value"]
    table = pq.read_table(
        tmp_path / LEVEL_FILES["edge"], filters=[("participant_id", "==", "sub-2")]
    )
    assert set(table.column("site").to_pylist()) == {"b"}
    assert table.num_rows == per_run


def test_constants_of_every_type_read_back_as_their_values(tmp_path: Path) -> None:
    """Design constants written as dictionaries read back as plain, typed columns.

    Text, booleans, integers and floats (a missing one in one run) come back as the
    design's types, not as dictionaries (pandas: category), and with the same values.
    """
    from dmnpharm.pipeline._levels import split_levels

    keys = [
        {"participant_id": "sub-1", "flag": True, "visits": np.int64(3), "weight": 71.5},
        {"participant_id": "sub-2", "flag": False, "visits": np.int64(4), "weight": np.nan},
    ]
    bundle = _run_rows("x", "n", 0.0).drop(columns=["participant_id", "note", "dose_mg"])
    with LevelFiles(tmp_path, pd.DataFrame(keys)) as levels:
        for key in keys:
            levels.add_rows(split_levels(bundle, key, "atlas300", "pearson"))
    got = pd.read_parquet(tmp_path / LEVEL_FILES["region"])
    assert list(got["participant_id"]) == ["sub-1", "sub-1", "sub-2", "sub-2"]
    assert list(got["flag"]) == [True, True, False, False]
    assert list(got["visits"]) == [3, 3, 4, 4]
    assert got["weight"].iloc[:2].tolist() == [71.5, 71.5]
    assert got["weight"].iloc[2:].isna().all()
    assert list(got["atlas"].unique()) == ["atlas300"]
    schema = pq.read_schema(tmp_path / LEVEL_FILES["region"])
    kinds = {name: str(schema.field(name).type) for name in ("flag", "visits", "weight")}
    assert kinds == {"flag": "bool", "visits": "int64", "weight": "double"}
    assert str(schema.field("participant_id").type) == "string"
