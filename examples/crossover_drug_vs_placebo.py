"""Drug versus placebo in a crossover: the paired test of within-DMN connectivity.

Eight healthy volunteers are simulated, each scanned once on placebo and once on the
drug, with a planted decrease of within-DMN connectivity (Fisher z -0.20). The study is
validated and analysed with the three public objects (``Study``, ``AnalysisConfig``,
``Results``) and the defaults of ``dmnpharm run``: aCompCor denoising with censoring and
a 0.01-0.08 Hz band-pass, Pearson connectivity, the paired drug - placebo test with sign
flips, and the same test after global signal regression as a sensitivity analysis.

Run it with ``python examples/crossover_drug_vs_placebo.py``; it writes only into a
temporary folder and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

import dmnpharm as dp
from dmnpharm.simulate import Effect, load_preset, simulate_study, write_simulated_study

#: The planted drug effect on mean within-DMN connectivity (Fisher z).
PLANTED = -0.20


def simulate(folder: Path) -> Path:
    """Write a small ROI-level crossover study: 8 subjects, 2 runs of 64 volumes each."""
    preset = load_preset("demo-crossover", seed=1)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=8),
        signal=replace(preset.signal, n_volumes=64, repetition_time=2.0),
        effects=(Effect("within_fc", PLANTED, "DMN"),),
    )
    return Path(write_simulated_study(simulate_study(spec), folder / "study"))


def main() -> None:
    """Simulate, validate, analyse and print the within-DMN result."""
    with tempfile.TemporaryDirectory() as tmp:
        study = dp.Study.from_folder(simulate(Path(tmp)))
        config = dp.AnalysisConfig(
            # 2**8 = 256 sign flips exist, fewer than asked: all are enumerated (exact test)
            inference=dp.Inference(n_permutations=1000, seed=0),
            # in this process, without the result cache: right for a small example
            execution=dp.Execution(scheduler="synchronous", cache=False),
        )
        problems = study.validate(config)
        if problems:
            raise SystemExit("\n".join(problems))
        results = study.analyse(config, out=Path(tmp) / "results")
        row = results.results.set_index("measure").loc["dmn_within_fc"]
        print(f"analysis {results.analysis_id}: {row['n']} subjects")
        print(str(row["exchangeability"]))
        print(
            f"within-DMN FC, drug - placebo: {row['estimate']:+.3f} "
            f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] (planted {PLANTED:+.2f}), "
            f"d_z = {row['effect_size_dz']:+.2f}, p_FWER = {row['p_fwer']:.4f}"
        )
        gsr = pd.read_csv(results.layout.results_gsr_tsv, sep="\t").set_index("measure")
        print(f"with GSR toggled: {gsr['estimate'].loc['dmn_within_fc']:+.3f}")
        print(f"report: {results.report_file.name}")


if __name__ == "__main__":
    main()
