"""``dmnpharm run --store`` and ``dmnpharm query``, called in-process."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.cli import main

SQL = "SELECT analysis_id, measure, estimate, p_fwer FROM results WHERE analysis = 'primary'"


def test_run_into_a_store_then_query_it(
    small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--store appends to another file; query prints text, TSV and JSON that parse alike."""
    store = tmp_path / "all.duckdb"
    out = tmp_path / "out"
    args = ["run", str(small_study), "--out", str(out), "--permutations", "50"]
    assert main([*args, "--store", str(store), "-v"]) == 0
    assert store.is_file()
    assert not (out / "results.duckdb").exists()
    log = (out / "dmnpharm.log").read_text()
    assert " DEBUG dmnpharm.pipeline: " in log
    assert f"stored in {store.resolve()}" in log
    capsys.readouterr()

    assert main(["query", str(store), SQL, "--format", "tsv"]) == 0
    tsv = pd.read_csv(io.StringIO(capsys.readouterr().out), sep="\t")
    assert list(tsv.columns) == ["analysis_id", "measure", "estimate", "p_fwer"]
    assert len(set(tsv["analysis_id"])) == 1
    assert "dmn_within_fc" in set(tsv["measure"])

    assert main(["query", str(store), SQL, "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    pd.testing.assert_frame_equal(pd.DataFrame(records), tsv)

    assert main(["query", str(store), SQL]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split() == list(tsv.columns)
    assert len(text) == 1 + len(tsv)
    assert tsv["analysis_id"].iloc[0] in text[1]

    assert main(["query", str(store), "SELECT * FROM runs WHERE false"]) == 0
    assert capsys.readouterr().out.endswith("(0 rows)\n")

    # the same analysis again is refused before any work
    again = tmp_path / "again"
    assert main([*args[:2], "--out", str(again), *args[4:], "--store", str(store), "-q"]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert not again.exists()


def test_query_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing store is an error (exit 1); an unknown format a usage error (exit 2)."""
    assert main(["query", str(tmp_path), "SELECT 1"]) == 1
    assert "no results store" in capsys.readouterr().err
    assert main(["query", str(tmp_path), "SELECT 1", "--format", "xml"]) == 2
