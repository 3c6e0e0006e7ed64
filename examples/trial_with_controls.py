"""A clinical trial with healthy controls: group x time and normalization.

Patients with a planted baseline difference from controls (within-DMN connectivity
+0.06 Fisher z) are scanned at baseline and after 12 weeks of risperidone or placebo;
healthy controls are scanned at the same two times. Treatment moves patients halfway back
towards the controls. The example uses the command line from Python
(``dmnpharm.cli.main``): ``run`` measures every run, then ``stats`` fits

1. the group x time interaction: the change from baseline, risperidone arm minus placebo
   arm; and
2. the normalization test: patients' distance to the control mean after minus before,
   compared between the arms.

Run it with ``python examples/trial_with_controls.py``; it writes only into a temporary
folder and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dmnpharm.cli import main as dmnpharm
from dmnpharm.simulate import load_preset, simulate_study, write_simulated_study


def simulate(folder: Path) -> Path:
    """Write 8 patients (two arms) and 4 controls, 2 runs of 64 volumes each."""
    preset = load_preset("antipsychotic-trial", seed=3)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=8, n_controls=4),
        signal=replace(preset.signal, n_volumes=64),
    )
    return Path(write_simulated_study(simulate_study(spec), folder / "study"))


def command(*args: str) -> None:
    """Run one ``dmnpharm`` command; stop with its exit status if it fails."""
    code = dmnpharm([*args, "-q"])
    if code != 0:
        raise SystemExit(code)


def main() -> None:
    """Measure every run, then test group x time and normalization on the metrics table."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study = simulate(folder)
        print(pd.read_csv(study / "participants.tsv", sep="\t")["arm"].value_counts().to_dict())
        # Every participant has a baseline and a week-12 session: the paired contrast of
        # run is week12 - baseline (over everyone); the group models come from stats.
        command(
            "run", str(study), "--out", str(folder / "run"),
            "--contrast", "week12-baseline", "--permutations", "200", "--no-gsr-sensitivity",
            "--scheduler", "synchronous", "--no-cache",
        )  # fmt: skip
        metrics = str(folder / "run" / "metrics.parquet")
        timepoints = ("--within", "condition", "--contrast", "week12-baseline")
        arms = ("--between", "arm", "--between-contrast", "risperidone-placebo")
        command("stats", metrics, "--out", str(folder / "gxt"), *timepoints, *arms,
                "--permutations", "500")  # fmt: skip
        command("stats", metrics, "--out", str(folder / "norm"), *timepoints, *arms,
                "--normalization", "patient-control", "--permutations", "500")  # fmt: skip
        for name, label in (("gxt", "group x time"), ("norm", "normalization")):
            table = pd.read_csv(folder / name / "results.tsv", sep="\t")
            row = table.set_index("measure").loc["dmn_within_fc"]
            print(
                f"{label:>13}: within-DMN estimate {row['estimate']:+.3f} "
                f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p_uncorrected']:.3f}"
            )


if __name__ == "__main__":
    main()
