"""Choosing participants by label and by a query of the participants table."""

import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.io._select import select_participants

#: As read from participants.tsv: every cell text, "n/a" for missing.
TABLE = pd.DataFrame(
    {
        "participant_id": ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"],
        "group": ["patient", "control", "patient", "control", "patient"],
        "medication": ["none", "none", "ssri", "ssri", "n/a"],
        "age": ["31", "n/a", "52", "47", "19"],
        "handedness score": ["80", "-20", "90", "70", "60"],
    }
)


def test_labels_with_or_without_prefix() -> None:
    """'01' and 'sub-03' keep those rows, in table order; the record names the others."""
    kept, record = select_participants(TABLE, labels=["sub-03", " 01"], where="p.tsv")
    assert list(kept["participant_id"]) == ["sub-01", "sub-03"]
    assert list(kept.index) == [0, 2]
    assert record == {
        "source": "p.tsv",
        "participant_label": ["sub-03", "sub-01"],
        "query": None,
        "n_before": 5,
        "n_after": 2,
        "left_out": ["sub-02", "sub-04", "sub-05"],
    }


def test_labels_that_match_no_one_are_named() -> None:
    """Every unknown label is named, with the closest participant when one is close."""
    with pytest.raises(InputError, match=r"'sub-9', '06' match no participant of p.tsv"):
        select_participants(TABLE, labels=["01", "sub-9", "06"], where="p.tsv")
    with pytest.raises(InputError, match="did you mean 'sub-02'"):
        select_participants(TABLE, labels=["02 x"])
    with pytest.raises(InputError, match="must be a list of labels"):
        select_participants(TABLE, labels="01")


def test_queries_on_text_and_numbers() -> None:
    """Text compares as text, number columns as numbers (n/a missing), backticks quote names."""
    queries = {
        "group == 'patient' or medication == 'none'": ["sub-01", "sub-02", "sub-03", "sub-05"],
        "age >= 40": ["sub-03", "sub-04"],
        "age != age": ["sub-02"],
        "`handedness score` > 65 and group == 'control'": ["sub-04"],
        "medication in ['ssri', 'n/a']": ["sub-03", "sub-04", "sub-05"],
    }
    for query, expected in queries.items():
        kept, record = select_participants(TABLE, query=query)
        assert list(kept["participant_id"]) == expected, query
        assert record["query"] == query
        assert list(kept.columns) == list(TABLE.columns)
        assert kept["age"].dtype == TABLE["age"].dtype
    kept, record = select_participants(TABLE, labels=["01", "02"], query="group == 'control'")
    assert list(kept["participant_id"]) == ["sub-02"]
    assert record["left_out"] == ["sub-01", "sub-03", "sub-04", "sub-05"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("grup == 'patient'", r"p.tsv has no column 'grup'; did you mean 'group'\?"),
        ("Age > 3", "no column 'Age'; did you mean 'age'"),
        ("group ==", "is not a valid expression"),
        ("group", "does not give True or False"),
        ("age > 'old'", "cannot be evaluated on p.tsv"),
        ("@limit < age", "refers to a Python variable"),
        ("  ", "is empty"),
        ("group == 'nobody'", "leaves no participant of p.tsv"),
    ],
)
def test_bad_queries(query: str, message: str) -> None:
    """Each bad query is an InputError naming the query, the column or the fault."""
    with pytest.raises(InputError, match=message):
        select_participants(TABLE, query=query, where="p.tsv")


def test_several_rows_per_participant() -> None:
    """Rows of one participant are kept together; a query splitting them is refused."""
    sessions = pd.DataFrame(
        {
            "participant_id": ["sub-01", "sub-01", "sub-02", "sub-02"],
            "group": ["a", "a", "b", "b"],
            "condition": ["drug", "placebo", "drug", "placebo"],
        }
    )
    kept, record = select_participants(sessions, query="group == 'b'")
    assert list(kept.index) == [2, 3]
    assert (record["n_before"], record["n_after"]) == (2, 1)
    with pytest.raises(InputError, match="keeps some rows of sub-01"):
        select_participants(sessions, query="condition == 'drug'")
    with pytest.raises(InputError, match="no 'participant_id' column; did you mean 'participant'"):
        select_participants(sessions.rename(columns={"participant_id": "participant"}))
