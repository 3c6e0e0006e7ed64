"""QC: run summaries, the motion-imbalance warning, QC-FC."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dmnpharm.exceptions import InputError, MotionImbalanceWarning
from dmnpharm.simulate import DesignSpec, Effect, SignalSpec, StudySpec, simulate_study
from dmnpharm.stats import ModelSpec, motion_imbalance, qc_fc, run_qc


def test_run_qc_summarises_motion_and_censoring() -> None:
    """Mean and max FD ignore the first (NaN) volume; censoring is counted."""
    confounds = pd.DataFrame(
        {"framewise_displacement": [np.nan, 0.1, 0.3, 0.8], "std_dvars": [np.nan, 1, 1.2, 2]}
    )
    qc = run_qc(confounds, kept=np.array([True, True, True, False]), dof_lost=7)
    assert qc["mean_fd"] == pytest.approx(0.4)
    assert qc["max_fd"] == pytest.approx(0.8)
    assert qc["mean_std_dvars"] == pytest.approx(1.4)
    assert np.isnan(qc["mean_dvars"])
    assert qc["percent_censored"] == pytest.approx(25.0)
    assert qc["dof_lost"] == 7
    with pytest.raises(InputError, match="framewise_displacement"):
        run_qc(pd.DataFrame({"x": [1.0]}))


def _qc_table(spec: StudySpec) -> pd.DataFrame:
    study = simulate_study(spec)
    rows = []
    for run in study.runs:
        qc = run_qc(run.signals.confounds)
        rows.append({"participant_id": run.participant_id, "condition": run.condition, **qc})
    return pd.DataFrame(rows)


def test_motion_imbalance_warns_when_drug_moves_more() -> None:
    """A planted 0.08 mm FD increase under drug is detected and warned about; none is not."""
    design = DesignSpec(n_subjects=16)
    signal = SignalSpec(n_volumes=60)
    moving = StudySpec(design=design, signal=signal, effects=(Effect("motion", 0.08),), seed=3)
    spec = ModelSpec(within="condition", contrast=("drug", "placebo"))
    with pytest.warns(MotionImbalanceWarning, match="mean_fd differs between drug-placebo"):
        result = motion_imbalance(_qc_table(moving), spec, n_permutations=999)
    row = result.set_index("measure").loc["mean_fd"]
    assert row["estimate"] == pytest.approx(0.08, abs=0.03)
    still = StudySpec(design=design, signal=signal, effects=(Effect("within_fc", -0.1, "DMN"),))
    result = motion_imbalance(_qc_table(still), spec, n_permutations=999, alpha=0.001)
    assert not result["imbalanced"].any()


def test_qc_fc_equals_pearson_per_edge(rng: np.random.Generator) -> None:
    """QC-FC r equals scipy.stats.pearsonr per edge; significance shares are computed."""
    fd = pd.Series(rng.uniform(0.05, 0.5, 30), index=[f"s{i}" for i in range(30)])
    values = pd.DataFrame(rng.normal(size=(30, 50)), index=fd.index)
    values.iloc[:, :10] += 2 * fd.to_numpy()[:, None]  # motion-contaminated edges
    out = qc_fc(values, fd)
    rs = [sps.pearsonr(fd, values.iloc[:, k]).statistic for k in range(50)]
    assert out["median_abs_r"] == pytest.approx(np.median(np.abs(rs)), rel=1e-10)
    ps = [sps.pearsonr(fd, values.iloc[:, k]).pvalue for k in range(50)]
    assert out["percent_significant"] == pytest.approx(100 * np.mean(np.asarray(ps) < 0.05))
    with pytest.raises(InputError, match="at least 4 subjects"):
        qc_fc(values.iloc[:3], fd)
