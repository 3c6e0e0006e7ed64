"""clean_run: regressor choice, censoring, exclusion, filtering and provenance."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.signal import DenoiseConfig, clean_run, kept_volumes, select_confounds
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study

TR = 2.0
N_VOLUMES = 143  # odd, and unlike the 300 regions, so axis mix-ups fail


@pytest.fixture(scope="module")
def run() -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Return simulated signals, their confounds and the planted global source."""
    preset = load_preset("demo-crossover", seed=9)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=2),
        signal=SignalSpec(n_volumes=N_VOLUMES, repetition_time=TR, mean_fd=0.3),
    )
    signals = simulate_study(spec).runs[1].signals
    return signals.data, signals.confounds, signals.global_signal


def _meta(cumulative: tuple[float, ...]) -> dict[str, Any]:
    return {
        f"a_comp_cor_{i:02d}": {"CumulativeVarianceExplained": c, "Mask": "combined"}
        for i, c in enumerate(cumulative)
    }


def _with_fd(confounds: pd.DataFrame, high: list[int]) -> pd.DataFrame:
    table = confounds.copy()
    fd = np.full(len(table), 0.1)
    fd[0] = np.nan
    fd[high] = 2.0
    table["framewise_displacement"] = fd
    return table


def test_missing_columns_are_all_named(run: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> None:
    """A strategy's missing columns are listed together in one InputError."""
    data, confounds, _ = run
    table = confounds.drop(columns=["rot_z", "trans_x_derivative1"])
    with pytest.raises(InputError, match="missing: rot_z, trans_x_derivative1"):
        clean_run(data, table, TR, DenoiseConfig("24p"))
    with pytest.raises(InputError, match=re.escape("aroma_motion_XX (any)")):
        clean_run(data, confounds, TR, DenoiseConfig("aroma"))
    with pytest.raises(InputError, match="a_comp_cor_03"):
        clean_run(
            data,
            confounds.drop(columns=["a_comp_cor_03"]),
            TR,
            DenoiseConfig("acompcor", n_compcor=4),
        )
    cosines = [c for c in confounds.columns if c.startswith("cosine")]
    with pytest.raises(InputError, match="needs fMRIPrep's cosineXX columns"):
        clean_run(
            data, confounds.drop(columns=cosines), TR, DenoiseConfig("acompcor", n_compcor=2)
        )
    with pytest.raises(InputError, match="no 'std_dvars' column"):
        clean_run(
            data,
            confounds.drop(columns=["std_dvars"]),
            TR,
            DenoiseConfig("6p", std_dvars_threshold=1.5),
        )


def test_regressor_sets_have_the_defined_sizes(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    """6p=6, 24p=24, 24p+gsr=28, 36p=36, acompcor=12+cosines+components, aroma=2(+1)."""
    _, confounds, _ = run
    confounds = confounds.assign(aroma_motion_00=0.0)
    n_cosines = sum(c.startswith("cosine") for c in confounds.columns)
    sizes = {
        "none": 0,
        "none+gsr": 1,
        "6p": 6,
        "6p+gsr": 7,
        "24p": 24,
        "24p+gsr": 28,
        "36p": 36,
        "aroma": 2,
        "aroma+gsr": 3,
    }
    for strategy, size in sizes.items():
        assert select_confounds(confounds, DenoiseConfig(strategy)).shape[1] == size, strategy
    thirty_six = set(select_confounds(confounds, DenoiseConfig("36p")).columns)
    assert {"global_signal_derivative1_power2", "csf_power2", "rot_y_derivative1"} <= thirty_six
    compcor = select_confounds(confounds, DenoiseConfig("acompcor"), _meta((0.3, 0.5, 0.7)))
    assert compcor.shape[1] == 12 + n_cosines + 2
    assert list(compcor.columns[-2:]) == ["a_comp_cor_00", "a_comp_cor_01"]


def test_compcor_choice_from_the_json(run: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> None:
    """50 % cumulative variance, combined mask only, Retained honoured, int counts checked."""
    data, confounds, _ = run
    meta = _meta((0.2, 0.45, 0.52, 0.6, 0.7))
    meta["a_comp_cor_05"] = {"CumulativeVarianceExplained": 0.1, "Mask": "WM"}
    result = clean_run(data, confounds, TR, DenoiseConfig("acompcor"), meta)
    assert result.record["compcor"]["columns"] == [
        "a_comp_cor_00",
        "a_comp_cor_01",
        "a_comp_cor_02",
    ]
    assert result.record["compcor"]["cumulative_variance"] == pytest.approx(0.52)
    two = clean_run(data, confounds, TR, DenoiseConfig("acompcor", n_compcor=2), meta)
    assert two.record["compcor"]["columns"] == ["a_comp_cor_00", "a_comp_cor_01"]
    with pytest.raises(InputError, match="lists only 5 combined-mask"):
        clean_run(data, confounds, TR, DenoiseConfig("acompcor", n_compcor=6), meta)
    with pytest.raises(InputError, match="pass confounds_meta"):
        clean_run(data, confounds, TR, DenoiseConfig("acompcor"))
    blind = clean_run(data, confounds, TR, DenoiseConfig("acompcor", n_compcor=3))
    assert blind.record["compcor"]["mask_checked"] is False


def test_min_remaining_excludes_with_the_reason(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    """Too few volumes left is an exclusion with a reason and no data, not an error."""
    data, confounds, _ = run
    table = _with_fd(confounds, list(range(10, 70)))
    config = DenoiseConfig("24p", fd_threshold=0.5, min_remaining=0.7)
    result = clean_run(data, table, TR, config)
    assert result.excluded
    assert result.reason is not None
    assert "only 83 of 143 volumes" in result.reason
    assert "min_remaining=0.7 requires 101" in result.reason
    assert "60 over the FD/DVARS thresholds" in result.reason
    assert result.data.shape == (0, data.shape[1])
    assert result.n_censored == 60
    assert result.record["excluded"] is True
    assert result.record["reason"] == result.reason
    kept = clean_run(data, table, TR, replace(config, min_remaining=80))
    assert not kept.excluded
    assert kept.reason is None
    assert kept.data.shape == (83, data.shape[1])


def test_everything_censored_is_an_exclusion(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    """All volumes removed, or too few for the regressors, excludes the run."""
    data, confounds, _ = run
    table = _with_fd(confounds, list(range(1, N_VOLUMES)))
    table = table.assign(non_steady_state_outlier_00=np.eye(N_VOLUMES)[0])
    result = clean_run(data, table, TR, DenoiseConfig("6p", fd_threshold=0.5))
    assert result.excluded
    assert result.reason is not None
    assert result.reason.startswith(f"all {N_VOLUMES} volumes were removed")
    few = _with_fd(confounds, list(range(30, N_VOLUMES)))
    result = clean_run(data, few, TR, DenoiseConfig("36p", fd_threshold=0.5))
    assert result.excluded
    assert result.reason is not None
    assert "too few for 36 nuisance regressors" in result.reason


def test_nonsteady_volumes_are_dropped(run: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> None:
    """Volumes flagged non-steady-state by fMRIPrep go, unless asked to keep them."""
    data, confounds, _ = run
    table = confounds.assign(
        **{f"non_steady_state_outlier_{i:02d}": np.eye(N_VOLUMES)[i] for i in range(3)}
    )
    result = clean_run(data, table, TR, DenoiseConfig("6p"))
    assert result.kept[:3].tolist() == [False, False, False]
    assert result.kept[3:].all()
    assert result.data.shape == (N_VOLUMES - 3, data.shape[1])
    assert result.record["censored_by"]["nonsteady"] == 3
    assert result.record["censored_volumes"] == [0, 1, 2]
    # the first volumes no longer matter at all
    spiked = data.copy()
    spiked[:3] += 1e4
    again = clean_run(spiked, table, TR, DenoiseConfig("6p"))
    np.testing.assert_allclose(again.data, result.data, atol=1e-8)
    kept = clean_run(data, table, TR, DenoiseConfig("6p", drop_nonsteady=False))
    assert kept.kept.all()
    assert kept.n_censored == 0


def test_short_segments_are_censored(run: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> None:
    """Runs of kept volumes shorter than min_segment go too (Power et al. 2014)."""
    _, confounds, _ = run
    table = _with_fd(confounds, [10, 13, 20, 140])
    kept = kept_volumes(table, DenoiseConfig("6p", fd_threshold=0.5, min_segment=5))
    removed = np.flatnonzero(~kept).tolist()
    assert removed == [10, 11, 12, 13, 20, 140, 141, 142]
    assert kept_volumes(table, DenoiseConfig("6p", fd_threshold=0.5)).sum() == N_VOLUMES - 4


def test_censored_values_do_not_leak(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray], rng: np.random.Generator
) -> None:
    """Whatever the censored volumes hold, the kept volumes come out the same.

    Censored volumes are interpolated from kept ones before filtering and left
    out of the regression, so an artifact there cannot reach the result.
    """
    data, confounds, _ = run
    censored = [15, 16, 40, 41, 42, 90, N_VOLUMES - 1 - 15, N_VOLUMES - 1 - 40]
    table = _with_fd(confounds, censored)
    for config in (
        DenoiseConfig("24p", fd_threshold=0.5, high_pass=0.01, low_pass=0.08),
        DenoiseConfig("24p", fd_threshold=0.5),
    ):
        clean = clean_run(data, table, TR, config)
        spiked = data.copy()
        spiked[censored] += rng.normal(0, 1e3, size=(len(censored), data.shape[1]))
        assert np.abs(clean_run(spiked, table, TR, config).data - clean.data).max() < 1e-8


def test_bandpass_removes_power_outside_the_band(rng: np.random.Generator) -> None:
    """White noise keeps its power inside 0.01-0.08 Hz and loses it outside."""
    n_volumes, repetition_time = 601, 2.0
    noise = rng.standard_normal((n_volumes, 7))
    empty = pd.DataFrame(index=range(n_volumes))
    result = clean_run(
        noise, empty, repetition_time, DenoiseConfig("none", high_pass=0.01, low_pass=0.08)
    )
    frequencies = np.fft.rfftfreq(n_volumes, d=repetition_time)
    taper = np.hanning(n_volumes)[:, None]  # keeps in-band power from leaking in the estimate
    before = np.abs(np.fft.rfft(noise * taper, axis=0)) ** 2
    after = np.abs(np.fft.rfft(result.data * taper, axis=0)) ** 2
    inside = (frequencies > 0.02) & (frequencies < 0.06)
    assert after[inside].mean() > 0.9 * before[inside].mean()
    for low, high in ((0.0, 0.004), (0.12, 0.15), (0.15, 0.26)):
        band = (frequencies >= low) & (frequencies < high)
        assert after[band].mean() < 1e-4 * before[band].mean(), (low, high)
    assert result.record["filter"]["low_pass"] == 0.08
    # the ideal-filter share of the spectrum: (0.01 + 0.25 - 0.08) / 0.25 of the volumes
    assert result.record["dof"]["filter"] == pytest.approx(0.72 * n_volumes)


def test_gsr_removes_the_global_component(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    """With GSR the mean over regions vanishes and regions decorrelate from it."""
    data, confounds, source = run
    plain = clean_run(data, confounds, TR, DenoiseConfig("24p")).data
    gsr = clean_run(data, confounds, TR, DenoiseConfig("24p+gsr")).data
    # the table's global_signal is the mean over these regions: it is regressed out exactly
    assert np.abs(gsr.mean(axis=1)).max() < 1e-8 * np.abs(plain.mean(axis=1)).max()
    source = source - source.mean()

    def mean_correlation(values: np.ndarray) -> float:
        centred = values - values.mean(axis=0)
        r = centred.T @ source / np.sqrt((centred**2).sum(axis=0) * (source**2).sum())
        return float(r.mean())

    assert mean_correlation(plain) > 0.1
    assert abs(mean_correlation(gsr)) < 0.05


def test_record_counts_and_degrees_of_freedom(
    run: tuple[np.ndarray, pd.DataFrame, np.ndarray],
) -> None:
    """dof_lost adds removed volumes, regressors and the trend; the record is JSON-ready."""
    data, confounds, _ = run
    table = _with_fd(confounds, [50, 51, 52])
    result = clean_run(data, table, TR, DenoiseConfig("24p", fd_threshold=0.5))
    assert result.n_regressors == 24
    assert result.n_censored == 3
    assert result.n_kept == N_VOLUMES - 3
    assert result.dof_lost == 3 + 24 + 2
    assert result.dof_remaining == N_VOLUMES - 29
    record = json.loads(json.dumps(result.record))
    assert record["strategy"] == "24p"
    assert record["config"]["fd_threshold"] == 0.5
    assert record["censored_volumes"] == [50, 51, 52]
    assert record["censored_by"]["fd_exceeded"] == 3
    assert len(record["confound_columns"]) == 24
    assert record["description"].startswith("Denoising strategy '24p'.")
    assert "left out of the regression" not in record["scrubbing"]
    duplicated = confounds.assign(trans_x=confounds["trans_y"] * 2.0)
    rank = clean_run(data, duplicated, TR, DenoiseConfig("6p")).n_regressors
    assert rank == 5


def test_unusable_input_raises(run: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> None:
    """Bad shapes, non-finite data, a missing TR or a cut-off above Nyquist are errors."""
    data, confounds, _ = run
    config = DenoiseConfig("6p")
    with pytest.raises(InputError, match="143 volumes but the confounds table has 142"):
        clean_run(data, confounds.iloc[1:], TR, config)
    broken = data.copy()
    broken[7, 3] = np.nan
    with pytest.raises(InputError, match=re.escape("non-finite values in volumes [7]")):
        clean_run(broken, confounds, TR, config)
    with pytest.raises(InputError, match="repetition_time"):
        clean_run(data, confounds, 0.0, config)
    with pytest.raises(InputError, match=re.escape("Nyquist frequency 0.25 Hz")):
        clean_run(data, confounds, TR, DenoiseConfig("6p", low_pass=0.3))
    with pytest.raises(InputError, match="2D volumes x regions"):
        clean_run(data[:, 0], confounds, TR, config)
    holes = confounds.copy()
    holes.loc[5, "rot_x"] = np.nan
    with pytest.raises(InputError, match=r"\['rot_x'\].*rows \[5\]"):
        clean_run(data, holes, TR, config)
