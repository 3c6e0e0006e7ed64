"""Benchmark one run's metrics bundle (``dmnpharm.metrics.run_bundle``) against an earlier version.

Per run the pipeline computes the bundle twice (the configured cleaning and
its GSR twin); on the cohort benchmark's runs (150 volumes x 300 regions)
that was the largest per-run cost. This script times ``run_bundle`` with the
default :class:`~dmnpharm.metrics.BundleConfig` (region and edge rows, the
Pearson estimator computed inside the call, amplitude from unfiltered
signals) on the same data with the current code and with an earlier
checkout's, in one process, one BLAS thread (as the pipeline's workers run).

Cases: 150 volumes x 300 regions (Seitzman-300 with DMN subsystems assigned
to its DMN regions) and 300 volumes x 400 regions (a synthetic atlas with the
same networks in the same proportions), each without censoring and with 10%
of the volumes censored (``kept``, Lomb-Scargle amplitude). The signals are
network-shared AR(1) fluctuations plus region noise.

Before timing, each case's tables and records from both versions are
compared: same columns, dtypes, rows and text, values equal to 1e-12; the
largest value difference is printed. The exit status is 1 if they differ.

The earlier version is imported from ``--baseline-src`` (a ``src`` folder,
e.g. of ``git worktree add /tmp/base HEAD``) under a separate set of modules
in ``sys.modules``, so both versions live in this process. Printed per case:
median and minimum ms per call of each version and the ratio of medians
(baseline / current), and the 1-minute load average. Run from the
repository root::

    PYTHONPATH=src python benchmarks/bench_bundle.py --baseline-src /tmp/base/src
    PYTHONPATH=src python benchmarks/bench_bundle.py --repeats 50 --json out.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.metrics import run_bundle

Array = npt.NDArray[np.float64]
Bundle = Callable[..., tuple[pd.DataFrame, dict[str, Any]]]

TR = 2.0
#: DMN subsystems given in turn to the DMN regions ("" leaves a region unassigned).
SUBSYSTEM_CYCLE = ("core", "dmpfc", "mtl", "")


def with_subsystems(atlas: Atlas) -> Atlas:
    """Return ``atlas`` with its DMN regions spread over the three DMN subsystems."""
    codes, k = [], 0
    for network in atlas.networks:
        codes.append(SUBSYSTEM_CYCLE[k % 4] if network == "DMN" else "")
        k += network == "DMN"
    return replace(atlas, subsystems=tuple(codes))


def synthetic_atlas(n_regions: int) -> Atlas:
    """Return an atlas of ``n_regions`` with Seitzman-300's networks in its proportions."""
    base = load_atlas("seitzman300")
    networks = [base.networks[int(i * base.n_regions / n_regions)] for i in range(n_regions)]
    return with_subsystems(
        Atlas(
            name=f"synthetic{n_regions}",
            labels=tuple(f"R{i:04d}" for i in range(n_regions)),
            networks=tuple(networks),
            source_networks=tuple(networks),
            coords=tuple((0.0, 0.0, float(i)) for i in range(n_regions)),
            space=base.space,
            reference="synthetic, for benchmarks",
        )
    )


def signals(n_volumes: int, atlas: Atlas, seed: int) -> Array:
    """Return ``volumes x regions``: a shared AR(1) signal per network plus noise."""
    rng = np.random.default_rng(seed)
    names = sorted(set(atlas.networks))
    shared = rng.standard_normal((n_volumes, len(names)))
    for t in range(1, n_volumes):
        shared[t] += 0.6 * shared[t - 1]
    column = np.array([names.index(n) for n in atlas.networks])
    noise = rng.standard_normal((n_volumes, atlas.n_regions))
    out: Array = 0.7 * shared[:, column] + noise
    return out


def case(n_volumes: int, atlas: Atlas, censored: bool) -> dict[str, Any]:
    """Return run_bundle's arguments for one run (the kept volumes when censored)."""
    total = round(n_volumes / 0.9) if censored else n_volumes
    kept = np.ones(total, dtype=bool)
    if censored:
        rng = np.random.default_rng(3)
        kept[rng.choice(total, total - n_volumes, replace=False)] = False
    data = signals(total, atlas, seed=1)[kept]
    amplitude = signals(total, atlas, seed=2)[kept]
    return {
        "data": data,
        "atlas": atlas,
        "repetition_time": TR,
        "amplitude_data": amplitude,
        "kept": kept if censored else None,
    }


def load_baseline(src: Path) -> Bundle:
    """Import ``run_bundle`` from another ``src`` folder, beside the current modules."""
    current = {
        k: m for k, m in sys.modules.items() if k == "dmnpharm" or k.startswith("dmnpharm.")
    }
    for name in current:
        del sys.modules[name]
    sys.path.insert(0, str(src))
    try:
        module = importlib.import_module("dmnpharm.metrics._bundle")
        if not Path(str(module.__file__)).resolve().is_relative_to(src.resolve()):
            raise SystemExit(f"--baseline-src {src}: imported {module.__file__} instead")
        bundle: Bundle = module.run_bundle
    finally:
        sys.path.remove(str(src))
        for name in [k for k in sys.modules if k == "dmnpharm" or k.startswith("dmnpharm.")]:
            del sys.modules[name]
        sys.modules.update(current)
    return bundle


def compare(
    old: tuple[pd.DataFrame, dict[str, Any]], new: tuple[pd.DataFrame, dict[str, Any]]
) -> float:
    """Raise AssertionError unless the two results agree; return the largest value difference."""
    pd.testing.assert_frame_equal(new[0], old[0], check_exact=False, rtol=0, atol=1e-12)
    assert new[1] == old[1], (new[1], old[1])
    a, b = new[0]["value"].to_numpy(), old[0]["value"].to_numpy()
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    """Return the milliseconds of ``repeats`` calls (after one untimed call)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    """Compare the versions on each case, then time them interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="an earlier checkout's src folder")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per version")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    versions: dict[str, Bundle] = {"current": run_bundle}
    if args.baseline_src is not None:
        versions["baseline"] = load_baseline(args.baseline_src)
    cases = {
        (150, 300): with_subsystems(load_atlas("seitzman300")),
        (300, 400): synthetic_atlas(400),
    }
    results, status = [], 0
    print(f"load average {os.getloadavg()[0]:.2f}; one BLAS thread; {args.repeats} calls each")
    with threadpool_limits(1, "blas"):
        for (n_volumes, _), atlas in cases.items():
            for censored in (False, True):
                kwargs = case(n_volumes, atlas, censored)
                label = f"{n_volumes} x {atlas.n_regions}{' censored' if censored else ''}"
                row: dict[str, Any] = {"case": label}
                if "baseline" in versions:
                    try:
                        row["max_abs_diff"] = compare(
                            versions["baseline"](**kwargs), run_bundle(**kwargs)
                        )
                    except AssertionError as exc:
                        print(f"{label}: results differ: {exc}")
                        status = 1
                times: dict[str, list[float]] = {name: [] for name in versions}
                for _ in range(2):  # interleave the versions to share the machine's moods
                    for name, bundle in versions.items():
                        times[name] += timed(lambda b=bundle, k=kwargs: b(**k), args.repeats // 2)
                for name, values in times.items():
                    row[f"{name}_median_ms"] = float(np.median(values))
                    row[f"{name}_min_ms"] = float(np.min(values))
                line = f"{label:22s}"
                for name in versions:
                    line += (
                        f" {name} {row[f'{name}_median_ms']:6.1f} ms"
                        f" (min {row[f'{name}_min_ms']:5.1f})"
                    )
                if "baseline" in versions:
                    row["ratio"] = row["baseline_median_ms"] / row["current_median_ms"]
                    diff = row.get("max_abs_diff", float("nan"))
                    line += f"  ratio {row['ratio']:.2f}x  max |diff| {diff:.1e}"
                print(line)
                results.append(row)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"load_average": load, "cases": results}, indent=2))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
