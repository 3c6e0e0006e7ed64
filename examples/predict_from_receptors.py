"""Predict a drug's DMN change from its receptor targets, with a synthetic receptor table.

``dmnpharm predict --drug AGENT --receptors MAPS`` combines what the evidence catalog knows
about the agent (its molecular targets, affinities and usual dose, hence each target's
occupancy) with receptor density maps (one value per region and target) into a regional
perturbation map, and predicts the change of the DMN measures from it: by a
pharmacological rule, and by a whole-brain model.

Real receptor maps (Hansen et al. 2022, PET, CC BY-NC-SA) cannot be bundled, so this
example makes a synthetic table: smooth random maps over a 48-region subset of the
Seitzman-300 coordinates, named like Hansen's targets (``5HT2a``, ``D2``, ...). The
numbers therefore mean nothing biologically; the files and columns are what a real
table gives. Point ``--receptors`` at your copy of the ``hansen_receptors`` repository
for real maps.

Run it with ``python examples/predict_from_receptors.py``; it writes only into a
temporary folder and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dmnpharm.atlases import load_atlas
from dmnpharm.cli import main as dmnpharm
from dmnpharm.predict import euclidean_distance

#: Targets named as in Hansen et al. 2022's receptor table.
TARGETS = ("5HT1a", "5HT2a", "D2", "GABAa", "NMDA", "MOR")


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """Write a 48-region coordinates atlas and a synthetic regions x targets table."""
    atlas = load_atlas("seitzman300")
    keep = [i for i, n in enumerate(atlas.networks) if n in ("DMN", "SN", "FPN", "DAN")][::3]
    coords = np.asarray([atlas.coords[i] for i in keep], dtype=float)
    labels = [atlas.labels[i] for i in keep]
    regions = pd.DataFrame(coords, columns=["x", "y", "z"])
    regions.insert(0, "label", labels)
    regions["network"] = [atlas.networks[i] for i in keep]
    atlas_file = folder / "atlas-Subset48_regions.tsv"
    regions.to_csv(atlas_file, sep="\t", index=False)
    # Smooth positive maps: a Gaussian field with 25 mm correlation length, exponentiated.
    rng = np.random.default_rng(5)
    cov = np.exp(-euclidean_distance(coords) / 25.0) + 1e-8 * np.eye(len(keep))
    density = np.exp(0.5 * np.linalg.cholesky(cov) @ rng.normal(size=(len(keep), len(TARGETS))))
    table = pd.DataFrame(density, columns=list(TARGETS))
    table.insert(0, "region", labels)
    maps_file = folder / "receptors.tsv"
    table.to_csv(maps_file, sep="\t", index=False)
    return atlas_file, maps_file


def main() -> None:
    """Predict psilocybin's DMN change on the synthetic maps and print the tables."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        atlas_file, maps_file = write_inputs(folder)
        out = folder / "prediction"
        args = ["predict", "--drug", "psilocybin", "--receptors", str(maps_file)]
        args += ["--atlas", str(atlas_file), "--n-seeds", "2", "--seed", "0"]
        code = dmnpharm([*args, "--out", str(out), "-q"])
        if code != 0:
            raise SystemExit(code)
        targets = pd.read_csv(out / "drug_targets.tsv", sep="\t")
        print(targets.to_string(index=False, max_colwidth=30))
        changes = pd.read_csv(out / "network_changes.tsv", sep="\t")
        print(changes.to_string(index=False, max_colwidth=30))
        print(sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
