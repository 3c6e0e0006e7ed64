"""StoreWriter: the region and edge Parquet files ingested once, in the background, atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import OutputExistsError
from dmnpharm.store import query, write_analysis
from dmnpharm.store._writer import StoreWriter


def _rows(rng: np.random.Generator, level: str, n_runs: int, per_run: int) -> pd.DataFrame:
    """Region- or edge-level rows as the pipeline streams them: design columns repeated."""
    runs = np.repeat(np.arange(n_runs), per_run)
    return pd.DataFrame(
        {
            "participant_id": [f"sub-{r:03d}" for r in runs],
            "age": [str(20 + r % 30) for r in runs],
            "site": [f"site-{r % 3}" for r in runs],
            "run": ["1"] * len(runs),
            "analysis": np.where(np.arange(len(runs)) % 2, "primary", "gsr_sensitivity"),
            "measure": f"{level}_fc",
            "level": level,
            "region_a": [f"r{i % per_run}" for i in range(len(runs))],
            "value": rng.standard_normal(len(runs)),
        }
    )


@pytest.fixture
def analysis(tmp_path: Path, rng: np.random.Generator) -> dict[str, object]:
    """One analysis's tables, its region and edge rows as Parquet files."""
    regions, edges = _rows(rng, "region", 40, 37), _rows(rng, "edge", 40, 53)
    files = {"regions": tmp_path / "regions.parquet", "edges": tmp_path / "edges.parquet"}
    regions.to_parquet(files["regions"], index=False)
    edges.to_parquet(files["edges"], index=False)
    network = regions.drop_duplicates("participant_id").assign(level="network")
    return {
        "metrics": network,
        "runs": network[["participant_id", "age", "site"]].assign(mean_fd=0.1),
        "results": pd.DataFrame({"measure": ["region_fc"], "estimate": [0.2]}),
        "provenance": {"config": {"atlas": "x", "estimator": "pearson"}, "study": "s"},
        **files,
        "frames": {"regions": regions, "edges": edges},
    }


def _write_in_background(store: Path, tables: dict[str, object], analysis_id: str) -> Path:
    with StoreWriter(
        store,
        analysis_id=analysis_id,
        metrics=tables["metrics"],  # type: ignore[arg-type]
        regions=tables["regions"],  # type: ignore[arg-type]
        edges=tables["edges"],  # type: ignore[arg-type]
    ) as writer:
        return writer.finish(
            runs=tables["runs"],  # type: ignore[arg-type]
            results=tables["results"],  # type: ignore[arg-type]
            provenance=tables["provenance"],  # type: ignore[arg-type]
            output="out",
        )


def _everything(store: Path) -> dict[str, pd.DataFrame]:
    """Every table; the rows ingested from Parquet (stored in no set order) sorted."""
    with duckdb.connect(str(store), read_only=True) as connection:
        names = [row[0] for row in connection.execute("SHOW TABLES").fetchall()]
        tables = {n: connection.execute(f"SELECT * FROM {n}").df() for n in names}
    for name in ("metrics_regions", "metrics_edges"):
        if name in tables:
            table = tables[name]
            tables[name] = table.sort_values(list(table.columns), ignore_index=True)
    return {n: t.drop(columns="created", errors="ignore") for n, t in tables.items()}


def test_the_background_writer_stores_what_write_analysis_stores(
    tmp_path: Path, analysis: dict[str, object]
) -> None:
    """Same tables, rows and types; the Parquet rows once each, numbers as numbers."""
    _write_in_background(tmp_path / "background.duckdb", analysis, "a")
    tables = {k: v for k, v in analysis.items() if k != "frames"}
    write_analysis(tmp_path / "direct.duckdb", analysis_id="a", output="out", **tables)  # type: ignore[arg-type]
    ours, theirs = (
        _everything(tmp_path / "background.duckdb"),
        _everything(tmp_path / "direct.duckdb"),
    )
    assert ours.keys() == theirs.keys()
    for name in ours:
        pd.testing.assert_frame_equal(ours[name], theirs[name])
    frames = analysis["frames"]
    assert isinstance(frames, dict)
    edges = ours["metrics_edges"]
    assert len(edges) == len(frames["edges"])
    assert pd.api.types.is_integer_dtype(edges["age"])  # numeric text, as in the network rows
    np.testing.assert_array_equal(np.sort(edges["value"]), np.sort(frames["edges"]["value"]))


def test_a_parquet_file_of_many_row_groups_is_appended_whole(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Every row of a file of many row groups, once, its numbers typed; the session unchanged.

    The rows are appended in no set order (DuckDB's parallel insert, fast under a memory
    limit); the connection's own setting is restored afterwards.
    """
    from dmnpharm.store._sql import append_parquet

    rows = _rows(rng, "edge", 120, 500)  # 60,000 rows
    file = tmp_path / "edges.parquet"
    rows.to_parquet(file, index=False, row_group_size=4_000)
    with duckdb.connect(str(tmp_path / "s.duckdb")) as con:
        con.execute("SET memory_limit = '128MB'")
        con.execute("BEGIN TRANSACTION")
        append_parquet(con, "metrics_edges", "a", file, {"age": "BIGINT"})
        con.execute("COMMIT")
        setting = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        stored = con.execute("SELECT * FROM metrics_edges").df()
    assert setting == (True,)
    assert len(stored) == len(rows)
    assert set(stored["analysis_id"]) == {"a"}
    assert pd.api.types.is_integer_dtype(stored["age"])
    expected = rows.assign(age=rows["age"].astype(int))
    got = stored.drop(columns="analysis_id")[list(expected.columns)]
    key = ["participant_id", "analysis", "region_a", "value"]
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True),
        expected.sort_values(key, ignore_index=True),
        check_dtype=False,
    )


def test_a_failure_before_finish_leaves_the_store_as_it_was(
    tmp_path: Path, analysis: dict[str, object]
) -> None:
    """Region and edge rows ingested, then the group stage fails: nothing of it is stored."""
    store = tmp_path / "results.duckdb"
    _write_in_background(store, analysis, "first")
    before = _everything(store)
    with (
        pytest.raises(RuntimeError, match="group stage failed"),
        StoreWriter(
            store,
            analysis_id="second",
            metrics=analysis["metrics"],  # type: ignore[arg-type]
            regions=analysis["regions"],  # type: ignore[arg-type]
            edges=analysis["edges"],  # type: ignore[arg-type]
        ),
    ):
        raise RuntimeError("group stage failed")
    after = _everything(store)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])
    assert set(query(store, "SELECT DISTINCT analysis_id FROM metrics_edges")["analysis_id"]) == {
        "first"
    }


def test_a_stored_id_is_refused_at_finish_and_replaced_with_overwrite(
    tmp_path: Path, analysis: dict[str, object]
) -> None:
    """The background ingest's refusal reaches the caller; overwrite replaces the rows."""
    store = tmp_path / "results.duckdb"
    _write_in_background(store, analysis, "a")
    with pytest.raises(OutputExistsError, match="already in the results store"):
        _write_in_background(store, analysis, "a")
    with StoreWriter(
        store,
        analysis_id="a",
        metrics=analysis["metrics"],  # type: ignore[arg-type]
        edges=analysis["edges"],  # type: ignore[arg-type]
        overwrite=True,
    ) as writer:
        writer.finish(
            runs=analysis["runs"],  # type: ignore[arg-type]
            results=analysis["results"],  # type: ignore[arg-type]
            provenance=analysis["provenance"],  # type: ignore[arg-type]
        )
    counts = query(store, "SELECT count(*) AS n FROM metrics_regions")["n"].tolist()
    assert counts == [0]  # replaced by an analysis without region rows
    assert query(store, "SELECT count(*) AS n FROM analyses")["n"].tolist() == [1]


def test_a_failed_append_raises_its_own_error_not_the_aborted_transactions(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A value that cannot be stored as its number aborts the transaction; that error is raised.

    The clean-up after it (the session setting, the temporary view) cannot run in an
    aborted transaction, and must not hide which value failed.
    """
    from dmnpharm.store._sql import append_parquet

    rows = _rows(rng, "edge", 4, 10)
    rows.loc[7, "age"] = "thirty"
    file = tmp_path / "edges.parquet"
    rows.to_parquet(file, index=False)
    with duckdb.connect(str(tmp_path / "s.duckdb")) as con:
        con.execute("BEGIN TRANSACTION")
        with pytest.raises(duckdb.ConversionException, match="thirty"):
            append_parquet(con, "metrics_edges", "a", file, {"age": "BIGINT"})
        con.execute("ROLLBACK")
        assert con.execute("SHOW TABLES").fetchall() == []


def test_ingest_threads_give_each_thread_a_whole_duckdb_row_group(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """One thread per whole DuckDB row group (no partial row groups left for the close)."""
    from dmnpharm.store._writer import ROWS_PER_THREAD, ingest_threads

    file = tmp_path / "edges.parquet"
    _rows(rng, "edge", 10, 50).to_parquet(file, index=False, row_group_size=100)
    assert ingest_threads([file, None], available=8) == 1
    many = pd.DataFrame({"value": np.zeros(3 * ROWS_PER_THREAD + 5)})
    assert ingest_threads([many, file], available=8) == 3
    assert ingest_threads([many], available=2) == 2
    assert ingest_threads([None, None], available=4) == 1


def test_the_writer_restores_duckdbs_threads_after_the_large_tables(
    tmp_path: Path, analysis: dict[str, object]
) -> None:
    """The threads setting is the database's default again once the large tables are in."""
    store = tmp_path / "s.duckdb"
    with StoreWriter(
        store,
        analysis_id="a",
        metrics=analysis["metrics"],  # type: ignore[arg-type]
        regions=analysis["regions"],  # type: ignore[arg-type]
        edges=analysis["edges"],  # type: ignore[arg-type]
        background=False,
    ) as writer:
        assert writer._con is not None
        default = duckdb.connect().execute("SELECT current_setting('threads')").fetchall()
        assert writer._con.execute("SELECT current_setting('threads')").fetchall() == default
        writer.finish(
            runs=analysis["runs"],  # type: ignore[arg-type]
            results=analysis["results"],  # type: ignore[arg-type]
            provenance=analysis["provenance"],  # type: ignore[arg-type]
        )
    assert len(_everything(store)["metrics_edges"]) == 40 * 53


def test_whole_parquet_row_groups_fill_whole_duckdb_row_groups_on_two_threads(
    tmp_path: Path, analysis: dict[str, object]
) -> None:
    """Level files cut in DuckDB-sized row groups are stored with no extra partial group.

    DuckDB's row group size is read back from the stored table: every row group
    but the last is full, whichever thread filled it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dmnpharm.pipeline._levels import ROW_GROUP_ROWS
    from dmnpharm.store._writer import ROWS_PER_THREAD

    assert ROW_GROUP_ROWS == ROWS_PER_THREAD
    total = 3 * ROWS_PER_THREAD + 1_000
    edges = pa.table(
        {
            "participant_id": pa.array([f"sub-{i % 500:03d}" for i in range(total)]),
            "level": pa.array(["edge"] * total),
            "value": pa.array(np.arange(total, dtype=float)),
        }
    )
    file = tmp_path / "many.parquet"
    pq.write_table(edges, file, row_group_size=ROWS_PER_THREAD)
    store = tmp_path / "s.duckdb"
    with duckdb.connect(str(store)) as con:
        con.execute("SET threads = 2")  # the database's default on a 2-core machine
    tables = {**analysis, "edges": file}
    _write_in_background(store, tables, "a")
    with duckdb.connect(str(store), read_only=True) as con:
        sizes = con.execute(
            "SELECT row_group_id, sum(count) FROM pragma_storage_info('metrics_edges') "
            "WHERE column_name = 'value' AND segment_type <> 'VALIDITY' "
            "GROUP BY row_group_id ORDER BY row_group_id"
        ).fetchall()
        stored = con.execute("SELECT count(*), sum(value) FROM metrics_edges").fetchone()
    assert stored == (total, float(np.arange(total, dtype=float).sum()))
    assert sorted(int(s) for _, s in sizes) == [1_000] + [ROWS_PER_THREAD] * 3
