"""Benchmark ``dmnpharm run`` on Dask: local workers and the per-run cache.

``voxel`` and ``cohort`` measure the whole command in a child process (``python -m
dmnpharm run``), timed with ``time.perf_counter``; peak memory is the largest
sum of resident memory over the command's process tree (client and Dask
workers), sampled every 0.1 s with psutil.

``voxel``
    A simulated crossover study at voxel level (``write_voxel_study``: 2 mm
    MNI152NLin2009cAsym grid, fMRIPrep layout), 8 subjects x 2 sessions =
    16 runs of 300 volumes, Seitzman-300 spheres, strategy ``6p``. It reports

    * the speed-up of 2 local worker processes over 1 (``--workers 1`` vs
      ``--workers 2``, both ``--no-cache``; ``--repeats`` interleaved pairs,
      medians); the target is at least 1.7x on 2 cores;
    * the cache: a first invocation with an empty cache, then the same
      command again (nothing changed: the output folder is found complete and
      current, nothing is redone); the target is a second invocation under 5 %
      of the first's time. A third invocation into a new output folder shows
      the cost of redoing only the group stage and the report.

``steady``
    The same 16 runs' tasks sent straight to a local cluster of 1, then 2,
    workers that have already imported the package: how the per-run work
    itself scales, without the command's serial parts (imports, hashing,
    cluster start, group statistics, report) or the client's writing.

``cohort``
    The ``cohort-observational`` preset grown to 2,000 subjects (one run each,
    150 volumes, Seitzman-300), written by the simulator, then analysed end
    to end with the between-subject model (``--between medication
    --between-contrast ssri none --covariate age --block site``) on the local
    cluster sized to the machine. It reports the simulation and the analysis
    wall times, runs per second and peak memory.

Run from the repository root (``--folder`` keeps the data for reuse)::

    PYTHONPATH=src python benchmarks/bench_run_dask.py voxel --repeats 2
    PYTHONPATH=src python benchmarks/bench_run_dask.py steady --repeats 3
    PYTHONPATH=src python benchmarks/bench_run_dask.py cohort --subjects 2000
    PYTHONPATH=src python benchmarks/bench_run_dask.py voxel --json voxel.json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
from bench_extract import write_json  # the benchmarks folder is not a package

from dmnpharm.simulate import (
    SignalSpec,
    load_preset,
    simulate_study,
    write_simulated_study,
    write_voxel_study,
)


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


def timed(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a command; return its wall seconds and peak process-tree RSS (MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(watched))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = child.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return {"seconds": seconds, "peak_mib": peak / 2**20}


def _run(study: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dmnpharm", "run", str(study), "--out", str(out), "-q", *extra]


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMNPHARM_")}
    env["DMNPHARM_CACHE"] = str(cache)
    return env


def _voxel_study(folder: Path, volumes: int) -> Path:
    """Write (once) the 16-run voxel-level crossover study; return its folder."""
    study = folder / f"voxel-study-{volumes}"
    if not study.is_dir():
        base = load_preset("demo-crossover", seed=3)
        spec = replace(
            base,
            design=replace(base.design, n_subjects=8),
            signal=SignalSpec(n_volumes=volumes, repetition_time=2.0),
        )
        start = time.perf_counter()
        write_voxel_study(simulate_study(spec), study)
        print(f"wrote the study in {time.perf_counter() - start:.0f} s: {study}")
    return study


def voxel(folder: Path, repeats: int, volumes: int) -> dict[str, Any]:
    """Time 1 vs 2 workers and a cached second invocation on 16 voxel-level runs."""
    study = _voxel_study(folder, volumes)
    options = ["--strategy", "6p", "--permutations", "1000"]
    times: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for repeat in range(repeats):
        for workers in (1, 2):
            out = folder / f"out-w{workers}-{repeat}-{time.time_ns()}"
            command = _run(study, out, *options, "--workers", str(workers), "--no-cache")
            times[workers].append(timed(command, _env(folder / "unused-cache")))
            print(f"{workers} worker(s), repeat {repeat}: {times[workers][-1]}")
    cache = folder / f"cache-{time.time_ns()}"
    again = folder / f"out-cache-{time.time_ns()}"
    first = timed(_run(study, again, *options), _env(cache))
    second = timed(_run(study, again, *options), _env(cache))
    elsewhere = timed(_run(study, folder / f"out-new-{time.time_ns()}", *options), _env(cache))
    one = statistics.median(t["seconds"] for t in times[1])
    two = statistics.median(t["seconds"] for t in times[2])
    result = {
        "runs": 16,
        "volumes": volumes,
        "one_worker_s": one,
        "two_workers_s": two,
        "speedup_2_over_1": one / two,
        "peak_mib_one_worker": max(t["peak_mib"] for t in times[1]),
        "peak_mib_two_workers": max(t["peak_mib"] for t in times[2]),
        "cache_first_s": first["seconds"],
        "cache_second_s": second["seconds"],
        "cache_second_over_first": second["seconds"] / first["seconds"],
        "cache_new_folder_s": elsewhere["seconds"],
        "cache_new_folder_over_first": elsewhere["seconds"] / first["seconds"],
        "cache_size_mib": sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 2**20,
        "load_average": load_average(),
    }
    print(
        f"1 worker {one:.1f} s, 2 workers {two:.1f} s: speed-up {one / two:.2f}x (target 1.7x); "
        f"cache: first {first['seconds']:.1f} s, second {second['seconds']:.2f} s = "
        f"{100 * second['seconds'] / first['seconds']:.1f} % (target < 5 %); into a new "
        f"folder (group stage and report redone) {elsewhere['seconds']:.1f} s"
    )
    return result


def _warm() -> None:
    """Import what a run's task needs (in a worker, before timing)."""
    from dmnpharm.pipeline import execute_run

    assert callable(execute_run)


def steady(folder: Path, repeats: int, volumes: int) -> dict[str, Any]:
    """Throughput of warm local workers on the 16 voxel runs' tasks: 1 vs 2 workers.

    The tasks are those ``dmnpharm run --strategy 6p`` sends (extract, clean, measure);
    each worker has imported the package before the clock starts, and nothing else
    runs on the client: this is how the per-run work itself scales with workers.
    """
    from distributed import wait

    from dmnpharm import AnalysisConfig, Execution, Study
    from dmnpharm.execution import client
    from dmnpharm.pipeline import execute_run
    from dmnpharm.signal import DenoiseConfig

    study = _voxel_study(folder, volumes)
    config = AnalysisConfig(atlas="seitzman300", denoise=DenoiseConfig("6p"))
    tasks = [run.task for run in Study.from_folder(study).plan(config).runs]
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for workers in (1, 2):
            execution = Execution(scheduler="local", workers=workers, cache=False)
            with client(execution, len(tasks)) as dask_client:
                dask_client.run(_warm)
                start = time.perf_counter()
                wait([dask_client.submit(execute_run, t, None, pure=False) for t in tasks])
                times[workers].append(time.perf_counter() - start)
            print(f"{workers} warm worker(s): {times[workers][-1]:.1f} s for {len(tasks)} runs")
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"warm workers: 1 {one:.1f} s, 2 {two:.1f} s: {one / two:.2f}x (target 1.7x)")
    return {
        "runs": len(tasks),
        "volumes": volumes,
        "one_worker_s": times[1],
        "two_workers_s": times[2],
        "speedup_2_over_1": one / two,
        "load_average": load_average(),
    }


def cohort(folder: Path, subjects: int) -> dict[str, Any]:
    """Simulate and analyse an observational cohort of ``subjects`` subjects."""
    study = folder / f"cohort-{subjects}"
    base = load_preset("cohort-observational", seed=7)
    patients = round(subjects * 2 / 3)
    spec = replace(
        base, design=replace(base.design, n_subjects=patients, n_controls=subjects - patients)
    )
    simulated = {"seconds": 0.0, "peak_mib": 0.0}
    if not study.is_dir():
        start = time.perf_counter()
        write_simulated_study(simulate_study(spec), study)
        simulated["seconds"] = time.perf_counter() - start
        print(f"simulated {subjects} subjects in {simulated['seconds']:.0f} s")
    options = [
        "--between",
        "medication",
        "--between-contrast",
        "ssri",
        "none",
        "--covariate",
        "age",
        "--block",
        "site",
        "--permutations",
        "5000",
    ]
    analysed = timed(
        _run(study, folder / f"out-cohort-{time.time_ns()}", *options, "--no-cache"),
        _env(folder / "unused-cache"),
    )
    print(
        f"analysed {subjects} runs in {analysed['seconds']:.0f} s "
        f"({subjects / analysed['seconds']:.1f} runs/s), peak {analysed['peak_mib']:.0f} MiB"
    )
    return {
        "subjects": subjects,
        "simulate_s": simulated["seconds"],
        "run_s": analysed["seconds"],
        "runs_per_s": subjects / analysed["seconds"],
        "peak_mib": analysed["peak_mib"],
        "cores": len(os.sched_getaffinity(0)),
        "load_average": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("voxel", "steady", "cohort"))
    parser.add_argument("--repeats", type=int, default=1, help="interleaved 1/2-worker pairs")
    parser.add_argument("--volumes", type=int, default=300, help="voxel: volumes per run")
    parser.add_argument("--subjects", type=int, default=2000, help="cohort: subjects")
    parser.add_argument("--folder", type=Path, help="keep the data here (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dmnpharm-bench-") as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if args.which == "voxel":
            numbers = voxel(folder, args.repeats, args.volumes)
        elif args.which == "steady":
            numbers = steady(folder, args.repeats, args.volumes)
        else:
            numbers = cohort(folder, args.subjects)
    if args.json:
        write_json(args.json, args, [numbers])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
