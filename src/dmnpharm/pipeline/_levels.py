"""Region- and edge-level rows, written to Parquet as runs are measured.

A run of a 300-region atlas gives about 8,000 region and edge rows (two
analyses), each carrying the run's design columns. Held in memory for a whole
cohort they grew the client by about 2 GiB per 1,000 runs; written run by run
they cost one run's rows. Only network-level rows, which the group model
needs, stay in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dmnpharm.pipeline._packed import as_dictionary
from dmnpharm.store._names import ROW_GROUP_ROWS as STORE_ROW_GROUP_ROWS

__all__ = ["LEVEL_FILES", "LevelFiles", "RunRows", "split_levels", "tag_rows"]

#: Rows of each Parquet row group (the last one of a file has the rest): DuckDB's own row
#: group size, which the store's ingest is divided by
#: (:data:`dmnpharm.store._names.ROW_GROUP_ROWS`).
ROW_GROUP_ROWS = STORE_ROW_GROUP_ROWS

#: Columns whose Parquet row groups carry min/max statistics, for readers that filter on
#: them (the analysis, a participant, a measure). Statistics of every column (the design's
#: constants included) made writing the rows 1.6x slower (15 cohort runs' 66,330 edge rows:
#: 42 ms against 26 ms).
STATISTICS_COLUMNS = (
    "participant_id",
    "session_id",
    "analysis",
    "measure",
    "network_a",
    "network_b",
    "value",
)

#: The file of each streamed level, inside the output folder.
LEVEL_FILES = {"region": "metrics_regions.parquet", "edge": "metrics_edges.parquet"}


def tag_rows(
    table: pd.DataFrame, keys: dict[str, Any], atlas: str, estimator: str
) -> pd.DataFrame:
    """Put a run's design columns in front of its bundle rows, atlas and estimator after.

    Parameters
    ----------
    table : pandas.DataFrame
        The run's bundle rows.
    keys : dict
        Its design columns and values.
    atlas, estimator : str
        The analysis's atlas name and connectivity estimator.

    Returns
    -------
    pandas.DataFrame
        The tagged rows.
    """
    size = len(table)
    if not table.columns.is_unique or not set(keys).isdisjoint(table.columns):
        front = pd.DataFrame({k: [v] * size for k, v in keys.items()}, index=table.index)
        tagged = pd.concat([front, table], axis=1)
        tagged["atlas"] = atlas
        tagged["estimator"] = estimator
        return tagged
    # One constructor of all the columns: a frame of the keys, concatenated with the rows
    # and given two more columns (above), made the same table in 0.8 ms against 0.5 ms.
    columns: dict[str, Any] = {k: [v] * size for k, v in keys.items()}
    columns.update({str(name): table[name].array for name in table.columns})
    columns["atlas"] = [atlas] * size
    columns["estimator"] = [estimator] * size
    return pd.DataFrame(columns, index=table.index, copy=False)


@dataclass(frozen=True, eq=False)
class RunRows:
    """One run's tagged rows: network-level as a table, region and edge levels as Arrow.

    The region and edge tables travel without the run's constant columns (its
    design columns, atlas and estimator), which :meth:`table` repeats where
    they are written: a run of a 300-region atlas is then 1.3 MB to send from
    its worker instead of 2.8 MB, and 0.4 ms to pickle and unpickle instead
    of 2.2 ms.

    Parameters
    ----------
    network : pandas.DataFrame
        The network-level rows the group model needs.
    levels : dict of str to pyarrow.Table
        The region and edge rows (levels with rows only), without the
        constant columns.
    constants : dict of str to pyarrow.Scalar
        The run's constant columns, one value each: its design columns,
        ``atlas`` and ``estimator``.
    names : tuple of str
        The columns of a level's whole table, in order: the design columns,
        the bundle's, ``atlas`` and ``estimator``.
    """

    network: pd.DataFrame
    levels: dict[str, pa.Table] = dataclass_field(default_factory=dict)
    constants: dict[str, pa.Scalar] = dataclass_field(default_factory=dict)
    names: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the level tables as Arrow IPC streams (one buffer each).

        A pickled Arrow table rebuilds each of its arrays through Python; an IPC
        stream is read in one call, without copying: a run's region and edge
        tables took 0.13 ms to write and read back against 0.41 ms.

        Returns
        -------
        tuple
            What :mod:`pickle` calls to rebuild equal rows.
        """
        streams = {name: _ipc_bytes(table) for name, table in self.levels.items()}
        return (_from_streams, (self.network, streams, self.constants, self.names))

    def table(self, name: str) -> pa.Table:
        """Return a level's whole tagged table, the constant columns repeated.

        Parameters
        ----------
        name : str
            ``region`` or ``edge`` (one of :attr:`levels`).

        Returns
        -------
        pyarrow.Table
            The design columns, the bundle's columns, ``atlas`` and
            ``estimator``; a design column named like a bundle column holds
            the design's value in both places.
        """
        part = self.levels[name]
        size = part.num_rows
        columns = [
            _repeated(self.constants[n], size) if n in self.constants else part.column(n)
            for n in self.names
        ]
        return pa.Table.from_arrays(columns, names=list(self.names))


def _ipc_bytes(table: pa.Table) -> pa.Buffer:
    """Return a table as one Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_streams(
    network: pd.DataFrame,
    streams: dict[str, pa.Buffer],
    constants: dict[str, pa.Scalar],
    names: tuple[str, ...],
) -> RunRows:
    """Rebuild pickled :class:`RunRows` (see :meth:`RunRows.__reduce__`)."""
    levels = {name: pa.ipc.open_stream(stream).read_all() for name, stream in streams.items()}
    return RunRows(network, levels, constants, names)


def _repeated(value: pa.Scalar, size: int) -> pa.Array:
    """``value`` in ``size`` rows: a dictionary of the one value, or nulls of its type.

    A dictionary costs an array of zeros instead of ``size`` copies of the value, and
    the Parquet writer writes its indices as they are instead of looking every row's
    value up in its own dictionary.
    """
    if not value.is_valid:
        return pa.nulls(size, type=value.type)
    indices = pa.array(np.zeros(size, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.repeat(value, 1))


def split_levels(table: pd.DataFrame, keys: dict[str, Any], atlas: str, estimator: str) -> RunRows:
    """Split a run's bundle rows into tagged network rows and Arrow tables of the other levels.

    Done where the run was computed, so the client only appends the tables. The
    result is what :func:`tag_rows` and :meth:`LevelFiles.add` give, built in
    Arrow: the bundle is converted once and the design columns are constants.

    Parameters
    ----------
    table : pandas.DataFrame
        The run's bundle rows (column ``level``).
    keys : dict
        Its design columns and values.
    atlas, estimator : str
        The analysis's atlas name and connectivity estimator.

    Returns
    -------
    RunRows
        The tagged network rows and each streamed level's tagged rows.
    """
    # One thread: a pool's hand-offs cost more than these columns' conversion (1 ms).
    arrow = pa.Table.from_pandas(table, preserve_index=False, nthreads=1)
    # The bundle's texts as dictionaries (encoded once per worker: a study's runs share
    # them): a run's rows are 0.26 MB to send through the worker's pipe instead of 1.30 MB
    # (the 500-subject cohort's workers: 26-27 s of CPU against 31 s).
    coded = pa.Table.from_arrays(
        [as_dictionary(column) for column in arrow.columns], names=arrow.column_names
    )
    # Each row's level as a code into the levels present (the dictionary above, else one
    # pass over the texts), then NumPy comparisons (three Arrow comparisons of every row's
    # text cost about 1 ms).
    level = coded.column("level").combine_chunks()
    encoded = level if pa.types.is_dictionary(level.type) else level.dictionary_encode()
    present = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(-1).to_numpy()
    rows = {
        name: np.flatnonzero(codes == present.index(name))
        for name in ("network", *LEVEL_FILES)
        if name in present
    }
    network = tag_rows(
        table.take(rows.get("network", np.zeros(0, dtype=np.intp))), keys, atlas, estimator
    )
    constants = {**keys, "atlas": atlas, "estimator": estimator}
    kinds = _constant_types(constants)
    # One value of each, converted once; repeated by RunRows.table (a list per level cost
    # ~3 ms; repeated here, they made the run 2.8 MB to send instead of 1.3 MB).
    scalars = {k: pa.array([v], type=kinds[k], from_pandas=True)[0] for k, v in constants.items()}
    tables = {name: coded.take(rows[name]) for name in LEVEL_FILES if name in rows}
    names = (*keys, *arrow.column_names, "atlas", "estimator")
    return RunRows(network, tables, scalars, names)


# Design values whose type alone fixes the Arrow type pandas infers for them.
_PLAIN_TYPES = (str, float, int, bool, type(None), np.generic)
# Per tuple of (column, value type): the Arrow types pandas infers (the same for every run
# of a study, so inferring them once saves a DataFrame per run: 1.5 ms).
_INFERRED: dict[tuple[tuple[str, type], ...], dict[str, pa.DataType]] = {}


def _constant_types(constants: dict[str, Any]) -> dict[str, pa.DataType]:
    """Return the Arrow type of each constant column, as pandas would convert it.

    Text becomes pandas' strings, a float a double, None the null type. For
    values of plain types (str, float, int, bool, None, NumPy scalars) the
    answer depends on the types alone and is kept per tuple of types; other
    values are inferred every time.
    """
    signature = tuple((k, type(v)) for k, v in constants.items())
    known = _INFERRED.get(signature)
    if known is not None:
        return known
    schema = pa.Schema.from_pandas(
        pd.DataFrame({k: [v] for k, v in constants.items()}), preserve_index=False
    )
    kinds = {k: schema.field(k).type for k in constants}
    if all(issubclass(kind, _PLAIN_TYPES) for _, kind in signature):
        _INFERRED[signature] = kinds
    return kinds


def _column(values: pd.Series, kind: pa.DataType) -> pa.Array:
    """One column as ``kind``; a column with no value at all becomes nulls of that type."""
    if values.isna().all():
        return pa.nulls(len(values), type=kind)
    return pa.array(values, type=kind, from_pandas=True)


def _cast(values: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """One Arrow column as ``kind`` (a column of nulls only becomes nulls of that type)."""
    if values.type == kind:
        return values
    if values.null_count == len(values):
        return pa.chunked_array([pa.nulls(len(values), type=kind)])
    return values.cast(kind)


class LevelFiles:
    """Append each run's region and edge rows to their Parquet files; keep network rows.

    Parameters
    ----------
    folder : Path
        Where the files are written (the staging folder).
    design : pandas.DataFrame
        Every run's design columns: their types over the whole study fix the
        files' types, so a run whose text column is empty (all missing) still
        writes text.

    Notes
    -----
    Rows keep the order they are added in. Use as a context manager, or call
    :meth:`close`: a file is complete only once closed.
    """

    def __init__(self, folder: Path, design: pd.DataFrame) -> None:
        self._folder = folder
        self._design_types = {
            str(field.name): field.type
            for field in pa.Schema.from_pandas(design, preserve_index=False)
        }
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._pending: dict[str, list[pa.Table]] = {}
        self._pending_rows: dict[str, int] = {}
        self.rows: dict[str, int] = dict.fromkeys(LEVEL_FILES, 0)

    def _schema(self, rows: pd.DataFrame | pa.Schema) -> pa.Schema:
        """Types: the design's for design columns, else inferred; never the null type."""
        inferred = (
            rows
            if isinstance(rows, pa.Schema)
            else pa.Schema.from_pandas(rows, preserve_index=False)
        )
        fields = []
        for field in inferred:
            given = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            kind = self._design_types.get(str(field.name), given)
            kind = pa.string() if pa.types.is_null(kind) else kind
            if pa.types.is_dictionary(field.type):  # a run's constant (RunRows.table)
                kind = pa.dictionary(pa.int32(), kind)
            fields.append(pa.field(field.name, kind))
        return pa.schema(fields)

    def add(self, tagged: pd.DataFrame) -> pd.DataFrame:
        """Write a run's region and edge rows; return its network-level rows.

        Parameters
        ----------
        tagged : pandas.DataFrame
            One run's bundle rows with its design columns (column ``level``).

        Returns
        -------
        pandas.DataFrame
            The rows of level ``network``.
        """
        level = tagged["level"]
        for name in LEVEL_FILES:
            rows = tagged[level == name]
            if rows.empty:
                continue
            if name not in self._writers:
                self._open(name, self._schema(rows))
            schema = self._schemas[name]
            arrays = [_column(rows[field.name], field.type) for field in schema]
            self._write(name, pa.Table.from_arrays(arrays, schema=schema))
        return tagged[level == "network"]

    def add_rows(self, rows: RunRows) -> pd.DataFrame:
        """Append a run's region and edge tables (from :func:`split_levels`); return network rows.

        Parameters
        ----------
        rows : RunRows
            The run's rows, split where it was computed.

        Returns
        -------
        pandas.DataFrame
            The network-level rows.
        """
        for name in rows.levels:
            table = rows.table(name)
            if name not in self._writers:
                self._open(name, self._schema(table.schema.remove_metadata()))
            schema = self._schemas[name]
            arrays = [_cast(table.column(field.name), field.type) for field in schema]
            self._write(name, pa.Table.from_arrays(arrays, schema=schema))
        return rows.network

    def _open(self, name: str, schema: pa.Schema) -> None:
        """Start a level's file with ``schema``.

        Statistics: :data:`STATISTICS_COLUMNS`. Dictionary encoding only for
        the text columns: a run's values seldom repeat, and trying a
        dictionary for them before giving up made writing 15 cohort runs'
        65,536 edge rows 1.13x slower (49 against 43 ms) and their file 1.18x
        larger (0.68 against 0.57 MB).
        """
        self._schemas[name] = schema
        kept = [column for column in STATISTICS_COLUMNS if column in schema.names]
        text = [
            f.name
            for f in schema
            if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or pa.types.is_dictionary(f.type)
        ]
        # Without the Arrow schema in the file, readers see each constant column as its
        # values' type (text, numbers), as before, not as a dictionary (pandas: category).
        self._writers[name] = pq.ParquetWriter(
            self._folder / LEVEL_FILES[name],
            schema,
            write_statistics=kept,
            use_dictionary=text,
            store_schema=False,
        )

    def _write(self, name: str, table: pa.Table) -> None:
        """Buffer a run's rows; write whole row groups of :data:`ROW_GROUP_ROWS` rows.

        A row group per run (about 4,400 rows of a 300-region atlas) cost the client
        a write per run and made DuckDB's ingest of 2,000 runs 1.2-1.4x slower than
        large row groups. Rows beyond the last whole row group wait for the next run.
        """
        self._pending.setdefault(name, []).append(table)
        self._pending_rows[name] = self._pending_rows.get(name, 0) + table.num_rows
        self.rows[name] += table.num_rows
        if self._pending_rows[name] >= ROW_GROUP_ROWS:
            self._flush(name, whole=True)

    def _flush(self, name: str, whole: bool = False) -> None:
        """Write the buffered rows of a level (``whole``: only whole row groups)."""
        pending = self._pending.pop(name, [])
        self._pending_rows[name] = 0
        if not pending:
            return
        # One dictionary per column for the runs written together: the writer then writes
        # the constants' indices as they are (a new dictionary would make it fall back to
        # looking every row up).
        table = pa.concat_tables(pending).unify_dictionaries()
        size = table.num_rows
        if whole:
            size -= size % ROW_GROUP_ROWS
            rest = table.slice(size)
            if rest.num_rows:
                self._pending[name] = [rest]
                self._pending_rows[name] = rest.num_rows
        if size:
            self._writers[name].write_table(
                table.slice(0, size), row_group_size=min(size, ROW_GROUP_ROWS)
            )

    def close(self) -> dict[str, Path]:
        """Finish the files (again: nothing more to do); return each written level's file.

        Returns
        -------
        dict of str to Path
            ``region`` and/or ``edge`` to their Parquet file (levels with no
            rows have no file).
        """
        for name in list(self._pending):
            self._flush(name)
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        return {name: self._folder / LEVEL_FILES[name] for name in self._schemas}

    def __enter__(self) -> LevelFiles:
        """Return self."""
        return self

    def __exit__(self, *exc: Any) -> None:
        """Close the files."""
        self.close()
