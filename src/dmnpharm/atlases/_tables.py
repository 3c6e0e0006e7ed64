"""Checks shared by the tables that describe a user's atlas (labels or coordinates).

Every message names where the problem is (file and line, or table row), the
value found, and what would have been accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmnpharm._utils import closest_match
from dmnpharm.atlases._atlas import NETWORKS, SUBSYSTEMS
from dmnpharm.atlases._names import (
    AMBIGUOUS_NETWORK_NAMES,
    normalise_network_name,
    standard_network,
)
from dmnpharm.exceptions import InputError

__all__: list[str] = []


def read_tsv(path: Path) -> pd.DataFrame:
    """Read a tab-separated table as strings, empty cells as ``""``."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table '{path}': {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


@dataclass(frozen=True)
class Locator:
    """Names table rows in messages: a file's line numbers, or a DataFrame's index labels."""

    where: str
    rows: tuple[str, ...]

    def __call__(self, i: int) -> str:
        """Where row ``i`` (0-based position) is, e.g. ``"'rois.tsv' line 4"``."""
        return f"{self.where} {self.rows[i]}"

    def short(self, i: int) -> str:
        """Row ``i`` without the table, e.g. ``"line 4"``."""
        return self.rows[i]


def file_locator(path: Path, n_rows: int) -> Locator:
    """Locate the rows of a TSV with one header line by line number."""
    return Locator(f"'{path}'", tuple(f"line {i + 2}" for i in range(n_rows)))


def frame_locator(what: str, table: pd.DataFrame) -> Locator:
    """Locate the rows of a DataFrame by index label."""
    return Locator(what, tuple(f"row {label!r}" for label in table.index))


def require_columns(table: pd.DataFrame, required: Sequence[str], where: str) -> None:
    """Raise if a required column is missing, listing the columns found."""
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(
            f"{where} has no column {', '.join(map(repr, missing))}; it needs "
            f"{', '.join(required)} (tab-separated, one header line) and has "
            f"{', '.join(map(str, table.columns)) or 'no columns'}"
        )


def check_unique(values: Sequence[str], column: str, locate: Locator) -> None:
    """Raise at the first value that repeats, naming both rows."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first:
            raise InputError(
                f"{locate(i)}: {column} {value!r} repeats {locate.short(first[value])}; "
                f"each region needs its own {column}"
            )
        first[value] = i


def check_mapping(mapping: Mapping[str, str]) -> None:
    """Raise if a network mapping sends a name outside :data:`NETWORKS`."""
    bad = {k: v for k, v in mapping.items() if v not in NETWORKS}
    if bad:
        raise InputError(
            f"the network mapping sends {bad} outside the vocabulary; its values must be "
            f"codes of NETWORKS: {', '.join(NETWORKS)}"
        )


def map_networks(
    values: Sequence[str], mapping: Mapping[str, str] | None, locate: Locator
) -> tuple[str, ...]:
    """Map each network name to a code: through ``mapping`` first, else as a code itself."""
    names = dict(mapping or {})
    check_mapping(names)
    codes = []
    for i, value in enumerate(values):
        common = standard_network(value)
        if value in names:
            codes.append(names[value])
        elif common is not None:
            codes.append(common)
        else:
            key = normalise_network_name(value)
            if key in AMBIGUOUS_NETWORK_NAMES:
                raise InputError(
                    f"{locate(i)}: network {value!r} is ambiguous: "
                    f"{AMBIGUOUS_NETWORK_NAMES[key]}; map it to a code with a mapping file "
                    "(--network-map: a TSV of name and network, e.g. a row "
                    f"'{value}<TAB>VAN')"
                )
            hint = closest_match(value, [*NETWORKS, *names])
            suggestion = f" (did you mean {hint!r}?)" if hint is not None else ""
            mapped = f" nor a name of the mapping given ({', '.join(names)})" if names else ""
            raise InputError(
                f"{locate(i)}: network {value!r} is neither a code of NETWORKS "
                f"({', '.join(NETWORKS)}) nor a common network name (docs/atlases.md)"
                f"{mapped}; use a code, or map your names to codes with a mapping file "
                "(--network-map: a TSV of name and network)"
                f"{suggestion}"
            )
    return tuple(codes)


def parse_subsystems(
    values: Sequence[str], networks: Sequence[str], locate: Locator
) -> tuple[str, ...]:
    """Check a subsystem column; return it, or ``()`` when no row names a subsystem."""
    allowed = [*SUBSYSTEMS, ""]
    for i, (value, network) in enumerate(zip(values, networks, strict=True)):
        if value not in allowed:
            hint = closest_match(value, SUBSYSTEMS)
            suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
            raise InputError(
                f"{locate(i)}: subsystem {value!r} is not one of {', '.join(SUBSYSTEMS)} "
                f"(or empty for none){suggestion}"
            )
        if value and network != "DMN":
            raise InputError(
                f"{locate(i)}: subsystem {value!r} is a DMN subsystem but the region's "
                f"network is {network!r}; leave the subsystem empty or set the network to DMN"
            )
    return tuple(values) if any(values) else ()
