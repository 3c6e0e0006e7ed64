"""clean_gsr_twins: a strategy and its GSR twin in one pass equal two calls of clean_run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from censored_run import RUN_TR, RUN_VOLUMES, censored_run
from dmnpharm.exceptions import InputError
from dmnpharm.signal import DenoiseConfig, clean_run
from dmnpharm.signal._twins import clean_gsr_twins

TR = RUN_TR


@pytest.fixture(scope="module")
def run() -> tuple[np.ndarray, pd.DataFrame]:
    """Return one simulated run's signals and confounds, with a few high-motion volumes."""
    # censored between kept volumes: interpolated for the filter
    return censored_run(4, [20, 21, 50, 77])


def _meta(n_components: int) -> dict[str, dict[str, object]]:
    return {
        f"a_comp_cor_{i:02d}": {"CumulativeVarianceExplained": 0.1 * (i + 1), "Mask": "combined"}
        for i in range(n_components)
    }


CONFIGS = [
    DenoiseConfig("6p"),
    DenoiseConfig("6p", gsr=True, fd_threshold=0.5),
    DenoiseConfig("24p", fd_threshold=0.5, min_segment=5),
    DenoiseConfig("none"),
    DenoiseConfig.recommended("acompcor"),
    replace(DenoiseConfig.recommended("24p"), gsr=True),
    DenoiseConfig("acompcor", high_pass=0.01, detrend=False),
    DenoiseConfig("aroma", low_pass=0.1),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{i}-{c.name}" for i, c in enumerate(CONFIGS)])
def test_each_twin_equals_its_own_clean_run(
    run: tuple[np.ndarray, pd.DataFrame], config: DenoiseConfig
) -> None:
    """Signals to rounding; record, kept volumes and regressor counts exactly."""
    data, confounds = run
    confounds = confounds.assign(aroma_motion_00=confounds["trans_x"] ** 2)
    meta = _meta(5)
    twin = replace(config, gsr=not config.gsr)
    ours = clean_gsr_twins(data, confounds, TR, config, meta)
    theirs = [clean_run(data, confounds, TR, each, meta) for each in (config, twin)]
    scale = np.abs(data).max()
    for one, other in zip(ours, theirs, strict=True):
        assert not other.excluded
        np.testing.assert_allclose(one.data, other.data, rtol=0, atol=1e-10 * scale)
        assert one.record == other.record
        assert one.n_regressors == other.n_regressors
        assert one.dof_lost == other.dof_lost
        np.testing.assert_array_equal(one.kept, other.kept)
    assert ours[0].record["strategy"] == config.name
    assert ours[1].record["strategy"] == twin.name


def test_the_twin_with_gsr_matches_an_independent_least_squares_fit(
    run: tuple[np.ndarray, pd.DataFrame],
) -> None:
    """No filter, no censoring: residuals of an intercept + trend + regressors lstsq fit."""
    data, confounds = run
    ours, with_gsr = clean_gsr_twins(data, confounds, TR, DenoiseConfig("6p"))
    times = np.arange(RUN_VOLUMES, dtype=float)
    for result, columns in (
        (ours, ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]),
        (with_gsr, ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "global_signal"]),
    ):
        design = np.column_stack([np.ones(RUN_VOLUMES), times, confounds[columns].to_numpy()])
        coefficients = np.linalg.lstsq(design, data, rcond=None)[0]
        np.testing.assert_allclose(result.data, data - design @ coefficients, atol=1e-9)


def test_the_twin_with_more_regressors_can_be_excluded_alone(
    run: tuple[np.ndarray, pd.DataFrame],
) -> None:
    """30 volumes hold 24p's 24 regressors and the trend but not 24p+gsr's 28."""
    data, confounds = run
    short_data, short_confounds = data[:30], confounds.iloc[:30].reset_index(drop=True)
    for config in (DenoiseConfig("24p"), DenoiseConfig("24p", gsr=True)):
        ours = clean_gsr_twins(short_data, short_confounds, TR, config)
        without, with_gsr = (ours[1], ours[0]) if config.gsr else ours
        assert not without.excluded
        assert with_gsr.excluded
        reference = clean_run(short_data, short_confounds, TR, DenoiseConfig("24p", gsr=True))
        assert with_gsr.reason == reference.reason
        assert with_gsr.record == reference.record
        assert with_gsr.data.shape == (0, data.shape[1])
        np.testing.assert_allclose(
            without.data,
            clean_run(short_data, short_confounds, TR, DenoiseConfig("24p")).data,
            atol=1e-10 * np.abs(data).max(),
        )


def test_a_global_signal_already_in_the_span_adds_no_regressor(
    run: tuple[np.ndarray, pd.DataFrame],
) -> None:
    """A global signal made of the motion regressors leaves the rank, and the signals, alone."""
    data, confounds = run
    motion = confounds[["trans_x", "rot_y"]].to_numpy()
    redundant = confounds.assign(global_signal=motion @ np.array([2.0, -0.5]) + 3.0)
    without, with_gsr = clean_gsr_twins(data, redundant, TR, DenoiseConfig("6p"))
    reference = clean_run(data, redundant, TR, DenoiseConfig("6p", gsr=True))
    assert with_gsr.n_regressors == without.n_regressors == reference.n_regressors == 6
    np.testing.assert_allclose(with_gsr.data, without.data, atol=1e-9)


def test_36p_has_no_twin_and_missing_columns_are_named(
    run: tuple[np.ndarray, pd.DataFrame],
) -> None:
    """36p includes the global signal; a twin needing a missing column says which."""
    data, confounds = run
    with pytest.raises(InputError, match="has no twin"):
        clean_gsr_twins(data, confounds, TR, DenoiseConfig("36p"))
    with pytest.raises(InputError, match="missing: global_signal"):
        clean_gsr_twins(data, confounds.drop(columns="global_signal"), TR, DenoiseConfig("6p"))
