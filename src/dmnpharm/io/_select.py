"""Choose the participants of a study: by label, and by a query of the participants table.

Shared by the BIDS and the ROI-level loaders, so that both select alike and
record alike: the labels as fMRIPrep's ``--participant-label`` takes them (with
or without ``sub-``), and a pandas-query expression over the columns of
``participants.tsv``, such as ``group == 'patient' or medication == 'none'``.
Columns whose every value is a number are compared as numbers (``age >= 18``);
``n/a`` and empty cells are missing. Column names that are not Python names are
written between backticks (`` `handedness score` > 40 ``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from dmnpharm._utils import closest_match
from dmnpharm.exceptions import InputError

__all__ = ["select_participants"]

_UNDEFINED = re.compile(r"(name|local variable) '([^']+)' is not defined")
#: Cells read as missing when a column is compared as numbers.
_MISSING = ("", "n/a", "N/A", "NaN", "nan")


def _bare(label: str) -> str:
    """Return a participant label without ``sub-`` and surrounding spaces."""
    return str(label).strip().removeprefix("sub-")


def _check_labels(ids: pd.Series, labels: Sequence[str], where: str) -> set[str]:
    """Return the bare labels asked for; raise naming those that match no participant."""
    if isinstance(labels, str):
        raise InputError(
            f"participant labels must be a list of labels (e.g. ['01', '02']); got {labels!r}"
        )
    wanted = [_bare(label) for label in labels]
    empty = [label for label, bare in zip(labels, wanted, strict=True) if not bare]
    if empty:
        raise InputError(f"participant label {empty[0]!r} is empty; give labels like '01'")
    known = {_bare(pid) for pid in ids}
    unknown = [label for label, bare in zip(labels, wanted, strict=True) if bare not in known]
    if unknown:
        hint = closest_match(_bare(unknown[0]), sorted(known))
        fix = f"; did you mean 'sub-{hint}'?" if hint else ""
        raise InputError(
            f"participant label(s) {', '.join(repr(u) for u in unknown)} match no participant "
            f"of {where} ({len(known)} participants){fix}"
        )
    return set(wanted)


def _as_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """Return a copy where every column of text numbers (and missing cells) is numeric."""
    converted = table.copy()
    for column in table.columns:
        if pd.api.types.is_numeric_dtype(table[column]):
            continue
        text = table[column].astype(str).str.strip()
        missing = text.isin(_MISSING) | table[column].isna()
        numbers = pd.to_numeric(text.where(~missing), errors="coerce")
        if (~missing).any() and numbers[~missing].notna().all():
            converted[column] = numbers
    return converted


def _unknown_column(name: str, query: str, table: pd.DataFrame, where: str) -> InputError:
    """Return the error for a query naming a column the table does not have."""
    columns = [str(c) for c in table.columns]
    hint = closest_match(name, columns)
    fix = f"; did you mean '{hint}'?" if hint else ""
    return InputError(
        f"participants query {query!r}: {where} has no column '{name}'{fix} "
        f"(columns: {', '.join(columns)}; quote text values, e.g. group == 'patient')"
    )


def _evaluate(table: pd.DataFrame, query: str, where: str) -> pd.Series:
    """Return the query's True/False per row, or raise an InputError naming the fault."""
    if not query.strip():
        raise InputError("participants query is empty; give an expression like group == 'a'")
    numeric = _as_numbers(table).reset_index(drop=True)
    try:
        kept = numeric.eval(query, engine="python", local_dict={}, global_dict={})
    except pd.errors.UndefinedVariableError as exc:
        found = _UNDEFINED.search(str(exc))
        if found is None or found.group(1) != "name":
            raise InputError(
                f"participants query {query!r} refers to a Python variable ({exc}); write the "
                "values into the query itself"
            ) from None
        raise _unknown_column(found.group(2), query, table, where) from None
    except SyntaxError as exc:
        raise InputError(
            f"participants query {query!r} is not a valid expression ({exc.msg}); write it as "
            "pandas.DataFrame.query takes it, e.g. group == 'patient' and age >= 18"
        ) from None
    except Exception as exc:  # pandas raises many types for expressions it cannot evaluate
        raise InputError(
            f"participants query {query!r} cannot be evaluated on {where} "
            f"({type(exc).__name__}: {exc}); compare columns with values of their type"
        ) from None
    if not isinstance(kept, pd.Series) or kept.dtype != bool or len(kept) != len(table):
        raise InputError(
            f"participants query {query!r} does not give True or False per participant; "
            "write a condition, e.g. group == 'patient'"
        )
    return kept


def _per_participant(kept: pd.Series, ids: pd.Series, query: str, where: str) -> set[str]:
    """Return the participants kept; raise when the query splits one participant's rows."""
    by_id: dict[str, set[bool]] = {}
    for pid, keep in zip(ids, kept, strict=True):
        by_id.setdefault(pid, set()).add(bool(keep))
    split = sorted(pid for pid, values in by_id.items() if len(values) > 1)
    if split:
        raise InputError(
            f"participants query {query!r} keeps some rows of {split[0]} in {where} and "
            "not others; a participant query must use columns with one value per "
            "participant (select sessions or conditions in the design instead)"
        )
    return {pid for pid, values in by_id.items() if True in values}


def select_participants(
    participants: pd.DataFrame,
    labels: Sequence[str] | None = None,
    query: str | None = None,
    where: str = "participants.tsv",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the participants named by label and matching a query of their table.

    Parameters
    ----------
    participants : pandas.DataFrame
        The participants table with a ``participant_id`` column (``sub-<label>``);
        a participant may have several rows (e.g. one per session) when the
        query's columns have one value per participant.
    labels : sequence of str or None
        Participants to keep, with or without ``sub-`` (``["01", "sub-02"]``);
        None keeps all.
    query : str or None
        A :meth:`pandas.DataFrame.query` expression over the table's columns,
        e.g. ``"group == 'patient' or medication == 'none'"``; None keeps all.
        Applied after the labels.
    where : str
        The table's file, named in messages and in the record.

    Returns
    -------
    kept : pandas.DataFrame
        The rows of the participants kept, in their order, with the original
        values (and index).
    record : dict
        JSON-ready, for provenance: ``source``, ``participant_label`` (the
        ``sub-`` labels asked for, or None), ``query``, ``n_before``,
        ``n_after`` (participants) and ``left_out`` (their ids).

    Raises
    ------
    InputError
        For labels that match no participant, a query that is not an
        expression, names an unknown column (with the closest one), does not
        give True/False, or splits one participant's rows; and when nothing is
        left.

    Examples
    --------
    >>> table = pd.DataFrame({"participant_id": ["sub-01", "sub-02"], "age": ["30", "41"]})
    >>> kept, record = select_participants(table, query="age > 35")
    >>> list(kept["participant_id"]), record["left_out"]
    (['sub-02'], ['sub-01'])
    """
    if "participant_id" not in participants:
        hint = closest_match("participant_id", [str(c) for c in participants.columns])
        fix = f"; did you mean '{hint}'?" if hint else ""
        raise InputError(f"{where}: has no 'participant_id' column{fix}")
    ids = participants["participant_id"].astype(str).str.strip()
    keep = pd.Series(True, index=participants.index)
    if labels is not None:
        wanted = _check_labels(ids, labels, where)
        keep &= ids.map(_bare).isin(wanted)
    if query is not None:
        chosen = _per_participant(_evaluate(participants, query, where), ids, query, where)
        keep &= ids.isin(chosen).to_numpy()
    before = list(dict.fromkeys(ids))
    after = list(dict.fromkeys(ids[keep]))
    if not after:
        raise InputError(
            f"the participant selection (labels {labels}, query {query!r}) leaves no "
            f"participant of {where}; loosen it"
        )
    kept_ids = set(after)
    record = {
        "source": where,
        "participant_label": None if labels is None else [f"sub-{_bare(x)}" for x in labels],
        "query": query,
        "n_before": len(before),
        "n_after": len(after),
        "left_out": [pid for pid in before if pid not in kept_ids],
    }
    return participants[keep.to_numpy()], record
