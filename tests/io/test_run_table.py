"""A run table: one row per run, files anywhere, repetition times from a column or a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import load_run_table

LABELS = ("PCC", "mPFC", "aI")


def _series(path: Path, rng: np.random.Generator, n_volumes: int) -> Path:
    """Write an AFNI 1D file of ``n_volumes`` x 3 regions with a ``#k`` header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(
        " ".join(f"{v:.6f}" for v in row) for row in rng.standard_normal((n_volumes, 3))
    )
    path.write_text("#1 #2 #3\n" + rows + "\n")
    return path


def _table(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.fixture
def cohort(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Three runs in two folders (one outside the table's), 31/23/19 volumes, two sites."""
    study = tmp_path / "study"
    _series(study / "ts" / "a.1D", rng, 31)
    _series(study / "ts" / "b.1D", rng, 23)
    _series(tmp_path / "elsewhere" / "c.1D", rng, 19)
    return study


def _rows(cohort: Path) -> list[dict[str, object]]:
    return [
        {
            "participant_id": "sub-01",
            "session_id": "1",
            "path": "ts/a.1D",
            "site": "NYU",
            "age": 12,
        },
        {
            "participant_id": "02",
            "session_id": "",
            "path": "ts/b.1D",
            "site": "KKI",
            "age": 9,
        },
        {
            "participant_id": "03",
            "session_id": "",
            "path": str(cohort.parent / "elsewhere" / "c.1D"),
            "site": "NYU",
            "age": 30,
        },
    ]


def test_design_runs_and_repetition_times_from_a_site_table(cohort: Path) -> None:
    """Ids get their prefixes, paths resolve, each run takes its site's repetition time."""
    table = _table(cohort / "runs.tsv", _rows(cohort))
    trs = _table(cohort / "tr.tsv", [{"site": "NYU", "repetition_time": 2.0},
                                     {"site": "KKI", "repetition_time": 2.5},
                                     {"site": "UCLA", "repetition_time": 3.0}])  # fmt: skip
    study = load_run_table(table, repetition_time_table=trs, labels=LABELS, keep_data=True)
    design = study.design
    assert list(design.columns) == [
        "participant_id", "session_id", "run", "site", "age",
        "repetition_time", "n_volumes", "path",
    ]  # fmt: skip
    assert list(design["participant_id"]) == ["sub-01", "sub-02", "sub-03"]
    assert list(design["session_id"]) == ["ses-1", "", ""]
    assert list(design["repetition_time"]) == [2.0, 2.5, 2.0]
    assert list(design["n_volumes"]) == [31, 23, 19]
    assert study.runs[1].path == cohort / "ts" / "b.1D"
    assert study.runs[2].data.shape == (19, 3)
    assert study.root == cohort
    record = study.record
    assert record["repetition_time_key"] == "site"
    assert {(r["from"].split(", ")[1], r["runs"]) for r in record["repetition_times"]} == {
        ("line 2 (site NYU)", 2),
        ("line 3 (site KKI)", 1),
    }


def test_repetition_time_column_and_csv(cohort: Path) -> None:
    """A ``repetition_time`` column alone suffices; a CSV run table reads the same."""
    rows = [{**row, "repetition_time": 1.5} for row in _rows(cohort)]
    study = load_run_table(_table(cohort / "runs.csv", rows), labels=LABELS)
    assert study.design["repetition_time"].eq(1.5).all()
    assert study.runs[0].data.shape == (0, 3)  # not kept by default
    assert study.record["repetition_times"] == [
        {"from": "column repetition_time", "repetition_time": 1.5, "runs": 3}
    ]


def test_every_problem_is_listed_with_its_line(cohort: Path) -> None:
    """Missing file, unknown site, duplicate run, bad and conflicting repetition times: at once."""
    rows = _rows(cohort)
    rows[0]["repetition_time"] = 2.5  # NYU is 2.0 in the site table
    rows[1]["site"] = "kki "  # stray case: did-you-mean
    rows[2]["repetition_time"] = ""
    rows.append({**rows[2], "path": "ts/missing.1D", "repetition_time": "", "site": "NYU"})
    rows.append({**rows[2], "participant_id": "04", "repetition_time": 2000, "site": "NYU"})
    table = _table(cohort / "runs.tsv", rows)
    trs = _table(cohort / "tr.tsv", [{"site": "NYU", "repetition_time": 2.0},
                                     {"site": "KKI", "repetition_time": 2.5}])  # fmt: skip
    with pytest.raises(StudyValidationError) as info:
        load_run_table(table, repetition_time_table=trs, labels=LABELS)
    problems = info.value.problems
    assert len(problems) == 5, problems
    assert "line 2: repetition_time 2.5 s differs from 2 s given for site 'NYU'" in problems[0]
    assert "line 3: site 'kki' has no row in" in problems[1]
    assert "did you mean 'KKI'?" in problems[1]
    assert "line 5: participant sub-03 is listed twice (first on line 4)" in problems[2]
    assert "line 5: path 'ts/missing.1D' does not exist" in problems[3]
    assert "line 6: repetition_time '2000' is over 30 s; it looks like milliseconds" in problems[4]


def test_time_series_problems_name_the_table_line_and_the_file(cohort: Path) -> None:
    """A file with the wrong number of regions is named with the row that lists it."""
    bad = cohort / "ts" / "wide.1D"
    bad.write_text("\n".join(" ".join("1" for _ in range(4)) for _ in range(12)) + "\n")
    rows = [{**row, "repetition_time": 2} for row in _rows(cohort)]
    rows[1]["path"] = "ts/wide.1D"
    with pytest.raises(StudyValidationError) as info:
        load_run_table(_table(cohort / "runs.tsv", rows), labels=LABELS)
    (problem,) = info.value.problems
    assert problem.startswith(f"{cohort / 'runs.tsv'}, line 3: {bad}: has 4 columns")


def test_repetition_time_table_problems(cohort: Path) -> None:
    """A key twice or without seconds, no shared key, no TR at all: named with file problems."""
    rows = _rows(cohort)
    rows[2]["path"] = "ts/missing.1D"
    table = _table(cohort / "runs.tsv", rows)
    bad = _table(cohort / "tr.tsv", [{"site": "NYU", "repetition_time": 2},
                                     {"site": "KKI", "repetition_time": "2,5"},
                                     {"site": "NYU", "repetition_time": 2}])  # fmt: skip
    with pytest.raises(StudyValidationError) as info:
        load_run_table(table, repetition_time_table=bad, labels=LABELS)
    problems = info.value.problems
    assert len(problems) == 3, problems  # the KKI run is not named again
    assert "tr.tsv, line 3: repetition_time '2,5' is not a positive number" in problems[0]
    assert "tr.tsv, line 4: site 'NYU' is listed twice (first on line 2)" in problems[1]
    assert "runs.tsv, line 4: path 'ts/missing.1D' does not exist" in problems[2]
    keyless = _table(cohort / "tr2.tsv", [{"scanner": "A", "repetition_time": 2}])
    with pytest.raises(StudyValidationError) as info:
        load_run_table(table, repetition_time_table=keyless, labels=LABELS)
    assert len(info.value.problems) == 2
    assert "no key column the run table also has (columns: scanner)" in info.value.problems[0]
    with pytest.raises(StudyValidationError) as info:
        load_run_table(_table(cohort / "runs.tsv", _rows(cohort)), labels=LABELS)
    assert len(info.value.problems) == 3
    assert all("has no repetition_time" in p for p in info.value.problems)


def test_table_problems(cohort: Path) -> None:
    """A missing table, a misspelt id column, a reserved column."""
    with pytest.raises(InputError, match=r"run table '.*absent\.tsv' does not exist"):
        load_run_table(cohort / "absent.tsv", labels=LABELS)
    rows = [{("participant" if k == "participant_id" else k): v for k, v in r.items()}
            for r in _rows(cohort)]  # fmt: skip
    with pytest.raises(StudyValidationError, match="did you mean 'participant'"):
        load_run_table(_table(cohort / "runs.tsv", rows), labels=LABELS)
    rows = [{**r, "n_volumes": 3} for r in _rows(cohort)]
    with pytest.raises(StudyValidationError, match="has an 'n_volumes' column"):
        load_run_table(_table(cohort / "runs.tsv", rows), labels=LABELS)
