"""Benchmark voxel-level maps: dmnpharm.extract.extract_with_maps vs nilearn's maskers.

Uses the simulated 2 mm MNI run of ``bench_extract.py`` (97 x 115 x 97 voxels,
300 volumes by default, written as ``.nii.gz`` and ``.nii`` with the same
values, and its brain mask) and adds a confounds table with the 6 motion
columns (``trans_*``, ``rot_*``: small random walks, independent of the data)
and ``framewise_displacement``. Both tools then produce, from the same run,
with the same cleaning (6 motion regressors, standardised; linear detrend;
0.01-0.08 Hz zero-phase Butterworth; no censoring):

* the raw Seitzman-300 region time series (5 mm spheres);
* Fisher z seed correlation maps for the PCC and aMPFC seeds (8 mm spheres,
  :func:`dmnpharm.extract.dmn_seeds`) on the band-passed voxels;
* ALFF, fALFF and their z-scores over the mask, computed by
  :func:`dmnpharm.signal.low_frequency_amplitude` on voxels cleaned the same
  way but without the band-pass filter.

dmnpharm: one call, ``extract_with_maps(bold, load_atlas("seitzman300"), mask,
confounds, DenoiseConfig("6p", high_pass=0.01, low_pass=0.08),
repetition_time=2.0)``, which reads the image once.

nilearn (what a user writes to get the same outputs): a
``NiftiSpheresMasker(radius=5, allow_overlap=True, mask_img=mask,
standardize=None)`` for the regions; a ``NiftiMasker(mask_img=mask,
standardize=None, detrend=True, high_pass=0.01, low_pass=0.08, t_r=2)`` given
the motion columns as confounds (``standardize_confounds=True``) for the
band-passed voxels; a ``NiftiSpheresMasker`` with the same cleaning for the two
seeds; the seed correlation in numpy; a second ``NiftiMasker`` without the
band-pass for the voxels of the amplitude maps; every map unmasked to 3D with
``inverse_transform``. Each masker is given the file, so the image is read
four times. Correlations and amplitudes are computed in blocks of 8,192
voxels, as dmnpharm does, so that only the reading, cleaning and correlating
differ.

Memory and time are measured as in ``bench_extract.py``: one fresh child
process per measurement, peak resident memory (``VmHWM``) reset after the
imports, and optionally the ``tracemalloc`` peak in a separate child. Prints
the seconds, the ratio nilearn / dmnpharm, the peak memory (also as a
multiple of the uncompressed float32 image, grid voxels x volumes x 4 bytes)
and the agreement of every map over the mask's voxels (largest absolute
difference, correlation) and of the region series.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_voxel_maps.py                # 300 volumes
    PYTHONPATH=src python benchmarks/bench_voxel_maps.py --volumes 100  # quicker
    PYTHONPATH=src python benchmarks/bench_voxel_maps.py --files .nii --json out.json
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
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_extract import (  # the benchmarks folder is not a package
    MIB,
    RADIUS,
    TR,
    _peak_rss,
    _reset_peak_rss,
    _status,
    make_data,
    warm_page_cache,
    write_json,
)

from dmnpharm.atlases import load_atlas
from dmnpharm.extract import dmn_seeds, extract_with_maps
from dmnpharm.signal import DenoiseConfig, low_frequency_amplitude

MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
HIGH_PASS, LOW_PASS = 0.01, 0.08
SEED_RADIUS = 8.0
BLOCK = 8192
GRID_VOXELS = 97 * 115 * 97
MAPS = ("seedPCC", "seedaMPFC", "alff", "falff", "zalff", "zfalff")

Array = npt.NDArray[np.float64]


def make_confounds(n_volumes: int, seed: int) -> pd.DataFrame:
    """Return an fMRIPrep-style table: 6 motion random walks and framewise displacement.

    Translations in mm, rotations in radians; FD is Power et al. (2012)'s sum of
    absolute differences with rotations on a 50 mm sphere (n/a for the first volume).
    Steps are small, so no volume would pass a usual FD threshold (none is set).
    """
    rng = np.random.default_rng(seed + 1)
    steps = rng.normal(0.0, [0.02, 0.02, 0.03, 0.0003, 0.0003, 0.0003], (n_volumes, 6))
    motion = np.cumsum(steps, axis=0)
    table = pd.DataFrame(motion, columns=list(MOTION))
    change = np.abs(np.diff(motion, axis=0))
    fd = change[:, :3].sum(axis=1) + 50.0 * change[:, 3:].sum(axis=1)
    table["framewise_displacement"] = np.concatenate([[np.nan], fd])
    return table


def _standardise(values: Array) -> Array:
    centred = values - values.mean(axis=0)
    scaled: Array = centred / np.sqrt(np.einsum("ij,ij->j", centred, centred))
    return scaled


def _zscore(values: Array) -> Array:
    finite = np.isfinite(values)
    scored: Array = (values - values[finite].mean()) / values[finite].std(ddof=1)
    return scored


def _dmnpharm(bold: str, mask: str, confounds: pd.DataFrame) -> tuple[Array, dict[str, Any]]:
    config = DenoiseConfig("6p", high_pass=HIGH_PASS, low_pass=LOW_PASS)
    extraction, maps = extract_with_maps(
        bold, load_atlas("seitzman300"), mask, confounds, config, repetition_time=TR
    )
    assert maps is not None
    return extraction.timeseries, maps.maps


def _nilearn(bold: str, mask: str, confounds: pd.DataFrame) -> tuple[Array, dict[str, Any]]:
    from nilearn.maskers import NiftiMasker, NiftiSpheresMasker

    motion = confounds[list(MOTION)].to_numpy()
    regions = NiftiSpheresMasker(
        load_atlas("seitzman300").coords,
        radius=RADIUS,
        allow_overlap=True,
        mask_img=mask,
        standardize=None,
    ).fit_transform(bold)
    cleaning: dict[str, Any] = {
        "standardize": None,
        "standardize_confounds": True,
        "detrend": True,
        "t_r": TR,
    }
    band = {"high_pass": HIGH_PASS, "low_pass": LOW_PASS}
    seeds = dmn_seeds()
    seed_series = NiftiSpheresMasker(
        seeds.coords, radius=SEED_RADIUS, mask_img=mask, **cleaning, **band
    ).fit_transform(bold, confounds=motion)
    seed_unit = _standardise(np.asarray(seed_series, dtype=np.float64))

    masker = NiftiMasker(mask_img=mask, **cleaning, **band)
    voxels = masker.fit_transform(bold, confounds=motion)
    n_voxels = voxels.shape[1]
    correlations = np.empty((n_voxels, seeds.n_regions))
    for start in range(0, n_voxels, BLOCK):
        block = np.asarray(voxels[:, start : start + BLOCK], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            correlations[start : start + block.shape[1]] = _standardise(block).T @ seed_unit
    del voxels

    broad = NiftiMasker(mask_img=mask, **cleaning).fit_transform(bold, confounds=motion)
    alff, falff = np.empty(n_voxels), np.empty(n_voxels)
    for start in range(0, n_voxels, BLOCK):
        block = np.asarray(broad[:, start : start + BLOCK], dtype=np.float64)
        amplitude = low_frequency_amplitude(block, TR)
        alff[start : start + block.shape[1]] = amplitude.alff
        falff[start : start + block.shape[1]] = amplitude.falff
    del broad

    z = np.arctanh(np.clip(correlations, -1.0 + 1e-7, 1.0 - 1e-7))
    values = {
        "seedPCC": z[:, 0],
        "seedaMPFC": z[:, 1],
        "alff": alff,
        "falff": falff,
        "zalff": _zscore(alff),
        "zfalff": _zscore(falff),
    }
    maps = {
        name: masker.inverse_transform(value.astype(np.float32)).get_fdata(dtype=np.float32)
        for name, value in values.items()
    }
    return np.asarray(regions, dtype=np.float64), maps


def child(argv: list[str]) -> None:
    """Run one measurement and print it as JSON (called in a fresh process)."""
    tool, bold, mask, confounds_path, out, trace = argv
    import warnings

    warnings.simplefilter("ignore")  # nilearn's notices are not under test
    if tool == "nilearn":  # import cost outside the timing
        import nilearn.maskers  # noqa: F401  (imported for its cost only)

    confounds = pd.read_csv(confounds_path, sep="\t")
    load_atlas("seitzman300")
    if not _reset_peak_rss():
        print("cannot reset the peak RSS; it may include the parent's", file=sys.stderr)
    before = _status("VmRSS") or 0
    if trace == "1":
        tracemalloc.start()
    began = time.perf_counter()
    run = _dmnpharm if tool == "dmnpharm" else _nilearn
    regions, maps = run(bold, mask, confounds)
    seconds = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1] if trace == "1" else None
    peak = _peak_rss()
    if trace == "1":
        tracemalloc.stop()
    else:
        np.savez(out, regions=np.asarray(regions, dtype=np.float64), **maps)
    print(
        json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": peak, "traced": traced})
    )


def measure(tool: str, bold: Path, paths: dict[str, Path], trace: bool) -> dict[str, Any]:
    """Run one tool on one file in a child process; return its numbers (and outputs)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "maps.npz"
        args = [tool, str(bold), str(paths["mask"]), str(paths["confounds"]), str(out)]
        proc = subprocess.run(
            [sys.executable, __file__, "--child", *args, str(int(trace))],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {bold.name} failed:\n{proc.stderr}")
        numbers: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not trace:
            with np.load(out) as saved:
                numbers["outputs"] = {key: saved[key] for key in saved.files}
    return numbers


def agreement(
    ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], inside: npt.NDArray[np.bool_]
) -> dict[str, dict[str, float]]:
    """Largest absolute difference and correlation of each map over the mask's voxels.

    For the region series: the largest absolute and relative difference and the
    smallest per-region correlation.
    """
    result = {}
    for name in MAPS:
        a = ours[name][inside].astype(np.float64)
        b = theirs[name][inside].astype(np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        result[name] = {
            "max_abs_diff": float(np.abs(a[both] - b[both]).max()),
            "max_abs_value": float(np.abs(b[both]).max()),
            "correlation": float(np.corrcoef(a[both], b[both])[0, 1]),
            "nonfinite": int((~both).sum()),
        }
    a, b = ours["regions"], theirs["regions"]
    diff = float(np.abs(a - b).max())
    result["regions"] = {
        "max_abs_diff": diff,
        "max_abs_value": float(np.abs(b).max()),
        "correlation": min(float(np.corrcoef(a[:, r], b[:, r])[0, 1]) for r in range(a.shape[1])),
        "nonfinite": 0,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 if an agreement check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=300)
    parser.add_argument(
        "--files", nargs="+", choices=(".nii.gz", ".nii"), default=[".nii.gz", ".nii"]
    )
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
        paths = make_data(folder, args.volumes, "float32", args.seed)
        paths["confounds"] = folder / "sub-01_task-rest_desc-confounds_timeseries.tsv"
        make_confounds(args.volumes, args.seed).to_csv(
            paths["confounds"], sep="\t", index=False, na_rep="n/a"
        )
        warm_page_cache([paths[suffix] for suffix in args.files])
        inside = np.asarray(nib.load(paths["mask"]).dataobj) > 0  # type: ignore[attr-defined]
        image_bytes = args.volumes * GRID_VOXELS * 4
        print(
            f"data: {args.volumes} volumes, 97x115x97 float32, {int(inside.sum())} in-mask "
            f"voxels; .nii.gz {paths['.nii.gz'].stat().st_size / MIB:.0f} MiB, .nii "
            f"{paths['.nii'].stat().st_size / MIB:.0f} MiB; written in "
            f"{time.perf_counter() - began:.1f} s; load average {os.getloadavg()[0]:.2f}; "
            f"float32 image {image_bytes / MIB:.0f} MiB"
        )
        rows: list[dict[str, Any]] = []
        failed = False
        for suffix in args.files:
            runs: dict[str, list[dict[str, Any]]] = {"dmnpharm": [], "nilearn": []}
            for _ in range(args.repeats):  # interleaved
                for tool in runs:
                    runs[tool].append(measure(tool, paths[suffix], paths, False))
            traced = {}
            if not args.no_tracemalloc:
                for tool in runs:
                    traced[tool] = measure(tool, paths[suffix], paths, True)["traced"]
            secs = {t: float(np.median([r["seconds"] for r in runs[t]])) for t in runs}
            rss = {t: max(r["rss_peak"] for r in runs[t]) for t in runs}
            added = {t: max(r["rss_peak"] - r["rss_before"] for r in runs[t]) for t in runs}
            agree = agreement(
                runs["dmnpharm"][0]["outputs"], runs["nilearn"][0]["outputs"], inside
            )
            ok = all(a["correlation"] >= 0.9999 for a in agree.values())
            failed |= not ok
            row = {
                "file": suffix,
                "load_average": os.getloadavg()[0],
                "seconds": secs,
                "ratio_nilearn_over_dmnpharm": secs["nilearn"] / secs["dmnpharm"],
                "peak_rss_mib": {t: rss[t] / MIB for t in runs},
                "rss_added_by_call_mib": {t: added[t] / MIB for t in runs},
                "peak_rss_over_float32_image": {t: rss[t] / image_bytes for t in runs},
                "tracemalloc_peak_mib": {t: v / MIB for t, v in traced.items()},
                "agreement": agree,
            }
            rows.append(row)
            traced_text = ", ".join(f"{t} {v / MIB:.0f} MiB" for t, v in traced.items())
            print(
                f"{suffix:7s}  dmnpharm {secs['dmnpharm']:6.2f} s  nilearn "
                f"{secs['nilearn']:6.2f} s  ratio {row['ratio_nilearn_over_dmnpharm']:5.1f}"
                f"  | peak RSS dmnpharm {rss['dmnpharm'] / MIB:.0f} MiB "
                f"({rss['dmnpharm'] / image_bytes:.2f}x image, +{added['dmnpharm'] / MIB:.0f}"
                f" in the call), nilearn {rss['nilearn'] / MIB:.0f} MiB "
                f"({rss['nilearn'] / image_bytes:.2f}x, +{added['nilearn'] / MIB:.0f})"
                f"  | traced peak: {traced_text or 'skipped'}"
                f"  | load {row['load_average']:.2f}{'' if ok else '  FAILED'}"
            )
            for name, a in agree.items():
                print(
                    f"    {name:10s} max |diff| {a['max_abs_diff']:.2e} (values up to "
                    f"{a['max_abs_value']:.3g}), r {a['correlation']:.8f}"
                    + (f", {a['nonfinite']} non-finite" if a["nonfinite"] else "")
                )
        if args.json:
            write_json(args.json, args, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.exit(main())
