"""Benchmark writing one run's BIDS derivatives, as ``dmnpharm run`` does per included run.

Per run, the three calls that ``dmnpharm.pipeline._runs._Collector`` makes are timed
together: ``DerivativeWriter.write_timeseries`` (kept volumes x regions TSV and its
sidecar), ``write_run_tables`` (motion, outliers, coverage and QC tables and their
sidecars; the motion is read again from the run's confounds file) and ``write_relmat``
(regions x regions TSV and its sidecar). The inputs are seeded and the same for every
variant: the Seitzman-300 atlas, ``--volumes`` volumes per run with 0 to 5 censored,
cleaned signals of about the size the pipeline writes (s.d. 0.3), their Fisher-z
correlation matrix (as the pipeline computes it), a cleaning record shaped as the
pipeline's (about 5 kB of provenance), and one of eight fMRIPrep-style confounds files
(47 columns). Every tenth run has two regions without a signal (``n/a`` columns) and
one value under 1e-4 (an exponent), as real runs do.

Each variant writes ``--runs`` runs into a new folder of ``--folder`` in a child
process whose ``PYTHONPATH`` is the variant's ``src`` folder: the code as it is, and
with ``--baseline-src DIR`` an earlier checkout's (``git worktree add /tmp/base HEAD``
then ``--baseline-src /tmp/base/src``), in the same invocation. Printed per variant:
wall milliseconds per run (the median of ``--repeats`` passes, each a new child process
writing the runs into a new folder; the variants' passes alternate, so that both meet
the same load), the split by call, the process's CPU milliseconds per run (less
sensitive to other work on the machine), and a SHA-256 digest of the files written (names
and bytes, but the coverage tables' sidecars, whose description changed); then the
ratio baseline / now, and whether the two wrote the same bytes.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_derivatives.py --baseline-src /tmp/base/src
    PYTHONPATH=src python benchmarks/bench_derivatives.py --runs 50 --json out.json

Times depend on what else the machine runs (the 1-minute load average is printed);
compare the ratio of variants measured in the same invocation.
"""

from __future__ import annotations

import argparse
import hashlib
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

from dmnpharm.metrics._fc import fisher_z_connectivity

#: Confounds columns of an fMRIPrep-style file (47, as the simulated studies write).
_CONFOUNDS = [
    *(
        f"{base}{suffix}"
        for base in ("global_signal", "csf", "white_matter")
        for suffix in ("", "_derivative1", "_power2", "_derivative1_power2")
    ),
    "dvars",
    "std_dvars",
    "framewise_displacement",
    *(
        f"{axis}{suffix}"
        for axis in ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
        for suffix in ("", "_derivative1", "_power2", "_derivative1_power2")
    ),
    "cosine00",
    "cosine01",
    "cosine02",
    *(f"a_comp_cor_{i:02d}" for i in range(6)),
]


def write_confounds(path: Path, volumes: int, rng: np.random.Generator) -> None:
    """Write an fMRIPrep-style confounds TSV (six decimals, ``n/a`` in the first row)."""
    values = rng.normal(0.0, 0.1, (volumes, len(_CONFOUNDS)))
    values[:, _CONFOUNDS.index("framewise_displacement")] = np.abs(rng.normal(0.2, 0.1, volumes))
    lines = ["\t".join(_CONFOUNDS)]
    for number, row in enumerate(values):
        cells = [f"{v:.6f}" for v in row]
        if number == 0:
            cells = [
                "n/a" if "deriv" in c or c == "framewise_displacement" else v
                for c, v in zip(_CONFOUNDS, cells, strict=True)
            ]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_record(volumes: int, censored: list[int], missing: list[str]) -> dict[str, Any]:
    """Return a cleaning record shaped as the pipeline's (acompcor, censoring, filter)."""
    settings = {
        "band": [0.01, 0.08],
        "density": 0.1,
        "edges": True,
        "entropy_m": 2,
        "entropy_r": 0.2,
        "estimator": "pearson",
        "min_dmn_coverage": 0.8,
        "regions": True,
        "window_s": 60.0,
        "window_step": 1,
    }
    bundle = {"estimator": "pearson", "notes": [], "settings": settings}
    columns = [f"{a}{s}" for s in ("", "_derivative1") for a in _CONFOUNDS[15:39:4]]
    kept = volumes - len(censored)
    record: dict[str, Any] = {
        "analyses": {"gsr_sensitivity": "acompcor+gsr", "primary": "acompcor"},
        "bundle": {"gsr_sensitivity": bundle, "primary": dict(bundle)},
        "censored_by": {"fd_exceeded": len(censored), "motion": len(censored), "nonsteady": 0},
        "censored_volumes": censored,
        "compcor": {
            "columns": [f"a_comp_cor_{i:02d}" for i in range(5)],
            "cumulative_variance": 0.4741894892915979 + kept / 1e4,
            "rule": "components up to 50% cumulative variance",
        },
        "config": {"fd_threshold": 0.5, "high_pass": 0.01, "low_pass": 0.08, "gsr": False},
        "confound_columns": [*columns, "cosine00", "cosine01", "cosine02"],
        "description": "Denoising strategy 'acompcor' with censoring and a band-pass "
        "filter. " * 12,
        "dof": {"censored": len(censored), "filter": 106.56, "total": 130.56 - kept / 7},
        "excluded": False,
        "filter": {"high_pass": 0.01, "low_pass": 0.08, "order": 5, "type": "butterworth"},
        "n_censored": len(censored),
        "n_kept": kept,
        "n_volumes": volumes,
        "reason": None,
        "repetition_time": 2.0,
        "scrubbing": "censored volumes left out of the regression",
        "strategy": "acompcor",
    }
    if missing:
        record["coverage"] = {"regions_without_signal": missing}
    return record


def run_inputs(number: int, volumes: int, labels: tuple[str, ...]) -> dict[str, Any]:
    """Return run ``number``'s signals, matrix, record, QC and entities (seeded)."""
    rng = np.random.default_rng(number)
    censored = sorted(rng.choice(volumes, size=int(rng.integers(0, 6)), replace=False).tolist())
    data = 0.3 * rng.standard_normal((volumes - len(censored), len(labels)))
    missing: list[str] = []
    if number % 10 == 0:
        data[:, [7, 123]] = np.nan
        data[3, 5] = 3.5e-05
        missing = [labels[7], labels[123]]
    keep = np.isfinite(data).all(axis=0)
    matrix = np.full((len(labels), len(labels)), np.nan)
    matrix[np.ix_(keep, keep)] = fisher_z_connectivity(data[:, keep])  # as the pipeline
    qc = {"mean_fd": float(rng.uniform(0.1, 0.3)), "max_fd": float(rng.uniform(0.3, 1.0))}
    qc["percent_censored"] = 100 * len(censored) / volumes
    return {
        "entities": {"sub": f"{number:04d}", "ses": "1", "task": "rest"},
        "data": data,
        "matrix": matrix,
        "record": make_record(volumes, censored, missing),
        "qc": qc,
    }


def digest(folder: Path) -> str:
    """Return a SHA-256 of the files under ``folder``: relative names and bytes.

    The coverage tables' sidecars are left out: their description changed on purpose.
    """
    sha = hashlib.sha256()
    files = (p for p in folder.rglob("*") if p.is_file())
    for path in sorted(p for p in files if not p.name.endswith("_stat-coverage_bold.json")):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Write the runs once with the code on ``sys.path``; return ms per run and the digest."""
    from dmnpharm import AnalysisConfig
    from dmnpharm.atlases import load_atlas
    from dmnpharm.pipeline._derivatives import DerivativeWriter
    from dmnpharm.pipeline._tasks import RunTask

    work = Path(args.folder)
    atlas = load_atlas("seitzman300")
    config = AnalysisConfig(atlas=atlas)
    confounds = []
    for number in range(8):
        path = work / f"confounds-{number}.tsv"
        if not path.exists():
            write_confounds(path, args.volumes, np.random.default_rng(1000 + number))
        confounds.append(path)
    root = work / f"out-{args.name}"
    shutil.rmtree(root, ignore_errors=True)
    writer = DerivativeWriter(root, atlas, config)
    split = [0.0, 0.0, 0.0]
    cpu = 0.0
    for number in range(args.runs):
        run = run_inputs(number, args.volumes, atlas.labels)
        source = f"sub-{number:04d}/ses-1/func/sub-{number:04d}_ses-1_task-rest_bold.tsv"
        task = RunTask(
            source, source, "roi", source, 2.0, config, confounds=str(confounds[number % 8])
        )
        began, cpu_began = time.perf_counter(), time.process_time()
        writer.write_timeseries(run["entities"], run["data"], run["record"], 2.0, source)
        tables = time.perf_counter()
        writer.write_run_tables(task, run["entities"], run["record"], run["qc"])
        relmat = time.perf_counter()
        writer.write_relmat(run["entities"], run["matrix"], run["record"], 2.0, source)
        ended = time.perf_counter()
        cpu += time.process_time() - cpu_began
        split[0] += tables - began
        split[1] += relmat - tables
        split[2] += ended - relmat
    found = digest(root)
    shutil.rmtree(root, ignore_errors=True)
    split = [1000 * s / args.runs for s in split]
    cpu_ms = 1000 * cpu / args.runs
    return {"ms_per_run": sum(split), "split": split, "cpu_ms_per_run": cpu_ms, "digest": found}


def measure(name: str, source: Path, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Run one pass of one variant in a child process with ``source`` first on its path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMNPHARM_")}
    env["PYTHONPATH"] = str(source)
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    command = [sys.executable, __file__, "--child", "--name", name, "--folder", str(folder)]
    command += ["--runs", str(args.runs), "--volumes", str(args.volumes)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average"] = os.getloadavg()[0]
    return result


def summary(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the median pass (by ms per run) of a variant, with every pass's ms per run."""
    ordered = sorted(passes, key=lambda p: float(p["ms_per_run"]))
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["passes_ms_per_run"] = [p["ms_per_run"] for p in passes]
    middle["digests"] = sorted({p["digest"] for p in passes})
    return middle


def main() -> None:
    """Parse the arguments, time each variant, print the table and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--volumes", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    folder = Path(args.folder or tempfile.mkdtemp(prefix="bench-derivatives-"))
    folder.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parents[1] / "src"
    variants = [("now", here)]
    if args.baseline_src is not None:
        variants.insert(0, ("baseline", args.baseline_src.resolve()))
    print(f"{args.runs} runs of {args.volumes} volumes x 300 regions, {args.repeats} passes each")
    passes: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    for _ in range(args.repeats):  # variants alternate, so that both meet the same load
        for name, source in variants:
            passes[name].append(measure(name, source, args, folder))
    results: dict[str, Any] = {name: summary(found) for name, found in passes.items()}
    for name, found in results.items():
        split = ", ".join(f"{s:.1f}" for s in found["split"])
        print(
            f"{name:>9}: {found['ms_per_run']:6.1f} ms/run (timeseries, tables, relmat: "
            f"{split}; CPU {found['cpu_ms_per_run']:.1f} ms/run) load "
            f"{found['load_average']:.2f} digest {found['digest'][:16]}"
        )
    if "baseline" in results:
        old, new = results["baseline"], results["now"]
        results["ratio"] = old["ms_per_run"] / new["ms_per_run"]
        results["cpu_ratio"] = old["cpu_ms_per_run"] / new["cpu_ms_per_run"]
        results["identical"] = old["digests"] == new["digests"] and len(new["digests"]) == 1
        print(
            f"ratio baseline / now: {results['ratio']:.1f}x (CPU time: "
            f"{results['cpu_ratio']:.1f}x); same bytes (but the coverage "
            f"sidecars' description): {'yes' if results['identical'] else 'NO'}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.folder is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
