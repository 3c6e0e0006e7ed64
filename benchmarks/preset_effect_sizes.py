"""Standardised size (d_z) of every crossover preset's planted FC effects.

For each crossover preset and each planted within- or between-network FC
effect, ``--studies`` studies are simulated with the batch simulator
(``simulate_measure_runs``: the measure on raw region signals, as the
simulator's own power analysis uses it). Per study, d_z is the mean paired
change (last condition minus the first) divided by its SD; the table gives its
mean over studies, for docs/simulation.md. Run from the repository root::

    PYTHONPATH=src python benchmarks/preset_effect_sizes.py --studies 20
"""

from __future__ import annotations

import argparse

import pandas as pd

from dmnpharm.simulate import PRESETS, load_preset
from dmnpharm.simulate._batch import MeasureTarget, simulate_measure_runs


def effect_sizes(name: str, studies: int, seed: int) -> list[dict[str, object]]:
    """Return the preset's planted FC effects with their mean change and mean d_z."""
    spec = load_preset(name)
    labels = [c.label for c in spec.design.conditions]
    rows = []
    for effect in spec.effects:
        if effect.measure not in ("within_fc", "between_fc"):
            continue
        target = MeasureTarget(effect.measure, effect.network, effect.other)
        runs = simulate_measure_runs(spec, target, n_studies=studies, seed=seed)
        wide = runs.pivot_table(
            index=["study", "participant_id"], columns="condition", values="value"
        )
        change = (wide[labels[-1]] - wide[labels[0]]).groupby(level="study").agg(["mean", "std"])
        rows.append(
            {
                "preset": name,
                "measure": target.name,
                "planted": effect.size,
                "subjects": spec.design.n_subjects,
                "mean_change": round(float(change["mean"].mean()), 3),
                "d_z": round(float((change["mean"] / change["std"]).mean()), 2),
            }
        )
    return rows


def main() -> int:
    """Print the table of every crossover preset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    names = [n for n in PRESETS if load_preset(n).design.kind == "crossover"]
    table = pd.DataFrame([r for n in names for r in effect_sizes(n, args.studies, args.seed)])
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
