"""Every BIDS entity of fMRIPrep's functional outputs, the choice among versions, CIFTI runs.

Studies here are tiny hand-written fMRIPrep trees (3 x 4 x 5 voxels, 17 volumes),
except the simulator's multi-acquisition writer at the end.
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nibabel import cifti2

from bids_tree import N_VOLUMES, add_participants, add_run, func_folder, two_acquisitions
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import discover_study
from dmnpharm.io._bids_filter import (
    BidsFilter,
    parse_bids_filter,
    parse_entities,
    read_bids_filter,
)
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_voxel_study


def test_every_entity_is_parsed_and_kept(tmp_path: Path) -> None:
    """All func entities reach the run, its entities in BIDS order, and the design columns."""
    raw = "sub-01_ses-1_task-rest_acq-mb4_ce-gad_rec-mag_dir-AP_run-01_echo-2_part-mag_chunk-1"
    name = f"{raw}_space-MNI152NLin2009cAsym_cohort-1_res-2_den-5k_desc-preproc_bold.nii.gz"
    ent = parse_entities(name)
    assert list(ent)[:-2] == [
        *("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part", "chunk"),
        *("space", "cohort", "res", "den", "desc"),
    ]
    assert (ent["suffix"], ent["extension"]) == ("bold", ".nii.gz")
    add_participants(tmp_path, ["sub-01"])
    (tmp_path / "sub-01").mkdir()
    pd.DataFrame({"session_id": ["ses-1"], "condition": ["drug"]}).to_csv(
        tmp_path / "sub-01" / "sub-01_sessions.tsv", sep="\t", index=False
    )
    no_echo = raw.replace("_echo-2", "")
    add_run(tmp_path, raw, "space-MNI152NLin2009cAsym_cohort-1_res-2_den-5k", confounds=no_echo)
    study = discover_study(tmp_path)
    run = study.runs[0]
    assert (run.acq, run.ce, run.rec, run.dir, run.run, run.echo) == (
        "mb4",
        "gad",
        "mag",
        "AP",
        "01",
        "2",
    )
    assert (run.part, run.chunk, run.cohort, run.res, run.den, run.desc) == (
        "mag",
        "1",
        "1",
        "2",
        "5k",
        "preproc",
    )
    assert list(run.entities) == [k for k in ent if k not in ("suffix", "extension")]
    assert run.confounds is not None
    assert run.confounds.name == f"{no_echo}_desc-confounds_timeseries.tsv"
    assert run.mask is not None
    assert "echo" not in run.mask.name
    assert not run.is_cifti
    columns = list(study.design.columns)
    entities = ["acq", "ce", "rec", "dir", "echo", "part", "chunk", "cohort", "den"]
    assert columns[columns.index("run") + 1 : columns.index("run") + 10] == entities
    assert study.design.loc[0, "dir"] == "AP"
    assert study.selection == {"bids_filter": None, "participants": None}


def test_two_acquisitions_are_refused_before_any_file_is_read(tmp_path: Path) -> None:
    """Without a filter, each run found twice is named with a filter that would choose."""
    root = two_acquisitions(tmp_path)
    broken = next(root.rglob("sub-02_task-rest_acq-mb8_*_bold.nii.gz"))
    broken.write_bytes(b"not an image")
    with pytest.raises(StudyValidationError) as caught:
        discover_study(root)
    problems = caught.value.problems
    assert len(problems) == 3
    assert "differ in acq mb4, mb8" in problems[1]
    assert "sub-02_task-rest_acq-mb4_" in problems[1]
    assert broken.name in problems[1]
    assert '{"bold": {"acquisition": "mb4"}}' in problems[1]
    assert not any("cannot be read" in p for p in problems)


def test_a_filter_file_chooses_the_acquisition(tmp_path: Path) -> None:
    """{"bold": {"acquisition": "mb8"}} keeps mb8's image, mask and confounds; it is recorded."""
    root = two_acquisitions(tmp_path)
    chosen = tmp_path / "filter.json"
    chosen.write_text(json.dumps({"bold": {"acquisition": "mb8"}, "t1w": {"run": 1}}))
    study = discover_study(root, bids_filter=read_bids_filter(chosen))
    assert len(study.runs) == 3
    for run in study.runs:
        assert "_acq-mb8_" in run.bold.name
        assert run.mask is not None
        assert run.confounds is not None
        assert "_acq-mb8_" in run.mask.name
        assert "_acq-mb8_" in run.confounds.name
    assert list(study.design["acq"]) == ["mb8"] * 3
    assert study.selection["bids_filter"] == {
        "source": str(chosen),
        "bold": {"acquisition": "mb8"},
        "ignored_queries": ["t1w"],
    }
    short = parse_bids_filter({"bold": {"acq": ["mb4"], "dir": None}})
    assert {r.acq for r in discover_study(root, bids_filter=short).runs} == {"mb4"}
    with pytest.raises(StudyValidationError, match=r"kept by the BIDS filter .*acquisition=mb2"):
        discover_study(root, bids_filter=parse_bids_filter({"bold": {"acquisition": "mb2"}}))


def test_echoes_null_and_lists(tmp_path: Path) -> None:
    """The optimally combined run (no echo) or one echo; confounds and mask have no echo."""
    add_participants(tmp_path, ["sub-01"])
    add_run(tmp_path, "sub-01_task-rest_run-1")
    for echo in ("1", "2"):
        add_run(
            tmp_path, f"sub-01_task-rest_run-1_echo-{echo}", confounds="sub-01_task-rest_run-1"
        )
    with pytest.raises(StudyValidationError, match=r'"echo": null') as caught:
        discover_study(tmp_path)
    assert "differ in echo (none), 1, 2" in caught.value.problems[0]
    combined = discover_study(tmp_path, bids_filter=BidsFilter(bold=(("echo", (None,)),)))
    assert combined.runs[0].echo == ""
    assert "echo" not in combined.design
    second = discover_study(tmp_path, bids_filter=parse_bids_filter({"bold": {"echo": [2]}}))
    run = second.runs[0]
    assert run.echo == "2"
    assert run.confounds is not None
    assert run.confounds.name == "sub-01_task-rest_run-1_desc-confounds_timeseries.tsv"
    assert run.mask is not None
    assert run.mask.name.startswith("sub-01_task-rest_run-1_space-")
    assert list(second.design["echo"]) == ["2"]


def test_runs_stay_runs_and_run_filters_compare_as_integers(tmp_path: Path) -> None:
    """run-01 and run-02 of a session are two runs; {"run": 1} keeps run-01."""
    add_participants(tmp_path, ["sub-01"])
    for run in ("01", "02"):
        add_run(tmp_path, f"sub-01_task-rest_run-{run}")
    assert [r.run for r in discover_study(tmp_path).runs] == ["01", "02"]
    first = discover_study(tmp_path, bids_filter=parse_bids_filter({"bold": {"run": 1}}))
    assert [r.run for r in first.runs] == ["01"]
    assert list(first.design["run"]) == ["01"]


def test_participant_labels_and_query_skip_the_others(tmp_path: Path) -> None:
    """Labels (with or without sub-) and a query keep participants; the others are not read."""
    root = two_acquisitions(tmp_path)
    keep = parse_bids_filter({"bold": {"acquisition": "mb4"}})
    broken = next(root.rglob("sub-02_task-rest_acq-mb4_*_bold.nii.gz"))
    broken.write_bytes(b"not an image")
    study = discover_study(root, bids_filter=keep, participant_label=["01", "sub-03"])
    assert [r.participant_id for r in study.runs] == ["sub-01", "sub-03"]
    assert list(study.design["participant_id"]) == ["sub-01", "sub-03"]
    assert study.selection["participants"]["left_out"] == ["sub-02"]
    patients = discover_study(root, bids_filter=keep, participants_query="group == 'patient'")
    assert [r.participant_id for r in patients.runs] == ["sub-01", "sub-03"]
    record = patients.selection["participants"]
    assert (record["query"], record["n_before"], record["n_after"]) == ("group == 'patient'", 3, 2)
    with pytest.raises(InputError, match=r"'07'.*match no participant"):
        discover_study(root, bids_filter=keep, participant_label=["07"])
    with pytest.raises(InputError, match=r"no column 'grup'; did you mean 'group'\?"):
        discover_study(root, bids_filter=keep, participants_query="grup == 'patient'")
    with pytest.raises(StudyValidationError, match="cannot be read"):
        discover_study(root, bids_filter=keep)


def _write_dtseries(path: Path, n_volumes: int, step: float, n_vertices: int = 9) -> None:
    """Write a tiny CIFTI-2 dense time series: two surface structures, float32."""
    mask = np.zeros(n_vertices + 4, bool)
    mask[::2] = True
    models = cifti2.BrainModelAxis.from_mask(
        mask, name="CortexLeft"
    ) + cifti2.BrainModelAxis.from_mask(np.ones(n_vertices, bool), name="CortexRight")
    series = cifti2.SeriesAxis(start=0.0, step=step, size=n_volumes, unit="second")
    data = np.zeros((n_volumes, len(models)), np.float32)
    cifti2.Cifti2Image(data, header=(series, models)).to_filename(path)


def test_cifti_dense_time_series_are_runs(tmp_path: Path) -> None:
    """The fsLR space finds *_den-91k_bold.dtseries.nii; volumes and TR from the series axis."""
    add_participants(tmp_path, ["sub-01", "sub-02"])
    for sub in ("01", "02"):
        raw = f"sub-{sub}_task-rest"
        add_run(tmp_path, raw)
        folder = func_folder(tmp_path, raw)
        _write_dtseries(folder / f"{raw}_space-fsLR_den-91k_bold.dtseries.nii", N_VOLUMES, 2.0)
    (folder / "sub-02_task-rest_space-fsLR_den-91k_bold.json").write_text(
        '{"RepetitionTime": 2.0}'
    )
    study = discover_study(tmp_path, space="fsLR")
    run = study.runs[0]
    assert run.is_cifti
    assert (run.n_volumes, run.repetition_time, run.mask, run.header) == (
        N_VOLUMES,
        2.0,
        None,
        None,
    )
    assert run.shape == (N_VOLUMES, 16)
    assert (run.space, run.den) == ("fsLR", "91k")
    assert list(study.design["den"]) == ["91k", "91k"]
    _write_dtseries(folder / "sub-02_task-rest_space-fsLR_den-170k_bold.dtseries.nii", 17, 2.0)
    with pytest.raises(StudyValidationError, match=r"differ in den 170k, 91k.*\(or den=\)"):
        discover_study(tmp_path, space="fsLR")
    assert len(discover_study(tmp_path, space="fsLR", den="91k").runs) == 2
    bad = folder / "sub-02_task-rest_space-fsLR_den-91k_bold.dtseries.nii"
    _write_dtseries(bad, N_VOLUMES, 2.0)
    bad.write_bytes(bad.read_bytes()[:-8])
    with pytest.raises(StudyValidationError, match=r"dtseries.nii: is truncated"):
        discover_study(tmp_path, space="fsLR", den="91k")


def test_simulated_study_with_two_acquisitions(tmp_path: Path) -> None:
    """The first label carries the planted signals (same bytes), the other shuffled regions."""
    base = load_preset("demo-crossover", seed=2)
    spec = replace(
        base, design=replace(base.design, n_subjects=2), signal=SignalSpec(n_volumes=20)
    )
    full = simulate_study(spec)
    # One run keeps the test fast: its participant's row and its session's row.
    study = replace(
        full,
        runs=full.runs[:1],
        sessions=full.sessions.iloc[:1],
        participants=full.participants.iloc[:1],
    )
    root = write_voxel_study(study, tmp_path / "vox", acquisitions=("mb4", "mb8"))
    with pytest.raises(StudyValidationError, match="differ in acq mb4, mb8"):
        discover_study(root)
    picked = discover_study(root, bids_filter=parse_bids_filter({"bold": {"acquisition": "mb8"}}))
    assert list(picked.design["acq"]) == ["mb8"]
    run = picked.runs[0]
    assert "_acq-mb8_" in run.bold.name
    truth = json.loads((root / "ground_truth.json").read_text())["voxel_layout"]
    assert truth["acquisitions"]["labels"] == ["mb4", "mb8"]
    assert truth["acquisitions"]["planted"] == "mb4"
    first = run.bold.with_name(run.bold.name.replace("mb8", "mb4"))
    assert first.read_bytes() != run.bold.read_bytes()
    with pytest.raises(InputError, match="not a BIDS label"):
        write_voxel_study(study, tmp_path / "bad", acquisitions=("mb-4",))
