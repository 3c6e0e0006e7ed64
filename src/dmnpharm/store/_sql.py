"""DuckDB plumbing of the results store: opening it under a lock, appending by column name.

Rows are appended by column name: a table is created from its first rows, a
column it lacks is added, and a column whose type differs is widened
(integers to BIGINT, numbers to DOUBLE, anything else to VARCHAR), so
analyses whose tables have other columns share one store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = [
    "append_frame",
    "append_parquet",
    "connect",
    "quote",
    "run_sql",
    "table_types",
]

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
_INTEGER |= {f"U{t}" for t in _INTEGER}
_NUMERIC = _INTEGER | {"FLOAT", "DOUBLE", "REAL"}
_NULL_TYPE = '"NULL"'
_INCOMING = "_dmnpharm_incoming"


@contextmanager
def connect(path: Path, *, read_only: bool, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store, waiting up to ``timeout`` seconds for another process's lock.

    Parameters
    ----------
    path : Path
        The DuckDB file (created when missing and ``read_only`` is False).
    read_only : bool
        Open it read-only.
    timeout : float
        Seconds to keep retrying while another process holds the lock.

    Yields
    ------
    duckdb.DuckDBPyConnection
        The connection, closed when the ``with`` block ends.

    Raises
    ------
    InputError
        If the file cannot be opened, or stays locked past ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            locked = "lock" in str(exc).lower()
            if locked and time.monotonic() < deadline:
                time.sleep(0.25)
                continue
            hint = (
                f" (another process held it for {timeout:g} s; try again when it has finished)"
                if locked
                else ""
            )
            raise InputError(f"cannot open the results store '{path}'{hint}: {exc}") from None
    try:
        yield con
    finally:
        con.close()


def quote(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier.

    Parameters
    ----------
    name : str
        A table or column name.

    Returns
    -------
    str
        The name in double quotes, inner double quotes doubled.
    """
    return '"' + name.replace('"', '""') + '"'


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> None:
    """Execute a statement and finish its result, so the connection is free again.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    sql : str
        One SQL statement.
    params : list or None
        Values of the statement's ``?`` placeholders.
    """
    con.execute(sql, params).fetchall()


def table_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Return a table's columns and their DuckDB types.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    table : str
        Table name in the ``main`` schema.

    Returns
    -------
    dict of str to str
        Column name -> type, in column order; empty when there is no such table.
    """
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _wider(have: str, incoming: str) -> str:
    """Return a type holding the values of both: BIGINT, DOUBLE, else VARCHAR."""
    if have in _INTEGER and incoming in _INTEGER:
        return "BIGINT"
    numeric = (have in _NUMERIC or have.startswith("DECIMAL")) and (
        incoming in _NUMERIC or incoming.startswith("DECIMAL")
    )
    return "DOUBLE" if numeric else "VARCHAR"


def append_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a frame's rows by column name, adding and widening columns as needed.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    table : str
        The table appended to (created when missing).
    frame : pandas.DataFrame
        The rows.
    """
    con.register(_INCOMING, frame)
    try:
        _append_incoming(con, table)
    finally:
        con.unregister(_INCOMING)


def append_parquet(
    con: duckdb.DuckDBPyConnection,
    table: str,
    analysis_id: str,
    file: Path,
    numeric: Mapping[str, str],
) -> None:
    """Append a Parquet file's rows without loading them into Python, in no set order.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    table : str
        The table appended to (created when missing).
    analysis_id : str
        Written in the ``analysis_id`` column of every row (replacing any
        such column of the file).
    file : Path
        The Parquet file.
    numeric : mapping of str to str
        The text columns stored as numbers (decided on the network-level
        table, whose design columns these rows repeat) and their DuckDB
        type; ``n/a`` reads as missing.
    """
    columns = [
        str(row[0])
        for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file)]).fetchall()
    ]
    select = ", ".join(
        f"CAST(NULLIF({quote(c)}, 'n/a') AS {numeric[c]}) AS {quote(c)}"
        if c in numeric
        else quote(c)
        for c in columns
        if c != "analysis_id"
    )
    literal = "'" + analysis_id.replace("'", "''") + "'"
    path = "'" + str(file).replace("'", "''") + "'"
    run_sql(
        con,
        f"CREATE OR REPLACE TEMP VIEW {_INCOMING} AS SELECT {literal} AS analysis_id, "
        f"{select} FROM read_parquet({path})",
    )
    # Rows in file order would make DuckDB's parallel insert buffer what arrives out of
    # order, which under the writer's memory limit left one thread doing the work: 10.7-
    # 12.2 s for the edge rows of 1,000 subjects, against 3.7-4.4 s in no set order, at
    # the same memory (benchmarks/bench_store_ingest.py). Tables have no row order in
    # SQL: ask with ORDER BY.
    run_sql(con, "SET preserve_insertion_order = false")
    cleanup = ("RESET preserve_insertion_order", f"DROP VIEW {_INCOMING}")
    try:
        _append_incoming(con, table)
    except BaseException:
        # A failed statement aborts an open transaction, and then every statement fails
        # too: the first error, which names the problem, is the one raised.
        with suppress(duckdb.Error):
            for statement in cleanup:
                run_sql(con, statement)
        raise
    for statement in cleanup:
        run_sql(con, statement)


def _append_incoming(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Append the rows of ``_INCOMING`` by column name, adding and widening columns."""
    described = con.execute(f"DESCRIBE SELECT * FROM {_INCOMING}").fetchall()
    # An all-missing pandas column has DuckDB's NULL type: store it as text.
    untyped = {str(row[0]) for row in described if row[1] == _NULL_TYPE}
    incoming = {str(row[0]): "VARCHAR" if row[0] in untyped else str(row[1]) for row in described}
    select = ", ".join(
        f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" if c in untyped else quote(c)
        for c in incoming
    )
    existing = {name.lower(): (name, kind) for name, kind in table_types(con, table).items()}
    if not existing:
        run_sql(con, f"CREATE TABLE {quote(table)} AS SELECT {select} FROM {_INCOMING}")
        return
    for column, kind in incoming.items():
        if column.lower() not in existing:
            run_sql(con, f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {kind}")
            continue
        name, have = existing[column.lower()]
        wider = have if have == kind else _wider(have, kind)
        if wider != have:
            run_sql(
                con,
                f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(name)} SET DATA TYPE {wider}",
            )
    run_sql(con, f"INSERT INTO {quote(table)} BY NAME SELECT {select} FROM {_INCOMING}")
