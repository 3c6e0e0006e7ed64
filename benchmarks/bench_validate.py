"""Benchmark ``dmnpharm validate`` on a 100-run voxel-level (fMRIPrep-layout) study.

The study: the simulator writes 2 subjects x 2 sessions of 2 mm MNI runs
(97 x 115 x 97 voxels, ``--volumes`` volumes, ``.nii.gz``) in fMRIPrep's
layout; the benchmark then builds ``--subjects`` subjects whose files are hard
links to those four runs (one physical copy, so the study costs no disk), with
their own ``participants.tsv`` and sessions files. That gives ``2 x subjects``
runs (100 by default) that every tool reads from the page cache.

Three ways to check it, timed in this process with ``time.perf_counter``:

* **dmnpharm, headers only**: ``Study.from_folder(...).validate(config)`` with
  the default analysis: every image header, the gzip trailer's size against
  the header, grids and masks, repetition times, confounds against the
  default strategy and censoring, design, lengths and filter cut-offs.
* **dmnpharm --deep**: the same plus a CRC read of every compressed image.
* **naive full read**: what a script would do to find damaged images without a
  header check: ``nibabel.load(path).get_fdata()`` of every BOLD image. It is
  timed on ``--naive-runs`` runs and scaled to the study (per-run mean x
  runs), since reading 100 images through takes minutes.

Target (issue 17): headers-only validation of 100 voxel-level runs in under
5 s. Printed: seconds of each, and the ratios naive / headers and deep /
headers.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_validate.py                 # 100 runs
    PYTHONPATH=src python benchmarks/bench_validate.py --subjects 10   # quicker
    PYTHONPATH=src python benchmarks/bench_validate.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from dmnpharm import Study
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_voxel_study

FMRIPREP = Path("derivatives") / "fmriprep"


def build_study(folder: Path, n_subjects: int, n_volumes: int) -> Path:
    """Write four simulated runs and a study of ``n_subjects`` that links to them."""
    base = load_preset("demo-crossover", seed=5)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=2),
        signal=SignalSpec(n_volumes=n_volumes),
    )
    template = write_voxel_study(simulate_study(spec), folder / "template")
    study = folder / "study"
    for path in sorted(template.rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(template)
        if not any(part.startswith("sub-") for part in relative.parts):
            (study / relative).parent.mkdir(parents=True, exist_ok=True)
            (study / relative).write_bytes(path.read_bytes())
    participants = (template / "participants.tsv").read_text().splitlines()
    rows = [participants[0]]
    for k in range(n_subjects):
        source = f"sub-{(k % 2) + 1:02d}"
        target = f"sub-{k + 1:03d}"
        row = participants[1 + k % 2].split("\t", 1)
        rows.append(f"{target}\t{row[1]}" if len(row) > 1 else target)
        for path in sorted(template.rglob(f"{source}*")):
            if path.is_dir():
                continue
            relative = Path(str(path.relative_to(template)).replace(source, target))
            (study / relative).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, study / relative)
    (study / "participants.tsv").write_text("\n".join(rows) + "\n")
    return study


def bold_images(study: Path) -> list[Path]:
    """Return the study's preprocessed BOLD images."""
    return sorted((study / FMRIPREP).rglob("*_desc-preproc_bold.nii.gz"))


def timed(function: Any) -> tuple[float, Any]:
    """Return the seconds a call took and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> int:
    """Build the study, time the three checks, print and optionally save the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=50, help="subjects (2 runs each)")
    parser.add_argument("--volumes", type=int, default=100, help="volumes per run")
    parser.add_argument("--naive-runs", type=int, default=6, help="runs read through")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the header check")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = build_study(Path(tmp), args.subjects, args.volumes)
        images = bold_images(study)
        for image in images[:4]:
            image.read_bytes()  # page cache, as for every later read
        headers = []
        problems: list[str] = []
        for _ in range(args.repeats):
            seconds, problems = timed(lambda: Study.from_folder(study).validate())
            headers.append(seconds)
        if problems:
            print("validation found problems in the benchmark study:", *problems[:5], sep="\n")
            return 1
        deep, deep_problems = timed(lambda: Study.from_folder(study).validate(deep=True))
        if deep_problems:
            print("deep validation found problems:", *deep_problems[:5], sep="\n")
            return 1
        naive = [
            timed(lambda image=image: nib.load(image).get_fdata())[0]
            for image in images[: args.naive_runs]
        ]
    header_s = float(np.median(headers))
    naive_s = float(np.mean(naive)) * len(images)
    numbers = {
        "runs": len(images),
        "volumes": args.volumes,
        "validate_headers_s": round(header_s, 3),
        "validate_deep_s": round(deep, 3),
        "naive_full_read_s_scaled": round(naive_s, 3),
        "naive_over_headers": round(naive_s / header_s, 1),
        "deep_over_headers": round(deep / header_s, 1),
        "target_headers_s": 5.0,
        "load_1min": round(os.getloadavg()[0], 2),
    }
    for key, value in numbers.items():
        print(f"{key:28s} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0 if header_s < 5.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
