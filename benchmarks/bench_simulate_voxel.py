"""Benchmark writing a simulated study's voxel-level BOLD runs, as fMRIPrep lays them out.

Each subject and session gets one resting-state run on the 2 mm MNI grid
(``space-MNI152NLin2009cAsym_res-2``, 97 x 115 x 97 voxels) written by
``dmnpharm.simulate.write_bold_run``, plus its ``desc-brain_mask`` file.
Region signals are Seitzman-300 5 mm spheres carrying BOLD-like random signals
(``dmnpharm.simulate.bold_like_noise``); other brain voxels carry a global
signal; every voxel adds independent noise. Each run is seeded from
``(--seed, subject, session)``, so the files do not depend on ``--workers``.

Runs are written in this process (``--workers 1``) or by a
``concurrent.futures.ProcessPoolExecutor`` with that many worker processes,
one run per task.

Reported:

- total wall time of the writing (``time.perf_counter``), excluding the
  one-off set-up (brain mask and region labels), which is timed separately;
- seconds per run: total wall time / runs, and the mean time one run takes
  inside its worker;
- MB per BOLD file and per mask file (10^6 bytes, compressed);
- peak memory as the resident set size high-water mark from
  ``resource.getrusage(...).ru_maxrss``: of this process, and of the largest
  worker (``RUSAGE_CHILDREN``, known after the pool is shut down). With N
  workers the machine's peak is at most ``self + N x largest worker``, also
  printed. Resident memory includes the imported libraries (numpy, nibabel,
  nilearn), not only the data.

The output goes to a temporary folder (``--tmpdir``) that is deleted at the
end unless ``--keep`` is given. Benchmarks are run by hand and never by the
test suite; nothing here is imported by the package.

Examples
--------
From the repository root::

    PYTHONPATH=src python benchmarks/bench_simulate_voxel.py --quick
    PYTHONPATH=src python benchmarks/bench_simulate_voxel.py --workers 2 --json voxel.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

import dmnpharm
from dmnpharm.atlases import load_atlas
from dmnpharm.simulate import (
    bold_like_noise,
    brain_mask,
    region_label_volume,
    write_bold_run,
    write_mask,
)

DEFAULTS = {"subjects": 20, "volumes": 200}
QUICK = {"subjects": 2, "volumes": 30}
SESSIONS = 2
REPETITION_TIME = 2.0
VOXEL_NOISE_SD = 1.0
SPACE = "space-MNI152NLin2009cAsym_res-2"

# Set in each worker by _init_worker (and in this process for --workers 1).
_GRID: dict[str, npt.NDArray[Any]] = {}


def _init_worker(mask: npt.NDArray[np.bool_], labels: npt.NDArray[np.int32]) -> None:
    """Keep the mask and labels in the worker, sent once rather than per task."""
    _GRID["mask"] = mask
    _GRID["labels"] = labels


def write_one_run(
    root: str,
    subject: int,
    session: int,
    n_volumes: int,
    seed: int,
    dtype: Literal["int16", "float32"],
    compresslevel: int,
) -> dict[str, float]:
    """Write one subject-session's BOLD run and brain mask.

    Parameters
    ----------
    root : str
        Output folder (fMRIPrep derivatives root).
    subject, session : int
        1-based numbers, used in the file names and the seed.
    n_volumes : int
        Volumes in the run.
    seed : int
        Benchmark seed; the run's generator is seeded from
        ``(seed, subject, session)``.
    dtype : {"int16", "float32"}
        Stored type of the BOLD image.
    compresslevel : int
        gzip level.

    Returns
    -------
    dict
        ``seconds`` (this run, inside the worker), ``bold_mb`` and ``mask_mb``.
    """
    start = time.perf_counter()
    mask, labels = _GRID["mask"], _GRID["labels"]
    rng = np.random.default_rng((seed, subject, session))
    regions = bold_like_noise(rng, n_volumes, int(labels.max()), REPETITION_TIME)
    glob = bold_like_noise(rng, n_volumes, 1, REPETITION_TIME)[:, 0]
    func = Path(root) / f"sub-{subject:02d}" / f"ses-{session}" / "func"
    stem = f"sub-{subject:02d}_ses-{session}_task-rest_{SPACE}"
    bold = write_bold_run(
        func / f"{stem}_desc-preproc_bold.nii.gz",
        regions,
        glob,
        labels,
        mask,
        rng,
        VOXEL_NOISE_SD,
        REPETITION_TIME,
        dtype=dtype,
        compresslevel=compresslevel,
    )
    mask_path = write_mask(func / f"{stem}_desc-brain_mask.nii.gz", mask)
    return {
        "seconds": time.perf_counter() - start,
        "bold_mb": bold.stat().st_size / 1e6,
        "mask_mb": mask_path.stat().st_size / 1e6,
    }


def _maxrss_mb(who: int) -> float:
    """Return ru_maxrss in MB (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(who).ru_maxrss
    return value / 1e6 if sys.platform == "darwin" else value * 1024 / 1e6


def run_benchmark(
    n_subjects: int,
    n_volumes: int,
    workers: int,
    seed: int,
    dtype: Literal["int16", "float32"],
    compresslevel: int,
    tmpdir: str | None,
    keep: bool,
) -> dict[str, Any]:
    """Write the study once and return the measurements.

    Parameters
    ----------
    n_subjects : int
        Subjects; each has ``SESSIONS`` sessions, one run each.
    n_volumes : int
        Volumes per run.
    workers : int
        1 writes in this process; more uses a process pool of that size.
    seed : int
        Seed of the simulated signals and noise.
    dtype : {"int16", "float32"}
        Stored type of the BOLD images.
    compresslevel : int
        gzip level.
    tmpdir : str or None
        Parent of the temporary output folder (None: the system default).
    keep : bool
        Keep the output folder instead of deleting it.

    Returns
    -------
    dict
        Settings, timings, file sizes and peak memory.
    """
    setup_start = time.perf_counter()
    mask = brain_mask()
    labels = region_label_volume(load_atlas("seitzman300"), radius_mm=5.0, mask=mask)
    setup_seconds = time.perf_counter() - setup_start

    root = tempfile.mkdtemp(prefix="dmnpharm-bench-voxel-", dir=tmpdir)
    jobs = [
        (root, subject, session, n_volumes, seed, dtype, compresslevel)
        for subject in range(1, n_subjects + 1)
        for session in range(1, SESSIONS + 1)
    ]
    try:
        start = time.perf_counter()
        if workers == 1:
            _init_worker(mask, labels)
            results = [write_one_run(*job) for job in jobs]
        else:
            with ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(mask, labels)
            ) as pool:
                futures = [pool.submit(write_one_run, *job) for job in jobs]
                results = [future.result() for future in futures]
        total = time.perf_counter() - start
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

    self_mb = _maxrss_mb(resource.RUSAGE_SELF)
    child_mb = _maxrss_mb(resource.RUSAGE_CHILDREN) if workers > 1 else 0.0
    bold_mb = [r["bold_mb"] for r in results]
    return {
        "subjects": n_subjects,
        "sessions": SESSIONS,
        "runs": len(jobs),
        "volumes": n_volumes,
        "brain_voxels": int(mask.sum()),
        "regions": int(labels.max()),
        "workers": workers,
        "dtype": dtype,
        "compresslevel": compresslevel,
        "setup_seconds": setup_seconds,
        "total_seconds": total,
        "seconds_per_run_wall": total / len(jobs),
        "seconds_per_run_in_worker": float(np.mean([r["seconds"] for r in results])),
        "bold_mb_per_file": float(np.mean(bold_mb)),
        "bold_mb_total": float(np.sum(bold_mb)),
        "mask_mb_per_file": float(np.mean([r["mask_mb"] for r in results])),
        "uncompressed_mb_per_bold": mask.size * n_volumes * np.dtype(dtype).itemsize / 1e6,
        "peak_rss_mb_self": self_mb,
        "peak_rss_mb_largest_worker": child_mb,
        "peak_rss_mb_upper_bound": self_mb + workers * child_mb,
        "memory_measure": "resource.getrusage ru_maxrss (resident set size high-water mark)",
        "output": root if keep else None,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "dmnpharm": dmnpharm.__version__,
            "cpus": os.cpu_count(),
            "load_1min": os.getloadavg()[0],
        },
    }


def _report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['runs']} runs ({result['subjects']} subjects x {result['sessions']} sessions) "
        f"of {result['volumes']} volumes, {result['brain_voxels']} brain voxels, "
        f"{result['regions']} regions; {result['dtype']}, gzip level {result['compresslevel']}, "
        f"{result['workers']} worker(s)",
        f"set-up (mask, labels):     {result['setup_seconds']:.1f} s",
        f"total write:               {result['total_seconds']:.1f} s",
        f"per run (wall / in worker): {result['seconds_per_run_wall']:.2f} s / "
        f"{result['seconds_per_run_in_worker']:.2f} s",
        f"BOLD file:                 {result['bold_mb_per_file']:.1f} MB "
        f"(uncompressed {result['uncompressed_mb_per_bold']:.0f} MB), "
        f"all {result['bold_mb_total']:.0f} MB",
        f"mask file:                 {result['mask_mb_per_file']:.3f} MB",
        f"peak RSS this process:     {result['peak_rss_mb_self']:.0f} MB",
    ]
    if result["workers"] > 1:
        lines.append(
            f"peak RSS largest worker:   {result['peak_rss_mb_largest_worker']:.0f} MB "
            f"(machine peak <= {result['peak_rss_mb_upper_bound']:.0f} MB)"
        )
    lines.append(f"load average (1 min): {result['machine']['load_1min']:.2f}")
    if result["output"]:
        lines.append(f"output kept in {result['output']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run the benchmark, print (and optionally save) the numbers.

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=None, help="default 20 (2 with --quick)")
    parser.add_argument("--volumes", type=int, default=None, help="default 200 (30 with --quick)")
    parser.add_argument("--workers", type=int, default=2, help="processes writing runs (2)")
    parser.add_argument("--quick", action="store_true", help="2 subjects, 30 volumes")
    parser.add_argument("--dtype", choices=("int16", "float32"), default="int16")
    parser.add_argument("--compresslevel", type=int, default=1, help="gzip level (1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmpdir", default=None, help="parent of the output folder")
    parser.add_argument("--keep", action="store_true", help="keep the written study")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else DEFAULTS
    subjects = args.subjects if args.subjects is not None else sizes["subjects"]
    volumes = args.volumes if args.volumes is not None else sizes["volumes"]
    if subjects < 1 or volumes < 1 or args.workers < 1:
        parser.error("--subjects, --volumes and --workers must be at least 1")
    result = run_benchmark(
        subjects,
        volumes,
        args.workers,
        args.seed,
        args.dtype,
        args.compresslevel,
        args.tmpdir,
        args.keep,
    )
    print(_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
