"""The XCP-D form of a simulated study: layout per version, censoring, signals read back."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError, OutputExistsError

# Until dmnpharm.io and dmnpharm.simulate export them, import the modules.
from dmnpharm.io import discover_xcpd, read_xcpd_motion, read_xcpd_timeseries
from dmnpharm.simulate import (
    XCPD_SPACE,
    SignalSpec,
    SimulatedStudy,
    load_preset,
    simulate_study,
    write_xcpd_study,
)


@pytest.fixture(scope="module")
def simulated() -> SimulatedStudy:
    """Simulate 2 subjects x 2 sessions of 31 volumes on the Andrews-Hanna atlas (11 regions)."""
    base = load_preset("demo-crossover", seed=21)
    return simulate_study(
        replace(
            base,
            design=replace(base.design, n_subjects=2),
            signal=SignalSpec(atlas="andrews_hanna", n_volumes=31, repetition_time=1.5),
        )
    )


def _threshold(study: SimulatedStudy) -> float:
    """Return an FD threshold flagging about a quarter of the volumes, whatever the seed."""
    fd = np.concatenate([r.signals.confounds["framewise_displacement"][1:] for r in study.runs])
    return float(np.quantile(fd, 0.75))


def test_layout_of_version_0_10(simulated: SimulatedStudy, tmp_path: Path) -> None:
    """Raw BIDS tables at the top; XCP-D's files, names and description under derivatives."""
    root = write_xcpd_study(simulated, tmp_path / "s", fd_threshold=0.5)
    assert (root / "participants.tsv").is_file()
    assert (root / "sub-01" / "sub-01_sessions.tsv").is_file()
    xcpd = root / "derivatives" / "xcp_d"
    description = json.loads((xcpd / "dataset_description.json").read_text())
    assert description["GeneratedBy"][0] == {
        "Name": "xcp_d",
        "Version": "0.10.6",
        "CodeURL": "https://github.com/PennLINC/xcp_d/archive/0.10.6.tar.gz",
    }
    assert description["DatasetType"] == "derivative"
    func = xcpd / "sub-01" / "ses-1" / "func"
    stem = "sub-01_ses-1_task-rest"
    parcel = f"{stem}_space-{XCPD_SPACE}_seg-andrewsHanna"
    for name in (
        f"{stem}_motion.tsv",
        f"{stem}_outliers.tsv",
        f"{stem}_space-{XCPD_SPACE}_res-2_desc-denoised_bold.json",
        f"{parcel}_stat-mean_timeseries.tsv",
        f"{parcel}_stat-mean_timeseries.json",
        f"{parcel}_stat-coverage_bold.tsv",
        f"{parcel}_stat-pearsoncorrelation_relmat.tsv",
    ):
        assert (func / name).is_file(), name
    table = pd.read_csv(xcpd / "atlases/atlas-andrewsHanna/atlas-andrewsHanna_dseg.tsv", sep="\t")
    assert list(table.columns) == ["index", "label", "network_label"]
    relmat = pd.read_csv(func / f"{parcel}_stat-pearsoncorrelation_relmat.tsv", sep="\t")
    assert relmat.columns[0] == "Node"
    assert relmat.shape == (11, 12)
    truth = json.loads((root / "ground_truth.json").read_text())
    assert truth["xcpd_layout"]["fd_threshold"] == 0.5
    with pytest.raises(OutputExistsError):
        write_xcpd_study(simulated, root)


@pytest.mark.parametrize("output_type", ["censored", "interpolated"])
def test_signals_read_back_on_kept_volumes(
    simulated: SimulatedStudy, tmp_path: Path, output_type: str
) -> None:
    """On kept volumes the time series are the simulated clean signals; FD is the run's."""
    threshold = _threshold(simulated)
    root = write_xcpd_study(
        simulated, tmp_path / "s", output_type=output_type, fd_threshold=threshold
    )
    study = discover_xcpd(root / "derivatives" / "xcp_d")
    assert study.runs[0].repetition_time == 1.5
    for sim, run in zip(simulated.runs, study.runs, strict=True):
        assert (sim.participant_id, sim.session_id) == (run.participant_id, run.session_id)
        fd = sim.signals.confounds["framewise_displacement"].fillna(0).to_numpy()
        flagged = fd > threshold
        assert list(run.outlier_volumes) == list(np.flatnonzero(flagged))
        data, motion = read_xcpd_timeseries(run), read_xcpd_motion(run)
        kept = motion["kept"].to_numpy()
        np.testing.assert_allclose(data[kept], sim.signals.bold[~flagged], rtol=1e-12)
        np.testing.assert_allclose(
            motion.loc[kept, "framewise_displacement"], fd[~flagged], atol=1e-6
        )
        if output_type == "interpolated" and flagged.any():
            assert data.shape[0] == fd.size
            low, high = sim.signals.bold.min(axis=0), sim.signals.bold.max(axis=0)
            assert ((data[~kept] >= low) & (data[~kept] <= high)).all()


def test_newest_layout_and_no_censoring(simulated: SimulatedStudy, tmp_path: Path) -> None:
    """XCP-D 26 uses atlas- and sourcedata/atlases; threshold 0 writes no outliers file."""
    root = write_xcpd_study(simulated, tmp_path / "s", xcpd_version="26.0.1", fd_threshold=0)
    xcpd = root / "derivatives" / "xcp_d"
    assert not list(xcpd.rglob("*_outliers.tsv"))
    assert len(list(xcpd.rglob(f"*_space-{XCPD_SPACE}_atlas-andrewsHanna_stat-mean_*.tsv"))) == 4
    tpl = xcpd / "sourcedata" / "atlases" / f"tpl-{XCPD_SPACE}"
    table = pd.read_csv(tpl / f"tpl-{XCPD_SPACE}_atlas-andrewsHanna_dseg.tsv", sep="\t")
    assert list(table.columns) == ["index", "name", "network_label"]


def test_bad_arguments_are_refused(simulated: SimulatedStudy, tmp_path: Path) -> None:
    """Old versions, unknown output types, early interpolation and unknown regions fail."""
    with pytest.raises(InputError, match=r"0\.7 and later"):
        write_xcpd_study(simulated, tmp_path / "a", xcpd_version="0.6.4")
    with pytest.raises(InputError, match="did you mean 'censored'"):
        write_xcpd_study(simulated, tmp_path / "b", output_type="censor")
    with pytest.raises(InputError, match="censored time series only"):
        write_xcpd_study(
            simulated, tmp_path / "c", xcpd_version="0.7.5", output_type="interpolated"
        )
    with pytest.raises(InputError, match="did you mean 'PCC'"):
        write_xcpd_study(simulated, tmp_path / "d", low_coverage=["pcc "])
    with pytest.raises(InputError, match="leaves"):
        write_xcpd_study(simulated, tmp_path / "e", fd_threshold=1e-9)
    assert not list(tmp_path.iterdir())
