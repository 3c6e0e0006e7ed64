"""Simulated head motion, framewise displacement, DVARS and the fMRIPrep confounds table."""

import numpy as np
import pytest
import scipy.fft

from dmnpharm.exceptions import InputError
from dmnpharm.simulate import (
    cosine_basis,
    dvars,
    fmriprep_confounds,
    framewise_displacement,
    motion_artifact,
    simulate_motion,
)
from dmnpharm.simulate._motion import gaussian_smooth

#: Realised mean FD must match the request this closely (relative); the
#: calibration solves for it exactly, so only floating-point error remains.
FD_RTOL = 1e-6


@pytest.mark.parametrize("mean_fd", [0.1, 0.25, 0.5])
def test_mean_fd_matches_request_for_every_seed(rng: np.random.Generator, mean_fd: float) -> None:
    """Every simulated run has the requested mean FD, whatever the TR, length and seed."""
    for n_volumes, repetition_time in [(37, 1.5), (211, 2.0), (503, 0.72), (97, 3.1)]:
        for _ in range(25):
            params = simulate_motion(rng, n_volumes, repetition_time, mean_fd)
            assert params.shape == (n_volumes, 6)
            realised = np.nanmean(framewise_displacement(params))
            assert realised == pytest.approx(mean_fd, rel=FD_RTOL)


def test_two_motion_levels_differ_as_requested(rng: np.random.Generator) -> None:
    """A run asked for 2.5 times the mean FD of another has 2.5 times its mean FD."""
    low = simulate_motion(rng, 151, 2.0, 0.1)
    high = simulate_motion(rng, 151, 2.0, 0.25)
    ratio = np.nanmean(framewise_displacement(high)) / np.nanmean(framewise_displacement(low))
    assert ratio == pytest.approx(2.5, rel=2 * FD_RTOL)


def test_framewise_displacement_matches_hand_computation() -> None:
    """FD equals a loop over volumes and axes, with rotations as 50 mm arcs."""
    params = np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.1, -0.2, 0.05, 0.001, -0.002, 0.0],
            [0.3, -0.1, 0.05, 0.0, 0.0, 0.004],
        ]
    )
    expected = [np.nan]
    for t in range(1, 3):
        total = 0.0
        for k in range(6):
            step = abs(params[t, k] - params[t - 1, k])
            total += step * 50.0 if k >= 3 else step
        expected.append(total)
    fd = framewise_displacement(params)
    assert np.isnan(fd[0])
    np.testing.assert_allclose(fd[1:], expected[1:], rtol=1e-12)
    assert fd[1] == pytest.approx(0.1 + 0.2 + 0.05 + 0.05 + 0.1)
    np.testing.assert_allclose(framewise_displacement(params, radius_mm=80.0)[1], 0.59)


def test_motion_has_spikes_and_mostly_slow_power(rng: np.random.Generator) -> None:
    """Runs have jerks (peak FD far above the mean) and most parameter power below 0.05 Hz."""
    n_volumes, repetition_time = 401, 2.0
    for _ in range(20):
        params = simulate_motion(rng, n_volumes, repetition_time, 0.25, spike_rate=2.0)
        fd = framewise_displacement(params)
        assert np.nanmax(fd) > 4 * np.nanmean(fd)
        in_mm = params * np.array([1, 1, 1, 50, 50, 50])
        power = np.abs(np.fft.rfft(in_mm - in_mm.mean(axis=0), axis=0)) ** 2
        freqs = np.fft.rfftfreq(n_volumes, d=repetition_time)
        assert power[freqs < 0.05].sum() > 0.5 * power.sum()


def test_simulate_motion_rejects_bad_input(rng: np.random.Generator) -> None:
    """Bad arguments raise InputError naming the parameter."""
    with pytest.raises(InputError, match="mean_fd"):
        simulate_motion(rng, 37, 2.0, -0.1)
    with pytest.raises(InputError, match="n_volumes"):
        simulate_motion(rng, 1, 2.0, 0.2)
    with pytest.raises(InputError, match="drift_mm"):
        simulate_motion(rng, 37, 2.0, 0.01, drift_mm=5.0)
    with pytest.raises(InputError, match="6 columns"):
        framewise_displacement(np.zeros((37, 5)))


def test_dvars_matches_loop_and_std_dvars_is_one_for_white_noise(
    rng: np.random.Generator,
) -> None:
    """DVARS equals a brute-force loop; std_dvars averages 1 (within 0.03) for white noise."""
    small = rng.normal(5.0, 2.0, size=(37, 11))
    raw, _ = dvars(small)
    assert np.isnan(raw[0])
    for t in range(1, 37):
        squares = [(small[t, i] - small[t - 1, i]) ** 2 for i in range(11)]
        assert raw[t] == pytest.approx(np.sqrt(sum(squares) / 11), rel=1e-12)
    white = rng.normal(100.0, 3.0, size=(203, 509))
    _, standardised = dvars(white)
    assert np.isnan(standardised[0])
    assert np.nanmean(standardised) == pytest.approx(1.0, abs=0.03)


def test_std_dvars_accounts_for_autocorrelation(rng: np.random.Generator) -> None:
    """For AR(1) signals std_dvars still averages about 1, while DVARS shrinks."""
    phi, n_volumes = 0.8, 307
    noise = rng.standard_normal((n_volumes, 401))
    series = np.zeros_like(noise)
    for t in range(1, n_volumes):
        series[t] = phi * series[t - 1] + np.sqrt(1 - phi**2) * noise[t]
    raw, standardised = dvars(series)
    assert np.nanmean(raw) < 0.75 * np.sqrt(2)
    assert np.nanmean(standardised) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(("n_volumes", "repetition_time"), [(37, 1.5), (371, 1.3), (64, 2.0)])
def test_cosine_basis_matches_dct_and_cutoff(n_volumes: int, repetition_time: float) -> None:
    """Columns are the orthonormal DCT-II rows 1.. and stop below the 1/128 Hz cutoff."""
    basis = cosine_basis(n_volumes, repetition_time)
    order = max(int(np.floor(2 * n_volumes * repetition_time / 128.0)), 1)
    # nilearn/Nipype count the constant column in `order`; fMRIPrep writes the rest.
    assert basis.shape == (n_volumes, order - 1)
    dct = scipy.fft.dct(np.eye(n_volumes), type=2, norm="ortho", axis=0)
    np.testing.assert_allclose(basis, dct[1:order].T, atol=1e-12)
    np.testing.assert_allclose(basis.T @ basis, np.eye(order - 1), atol=1e-10)
    freqs = np.arange(1, order) / (2 * n_volumes * repetition_time)
    assert np.all(freqs < 1 / 128.0)
    # ... and, like Nipype, they stop one short: the next cosine would reach the cutoff.
    assert (order + 1) / (2 * n_volumes * repetition_time) > 1 / 128.0


def test_confounds_table_has_fmriprep_columns(rng: np.random.Generator) -> None:
    """The table has fMRIPrep's names in order and NaN first rows for differences and FD."""
    n_volumes, repetition_time = 201, 1.9
    params = simulate_motion(rng, n_volumes, repetition_time, 0.2)
    data = rng.standard_normal((n_volumes, 11))
    table = fmriprep_confounds(
        params,
        global_signal=data.mean(axis=1),
        csf=rng.standard_normal(n_volumes),
        white_matter=rng.standard_normal(n_volumes),
        data=data,
        acompcor=rng.standard_normal((n_volumes, 5)),
        repetition_time=repetition_time,
    )
    suffixes = ["", "_derivative1", "_power2", "_derivative1_power2"]
    motion = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    n_cosines = int(np.floor(2 * n_volumes * repetition_time / 128.0)) - 1
    expected = (
        [f"{base}{s}" for base in ["global_signal", "csf", "white_matter"] for s in suffixes]
        + ["dvars", "std_dvars", "framewise_displacement"]
        + [f"{base}{s}" for base in motion for s in suffixes]
        + [f"a_comp_cor_{k:02d}" for k in range(5)]
        + [f"cosine{k:02d}" for k in range(n_cosines)]
    )
    assert list(table.columns) == expected
    assert len(table) == n_volumes
    first_nan = ["dvars", "std_dvars", "framewise_displacement"]
    first_nan += [c for c in table.columns if "derivative1" in c]
    assert table.iloc[0][first_nan].isna().all()
    assert table.iloc[1:].notna().all().all()
    np.testing.assert_allclose(table["trans_y"], params[:, 1])
    np.testing.assert_allclose(table["rot_z_power2"], params[:, 5] ** 2)
    np.testing.assert_allclose(table["csf_derivative1"][1:], np.diff(table["csf"]))
    assert table["framewise_displacement"].mean() == pytest.approx(0.2, rel=FD_RTOL)


def test_confounds_table_rejects_length_mismatch(rng: np.random.Generator) -> None:
    """A regressor of the wrong length is named in the error."""
    params = simulate_motion(rng, 37, 2.0, 0.2)
    with pytest.raises(InputError, match="white_matter has 36 volumes"):
        fmriprep_confounds(
            params,
            np.zeros(37),
            np.zeros(37),
            np.zeros(36),
            rng.standard_normal((37, 11)),
            np.zeros((37, 0)),
            2.0,
        )


def _mean_offdiagonal_correlation(signals: np.ndarray) -> float:
    corr = np.corrcoef(signals, rowvar=False)
    return float(corr[np.triu_indices_from(corr, k=1)].mean())


def test_motion_artifact_inflates_correlation_at_high_motion(rng: np.random.Generator) -> None:
    """No artifact at strength 0; otherwise signals correlate more at high-FD volumes."""
    n_volumes, n_signals = 401, 11
    params = simulate_motion(rng, n_volumes, 2.0, 0.3, spike_rate=2.0)
    fd = framewise_displacement(params)
    zero = motion_artifact(rng, params, fd, n_signals, strength=0.0)
    assert zero.shape == (n_volumes, n_signals)
    assert not zero.any()
    clean = rng.standard_normal((n_volumes, n_signals))
    artifact = motion_artifact(rng, params, fd, n_signals, strength=2.0)
    high = np.flatnonzero(np.nan_to_num(fd) > np.nanpercentile(fd, 90))
    before = _mean_offdiagonal_correlation(clean[high])
    after = _mean_offdiagonal_correlation((clean + artifact)[high])
    assert after > before + 0.1  # median rise is about 0.5; below 0.16 in none of 2000 seeds


def test_motion_artifact_variance_is_as_documented(rng: np.random.Generator) -> None:
    """Averaged over many signals, artifact variance matches the docstring's formula."""
    params = simulate_motion(rng, 173, 2.0, 0.3)
    fd = framewise_displacement(params)
    strength, n_signals = 1.7, 4001
    artifact = motion_artifact(rng, params, fd, n_signals, strength)
    in_mm = params * np.array([1, 1, 1, 50, 50, 50])
    transient = np.convolve(np.nan_to_num(fd), 0.5 ** np.arange(30))[:173]
    expected = strength**2 * (in_mm.var(axis=0).sum() / 6 + transient.var())
    assert artifact.var(axis=0).mean() == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize("sigma", [0.4, 1.0, 2.5, 7.3, 30.0])
def test_gaussian_smooth_is_scipys_filter_to_the_bit(sigma: float) -> None:
    """The simulator's own Gaussian smoothing equals SciPy's ``gaussian_filter1d``.

    Exactly, for kernels shorter and longer than the run (mirrored more than once).
    """
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(int(sigma * 10))
    for volumes in (1, 5, 40, 150):
        walk = np.cumsum(rng.standard_normal((3, volumes, 6)), axis=1)
        expected = gaussian_filter1d(walk, sigma=sigma, axis=1)
        assert np.array_equal(gaussian_smooth(walk, sigma), expected)
