"""Reading XCP-D derivatives: discovery, censoring, repetition time, design and every problem."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError, StudyValidationError

# Until dmnpharm.io exports them (its __init__ is edited elsewhere), import the modules.
from dmnpharm.io import (
    discover_xcpd,
    is_xcpd_folder,
    read_xcpd_motion,
    read_xcpd_timeseries,
    xcpd_atlas_table,
    xcpd_naming,
    xcpd_record,
)
from dmnpharm.simulate import (
    SignalSpec,
    SimulatedStudy,
    load_preset,
    simulate_study,
    write_xcpd_study,
)

ATLAS = "andrewsHanna"
SPACE = "MNI152NLin2009cAsym"


@pytest.fixture(scope="module")
def simulated() -> SimulatedStudy:
    """Simulate 2 subjects x 2 sessions of 37 volumes on the 11-region Andrews-Hanna atlas."""
    base = load_preset("demo-crossover", seed=8)
    return simulate_study(
        replace(
            base,
            design=replace(base.design, n_subjects=2),
            signal=SignalSpec(atlas="andrews_hanna", n_volumes=37, repetition_time=2.0),
        )
    )


def _threshold(study: SimulatedStudy) -> float:
    """Return an FD threshold that flags about a fifth of the volumes, whatever the seed."""
    fd = np.concatenate([r.signals.confounds["framewise_displacement"][1:] for r in study.runs])
    return float(np.quantile(fd, 0.8))


@pytest.fixture(scope="module")
def template(simulated: SimulatedStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the study as XCP-D 0.10.6 censored outputs, one region under coverage."""
    dest = tmp_path_factory.mktemp("xcpd") / "study"
    return write_xcpd_study(
        simulated, dest, fd_threshold=_threshold(simulated), low_coverage=["PHC"]
    )


@pytest.fixture
def copy(template: Path, tmp_path: Path) -> Path:
    """Return a private, modifiable copy of the written study."""
    return Path(shutil.copytree(template, tmp_path / "study"))


def test_discovers_runs_censoring_tr_and_design(template: Path) -> None:
    """Runs, version, atlas, TR and censored volumes match what was written."""
    xcpd = template / "derivatives" / "xcp_d"
    assert is_xcpd_folder(xcpd)
    assert not is_xcpd_folder(template)
    study = discover_xcpd(xcpd)
    truth = json.loads((template / "ground_truth.json").read_text())["xcpd_layout"]
    assert (study.version, study.naming, study.atlas, study.space) == (
        "0.10.6",
        "seg",
        ATLAS,
        SPACE,
    )
    assert [(r.participant_id, r.session_id, r.task) for r in study.runs][:2] == [
        ("sub-01", "ses-1", "rest"),
        ("sub-01", "ses-2", "rest"),
    ]
    assert len(study.runs) == 4
    for run in study.runs:
        flagged = truth["outlier_volumes"][f"{run.participant_id}/{run.session_id}"]
        assert list(run.outlier_volumes) == flagged
        assert run.censoring == ("removed" if flagged else "none")
        assert run.n_volumes == run.n_acquired - len(flagged) == 37 - len(flagged)
        assert run.repetition_time == 2.0
        assert "desc-denoised_bold.json" in run.repetition_time_source
        assert run.empty_regions == ("PHC",)
    assert sum(len(r.outlier_volumes) for r in study.runs) > 0
    assert set(study.design["condition"]) == {"drug", "placebo"}
    assert study.design["n_volumes"].tolist() == [r.n_volumes for r in study.runs]
    record = xcpd_record(study)
    assert record["denoising"] == "done by XCP-D 0.10.6"
    assert record["censoring"]["outlier_volumes"] == sum(
        map(len, truth["outlier_volumes"].values())
    )
    json.dumps(record)


def test_timeseries_and_motion_align(template: Path) -> None:
    """Time series rows, motion rows and kept flags line up; n/a regions read as NaN."""
    study = discover_xcpd(template / "derivatives" / "xcp_d")
    run = next(r for r in study.runs if r.outlier_volumes)
    data = read_xcpd_timeseries(run)
    motion = read_xcpd_motion(run)
    assert data.shape == (run.n_volumes, 11)
    assert np.isnan(data[:, run.labels.index("PHC")]).all()
    assert np.isfinite(np.delete(data, run.labels.index("PHC"), axis=1)).all()
    assert len(motion) == run.n_volumes
    assert motion["kept"].all()
    assert not set(run.outlier_volumes) & set(motion.index)
    assert "framewise_displacement" in motion


def test_interpolated_series_keep_every_volume(simulated: SimulatedStudy, tmp_path: Path) -> None:
    """Full-length series are 'interpolated'; motion marks outliers as not kept."""
    root = write_xcpd_study(
        simulated, tmp_path / "s", output_type="interpolated", fd_threshold=_threshold(simulated)
    )
    study = discover_xcpd(root / "derivatives" / "xcp_d")
    run = next(r for r in study.runs if r.outlier_volumes)
    assert run.censoring == "interpolated"
    assert run.n_volumes == run.n_acquired == 37
    motion = read_xcpd_motion(run)
    assert len(motion) == 37
    assert list(np.flatnonzero(~motion["kept"].to_numpy())) == list(run.outlier_volumes)


def test_newest_naming_and_atlas_table(simulated: SimulatedStudy, tmp_path: Path) -> None:
    """XCP-D 26 names the atlas with atlas- again; its table maps to dmnpharm's columns."""
    assert [xcpd_naming(v) for v in ("0.6.4", "0.7.0", "0.14.1", "26.0.1")] == [
        "atlas",
        "seg",
        "seg",
        "atlas-stat",
    ]
    root = write_xcpd_study(simulated, tmp_path / "s", xcpd_version="26.0.1", fd_threshold=0)
    study = discover_xcpd(root / "derivatives" / "xcp_d")
    assert study.naming == "atlas-stat"
    assert {r.censoring for r in study.runs} == {"none"}
    assert all(r.outliers is None for r in study.runs)
    table = xcpd_atlas_table(study.root, ATLAS)
    assert table is not None
    assert list(table.columns[:5]) == ["index", "name", "label", "network", "source_network"]
    assert tuple(table["name"]) == simulated.atlas.labels
    assert xcpd_atlas_table(study.root, "Gordon") is None


def _old_style(root: Path, n_volumes: int = 12) -> Path:
    """Write a tiny XCP-D 0.6 folder by hand: atlas- naming, two outliers censored."""
    xcpd = root / "xcp_d"
    func = xcpd / "sub-01" / "func"
    func.mkdir(parents=True)
    (xcpd / "dataset_description.json").write_text(
        json.dumps({"Name": "xcp_d", "GeneratedBy": [{"Name": "xcp_d", "Version": "0.6.4"}]})
    )
    stem = "sub-01_task-rest_run-1"
    rng = np.random.default_rng(0)
    flags = np.zeros(n_volumes, dtype=int)
    flags[[3, 7]] = 1
    pd.DataFrame({"framewise_displacement": flags}).to_csv(
        func / f"{stem}_outliers.tsv", sep="\t", index=False
    )
    pd.DataFrame({"framewise_displacement": rng.uniform(0, 1, n_volumes)}).to_csv(
        func / f"{stem}_desc-filtered_motion.tsv", sep="\t", index=False
    )
    series = pd.DataFrame(rng.normal(size=(n_volumes - 2, 3)), columns=["L_a", "R_b", "c"])
    series.to_csv(
        func / f"{stem}_space-MNI152NLin6Asym_atlas-Gordon_timeseries.tsv",
        sep="\t",
        index=False,
    )
    (root / "design.tsv").write_text("participant_id\tsession_id\tcondition\nsub-01\t\tdrug\n")
    return xcpd


def test_old_naming_needs_a_repetition_time(tmp_path: Path) -> None:
    """0.6 files are read; without any sidecar the TR must come from the caller."""
    xcpd = _old_style(tmp_path)
    with pytest.raises(StudyValidationError, match="repetition_time="):
        discover_xcpd(xcpd, design=tmp_path / "design.tsv")
    study = discover_xcpd(xcpd, design=tmp_path / "design.tsv", repetition_time=1.5)
    (run,) = study.runs
    assert (study.naming, study.atlas, study.version) == ("atlas", "Gordon", "0.6.4")
    assert (run.censoring, run.outlier_volumes, run.n_volumes) == ("removed", (3, 7), 10)
    assert (run.repetition_time, run.repetition_time_source, run.run) == (1.5, "caller", "1")
    assert run.motion.name.endswith("_desc-filtered_motion.tsv")
    assert study.design["condition"].tolist() == ["drug"]
    with pytest.raises(InputError, match="did you mean"):
        discover_xcpd(tmp_path, design=tmp_path / "design.tsv")


def test_every_problem_is_listed_at_once(copy: Path) -> None:
    """Missing motion, a bad value, wrong columns, a repeated run, no design: all listed."""
    xcpd = copy / "derivatives" / "xcp_d"
    series = sorted(xcpd.glob("sub-*/ses-*/func/*_stat-mean_timeseries.tsv"))
    (series[0].parent / "sub-01_ses-1_task-rest_motion.tsv").unlink()
    text = series[1].read_text().splitlines()
    text[3] = "oops\t" + text[3].split("\t", 1)[1]
    series[1].write_text("\n".join(text) + "\n")
    pd.read_csv(series[2], sep="\t").iloc[:, :-1].to_csv(series[2], sep="\t", index=False)
    twin = series[3].with_name(series[3].name.replace(f"space-{SPACE}", f"space-{SPACE}_cohort-1"))
    shutil.copy(series[3], twin)
    (copy / "participants.tsv").unlink()
    with pytest.raises(StudyValidationError) as caught:
        discover_xcpd(xcpd)
    problems = caught.value.problems
    assert any("sub-01_ses-1_task-rest_motion.tsv: the motion file" in p for p in problems)
    assert any(f"{series[1]}, line 4" in p and "'oops'" in p for p in problems)
    assert any(str(series[2]) in p and "region columns differ" in p for p in problems)
    assert any(twin.name in p and "repeats run" in p for p in problems)
    assert any("participants.tsv: is missing" in p for p in problems)


def test_choices_and_folder_errors(copy: Path, tmp_path: Path) -> None:
    """Several atlases need a choice; a wrong one gets a suggestion; a plain folder is refused."""
    xcpd = copy / "derivatives" / "xcp_d"
    for path in xcpd.glob("sub-*/ses-*/func/*_stat-mean_timeseries.tsv"):
        shutil.copy(path, path.with_name(path.name.replace(f"seg-{ATLAS}", "seg-Gordon")))
    with pytest.raises(InputError, match=rf"several atlas \(Gordon, {ATLAS}\)"):
        discover_xcpd(xcpd)
    with pytest.raises(InputError, match="did you mean 'Gordon'"):
        discover_xcpd(xcpd, atlas="gordon")
    assert discover_xcpd(xcpd, atlas=ATLAS).atlas == ATLAS
    with pytest.raises(InputError, match="not an XCP-D folder"):
        discover_xcpd(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        discover_xcpd(tmp_path / "nowhere")
    with pytest.raises(InputError, match="positive"):
        discover_xcpd(xcpd, atlas=ATLAS, repetition_time=0)
