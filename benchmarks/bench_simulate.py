"""Benchmark the demo's study: simulate it, write it, load (validate) it; old code vs new.

``dmnpharm demo`` first simulates the ``demo-crossover`` preset (40 subjects x 2
sessions, 200 volumes of the 300-region Seitzman atlas, fMRIPrep-style confounds),
writes it as an ROI-level study folder and loads it back as any user study
(``load_roi_study(..., keep_data=False)``, as ``plan_roi`` does: every run's TSV is
read and checked). This benchmark times those three steps for two versions of the
code in the same invocation:

* **base**: a ``git worktree`` of ``--base-ref`` (default ``HEAD``) made in a temporary
  folder and removed at the end (or an existing checkout's ``src`` given with
  ``--baseline-src``);
* **now**: this checkout's ``src``.

Each pass is a new child process whose ``PYTHONPATH`` is the version's ``src``; the
versions' passes alternate so both meet the same load. Printed per version and step:
the median (and min) wall seconds over ``--repeats`` passes and the CPU seconds of the
pass (all threads: OpenBLAS's own threads count too), then the ratios base / now,
and the load averages (``uptime``) before and after.

It then checks that the two versions agree exactly on the last passes' outputs:

* every simulated array (region data, BOLD, global signal, nuisance, confounds
  table) bit for bit, the confounds JSON content and the per-run truth;
* every file written, byte for byte;
* every run's data read back with ``keep_data=True`` (bit for bit, and memory
  order), and the design table.

It exits 1 if anything differs.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_simulate.py                 # base = HEAD
    PYTHONPATH=src python benchmarks/bench_simulate.py --base-ref HEAD~1 --repeats 5
    PYTHONPATH=src python benchmarks/bench_simulate.py --baseline-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
STEPS = ("simulate", "write", "load")


def _worker(out: Path) -> None:
    """Time the three steps with the dmnpharm on PYTHONPATH; save what they produced."""
    import pandas as pd

    from dmnpharm.io import load_roi_study
    from dmnpharm.simulate import load_preset, simulate_study, write_simulated_study

    spec = load_preset("demo-crossover")
    times: dict[str, float] = {}
    cpu, start = time.process_time(), time.perf_counter()
    study = simulate_study(spec)
    cpu, start = _lap(times, "simulate", cpu, start)
    write_simulated_study(study, out / "study")
    cpu, start = _lap(times, "write", cpu, start)
    load_roi_study(out / "study", study.atlas.name, study.atlas.labels, keep_data=False)
    _lap(times, "load", cpu, start)
    loaded = load_roi_study(out / "study", study.atlas.name, study.atlas.labels)
    arrays: dict[str, Any] = {}
    for i, run in enumerate(study.runs):
        sig = run.signals
        arrays[f"data{i}"] = sig.data
        arrays[f"bold{i}"] = sig.bold
        arrays[f"global{i}"] = sig.global_signal
        arrays[f"nuisance{i}"] = sig.nuisance
        arrays[f"confounds{i}"] = sig.confounds.to_numpy()
    for i, run in enumerate(loaded.runs):
        arrays[f"loaded{i}"] = run.data
    for name in list(arrays):  # memory order too: it can change what is computed from them
        value = np.asarray(arrays[name])
        arrays[f"{name}_order"] = np.array([value.flags.c_contiguous, value.flags.f_contiguous])
    np.savez(out / "arrays.npz", **arrays)
    record = {
        "confounds_columns": [list(r.signals.confounds.columns) for r in study.runs],
        "confounds_meta": [r.signals.confounds_meta for r in study.runs],
        "truth": [r.truth for r in study.runs],
        "design": loaded.design.astype(str).to_csv(sep="\t", index=False),
        "pandas": pd.__version__,
    }
    (out / "record.json").write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    print(json.dumps(times))


def _lap(times: dict[str, float], step: str, cpu: float, start: float) -> tuple[float, float]:
    """Record a step's wall and CPU seconds (all threads); return the clocks now."""
    now_cpu, now = time.process_time(), time.perf_counter()
    times[step], times[f"{step}_cpu"] = now - start, now_cpu - cpu
    return now_cpu, now


def _uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pass(src: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the pass with {src} failed:\n{done.stderr[-4000:]}")
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def _same_arrays(base: Path, now: Path) -> list[str]:
    problems = []
    with np.load(base / "arrays.npz") as old, np.load(now / "arrays.npz") as new:
        if sorted(old.files) != sorted(new.files):
            return ["the versions saved different arrays"]
        for name in sorted(old.files):
            a, b = old[name], new[name]
            if a.shape != b.shape or a.dtype != b.dtype:
                problems.append(f"{name}: shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
            elif a.dtype.kind == "f" and not np.array_equal(a.view(np.uint64), b.view(np.uint64)):
                problems.append(f"{name}: values differ (bitwise)")
            elif a.dtype.kind != "f" and not np.array_equal(a, b):
                problems.append(f"{name}: values differ")
    old_record = json.loads((base / "record.json").read_text(encoding="utf-8"))
    new_record = json.loads((now / "record.json").read_text(encoding="utf-8"))
    for key in ("confounds_columns", "confounds_meta", "truth", "design"):
        if old_record[key] != new_record[key]:
            problems.append(f"{key} differs")
    return problems


def _same_files(base: Path, now: Path) -> tuple[int, list[str]]:
    old = {p.relative_to(base): p for p in base.rglob("*") if p.is_file()}
    new = {p.relative_to(now): p for p in now.rglob("*") if p.is_file()}
    problems = [f"{name}: only in one version" for name in sorted(set(old) ^ set(new))]
    for name in sorted(set(old) & set(new)):
        if old[name].read_bytes() != new[name].read_bytes():
            problems.append(f"{name}: bytes differ")
    return len(old), problems


def _report(times: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    print(f"{'step':14s}" + "".join(f"{v + ' median (min)':>24s}" for v in times) + "  ratio")
    for clock in ("", "_cpu"):
        for step in (*STEPS, "total"):
            row = {}
            for version, passes in times.items():
                values = [
                    sum(p[s + clock] for s in STEPS) if step == "total" else p[step + clock]
                    for p in passes
                ]
                row[version] = (float(np.median(values)), float(np.min(values)))
            name = step + (" CPU" if clock else " wall")
            summary[name] = row
            cells = "".join(f"{m:15.2f} s ({n:5.2f})" for m, n in row.values())
            ratio = row["base"][0] / row["now"][0] if "base" in row and row["now"][0] else np.nan
            print(f"{name:14s}{cells}  {ratio:5.2f}x")
    return summary


def main() -> int:
    """Run the benchmark (or, with ``--worker``, one timed pass)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base-ref", default="HEAD", help="git revision of the base version")
    parser.add_argument("--baseline-src", type=Path, help="an existing checkout's src instead")
    parser.add_argument("--repeats", type=int, default=3, help="passes per version")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    worktree = scratch / "base"
    try:
        if args.baseline_src is None:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(REPO),
                    "worktree",
                    "add",
                    "--detach",
                    str(worktree),
                    args.base_ref,
                ],
                check=True,
                capture_output=True,
            )
            base_src = worktree / "src"
        else:
            base_src = args.baseline_src.resolve()
        versions = {"base": base_src, "now": REPO / "src"}
        before = _uptime()
        print(f"before: {before}")
        times: dict[str, list[dict[str, float]]] = {v: [] for v in versions}
        for repeat in range(args.repeats):
            for version, src in versions.items():
                out = scratch / f"{version}{repeat}"
                times[version].append(_pass(src, out))
                if repeat < args.repeats - 1:
                    shutil.rmtree(out)
        after = _uptime()
        print(f"after:  {after}")
        summary = _report(times)
        last = args.repeats - 1
        problems = _same_arrays(scratch / f"base{last}", scratch / f"now{last}")
        n_files, differ = _same_files(scratch / f"base{last}/study", scratch / f"now{last}/study")
        problems += differ
        print(f"compared {n_files} files and every simulated and loaded array:", end=" ")
        print("identical" if not problems else f"{len(problems)} differences")
        for problem in problems[:20]:
            print(f"  {problem}")
        if args.json is not None:
            record = {"uptime": [before, after], "steps": summary, "problems": problems}
            args.json.write_text(json.dumps(record, indent=2), encoding="utf-8")
        return 1 if problems else 0
    finally:
        if worktree.exists():
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
