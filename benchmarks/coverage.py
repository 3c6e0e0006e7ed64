"""Coverage benchmark: how often the pipeline's CIs cover the simulator's planted truth.

For each seed, a preset study is simulated, every run is cleaned and measured
exactly as ``dmnpharm run`` does with its defaults (``process_run``: aCompCor,
censoring, 0.01-0.08 Hz), and the group model is fitted (``analyse``). For
every measure with a planted change, the planted value of that study (the mean
over subjects of the population change, as the report shows it) is compared
with the estimate and its 95 % confidence interval. Over many seeds a correct
pipeline gives coverage near 95 % (Monte-Carlo SE about 1.5 % at 200 seeds)
and a mean bias near 0; a measure with no planted change gives its
false-positive rate.

Runs are processed in memory (no files, no report, no GSR sensitivity): a
seed of the demo takes about 4 s of one core. Run from the repository root::

    PYTHONPATH=src python benchmarks/coverage.py --seeds 200 --workers 2
    PYTHONPATH=src python benchmarks/coverage.py --preset psychedelic-crossover --seeds 100
    PYTHONPATH=src python benchmarks/coverage.py --seeds 200 --markdown docs/coverage_demo.md
"""

from __future__ import annotations

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from calibration import markdown_table  # benchmarks/ is on the path when run as a script

from dmnpharm.config import AnalysisConfig
from dmnpharm.pipeline._process import process_run
from dmnpharm.simulate import load_preset, simulate_study
from dmnpharm.stats import ModelSpec, analyse

#: Planted effect (ground-truth key) behind each measure of the metrics bundle.
TRUTH = {
    "dmn_within_fc": "within_fc_DMN",
    "dmn_salience_fc": "between_fc_DMN_SN",
    "dmn_dan_fc": "between_fc_DMN_DAN",
}


def _study(preset: str, seed: int, contrast: tuple[str, str]) -> list[dict[str, object]]:
    """One seed: the estimate, CI and planted value of every planted measure."""
    spec = load_preset(preset, seed=seed)
    sim = simulate_study(spec)
    config = AnalysisConfig(gsr_sensitivity=False)
    rows = []
    for run in sim.runs:
        processed = process_run(
            run.signals.data,
            run.signals.confounds,
            run.signals.confounds_meta,
            spec.signal.repetition_time,
            config,
            sim.atlas,
            f"{run.participant_id} {run.session_id}",
        )
        if processed.excluded:
            continue
        network = processed.metrics[processed.metrics["level"] == "network"]
        rows += [
            {
                "participant_id": run.participant_id,
                "condition": run.condition,
                "measure": m,
                "value": v,
            }
            for m, v in zip(network["measure"], network["value"], strict=True)
        ]
    spec_model = ModelSpec(within="condition", contrast=contrast, incomplete="drop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyse(pd.DataFrame(rows), spec_model, 999, seed).results
    truth = pd.DataFrame(sim.ground_truth["runs"])
    out = []
    for r in result.to_dict(orient="records"):
        key = TRUTH.get(str(r["measure"]))
        planted = realised = 0.0
        if key is not None and key in truth:
            # the planted part of each run (with minus without effects), and the
            # population values themselves (which also carry session-to-session states)
            effect = truth.assign(_e=truth[key] - truth[f"{key}_without_effects"])
            means = effect.pivot_table(index="participant_id", columns="condition", values="_e")
            planted = float((means[contrast[0]] - means[contrast[1]]).mean())
            means = truth.pivot_table(index="participant_id", columns="condition", values=key)
            realised = float((means[contrast[0]] - means[contrast[1]]).mean())
        out.append(
            {
                "seed": seed,
                "measure": r["measure"],
                "planted": planted,
                "population_change": realised,
                "has_truth": key is not None and key in truth,
                "estimate": r["estimate"],
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "statistic": r["statistic"],
                "n": r["n"],
                "p_uncorrected": r["p_uncorrected"],
                "p_fwer": r["p_fwer"],
            }
        )
    return out


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per measure: coverage of the planted value, bias, and rejection rates."""
    table = table.assign(
        covered=(table["ci_low"] <= table["planted"]) & (table["planted"] <= table["ci_high"]),
        miss_se=(table["estimate"] - table["planted"])
        / ((table["ci_high"] - table["ci_low"]) / (2 * 1.96)),
    )
    grouped = table.groupby("measure")
    seeds = grouped.size()
    summary = pd.DataFrame(
        {
            "seeds": seeds,
            "planted_mean": grouped["planted"].mean(),
            "estimate_mean": grouped["estimate"].mean(),
            "bias": grouped["estimate"].mean() - grouped["planted"].mean(),
            "coverage_95": grouped["covered"].mean(),
            "coverage_mc_se": np.sqrt(0.95 * 0.05 / seeds),
            "median_abs_miss_se": grouped["miss_se"].apply(lambda s: float(np.median(np.abs(s)))),
            "reject_p05": grouped["p_uncorrected"].apply(lambda s: float(np.mean(s < 0.05))),
            "reject_fwer05": grouped["p_fwer"].apply(lambda s: float(np.mean(s < 0.05))),
            "d_z_mean": grouped.apply(lambda g: float(np.mean(g["statistic"] / np.sqrt(g["n"])))),
        }
    )
    return summary.round(4).reset_index()


def main() -> int:
    """Simulate and analyse the seeds; print (and optionally write) the coverage table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo-crossover")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--tsv", type=Path, default=None, help="write every seed's rows")
    args = parser.parse_args()
    spec = load_preset(args.preset)
    labels = [c.label for c in spec.design.conditions]
    contrast = (labels[-1], labels[0])
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        chunks = list(pool.map(_study, [args.preset] * len(seeds), seeds, [contrast] * len(seeds)))
    table = pd.DataFrame([row for chunk in chunks for row in chunk])
    if args.tsv is not None:
        table.to_csv(args.tsv, sep="\t", index=False)
    summary = summarise(table)
    print(
        f"{args.preset}, contrast {contrast[0]}-{contrast[1]}, {len(seeds)} seeds, "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(summary.to_string(index=False))
    if args.markdown is not None:
        args.markdown.write_text(markdown_table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
