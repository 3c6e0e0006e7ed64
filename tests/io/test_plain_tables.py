"""The quick reader of small study tables (sessions, participants) against pandas.read_csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.io._text_tables import plain_text_table, read_text_table

PLAIN = {
    "design": "session_id\tcondition\tdose_mg\nses-1\tdrug\t1.0\nses-2\tplacebo\tn/a\n",
    "no final newline": "session_id\tcondition\nses-1\tdrug",
    "blank lines": "session_id\tcondition\n\nses-1\tdrug\n\n",
    "spaces kept": "session_id\tcondition\n ses-1 \t  \n",
    "header only": "session_id\tcondition\n",
    "empty cells": "a\tb\tc\n\t\t\nx\t\ty\n",
    "non-ASCII": "participant_id\tgroup\nsub-01\tpatiënt\n",
    "numbers stay text": "a\tb\n001\t1e5\nNaN\tnull\n",
}

# read with pandas instead: quoting, Windows line ends, a byte-order mark, ragged or
# single-column tables, repeated or empty names, an empty file, not UTF-8
OTHER = {
    "quoted": b'session_id\tcondition\nses-1\t"drug, high"\n',
    "CRLF": b"session_id\tcondition\r\nses-1\tdrug\r\n",
    "BOM": "\ufeffsession_id\tcondition\nses-1\tdrug\n".encode(),
    "short row": b"session_id\tcondition\nses-1\n",
    "long row": b"session_id\tcondition\nses-1\tdrug\textra\n",
    "one column": b"session_id\nses-1\n",
    "repeated name": b"a\ta\n1\t2\n",
    "empty name": b"a\t\n1\t2\n",
    "empty file": b"",
    "blank lines only": b"\n\n",
    "latin-1": "participant_id\tgroup\nsub-01\tpatiënt\n".encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_tables_read_as_pandas_reads_them(tmp_path: Path, name: str) -> None:
    """Same columns, values and dtypes as pandas' read_csv of tab-separated text."""
    path = tmp_path / "t.tsv"
    path.write_text(PLAIN[name], encoding="utf-8")
    got = plain_text_table(path)
    assert got is not None
    expected = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_tables_go_to_pandas_with_its_errors(tmp_path: Path, name: str) -> None:
    """Anything else is read by pandas: the same table, or the same problem reported."""
    path = tmp_path / "t.tsv"
    path.write_bytes(OTHER[name])
    assert plain_text_table(path) is None
    problems: list[str] = []
    table = read_text_table(path, problems)
    try:
        expected = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        assert table is None
        assert len(problems) == 1
        assert "cannot be read as a TSV table" in problems[0]
    else:
        assert table is not None
        pd.testing.assert_frame_equal(table, expected)
        assert problems == []


def test_blank_missing_and_repeated_cells_are_named_by_line(tmp_path: Path) -> None:
    """Empty, 'n/a' and missing cells (a short row) are empty; a repeat names its line."""
    from dmnpharm.io._roi_study import _blank_cells, _duplicates

    path = tmp_path / "sub-01_sessions.tsv"
    path.write_bytes(b"session_id\tcondition\nses-1\t \nses-2\tn/a\nses-1\tdrug\nses-3\n")
    problems: list[str] = []
    table = read_text_table(path, problems)
    assert table is not None
    _blank_cells(table, "condition", path, problems)
    _duplicates(table, "session_id", path, problems)
    assert problems == [
        f"{path}, line 2: 'condition' is empty; give every row a value",
        f"{path}, line 3: 'condition' is empty; give every row a value",
        f"{path}, line 5: 'condition' is empty; give every row a value",
        f"{path}, line 4: session_id 'ses-1' is listed twice",
    ]
