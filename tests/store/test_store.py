"""The results store: appending analyses, refusing duplicates, querying."""

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dmnpharm.exceptions import InputError, OutputExistsError
from dmnpharm.store import (
    STORE_TABLES,
    check_new_analysis,
    make_analysis_id,
    query,
    store_path,
    write_analysis,
)


def _provenance(atlas: str, strategy: str) -> dict[str, Any]:
    return {
        "study": "/data/study",
        "config": {
            "atlas": atlas,
            "estimator": "pearson",
            "contrast": ["drug", "placebo"],
            "denoise": {"name": strategy},
            "seed": 3,
        },
    }


def _tables(n_subjects: int, extra: dict[str, Any]) -> dict[str, pd.DataFrame]:
    ids = [f"sub-{i:02d}" for i in range(1, n_subjects + 1)]
    runs = pd.DataFrame({"participant_id": ids, "mean_fd": 0.1, **extra})
    metrics = pd.DataFrame(
        {"participant_id": ids, "measure": "dmn_within_fc", "value": range(n_subjects)}
    )
    results = pd.DataFrame(
        {"analysis": ["primary"], "measure": ["dmn_within_fc"], "estimate": [-0.1], "n": [7]}
    )
    return {"runs": runs, "metrics": metrics, "results": results}


def _write(path: Path, analysis_id: str, strategy: str, **extra: Any) -> Path:
    return write_analysis(
        path,
        analysis_id=analysis_id,
        provenance=_provenance("dosenbach160", strategy),
        **_tables(3 if strategy == "none" else 5, extra),
    )


def test_analyses_with_different_columns_append(tmp_path: Path) -> None:
    """A second analysis with other columns and types appends; both stay apart by id."""
    db = tmp_path / "results.duckdb"
    _write(db, "a_none", "none", dose_mg=[0, 10, 20], site=["x", "y", "z"])
    _write(db, "a_6p", "6p", dose_mg=["n/a", "5", "10", "n/a", "2.5"], group=list("ppccc"))
    assert set(query(db, "SHOW TABLES")["name"]) == {
        "analyses",
        "runs",
        "metrics",
        "results",
        "provenance",
    }
    runs = query(db, 'SELECT analysis_id, dose_mg, site, "group" FROM runs ORDER BY ALL')
    assert runs.groupby("analysis_id").size().to_dict() == {"a_none": 3, "a_6p": 5}
    # n/a is missing, numbers stay numbers; columns absent from one analysis are empty there
    assert pd.api.types.is_float_dtype(runs["dose_mg"])
    assert runs["dose_mg"].isna().sum() == 2
    assert runs.loc[runs["analysis_id"] == "a_6p", "site"].isna().all()
    analyses = query(db, "SELECT * FROM analyses ORDER BY created, analysis_id")
    assert set(analyses["strategy"]) == {"none", "6p"}
    assert set(analyses["contrast"]) == {"drug-placebo"}
    assert list(query(db, "SELECT config->>'$.seed' AS seed FROM analyses")["seed"]) == ["3"] * 2
    joined = query(
        db,
        "SELECT a.strategy, r.estimate FROM results r JOIN analyses a USING (analysis_id) "
        "ORDER BY a.strategy",
    )
    assert list(joined["strategy"]) == ["6p", "none"]


def test_duplicate_is_refused_and_overwrite_replaces(tmp_path: Path) -> None:
    """The same id is refused (store unchanged) unless overwriting, which does not duplicate."""
    db = _write(tmp_path / "s.duckdb", "same", "none")
    check_new_analysis(db, "other")
    with pytest.raises(OutputExistsError, match="'same' is already in the results store"):
        check_new_analysis(db, "same")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        _write(db, "same", "none", extra=[1, 2, 3])
    assert "extra" not in set(query(db, "DESCRIBE runs")["column_name"])
    write_analysis(
        db,
        analysis_id="same",
        provenance=_provenance("dosenbach160", "none"),
        overwrite=True,
        **_tables(2, {}),
    )
    counts = query(db, "SELECT count(*) AS n FROM runs")["n"]
    assert counts.iloc[0] == 2
    assert len(query(db, "SELECT * FROM analyses")) == 1


def test_query_errors_and_read_only(tmp_path: Path) -> None:
    """Missing stores, unknown tables and writes are errors that say what is wrong."""
    with pytest.raises(InputError, match="no results store"):
        query(tmp_path, "SELECT 1")
    db = _write(tmp_path / "results.duckdb", "x", "none")
    assert store_path(tmp_path) == db
    assert len(query(tmp_path, "SELECT * FROM metrics")) == 3
    with pytest.raises(InputError, match=r"tables: analyses, metrics"):
        query(db, "SELECT * FROM metricz")
    with pytest.raises(InputError, match="read-only"):
        query(db, "DROP TABLE runs")
    (tmp_path / "junk.duckdb").write_text("not a database")
    with pytest.raises(InputError, match="cannot open the results store"):
        query(tmp_path / "junk.duckdb", "SELECT 1")


def test_analysis_id_is_readable_and_deterministic() -> None:
    """Atlas, strategy label and estimator, then a hash of everything else."""
    first = make_analysis_id("seitzman300", "acompcor+gsr", "pearson", {"seed": 0})
    assert re.fullmatch(r"seitzman300_acompcorGSR_pearson_[0-9a-f]{8}", first)
    assert make_analysis_id("seitzman300", "acompcor+gsr", "pearson", {"seed": 0}) == first
    assert make_analysis_id("seitzman300", "acompcor+gsr", "pearson", {"seed": 1}) != first


def test_store_tables_are_listed() -> None:
    """The documented tables are the ones written."""
    assert STORE_TABLES[0] == "analyses"
    assert {"runs", "metrics", "results", "provenance"} <= set(STORE_TABLES)


def _level_rows(dose: list[str], site: list[Any]) -> pd.DataFrame:
    """Region rows of three subjects: text design columns, one with BIDS n/a, one empty."""
    rows = []
    for i, (d, s) in enumerate(zip(dose, site, strict=True)):
        for region in ("PCC", "mPFC"):
            rows.append(
                {
                    "participant_id": f"sub-{i}",
                    "run": "1",
                    "dose_mg": d,
                    "site": s,
                    "measure": "alff",
                    "level": "region",
                    "region_a": region,
                    "network_b": None,
                    "value": 0.5 * i,
                }
            )
    return pd.DataFrame(rows)


def test_region_rows_from_parquet_are_stored_as_from_a_table(tmp_path: Path) -> None:
    """A Parquet file of region rows gives the store the same rows and types as the table.

    The design's text columns follow the network-level table: ``dose_mg`` (numbers and
    ``n/a``) is stored as numbers, the run label stays text, an empty column is text.
    """
    regions = _level_rows(["n/a", "5", "10"], [None, None, None])
    file = tmp_path / "regions.parquet"
    regions.to_parquet(file, index=False)
    tables = _tables(3, {})
    tables["metrics"] = regions.drop_duplicates("participant_id").assign(level="network")
    stored = {}
    for kind, given in (("table", regions), ("parquet", file)):
        db = tmp_path / f"{kind}.duckdb"
        write_analysis(
            db,
            analysis_id="a",
            provenance=_provenance("dosenbach160", "none"),
            regions=given,
            **tables,
        )
        stored[kind] = query(db, "SELECT * FROM metrics_regions ORDER BY participant_id, region_a")
        types = query(db, "DESCRIBE metrics_regions").set_index("column_name")["column_type"]
        assert types["dose_mg"] == "DOUBLE"
        assert types["run"] == "VARCHAR"
        assert types["site"] == "VARCHAR"
    pd.testing.assert_frame_equal(stored["table"], stored["parquet"])
    assert stored["parquet"]["dose_mg"].isna().sum() == 2
