"""Calibration harness: false-positive rates of dmnpharm's group models on null data.

Each design draws ``--studies`` null studies (no true effect) of a given data
shape, fits the model, and counts p < alpha per measure (FPR) and any
``p_fwer`` < alpha per study (FWER). The Monte-Carlo SE of a rate near 0.05 is
``sqrt(0.05 * 0.95 / studies)`` (0.0069 at 1,000 studies); a calibrated test
lies within about 2 SE of alpha. The table is printed and, with ``--markdown``,
written for ``docs/calibration.md``.

Designs (more are added as the models are):

* ``mixed-wald``: the random-intercept mixed model's Wald z, as dmnpharm
  computed it before issue 18 (statsmodels ``MixedLM`` ``bse``), 12 subjects,
  2 of them missing the drug session, one measure.
* ``mixed-satterthwaite``: the same data through ``mixed_model`` (t with
  Satterthwaite degrees of freedom).
* ``paired-t3``: the paired sign-flip test, 12 subjects, heavy-tailed (t with
  3 df) differences, 6 correlated measures (r = 0.5), 1,000 flips.
* ``paired-exact``: the same with 8 subjects, where all 256 flips are
  enumerated.
* ``between-unequal-ols`` and ``between-unequal-g``: 24 controls and 8
  patients with 2.5 times the SD, 3 measures, 999 permutations; OLS t with
  permutations (``variance_groups="off"``) against the default G statistic
  with sign flips.
* ``normalization-*``: single-arm normalization (20 patients 1.5 SD from the
  controls, nobody changing), with 10 or 400 controls, and with patients
  enrolled only on an extreme baseline (regression to the mean: the single-arm
  test cannot be calibrated there, and says so); ``normalization-arms-selected``:
  the same selection, patients in a drug and a placebo arm, compared.
* ``group-x-time-sd{1,2,3}-{ols,g}``: arms of 7 and 5 subjects, the smaller
  arm's change SD 1, 2 or 3 times the larger's, 3 measures; OLS t against G.

Run from the repository root::

    PYTHONPATH=src python benchmarks/calibration.py                     # 1,000 studies
    PYTHONPATH=src python benchmarks/calibration.py --studies 200 --designs paired-t3
    PYTHONPATH=src python benchmarks/calibration.py --markdown docs/calibration.md
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.regression.mixed_linear_model import MixedLM

from dmnpharm.stats import ModelSpec, analyse, mixed_model, normalization, paired_test

SPEC = ModelSpec(within="condition", contrast=("drug", "placebo"))


def _measure_rows(values: np.ndarray, **labels: object) -> list[dict[str, object]]:
    """Return one long-format row per measure (``m0``, ``m1``, ...) with the same labels."""
    return [{**labels, "measure": f"m{m}", "value": v} for m, v in enumerate(values)]


def markdown_table(table: pd.DataFrame) -> str:
    """Return a DataFrame as a Markdown table (for the docs)."""
    lines = [
        "| " + " | ".join(str(c) for c in table.columns) + " |",
        "|" + "---|" * len(table.columns),
        *("| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(False)),
    ]
    return "\n".join(lines) + "\n"


def crossover(rng: np.random.Generator, n: int, missing: int) -> pd.DataFrame:
    """One null crossover: random intercepts (SD 1), residual SD 0.7, some drug runs missing."""
    rows = []
    for s in range(n):
        intercept = rng.normal()
        for condition in ("placebo", "drug"):
            if condition == "drug" and s < missing:
                continue
            rows.append(
                {
                    "participant_id": f"sub-{s:02d}",
                    "condition": condition,
                    "measure": "m0",
                    "value": intercept + rng.normal(0, 0.7),
                }
            )
    return pd.DataFrame(rows)


def mixed_wald(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Wald z of MixedLM's own SE (the test before issue 18)."""
    table = crossover(rng, 12, 2)
    x = np.column_stack([np.ones(len(table)), (table["condition"] == "drug").astype(float)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MixedLM(table["value"].to_numpy(), x, groups=table["participant_id"]).fit(reml=True)
    p = np.array([2 * sps.norm.sf(abs(fit.fe_params[1] / fit.bse_fe[1]))])
    return p, p


def mixed_satterthwaite(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``mixed_model``: t with Satterthwaite df."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mixed_model(crossover(rng, 12, 2), SPEC).results
    return res["p_parametric"].to_numpy(), res["p_fwer"].to_numpy()


def _paired(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    measures = 6
    corr = np.full((measures, measures), 0.5) + 0.5 * np.eye(measures)
    chol = np.linalg.cholesky(corr)
    noise = sps.t.rvs(3, size=(n, measures), random_state=rng) @ chol.T
    rows = [
        {"participant_id": f"sub-{s}", "condition": c, "measure": f"m{m}", "value": v}
        for s in range(n)
        for m in range(measures)
        for c, v in (("drug", noise[s, m]), ("placebo", 0.0))
    ]
    seed = int(rng.integers(2**31))
    res = paired_test(pd.DataFrame(rows), ("drug", "placebo"), n_permutations=1000, seed=seed)
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _between(rng: np.random.Generator, variance_groups: str) -> tuple[np.ndarray, np.ndarray]:
    """24 controls, 8 patients with 2.5 times the SD, 3 measures; no group difference."""
    patient = np.arange(32) < 8
    values = rng.normal(size=(32, 3)) * np.where(patient, 2.5, 1.0)[:, None]
    rows = [
        {
            "participant_id": f"sub-{s:02d}",
            "group": "patient" if patient[s] else "control",
            "measure": f"m{m}",
            "value": values[s, m],
        }
        for s in range(32)
        for m in range(3)
    ]
    spec = ModelSpec(
        between="group", between_contrast=("patient", "control"), variance_groups=variance_groups
    )
    res = analyse(pd.DataFrame(rows), spec, 999, int(rng.integers(2**31))).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _normalization(
    rng: np.random.Generator, n_controls: int, select: bool
) -> tuple[np.ndarray, np.ndarray]:
    """20 patients 1.5 SD from controls, nobody changing; optionally selected on baseline."""
    rows, k = [], 0
    while k < 20 + n_controls:
        patient = k < 20
        trait = rng.normal(size=3) + (1.5 if patient else 0.0)
        pre, post = trait + rng.normal(0, 0.7, 3), trait + rng.normal(0, 0.7, 3)
        if select and patient and pre[0] < 2.0:
            continue  # enrolled only when the baseline is extreme: regression to the mean
        group = "patient" if patient else "control"
        for when, values in (("pre", pre), ("post", post)):
            rows += _measure_rows(values, participant_id=f"s{k}", group=group, time=when)
        k += 1
    spec = ModelSpec(within="time", contrast=("post", "pre"))
    seed = int(rng.integers(2**31))
    res = normalization(pd.DataFrame(rows), spec, "patient", "control", 999, seed).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _normalization_arms(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Baseline-selected patients in two arms (10 drug, 10 placebo), 10 controls, no effect."""
    rows, k = [], 0
    while k < 30:
        patient = k < 20
        trait = rng.normal(size=3) + (1.5 if patient else 0.0)
        pre, post = trait + rng.normal(0, 0.7, 3), trait + rng.normal(0, 0.7, 3)
        if patient and pre[0] < 2.0:
            continue
        group = "patient" if patient else "control"
        arm = ("drug" if k % 2 else "placebo") if patient else "none"
        for when, values in (("pre", pre), ("post", post)):
            rows += _measure_rows(values, participant_id=f"s{k}", group=group, arm=arm, time=when)
        k += 1
    spec = ModelSpec(
        within="time",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("drug", "placebo"),
    )
    seed = int(rng.integers(2**31))
    res = normalization(pd.DataFrame(rows), spec, "patient", "control", 999, seed).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _group_by_time(
    rng: np.random.Generator, sd_ratio: float, variance_groups: str
) -> tuple[np.ndarray, np.ndarray]:
    """Arms of 7 and 5; the smaller arm's change SD times ``sd_ratio``; no interaction."""
    rows = []
    for s in range(12):
        small = s >= 7
        base = rng.normal(size=3)
        change = rng.normal(size=3) * (sd_ratio if small else 1.0)
        for when, values in (("pre", base), ("post", base + change)):
            rows += _measure_rows(
                values, participant_id=f"s{s:02d}", arm="b" if small else "a", time=when
            )
    spec = ModelSpec(
        within="time",
        contrast=("post", "pre"),
        between="arm",
        between_contrast=("a", "b"),
        variance_groups=variance_groups,
    )
    res = analyse(pd.DataFrame(rows), spec, 999, int(rng.integers(2**31))).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _mixed_interaction(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Arm x condition in the mixed model: arms of 7 and 5, two missing sessions, 3 measures."""
    rows = []
    for s in range(12):
        arm = "a" if s < 7 else "b"
        intercept = rng.normal(size=3)
        for condition in ("placebo", "drug"):
            if condition == "drug" and s in (3, 9):
                continue
            values = intercept + rng.normal(0, 0.7, 3) + (0.4 if condition == "drug" else 0.0)
            rows += _measure_rows(
                values, participant_id=f"sub-{s:02d}", arm=arm, condition=condition
            )
    spec = ModelSpec(
        within="condition",
        contrast=("drug", "placebo"),
        between="arm",
        between_contrast=("a", "b"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mixed_model(pd.DataFrame(rows), spec).results
    return res["p_parametric"].to_numpy(), res["p_fwer"].to_numpy()


def _motion_crossover(
    rng: np.random.Generator, levels: tuple[str, ...], adjust: bool, effect: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """16 subjects; the drug raises motion, motion lowers the measures; no drug effect.

    Per run, mean FD is log-normal (subject level times run noise) and 40 %
    higher under the drug; each measure falls by 3 per mm. Run noise is
    skewed (centred gamma), so the values are skewed while the paired
    differences stay symmetric under the null. ``effect`` is added to every
    non-placebo level's first measure (for power).
    """
    rows = []
    for s in range(16):
        trait = rng.normal(size=3)
        fd_subject = 0.15 * np.exp(rng.normal(0, 0.4))
        for level in levels:
            fd = fd_subject * np.exp(rng.normal(0, 0.25)) * (1.4 if level != "placebo" else 1.0)
            noise = (rng.gamma(2.0, 1.0, 3) - 2.0) / np.sqrt(2.0) * 0.5
            values = trait - 3.0 * fd + noise
            if level != "placebo":
                values[0] += effect
            rows += _measure_rows(
                values, participant_id=f"sub-{s:02d}", condition=level, mean_fd=fd
            )
    contrast = ("drug", "placebo") if len(levels) == 2 else None
    spec = ModelSpec(
        within="condition",
        contrast=contrast,
        run_covariates=("mean_fd",) if adjust else (),
    )
    res = analyse(pd.DataFrame(rows), spec, 999, int(rng.integers(2**31))).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _between_sites(
    rng: np.random.Generator, shape: str, effect: float = 0.0, sd_ratio: float = 2.5
) -> tuple[np.ndarray, np.ndarray]:
    """24 controls and 8 patients (``sd_ratio`` x SD), age, 3 unequal sites, 3 measures.

    ``shape`` ``lognormal``: log-normal errors with sigma 0.5 (skewness 1.75),
    standardised; otherwise normal.
    """
    patient = np.arange(32) < 8
    site = np.where(np.arange(32) % 6 == 0, "s3", np.where(np.arange(32) % 3 == 0, "s2", "s1"))
    age = rng.uniform(20, 60, 32)
    if shape == "lognormal":
        sigma2 = 0.25
        noise = np.exp(rng.normal(0, np.sqrt(sigma2), (32, 3))) - np.exp(sigma2 / 2)
        noise /= np.sqrt((np.exp(sigma2) - 1) * np.exp(sigma2))
    else:
        noise = rng.normal(size=(32, 3))
    site_shift = {"s1": 0.0, "s2": 0.5, "s3": -0.4}
    values = noise * np.where(patient, sd_ratio, 1.0)[:, None] + 0.02 * (age[:, None] - 40)
    values += np.array([site_shift[v] for v in site])[:, None]
    values[:, 0] += effect * patient
    rows = [
        {
            "participant_id": f"sub-{s:02d}",
            "group": "patient" if patient[s] else "control",
            "site": site[s],
            "age": age[s],
            "measure": f"m{m}",
            "value": values[s, m],
        }
        for s in range(32)
        for m in range(3)
    ]
    spec = ModelSpec(
        between="group",
        between_contrast=("patient", "control"),
        covariates=("age",),
        block="site",
    )
    res = analyse(pd.DataFrame(rows), spec, 999, int(rng.integers(2**31))).results
    return res["p_uncorrected"].to_numpy(), res["p_fwer"].to_numpy()


def _power_paired(rng: np.random.Generator, n: int, d_z: float) -> tuple[np.ndarray, np.ndarray]:
    """Plant a paired effect of ``d_z`` on the first of 6 correlated normal measures."""
    measures = 6
    corr = np.full((measures, measures), 0.5) + 0.5 * np.eye(measures)
    diff = rng.normal(size=(n, measures)) @ np.linalg.cholesky(corr).T
    diff[:, 0] += d_z
    rows = [
        {"participant_id": f"sub-{s}", "condition": c, "measure": f"m{m}", "value": v}
        for s in range(n)
        for m in range(measures)
        for c, v in (("drug", diff[s, m]), ("placebo", 0.0))
    ]
    seed = int(rng.integers(2**31))
    res = paired_test(pd.DataFrame(rows), ("drug", "placebo"), n_permutations=1000, seed=seed)
    return res["p_uncorrected"].to_numpy()[:1], res["p_fwer"].to_numpy()[:1]


DESIGNS: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "mixed-wald": mixed_wald,
    "mixed-satterthwaite": mixed_satterthwaite,
    "paired-t3": lambda rng: _paired(rng, 12),
    "paired-exact": lambda rng: _paired(rng, 8),
    "between-unequal-ols": lambda rng: _between(rng, "off"),
    "between-unequal-g": lambda rng: _between(rng, "auto"),
    "normalization-10-controls": lambda rng: _normalization(rng, 10, False),
    "normalization-400-controls": lambda rng: _normalization(rng, 400, False),
    "normalization-selected-baseline": lambda rng: _normalization(rng, 10, True),
    "normalization-arms-selected": _normalization_arms,
    "group-x-time-sd1-ols": lambda rng: _group_by_time(rng, 1.0, "off"),
    "group-x-time-sd1-g": lambda rng: _group_by_time(rng, 1.0, "auto"),
    "group-x-time-sd2-ols": lambda rng: _group_by_time(rng, 2.0, "off"),
    "group-x-time-sd2-g": lambda rng: _group_by_time(rng, 2.0, "auto"),
    "group-x-time-sd3-ols": lambda rng: _group_by_time(rng, 3.0, "off"),
    "group-x-time-sd3-g": lambda rng: _group_by_time(rng, 3.0, "auto"),
    "mixed-interaction": _mixed_interaction,
    "paired-motion-unadjusted": lambda rng: _motion_crossover(rng, ("placebo", "drug"), False),
    "paired-motion-adjusted": lambda rng: _motion_crossover(rng, ("placebo", "drug"), True),
    "repeated-motion-adjusted": lambda rng: _motion_crossover(
        rng, ("placebo", "low", "high"), True
    ),
    "between-sites-normal": lambda rng: _between_sites(rng, "normal"),
    "between-sites-lognormal": lambda rng: _between_sites(rng, "lognormal"),
    "between-sites-lognormal-equal-sd": lambda rng: _between_sites(rng, "lognormal", 0.0, 1.0),
}

#: Designs with a planted effect: the rate is power (first measure only).
POWER: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "power-paired-n24-dz0.5": lambda rng: _power_paired(rng, 24, 0.5),
    "power-paired-n24-dz0.8": lambda rng: _power_paired(rng, 24, 0.8),
    "power-paired-motion-adjusted-0.5": lambda rng: _motion_crossover(
        rng, ("placebo", "drug"), True, 0.5
    ),
    "power-between-sites-1.5": lambda rng: _between_sites(rng, "normal", 1.5),
}


def calibrate(name: str, studies: int, alpha: float, seed: int) -> dict[str, object]:
    """Run one design's null studies; return its FPR, FWER and their Monte-Carlo SE."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    fpr, fwer = [], []
    for _ in range(studies):
        p, p_fwer = {**DESIGNS, **POWER}[name](rng)
        if name in POWER:
            p, p_fwer = p[:1], p_fwer[:1]
        fpr.append(np.mean(p < alpha))
        fwer.append(bool(np.any(p_fwer < alpha)))
    se = float(np.sqrt(alpha * (1 - alpha) / studies))
    return {
        "design": name,
        "studies": studies,
        "fpr_per_measure": round(float(np.mean(fpr)), 4),
        "fwer": round(float(np.mean(fwer)), 4),
        "monte_carlo_se": round(se, 4),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> int:
    """Calibrate the chosen designs; print the table (and write it as Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=[*DESIGNS, *POWER])
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    table = pd.DataFrame(
        [calibrate(name, args.studies, args.alpha, args.seed) for name in args.designs]
    )
    print(table.to_string(index=False))
    if args.markdown is not None:
        args.markdown.write_text(markdown_table(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
