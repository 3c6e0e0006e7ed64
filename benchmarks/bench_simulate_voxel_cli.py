"""Benchmark the whole ``dmnpharm simulate --level voxel`` command.

Target (issue 3): a 20-subject, 2-session voxel study (2 mm MNI, 200 volumes per
run, 40 runs) written in under 2 minutes on 2 cores with peak memory under 2 GB.

Runs the command in a child process (simulation, confounds, every NIfTI, mask and
table, atomic rename into place) and reports its wall time (``time.perf_counter``),
its peak resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) and
the size of the written study. ``bench_simulate_voxel.py`` times the image writer
alone, with worker processes.

Example, from the repository root::

    PYTHONPATH=src python benchmarks/bench_simulate_voxel_cli.py --subjects 20
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Run the command once and print wall time, peak memory and output size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--volumes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "study"
        command = [sys.executable, "-m", "dmnpharm", "simulate", "--level", "voxel"]
        command += ["--subjects", str(args.subjects), "--volumes", str(args.volumes)]
        command += ["--out", str(out), "-q"]
        start = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ})
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
        runs = len(list(out.rglob("*_desc-preproc_bold.nii.gz")))
    print(f"runs written:          {runs}")
    print(f"wall seconds:          {wall:.1f}")
    print(f"peak RSS of command:   {peak_mb:.0f} MB")
    print(f"study size:            {size_mb:.0f} MB")
    print(f"load average (1 min):  {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
