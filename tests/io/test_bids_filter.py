"""BIDS filter files: what they keep, and every bad file named with its key."""

import json
import logging
from pathlib import Path

import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.io._bids_filter import parse_bids_filter, parse_entities, read_bids_filter

MB4_ECHO2 = parse_entities(
    "sub-01_task-rest_acq-mb4_run-01_echo-2_space-T1w_desc-preproc_bold.nii"
)
PLAIN = parse_entities("sub-02_task-rest_run-2_space-T1w_desc-preproc_bold.nii.gz")


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "filter.json"
    path.write_text(json.dumps(content))
    return path


def test_values_strings_integers_lists_null_and_any(tmp_path: Path) -> None:
    """Strings match exactly, run integers 1 and 01, lists any, null absent, * present."""
    cases = [
        ({"acquisition": "mb4"}, True, False),
        ({"acq": "mb4", "run": 1}, True, False),
        ({"run": "1"}, True, False),
        ({"run": [2, 3]}, False, True),
        ({"echo": None}, False, True),
        ({"echo": [2, None]}, True, True),
        ({"acquisition": "*"}, True, False),
        ({"subject": ["01", "02"], "suffix": "bold"}, True, True),
        ({"extension": "nii.gz"}, False, True),
        ({"extension": [".nii", ".nii.gz"], "space": "T1w", "desc": "preproc"}, True, True),
        ({}, True, True),
    ]
    for bold, first, second in cases:
        chosen = read_bids_filter(_write(tmp_path, {"bold": bold}))
        assert chosen.matches(MB4_ECHO2) is first, bold
        assert chosen.matches(PLAIN) is second, bold
    datatype = parse_bids_filter({"bold": {"datatype": "func"}})
    assert datatype.matches({**PLAIN, "datatype": "func"})
    assert not datatype.matches(PLAIN)


def test_record_and_ignored_queries(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Other queries (t1w, fmap, XCP-D's) are checked, logged at debug level and recorded."""
    path = _write(
        tmp_path,
        {
            "bold": {"session": "1", "echo": [1, 2], "density": None},
            "t1w": {"reconstruction": "norm", "inv": 2},
            "fmap": {"datatype": "fmap"},
        },
    )
    with caplog.at_level(logging.DEBUG, logger="dmnpharm"):
        chosen = read_bids_filter(path)
    assert chosen.record() == {
        "source": str(path),
        "bold": {"session": "1", "echo": ["1", "2"], "den": None},
        "ignored_queries": ["t1w", "fmap"],
    }
    assert "query 't1w' ignored" in caplog.text
    assert chosen.describe() == "session=1, echo=1|2, den=none"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2], "must be a JSON object of queries"),
        ({"blod": {}}, "query 'blod' is not one of .*did you mean 'bold'"),
        ({"bold": "mb4"}, "bold must map entity names to values"),
        ({"bold": {"acquistion": "mb4"}}, r"bold.acquistion is not .*did you mean 'acquisition'"),
        ({"bold": {"inv": 2}}, "bold.inv is not a BOLD file's entity"),
        ({"t1w": {"nonsense": 2}}, "t1w.nonsense is not a BIDS entity"),
        ({"bold": {"run": 1.5}}, r"bold.run is 1.5; give a string"),
        ({"bold": {"run": True}}, "bold.run is true; give a string"),
        ({"bold": {"run": -1}}, "bold.run is -1; entity values are not negative"),
        ({"bold": {"acq": {"a": 1}}}, "bold.acq is .*give a string"),
        ({"bold": {"acq": []}}, "bold.acq is an empty list"),
        ({"bold": {"acq": ["mb4", 2.0]}}, r"bold.acq\[1\] is 2.0"),
        ({"bold": {"acq": "mb-4"}}, "'mb-4' is not a BIDS label"),
        ({"bold": {"extension": "nii gz"}}, "is not a file extension"),
        ({"bold": {"acq": "mb4", "acquisition": "mb8"}}, "names the entity acq twice"),
    ],
)
def test_bad_filters_name_file_and_key(tmp_path: Path, content: object, message: str) -> None:
    """Each bad content is an InputError naming the file, the key and a fix."""
    path = _write(tmp_path, content)
    with pytest.raises(InputError, match=message) as caught:
        read_bids_filter(path)
    assert str(caught.value).startswith(str(path))


def test_bad_files(tmp_path: Path) -> None:
    """A missing file and invalid JSON are named, with the line of the error."""
    with pytest.raises(InputError, match="does not exist"):
        read_bids_filter(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"bold": {\n  "acquisition": "mb4",\n}}')
    with pytest.raises(InputError, match=r"broken.json: is not valid JSON .* line 3"):
        read_bids_filter(broken)
