"""Sliding-window FC against a loop over windows and the full-run FC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from dmnpharm.exceptions import InputError
from dmnpharm.metrics import fisher_z_connectivity, network_mean_fc, sliding_window_fc

NETWORKS = ["DMN", "SN", "DMN", "FPN", "DMN", "SN", "DMN"]


def _series(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seven regions; the DMN columns share a signal."""
    x = rng.standard_normal((n, len(NETWORKS)))
    dmn = [i for i, net in enumerate(NETWORKS) if net == "DMN"]
    x[:, dmn] += rng.standard_normal((n, 1))
    return x + 100.0


def _loop_windows(x: np.ndarray, width: int, step: int, weights: np.ndarray) -> list[float]:
    dmn = [i for i, net in enumerate(NETWORKS) if net == "DMN"]
    out = []
    for start in range(0, x.shape[0] - width + 1, step):
        cov = np.cov(x[start : start + width, dmn].T, aweights=weights)
        r = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        out.append(
            np.mean([np.arctanh(r[i, j]) for i in range(len(dmn)) for j in range(i + 1, len(dmn))])
        )
    return out


def test_one_window_equals_full_run_fc(rng: np.random.Generator) -> None:
    """A window covering the whole run gives the run's within-DMN mean Fisher z."""
    x = _series(rng, 53)
    res = sliding_window_fc(x, NETWORKS, repetition_time=2.0, window_s=106.0)
    dmn = np.flatnonzero(np.array(NETWORKS) == "DMN")
    expected = network_mean_fc(fisher_z_connectivity(x), dmn, dmn)
    assert res.values.shape == (1,)
    assert res.mean == pytest.approx(expected, rel=1e-10)
    assert math.isnan(res.std)
    assert res.window_volumes == 53


def test_rectangular_windows_match_loop(rng: np.random.Generator) -> None:
    """Every window equals np.corrcoef on its slice; mean and SD (ddof=1) of those."""
    x = _series(rng, 67)
    res = sliding_window_fc(x, NETWORKS, repetition_time=1.5, window_s=30.0, step=3)
    assert res.window_volumes == 20
    np.testing.assert_array_equal(res.starts, np.arange(0, 48, 3))
    expected = _loop_windows(x, 20, 3, np.ones(20))
    np.testing.assert_allclose(res.values, expected, rtol=1e-10)
    assert res.mean == pytest.approx(np.mean(expected))
    assert res.std == pytest.approx(np.std(expected, ddof=1))
    assert res.taper_sigma_s is None
    assert res.repetition_time == 1.5
    assert res.network == "DMN"


def test_windows_hold_for_offset_drifting_and_nearly_flat_signals(
    rng: np.random.Generator,
) -> None:
    """Windows equal np.corrcoef's with a large offset, a drift, and a nearly flat stretch.

    As uncleaned BOLD can be: an offset of 1000 and a slow drift, and a region whose
    variance in some windows is far below its variance over the run.
    """
    n = 300
    t = np.arange(n)[:, None]
    x = 1000.0 + 0.05 * t + rng.standard_normal((n, len(NETWORKS)))
    x[:, [0, 2, 4, 6]] += rng.standard_normal((n, 1))
    flat = x.copy()
    flat[100:140, 2] = 1000.0 + 1e-6 * rng.standard_normal(40)
    for data in (x, flat):
        res = sliding_window_fc(data, NETWORKS, repetition_time=2.0, window_s=60.0, step=1)
        expected = _loop_windows(data, 30, 1, np.ones(30))
        np.testing.assert_allclose(res.values, expected, rtol=1e-10)


def test_tapered_windows_match_weighted_loop(rng: np.random.Generator) -> None:
    """Taper = rectangle convolved with a Gaussian, integrated numerically here."""
    x = _series(rng, 61)
    repetition_time, width, sigma_volumes = 2.0, 22, 3.0
    res = sliding_window_fc(
        x, NETWORKS, repetition_time=repetition_time, window_s=44.0, step=5, taper_sigma_s=6.0
    )
    t = np.arange(width) - (width - 1) / 2
    weights = np.array(
        [
            integrate.quad(lambda u, c=c: norm.pdf(c - u, scale=sigma_volumes), -11, 11)[0]
            for c in t
        ]
    )
    assert weights[0] < 0.6 * weights.max()  # edges down-weighted
    expected = _loop_windows(x, width, 5, weights)
    np.testing.assert_allclose(res.values, expected, rtol=1e-8)
    assert res.taper_sigma_s == 6.0


def test_sliding_window_refuses_bad_settings(rng: np.random.Generator) -> None:
    """Run shorter than a window, bad step or TR, constant window: clear messages."""
    x = _series(rng, 25)
    with pytest.raises(
        InputError, match=r"25 volumes \(50 s at TR 2 s\), shorter than one window"
    ):
        sliding_window_fc(x, NETWORKS, repetition_time=2.0)
    with pytest.raises(InputError, match="step"):
        sliding_window_fc(x, NETWORKS, repetition_time=2.0, window_s=20.0, step=0)
    with pytest.raises(InputError, match="repetition_time must be a positive number of seconds"):
        sliding_window_fc(x, NETWORKS, repetition_time=0.0)
    with pytest.raises(InputError, match="need >= 3"):
        sliding_window_fc(x, NETWORKS, repetition_time=2.0, window_s=3.0)
    with pytest.raises(InputError, match="has 1 region"):
        sliding_window_fc(x, NETWORKS, repetition_time=2.0, window_s=20.0, network="FPN")
    x[:12, 2] = 5.0
    with pytest.raises(InputError, match="region column 2 is constant in the window starting"):
        sliding_window_fc(x, NETWORKS, repetition_time=2.0, window_s=20.0)


@pytest.mark.parametrize("taper_sigma_s", [None, 6.0])
@pytest.mark.parametrize("step", [1, 3])
def test_many_regions_match_weighted_corrcoef_per_window(
    rng: np.random.Generator, taper_sigma_s: float | None, step: int
) -> None:
    """40 regions (several row blocks) and more windows than a batch: equal to a loop.

    The reference weights each window with the module's own taper (checked
    against numerical integration above) and takes np.cov with those weights,
    so the standardise-then-multiply path must agree to rounding.
    """
    from dmnpharm.metrics._dynamics import _taper

    n, regions, width = 120, 40, 30
    labels = ["DMN"] * regions + ["SN"] * 3
    x = 50.0 + rng.standard_normal((n, regions + 3)) + 0.8 * rng.standard_normal((n, 1))
    res = sliding_window_fc(
        x, labels, repetition_time=2.0, window_s=60.0, step=step, taper_sigma_s=taper_sigma_s
    )
    weights = _taper(width, None if taper_sigma_s is None else taper_sigma_s / 2.0)
    iu = np.triu_indices(regions, k=1)
    expected = []
    for start in range(0, n - width + 1, step):
        cov = np.cov(x[start : start + width, :regions].T, aweights=weights)
        sd = np.sqrt(np.diag(cov))
        expected.append(np.mean(np.arctanh((cov / np.outer(sd, sd))[iu])))
    assert res.values.size == len(expected) > 16
    np.testing.assert_allclose(res.values, expected, rtol=0, atol=1e-12)
    assert res.std == pytest.approx(np.std(expected, ddof=1), abs=1e-12)


@pytest.mark.parametrize("regions", [2, 3, 16, 17, 67, 100])
def test_pair_blocks_weigh_each_pair_once(regions: int) -> None:
    """The row blocks' weights put 1 / pairs on every pair above the diagonal, once."""
    from dmnpharm.metrics._dynamics import _pair_blocks

    total = np.zeros((regions, regions))
    for a, b, share in _pair_blocks(regions):
        total[a:b, a:] += share.reshape(b - a, regions - a)
    pairs = regions * (regions - 1) // 2
    np.testing.assert_array_equal(total, np.triu(np.full((regions, regions), 1.0 / pairs), k=1))
