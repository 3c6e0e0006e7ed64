"""Validation helpers, hashing and atomic output folders."""

import hashlib
from pathlib import Path

import pytest

from dmnpharm._utils import check_option, closest_match, sha256_file, staged_output_dir
from dmnpharm.exceptions import InputError, OutputExistsError


def test_closest_match_ignores_case_and_spaces() -> None:
    """A trailing space or capital still finds the allowed value."""
    assert closest_match("Placebo ", ["placebo", "drug"]) == "placebo"
    assert closest_match("plasebo", ["placebo", "drug"]) == "placebo"
    assert closest_match("zzz", ["placebo", "drug"]) is None


def test_check_option_names_parameter_and_suggests() -> None:
    """The error names the parameter, echoes the value and suggests a fix."""
    assert check_option("atlas", "a", ["a", "b"]) == "a"
    with pytest.raises(InputError, match=r"condition 'placebo ' in x.tsv.*did you mean 'placebo'"):
        check_option("condition", "placebo ", ["placebo", "drug"], where="x.tsv")


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    """The streamed digest equals hashlib's digest of the whole bytes."""
    payload = bytes(range(256)) * 9001
    path = tmp_path / "f.bin"
    path.write_bytes(payload)
    assert sha256_file(path) == hashlib.sha256(payload).hexdigest()


def test_staged_output_appears_only_on_success(tmp_path: Path) -> None:
    """A failing block leaves neither the output nor a staging folder behind."""
    out = tmp_path / "out"

    def write_half_then_fail() -> None:
        with staged_output_dir(out) as staging:
            (staging / "half.tsv").write_text("partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_half_then_fail()
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    with staged_output_dir(out) as staging:
        (staging / "done.tsv").write_text("complete")
    assert (out / "done.tsv").read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_output_refuses_non_empty_folder(tmp_path: Path) -> None:
    """An existing non-empty output needs overwrite=True, and is then replaced whole."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="--overwrite"), staged_output_dir(out):
        pass
    assert (out / "old.txt").exists()
    with staged_output_dir(out, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
