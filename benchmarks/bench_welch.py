"""Benchmark the Welch G permutation test of the between-subject cohort model.

What ``dmnpharm run`` fits for the ``cohort-observational`` preset: two groups
with unequal variances (``welch_glm``), an intercept, the group, age and five
site indicators, 72 network-level measures, 5,000 permutations of the
Freedman-Lane residuals within sites (``--block site``), each permutation's G
through its own Welch-Satterthwaite degrees of freedom.

Each implementation runs in a child process (``PYTHONPATH`` set to its
``src`` folder): this checkout, and with ``--baseline-src DIR`` an earlier
checkout's ``src`` (``git archive <commit> src | tar -x -C DIR``), alternately,
``--repeats`` times each, on the same seeded data. Printed per subject count:
the median seconds of each, the ratio baseline / now, the largest difference
of the G statistics and whether the permutation p-values (uncorrected and
FWER) are equal. Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_welch.py --baseline-src /tmp/base/src
    PYTHONPATH=src python benchmarks/bench_welch.py --subjects 500 --permutations 1000
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

_CHILD = r"""
import json, sys, time
import numpy as np
from dmnpharm.stats._glm import Exchangeability
from dmnpharm.stats._welch import welch_glm
n, k, perms, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(7)
sites = rng.integers(0, 6, n)
group = (rng.random(n) < 2 / 3).astype(float)
age = rng.normal(40, 10, n)
x = np.column_stack([np.ones(n), group, age - age.mean()]
                    + [(sites == s).astype(float) for s in range(1, 6)])
y = rng.normal(size=(n, k)) * np.where(group[:, None] == 1, 1.5, 1.0)
y[:, :4] += 0.15 * group[:, None]
contrast = np.zeros(x.shape[1]); contrast[1] = 1.0
blocks = Exchangeability("permute", sites, "within sites")
start = time.perf_counter()
res = welch_glm(y, x, contrast, group, perms, seed=1, exchangeability=blocks)
seconds = time.perf_counter() - start
np.save(out, np.stack([res.statistic, res.p_uncorrected, res.p_fwer]))
print(json.dumps({"seconds": seconds}))
"""


def run_child(src: Path, n: int, k: int, perms: int, out: Path) -> float:
    """Run the test once in a child process with ``src`` first on the path; return seconds."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    env["OPENBLAS_NUM_THREADS"] = "1"  # as on a Dask worker or under threadpool_limits
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), str(k), str(perms), str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main() -> int:
    """Time this checkout (and a baseline) at each subject count; print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--measures", type=int, default=72)
    parser.add_argument("--permutations", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline-src", type=Path, help="an earlier checkout's src folder")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1] / "src"
    load = os.getloadavg()[0]
    print(f"{args.measures} measures, {args.permutations} permutations; load {load:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-welch-") as tmp:
        for n in args.subjects:
            times: dict[str, list[float]] = {"now": [], "baseline": []}
            for _ in range(args.repeats):
                for name, src in (("baseline", args.baseline_src), ("now", here)):
                    if src is not None:
                        out = Path(tmp) / f"{name}-{n}.npy"
                        times[name].append(
                            run_child(src, n, args.measures, args.permutations, out)
                        )
            now = statistics.median(times["now"])
            line = f"{n:5d} subjects: now {now:7.2f} s"
            if times["baseline"]:
                before = statistics.median(times["baseline"])
                ours = np.load(Path(tmp) / f"now-{n}.npy")
                theirs = np.load(Path(tmp) / f"baseline-{n}.npy")
                same_p = bool(np.array_equal(ours[1:], theirs[1:]))
                line += (
                    f", baseline {before:7.2f} s, ratio {before / now:5.2f}x; "
                    f"max |dG| {np.max(np.abs(ours[0] - theirs[0])):.1e}, "
                    f"p-values equal: {same_p}"
                )
            print(line, flush=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
