"""Benchmark region time-series extraction: dmnpharm.extract vs nilearn's maskers.

Writes a simulated 2 mm MNI run (97 x 115 x 97 voxels, 300 volumes by default,
``dmnpharm.simulate.write_bold_run``) as ``.nii.gz`` and ``.nii`` with the same
values, and a labels image made from the same Seitzman-300 5 mm spheres
(``region_label_volume``; where spheres overlap the nearest centre wins). Then,
for each file, it times

* ``extract_timeseries`` with the Seitzman-300 coordinates (5 mm spheres)
  against ``NiftiSpheresMasker(radius=5, allow_overlap=True, standardize=None)``;
* ``extract_timeseries`` with the labels image against
  ``NiftiLabelsMasker(standardize=None, strategy="mean")``.

Each measurement runs in a fresh child process. Its peak resident memory
(``VmHWM``, imports included) is reset after the imports through
``/proc/self/clear_refs`` (Linux keeps a parent's high-water mark in its
children); the memory added by the call is that peak minus the resident
memory just before the call. A second child measures the peak memory traced
by ``tracemalloc`` during the call. The files are read once before timing, so
every tool reads them from the page cache. Prints the seconds, the ratio
nilearn / dmnpharm, the peak memory and the agreement (largest absolute
difference, smallest correlation over regions).

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_extract.py                # 300 volumes
    PYTHONPATH=src python benchmarks/bench_extract.py --volumes 60   # quicker
    PYTHONPATH=src python benchmarks/bench_extract.py --json out.json
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
import tracemalloc
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.extract import extract_timeseries
from dmnpharm.simulate import (
    MNI_RES2_AFFINE,
    brain_mask,
    region_label_volume,
    write_bold_run,
    write_mask,
)

RADIUS = 5.0
TR = 2.0
MIB = 1024.0 * 1024.0


def _labels_atlas(image: Path) -> Atlas:
    seitzman = load_atlas("seitzman300")
    return Atlas(
        name="seitzman300-labels",
        labels=seitzman.labels,
        networks=seitzman.networks,
        source_networks=seitzman.source_networks,
        coords=seitzman.coords,
        space=seitzman.space,
        reference=seitzman.reference,
        image=str(image),
        label_values=tuple(range(1, seitzman.n_regions + 1)),
    )


def make_data(folder: Path, n_volumes: int, dtype: str, seed: int) -> dict[str, Path]:
    """Write the run (.nii.gz and .nii, same values), its brain mask and a labels image."""
    atlas = load_atlas("seitzman300")
    inside = brain_mask()
    labels = region_label_volume(atlas, RADIUS, inside)
    paths: dict[str, Path] = {}
    for suffix in (".nii.gz", ".nii"):
        rng = np.random.default_rng(seed)  # the same draws for both files
        signals = rng.standard_normal((n_volumes, atlas.n_regions))
        paths[suffix] = write_bold_run(
            folder / f"sub-01_task-rest_desc-preproc_bold{suffix}",
            signals,
            rng.standard_normal(n_volumes),
            labels,
            inside,
            rng,
            voxel_noise_sd=1.0,
            repetition_time=TR,
            dtype=dtype,  # type: ignore[arg-type]
        )
    paths["mask"] = write_mask(folder / "sub-01_desc-brain_mask.nii.gz", inside)
    image = nib.Nifti1Image(labels.astype(np.int16), np.array(MNI_RES2_AFFINE))
    image.set_qform(np.array(MNI_RES2_AFFINE), code=4)
    image.set_sform(np.array(MNI_RES2_AFFINE), code=4)
    paths["labels"] = folder / "seitzman300_5mm_labels.nii.gz"
    nib.save(image, paths["labels"])
    return paths


def _run_tool(tool: str, atlas_kind: str, bold: str, labels: str, mask: str | None) -> Any:
    if tool == "dmnpharm":
        atlas = load_atlas("seitzman300") if atlas_kind == "spheres" else _labels_atlas(labels)
        return extract_timeseries(bold, atlas, mask=mask, radius_mm=RADIUS).timeseries
    from nilearn.maskers import NiftiLabelsMasker, NiftiSpheresMasker

    if atlas_kind == "spheres":
        masker: Any = NiftiSpheresMasker(
            load_atlas("seitzman300").coords,
            radius=RADIUS,
            allow_overlap=True,
            standardize=None,
            mask_img=mask,
        )
    else:
        masker = NiftiLabelsMasker(labels, mask_img=mask, standardize=None, strategy="mean")
    return masker.fit_transform(bold)


def _status(field: str) -> int | None:
    """Return a memory field of /proc/self/status in bytes (Linux), or None."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


def _reset_peak_rss() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux >= 4.0).

    A child's ``ru_maxrss`` starts at its parent's peak (Linux keeps the
    high-water mark across fork and exec), so without a reset it would report
    the parent's memory.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    hwm = _status("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(argv: list[str]) -> None:
    """Run one measurement and print it as JSON (called in a fresh process)."""
    tool, atlas_kind, bold, labels, mask, out, trace = argv
    import warnings

    warnings.simplefilter("ignore")  # nilearn's notices are not under test
    if tool == "nilearn":  # import cost outside the timing
        import nilearn.maskers  # noqa: F401  (imported for its cost only)

    load_atlas("seitzman300")
    if not _reset_peak_rss():
        print("cannot reset the peak RSS; it may include the parent's", file=sys.stderr)
    before = _status("VmRSS") or 0
    if trace == "1":
        tracemalloc.start()
    began = time.perf_counter()
    series = _run_tool(tool, atlas_kind, bold, labels, mask or None)
    seconds = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1] if trace == "1" else None
    peak = _peak_rss()
    np.save(out, np.asarray(series, dtype=np.float64))
    print(
        json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": peak, "traced": traced})
    )


def measure(
    tool: str, atlas_kind: str, bold: Path, paths: dict[str, Path], use_mask: bool, trace: bool
) -> dict[str, Any]:
    """Run one tool on one file in a child process; return its numbers and output."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "series.npy"
        mask = str(paths["mask"]) if use_mask else ""
        args = [tool, atlas_kind, str(bold), str(paths["labels"]), mask, str(out), str(int(trace))]
        proc = subprocess.run(
            [sys.executable, __file__, "--child", *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {atlas_kind} {bold.name} failed:\n{proc.stderr}")
        numbers: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        numbers["series"] = np.load(out)
    return numbers


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Largest absolute and relative difference, and smallest per-region correlation.

    nilearn averages float32 images in float32, so its means of values near
    1,000 carry rounding errors of a few 1e-4; the relative difference shows
    that scale.
    """
    diff = float(np.abs(a - b).max())
    relative = diff / float(np.abs(b).max())
    corr = min(float(np.corrcoef(a[:, r], b[:, r])[0, 1]) for r in range(a.shape[1]))
    return diff, relative, corr


def warm_page_cache(paths: list[Path]) -> None:
    """Read files once so that every tool then reads them from the page cache alike."""
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(16 << 20):
                pass


def write_json(path: Path, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """Write the arguments and the measured rows as JSON."""
    arguments = vars(args) | {"json": str(path), "folder": str(args.folder)}
    path.write_text(json.dumps({"args": arguments, "rows": rows}, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 if an agreement check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=300)
    parser.add_argument("--dtype", choices=("float32", "int16"), default="float32")
    parser.add_argument("--mask", action="store_true", help="give both tools the brain mask")
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
        paths = make_data(folder, args.volumes, args.dtype, args.seed)
        warm_page_cache([paths[".nii.gz"], paths[".nii"]])
        image_bytes = args.volumes * 97 * 115 * 97 * 4
        print(
            f"data: {args.volumes} volumes, 97x115x97, {args.dtype}; .nii.gz "
            f"{paths['.nii.gz'].stat().st_size / MIB:.0f} MiB, .nii "
            f"{paths['.nii'].stat().st_size / MIB:.0f} MiB; written in "
            f"{time.perf_counter() - began:.1f} s; mask: {args.mask}; "
            f"load average {os.getloadavg()[0]:.2f}; float32 image {image_bytes / MIB:.0f} MiB"
        )
        rows: list[dict[str, Any]] = []
        failed = False
        for suffix in (".nii.gz", ".nii"):
            for atlas_kind in ("spheres", "labels"):
                runs: dict[str, list[dict[str, Any]]] = {"dmnpharm": [], "nilearn": []}
                for _ in range(args.repeats):  # interleaved
                    for tool in runs:
                        runs[tool].append(
                            measure(tool, atlas_kind, paths[suffix], paths, args.mask, False)
                        )
                traced = {}
                if not args.no_tracemalloc:
                    for tool in runs:
                        m = measure(tool, atlas_kind, paths[suffix], paths, args.mask, True)
                        traced[tool] = m["traced"]
                secs = {t: float(np.median([r["seconds"] for r in runs[t]])) for t in runs}
                rss = {t: max(r["rss_peak"] for r in runs[t]) for t in runs}
                added = {t: max(r["rss_peak"] - r["rss_before"] for r in runs[t]) for t in runs}
                diff, relative, corr = agreement(
                    runs["dmnpharm"][0]["series"], runs["nilearn"][0]["series"]
                )
                ok = relative <= 1e-5 and corr >= 0.9999
                failed |= not ok
                row = {
                    "file": suffix,
                    "atlas": atlas_kind,
                    "seconds": secs,
                    "ratio_nilearn_over_dmnpharm": secs["nilearn"] / secs["dmnpharm"],
                    "peak_rss_mib": {t: rss[t] / MIB for t in runs},
                    "rss_added_by_call_mib": {t: added[t] / MIB for t in runs},
                    "tracemalloc_peak_mib": {t: v / MIB for t, v in traced.items()},
                    "peak_rss_over_float32_image": rss["dmnpharm"] / image_bytes,
                    "max_abs_diff": diff,
                    "max_rel_diff": relative,
                    "min_correlation": corr,
                }
                rows.append(row)
                traced_text = ", ".join(f"{t} {v / MIB:.0f} MiB" for t, v in traced.items())
                print(
                    f"{suffix:7s} {atlas_kind:7s}  dmnpharm {secs['dmnpharm']:6.2f} s  "
                    f"nilearn {secs['nilearn']:6.2f} s  "
                    f"ratio {row['ratio_nilearn_over_dmnpharm']:5.1f}"
                    f"  | peak RSS dmnpharm {rss['dmnpharm'] / MIB:.0f} MiB "
                    f"(+{added['dmnpharm'] / MIB:.0f} in the call), nilearn "
                    f"{rss['nilearn'] / MIB:.0f} MiB (+{added['nilearn'] / MIB:.0f})"
                    f"  | traced peak: {traced_text or 'skipped'}"
                    f"  | max |diff| {diff:.1e} ({relative:.0e} relative), min r {corr:.6f}"
                    f"{'' if ok else '  FAILED'}"
                )
        if args.json:
            write_json(args.json, args, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.exit(main())
