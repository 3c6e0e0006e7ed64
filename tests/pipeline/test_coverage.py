"""Regions without a signal: found, left out of a run's measures, or the run excluded."""

from __future__ import annotations

import numpy as np
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.metrics import BundleConfig
from dmnpharm.pipeline._coverage import assess_coverage, widen
from dmnpharm.pipeline._process import process_run
from dmnpharm.signal import DenoiseConfig

ATLAS = load_atlas("seitzman300")
DMN = ATLAS.network_indices("DMN")
RNG = np.random.default_rng(3)


def signals(n_volumes: int = 120) -> np.ndarray:
    """Independent noise for every region of the atlas."""
    return RNG.standard_normal((n_volumes, ATLAS.n_regions))


def test_every_region_with_a_signal_is_complete() -> None:
    """Noise in every region: complete, nothing to record."""
    coverage = assess_coverage(signals(), ATLAS, BundleConfig(), "pearson")
    assert coverage.complete
    assert coverage.exclusion is None
    assert coverage.record() == {}


def test_constant_empty_and_nan_regions_are_found() -> None:
    """Constant, all-NaN and partly infinite columns all lack a signal."""
    data = signals()
    data[:, 0] = 2.0
    data[:, 5] = np.nan
    data[7, 9] = np.inf
    coverage = assess_coverage(data, ATLAS, BundleConfig(), "pearson")
    assert coverage.missing == [ATLAS.labels[i] for i in (0, 5, 9)]
    assert coverage.exclusion is None
    assert coverage.record()["n_regions_measured"] == ATLAS.n_regions - 3


def test_too_few_dmn_regions_exclude_the_run_at_the_stated_threshold() -> None:
    """Losing more than 20% of the DMN excludes; exactly 80% kept does not."""
    allowed = int(np.floor(0.2 * DMN.size))
    data = signals()
    data[:, DMN[:allowed]] = 0.0
    assert assess_coverage(data, ATLAS, BundleConfig(), "pearson").exclusion is None
    data[:, DMN[allowed]] = 0.0
    exclusion = assess_coverage(data, ATLAS, BundleConfig(), "pearson").exclusion
    assert exclusion is not None
    assert "min_dmn_coverage" in exclusion
    loose = BundleConfig(min_dmn_coverage=0.5)
    assert assess_coverage(data, ATLAS, loose, "pearson").exclusion is None


def test_a_lost_partner_network_or_the_tangent_estimator_excludes() -> None:
    """No salience region left: DMN-SN cannot be formed; tangent needs every region."""
    data = signals()
    data[:, ATLAS.network_indices("SN")] = np.nan
    exclusion = assess_coverage(data, ATLAS, BundleConfig(), "pearson").exclusion
    assert exclusion is not None
    assert "DMN-SN connectivity" in exclusion
    one = signals()
    one[:, 0] = 0.0
    exclusion = assess_coverage(one, ATLAS, BundleConfig(), "tangent").exclusion
    assert exclusion is not None
    assert "tangent" in exclusion


def test_min_dmn_coverage_is_checked() -> None:
    """A fraction outside (0, 1] is refused."""
    from dmnpharm.exceptions import InputError

    with pytest.raises(InputError, match="min_dmn_coverage"):
        BundleConfig(min_dmn_coverage=0.0)


def test_widen_puts_values_back_in_atlas_positions() -> None:
    """Columns and square matrices regain NaN rows and columns; complete passes through."""
    covered = np.array([True, False, True])
    assert np.array_equal(
        widen(np.array([[1.0, 2.0]]), covered), np.array([[1.0, np.nan, 2.0]]), equal_nan=True
    )
    square = widen(np.array([[0.0, 0.5], [0.5, 0.0]]), covered, square=True)
    assert square[0, 2] == 0.5
    assert np.isnan(square[1]).all()
    assert np.isnan(square[:, 1]).all()
    values = np.ones((2, 3))
    assert widen(values, np.ones(3, bool)) is values


def test_a_run_is_measured_on_its_covered_regions() -> None:
    """Network means equal those of the run without the lost regions; outputs keep atlas width."""
    config = AnalysisConfig(denoise=DenoiseConfig("none"), gsr_sensitivity=False)
    data = signals()
    lost = [int(DMN[0]), 3]
    data[:, lost] = 0.0
    done = process_run(data, None, None, 2.0, config, ATLAS, "run")
    assert done.excluded is None
    missing = done.record["coverage"]["regions_without_signal"]
    assert missing == [ATLAS.labels[i] for i in sorted(lost)]
    keep = np.setdiff1d(np.arange(ATLAS.n_regions), lost)
    reference = process_run(data[:, keep], None, None, 2.0, config, ATLAS.subset(keep), "run")
    ours = done.metrics.set_index("measure")["value"]
    theirs = reference.metrics.set_index("measure")["value"]
    network = done.metrics.loc[done.metrics["level"] == "network", "measure"]
    np.testing.assert_allclose(ours[network], theirs[network])
    assert done.matrix is not None
    assert done.matrix.shape == (ATLAS.n_regions,) * 2
    assert np.isnan(done.matrix[lost[0]]).all()
    assert done.cleaned[0].data.shape[1] == ATLAS.n_regions


def test_atlas_subset_keeps_each_regions_fields() -> None:
    """A subset has the chosen regions' labels, networks, coordinates, in atlas order."""
    part = ATLAS.subset([5, 1, 5])
    assert part.labels == (ATLAS.labels[1], ATLAS.labels[5])
    assert part.networks == (ATLAS.networks[1], ATLAS.networks[5])
    assert part.coords == (ATLAS.coords[1], ATLAS.coords[5])
    with pytest.raises(ValueError, match="outside"):
        ATLAS.subset([ATLAS.n_regions])
