"""Benchmark the results store's ingest of a cohort's edge-level Parquet file.

``dmnpharm run`` writes every run's region and edge rows to Parquet files, and
the store (``results.duckdb``) appends each file in one statement, in a
transaction, with DuckDB's memory capped at the writer's 128 MB
(:data:`dmnpharm.store._writer.MEMORY_LIMIT`). This benchmark builds such a
file: ``--subjects`` runs of the 2,211 DMN edges of Seitzman-300 for two
analyses (4,422 rows per run), each row carrying the run's design columns as
the pipeline writes them, in row groups of 65,536 rows. It then appends it to a
new store, in a child process each time:

* ``in file order``: the statement DuckDB runs with its default
  ``preserve_insertion_order = true`` (the store's behaviour before);
* ``in file order, one thread``: the same with ``SET threads = 1``;
* ``in no set order``: the same with ``preserve_insertion_order = false``;
* ``append_parquet``: the store's own function, as ``dmnpharm run`` calls it.

Each is run ``--repeats`` times, alternately. Printed: median wall and CPU
seconds, the child's peak resident memory, and whether every row arrived.
Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_store_ingest.py --subjects 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

EDGES_PER_RUN = 2_211  # DMN pairs of Seitzman-300 (67 regions)

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import duckdb
from dmnpharm.store._sql import append_parquet
from dmnpharm.store._writer import MEMORY_LIMIT
how, file, store = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
con = duckdb.connect(store)
con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
start, cpu = time.perf_counter(), time.process_time()
con.execute("BEGIN TRANSACTION")
if how == "append_parquet":
    append_parquet(con, "metrics_edges", "a", file, {"age": "DOUBLE", "dose_mg": "DOUBLE"})
else:
    if how == "ordered_one_thread":
        con.execute("SET threads = 1")
    con.execute(f"SET preserve_insertion_order = {'false' if how == 'unordered' else 'true'}")
    con.execute(
        "CREATE TABLE metrics_edges AS SELECT 'a' AS analysis_id, * "
        f"FROM read_parquet('{file}')"
    )
con.execute("COMMIT")
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
rows = con.execute("SELECT count(*) FROM metrics_edges").fetchone()[0]
con.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "peak_mib": peak}))
"""

_VARIANTS = {
    "ordered": "in file order (before)",
    "ordered_one_thread": "in file order, one thread",
    "unordered": "in no set order",
    "append_parquet": "append_parquet (now)",
}


def make_file(path: Path, subjects: int, seed: int = 0) -> int:
    """Write a level file of ``subjects`` runs as the pipeline does; return its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    regions = [f"DefaultMode_{i:03d}" for i in range(67)]
    a, b = np.triu_indices(67, k=1)
    per_run = 2 * EDGES_PER_RUN
    writer = None
    for first in range(0, subjects, 15):  # about 65,536 rows per row group
        frames = []
        for s in range(first, min(first + 15, subjects)):
            frames.append(
                pd.DataFrame(
                    {
                        "participant_id": f"sub-{s + 1:05d}",
                        "group": "patient" if s % 3 else "control",
                        "site": f"site-{s % 6}",
                        "medication": "ssri" if s % 3 else "none",
                        "dose_mg": "n/a" if s % 3 == 0 else str(10 * (s % 4 + 1)),
                        "age": str(20 + s % 50),
                        "sex": "F" if s % 2 else "M",
                        "session_id": "ses-1",
                        "run": "",
                        "repetition_time": 2.0,
                        "analysis": np.repeat(["primary", "gsr_sensitivity"], EDGES_PER_RUN),
                        "measure": "edge_fc",
                        "level": "edge",
                        "network_a": "DMN",
                        "network_b": "DMN",
                        "region_a": np.tile(np.asarray(regions)[a], 2),
                        "region_b": np.tile(np.asarray(regions)[b], 2),
                        "value": rng.normal(0.2, 0.2, per_run),
                        "unit": "Fisher z",
                        "strategy": "acompcor",
                        "atlas": "seitzman300",
                        "estimator": "pearson",
                    }
                )
            )
        table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=table.num_rows)
    assert writer is not None
    writer.close()
    return subjects * per_run


def run_child(how: str, file: Path, folder: Path) -> dict[str, float]:
    """Append the file to a new store in a child process; return its timings."""
    store = folder / f"{how}.duckdb"
    store.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, how, str(file), str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    store.unlink(missing_ok=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    """Build the file, time each way of appending it, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"edges-{args.subjects}.parquet"
        rows = make_file(file, args.subjects)
        print(f"{args.subjects} subjects: {rows:,} edge rows, {file.stat().st_size >> 20} MiB")
        timings: dict[str, list[dict[str, float]]] = {how: [] for how in _VARIANTS}
        for _ in range(args.repeats):
            for how in _VARIANTS:
                timings[how].append(run_child(how, file, folder))
        for how, label in _VARIANTS.items():
            runs = timings[how]
            wall = statistics.median(r["wall"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            whole = all(int(r["rows"]) == rows for r in runs)
            print(
                f"  {label:26s} {wall:6.2f} s wall {cpu:6.2f} s CPU  peak {peak:5.0f} MiB  "
                f"every row: {whole}"
            )
        ordered = statistics.median(r["wall"] for r in timings["ordered"])
        now = statistics.median(r["wall"] for r in timings["append_parquet"])
        print(f"  before / now (wall): {ordered / now:.2f}x; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
