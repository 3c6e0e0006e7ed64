"""Bad input: every defect is refused by name, with its exit code, and writes nothing.

Each case starts from a study the simulator writes in fMRIPrep's layout (BIDS, voxel
level) or in the ROI-level layout, links every file of it (symbolic links, so a case
costs no copy) and changes one thing. ``validate`` and ``run`` must then both exit with
the case's code, name the file (and row or column) at fault, and ``run`` must leave no
output folder. The valid variations at the end (CRLF tables, symbolic links, spaces in
paths, hostile labels, int16 images) must be accepted.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm.cli import main
from dmnpharm.cli._main import USAGE_EXIT
from dmnpharm.simulate import (
    SignalSpec,
    load_preset,
    simulate_study,
    write_simulated_study,
    write_voxel_study,
)

#: 2 subjects x 2 sessions x 50 volumes of 2 s (100 s: long enough for the defaults).
VOXEL_SPEC = replace(
    load_preset("demo-crossover", seed=8),
    design=replace(load_preset("demo-crossover").design, n_subjects=2),
    signal=SignalSpec(n_volumes=50),
)
#: 4 subjects x 2 sessions x 60 volumes, ROI level.
ROI_SPEC = replace(
    load_preset("demo-crossover", seed=9),
    design=replace(load_preset("demo-crossover").design, n_subjects=4),
    signal=SignalSpec(n_volumes=60),
)
FMRIPREP = Path("derivatives") / "fmriprep"
FAST = ["--permutations", "20", "--no-gsr-sensitivity"]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the voxel-level and ROI-level studies once for the module (read-only)."""
    base = tmp_path_factory.mktemp("templates")
    return {
        "bids": write_voxel_study(simulate_study(VOXEL_SPEC), base / "bids"),
        "roi": write_simulated_study(simulate_study(ROI_SPEC), base / "roi"),
    }


def linked_copy(template: Path, dest: Path) -> Path:
    """Return a copy of a study whose files are symbolic links to the template's."""
    shutil.copytree(template, dest, copy_function=os.symlink)
    return dest


def own(path: Path) -> Path:
    """Replace a linked file by a real copy, so that a case may change it."""
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        shutil.copy2(target, path)
    return path


def func(study: Path, sub: str, ses: str) -> Path:
    """Return a subject's fMRIPrep func folder."""
    return study / FMRIPREP / f"sub-{sub}" / f"ses-{ses}" / "func"


def bold(study: Path, sub: str = "01", ses: str = "1") -> Path:
    """Return a run's preprocessed image."""
    return next(func(study, sub, ses).glob("*_desc-preproc_bold.nii.gz"))


def confounds(study: Path, sub: str = "01", ses: str = "1") -> Path:
    """Return a run's confounds table (either layout)."""
    folder = func(study, sub, ses)
    if not folder.is_dir():
        folder = study / f"sub-{sub}" / f"ses-{ses}" / "func"
    return next(folder.glob("*_desc-confounds_timeseries.tsv"))


def timeseries(study: Path, sub: str = "01", ses: str = "1") -> Path:
    """Return an ROI-level run's time series."""
    return next((study / f"sub-{sub}" / f"ses-{ses}" / "func").glob("*_atlas-*_timeseries.tsv"))


def sessions(study: Path, sub: str = "01") -> Path:
    """Return a subject's sessions file."""
    return study / f"sub-{sub}" / f"sub-{sub}_sessions.tsv"


def edit_table(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """Rewrite a TSV through ``change`` (``n/a`` kept as missing)."""
    table = pd.read_csv(own(path), sep="\t", na_values=["n/a"], keep_default_na=False)
    change(table).to_csv(path, sep="\t", index=False, na_rep="n/a")
    return path


def save_like(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Write ``data`` as ``path`` with the header of the image that was there."""
    image = nib.load(own(path))
    header = image.header.copy()
    header.set_data_dtype(data.dtype)
    nib.save(nib.Nifti1Image(data, image.affine if affine is None else affine, header), path)
    return path


@dataclass(frozen=True)
class Case:
    """One defect: the layout it is made in, the change, the exit code, what is named."""

    layout: str
    change: Callable[[Path], object]
    code: int
    named: Callable[[Path], list[str]] | list[str]
    options: tuple[str, ...] = ()

    def fragments(self, study: Path) -> list[str]:
        """Return what the messages must contain for this study."""
        return self.named(study) if callable(self.named) else list(self.named)


def _truncate(study: Path) -> None:
    path = own(bold(study))
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _garbage_header(study: Path) -> None:
    path = own(bold(study, "02", "2"))
    with gzip.open(path, "wb") as stream:
        stream.write(b"not a nifti header at all" * 40)


def _mask_on_another_grid(study: Path) -> None:
    mask = own(next(func(study, "02", "1").glob("*_desc-brain_mask.nii.gz")))
    image = nib.load(mask)
    data = np.asarray(image.dataobj)[:-4]
    nib.save(nib.Nifti1Image(data, image.affine, image.header), mask)


def _shifted(study: Path) -> None:
    path = bold(study, "01", "2")
    image = nib.load(own(path))
    affine = image.affine.copy()
    affine[0, 3] += 30.0
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine, image.header), path)


def _eight_volumes(study: Path) -> None:
    path = bold(study, "02", "1")
    data = np.asarray(nib.load(own(path)).dataobj)[..., :8]
    save_like(path, data)
    edit_table(confounds(study, "02", "1"), lambda t: t.iloc[:8])


def _spaced_condition(study: Path) -> None:
    path = own(sessions(study, "02"))
    path.write_text(path.read_text().replace("placebo", "placebo ", 1))


def _drop_column(name: str, sub: str = "01", ses: str = "1") -> Callable[[Path], None]:
    def change(study: Path) -> None:
        edit_table(confounds(study, sub, ses), lambda t: t.drop(columns=[name]))

    return change


def _truncated_confounds(study: Path) -> None:
    edit_table(confounds(study, "02", "2"), lambda t: t.iloc[: len(t) // 2])


def _missing_confounds(study: Path) -> None:
    confounds(study, "01", "2").unlink()


def _hole_in_a_column(study: Path) -> None:
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[20, "trans_y"] = np.nan
        return table

    edit_table(confounds(study, "02", "1"), change)


def _no_compcor_json(study: Path) -> None:
    confounds(study, "01", "1").with_suffix(".json").unlink()


def _sidecar(value: object, sub: str = "02", ses: str = "2") -> Callable[[Path], None]:
    def change(study: Path) -> None:
        side = own(next(func(study, sub, ses).glob("*_desc-preproc_bold.json")))
        content = json.loads(side.read_text())
        content["RepetitionTime"] = value
        side.write_text(json.dumps(content))

    return change


def _broken_sidecar(study: Path) -> None:
    side = own(next(func(study, "01", "1").glob("*_desc-preproc_bold.json")))
    side.write_text('{"RepetitionTime": 2.0,')


def _unlisted_participant(study: Path) -> None:
    path = own(study / "participants.tsv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("sub-02")) + "\n")


def _participants_column(study: Path) -> None:
    path = own(study / "participants.tsv")
    path.write_text(path.read_text().replace("participant_id", "subject", 1))


def _sessions_column(study: Path) -> None:
    path = own(sessions(study, "01"))
    path.write_text(path.read_text().replace("condition", "condtion", 1))


def _duplicate_session(study: Path) -> None:
    path = own(sessions(study, "02"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")


def _row_without_data(study: Path) -> None:
    path = own(sessions(study, "01"))
    path.write_text(path.read_text().rstrip("\n") + "\nses-3\tplacebo\t0.0\tn/a\n")


def _three_d(study: Path) -> None:
    path = bold(study, "01", "2")
    save_like(path, np.asarray(nib.load(own(path)).dataobj)[..., 0])


def _latin1_sessions(study: Path) -> None:
    path = own(sessions(study, "02"))
    path.write_bytes(path.read_bytes().replace(b"drug", "drög".encode("latin-1")))


def _empty_confounds(study: Path) -> None:
    own(confounds(study, "02", "1")).write_text("")


def _missing_participants(study: Path) -> None:
    (study / "participants.tsv").unlink()


def _missing_sessions(study: Path) -> None:
    sessions(study, "02").unlink()


def _non_numeric_cell(study: Path) -> None:
    path = own(timeseries(study, "02", "2"))
    lines = path.read_text().splitlines()
    cells = lines[5].split("\t")
    cells[3] = "abc"
    lines[5] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n")


def _missing_roi_sidecar(study: Path) -> None:
    timeseries(study, "03", "1").with_suffix(".json").unlink()


def _wrong_columns(study: Path) -> None:
    path = own(timeseries(study, "01", "2"))
    table = pd.read_csv(path, sep="\t")
    table.iloc[:, :-5].to_csv(path, sep="\t", index=False)


def _missing_value(study: Path) -> None:
    path = own(timeseries(study, "03", "2"))
    table = pd.read_csv(path, sep="\t")
    table.iloc[6, 10] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")


def _incomplete_subject(study: Path) -> None:
    shutil.rmtree(study / "sub-03" / "ses-2")
    path = own(sessions(study, "03"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("ses-2")) + "\n")


def _nothing(study: Path) -> None:
    """No change to the files: the defect is in the options."""


CASES: dict[str, Case] = {
    # images and their sidecars (BIDS)
    "truncated image": Case("bids", _truncate, 1, lambda s: [bold(s).name, "truncated"]),
    "garbage header": Case("bids", _garbage_header, 1, lambda s: [bold(s, "02", "2").name]),
    "mask on another grid": Case(
        "bids", _mask_on_another_grid, 1, ["desc-brain_mask", "another grid"]
    ),
    "image shifted 30 mm": Case(
        "bids", _shifted, 1, lambda s: [bold(s, "01", "2").name, "another grid"]
    ),
    "3D image": Case("bids", _three_d, 1, lambda s: [bold(s, "01", "2").name, "3D"]),
    "8-volume run": Case(
        "bids", _eight_volumes, 1, lambda s: [bold(s, "02", "1").name, "has 8 volumes"]
    ),
    "TR differs": Case(
        "bids", _sidecar(2.5), 1, lambda s: [bold(s, "02", "2").stem, "repetition time 2.5 s"]
    ),
    "negative TR": Case("bids", _sidecar(-2), 1, ["RepetitionTime -2"]),
    "broken sidecar": Case("bids", _broken_sidecar, 1, ["is not valid JSON"]),
    # confounds (BIDS)
    "no trans_x": Case(
        "bids", _drop_column("trans_x"), 1, lambda s: [confounds(s).name, "trans_x"]
    ),
    "no framewise_displacement": Case(
        "bids",
        _drop_column("framewise_displacement", "02", "2"),
        1,
        lambda s: [confounds(s, "02", "2").name, "framewise_displacement"],
    ),
    "truncated confounds": Case(
        "bids",
        _truncated_confounds,
        1,
        lambda s: [confounds(s, "02", "2").name, "has 25 rows but"],
    ),
    "missing confounds": Case(
        "bids", _missing_confounds, 1, lambda s: [bold(s, "01", "2").name, "no confounds file"]
    ),
    "hole in a regressor": Case(
        "bids", _hole_in_a_column, 1, lambda s: [confounds(s, "02", "1").name, "trans_y"]
    ),
    "no aCompCor metadata": Case(
        "bids", _no_compcor_json, 1, lambda s: [confounds(s).name, "CumulativeVarianceExplained"]
    ),
    "empty confounds file": Case(
        "bids", _empty_confounds, 1, lambda s: [confounds(s, "02", "1").name, "cannot be read"]
    ),
    # design tables (BIDS)
    "spaced condition": Case(
        "bids",
        _spaced_condition,
        1,
        ["sub-02_sessions.tsv", "'placebo ' has a trailing space"],
    ),
    "participant not listed": Case(
        "bids", _unlisted_participant, 1, ["participants.tsv: has no row for sub-02"]
    ),
    "no participant_id column": Case(
        "bids", _participants_column, 1, ["participants.tsv", "participant_id"]
    ),
    "participants.tsv missing": Case(
        "bids", _missing_participants, 1, ["participants.tsv: is missing"]
    ),
    "sessions file missing": Case(
        "bids", _missing_sessions, 1, ["sub-02_sessions.tsv: is missing"]
    ),
    "no condition column": Case("bids", _sessions_column, 1, ["condition"]),
    "duplicate session row": Case(
        "bids", _duplicate_session, 1, ["sub-02_sessions.tsv, line", "duplicate"]
    ),
    "design row without data": Case(
        "bids", _row_without_data, 1, ["sub-01_sessions.tsv, line 4", "no BOLD run"]
    ),
    "latin-1 sessions file": Case(
        "bids", _latin1_sessions, 1, ["sub-02_sessions.tsv", "cannot be read"]
    ),
    # options judged from the study, and option values
    "low-pass above Nyquist": Case(
        "bids", _nothing, 1, ["0.5 Hz", "Nyquist"], ("--low-pass", "0.5")
    ),
    "high-pass longer than the run": Case(
        "bids", _nothing, 1, ["shorter than one period"], ("--high-pass", "0.005")
    ),
    "unknown contrast level": Case("bids", _nothing, 1, ["'lsd'"], ("--contrast", "lsd-placebo")),
    "between column absent": Case(
        "bids",
        _nothing,
        1,
        ["participants.tsv: has no column 'medication'"],
        ("--between", "medication"),
    ),
    "strategy typo": Case(
        "bids",
        _nothing,
        USAGE_EXIT,
        ["acompkor", "acompcor"],
        ("--strategy", "acompkor"),
    ),
    "negative threshold": Case(
        "bids", _nothing, USAGE_EXIT, ["fd_threshold"], ("--fd-threshold", "-1")
    ),
    "atlas typo": Case("roi", _nothing, USAGE_EXIT, ["'seitzman30'"], ("--atlas", "seitzman30")),
    # ROI-level studies
    "ROI truncated confounds": Case(
        "roi", _truncated_confounds, 1, lambda s: [confounds(s, "02", "2").name, "has 30 rows"]
    ),
    "ROI missing confounds": Case(
        "roi", _missing_confounds, 1, lambda s: [timeseries(s, "01", "2").name, "no confounds"]
    ),
    "ROI no FD": Case(
        "roi",
        _drop_column("framewise_displacement"),
        1,
        lambda s: [confounds(s).name, "framewise_displacement"],
    ),
    "ROI non-numeric cell": Case(
        "roi", _non_numeric_cell, 1, lambda s: [timeseries(s, "02", "2").name, "line 6"]
    ),
    "ROI missing sidecar": Case("roi", _missing_roi_sidecar, 1, ["sidecar is missing"]),
    "ROI wrong region count": Case(
        "roi", _wrong_columns, 1, lambda s: [timeseries(s, "01", "2").name]
    ),
    "ROI value missing inside a signal": Case(
        "roi", _missing_value, 1, lambda s: [timeseries(s, "03", "2").name, "line 8"]
    ),
    "ROI subject missing a condition": Case(
        "roi", _incomplete_subject, 1, ["sub-03", "--drop-incomplete"]
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_defect_is_refused_by_name_and_writes_nothing(
    name: str,
    templates: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``validate`` and ``run`` exit with the case's code and name the file; no output."""
    case = CASES[name]
    study = linked_copy(templates[case.layout], tmp_path / "study")
    named = case.fragments(study)  # before the change: a case may remove the file it names
    case.change(study)
    assert main(["validate", str(study), *case.options]) == case.code
    said = capsys.readouterr().err
    assert "Traceback" not in said
    for fragment in named:
        assert fragment in said, (fragment, said)
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), *FAST, *case.options]) == case.code
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()


def test_enough_distinct_defects() -> None:
    """The suite covers at least 30 defects across both layouts."""
    assert len(CASES) >= 30
    assert {case.layout for case in CASES.values()} == {"bids", "roi"}


def test_a_missing_condition_can_be_dropped(
    templates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --drop-incomplete`` analyses the others and lists the participant left out."""
    study = linked_copy(templates["roi"], tmp_path / "study")
    _incomplete_subject(study)
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), *FAST, "--drop-incomplete", "-q"]) == 0
    exclusions = pd.read_csv(out / "group" / "exclusions.tsv", sep="\t")
    assert "sub-03" in " ".join(exclusions["exclusion"])
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t")
    assert results["n"].eq(3).all()
    capsys.readouterr()


def test_regions_without_signal_are_left_out_and_listed(
    templates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A constant region and an ``n/a`` one: measured without them, listed, run kept."""
    study = linked_copy(templates["roi"], tmp_path / "study")
    path = own(timeseries(study, "03", "2"))
    table = pd.read_csv(path, sep="\t")
    lost = [str(table.columns[10]), str(table.columns[200])]
    table[lost[0]] = 1.0
    table[lost[1]] = np.nan
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    assert main(["validate", str(study)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), *FAST]) == 0
    said = capsys.readouterr().err
    assert "2 regions without a signal left out of its measures" in said
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t")
    assert results["n"].eq(4).all()
    record = json.loads((out / "provenance.json").read_text())["cleaning_per_run"]
    coverage = next(r["coverage"] for r in record.values() if "coverage" in r)
    assert coverage["regions_without_signal"] == lost
    written = next((out / "derivatives").rglob("sub-03_ses-2_*_timeseries.tsv"))
    assert pd.read_csv(written, sep="\t")[lost].isna().all().all()


def test_a_run_with_too_little_of_the_dmn_is_excluded_by_name(
    templates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NaN voxels over most of an image pass validation; the run is excluded and says why.

    The voxel template has two subjects: without the excluded run the paired
    model has one, so ``run`` refuses (exit 1) and its message says which run
    was excluded and why; nothing is written.
    """
    study = linked_copy(templates["bids"], tmp_path / "study")
    path = bold(study, "02", "2")
    data = np.asarray(nib.load(own(path)).dataobj).astype(np.float32)
    data[: data.shape[0] * 2 // 3] = np.nan
    save_like(path, data)
    assert main(["validate", str(study)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), *FAST]) == 1
    said = capsys.readouterr().err
    assert "Traceback" not in said
    assert "1 remain, after runs were excluded" in said
    assert f"{path.name}: excluded (" in said
    assert "min_dmn_coverage" in said
    assert not out.exists()


def test_corrupt_data_inside_the_stream_is_found_by_a_deep_check(
    templates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flipped bytes inside the gzip stream keep its trailer: only --deep reads them."""
    study = linked_copy(templates["bids"], tmp_path / "study")
    path = own(bold(study, "01", "2"))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    assert main(["validate", str(study)]) == 0
    assert main(["validate", str(study), "--deep"]) == 1
    said = capsys.readouterr().err
    assert path.name in said
    assert "corrupt" in said


def test_valid_variations_are_accepted(
    templates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CRLF tables, linked files, a space in the path, hostile labels and int16 images work."""
    study = linked_copy(templates["bids"], tmp_path / "with space" / "study")
    for table in [study / "participants.tsv", *study.glob("sub-*/sub-*_sessions.tsv")]:
        text = own(table).read_text()
        text = text.replace("drug", "<b>drug & 'co'</b>")
        table.write_bytes(text.replace("\n", "\r\n").encode())
    path = bold(study, "01", "1")
    data = np.asarray(nib.load(own(path)).dataobj)
    save_like(path, np.round(data).astype(np.int16))
    contrast = ["--contrast", "<b>drug & 'co'</b>-placebo"]
    assert main(["validate", str(study), *contrast]) == 0, capsys.readouterr().err
    out = tmp_path / "with space" / "out"
    assert main(["run", str(study), "--out", str(out), *FAST, *contrast, "-q"]) == 0
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t")
    assert set(results["contrast"]) == {"<b>drug & 'co'</b>-placebo"}
    capsys.readouterr()
