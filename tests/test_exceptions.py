"""The error hierarchy lets users catch dmnpharm errors or the builtins they refine."""

import pytest

from dmnpharm.exceptions import (
    DmnpharmError,
    InputError,
    OutputExistsError,
    StudyValidationError,
)


def test_errors_are_builtins_too() -> None:
    """Each error is both a DmnpharmError and its builtin."""
    assert issubclass(InputError, ValueError)
    assert issubclass(InputError, DmnpharmError)
    assert issubclass(OutputExistsError, FileExistsError)
    assert issubclass(StudyValidationError, InputError)


def test_study_validation_error_lists_every_problem() -> None:
    """The message counts and lists each problem on its own line."""
    err = StudyValidationError("s", ["a.tsv, line 3: bad", "b.tsv: missing"])
    text = str(err)
    assert "2 problems" in text
    assert "  - a.tsv, line 3: bad" in text
    assert "  - b.tsv: missing" in text
    assert err.problems == ["a.tsv, line 3: bad", "b.tsv: missing"]
    with pytest.raises(ValueError, match="1 problem;"):
        raise StudyValidationError("s", ["one"])
