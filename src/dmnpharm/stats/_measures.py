"""Measure names of region- and edge-level rows, and the one-row-per-run-and-measure check.

``dmnpharm run`` writes region rows (``metrics_regions.parquet``) and edge rows
(``metrics_edges.parquet``) whose measure is shared by every region or edge
(``gbc``, ``edge_fc``): the region is in ``region_a``, the edge's second region
in ``region_b``. A group model tests one measure per name, so
:func:`name_measures` gives each region and edge its own, readable and stable
name::

    gbc[DefaultMode_081]                       region rows: measure[region_a]
    edge_fc[DefaultMode_081--DefaultMode_082]  edge rows: measure[region_a--region_b]

Rows without regions (network level) keep their measure. The name depends only
on the row's own ``measure``, ``region_a`` and ``region_b`` (never on the other
rows), so it is the same in every table and every run of the pipeline;
:func:`split_measure_name` reverses it.

A group model averages the runs of a subject at each level of its factor
(:func:`dmnpharm.stats.analyse`), which silently mixes measures when the rows
of one run repeat a measure. :func:`check_unique_runs` refuses such a table,
naming the rows' key and the columns that tell them apart.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dmnpharm.exceptions import InputError
from dmnpharm.io._bids_design import DESIGN_ENTITIES

__all__ = [
    "IDENTIFIER_COLUMNS",
    "RUN_COLUMNS",
    "check_unique_runs",
    "measure_name",
    "name_measures",
    "split_measure_name",
]

#: Columns naming the region (and the edge's second region) a row measures, in name order.
IDENTIFIER_COLUMNS = ("region_a", "region_b")
#: Columns that tell one run of a subject from another (as ``dmnpharm run`` writes them).
RUN_COLUMNS: tuple[str, ...] = ("session_id", "task", "run", *DESIGN_ENTITIES)
#: Between the two regions of an edge in its name.
SEPARATOR = "--"

_NAME = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<ids>[^\[\]]*)\]$")


def measure_name(measure: str, identifiers: tuple[str, ...] | list[str] = ()) -> str:
    """Return the name of a region or edge measure: ``measure[A]`` or ``measure[A--B]``.

    Parameters
    ----------
    measure : str
        The measure shared by the level's rows (``gbc``, ``edge_fc``).
    identifiers : sequence of str
        The non-empty region labels of the row (``region_a``, ``region_b``).

    Returns
    -------
    str
        ``measure`` itself when there are no identifiers.

    Examples
    --------
    >>> measure_name("edge_fc", ("PCC", "mPFC"))
    'edge_fc[PCC--mPFC]'
    >>> measure_name("dmn_within_fc")
    'dmn_within_fc'
    """
    return f"{measure}[{SEPARATOR.join(identifiers)}]" if identifiers else measure


def split_measure_name(name: str) -> tuple[str, tuple[str, ...]]:
    """Split a measure name into the shared measure and its region labels.

    Parameters
    ----------
    name : str
        A name from :func:`measure_name` (or any other measure name).

    Returns
    -------
    tuple
        ``(measure, (region_a,))`` for a region, ``(measure, (region_a,
        region_b))`` for an edge, ``(name, ())`` for a name without regions.

    Examples
    --------
    >>> split_measure_name("edge_fc[PCC--mPFC]")
    ('edge_fc', ('PCC', 'mPFC'))
    >>> split_measure_name("gbc[PCC]")
    ('gbc', ('PCC',))
    """
    match = _NAME.match(name)
    if match is None or not match["ids"]:
        return name, ()
    return match["base"], tuple(match["ids"].split(SEPARATOR))


Codes = npt.NDArray[np.signedinteger[Any]]


def _codes(values: pd.Series) -> tuple[Codes, pd.Index]:
    """Integer codes (-1: missing) and the labels they index, without a Python loop over rows.

    A categorical's own codes (8 or 16 bits for a few hundred labels): a
    connectome-scale table has millions of rows.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.cat.codes), pd.Index(values.cat.categories)
    codes, labels = pd.factorize(values)
    return np.asarray(codes), pd.Index(labels)


def _mix(key: Codes, codes: Codes, width: int) -> None:
    """Append a column's codes (-1 to ``width - 2``) to ``key`` in place.

    ``key`` becomes ``key * width + code + 1``.
    """
    key *= width
    key += codes
    key += 1


def _label_codes(values: pd.Series) -> tuple[Codes, list[str]]:
    """Codes of a region column with empty text as missing (-1), and the labels as text."""
    codes, labels = _codes(values)
    texts = ["" if pd.isna(v) else str(v) for v in labels]
    empty = np.array([t == "" for t in texts] + [True], dtype=bool)
    codes = np.where(empty[codes], -1, codes)  # code -1 picks the trailing True
    return codes, texts


def _names(
    measure: npt.NDArray[np.int64],
    measure_texts: list[str],
    ids: list[npt.NDArray[np.int64]],
    id_texts: list[list[str]],
) -> pa.Array:
    """:func:`measure_name` of each combination, as Arrow text (null: no measure).

    ``measure`` and ``ids`` index ``measure_texts`` and ``id_texts`` (-1:
    missing); built column-wise (tens of thousands of edges in milliseconds).
    """

    def take(texts: list[str], index: npt.NDArray[np.int64]) -> pa.Array:
        valid = index >= 0
        return pa.array(texts, type=pa.string()).take(pa.array(np.where(valid, index, 0)))

    inner = pa.nulls(measure.size, type=pa.string())
    for index, texts in zip(ids, id_texts, strict=True):
        label = take(texts, index)
        joined = pc.binary_join_element_wise(inner, label, SEPARATOR)
        with_label = pc.if_else(pc.is_null(inner), label, joined)
        inner = pc.if_else(pa.array(index >= 0), with_label, inner)
    base = take(measure_texts, measure)
    named = pc.binary_join_element_wise(base, pc.binary_join_element_wise(inner, "]", ""), "[")
    out = pc.if_else(pc.is_null(inner), base, named)
    return pc.if_else(pa.array(measure >= 0), out, pa.nulls(measure.size, type=pa.string()))


def name_measures(table: pd.DataFrame) -> pd.DataFrame:
    """Give every region and edge of a tidy table its own measure name.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics (``measure``; ``region_a`` and ``region_b`` where rows
        measure a region or an edge, empty or missing otherwise).

    Returns
    -------
    pandas.DataFrame
        The same rows; ``measure`` is :func:`measure_name` of each row's
        measure and non-empty region labels (a categorical column: each name
        is stored once). A table without region labels is returned as given.
        The region columns are kept (the report's edge matrix reads them).
    """
    present = [c for c in IDENTIFIER_COLUMNS if c in table.columns]
    if not present or table.empty:
        return table
    parts = [_label_codes(table[c]) for c in present]
    if all((codes < 0).all() for codes, _ in parts):
        return table
    measure, measure_labels = _codes(table["measure"])
    size = len(measure_labels) + 1
    for _, labels in parts:
        size *= len(labels) + 1
    key: Codes = np.zeros(len(table), dtype=np.int32 if size < 2**31 else np.int64)
    _mix(key, measure, len(measure_labels) + 1)
    for codes, labels in parts:
        _mix(key, codes, len(labels) + 1)
    combo, n_combos = _dense(key, size)
    uniques = np.empty(n_combos, dtype=np.int64)
    uniques[combo] = key  # each combination's key
    del key
    ids: list[npt.NDArray[np.int64]] = []
    for _, labels in reversed(parts):
        ids.append(uniques % (len(labels) + 1) - 1)
        uniques = uniques // (len(labels) + 1)
    ids.reverse()
    measure_texts = [str(v) for v in measure_labels]
    names = _names(uniques - 1, measure_texts, ids, [labels for _, labels in parts])
    # one category per distinct name (two combinations could give the same text)
    encoded = pc.dictionary_encode(names)
    categories = pd.Index(encoded.dictionary.to_pylist(), dtype=object)
    name_codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    codes = np.asarray(name_codes, dtype=np.int64)[combo]
    column = pd.Categorical.from_codes(codes, categories=categories)
    return table.assign(measure=column)


def _key_columns(table: pd.DataFrame, subject: str, within: str | None) -> list[str]:
    """Subject, the run columns present, the within factor and the measure."""
    keys = [subject, *(c for c in RUN_COLUMNS if c in table.columns and c != subject)]
    if within and within in table.columns and within not in keys:
        keys.append(within)
    return [*keys, "measure"]


def _dense(key: Codes, size: int) -> tuple[Codes, int]:
    """Renumber the values of ``key`` (all below ``size``) 0, 1, ... in sorted order."""
    if size <= 2 * len(key) + 1024:
        present = np.bincount(key, minlength=size) > 0
        lookup = np.cumsum(present) - 1
        count = int(lookup[-1]) + 1
        small: Codes = lookup.astype(np.int32 if count < 2**31 else np.int64)
        dense: Codes = small[key]
        return dense, count
    codes, uniques = pd.factorize(key, sort=True)
    return np.asarray(codes), len(uniques)


def _combined_key(table: pd.DataFrame, keys: list[str]) -> tuple[Codes, int]:
    """One integer per row, equal for rows equal in every key column, and their bound.

    Missing counts as a value. The combinations are renumbered densely before
    the last column (the measure), so the bound stays near the number of rows
    (the runs times the measures) and counting them takes little memory.
    """
    key: Codes = np.zeros(len(table), dtype=np.int64)
    size = 1
    for i, column in enumerate(keys):
        codes, labels = _codes(table[column])
        width = len(labels) + 1
        if size * width >= 2**62 or i == len(keys) - 1:
            key, size = _dense(key, size)
            key = key.astype(np.int64, copy=False) if size * width >= 2**31 else key
        _mix(key, codes, width)
        size *= width
    return key, size


def _text(value: Any) -> str:
    return "n/a" if pd.isna(value) else repr(str(value))


def _duplicate_message(
    table: pd.DataFrame, keys: list[str], codes: npt.NDArray[np.intp], n_repeated: int, source: str
) -> str:
    """Name one repeated key, the columns telling its rows apart, and the fixes."""
    counts = np.bincount(codes)
    i, j = np.flatnonzero(codes == codes[np.flatnonzero(counts[codes] > 1)[0]])[:2]
    first, second = table.iloc[i], table.iloc[j]
    differ = [
        c
        for c in table.columns
        if c not in keys
        and not (pd.isna(first[c]) and pd.isna(second[c]))
        and first[c] != second[c]
    ]
    where = ", ".join(f"{c} {_text(first[c])}" for c in keys[:-1])
    apart = (
        "; they differ in "
        + ", ".join(f"{c} ({_text(first[c])} vs {_text(second[c])})" for c in differ[:3])
        if differ
        else "; they differ in nothing else"
    )
    run_columns = ", ".join(RUN_COLUMNS[:3])
    return (
        f"{source}: {n_repeated:,} rows repeat a measure within a run, e.g. measure "
        f"{_text(first['measure'])} at {where}{apart}. The model needs one row per run and "
        "measure (runs are told apart by the subject, the within factor and "
        f"{run_columns}, ...). Fix: put the column that tells these rows apart into the "
        "measure name (as dmnpharm stats does with region_a/region_b: "
        "'edge_fc[A--B]'), keep one of the repeated rows, or, if they are separate runs, "
        f"add a column telling the runs apart ({run_columns})"
    )


def check_unique_runs(
    table: pd.DataFrame,
    subject: str = "participant_id",
    within: str | None = None,
    source: str = "metrics table",
) -> None:
    """Refuse a table in which a run lists a measure more than once.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics, measures already named (:func:`name_measures`).
    subject : str
        The subject column.
    within : str or None
        The model's within-subject factor, when it has one.
    source : str
        How the error names the table (e.g. ``metrics table 'x.parquet'``).

    Returns
    -------
    None
        The table passes; nothing is changed.

    Raises
    ------
    InputError
        Rows agreeing in the subject, every :data:`RUN_COLUMNS` column the
        table has, ``within`` and ``measure``: the message names one such key,
        the columns whose values tell the rows apart, and the fixes.
    """
    keys = _key_columns(table, subject, within)
    if len(table) < 2 or any(c not in table.columns for c in keys):
        return
    key, size = _combined_key(table, keys)
    # few enough combinations to count each one directly
    if size <= 2 * len(key) + 1024 and np.bincount(key, minlength=size).max() <= 1:
        return
    codes, uniques = pd.factorize(key)
    if len(uniques) == len(key):
        return
    counts = np.bincount(codes, minlength=len(uniques))
    n_repeated = int((counts[codes] > 1).sum())
    raise InputError(_duplicate_message(table, keys, codes, n_repeated, source))
