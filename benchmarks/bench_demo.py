"""Benchmark ``dmnpharm demo`` end to end, and measure when a local Dask cluster pays.

``demo``
    The whole ``dmnpharm demo`` command in a child process, each variant twice:
    with an empty cache, then into a new output folder with everything cached.
    Variants: the code as it is (``now``: the engine is chosen by the
    estimated work); the same with the cluster forced on (``--workers 2``);
    every run in-process (``--scheduler synchronous``); and, with
    ``--baseline-src DIR``, an earlier checkout's ``src`` folder run the same
    way (``git archive <commit> src | tar -x -C DIR``), so that before and
    after are measured in the same invocation on the same machine state.
    Printed per invocation: wall seconds, CPU seconds of the command and of
    the processes it waited for (its Dask workers), peak resident memory of
    the process tree (sampled every 0.1 s), and the 1-minute load average;
    then the CPU and wall seconds the command spent between its log
    messages (simulating, validating, per-run work, group stage and store).

``threshold``
    What :func:`dmnpharm.execution.choose_engine` is built from. (1) The
    per-run work of ROI-level runs: ``execute_run`` (one BLAS thread, the
    default cleaning with its GSR twin) on runs of 100/200/400 volumes and
    160/300/400 regions (Dosenbach-160, Seitzman-300, Schaefer-400 when the
    atlas folder is there), CPU seconds per run, and the least-squares fit of
    ``a + b * volumes * regions + c * regions**2``. (2) The cost of a local
    cluster before it computes anything: start two workers, have each import
    the per-run stack, close; wall and CPU seconds.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_demo.py threshold
    PYTHONPATH=src python benchmarks/bench_demo.py demo --baseline-src /tmp/base/src
    PYTHONPATH=src python benchmarks/bench_demo.py demo --json demo.json

Wall times depend on what else the machine runs (the load average is
printed); the CPU seconds and the ratios between variants measured in the same
invocation are the numbers to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from bench_extract import write_json  # the benchmarks folder is not a package

#: Runs the command-line tool in a child process, as its console script does, and records,
#: at each log message, the wall and CPU seconds so far; then this process's and its waited
#: children's CPU.
_RUNNER = r"""
import json, logging, os, resource, sys, time
start = (time.perf_counter(), time.process_time())
marks = []
class _Mark(logging.Handler):
    def emit(self, record):
        marks.append((time.perf_counter() - start[0], time.process_time() - start[1],
                      record.getMessage()[:160]))
handler = _Mark(level=logging.INFO)
logging.getLogger("dmnpharm").addHandler(handler)
import importlib.util, pathlib
# As the console script runs it (one BLAS thread unless chosen, frozen heap at exit); an
# older checkout's __main__ runs the command on import, so its main() is called instead.
spec = importlib.util.find_spec("dmnpharm.__main__")
if "def console_main" in pathlib.Path(spec.origin).read_text():
    from dmnpharm.__main__ import console_main as entry
else:
    from dmnpharm.cli import main as entry
code = entry()
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open(os.environ["BENCH_MARKS"], "w") as out:
    json.dump({"marks": marks, "cpu_self": own.ru_utime + own.ru_stime,
               "cpu_children": kids.ru_utime + kids.ru_stime}, out)
sys.exit(code)
"""


def load_average() -> float:
    """Return the 1-minute load average (how busy the machine was)."""
    return os.getloadavg()[0]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_command(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``dmnpharm ARGS`` in a child process; return its times, CPU, memory and log marks."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        marks_file = Path(handle.name)
    env = {**env, "BENCH_MARKS": str(marks_file)}
    load = load_average()
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    watched = psutil.Process(child.pid)
    peak = peak_client = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_client
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(watched))
                peak_client = max(peak_client, watched.memory_info().rss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = child.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"dmnpharm {' '.join(args)} failed:\n{stderr.decode()[-3000:]}")
    recorded = json.loads(marks_file.read_text())
    marks_file.unlink()
    return {
        "seconds": seconds,
        "cpu_s": recorded["cpu_self"] + recorded["cpu_children"],
        "cpu_client_s": recorded["cpu_self"],
        "peak_mib": peak / 2**20,
        "peak_client_mib": peak_client / 2**20,
        "load_before": load,
        "load_after": load_average(),
        "marks": recorded["marks"],
    }


def environment(cache: Path, source: Path | None = None) -> dict[str, str]:
    """Return the child's environment: no DMNPHARM_ settings but the cache (and the code).

    The package's modules are byte-compiled once, into a folder of their own, as
    ``pip install .`` (the README's command) leaves them: where the environment
    says ``PYTHONDONTWRITEBYTECODE`` (this project's development machines do),
    every invocation would otherwise compile the ~150 modules it imports again,
    0.6-0.9 s of CPU that no installed copy spends.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMNPHARM_")}
    env["DMNPHARM_CACHE"] = str(cache)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = source or Path(__file__).resolve().parents[1] / "src"
    digest = hashlib.sha256(str(code.resolve()).encode()).hexdigest()[:12]
    prefix = Path(tempfile.gettempdir()) / f"dmnpharm-bench-pycache-{digest}"
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    # quick when nothing changed (it compares each module's time stamp and size)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(code)], env=env, check=False)
    return env


def phases(marks: list[list[Any]]) -> list[tuple[str, float, float]]:
    """Return (message that ended the phase, wall s, CPU s) between consecutive log marks."""
    found = []
    wall = cpu = 0.0
    for at_wall, at_cpu, message in marks:
        if "kept " in message and " volumes, wrote " in message:
            continue  # one per run
        found.append((message, at_wall - wall, at_cpu - cpu))
        wall, cpu = at_wall, at_cpu
    return found


def _show(label: str, measured: dict[str, Any]) -> None:
    print(
        f"{label:44s} {measured['seconds']:7.2f} s wall  {measured['cpu_s']:7.2f} s CPU "
        f"({measured['cpu_client_s']:.2f} client)  peak {measured['peak_mib']:6.0f} MiB  "
        f"load {measured['load_before']:.1f}",
        flush=True,
    )


def demo(folder: Path, repeats: int, baseline: Path | None) -> dict[str, Any]:
    """Time the demo with an empty cache and fully cached, per variant."""
    variants: dict[str, tuple[list[str], Path | None]] = {
        "now": ([], None),
        "now, cluster forced (--workers 2)": (["--workers", "2"], None),
        "now, in-process (--scheduler synchronous)": (["--scheduler", "synchronous"], None),
    }
    if baseline is not None:
        variants["baseline (--baseline-src)"] = ([], baseline)
    rows: dict[str, list[dict[str, Any]]] = {}
    for repeat in range(repeats):
        for label, (extra, source) in variants.items():
            cache = folder / f"cache-{time.time_ns()}"
            for state in ("empty cache", "all cached, new folder"):
                out = folder / f"demo-{time.time_ns()}"
                measured = run_command(
                    ["demo", "--out", str(out), *extra], environment(cache, source)
                )
                measured.update(variant=label, state=state, repeat=repeat)
                rows.setdefault(f"{label} | {state}", []).append(measured)
                _show(f"{label}, {state}", measured)
                shutil.rmtree(out, ignore_errors=True)  # about 200 MB each
            shutil.rmtree(cache, ignore_errors=True)
    summary = {}
    for key, measured in rows.items():
        summary[key] = {
            "median_s": statistics.median(m["seconds"] for m in measured),
            "median_cpu_s": statistics.median(m["cpu_s"] for m in measured),
            "peak_mib": max(m["peak_mib"] for m in measured),
        }
    print("\nmedians (wall, CPU):")
    for key, numbers in summary.items():
        print(f"  {key:70s} {numbers['median_s']:7.2f} s {numbers['median_cpu_s']:7.2f} s")
    first = rows[next(iter(rows))][0]
    print("\nphases of the first invocation (message ending the phase, wall s, CPU s):")
    for message, wall, cpu in phases(first["marks"]):
        print(f"  {wall:6.2f} {cpu:6.2f}  {message[:100]}")
    return {"rows": rows, "summary": summary, "load_average": load_average()}


def _run_costs(folder: Path) -> list[dict[str, float]]:
    """CPU seconds per ROI-level run of execute_run, by regions and volumes."""
    from threadpoolctl import threadpool_limits

    from dmnpharm import AnalysisConfig, Study
    from dmnpharm.pipeline import execute_run
    from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study

    atlases = ["dosenbach160", "seitzman300"]
    if os.environ.get("DMNPHARM_ATLAS_DIR"):
        atlases.append("schaefer400_7")
    rows = []
    base = load_preset("demo-crossover", seed=1)
    with threadpool_limits(limits=1, user_api="blas"):
        for atlas in atlases:
            for volumes in (100, 200, 400):
                spec = replace(
                    base,
                    design=replace(base.design, n_subjects=4),
                    signal=SignalSpec(n_volumes=volumes, repetition_time=2.0, atlas=atlas),
                )
                study = write_simulated_study(simulate_study(spec), folder / f"{atlas}-{volumes}")
                tasks = [run.task for run in Study.from_folder(study).plan(AnalysisConfig()).runs]
                execute_run(tasks[0])  # imports and caches
                seconds = []
                for task in tasks:
                    began = time.process_time()
                    execute_run(task)
                    seconds.append(time.process_time() - began)
                regions = len(tasks[0].config.atlas_object().labels)
                rows.append(
                    {"regions": regions, "volumes": volumes, "cpu_s": statistics.median(seconds)}
                )
                cost = rows[-1]["cpu_s"]
                print(f"  {atlas:14s} {regions} regions x {volumes} volumes: {cost:.3f} s")
    return rows


def _warm() -> bool:
    """Import what a run's task needs (in a worker)."""
    from dmnpharm.pipeline import execute_run

    return callable(execute_run)


def _cluster_cost(repeats: int) -> list[dict[str, float]]:
    """Wall and CPU seconds to start a 2-worker local cluster, import the stack, close it."""
    from dmnpharm import Execution
    from dmnpharm.execution import client

    rows = []
    me = psutil.Process()
    for _ in range(repeats):
        began, cpu = time.perf_counter(), sum(me.cpu_times()[:2])
        with client(Execution(scheduler="local", workers=2), 2) as dask_client:
            started = time.perf_counter()
            dask_client.run(_warm)
            imported = time.perf_counter()
            workers = sum(sum(p.cpu_times()[:2]) for p in me.children(recursive=True))
        closed = time.perf_counter()
        rows.append(
            {
                "start_s": started - began,
                "imports_s": imported - started,
                "close_s": closed - imported,
                "total_s": closed - began,
                "cpu_client_s": sum(me.cpu_times()[:2]) - cpu,
                "cpu_workers_s": workers,
                "load_average": load_average(),
            }
        )
        print("  cluster: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[-1].items()))
    return rows


def threshold(folder: Path, repeats: int) -> dict[str, Any]:
    """Measure the per-run cost model and a local cluster's fixed cost."""
    print("per-run work (CPU seconds of execute_run, one BLAS thread):")
    costs = _run_costs(folder)
    regions = np.array([row["regions"] for row in costs], dtype=float)
    volumes = np.array([row["volumes"] for row in costs], dtype=float)
    seconds = np.array([row["cpu_s"] for row in costs])
    design = np.column_stack([np.ones_like(regions), volumes * regions, regions**2])
    fit = np.linalg.lstsq(design, seconds, rcond=None)[0]
    worst = float(np.max(np.abs(design @ fit - seconds) / seconds))
    print(
        f"fit: {fit[0]:.4f} + {fit[1]:.3g} x volumes x regions + {fit[2]:.3g} x regions^2 "
        f"(largest relative error {worst:.1%})"
    )
    print("local cluster of 2 workers:")
    cluster = _cluster_cost(repeats)
    start = statistics.median(row["total_s"] for row in cluster)
    print(
        f"median cluster cost {start:.2f} s: a 2-worker cluster pays for itself above "
        f"{2 * start:.1f} s of per-run work (load average {load_average():.1f})"
    )
    return {"run_costs": costs, "fit": fit.tolist(), "fit_worst": worst, "cluster": cluster}


#: What each engine of ``engines`` adds to ``dmnpharm run``.
_ENGINES = {
    "threads": ["--scheduler", "threads"],
    "cluster": ["--workers", "2"],
    "one after another": ["--scheduler", "synchronous"],
}


def _stage_seconds(marks: list[list[Any]]) -> float:
    """Wall seconds from the per-run stage's start to its last run (from the log marks)."""
    start = next(wall for wall, _, message in marks if message.startswith("per-run work"))
    end = next(wall for wall, _, message in marks if " runs measured, " in message)
    return float(end - start)


def engines(folder: Path, repeats: int, subjects: list[int]) -> dict[str, Any]:
    """Time the per-run stage on threads and on a local cluster; fit both; find the crossover."""
    from dmnpharm.simulate import load_preset, simulate_study, write_simulated_study

    rows = []
    for count in subjects:
        study = folder / f"crossover-{count}"
        if not study.is_dir():
            spec = load_preset("demo-crossover", seed=3)
            spec = replace(spec, design=replace(spec.design, n_subjects=count))
            write_simulated_study(simulate_study(spec), study)
        for repeat in range(repeats):
            for engine, extra in _ENGINES.items():
                if engine == "one after another" and count > subjects[1]:
                    continue  # the threads' speed-up is read off the small studies
                out = folder / f"out-{time.time_ns()}"
                args = ["run", str(study), "--out", str(out), "--no-cache", *extra]
                measured = run_command(args, environment(folder / "unused-cache"))
                provenance = json.loads((out / "provenance.json").read_text())
                estimate = float(provenance["execution"]["estimated_run_s"])
                stage = _stage_seconds(measured["marks"])
                rows.append(
                    {
                        "subjects": count,
                        "engine": engine,
                        "repeat": repeat,
                        "estimated_run_s": estimate,
                        "stage_s": stage,
                        "command_s": measured["seconds"],
                        "cpu_s": measured["cpu_s"],
                        "load_average": measured["load_before"],
                    }
                )
                print(
                    f"  {count:4d} subjects, W {estimate:6.1f} s, {engine:18s}: per-run stage "
                    f"{stage:6.2f} s, command {measured['seconds']:6.2f} s, CPU "
                    f"{measured['cpu_s']:6.1f} s, load {measured['load_before']:.1f}",
                    flush=True,
                )
                shutil.rmtree(out, ignore_errors=True)
    fits = {}
    for engine in ("threads", "cluster"):
        chosen = [row for row in rows if row["engine"] == engine]
        work = np.array([row["estimated_run_s"] for row in chosen])
        wall = np.array([row["stage_s"] for row in chosen])
        fits[engine] = np.polyfit(work, wall, 1)[::-1].tolist()  # (intercept, slope)
        print(f"{engine}: stage = {fits[engine][0]:.2f} s + {fits[engine][1]:.3f} x W")
    (a_t, b_t), (a_d, b_d) = fits["threads"], fits["cluster"]
    crossover = (a_d - a_t) / (b_t - b_d) if b_t > b_d else float("inf")
    speedups = [
        row_s["stage_s"] / row_t["stage_s"]
        for row_s in rows
        if row_s["engine"] == "one after another"
        for row_t in rows
        if row_t["engine"] == "threads"
        and (row_t["subjects"], row_t["repeat"]) == (row_s["subjects"], row_s["repeat"])
    ]
    print(
        f"crossover: a 2-worker cluster is faster above W = {crossover:.1f} s; threads' "
        f"speed-up over one after another {statistics.median(speedups):.2f} "
        f"(per size: {', '.join(f'{s:.2f}' for s in speedups)}); worker efficiency "
        f"E = 1 / (2 x slope) = {1 / (2 * b_d):.2f}"
    )
    return {"rows": rows, "fits": fits, "crossover_s": crossover, "speedups": speedups}


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("demo", "threshold", "engines"))
    parser.add_argument(
        "--subjects", type=int, nargs="+", default=[20, 60, 140, 240], help="engines: sizes"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline-src", type=Path, help="demo: an earlier checkout's src")
    parser.add_argument("--folder", type=Path, help="keep the data here (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dmnpharm-bench-") as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if args.which == "demo":
            numbers = demo(folder, args.repeats, args.baseline_src)
        elif args.which == "engines":
            numbers = engines(folder, args.repeats, args.subjects)
        else:
            numbers = threshold(folder, max(args.repeats, 3))
    if args.json:
        args.baseline_src = None if args.baseline_src is None else str(args.baseline_src)
        write_json(args.json, args, [numbers])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
