"""clean_run agrees with nilearn's load_confounds + signal.clean where they overlap.

nilearn is fed the same confounds table, written under fMRIPrep's file names, and
selects its own regressors and sample mask; ``signal.clean`` then runs with
``standardize=None`` and ``extrapolate=False``. Agreement is required to 1e-6 of
the signals' largest value.

Two documented differences are tested for what does agree:

* without a filter, nilearn detrends the censored series as if its kept volumes
  were evenly spaced; clean_run uses their acquisition times, so it equals
  nilearn given that trend as an explicit confound;
* with a filter, nilearn 0.14's ``_interpolate_volumes`` indexes with
  ``~sample_mask`` on an integer index array, so a censored volume ``j`` is only
  interpolated when volume ``n - 1 - j`` is kept; agreement is checked on
  censoring patterns where that holds (clean_run interpolates every censored
  volume, see test_clean.py::test_censored_values_do_not_leak).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from nilearn.interfaces.fmriprep import load_confounds
from nilearn.signal import clean
from scipy.interpolate import CubicSpline

from dmnpharm.signal import DenoiseConfig, clean_run, select_confounds
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study

TR = 2.0
N_VOLUMES = 157
TOLERANCE = 1e-6
#: No DVARS censoring in nilearn (it always applies some threshold with "scrub").
NO_THRESHOLD = 1e9
#: Cumulative variance of the five simulated components: 50 % is reached at the 4th.
CUMULATIVE = (0.21, 0.36, 0.47, 0.55, 0.61)
#: Censored mid-run volumes whose mirror (n - 1 - j) is kept: safe for nilearn 0.14.
#: 21-22 make a segment shorter than 5 volumes.
SAFE_CENSORED = (20, 23, 60, 100, 101)
BOLD = "sub-01_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
AROMA_BOLD = "sub-01_task-rest_space-MNI152NLin2009cAsym_desc-smoothAROMAnonaggr_bold.nii.gz"
CONFOUNDS = "sub-01_task-rest_desc-confounds_timeseries"


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Return one simulated run: 157 volumes x 300 regions, its confounds and JSON."""
    preset = load_preset("demo-crossover", seed=5)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=2),
        signal=SignalSpec(n_volumes=N_VOLUMES, repetition_time=TR, mean_fd=0.3),
    )
    run = simulate_study(spec).runs[0]
    confounds = run.signals.confounds.copy()
    confounds["non_steady_state_outlier_00"] = np.eye(N_VOLUMES)[0]
    confounds["non_steady_state_outlier_01"] = np.eye(N_VOLUMES)[1]
    rng = np.random.default_rng(7)
    for index in range(3):
        confounds[f"aroma_motion_{index:02d}"] = rng.standard_normal(N_VOLUMES)
    fd = np.full(N_VOLUMES, 0.1)
    fd[0] = np.nan
    fd[list(SAFE_CENSORED)] = 0.9
    confounds["framewise_displacement"] = fd
    meta: dict[str, Any] = {
        f"a_comp_cor_{i:02d}": {
            "CumulativeVarianceExplained": c,
            "Mask": "combined",
            "Method": "aCompCor",
            "Retained": True,
        }
        for i, c in enumerate(CUMULATIVE)
    }
    meta["c_comp_cor_00"] = {"CumulativeVarianceExplained": 0.4, "Mask": "CSF", "Retained": True}
    return run.data, confounds, meta


def _write(folder: Path, confounds: pd.DataFrame, meta: dict[str, Any]) -> None:
    confounds.to_csv(folder / f"{CONFOUNDS}.tsv", sep="\t", index=False, na_rep="n/a")
    (folder / f"{CONFOUNDS}.json").write_text(json.dumps(meta))


def _nilearn(
    folder: Path,
    data: np.ndarray,
    config: DenoiseConfig,
    image: str = BOLD,
    extra: np.ndarray | None = None,
    **selection: Any,
) -> np.ndarray:
    regressors, sample_mask = load_confounds(str(folder / image), demean=False, **selection)
    matrix = None if regressors is None else regressors.to_numpy()
    if extra is not None:
        matrix = extra if matrix is None else np.column_stack([matrix, extra])
    cleaned: np.ndarray = clean(
        data,
        confounds=matrix,
        sample_mask=sample_mask,
        detrend=config.detrend,
        standardize=None,
        standardize_confounds=True,
        filter="butterworth",
        low_pass=config.low_pass,
        high_pass=config.high_pass,
        t_r=TR,
        extrapolate=False,
    )
    return cleaned


def _agreement(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Return (largest difference / largest reference value, smallest column correlation)."""
    assert ours.shape == reference.shape
    relative = float(np.abs(ours - reference).max() / np.abs(reference).max())
    a = ours - ours.mean(axis=0)
    b = reference - reference.mean(axis=0)
    correlation = (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    return relative, float(correlation.min())


#: (config, load_confounds selection, image) triples that define the same cleaning.
CASES: dict[str, tuple[DenoiseConfig, dict[str, Any], str]] = {
    "6p": (
        DenoiseConfig("6p"),
        {"strategy": ("motion",), "motion": "basic"},
        BOLD,
    ),
    "24p-bandpass": (
        DenoiseConfig("24p", high_pass=0.01, low_pass=0.08),
        {"strategy": ("motion",), "motion": "full"},
        BOLD,
    ),
    "24p+gsr-scrub-bandpass": (
        DenoiseConfig("24p+gsr", fd_threshold=0.5, high_pass=0.01, low_pass=0.08),
        {
            "strategy": ("motion", "global_signal", "scrub"),
            "motion": "full",
            "global_signal": "full",
            "scrub": 0,
            "fd_threshold": 0.5,
            "std_dvars_threshold": NO_THRESHOLD,
        },
        BOLD,
    ),
    "36p": (
        DenoiseConfig("36p"),
        {
            "strategy": ("motion", "wm_csf", "global_signal"),
            "motion": "full",
            "wm_csf": "full",
            "global_signal": "full",
        },
        BOLD,
    ),
    "36p-scrub-highpass": (
        DenoiseConfig("36p", fd_threshold=0.5, high_pass=0.01),
        {
            "strategy": ("motion", "wm_csf", "global_signal", "scrub"),
            "motion": "full",
            "wm_csf": "full",
            "global_signal": "full",
            "scrub": 0,
            "fd_threshold": 0.5,
            "std_dvars_threshold": NO_THRESHOLD,
        },
        BOLD,
    ),
    "36p-scrub-segments-nodetrend": (
        DenoiseConfig("36p", fd_threshold=0.5, min_segment=5, detrend=False),
        {
            "strategy": ("motion", "wm_csf", "global_signal", "scrub"),
            "motion": "full",
            "wm_csf": "full",
            "global_signal": "full",
            "scrub": 5,
            "fd_threshold": 0.5,
            "std_dvars_threshold": NO_THRESHOLD,
        },
        BOLD,
    ),
    "acompcor-lowpass": (
        DenoiseConfig("acompcor", low_pass=0.1),
        {
            "strategy": ("motion", "high_pass", "compcor"),
            "motion": "derivatives",
            "compcor": "anat_combined",
            "n_compcor": 4,
        },
        BOLD,
    ),
    "acompcor+gsr-scrub-bandpass": (
        DenoiseConfig("acompcor+gsr", fd_threshold=0.5, high_pass=0.01, low_pass=0.1),
        {
            "strategy": ("motion", "high_pass", "compcor", "global_signal", "scrub"),
            "motion": "derivatives",
            "compcor": "anat_combined",
            "n_compcor": 4,
            "global_signal": "basic",
            "scrub": 0,
            "fd_threshold": 0.5,
            "std_dvars_threshold": NO_THRESHOLD,
        },
        BOLD,
    ),
    "aroma+gsr-bandpass": (
        DenoiseConfig("aroma+gsr", high_pass=0.01, low_pass=0.08),
        {
            "strategy": ("wm_csf", "global_signal", "ica_aroma"),
            "wm_csf": "basic",
            "global_signal": "basic",
            "ica_aroma": "full",
        },
        AROMA_BOLD,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_agrees_with_nilearn(
    case: str, simulated: tuple[np.ndarray, pd.DataFrame, dict[str, Any]], tmp_path: Path
) -> None:
    """Each strategy, with and without scrubbing and filters, equals nilearn's cleaning."""
    data, confounds, meta = simulated
    config, selection, image = CASES[case]
    _write(tmp_path, confounds, meta)
    ours = clean_run(data, confounds, TR, config, meta)
    reference = _nilearn(tmp_path, data, config, image, **selection)
    relative, correlation = _agreement(ours.data, reference)
    assert relative < TOLERANCE, (case, relative)
    assert correlation > 0.99999, (case, correlation)
    assert not ours.excluded


def test_compcor_50_percent_matches_nilearn_all(
    simulated: tuple[np.ndarray, pd.DataFrame, dict[str, Any]], tmp_path: Path
) -> None:
    """n_compcor=None picks fMRIPrep's retained components, which nilearn's 'all' reads.

    fMRIPrep lists the components it dropped as ``dropped_N``, so only the retained
    ones (up to 50 % cumulative variance) are ``a_comp_cor_XX`` in its JSON.
    """
    data, confounds, meta = simulated
    retained = {k: v for k, v in meta.items() if k not in ("a_comp_cor_04",)}
    retained["dropped_0"] = {"CumulativeVarianceExplained": 0.61, "Retained": False}
    table = confounds.drop(columns=["a_comp_cor_04"])
    _write(tmp_path, table, retained)
    config = DenoiseConfig("acompcor", high_pass=0.01)
    ours = clean_run(data, table, TR, config, retained)
    assert ours.record["compcor"]["columns"] == [f"a_comp_cor_{i:02d}" for i in range(4)]
    selection = {"strategy": ("motion", "high_pass", "compcor"), "motion": "derivatives"}
    reference = _nilearn(tmp_path, data, config, n_compcor="all", **selection)
    relative, _ = _agreement(ours.data, reference)
    assert relative < TOLERANCE


@pytest.mark.parametrize("filtered", [False, True])
def test_none_strategy_matches_nilearn_without_confounds(
    filtered: bool, simulated: tuple[np.ndarray, pd.DataFrame, dict[str, Any]]
) -> None:
    """Strategy 'none' only drops non-steady-state volumes, detrends and filters."""
    data, confounds, _ = simulated
    config = DenoiseConfig("none", high_pass=0.01 if filtered else None, low_pass=0.08)
    ours = clean_run(data, confounds, TR, config)
    reference = clean(
        data,
        sample_mask=np.arange(2, N_VOLUMES),
        detrend=True,
        standardize=None,
        filter="butterworth",
        high_pass=config.high_pass,
        low_pass=config.low_pass,
        t_r=TR,
        extrapolate=False,
    )
    relative, _ = _agreement(ours.data, reference)
    assert relative < TOLERANCE


def test_unfiltered_scrubbing_trend_on_acquisition_times(
    simulated: tuple[np.ndarray, pd.DataFrame, dict[str, Any]], tmp_path: Path
) -> None:
    """Without a filter, the trend is fitted on the kept volumes' real times.

    nilearn detrends the censored series as if it were contiguous; given the
    real-time trend as a confound (and no detrending of its own), its cleaned
    signals equal clean_run's up to their mean, which nilearn then keeps.
    """
    data, confounds, meta = simulated
    _write(tmp_path, confounds, meta)
    config = DenoiseConfig("24p", fd_threshold=0.5)
    ours = clean_run(data, confounds, TR, config, meta)
    selection = {
        "strategy": ("motion", "scrub"),
        "motion": "full",
        "scrub": 0,
        "fd_threshold": 0.5,
        "std_dvars_threshold": NO_THRESHOLD,
    }
    trend = np.arange(N_VOLUMES, dtype=float)
    reference = _nilearn(tmp_path, data, replace(config, detrend=False), extra=trend, **selection)
    relative, _ = _agreement(ours.data, reference - reference.mean(axis=0))
    assert relative < TOLERANCE
    nilearn_detrended = _nilearn(tmp_path, data, config, **selection)
    assert np.abs(ours.data - nilearn_detrended).max() > 1e3 * TOLERANCE


def test_any_censoring_pattern_agrees_once_censored_volumes_hold_the_interpolation(
    simulated: tuple[np.ndarray, pd.DataFrame, dict[str, Any]], tmp_path: Path
) -> None:
    """Censored volumes whose mirror is censored too also agree, given nilearn pre-filled data.

    Volumes 30-32 and their mirrors 124-126 are censored, so nilearn 0.14 would
    filter their raw values. Writing the cubic-spline interpolation into them
    beforehand (signals and regressors) leaves nothing for that to change;
    clean_run, given the raw values, must then equal nilearn.
    """
    data, confounds, meta = simulated
    censored = [30, 31, 32, 70, 124, 125, 126]
    table = confounds.copy()
    fd = np.full(N_VOLUMES, 0.1)
    fd[0] = np.nan
    fd[censored] = 0.9
    table["framewise_displacement"] = fd
    config = DenoiseConfig("36p", fd_threshold=0.5, high_pass=0.01, low_pass=0.08)
    columns = list(select_confounds(table, config).columns)
    kept = np.ones(N_VOLUMES, dtype=bool)
    kept[[0, 1, *censored]] = False
    times = np.arange(N_VOLUMES) * TR
    regressors = table[columns].to_numpy()
    regressors[0] = regressors[1]  # first-row n/a, filled as both tools do
    filled_data, filled_table = data.copy(), table.copy()
    filled_data[censored] = CubicSpline(times[kept], data[kept])(times[censored])
    filled_table.loc[censored, columns] = CubicSpline(times[kept], regressors[kept])(
        times[censored]
    )
    _write(tmp_path, filled_table, meta)
    selection = {
        "strategy": ("motion", "wm_csf", "global_signal", "scrub"),
        "motion": "full",
        "wm_csf": "full",
        "global_signal": "full",
        "scrub": 0,
        "fd_threshold": 0.5,
        "std_dvars_threshold": NO_THRESHOLD,
    }
    reference = _nilearn(tmp_path, filled_data, config, **selection)
    ours = clean_run(data, table, TR, config, meta)
    assert ours.kept.tolist() == kept.tolist()
    relative, correlation = _agreement(ours.data, reference)
    assert relative < TOLERANCE
    assert correlation > 0.99999
