"""Loading an ROI-level study, and every bad input named with file and line."""

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import (
    RoiStudy,
    load_roi_study,
    read_roi_timeseries,
    read_study_atlas_name,
    roi_run_path,
    write_roi_run,
)

ATLAS = load_atlas("seitzman300")


def _load(root: Path) -> RoiStudy:
    return load_roi_study(root, "seitzman300", ATLAS.labels)


def _first_run(root: Path) -> Path:
    return roi_run_path(root, "sub-01", "ses-1", "seitzman300")


def test_loads_simulated_study(small_study: Path) -> None:
    """All 16 runs load with their design and data in atlas order."""
    study = _load(small_study)
    assert len(study.runs) == 16
    assert study.design["participant_id"].nunique() == 8
    assert set(study.design["condition"]) == {"placebo", "drug"}
    assert study.design["repetition_time"].eq(1.5).all()
    assert study.runs[0].data.shape == (81, 300)
    assert read_study_atlas_name(small_study) == "seitzman300"
    assert study.design["path"].iloc[0].startswith("sub-01/ses-1/func/")


def test_missing_folder() -> None:
    """A study folder that does not exist is named."""
    with pytest.raises(InputError, match="study folder '/no/such/dir' does not exist"):
        _load(Path("/no/such/dir"))


def test_sessions_without_condition_column(small_study: Path) -> None:
    """The sessions file is named with its columns and a fix."""
    path = small_study / "sub-03" / "sub-03_sessions.tsv"
    table = pd.read_csv(path, sep="\t").rename(columns={"condition": "treatment"})
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(StudyValidationError) as info:
        _load(small_study)
    assert len(info.value.problems) == 1
    assert str(path) in info.value.problems[0]
    assert "no 'condition' column" in info.value.problems[0]
    assert "treatment" in info.value.problems[0]


def test_column_count_mismatch(small_study: Path) -> None:
    """A file with a column missing names the file and both counts."""
    path = _first_run(small_study)
    table = pd.read_csv(path, sep="\t")
    table.iloc[:, :-1].to_csv(path, sep="\t", index=False)
    with pytest.raises(StudyValidationError, match=r"has 299 columns but the atlas has 300"):
        _load(small_study)


def test_validating_without_keeping_data(small_study: Path) -> None:
    """keep_data=False checks every file the same way but holds no signals."""
    kept = _load(small_study)
    light = load_roi_study(small_study, "seitzman300", ATLAS.labels, keep_data=False)
    pd.testing.assert_frame_equal(light.design, kept.design)
    assert [r.path for r in light.runs] == [r.path for r in kept.runs]
    assert all(r.data.shape == (0, 300) and r.data.base is None for r in light.runs)
    path = _first_run(small_study)
    table = pd.read_csv(path, sep="\t")
    table.iloc[4, 10] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(StudyValidationError, match="line 6"):
        load_roi_study(small_study, "seitzman300", ATLAS.labels, keep_data=False)


def test_nan_value_names_line_and_column(small_study: Path) -> None:
    """A NaN is reported with its file line and region column."""
    path = _first_run(small_study)
    table = pd.read_csv(path, sep="\t")
    table.iloc[4, 10] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    column = ATLAS.labels[10]
    with pytest.raises(StudyValidationError, match=rf"line 6, column '{column}'"):
        _load(small_study)


def test_all_problems_reported_together(small_study: Path) -> None:
    """Several problems in several files come back in one error."""
    (small_study / "sub-02" / "sub-02_sessions.tsv").unlink()
    _first_run(small_study).with_suffix(".json").write_text(json.dumps({"Atlas": "x"}))
    with (small_study / "participants.tsv").open("a") as handle:
        handle.write("sub-99\tplacebo-drug\n")
    extra = roi_run_path(small_study, "sub-04", "ses-3", "seitzman300")
    write_roi_run(extra, np.ones((37, 300)) + np.arange(300), ATLAS.labels, {"RepetitionTime": 2})
    with pytest.raises(StudyValidationError) as info:
        _load(small_study)
    text = "\n".join(info.value.problems)
    assert "sub-02_sessions.tsv: is missing" in text
    assert "RepetitionTime is None" in text
    assert "participant 'sub-99' has no folder" in text
    assert "ses-3: has data but no row" in text
    assert len(info.value.problems) == 4


def test_session_without_data_and_duplicates(small_study: Path) -> None:
    """A listed session with no file and a duplicated participant are both named."""
    _first_run(small_study).unlink()
    participants = small_study / "participants.tsv"
    lines = participants.read_text().splitlines()
    participants.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(StudyValidationError) as info:
        _load(small_study)
    text = "\n".join(info.value.problems)
    assert "sub-01_sessions.tsv, line 2: session 'ses-1' has no" in text
    assert "participants.tsv, line 10: participant_id 'sub-01' is listed twice" in text


def test_missing_value_and_wrong_label(small_study: Path) -> None:
    """A value missing inside a region's signal and a renamed column are both refused."""
    path = _first_run(small_study)
    table = pd.read_csv(path, sep="\t")
    table.iloc[3, 5] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    other = roi_run_path(small_study, "sub-02", "ses-1", "seitzman300")
    renamed = pd.read_csv(other, sep="\t").rename(columns={ATLAS.labels[2]: "roi3"})
    renamed.to_csv(other, sep="\t", index=False)
    with pytest.raises(StudyValidationError) as info:
        _load(small_study)
    text = "\n".join(info.value.problems)
    assert f"line 5, column '{ATLAS.labels[5]}': value is nan" in text
    assert f"column 3 is 'roi3' but the atlas region there is '{ATLAS.labels[2]}'" in text


def test_regions_without_signal_are_read(small_study: Path) -> None:
    """A constant region and one with no value at all (``n/a``) are data, not errors."""
    path = _first_run(small_study)
    table = pd.read_csv(path, sep="\t")
    table.iloc[:, 5] = 3.0
    table.iloc[:, 7] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    data = read_roi_timeseries(path, ATLAS.labels)
    assert np.isnan(data[:, 7]).all()
    assert (data[:, 5] == 3.0).all()


def test_atlas_name_conflict(small_study: Path) -> None:
    """Runs naming different atlases need an explicit choice."""
    side = _first_run(small_study).with_suffix(".json")
    content = json.loads(side.read_text())
    content["Atlas"] = "dosenbach160"
    side.write_text(json.dumps(content))
    with pytest.raises(InputError, match="name different atlases"):
        read_study_atlas_name(small_study)


def test_atlas_with_an_underscore_round_trips(tmp_path: Path) -> None:
    """An atlas name with '_' is written as a BIDS label and read back; old names still load."""
    from dataclasses import replace

    from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study

    base = load_preset("demo-crossover", seed=1)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=4),
        signal=SignalSpec(atlas="andrews_hanna", n_volumes=40),
    )
    root = write_simulated_study(simulate_study(spec), tmp_path / "study")
    names = sorted(p.name for p in root.glob("sub-*/ses-*/func/*_timeseries.tsv"))
    assert all("_atlas-andrewsHanna_timeseries" in n for n in names if "confounds" not in n)
    assert read_study_atlas_name(root) == "andrews_hanna"
    labels = load_atlas("andrews_hanna").labels
    assert len(load_roi_study(root, "andrews_hanna", labels).runs) == 8
    for path in root.glob("sub-*/ses-*/func/*_atlas-andrewsHanna_timeseries.*"):
        path.rename(path.with_name(path.name.replace("andrewsHanna", "andrews_hanna")))
    assert len(load_roi_study(root, "andrews_hanna", labels).runs) == 8


def test_forked_readers_load_the_same_study_and_name_the_same_problems(
    small_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Participants read on two forked processes (chunks of two): same runs, same problems.

    The study is then damaged in three participants (a missing folder, a sessions file
    without its condition column, a file short of a column): every problem comes in the
    participants' order, as read one after another.
    """
    import dmnpharm.io._roi_study as roi_study_module
    from dmnpharm._utils._forked import forked_map

    monkeypatch.setattr(roi_study_module, "forked_map", functools.partial(forked_map, chunk=2))
    serial = load_roi_study(small_study, "seitzman300", ATLAS.labels, keep_data=False)
    forked = load_roi_study(small_study, "seitzman300", ATLAS.labels, keep_data=False, workers=2)
    pd.testing.assert_frame_equal(forked.design, serial.design)
    assert [(r.path, r.repetition_time) for r in forked.runs] == [
        (r.path, r.repetition_time) for r in serial.runs
    ]
    shutil.rmtree(small_study / "sub-02")
    sessions = small_study / "sub-05" / "sub-05_sessions.tsv"
    pd.read_csv(sessions, sep="\t").rename(columns={"condition": "arm"}).to_csv(
        sessions, sep="\t", index=False
    )
    short = roi_run_path(small_study, "sub-07", "ses-1", "seitzman300")
    pd.read_csv(short, sep="\t").iloc[:, :-1].to_csv(short, sep="\t", index=False)
    problems = []
    for workers in (1, 2):
        with pytest.raises(StudyValidationError) as info:
            load_roi_study(small_study, "seitzman300", ATLAS.labels, False, workers=workers)
        problems.append(info.value.problems)
    assert problems[0] == problems[1]
    assert len(problems[0]) == 3
    assert ["sub-02" in p for p in problems[0]] == [True, False, False]
    assert ["sub-05" in p for p in problems[0]] == [False, True, False]
    assert ["sub-07" in p for p in problems[0]] == [False, False, True]
