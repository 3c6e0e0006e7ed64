"""Benchmark ``dmnpharm power``: 1,000 simulated 30-subject crossover studies.

Target (issue 3): 1,000 studies of 30 subjects in under 60 s on 2 cores.

Two ways of getting the same numbers are timed in one process:

- **vectorised** (what ``dmnpharm power`` runs): ``power_analysis`` with
  ``--workers`` processes; all runs of a chunk of studies are drawn at once,
  only for the measured network's regions, and every study is tested with
  ``sign_flip_test`` in one call.
- **loop** (the peer: what one would write by hand with the full simulator):
  for each study ``simulate_study`` (all 300 regions, confounds), then
  ``run_fc_metrics`` per run and ``sign_flip_test`` per study. It is timed on
  ``--loop-studies`` studies (one process) and its per-study time scaled to the
  full count.

Printed: wall seconds (``time.perf_counter``) of the vectorised run, the loop's
seconds per study, the **ratio loop / vectorised per study** (vectorised per
study uses its whole wall time, all workers), peak resident memory of this
process (``resource.getrusage``; workers are forkserver children and escape
``RUSAGE_CHILDREN``, each holds one chunk of 400 runs, about 10 arrays of
400 x regions x volumes floats), and the power both
ways (they must agree within Monte Carlo error: with few loop studies this is a
coarse check; tests/simulate/test_batch.py checks the distributions properly).

Example, from the repository root::

    PYTHONPATH=src python benchmarks/bench_power.py --studies 1000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmnpharm.atlases import load_atlas
from dmnpharm.metrics import MEASURES, run_fc_metrics
from dmnpharm.simulate import load_preset, power_analysis, simulate_study
from dmnpharm.stats import sign_flip_test


def _loop(preset: str, n_subjects: int, n_studies: int, permutations: int) -> tuple[float, float]:
    """Seconds per study and power of the hand-written loop."""
    spec = load_preset(preset)
    spec = replace(spec, design=replace(spec.design, n_subjects=n_subjects))
    atlas = load_atlas(spec.signal.atlas)
    only = tuple(m for m in MEASURES if m.name == "dmn_within_fc")
    drug = max(spec.design.conditions, key=lambda c: c.dose_mg).label
    start = time.perf_counter()
    hits = 0
    for seed in range(n_studies):
        study = simulate_study(replace(spec, seed=1000 + seed))
        values: dict[str, dict[str, float]] = {}
        for run in study.runs:
            value = run_fc_metrics(run.data, atlas, only)["dmn_within_fc"]
            values.setdefault(run.participant_id, {})[run.condition] = value
        diffs = np.array([v[drug] - v["placebo"] for v in values.values()])
        out = sign_flip_test(diffs, n_permutations=permutations, seed=seed)
        hits += int(out["p_uncorrected"][0] < 0.05)
    return (time.perf_counter() - start) / n_studies, hits / n_studies


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--preset", default="crossover-ssri-healthy")
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--loop-studies", type=int, default=10)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    spec = load_preset(args.preset)
    load_atlas(spec.signal.atlas)  # one-off import of nilearn, outside the timing
    start = time.perf_counter()
    result = power_analysis(
        spec,
        [args.subjects],
        args.studies,
        n_permutations=args.permutations,
        workers=args.workers,
        seed=7,
    )
    vectorised = time.perf_counter() - start
    loop_per_study, loop_power = _loop(
        args.preset, args.subjects, args.loop_studies, args.permutations
    )
    figures = {
        "preset": args.preset,
        "subjects": args.subjects,
        "studies": args.studies,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "vectorised_seconds": round(vectorised, 2),
        "vectorised_seconds_per_study": round(vectorised / args.studies, 5),
        "loop_seconds_per_study": round(loop_per_study, 4),
        "ratio_loop_over_vectorised": round(loop_per_study / (vectorised / args.studies), 1),
        "power_vectorised": float(result.table["power"].iloc[0]),
        "power_loop": loop_power,
        "loop_studies": args.loop_studies,
        "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    for key, value in figures.items():
        print(f"{key:>30}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
