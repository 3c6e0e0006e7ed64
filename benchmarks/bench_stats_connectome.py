r"""Benchmark ``dmnpharm stats`` on a connectome-scale paired table, end to end and by stage.

Target (issue 23): the paired model (drug vs placebo) on 20 subjects x 44,850
measures (the edges of a 300-region connectome) with 10,000 sign flips, from a
tidy Parquet table, in under 3 s and 0.5 GB for the whole command.

The script writes the table (``participant_id``, ``session_id``,
``condition``, ``measure``, ``value``: one row per subject, session and
measure, 1,794,000 rows; with ``--run-layout`` as ``dmnpharm run`` writes
``metrics_edges.parquet``: every edge is ``edge_fc`` with its two regions in
``region_a``/``region_b``, plus ``analysis``, ``level``, ... columns) and then:

1. **End to end**: runs ``dmnpharm stats TABLE --within condition --contrast
   drug-placebo --permutations N --quiet`` in a child process; prints its wall
   time, CPU time (user + system, its threads included) and peak resident
   memory (``os.wait4``), and whether it succeeded. With ``--baseline-src
   OLD/src`` the same command of another checkout (``PYTHONPATH=OLD/src``)
   runs alternately with this one, ``--repeats`` times each, side by side
   with the load average; their ``results.tsv`` must be byte-identical.
2. **By stage, in this process** (public API): ``read_metrics_table`` (with
   the naming of region and edge measures); ``check_unique_runs``;
   ``analyse``; inside it, the sign-flip engine (``sign_flip_test``) and the
   d_z interval (``dz_interval``, the default; ``bootstrap_ci`` with 2,000
   resamples, the option, timed beside it), the rest being the reshaping of the
   table; writing ``results.tsv`` (``dmnpharm.io.write_tsv``, with pandas'
   ``to_csv`` timed beside it) and ``.parquet``; the report
   (``build_stats_report``). Peak resident memory is printed after each stage.
3. **Baseline, same run**: the previous implementation's heavy stages
   written out here as they were: the levels found by iterating over the
   condition column, a ``pivot_table`` reshaping with a per-subject
   ``groupby().apply``, a bootstrap of d_z drawing ``values[pick]`` in batches
   with ``numpy.nanpercentile``, and the sign flips in tiles with BLAS's own
   threads. The ratio baseline / now is printed for each stage.

Results must agree: the baseline's t, p-values and bootstrap interval (same
seed) are compared with the library's. Run by hand from the repository root::

    PYTHONPATH=src python benchmarks/bench_stats_connectome.py
    PYTHONPATH=src python benchmarks/bench_stats_connectome.py --measures 4000 --no-baseline
    git worktree add /tmp/old HEAD~1   # the previous code, beside this one
    PYTHONPATH=src python benchmarks/bench_stats_connectome.py --no-baseline \
        --baseline-src /tmp/old/src --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.io import write_tsv
from dmnpharm.pipeline import read_metrics_table
from dmnpharm.report import build_stats_report
from dmnpharm.stats import (
    ModelSpec,
    analyse,
    bootstrap_ci,
    check_unique_runs,
    dz_interval,
    sign_flip_test,
)

Array = npt.NDArray[np.float64]

SPEC = ModelSpec(within="condition", contrast=("drug", "placebo"))


def peak_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _edge_names(n_measures: int) -> tuple[list[str], list[str]]:
    """Region pairs of the smallest connectome with ``n_measures`` edges or more (first ones)."""
    n = 2
    while n * (n - 1) // 2 < n_measures:
        n += 1
    labels = [f"region_{i:03d}" for i in range(n)]
    pairs = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]][:n_measures]
    return [a for a, _ in pairs], [b for _, b in pairs]


def write_table(
    path: Path, n_subjects: int, n_measures: int, seed: int, run_layout: bool = False
) -> Array:
    """Write the tidy Parquet table; return its drug - placebo differences (0-7: an effect).

    ``run_layout``: the columns of ``dmnpharm run``'s ``metrics_edges.parquet``
    (one measure ``edge_fc``, the edge in ``region_a``/``region_b``).
    """
    rng = np.random.default_rng(seed)
    subjects = [f"sub-{i + 1:02d}" for i in range(n_subjects)]
    measures = [f"edge_{i:05d}" for i in range(n_measures)]
    values = 0.3 * rng.standard_normal((n_subjects, 1, n_measures))
    values = values + 0.2 * rng.standard_normal((n_subjects, 2, n_measures))
    values[:, 1, :8] += 0.2
    per_subject = 2 * n_measures
    columns: dict[str, Any] = {
        "participant_id": np.repeat(subjects, per_subject),
        "session_id": np.tile(np.repeat(["ses-1", "ses-2"], n_measures), n_subjects),
        "condition": np.tile(np.repeat(["placebo", "drug"], n_measures), n_subjects),
        "measure": np.tile(measures, 2 * n_subjects),
    }
    if run_layout:
        region_a, region_b = _edge_names(n_measures)
        columns |= {
            "run": "",
            "analysis": "primary",
            "measure": "edge_fc",
            "level": "edge",
            "network_a": "DMN",
            "network_b": "DMN",
            "region_a": np.tile(region_a, 2 * n_subjects),
            "region_b": np.tile(region_b, 2 * n_subjects),
        }
    table = pd.DataFrame(columns | {"value": values.ravel()})
    table.to_parquet(path, index=False)
    differences: Array = values[:, 1, :] - values[:, 0, :]
    return differences


def run_cli(
    table: Path, out: Path, n_permutations: int, source: Path | None = None
) -> dict[str, Any]:
    """Run ``dmnpharm stats`` in a child process: wall and CPU seconds, peak RSS, exit code.

    ``source``: the ``src`` folder of the checkout to run (default: this one's import path).
    """
    # As the console script runs it (its BLAS and exit settings); an older checkout's
    # __main__ runs the command on import, so its main() is called instead.
    code = (
        "import importlib.util, pathlib, sys\n"
        "spec = importlib.util.find_spec('dmnpharm.__main__')\n"
        "if 'def console_main' in pathlib.Path(spec.origin).read_text():\n"
        "    from dmnpharm.__main__ import console_main as entry\n"
        "else:\n    from dmnpharm.cli import main as entry\n"
        "sys.exit(entry())"
    )
    argv = [sys.executable, "-c", code, "stats", str(table), "--out", str(out)]
    argv += ["--within", "condition", "--contrast", "drug-placebo"]
    argv += ["--permutations", str(n_permutations), "--overwrite", "--quiet"]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert child.stderr is not None
    error = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "exit_code": child.returncode,
        "error": error.strip().splitlines()[-1] if child.returncode else "",
    }


def side_by_side(
    table: Path, folder: Path, n_permutations: int, old_source: Path, repeats: int
) -> dict[str, Any]:
    """Run this checkout's command and ``old_source``'s alternately; print medians and ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"now": [], "old": []}
    load_before = os.getloadavg()
    for _ in range(repeats):
        runs["now"].append(run_cli(table, folder / "cli-now", n_permutations))
        runs["old"].append(run_cli(table, folder / "cli-old", n_permutations, old_source))
    load_after = os.getloadavg()
    print(
        f"end to end, side by side ({repeats} alternating runs each, median; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after):"
    )
    print(f"{'':<24}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}  status")
    medians = {}
    for name, label in (("old", f"before ({old_source})"), ("now", "now (this checkout)")):
        figures = {k: float(np.median([r[k] for r in runs[name]])) for k in ("seconds", "cpu_s")}
        figures["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs[name])
        failed = [r["error"] for r in runs[name] if r["exit_code"]]
        medians[name] = figures
        print(
            f"{label[:24]:<24}{figures['seconds']:>9.2f}{figures['cpu_s']:>9.2f}"
            f"{figures['peak_rss_mb']:>13.0f}  {'FAILED: ' + failed[0] if failed else 'ok'}"
        )
    ratio = {k: medians["old"][k] / max(medians["now"][k], 1e-9) for k in medians["now"]}
    same = (
        (folder / "cli-now" / "results.tsv").read_bytes()
        == (folder / "cli-old" / "results.tsv").read_bytes()
        if (folder / "cli-old" / "results.tsv").is_file()
        else False
    )
    print(
        f"{'ratio before / now':<24}{ratio['seconds']:>9.2f}{ratio['cpu_s']:>9.2f}"
        f"{ratio['peak_rss_mb']:>13.2f}  results.tsv byte-identical: {same}"
    )
    return {"runs": runs, "medians": medians, "load": [load_before, load_after], "same": same}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Call ``fn``; return its value and the seconds it took."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def stages(
    table_path: Path, d: Array, out: Path, n_permutations: int, seed: int
) -> dict[str, Any]:
    """Time each stage with the public API; peak RSS after each. ``d``: the true differences."""
    figures: dict[str, Any] = {}
    table, figures["read_s"] = timed(lambda: read_metrics_table(table_path))
    figures["read_peak_mb"] = peak_mb()
    _, figures["check_s"] = timed(lambda: check_unique_runs(table, within="condition"))
    result, figures["analyse_s"] = timed(lambda: analyse(table, SPEC, n_permutations, seed))
    figures["analyse_peak_mb"] = peak_mb()
    figures["_result"] = result
    flips, figures["sign_flip_s"] = timed(lambda: sign_flip_test(d, n_permutations, seed))
    interval, figures["dz_interval_s"] = timed(lambda: dz_interval(d))
    boot, figures["bootstrap_option_s"] = timed(lambda: bootstrap_ci("dz", d, seed=seed))
    # the reshaping and the rest of the model: analyse with a single sign flip
    _, quick = timed(lambda: analyse(table, SPEC, 1, seed))
    figures["tables_and_rest_s"] = max(quick - figures["dz_interval_s"], 0.0)
    out.mkdir(parents=True, exist_ok=True)
    _, figures["write_s"] = timed(
        lambda: (
            write_tsv(result.results, out / "results.tsv"),
            result.results.to_parquet(out / "results.parquet", index=False),
        )
    )
    figures["write_peak_mb"] = peak_mb()
    _, figures["to_csv_s"] = timed(
        lambda: result.results.to_csv(
            out / "to_csv.tsv", sep="\t", index=False, na_rep="n/a", lineterminator="\n"
        )
    )
    figures["same_tsv"] = (out / "to_csv.tsv").read_bytes() == (out / "results.tsv").read_bytes()
    provenance = {"command": "stats", "n_permutations": n_permutations, "seed": seed}
    try:
        _, figures["report_s"] = timed(
            lambda: build_stats_report(
                table,
                SPEC,
                result,
                "permutation",
                provenance,
                out / "report.html",
                table_path.name,
            )
        )
    except Exception as exc:  # say why the report failed, and go on
        figures["report_s"] = float("nan")
        figures["report_error"] = f"{type(exc).__name__}: {exc}"
    figures["report_peak_mb"] = peak_mb()
    figures["_flips"], figures["_boot"], figures["_interval"] = flips, boot, interval
    return figures


def baseline_tables(table: pd.DataFrame) -> Array:
    """Previous reshaping: level lists by iteration, pivot_table, groupby().apply(set)."""
    for _ in range(2):  # the level check ran once per contrast level
        sorted(set(table["condition"].astype(str)))
    subset = table[table["condition"].astype(str).isin(["drug", "placebo"])]
    means = subset.pivot_table(
        index="participant_id", columns=["condition", "measure"], values="value", aggfunc="mean"
    )
    measures = list(dict.fromkeys(subset["measure"]))
    subset.groupby("participant_id")["condition"].apply(lambda s: set(s.astype(str)))
    drug: Array = means["drug"][measures].to_numpy()
    return drug - means["placebo"][measures].to_numpy()


def baseline_bootstrap(d: Array, n_bootstrap: int, seed: int) -> tuple[Array, Array]:
    """Previous bootstrap of d_z: fancy-indexed batches, then nanpercentile."""
    rng = np.random.default_rng(seed)
    n, m = d.shape
    batch = max(1, 64 * 2**20 // (8 * n * m))
    draws = []
    for start in range(0, n_bootstrap, batch):
        pick = rng.integers(0, n, (min(batch, n_bootstrap - start), n))
        sample = d[pick]
        sd = sample.std(axis=-2, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            draws.append(np.where(sd > 0, sample.mean(axis=-2) / sd, np.nan))
    with np.errstate(invalid="ignore"):
        low, high = np.nanpercentile(np.concatenate(draws), [2.5, 97.5], axis=0)
    return low, high


def baseline_sign_flip(d: Array, n_permutations: int, seed: int) -> Array:
    """Previous sign-flip tiles (one thread, BLAS's own threads); returns the FWER p."""
    n = d.shape[0]
    draws = np.random.default_rng(seed).integers(0, 2, (n_permutations, n), dtype=np.int8)
    flips = 1.0 - 2.0 * draws
    sums, sumsq = d.sum(axis=0), np.einsum("ij,ij->j", d, d)
    scale = np.where(sumsq > 0, 1.0 / np.sqrt(n * np.where(sumsq > 0, sumsq, 1.0)), 0.0)
    scaled, threshold = d * scale, np.abs(sums * scale) * (1 - 1e-10)
    row_max = np.zeros(n_permutations)
    cols = min(d.shape[1], 8192)
    rows = max(1, 4 * 2**20 // (8 * cols))
    for c0 in range(0, d.shape[1], cols):
        block = np.ascontiguousarray(scaled[:, c0 : c0 + cols])
        for start in range(0, n_permutations, rows):
            null = np.abs(flips[start : start + rows] @ block)
            best = row_max[start : start + rows]
            np.maximum(best, null.max(axis=1), out=best)
    ordered = np.sort(row_max)
    reach = ordered.size - np.searchsorted(ordered, threshold, side="left")
    fwer: Array = (reach + 1) / (n_permutations + 1)
    return fwer


def baseline(table_path: Path, n_permutations: int, seed: int) -> dict[str, Any]:
    """Time the previous implementation's heavy stages on the same table."""
    figures: dict[str, Any] = {}
    table, figures["read_s"] = timed(lambda: pd.read_parquet(table_path))
    d, figures["tables_s"] = timed(lambda: baseline_tables(table))
    fwer, figures["sign_flip_s"] = timed(lambda: baseline_sign_flip(d, n_permutations, seed))
    boot, figures["bootstrap_s"] = timed(lambda: baseline_bootstrap(d, 2000, seed))
    figures["_d"], figures["_boot"], figures["_fwer"] = d, boot, fwer
    return figures


def _child(args: argparse.Namespace, role: str, *paths: Path) -> dict[str, Any]:
    """Run this script in a child process in ``role``; return its JSON and its peak RSS.

    Each measurement runs in a fresh process, so that its peak resident memory
    (``os.wait4``) is its own: a child's peak includes its parent's resident
    memory at the fork, so the parent stays small.
    """
    sizes = ["--subjects", str(args.subjects), "--measures", str(args.measures)]
    sizes += ["--permutations", str(args.permutations), "--seed", str(args.seed)]
    sizes += ["--run-layout"] if args.run_layout else []
    argv = [sys.executable, __file__, *sizes, "--role", role, *map(str, paths)]
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"the {role} step failed (exit {child.returncode})")
    figures: dict[str, Any] = json.loads(paths[-1].read_text())
    figures["process_peak_rss_mb"] = usage.ru_maxrss / 1024
    return figures


def _role(args: argparse.Namespace) -> int:
    """Run one step in this (child) process and write its figures to the last path."""
    paths = [Path(p) for p in args.paths]
    if args.role == "write":
        d = write_table(paths[0], args.subjects, args.measures, args.seed, args.run_layout)
        np.save(paths[1], d)
        paths[2].write_text("{}")
        return 0
    if args.role == "stages":
        now = stages(paths[0], np.load(paths[1]), paths[2], args.permutations, args.seed)
        result = now.pop("_result").results
        np.savez(
            paths[3].with_suffix(".npz"),
            statistic=result["statistic"].to_numpy(),
            flips_statistic=now.pop("_flips")["statistic"],
            p_fwer=result["p_fwer"].to_numpy(),
            boot_low=now.pop("_boot")[0],
            interval_low=now.pop("_interval")[0],
        )
    else:
        now = baseline(paths[0], args.permutations, args.seed)
        np.savez(
            paths[1].with_suffix(".npz"),
            d=now.pop("_d"),
            fwer=now.pop("_fwer"),
            boot_low=now.pop("_boot")[0],
        )
    paths[-1].write_text(json.dumps(now))
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--measures", type=int, default=44_850)
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the previous stages")
    parser.add_argument(
        "--run-layout",
        action="store_true",
        help="write the table as run's metrics_edges.parquet (edge_fc + region_a/region_b); "
        "the previous stages cannot read it and are skipped",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="src folder of another checkout: its dmnpharm stats runs beside this one's",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs each, with --baseline-src")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--role", default=None, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    """Write the table, run the end-to-end command(s), the stages and the baseline."""
    args = _arguments()
    if args.role:
        return _role(args)
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        folder = Path(tmp)
        table, truth = folder / "metrics.parquet", folder / "differences.npy"
        _child(args, "write", table, truth, folder / "write.json")
        layout = "run's edge layout" if args.run_layout else "one measure per edge"
        print(
            f"table: {2 * args.subjects * args.measures} rows ({args.subjects} subjects x 2 "
            f"sessions x {args.measures} measures, {layout}), "
            f"{table.stat().st_size / 2**20:.1f} MB Parquet; {args.permutations} sign flips; "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
        )
        cli = run_cli(table, folder / "cli", args.permutations)
        status = "ok" if cli["exit_code"] == 0 else f"FAILED ({cli['error']})"
        print(
            f"end to end (dmnpharm stats, child process): {cli['seconds']:.2f} s, CPU "
            f"{cli['cpu_s']:.2f} s, peak RSS {cli['peak_rss_mb']:.0f} MB, {status}"
        )
        pair = None
        if args.baseline_src is not None:
            pair = side_by_side(table, folder, args.permutations, args.baseline_src, args.repeats)
        now = _child(args, "stages", table, truth, folder / "stages", folder / "stages.json")
        now_arrays = dict(np.load(folder / "stages.npz"))
        before, old_arrays = None, {}
        if not (args.no_baseline or args.run_layout):
            before = _child(args, "baseline", table, folder / "baseline.json")
            old_arrays = dict(np.load(folder / "baseline.npz"))
        report(now, before)
        if before is not None:
            agree(now_arrays, old_arrays, np.load(truth))
    if args.json is not None:
        figures = {"cli": cli, "side_by_side": pair, "now": now, "baseline": before}
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if cli["exit_code"] == 0 else 1


def report(now: dict[str, Any], before: dict[str, Any] | None) -> None:
    """Print the stage table, with the baseline and ratios when measured."""
    rows = [
        ("read the table (and name measures)", "read_s", "read_s"),
        ("reshape to subjects x measures (+ rest)", "tables_and_rest_s", "tables_s"),
        ("sign-flip engine", "sign_flip_s", "sign_flip_s"),
        ("d_z interval (default: noncentral t)", "dz_interval_s", "bootstrap_s"),
    ]
    print("stages (child process; seconds):             now   baseline   ratio")
    for label, key, old in rows:
        value = f"{label:<42}{now[key]:>8.2f}"
        if before is not None:
            value += f"{before[old]:>10.2f}{before[old] / max(now[key], 1e-9):>8.1f}"
        print(value)
    print(f"{'  (bootstrap option, 2,000 resamples)':<42}{now['bootstrap_option_s']:>8.2f}")
    total = now["read_s"] + now["check_s"] + now["analyse_s"] + now["write_s"]
    print(f"{'one row per run and measure (check)':<42}{now['check_s']:>8.2f}")
    print(f"{'write results.tsv and .parquet':<42}{now['write_s']:>8.2f}")
    print(
        f"{'  (results.tsv by pandas to_csv instead)':<42}{now['to_csv_s']:>8.2f}  "
        f"same bytes: {now['same_tsv']}"
    )
    print(f"{'total up to the results and tables':<42}{total:>8.2f}")
    if before is not None:
        old_total = sum(before[k] for k in ("read_s", "tables_s", "sign_flip_s", "bootstrap_s"))
        print(f"{'baseline heavy stages (read..bootstrap)':<42}{old_total:>8.2f}")
    print(f"{'report':<42}{now['report_s']:>8.2f}  {now.get('report_error', '')}")
    print(
        f"peak RSS of the stages' process after: read {now['read_peak_mb']:.0f} MB, analyse "
        f"{now['analyse_peak_mb']:.0f} MB, write {now['write_peak_mb']:.0f} MB (after the "
        f"bootstrap option), report {now['report_peak_mb']:.0f} MB; load "
        f"{os.getloadavg()[0]:.2f}"
    )


def agree(now: dict[str, Array], before: dict[str, Array], d: Array) -> None:
    """Check that the baseline and the library agree on the same data and seed."""
    same_d = bool(np.array_equal(before["d"], d))
    same_t = float(np.max(np.abs(now["statistic"] - now["flips_statistic"])))
    same_fwer = bool(np.array_equal(before["fwer"], now["p_fwer"]))
    boot = float(np.nanmax(np.abs(now["boot_low"] - before["boot_low"])))
    print(
        f"agreement: baseline reshaping gives the true differences: {same_d}; analyse's t vs "
        f"sign_flip_test max |difference| {same_t:.2e}; FWER p equal to the baseline "
        f"engine: {same_fwer}; bootstrap option vs previous bootstrap (same seed) max "
        f"|difference| of the lower bound {boot:.2e}"
    )


if __name__ == "__main__":
    sys.exit(main())
