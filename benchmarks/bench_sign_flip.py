"""Benchmark ``dmnpharm.stats.sign_flip_test`` against nilearn's ``permuted_ols``.

Both tools answer the same question for a paired design: is the mean of the
per-subject differences zero, measure by measure, with sign-flip permutation
p-values (uncorrected, and family-wise corrected by the max-|t| procedure)?
nilearn is called with an intercept-only design (a column of ones,
``model_intercept=False``, no confounds), for which it flips signs instead of
shuffling rows.

The script first checks that the two agree, then times them.

- t statistics must match to 1e-8 relative, on every measure.
- nilearn returns only family-wise (max-|t|) p-values, as ``-log10 p`` under
  ``logp_max_t``. Its uncorrected p-value of a measure is obtained by running it
  on that measure alone (the max over one measure is the measure itself), for a
  few dozen measures.
- The flips differ between the tools, so p-values agree only up to Monte-Carlo
  error. A difference counts as too large when its z score, from the binomial
  standard error of two independent estimates, passes a Bonferroni limit with a
  0.1 % family-wise false-alarm rate.

Then each tool runs ``--repeats`` times, interleaved, in this process
(``time.perf_counter``). The median seconds and their ratio nilearn / dmnpharm
are reported; the ratio is the number to look at, absolute times are noisy.
Peak memory is measured afterwards in one extra, untimed run of each tool under
``tracemalloc``: the peak of memory allocated during the call (numpy reports
its array buffers to tracemalloc), not counting the input array.

Benchmarks are run by hand and never by the test suite.

Examples
--------
From the repository root::

    PYTHONPATH=src python benchmarks/bench_sign_flip.py --quick
    PYTHONPATH=src python benchmarks/bench_sign_flip.py --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nilearn
import numpy as np
import numpy.typing as npt
import threadpoolctl
from nilearn.mass_univariate import permuted_ols
from scipy import stats as sps

import dmnpharm
from dmnpharm.stats import sign_flip_test

FloatArray = npt.NDArray[np.float64]

DEFAULTS = {"subjects": 20, "measures": 44_850, "permutations": 10_000}
QUICK = {"subjects": 20, "measures": 2_000, "permutations": 1_000}
#: Columns given a true effect (first columns of the data), and their effect sizes.
EFFECT_SIZES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)
#: Size of the Monte-Carlo agreement check of p-values.
CHECK_MEASURES = 2_000
CHECK_PERMUTATIONS = 2_000
CHECK_SINGLE_MEASURES = 40
T_RTOL = 1e-8
FALSE_ALARM = 1e-3


def make_data(n_subjects: int, n_measures: int, seed: int) -> tuple[FloatArray, int]:
    """Simulate paired differences with a true effect in the first columns.

    Parameters
    ----------
    n_subjects, n_measures : int
        Shape of the returned array.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    differences : numpy.ndarray
        Subjects x measures, standard normal noise; column ``j`` of the first
        ``n_effects`` has its mean shifted by ``EFFECT_SIZES[j]`` (Cohen's dz).
    n_effects : int
        Number of columns with a true effect.
    """
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n_subjects, n_measures))
    n_effects = min(len(EFFECT_SIZES), n_measures)
    d[:, :n_effects] += np.asarray(EFFECT_SIZES[:n_effects])
    return d, n_effects


def run_dmnpharm(d: FloatArray, n_permutations: int, seed: int) -> dict[str, FloatArray]:
    """Run dmnpharm's sign-flip test.

    Parameters
    ----------
    d : numpy.ndarray
        Subjects x measures differences.
    n_permutations : int
        Random sign flips.
    seed : int
        Seed of the flips.

    Returns
    -------
    dict of numpy.ndarray
        ``t``, ``p_uncorrected`` and ``p_fwer``, one value per measure.
    """
    res = sign_flip_test(d, n_permutations=n_permutations, seed=seed)
    return {
        "t": res["statistic"],
        "p_uncorrected": res["p_uncorrected"],
        "p_fwer": res["p_fwer"],
    }


def run_nilearn(d: FloatArray, n_permutations: int, seed: int) -> dict[str, FloatArray]:
    """Run nilearn's ``permuted_ols`` as a one-sample (intercept-only) sign-flip test.

    Parameters
    ----------
    d : numpy.ndarray
        Subjects x measures differences.
    n_permutations : int
        Random sign flips (0: t statistics only).
    seed : int
        Seed of the flips.

    Returns
    -------
    dict of numpy.ndarray
        ``t`` and, when ``n_permutations > 0``, ``p_fwer`` (nilearn's
        ``-log10 p`` converted back to p), one value per measure.
    """
    out = permuted_ols(
        tested_vars=np.ones((d.shape[0], 1)),
        target_vars=d,
        confounding_vars=None,
        model_intercept=False,
        n_perm=n_permutations,
        two_sided_test=True,
        random_state=seed,
        n_jobs=1,
        output_type="dict",
    )
    res = {"t": np.asarray(out["t"], dtype=np.float64)[0]}
    if n_permutations > 0:
        res["p_fwer"] = 10.0 ** -np.asarray(out["logp_max_t"], dtype=np.float64)[0]
    return res


def nilearn_uncorrected(
    d: FloatArray, columns: Sequence[int], n_permutations: int, seed: int
) -> FloatArray:
    """Uncorrected nilearn p-values: ``permuted_ols`` run on one measure at a time.

    Parameters
    ----------
    d : numpy.ndarray
        Subjects x measures differences.
    columns : sequence of int
        Measures to test.
    n_permutations : int
        Random sign flips per measure.
    seed : int
        Seed of the first measure's flips (the next ones use ``seed + 1``, ...).

    Returns
    -------
    numpy.ndarray
        One p-value per column.
    """
    return np.array(
        [
            run_nilearn(d[:, [col]], n_permutations, seed + i)["p_fwer"][0]
            for i, col in enumerate(columns)
        ]
    )


def mc_z(p_a: FloatArray, p_b: FloatArray, n_permutations: int) -> FloatArray:
    """Z scores of differences between two independent permutation p-values.

    Parameters
    ----------
    p_a, p_b : numpy.ndarray
        P-values estimated from ``n_permutations`` flips each.
    n_permutations : int
        Flips behind each estimate.

    Returns
    -------
    numpy.ndarray
        ``(p_a - p_b)`` over its binomial standard error (pooled p, floored at
        one flip).
    """
    p = np.clip((p_a + p_b) / 2, 1.0 / n_permutations, 1.0 - 1.0 / n_permutations)
    se = np.sqrt(2 * p * (1 - p) / n_permutations)
    return np.asarray((p_a - p_b) / se, dtype=np.float64)


def z_limit(n_compared: int) -> float:
    """Bonferroni limit on ``max |z|`` for a ``FALSE_ALARM`` family-wise rate.

    Parameters
    ----------
    n_compared : int
        Number of p-values compared.

    Returns
    -------
    float
        Two-sided normal critical value.
    """
    return float(sps.norm.isf(FALSE_ALARM / (2 * n_compared)))


def check_agreement(
    d: FloatArray, n_effects: int, n_permutations: int, seed: int
) -> list[dict[str, Any]]:
    """Compare dmnpharm with nilearn on t statistics and permutation p-values.

    Parameters
    ----------
    d : numpy.ndarray
        The benchmark data, subjects x measures.
    n_effects : int
        Number of leading columns with a true effect.
    n_permutations : int
        Flips of the benchmark; the p-value checks use at most
        ``CHECK_PERMUTATIONS`` on at most ``CHECK_MEASURES`` leading columns.
    seed : int
        Seed of the flips.

    Returns
    -------
    list of dict
        One entry per check: ``name``, ``passed``, and its numbers.
    """
    checks: list[dict[str, Any]] = []
    n_measures = d.shape[1]

    t_d = run_dmnpharm(d, 1, seed)["t"]
    t_n = run_nilearn(d, 0, seed)["t"]
    rel = float(np.max(np.abs(t_n - t_d) / np.maximum(np.abs(t_d), 1e-300)))
    checks.append(
        {
            "name": f"t statistic, all {n_measures} measures",
            "max_rel_diff": rel,
            "tolerance": T_RTOL,
            "passed": bool(rel <= T_RTOL),
        }
    )

    sub = np.ascontiguousarray(d[:, : min(CHECK_MEASURES, n_measures)])
    n_perm = min(CHECK_PERMUTATIONS, n_permutations)
    res_d = run_dmnpharm(sub, n_perm, seed)
    res_n = run_nilearn(sub, n_perm, seed + 1)

    n_single = min(CHECK_SINGLE_MEASURES, sub.shape[1])
    cols = list(range(n_single))
    p_single = nilearn_uncorrected(sub, cols, n_perm, seed + 2)
    for name, p_a, p_b in (
        (
            f"uncorrected p, {n_single} measures (nilearn one measure at a time), {n_perm} flips",
            res_d["p_uncorrected"][cols],
            p_single,
        ),
        (f"FWER p, {sub.shape[1]} measures, {n_perm} flips", res_d["p_fwer"], res_n["p_fwer"]),
    ):
        z = mc_z(p_a, p_b, n_perm)
        limit = z_limit(z.size)
        checks.append(
            {
                "name": name,
                "max_abs_diff": float(np.max(np.abs(p_a - p_b))),
                "max_abs_z": float(np.max(np.abs(z))),
                "z_limit": limit,
                "passed": bool(np.max(np.abs(z)) <= limit),
            }
        )

    n_sig_d = int(np.sum(res_d["p_fwer"][:n_effects] < 0.05))
    n_sig_n = int(np.sum(res_n["p_fwer"][:n_effects] < 0.05))
    n_false_d = int(np.sum(res_d["p_fwer"][n_effects:] < 0.05))
    n_false_n = int(np.sum(res_n["p_fwer"][n_effects:] < 0.05))
    checks.append(
        {
            "name": f"FWER p < 0.05 on {sub.shape[1]} measures (info)",
            "effect_measures": n_effects,
            "detected_dmnpharm": n_sig_d,
            "detected_nilearn": n_sig_n,
            "null_rejected_dmnpharm": n_false_d,
            "null_rejected_nilearn": n_false_n,
            "passed": True,
        }
    )
    return checks


def time_runs(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, interleaving the functions.

    Parameters
    ----------
    functions : dict of callable
        Name -> function without arguments.
    repeats : int
        Runs of each function.

    Returns
    -------
    dict of list of float
        Name -> seconds of each run.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated while ``fn`` runs, traced by ``tracemalloc``.

    Parameters
    ----------
    fn : callable
        Function without arguments.

    Returns
    -------
    int
        Peak traced bytes (allocations made before the call are not counted).
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def blas_threads() -> int | None:
    """Threads numpy's BLAS uses now, or None when unknown.

    Returns
    -------
    int or None
        Largest thread count among the loaded BLAS libraries.
    """
    counts = [
        int(info["num_threads"])
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return max(counts) if counts else None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; ``--quick`` fills in sizes not given explicitly.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        Options, with ``subjects``, ``measures`` and ``permutations`` resolved.
    """
    parser = argparse.ArgumentParser(
        description=(
            "Time dmnpharm.stats.sign_flip_test against nilearn's permuted_ols "
            "(intercept-only sign flips) after checking that they agree."
        )
    )
    parser.add_argument(
        "--subjects", type=int, default=None, help=f"default {DEFAULTS['subjects']}"
    )
    parser.add_argument(
        "--measures",
        type=int,
        default=None,
        help=f"default {DEFAULTS['measures']} (edges of a 300-region connectome)",
    )
    parser.add_argument(
        "--permutations", type=int, default=None, help=f"default {DEFAULTS['permutations']}"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"small sizes: {QUICK['subjects']} subjects x {QUICK['measures']} measures x "
            f"{QUICK['permutations']} flips (explicit sizes still win)"
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data and flips (default 0)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads for both tools (default: library default)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEFAULTS
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("subjects", "measures", "permutations", "repeats"):
        if getattr(args, key) < 1:
            parser.error(f"--{key} must be positive")
    if args.subjects < 3:
        parser.error("--subjects must be at least 3")
    return args


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Check agreement, time both tools and print the results.

    Parameters
    ----------
    args : argparse.Namespace
        Options from :func:`parse_args`.

    Returns
    -------
    dict
        Everything printed, for the JSON file.
    """
    d, n_effects = make_data(args.subjects, args.measures, args.seed)
    perm_seed = args.seed + 1
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nilearn": nilearn.__version__,
        "dmnpharm": dmnpharm.__version__,
        "cpu_count": os.cpu_count(),
        "blas_threads": blas_threads(),
        "machine": platform.machine(),
        "load_average_1min_start": os.getloadavg()[0],
    }
    print(
        f"data: {args.subjects} subjects x {args.measures} measures "
        f"({d.nbytes / 2**20:.1f} MiB float64), {args.permutations} flips, "
        f"{args.repeats} repeats, seed {args.seed}; true effects dz={EFFECT_SIZES[:n_effects]} "
        f"in columns 0-{n_effects - 1}"
    )
    print(
        f"env: python {env['python']}, numpy {env['numpy']}, nilearn {env['nilearn']}, "
        f"dmnpharm {env['dmnpharm']}, {env['cpu_count']} CPUs, BLAS threads "
        f"{env['blas_threads']}, nilearn n_jobs=1"
    )

    print("\nagreement checks (before timing):")
    checks = check_agreement(d, n_effects, args.permutations, perm_seed)
    for check in checks:
        numbers = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in check.items()
            if k not in ("name", "passed")
        )
        status = "  PASS" if check["passed"] else "  FAIL"
        if check["name"].endswith("(info)"):
            status = ""
        print(f"  {check['name']}: {numbers}{status}")

    functions: dict[str, Callable[[], object]] = {
        "dmnpharm sign_flip_test": lambda: run_dmnpharm(d, args.permutations, perm_seed),
        "nilearn permuted_ols": lambda: run_nilearn(d, args.permutations, perm_seed),
    }
    times = time_runs(functions, args.repeats)
    memory = {name: peak_memory(fn) for name, fn in functions.items()}
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    ratio = medians["nilearn permuted_ols"] / medians["dmnpharm sign_flip_test"]

    print(f"\ntimes over {args.repeats} runs; peak memory: tracemalloc, one extra untimed run")
    header = f"  {'implementation':<26}{'median s':>10}{'min s':>10}{'max s':>10}{'peak MiB':>10}"
    print(header)
    for name, ts in times.items():
        print(
            f"  {name:<26}{medians[name]:>10.3f}{min(ts):>10.3f}{max(ts):>10.3f}"
            f"{memory[name] / 2**20:>10.1f}"
        )
    print(f"  ratio nilearn / dmnpharm (median time): {ratio:.2f}")
    env["load_average_1min_end"] = os.getloadavg()[0]
    print(
        f"  1-min load average {env['load_average_1min_start']:.2f} at start, "
        f"{env['load_average_1min_end']:.2f} at end (other work on the machine skews times)"
    )

    return {
        "config": {
            "subjects": args.subjects,
            "measures": args.measures,
            "permutations": args.permutations,
            "repeats": args.repeats,
            "seed": args.seed,
            "effect_sizes": list(EFFECT_SIZES[:n_effects]),
        },
        "environment": env,
        "checks": checks,
        "seconds": times,
        "median_seconds": medians,
        "ratio_nilearn_over_dmnpharm": ratio,
        "memory_method": "tracemalloc peak during one extra untimed call, input excluded",
        "peak_memory_bytes": memory,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark.

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0, or 1 when an agreement check failed.
    """
    args = parse_args(argv)
    if args.blas_threads is not None:
        with threadpoolctl.threadpool_limits(limits=args.blas_threads, user_api="blas"):
            result = benchmark(args)
    else:
        result = benchmark(args)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    if failed:
        print(f"\nFAILED checks: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
