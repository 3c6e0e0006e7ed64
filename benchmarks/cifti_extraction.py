"""Benchmark parcel extraction from CIFTI-2: extract_cifti_timeseries vs nibabel + numpy.

Writes a synthetic fsLR 91k-sized dense time series (91,282 grayordinates:
29,696 + 29,716 surface vertices and 31,870 subcortical voxels; 1,200 volumes
of float32 by default, the HCP run length) and a dlabel dividing every
grayordinate among 400 parcels (``dmnpharm.simulate`` helpers; each parcel's
grayordinates are scattered along the axis). Then it times, side by side:

* **dmnpharm**: ``extract_cifti_timeseries(dtseries, atlas)``, which reads the
  file in contiguous blocks of grayordinates;
* **reference**: what a user writes with nibabel and numpy:
  ``nib.load(dtseries).get_fdata()``, then a loop over the label keys taking
  ``data[:, labels == key].mean(axis=1)``.

Both sides have the atlas in hand before the timing, as in a study where one
atlas serves every run: dmnpharm the ``dlabel_atlas(...)`` object (whose
dlabel stays cached while the file is unchanged), the reference the dlabel's
first map (``nib.load(dlabel).dataobj[0]``).

Each measurement runs in a fresh child process after its imports, with the
file in the page cache. Peak resident memory is ``VmHWM`` reset after the
imports (as in ``bench_extract.py``); a second child measures the peak memory
traced by ``tracemalloc`` during the call. The results must agree to 1e-6
(largest absolute difference); the exit status is 1 when they do not. Prints
a Markdown table with the ratios reference / dmnpharm.

Run from the repository root::

    PYTHONPATH=src python benchmarks/cifti_extraction.py                 # 1,200 volumes
    PYTHONPATH=src python benchmarks/cifti_extraction.py --volumes 300   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_extract import (  # the benchmarks folder is not a package
    MIB,
    _peak_rss,
    _reset_peak_rss,
    _status,
    warm_page_cache,
)

from dmnpharm.atlases import dlabel_atlas
from dmnpharm.extract import extract_cifti_timeseries
from dmnpharm.io import write_dlabel
from dmnpharm.simulate import (
    fslr_brain_models,
    synthetic_parcellation,
    write_dtseries,
)

TR = 0.72
#: Networks given to the parcels in turn (the benchmark does not use them).
NETWORKS = ("VIS", "SMN", "DAN", "VAN", "LIM", "FPN", "DMN")
TOLERANCE = 1e-6


def make_data(folder: Path, n_volumes: int, n_parcels: int, seed: int) -> dict[str, Path]:
    """Write the dlabel, its table and the dense time series; return their paths."""
    models = fslr_brain_models()
    keys = synthetic_parcellation(models, n_parcels, seed=seed)
    names = {k: f"parcel_{k:03d}" for k in range(1, n_parcels + 1)}
    dlabel = write_dlabel(folder / "atlas-synth_dseg.dlabel.nii", models, keys, names)
    table = folder / "atlas-synth_dseg.tsv"
    pd.DataFrame(
        {
            "index": list(names),
            "name": list(names.values()),
            "network": [NETWORKS[k % len(NETWORKS)] for k in names],
        }
    ).to_csv(table, sep="\t", index=False)
    rng = np.random.default_rng(seed)
    dtseries = write_dtseries(
        folder / "sub-01_task-rest_space-fsLR_den-91k_bold.dtseries.nii",
        models,
        keys,
        rng.standard_normal((n_volumes, n_parcels)),
        rng.standard_normal(n_volumes),
        rng,
        noise_sd=1.0,
        repetition_time=TR,
    )
    return {"dlabel": dlabel, "table": table, "dtseries": dtseries}


def reference(dtseries: str, labels: np.ndarray, keys: list[int]) -> np.ndarray:
    """Parcel means as a nibabel + numpy user computes them (the whole run in memory)."""
    data = nib.load(dtseries).get_fdata()
    return np.column_stack([data[:, labels == key].mean(axis=1) for key in keys])


def child(argv: list[str]) -> None:
    """Run one measurement and print it as JSON (called in a fresh process)."""
    tool, dtseries, dlabel, table, out, trace = argv
    atlas = dlabel_atlas("synth", dlabel, table)
    labels = np.asarray(nib.load(dlabel).dataobj[0]) if tool == "reference" else None
    if not _reset_peak_rss():
        print("cannot reset the peak RSS; it may include the parent's", file=sys.stderr)
    before = _status("VmRSS") or 0
    if trace == "1":
        tracemalloc.start()
    began = time.perf_counter()
    if tool == "dmnpharm":
        series = extract_cifti_timeseries(dtseries, atlas).timeseries
    else:
        assert labels is not None
        series = reference(dtseries, labels, list(atlas.label_values))
    seconds = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1] if trace == "1" else None
    peak = _peak_rss()
    np.save(out, np.asarray(series, dtype=np.float64))
    print(
        json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": peak, "traced": traced})
    )


def measure(tool: str, paths: dict[str, Path], trace: bool) -> dict[str, Any]:
    """Run one tool in a child process; return its numbers and output."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "series.npy"
        args = [tool, str(paths["dtseries"]), str(paths["dlabel"]), str(paths["table"])]
        proc = subprocess.run(
            [sys.executable, __file__, "--child", *args, str(out), str(int(trace))],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed:\n{proc.stderr}")
        numbers: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        numbers["series"] = np.load(out)
    return numbers


def table_rows(result: dict[str, Any]) -> list[str]:
    """Return the Markdown table of one benchmark run."""
    secs, rss, added, traced = (result[k] for k in ("seconds", "rss", "added", "traced"))

    def ratio(values: dict[str, float]) -> str:
        return f"**{values['reference'] / values['dmnpharm']:.1f}**"

    lines = [
        "| measure | dmnpharm | reference (nibabel + numpy) | ratio reference / dmnpharm |",
        "|---|---|---|---|",
        f"| wall time | {secs['dmnpharm']:.2f} s | {secs['reference']:.2f} s | {ratio(secs)} |",
        f"| peak RSS (whole process) | {rss['dmnpharm']:,.0f} MiB | "
        f"{rss['reference']:,.0f} MiB | {ratio(rss)} |",
        f"| RSS added by the call | {added['dmnpharm']:,.0f} MiB | "
        f"{added['reference']:,.0f} MiB | {ratio(added)} |",
    ]
    if traced:
        lines.append(
            f"| tracemalloc peak | {traced['dmnpharm']:,.1f} MiB | "
            f"{traced['reference']:,.1f} MiB | {ratio(traced)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 if the results disagree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=1200)
    parser.add_argument("--parcels", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per tool (median)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced runs")
    parser.add_argument("--folder", type=Path, help="keep the data here (default: temporary)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        paths = make_data(folder, args.volumes, args.parcels, args.seed)
        warm_page_cache([paths["dtseries"]])
        size = paths["dtseries"].stat().st_size / MIB
        print(
            f"data: 91,282 grayordinates x {args.volumes} volumes float32 ({size:,.0f} MiB), "
            f"{args.parcels} parcels; written in {time.perf_counter() - began:.1f} s; "
            f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs"
        )
        runs: dict[str, list[dict[str, Any]]] = {"dmnpharm": [], "reference": []}
        for _ in range(args.repeats):  # interleaved
            for tool in runs:
                runs[tool].append(measure(tool, paths, trace=False))
        traced = {}
        if not args.no_tracemalloc:
            traced = {t: measure(t, paths, trace=True)["traced"] / MIB for t in runs}
        diff = float(np.abs(runs["dmnpharm"][0]["series"] - runs["reference"][0]["series"]).max())
        result = {
            "seconds": {t: float(np.median([r["seconds"] for r in runs[t]])) for t in runs},
            "rss": {t: max(r["rss_peak"] for r in runs[t]) / MIB for t in runs},
            "added": {
                t: max(r["rss_peak"] - r["rss_before"] for r in runs[t]) / MIB for t in runs
            },
            "traced": traced,
            "max_abs_diff": diff,
            "file_mib": size,
        }
        print("\n".join(table_rows(result)))
        ok = diff <= TOLERANCE
        print(f"\nagreement: largest |difference| {diff:.2e} ({'OK' if ok else 'FAILED'} at 1e-6)")
        if args.json:
            arguments = vars(args) | {"json": str(args.json), "folder": str(args.folder)}
            args.json.write_text(json.dumps({"args": arguments, "result": result}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.exit(main())
