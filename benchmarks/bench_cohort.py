"""Benchmark ``dmnpharm run`` on observational cohorts of 500, 1,000 and 2,000 subjects.

Each cohort is the ``cohort-observational`` preset grown to ``N`` subjects
(one 150-volume ROI-level run each, Seitzman-300, two thirds patients; the
same generation as ``bench_run_dask.py cohort``), written once into
``--folder`` and reused. It is analysed end to end by the whole command in a
child process, with the between-subject model of the preset
(``--between medication --between-contrast ssri none --covariate age --block
site``, 5,000 permutations), ``--no-cache``, on the local cluster sized to
the machine. Printed per cohort: wall seconds and runs per second; CPU
seconds of the client process and of its Dask workers; peak resident memory
of the process tree (client and workers, sampled every 0.1 s); and the wall
and client-CPU seconds between the command's log messages (validation and
hashing, cluster start, per-run stage, group stage and store). With
``--baseline-src DIR`` each cohort is also run with an earlier checkout's
``src`` folder, in the same invocation.

The runs per second at 500, 1,000 and 2,000 subjects show how the command
scales; docs/scaling.md extrapolates them to 40,000 subjects.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_cohort.py --folder /tmp/bench
    PYTHONPATH=src python benchmarks/bench_cohort.py --subjects 500 --baseline-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench_demo import environment, load_average, phases, run_command
from bench_extract import write_json  # the benchmarks folder is not a package

from dmnpharm.simulate import load_preset, simulate_study, write_simulated_study

#: The between-subject model of the cohort preset.
MODEL = [
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


def cohort_study(folder: Path, subjects: int) -> tuple[Path, float]:
    """Write (once) the cohort of ``subjects``; return its folder and the seconds it took."""
    study = folder / f"cohort-{subjects}"
    if study.is_dir():
        return study, 0.0
    base = load_preset("cohort-observational", seed=7)
    patients = round(subjects * 2 / 3)
    spec = replace(
        base, design=replace(base.design, n_subjects=patients, n_controls=subjects - patients)
    )
    began = time.perf_counter()
    write_simulated_study(simulate_study(spec), study)
    return study, time.perf_counter() - began


def analyse(study: Path, folder: Path, source: Path | None) -> dict[str, Any]:
    """Run the between-subject analysis of a cohort once; return what was measured.

    The output folder (about 2.6 MB per run) is measured and deleted.
    """
    out = folder / f"out-{study.name}-{time.time_ns()}"
    args = ["run", str(study), "--out", str(out), *MODEL, "--no-cache"]
    try:
        measured = run_command(args, environment(folder / "unused-cache", source))
        files = [p for p in out.rglob("*") if p.is_file()]
        measured["output_gib"] = sum(p.stat().st_size for p in files) / 2**30
    finally:
        shutil.rmtree(out, ignore_errors=True)
    measured["cpu_workers_s"] = measured["cpu_s"] - measured["cpu_client_s"]
    return measured


def main(argv: list[str] | None = None) -> int:
    """Parse the options; simulate and analyse each cohort."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--baseline-src", type=Path, help="an earlier checkout's src folder")
    parser.add_argument("--folder", type=Path, help="keep the cohorts here (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dmnpharm-bench-") as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for subjects in args.subjects:
            study, simulated = cohort_study(folder, subjects)
            if simulated:
                print(f"simulated {subjects} subjects in {simulated:.0f} s")
            versions = {"now": None}
            if args.baseline_src is not None:
                versions["baseline"] = args.baseline_src
            for label, source in versions.items():
                measured = analyse(study, folder, source)
                rate = subjects / measured["seconds"]
                measured.update(subjects=subjects, code=label, runs_per_s=rate)
                rows.append(measured)
                print(
                    f"{label:8s} {subjects:5d} subjects: {measured['seconds']:6.1f} s "
                    f"({rate:.1f} runs/s), CPU client {measured['cpu_client_s']:.1f} s + "
                    f"workers {measured['cpu_workers_s']:.1f} s, "
                    f"peak {measured['peak_mib']:.0f} MiB "
                    f"(client {measured['peak_client_mib']:.0f}), "
                    f"output {measured['output_gib']:.1f} GiB, "
                    f"load {measured['load_before']:.1f}",
                    flush=True,
                )
                for message, wall, cpu in phases(measured["marks"]):
                    print(f"    {wall:7.2f} s wall {cpu:7.2f} s client CPU  {message[:90]}")
    print(f"load average at the end: {load_average():.1f}")
    if args.json:
        args.baseline_src = None if args.baseline_src is None else str(args.baseline_src)
        write_json(args.json, args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
