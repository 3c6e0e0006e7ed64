"""An identical analysis into a new folder is restored from the cache, byte for byte."""

from __future__ import annotations

import filecmp
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from demo_probe import demo_in_fresh_python
from dmnpharm import AnalysisConfig, Execution, Inference
from dmnpharm.execution import RunCache
from dmnpharm.pipeline import _snapshot_files as snapshot_files
from dmnpharm.pipeline import make_demo
from dmnpharm.pipeline._demo import _demo_key
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._snapshot_key import snapshot_key
from dmnpharm.pipeline._snapshots import load_snapshot, save_snapshot
from dmnpharm.simulate import SignalSpec, load_preset

#: 4 subjects x 2 sessions of 81 volumes on 160 regions: a small demo that still filters
#: (0.01 Hz high-pass) and fits sliding windows.
SPEC = replace(
    load_preset("demo-crossover", seed=3),
    design=replace(load_preset("demo-crossover").design, n_subjects=4),
    signal=SignalSpec(n_volumes=81, repetition_time=1.5, atlas="dosenbach160"),
)


def _config(cache: Path, permutations: int = 15) -> AnalysisConfig:
    execution = Execution(scheduler="synchronous", cache_dir=cache)
    return AnalysisConfig(inference=Inference(n_permutations=permutations), execution=execution)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _tables(store: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(store), read_only=True) as connection:
        names = [row[0] for row in connection.execute("SHOW TABLES").fetchall()]
        tables = {name: connection.execute(f"SELECT * FROM {name}").df() for name in names}
    # The store records when each analysis was written; all else must match.
    return {name: table.drop(columns="created", errors="ignore") for name, table in tables.items()}


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Compute demo ``b`` with one cache, then ``a`` and a restored ``b`` with another.

    The first ``b`` is renamed ``reference``.
    """
    base = tmp_path_factory.mktemp("demos")
    reference = make_demo(base / "b", SPEC, _config(base / "cache-ref"))
    (base / "b").rename(base / "reference")
    first = make_demo(base / "a", SPEC, _config(base / "cache"))
    restored = make_demo(base / "b", SPEC, _config(base / "cache"))
    return {"base": base, "reference": reference, "first": first, "restored": restored}


def test_a_restored_demo_equals_a_computed_one_in_the_same_place(demos: dict[str, Any]) -> None:
    """Every output file but the log and the store is identical byte for byte.

    The study's path, which the derivatives name, is rewritten; the store holds
    the same rows; the results in memory are the same.
    """
    out, expected = demos["base"] / "b", demos["base"] / "reference"
    log = (out / "dmnpharm.log").read_text()
    assert "restored from the cache" in log
    assert "simulating" not in log
    assert _files(out) == _files(expected)
    for name in _files(expected):
        if name not in ("dmnpharm.log", "results.duckdb"):
            assert filecmp.cmp(out / name, expected / name, shallow=False), name
    description = json.loads((out / "derivatives/dmnpharm/dataset_description.json").read_text())
    assert (out / "study").resolve().as_uri() in json.dumps(description)
    ours, theirs = _tables(out / "results.duckdb"), _tables(expected / "results.duckdb")
    assert ours.keys() == theirs.keys()
    for table in ours:
        if table != "analyses":
            pd.testing.assert_frame_equal(ours[table], theirs[table])
    assert ours["analyses"]["output"].tolist() == [str(out)]
    restored, reference = demos["restored"], demos["reference"]
    assert restored.analysis_id == demos["first"].analysis_id == reference.analysis_id
    pd.testing.assert_frame_equal(restored.results, reference.results)
    pd.testing.assert_frame_equal(restored.metrics, reference.metrics)
    assert restored.null is not None
    assert restored.report_file == out / "report.html"


def test_a_changed_choice_is_another_key(demos: dict[str, Any]) -> None:
    """Another permutation count, scheduler or spec keys other outputs."""
    base = demos["base"]
    keys = set()
    for permutations, scheduler, spec in (
        (15, "synchronous", SPEC),
        (31, "synchronous", SPEC),
        (15, "local", SPEC),
        (15, "synchronous", replace(SPEC, seed=4)),
    ):
        config = _config(base / "cache", permutations)
        config = config.replace(execution=replace(config.execution, scheduler=scheduler))
        outputs = Outputs.make(base / "x", base / "x", config, False, None, base / "x")
        keys.add(_demo_key(outputs, spec, config))
    assert len(keys) == 4
    assert None not in keys
    uncached = _config(base / "cache").replace(execution=Execution(cache=False))
    outputs = Outputs.make(base / "x", base / "x", uncached, False, None, base / "x")
    assert _demo_key(outputs, SPEC, uncached) is None


def test_unsafe_or_large_outputs_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path named inside a longer one, in a binary file, or too much data: no snapshot."""
    monkeypatch.setattr(snapshot_files, "MAX_SNAPSHOT_BYTES", 1000)
    cache = RunCache(tmp_path / "cache")
    config = _config(tmp_path / "cache")
    final = tmp_path / "out"
    key = snapshot_key(cache, config, {"case": 1})
    assert key is not None
    assert snapshot_key(RunCache(None), config, {"case": 1}) is None
    assert snapshot_key(cache, config, {"case": 2}) != key

    def keep(name: str, content: bytes) -> bool:
        staging = tmp_path / f"staging-{len(list(tmp_path.iterdir()))}"
        (staging / name).parent.mkdir(parents=True)
        (staging / name).write_bytes(content)
        return save_snapshot(cache, key, staging, final, set(), {}, {})

    named = str(final.resolve()).encode()
    assert keep("a.json", b'{"x": "' + named + b'/study"}')
    assert load_snapshot(cache, key) is not None
    assert not keep("b.json", b'{"x": "' + named + b'-other/study"}')
    assert not keep("c.parquet", b"PAR1" + named + b"/study")
    assert not keep("d.bin", b"0" * 1001)
    assert keep("e.json", b'{"x": "' + named + b'"}')


@pytest.mark.parametrize("where", ["plain/out", "with space/out", "out"])
def test_files_naming_the_folder_in_any_form_are_rewritten(tmp_path: Path, where: str) -> None:
    """Only files naming no folder skip the checks: a file URI (with %20) is still found."""
    final = (tmp_path / where).resolve()
    staging = final.parent / ".out.partial-x"
    staging.mkdir(parents=True)
    forms = snapshot_files.path_forms(final) + snapshot_files.path_forms(staging)
    prefixes = snapshot_files._prefixes(final, staging)
    assert all(any(prefix in form for prefix in prefixes) for form in forms)
    assert len(prefixes) == (2 if " " in where else 1)  # the plain path, and its URI
    (staging / "uri.json").write_bytes(b'{"source": "' + final.as_uri().encode() + b'/study"}')
    (staging / "plain.tsv").write_bytes(b"a\tb\n1\t2\n")
    cache = RunCache(tmp_path / "cache")
    key = snapshot_key(cache, _config(tmp_path / "cache"), {"where": where})
    assert save_snapshot(cache, key, staging, final, set(), {}, {})
    kept = load_snapshot(cache, key)
    assert kept is not None
    assert kept.rewritten == ("uri.json",)
    assert kept.names == {"uri.json", "plain.tsv"}
    assert kept.copied == ("plain.tsv",)  # names no folder: copied as it is, never read
    assert kept.attached is not None
    kept.attached.close()


def test_a_stores_own_files_beside_it_are_never_collected(tmp_path: Path) -> None:
    """The snapshot is read while the store closes: its .wal and .tmp files are skipped."""
    staging, final = tmp_path / "staging", tmp_path / "out"
    (staging / "results.duckdb.tmp").mkdir(parents=True)
    (staging / "results.duckdb").write_bytes(b"store")
    (staging / "results.duckdb.wal").write_bytes(b"log of the commit")
    (staging / "results.duckdb.tmp" / "spill.block").write_bytes(b"spilled")
    (staging / "results.tsv").write_bytes(b"a\tb\n")
    (staging / "dmnpharm.log").write_bytes(b"the log")
    skip = {staging / "results.duckdb", staging / "dmnpharm.log"}
    collected = snapshot_files.collect_outputs(staging, final, skip)
    assert collected is not None
    assert collected.copied == (("results.tsv", 4),)
    assert not collected.read


def test_a_restored_demo_imports_no_simulator_or_per_run_stack(
    demos: dict[str, Any],
) -> None:
    """Restoring imports neither the simulator's SciPy modules nor the analysis's stack.

    They cost a restored demo about 0.5 s (SciPy's ``optimize``) and more (``signal``);
    the analysis's own modules (the orchestrator, the per-run work) and nibabel about
    0.15 s more.
    """
    base = demos["base"]
    heavy = (
        "scipy.optimize",
        "scipy.signal",
        "scipy.stats",
        "matplotlib",
        "nibabel",
        "dmnpharm.pipeline._orchestrator",
        "dmnpharm.pipeline._work",
    )
    report = f"[name for name in {heavy!r} if name in sys.modules]"
    found = demo_in_fresh_python(base / "c", SPEC, _config(base / "cache"), report)
    assert found == []
    assert "restored from the cache" in (base / "c" / "dmnpharm.log").read_text()
