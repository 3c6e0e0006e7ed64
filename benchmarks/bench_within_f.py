"""Benchmark the batched within-subject permutation F (and dose trend) at connectome scale.

Target (issue 23): 10,000 within-subject permutations of the 3-level
repeated-measures F for 20 subjects x 44,850 measures (the edges of a
300-region connectome) in under 10 s on 2 cores, memory bounded by the batch.

Three implementations of the same test, with the same permutations (the seed
fixes them), in one process:

- **batched** (what ``dmnpharm stats --within`` runs without run covariates):
  :func:`dmnpharm.stats.within_subject_test`, every batch of permutations one
  matrix product over all measures. Run on the full 10,000 permutations.
- **Freedman-Lane** (the previous engine, still used with run covariates):
  :func:`dmnpharm.stats.permutation_glm` on the level-major design with subject
  intercepts and subjects as exchangeability blocks; timed on
  ``--glm-permutations`` and scaled to the full count.
- **loop** (a straightforward implementation written here): for each
  permutation, reorder each subject's levels, recompute the sums of squares
  and F for all measures with NumPy; timed on ``--loop-permutations`` and
  scaled.

Agreement is checked first on a subset of measures and permutations: the
batched p-values must equal both others exactly, and the F statistics agree
to 1e-9. PALM's time (92 s per 500 permutations of this problem) is an
earlier measurement on this class of machine, quoted, not re-run here.

Printed: seconds, the ratios, and the peak resident memory of the process
(``resource.getrusage``) after the batched run. Use ``--trend`` for the dose
trend instead of the F. Run by hand, from the repository root::

    PYTHONPATH=src python benchmarks/bench_within_f.py
    PYTHONPATH=src python benchmarks/bench_within_f.py --measures 2000 --permutations 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.stats import (
    Exchangeability,
    permutation_glm,
    within_permutations,
    within_subject_test,
)

Array = npt.NDArray[np.float64]

#: PALM's time for 500 permutations of 20 x 3 x 44,850 (earlier measurement, not re-run).
PALM_SECONDS_PER_500 = 92.0
DOSE = np.array([0.0, 10.0, 20.0])


def make_data(n_subjects: int, n_levels: int, n_measures: int, seed: int) -> Array:
    """Subjects x levels x measures: subject offsets, noise, a level effect in 8 measures."""
    rng = np.random.default_rng(seed)
    y = 0.3 * rng.standard_normal((n_subjects, 1, n_measures))
    y = y + 0.2 * rng.standard_normal((n_subjects, n_levels, n_measures))
    y[:, :, :8] += 0.15 * np.arange(n_levels)[:, None]
    return y


def glm_design(n: int, k: int, trend: bool) -> tuple[Array, Array, Exchangeability]:
    """Return the previous engine's design: level means (or the dose), subject intercepts."""
    subjects = np.tile(np.arange(n), k)
    dummies = np.eye(n)[subjects]
    if trend:
        dose = np.repeat(DOSE[:k], n)
        x = np.column_stack([dose - dose.mean(), dummies])
        contrast = np.eye(x.shape[1])[0]
    else:
        levels = [(np.repeat(np.arange(k), n) == j).astype(float) for j in range(1, k)]
        x = np.column_stack([*levels, dummies])
        contrast = np.eye(x.shape[1])[: k - 1]
    return x, contrast, Exchangeability("permute", subjects, "levels within subject")


def run_glm(y: Array, n_permutations: int, seed: int, trend: bool) -> Any:
    """Run the Freedman-Lane engine on level-major rows."""
    n, k, _ = y.shape
    x, contrast, exch = glm_design(n, k, trend)
    rows = y.transpose(1, 0, 2).reshape(n * k, -1)
    return permutation_glm(rows, x, contrast, exch, n_permutations, seed)


def _statistic(y: Array, trend: bool) -> Array:
    """F over the levels (or |t| of the dose slope) per measure, sums of squares written out."""
    n, k, _ = y.shape
    centred = y - y.mean(axis=1, keepdims=True)
    total = (centred**2).sum(axis=(0, 1))
    if trend:
        c = DOSE[:k] - DOSE[:k].mean()
        tested = (np.einsum("k,ikm->m", c, centred) ** 2) / (n * (c @ c))
        df2 = n * (k - 1) - 1
        return np.sqrt(tested / ((total - tested) / df2))
    tested = (centred.sum(axis=0) ** 2).sum(axis=0) / n
    df2 = (n - 1) * (k - 1)
    return (tested / (k - 1)) / ((total - tested) / df2)


def run_loop(y: Array, n_permutations: int, seed: int, trend: bool) -> tuple[Array, Array]:
    """Straightforward loop: each permutation reorders levels, F for all measures."""
    n, k, _ = y.shape
    observed = _statistic(y, trend)
    limit = observed * (1 - 1e-10)
    perms = within_permutations(n, k, n_permutations, seed)
    count = np.zeros(y.shape[2])
    maxima = np.empty(n_permutations)
    for b, order in enumerate(perms):
        null = _statistic(np.take_along_axis(y, order[:, :, None], axis=1), trend)
        count += null >= limit
        maxima[b] = null.max()
    p = (count + 1) / (n_permutations + 1)
    fwer = ((maxima[:, None] >= limit).sum(axis=0) + 1) / (n_permutations + 1)
    return p, fwer


def check(y: Array, seed: int, trend: bool) -> dict[str, Any]:
    """Agreement of the three implementations on 500 measures and 199 permutations."""
    sub = np.ascontiguousarray(y[:, :, :500])
    batched = within_subject_test(sub, DOSE[: y.shape[1]] if trend else None, 199, seed)
    glm = run_glm(sub, 199, seed, trend)
    loop_p, loop_fwer = run_loop(sub, 199, seed, trend)
    stat = np.abs(batched.statistic) if trend else batched.statistic
    glm_stat = np.abs(glm.statistic) if trend else glm.statistic
    return {
        "p equal to Freedman-Lane": bool(np.array_equal(batched.p_uncorrected, glm.p_uncorrected)),
        "FWER p equal to Freedman-Lane": bool(np.array_equal(batched.p_fwer, glm.p_fwer)),
        "p equal to loop": bool(np.array_equal(batched.p_uncorrected, loop_p)),
        "FWER p equal to loop": bool(np.array_equal(batched.p_fwer, loop_fwer)),
        "max relative difference of the statistic": float(
            np.max(np.abs(stat - glm_stat) / np.maximum(np.abs(glm_stat), 1e-300))
        ),
    }


def main() -> None:
    """Check agreement, time the three implementations, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--measures", type=int, default=44_850)
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--glm-permutations", type=int, default=200)
    parser.add_argument("--loop-permutations", type=int, default=200)
    parser.add_argument("--trend", action="store_true", help="dose trend instead of the F")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    y = make_data(args.subjects, args.levels, args.measures, args.seed)
    trend = DOSE[: args.levels] if args.trend else None
    what = "dose trend" if args.trend else f"{args.levels}-level F"
    print(
        f"{what}: {args.subjects} subjects x {args.levels} levels x {args.measures} measures, "
        f"{args.permutations} permutations, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    agreement = check(y, args.seed + 1, args.trend)
    for name, value in agreement.items():
        print(f"  check: {name}: {value}")
    start = time.perf_counter()
    res = within_subject_test(y, trend, args.permutations, args.seed + 1)
    batched = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    run_glm(y, args.glm_permutations, args.seed + 1, args.trend)
    glm = (time.perf_counter() - start) * args.permutations / args.glm_permutations
    start = time.perf_counter()
    run_loop(y, args.loop_permutations, args.seed + 1, args.trend)
    loop = (time.perf_counter() - start) * args.permutations / args.loop_permutations
    # PALM's figure is for the full problem only
    full = (args.subjects, args.levels, args.measures) == (20, 3, 44_850) and not args.trend
    palm = PALM_SECONDS_PER_500 * args.permutations / 500 if full else float("nan")
    figures = {
        "batched_s": batched,
        "freedman_lane_s_scaled": glm,
        "loop_s_scaled": loop,
        "palm_s_scaled_earlier_measurement": palm,
        "peak_rss_mb_after_batched": peak,
        "significant_fwer": int((res.p_fwer <= 0.05).sum()),
        "load_end": os.getloadavg()[0],
        "checks": agreement,
    }
    print(f"  batched engine:         {batched:8.2f} s  (target: 10 s)")
    print(
        f"  Freedman-Lane engine:   {glm:8.2f} s  ({args.glm_permutations} permutations "
        f"scaled; ratio {glm / batched:.1f})"
    )
    print(
        f"  straightforward loop:   {loop:8.2f} s  ({args.loop_permutations} permutations "
        f"scaled; ratio {loop / batched:.1f})"
    )
    if full:
        print(f"  PALM (earlier, quoted): {palm:8.2f} s  (ratio {palm / batched:.1f})")
    else:
        print("  PALM: its earlier figure (92 s per 500) is for the 20 x 3 x 44,850 F only")
    print(f"  peak RSS after the batched run: {peak:.0f} MB; load {figures['load_end']:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
