"""Benchmark dmnpharm's BIDS discovery against a pybids index of the same fMRIPrep tree.

The tree: ``--subjects`` subjects (2,000 by default) x 1 session x 1 run, in
fMRIPrep's layout, with ``participants.tsv`` and a sessions file per subject.
Each run has a tiny valid 4D image (2 x 2 x 2 x 10 voxels, ``.nii.gz``), its
JSON sidecar (``RepetitionTime``), a brain mask, and a confounds TSV of 10
rows with its JSON. Images and masks are hard links to one file each, so the
tree costs little disk; the other files are written per run.

Two ways to find the preprocessed BOLD runs, timed in this process with
``time.perf_counter``, alternating, ``--repeats`` times each (medians):

* **dmnpharm**: ``dmnpharm.io.discover_study(root, res="2")``: lists the
  func folders, parses the names, and validates every run: image header and
  gzip trailer, mask grid, sidecar repetition time, confounds rows against
  volumes, the design from ``participants.tsv`` and the sessions files.
* **pybids**: ``bids.BIDSLayout(root, validate=False, derivatives=<fmriprep>)``
  (a fresh index each time, in memory, JSON sidecars indexed as pybids does by
  default), then ``layout.get(suffix="bold", desc="preproc", space=...,
  extension=".nii.gz")``. It indexes names and metadata only: it reads no image
  header or confounds table.

Both must find the same number of BOLD files (exit status 1 otherwise).
Printed: seconds of each, the ratio pybids / dmnpharm, and the load average.
pybids is not a dependency of dmnpharm; install the ``bench`` extra
(``pip install -e .[bench]``) to run this.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bids_index.py                  # 2,000 subjects
    PYTHONPATH=src python benchmarks/bids_index.py --subjects 200   # quicker
    PYTHONPATH=src python benchmarks/bids_index.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from dmnpharm.io import discover_study

SPACE = "MNI152NLin2009cAsym"
N_VOLUMES = 10


def _description(path: Path, derivative: bool) -> None:
    content: dict[str, Any] = {"Name": "bids_index benchmark", "BIDSVersion": "1.9.0"}
    if derivative:
        content |= {"DatasetType": "derivative", "GeneratedBy": [{"Name": "fMRIPrep"}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


def build_tree(root: Path, n_subjects: int) -> Path:
    """Write the raw tables and the fMRIPrep tree of ``n_subjects``; return ``root``."""
    deriv = root / "derivatives" / "fmriprep"
    _description(root / "dataset_description.json", derivative=False)
    _description(deriv / "dataset_description.json", derivative=True)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    image = root / "template_bold.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2, N_VOLUMES), np.int16), affine), image)
    mask = root / "template_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), affine), mask)
    confounds = "global_signal\tframewise_displacement\n" + "".join(
        f"{i}.5\t{0.1 * i:.2f}\n" for i in range(N_VOLUMES)
    )
    ids = [f"sub-{k:04d}" for k in range(1, n_subjects + 1)]
    (root / "participants.tsv").write_text(
        "participant_id\tgroup\n" + "".join(f"{pid}\tcontrol\n" for pid in ids)
    )
    for pid in ids:
        (root / pid).mkdir()
        (root / pid / f"{pid}_sessions.tsv").write_text("session_id\tcondition\nses-1\tdrug\n")
        func = deriv / pid / "ses-1" / "func"
        func.mkdir(parents=True)
        stem = f"{pid}_ses-1_task-rest_run-1"
        image_stem = f"{stem}_space-{SPACE}_res-2"
        os.link(image, func / f"{image_stem}_desc-preproc_bold.nii.gz")
        (func / f"{image_stem}_desc-preproc_bold.json").write_text('{"RepetitionTime": 2.0}')
        os.link(mask, func / f"{image_stem}_desc-brain_mask.nii.gz")
        (func / f"{stem}_desc-confounds_timeseries.tsv").write_text(confounds)
        (func / f"{stem}_desc-confounds_timeseries.json").write_text("{}")
    return root


def with_dmnpharm(root: Path) -> int:
    """Return the number of runs dmnpharm's discovery (with validation) finds."""
    return len(discover_study(root, res="2").runs)


def with_pybids(root: Path) -> int:
    """Return the number of preprocessed BOLD files a fresh pybids index finds."""
    from bids import BIDSLayout

    layout = BIDSLayout(root, validate=False, derivatives=str(root / "derivatives" / "fmriprep"))
    found = layout.get(
        suffix="bold", desc="preproc", space=SPACE, extension=".nii.gz", return_type="filename"
    )
    return len(found)


def main() -> int:
    """Build the tree, time both, print and optionally save the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000, help="subjects (1 run each)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each tool")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"dmnpharm": [], "pybids": []}
    counts: dict[str, int] = {}
    tools = {"dmnpharm": with_dmnpharm, "pybids": with_pybids}
    with tempfile.TemporaryDirectory() as tmp:
        root = build_tree(Path(tmp) / "study", args.subjects)
        for _ in range(args.repeats):
            for name, tool in tools.items():
                start = time.perf_counter()
                counts[name] = tool(root)
                times[name].append(time.perf_counter() - start)
    ours, theirs = (statistics.median(times[name]) for name in ("dmnpharm", "pybids"))
    numbers = {
        "subjects": args.subjects,
        "bold_found_dmnpharm": counts["dmnpharm"],
        "bold_found_pybids": counts["pybids"],
        "dmnpharm_s": round(ours, 3),
        "pybids_s": round(theirs, 3),
        "pybids_over_dmnpharm": round(theirs / ours, 1),
        "repeats": args.repeats,
        "load_1min": round(os.getloadavg()[0], 2),
    }
    for key, value in numbers.items():
        print(f"{key:24s} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    same = counts["dmnpharm"] == counts["pybids"] == args.subjects
    if not same:
        print("the tools found different numbers of BOLD files")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
