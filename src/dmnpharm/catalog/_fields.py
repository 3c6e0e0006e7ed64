"""The evidence catalog's field checks: the type and vocabulary of each field of a row."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dmnpharm._utils import closest_match
from dmnpharm.catalog._publications import EFFECT_CONFIDENCE, EFFECT_KINDS
from dmnpharm.catalog._vocabulary import (
    CONFIRMATION,
    DESIGNS,
    DIRECTIONS,
    EFFECT_METRICS,
    MODALITIES,
    MODES,
    RELATIONS,
    VERDICTS,
    VOCABULARY,
)

__all__ = ["DOI_PATTERN", "SPECS", "Spec", "check_fields", "table_list"]

#: A DOI as the catalog stores it: prefix ``10.NNNN`` and a suffix without spaces.
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_STUDY_ID = re.compile(r"^[a-z][a-z0-9]*$")

# A field check gets the value and returns a problem ("" when fine).
_Check = Callable[[Any], str]


def _str(value: Any) -> str:
    return "" if isinstance(value, str) else f"must be a string, got {type(value).__name__}"


def _int(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {type(value).__name__}"
    return "" if 1900 <= value <= 2100 else f"{value} is not a plausible year"


def _count(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {type(value).__name__}"
    return "" if value >= 2 else f"must be at least 2, got {value}"


def _group_sizes(value: Any) -> str:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    ):
        return f"must be a list of two positive integers, got {value!r}"
    return ""


def _positive(value: Any) -> str:
    problem = _number(value)
    if problem:
        return problem
    return "" if value > 0 else f"must be positive, got {value!r}"


def _bool(value: Any) -> str:
    return "" if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    return ""


def _str_list(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return ""


def table_list(value: Any) -> str:
    """Return the problem of a value that is not a list of tables ("" when it is)."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return "must be a list of tables"
    return ""


def _enum(allowed: Iterable[str]) -> _Check:
    options = tuple(allowed)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if value in options:
            return ""
        hint = closest_match(value, options)
        suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
        return f"{value!r} is not one of {', '.join(map(repr, options))}{suggestion}"

    return check


def _pattern(regex: re.Pattern[str], what: str) -> _Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        return "" if regex.match(value) else f"{value!r} is not {what}"

    return check


#: One table's fields: field -> (required, check).
Spec = dict[str, tuple[bool, _Check]]

_ID_CHECK = _pattern(_ID, "a lowercase id (letters, digits, _)")

#: The :data:`Spec` of each table of the file (and of each nested table).
SPECS: dict[str, Spec] = {
    "drug_classes": {"id": (True, _ID_CHECK), "name": (True, _str), "description": (True, _str)},
    "populations": {"id": (True, _ID_CHECK), "name": (True, _str), "description": (True, _str)},
    "agents": {
        "id": (True, _ID_CHECK),
        "name": (True, _str),
        "drug_class": (True, _str),
        "targets": (True, table_list),
    },
    "targets": {"target": (True, _str), "mode": (True, _enum(MODES))},
    "studies": {
        "id": (True, _pattern(_STUDY_ID, "a lowercase id of letters and digits")),
        "first_author": (True, _str),
        "year": (False, _int),
        "journal": (True, _str),
        "doi": (False, _pattern(DOI_PATTERN, "a DOI (10.NNNN/suffix)")),
        "agents": (True, _str_list),
        "drug_class": (True, _str),
        "dose": (True, _str),
        "design": (True, _enum(DESIGNS)),
        "population": (True, _str),
        "n": (True, _str),
        "modality": (True, _enum(MODALITIES)),
        "findings": (True, table_list),
        "gsr": (False, _bool),
        "confirmation": (True, _enum(CONFIRMATION)),
        "note": (True, _str),
        "doi_reason": (False, _str),
        "year_reason": (False, _str),
    },
    "findings": {
        "measure": (True, _enum(VOCABULARY)),
        "direction": (True, _enum(DIRECTIONS)),
        "effect": (True, _str),
        "effect_size": (False, _number),
        "effect_kind": (False, _enum(EFFECT_KINDS)),
        "effect_metric": (False, _enum(EFFECT_METRICS)),
        "effect_n": (False, _count),
        "effect_group_sizes": (False, _group_sizes),
        "ci_low": (False, _number),
        "ci_high": (False, _number),
        "se": (False, _positive),
        "effect_source": (False, _str),
        "effect_derivation": (False, _str),
        "effect_confidence": (False, _enum(EFFECT_CONFIDENCE)),
        "direction_only": (False, _bool),
        "direction_only_reason": (False, _str),
        "significance_p": (False, _positive),
    },
    "baselines": {
        "id": (True, _ID_CHECK),
        "population": (True, _str),
        "measure": (True, _enum(VOCABULARY)),
        "direction": (True, _enum(DIRECTIONS)),
        "studies": (True, _str_list),
        "note": (True, _str),
    },
    "claims": {
        "id": (True, _ID_CHECK),
        "drug_class": (True, _str),
        "population": (True, _str),
        "statement": (True, _str),
        "measures": (True, _str_list),
        "expected_direction": (True, _enum(DIRECTIONS)),
        "links": (True, table_list),
        "verdict": (True, _enum(VERDICTS)),
        "rationale": (True, _str),
    },
    "links": {"study": (True, _str), "relation": (True, _enum(RELATIONS))},
}


def check_fields(row: Mapping[str, Any], spec: Spec, where: str) -> list[str]:
    """Return the problems of one table row: unknown keys, missing or bad fields."""
    problems = []
    for key in row:
        if key not in spec:
            hint = closest_match(key, spec)
            suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
            problems.append(f"{where}: unknown key {key!r}{suggestion}")
    for key, (required, check) in spec.items():
        if key not in row:
            if required:
                problems.append(f"{where}: missing field {key!r}")
            continue
        message = check(row[key])
        if message:
            problems.append(f"{where}: {key} {message}")
    return problems
