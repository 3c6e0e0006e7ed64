"""Cleanings with and without the filter from one preparation equal separate calls."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from censored_run import RUN_TR, censored_run
from dmnpharm.exceptions import InputError
from dmnpharm.signal import CleanResult, DenoiseConfig, clean_run
from dmnpharm.signal._twins import clean_gsr_twins, twin_configs
from dmnpharm.signal._variants import clean_gsr_twin_variants, clean_run_variants, unfiltered

TR = RUN_TR


@pytest.fixture(scope="module")
def run() -> tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]]:
    """Return one simulated run's signals, confounds (a few high-motion volumes) and JSON."""
    # censored inside the kept span and near its edges
    data, confounds = censored_run(7, [2, 20, 21, 50, 77, 95])
    confounds = confounds.assign(aroma_motion_00=confounds["trans_x"] ** 2)
    meta = {
        f"a_comp_cor_{i:02d}": {"CumulativeVarianceExplained": 0.1 * (i + 1), "Mask": "combined"}
        for i in range(5)
    }
    return data, confounds, meta


def _assert_same(ours: CleanResult, theirs: CleanResult, scale: float) -> None:
    """Signals to rounding; everything else exactly."""
    assert ours.data.shape == theirs.data.shape
    np.testing.assert_allclose(ours.data, theirs.data, rtol=0, atol=1e-10 * scale)
    np.testing.assert_array_equal(ours.kept, theirs.kept)
    assert ours.record == theirs.record
    assert ours.reason == theirs.reason
    assert ours.excluded == theirs.excluded
    assert ours.n_regressors == theirs.n_regressors
    assert ours.n_censored == theirs.n_censored
    assert ours.dof_lost == theirs.dof_lost


BAND = {"high_pass": 0.01, "low_pass": 0.08}
CONFIGS = [
    DenoiseConfig.recommended("acompcor"),
    DenoiseConfig("acompcor", gsr=True, **BAND),
    DenoiseConfig("acompcor", high_pass=0.01, detrend=False),
    DenoiseConfig.recommended("24p"),
    DenoiseConfig("24p", gsr=True, fd_threshold=0.5, **BAND),
    DenoiseConfig("24p", **BAND),
    DenoiseConfig("6p", gsr=True, fd_threshold=0.5, min_segment=5, low_pass=0.1),
    DenoiseConfig("6p", fd_threshold=0.5),
    DenoiseConfig("aroma", gsr=True, fd_threshold=0.5, **BAND),
    DenoiseConfig("none", fd_threshold=0.5, **BAND),
    DenoiseConfig("none"),
]
IDS = [f"{i}-{c.name}-{'filter' if c.filters else 'nofilter'}" for i, c in enumerate(CONFIGS)]


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_variants_of_one_cleaning_equal_two_clean_runs(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]], config: DenoiseConfig
) -> None:
    """With and without the filter, as clean_run gives each."""
    data, confounds, meta = run
    filtered, wide = clean_run_variants(data, confounds, TR, config, meta)
    scale = float(np.abs(data).max())
    _assert_same(filtered, clean_run(data, confounds, TR, config, meta), scale)
    _assert_same(wide, clean_run(data, confounds, TR, unfiltered(config), meta), scale)
    assert wide.record["filter"] is None
    assert (wide is filtered) == (not config.filters)


def test_36p_has_filter_variants_but_no_twin(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]],
) -> None:
    """36p includes the global signal: no GSR twin, but both filter variants."""
    data, confounds, meta = run
    config = DenoiseConfig.recommended("36p")
    with pytest.raises(InputError, match="has no twin"):
        clean_gsr_twin_variants(data, confounds, TR, config, meta)
    filtered, wide = clean_run_variants(data, confounds, TR, config, meta)
    scale = float(np.abs(data).max())
    _assert_same(filtered, clean_run(data, confounds, TR, config, meta), scale)
    _assert_same(wide, clean_run(data, confounds, TR, unfiltered(config), meta), scale)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_variants_of_the_twins_equal_four_clean_runs(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]], config: DenoiseConfig
) -> None:
    """Both twins with and without the filter, as clean_gsr_twins and clean_run give them."""
    data, confounds, meta = run
    filtered, wides = clean_gsr_twin_variants(data, confounds, TR, config, meta)
    scale = float(np.abs(data).max())
    twins = clean_gsr_twins(data, confounds, TR, config, meta)
    wide_twins = clean_gsr_twins(data, confounds, TR, unfiltered(config), meta)
    twin = replace(config, gsr=not config.gsr)
    for index, each in enumerate((config, twin)):
        _assert_same(filtered[index], twins[index], scale)
        _assert_same(wides[index], wide_twins[index], scale)
        _assert_same(filtered[index], clean_run(data, confounds, TR, each, meta), scale)
        reference = clean_run(data, confounds, TR, unfiltered(each), meta)
        _assert_same(wides[index], reference, scale)
        assert wides[index].record["strategy"] == each.name
    assert (wides is filtered) == (not config.filters)


def test_a_span_too_short_for_the_filter_excludes_the_filtered_variant_only(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]],
) -> None:
    """The filter's edge padding needs a longer span; the unfiltered cleaning does not."""
    data, confounds, meta = run
    short_data, short_confounds = data[:30], confounds.iloc[:30].reset_index(drop=True)
    config = DenoiseConfig("6p", **BAND)
    filtered, wide = clean_run_variants(short_data, short_confounds, TR, config, meta)
    assert filtered.excluded
    assert "the filter needs more than" in str(filtered.reason)
    assert not wide.excluded
    scale = float(np.abs(data).max())
    _assert_same(filtered, clean_run(short_data, short_confounds, TR, config, meta), scale)
    _assert_same(wide, clean_run(short_data, short_confounds, TR, unfiltered(config)), scale)
    twins, wides = clean_gsr_twin_variants(short_data, short_confounds, TR, config, meta)
    for index, each in enumerate((config, replace(config, gsr=True))):
        assert twins[index].excluded
        assert not wides[index].excluded
        reference = clean_run(short_data, short_confounds, TR, unfiltered(each), meta)
        _assert_same(wides[index], reference, scale)


def test_too_few_volumes_for_the_twin_with_gsr_in_both_variants(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]],
) -> None:
    """30 volumes hold 24p's 24 regressors and the trend but not 24p+gsr's 28, filter or not."""
    data, confounds, meta = run
    short_data, short_confounds = data[:30], confounds.iloc[:30].reset_index(drop=True)
    config = DenoiseConfig("24p", low_pass=0.2)
    twins, wides = clean_gsr_twin_variants(short_data, short_confounds, TR, config, meta)
    scale = float(np.abs(data).max())
    for results, variant in ((twins, config), (wides, unfiltered(config))):
        without, with_gsr = results
        assert with_gsr.excluded
        assert with_gsr.data.shape == (0, data.shape[1])
        reference = clean_run(short_data, short_confounds, TR, replace(variant, gsr=True))
        _assert_same(with_gsr, reference, scale)
        _assert_same(without, clean_run(short_data, short_confounds, TR, variant), scale)


def test_a_cut_off_above_nyquist_is_refused_before_any_cleaning(
    run: tuple[np.ndarray, pd.DataFrame, dict[str, dict[str, object]]],
) -> None:
    """The filtered cleaning's checks apply to both variants, as with separate calls."""
    data, confounds, meta = run
    config = DenoiseConfig("6p", low_pass=0.3)
    for clean in (clean_run_variants, clean_gsr_twin_variants):
        with pytest.raises(InputError, match="Nyquist"):
            clean(data, confounds, TR, config, meta)


def test_unfiltered_and_twin_configs() -> None:
    """The unfiltered config drops both cut-offs only; the twin with GSR comes first."""
    config = DenoiseConfig.recommended("24p")
    wide = unfiltered(config)
    assert not wide.filters
    assert wide == replace(config, high_pass=None, low_pass=None)
    assert unfiltered(wide) is wide
    with_gsr, without = twin_configs(config)
    assert with_gsr == replace(config, gsr=True)
    assert without is config
    assert twin_configs(with_gsr) == (with_gsr, config)
    with pytest.raises(InputError, match="has no twin"):
        twin_configs(DenoiseConfig("36p"))
