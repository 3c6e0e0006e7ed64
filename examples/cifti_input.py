"""CIFTI input: fMRIPrep's fsLR grayordinate time series with a dlabel atlas.

fMRIPrep writes surface-based runs as ``*_space-fsLR_den-91k_bold.dtseries.nii``. dmnpharm
averages the grayordinates of each parcel of a ``.dlabel.nii`` atlas (whose ``.tsv`` of
the same stem gives each parcel's network), cleans the parcel signals with the run's
fMRIPrep confounds, and writes the derivatives both as TSV and as CIFTI
(``.ptseries.nii`` time series, ``.pconn.nii`` connectivity matrices).

Here ``simulate --level cifti`` writes a small crossover study in that layout, with the
Seitzman-300 regions as a dlabel atlas, and ``run --space fsLR --atlas DLABEL`` analyses it.

Run it with ``python examples/cifti_input.py``; it writes only into a temporary folder
and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nibabel as nib
import pandas as pd

from dmnpharm.cli import main as dmnpharm


def command(*args: str) -> None:
    """Run one ``dmnpharm`` command; stop with its exit status if it fails."""
    code = dmnpharm([*args, "-q"])
    if code != 0:
        raise SystemExit(code)


def main() -> None:
    """Simulate a CIFTI study, analyse it and look at one run's CIFTI matrix."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study = folder / "study"
        command("simulate", "--out", str(study), "--level", "cifti",
                "--subjects", "8", "--volumes", "64", "--seed", "4")  # fmt: skip
        runs = sorted(study.rglob("*_bold.dtseries.nii"))
        shape = nib.Cifti2Image.from_filename(runs[0]).shape
        print(f"{len(runs)} runs, e.g. {runs[0].name}: {shape} (volumes x grayordinates)")
        dlabel = study / "atlas" / "atlas-seitzman300_dseg.dlabel.nii"
        out = folder / "results"
        command("run", str(study), "--space", "fsLR", "--atlas", str(dlabel), "--out", str(out),
                "--permutations", "500", "--no-gsr-sensitivity",
                "--scheduler", "synchronous", "--no-cache")  # fmt: skip
        pconn = sorted(out.rglob("*.pconn.nii"))
        shape = nib.Cifti2Image.from_filename(pconn[0]).shape
        print(f"{len(pconn)} connectivity matrices as CIFTI, e.g. {pconn[0].name}: {shape}")
        results = pd.read_csv(out / "group" / "results.tsv", sep="\t").set_index("measure")
        row = results.loc["dmn_within_fc"]
        print(
            f"within-DMN FC, drug - placebo: {row['estimate']:+.3f}, p_FWER = {row['p_fwer']:.3f}"
        )


if __name__ == "__main__":
    main()
