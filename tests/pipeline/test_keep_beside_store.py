"""A complete analysis is copied into the cache while its store commits, and kept only then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dmnpharm import AnalysisConfig, Execution
from dmnpharm.exceptions import OutputExistsError
from dmnpharm.execution import RunCache
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._results import Results
from dmnpharm.pipeline._snapshot_key import snapshot_key
from dmnpharm.pipeline._snapshots import load_snapshot, store_and_keep


class _Writer:
    """Stands in for the store's open transaction: finish writes the store, or refuses."""

    def __init__(self, store: Path, refuse: bool) -> None:
        self.store, self.refuse = store, refuse

    def finish(self, **tables: Any) -> Path:
        assert set(tables) == {"runs", "results", "provenance", "output"}
        if self.refuse:
            raise OutputExistsError("the store already holds this analysis")
        self.store.write_bytes(b"a complete store " * 1000)
        return self.store


def _analysis(tmp_path: Path) -> tuple[Results, Outputs, str]:
    staging = tmp_path / ".out.partial-1"
    (staging / "group").mkdir(parents=True)
    (staging / "group" / "results.tsv").write_text("measure\tp\nwithin_dmn\t0.01\n")
    (staging / "report.html").write_text("<html>report</html>")
    cache = RunCache(tmp_path / "cache")
    config = AnalysisConfig(execution=Execution(scheduler="synchronous", cache_dir=cache.root))
    outputs = Outputs(
        final=tmp_path / "out",
        store=staging / "results.duckdb",
        overwrite=False,
        source=tmp_path / "study",
        cache=cache,
    )
    key = snapshot_key(cache, config, {"case": "keep beside the store"})
    assert key is not None
    result = Results(
        out=staging,
        metrics=pd.DataFrame({"value": [1.0]}),
        results=pd.DataFrame({"p": [0.01]}),
        report_file=staging / "report.html",
        analysis_id="a1",
        failures=(),
        provenance={"analysis_id": "a1"},
        null=None,
    )
    return result, outputs, key


def test_the_store_is_kept_last_once_complete(tmp_path: Path) -> None:
    """The entry holds the outputs and the store as it was once written."""
    result, outputs, key = _analysis(tmp_path)
    tables = {"runs": None, "results": None, "provenance": {}}
    stored = store_and_keep(result, tables, outputs, key, _Writer(outputs.store, refuse=False))
    assert stored.store == outputs.store
    kept = load_snapshot(outputs.cache, key)
    assert kept is not None
    assert kept.attached is not None
    with kept.attached:
        assert kept.store_kept
        assert kept.names == {"group/results.tsv", "report.html"}
        copy = tmp_path / "store-copy"
        kept.attached.copy_to(len(kept.copied), copy)
        assert copy.read_bytes() == outputs.store.read_bytes()


def test_a_store_that_refuses_keeps_nothing(tmp_path: Path) -> None:
    """The store's error is raised, and no entry of the outputs is left in the cache."""
    result, outputs, key = _analysis(tmp_path)
    tables = {"runs": None, "results": None, "provenance": {}}
    with pytest.raises(OutputExistsError, match="already holds"):
        store_and_keep(result, tables, outputs, key, _Writer(outputs.store, refuse=True))
    assert load_snapshot(outputs.cache, key) is None
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "outputs" in p.parts]
