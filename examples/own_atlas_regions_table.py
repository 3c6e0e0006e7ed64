"""Your own atlas: a regions table naming each time-series column and its network.

Region time series extracted by another pipeline come with that pipeline's region names
and network names. A regions table (TSV: ``label``, ``network`` and optionally ``x``,
``y``, ``z``, ``subsystem``) tells dmnpharm which network each column belongs to. Network
names may be dmnpharm's codes (``DMN``, ``SN``, ...) or the names common parcellations use
(``Default``, ``SalVentAttn``, ``DorsAttn``, ``Cont``, ...); anything else needs a
``--network-map`` file.

Here a 48-region table is made from a subset of the Seitzman-300 coordinates, with
Schaefer-style network names and the lab's own labels; a crossover study is simulated in
that parcellation (``simulate --atlas TABLE``) and analysed with it (``run --atlas TABLE``).

Run it with ``python examples/own_atlas_regions_table.py``; it writes only into a
temporary folder and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from dmnpharm.atlases import load_atlas
from dmnpharm.cli import main as dmnpharm

#: Our codes written as a Schaefer-style table would write them.
SCHAEFER_NAMES = {"DMN": "Default", "SN": "SalVentAttn", "DAN": "DorsAttn", "FPN": "Cont"}


def regions_table(path: Path) -> Path:
    """Write 12 regions of each of four networks, with the lab's own labels."""
    atlas = load_atlas("seitzman300")
    rows = []
    for code, name in SCHAEFER_NAMES.items():
        picked = [i for i, network in enumerate(atlas.networks) if network == code][:12]
        for k, i in enumerate(picked, start=1):
            x, y, z = atlas.coords[i]
            rows.append({"label": f"{name}_{k:02d}", "network": name, "x": x, "y": y, "z": z})
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def command(*args: str) -> None:
    """Run one ``dmnpharm`` command; stop with its exit status if it fails."""
    code = dmnpharm([*args, "-q"])
    if code != 0:
        raise SystemExit(code)


def main() -> None:
    """Simulate and analyse a study in the table's parcellation."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # the atlas is named after the file's atlas- entity: "Lab48"
        table = regions_table(folder / "atlas-Lab48_regions.tsv")
        atlas = load_atlas(table)  # what dmnpharm reads from the table
        print(f"atlas {atlas.name}: {pd.Series(atlas.networks).value_counts().to_dict()}")
        study = folder / "study"
        command("simulate", "--out", str(study), "--atlas", str(table),
                "--subjects", "8", "--volumes", "64", "--seed", "2")  # fmt: skip
        first = sorted(study.rglob("*_timeseries.tsv"))[0]
        print(first.name, "columns:", ", ".join(pd.read_csv(first, sep="\t", nrows=0).columns[:4]))
        out = folder / "results"
        command("run", str(study), "--atlas", str(table), "--out", str(out),
                "--permutations", "500", "--no-gsr-sensitivity",
                "--scheduler", "synchronous", "--no-cache")  # fmt: skip
        results = pd.read_csv(out / "group" / "results.tsv", sep="\t").set_index("measure")
        for measure in ("dmn_within_fc", "dmn_salience_fc", "dmn_dan_fc", "dmn_fpn_fc"):
            row = results.loc[measure]
            print(f"{measure:>16}: drug - placebo {row['estimate']:+.3f}, p = {row['p_fwer']:.3f}")


if __name__ == "__main__":
    main()
