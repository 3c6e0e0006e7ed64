"""Writing one analysis into the results store, its large tables ingested in the background.

A cohort's region- and edge-level rows (about 8,600 per run with a 300-region
atlas and the GSR sensitivity analysis; 17 million for 2,000 subjects) are
Parquet files that DuckDB reads directly, one statement per table. Reading
and compressing them is most of the store's time (about 10 s of CPU per
500 subjects), and it needs nothing that the group stage computes: a
:class:`StoreWriter` opens the store's transaction and ingests them in a
background thread (DuckDB releases the GIL) while the group model, the report
and the provenance are computed, then appends the rest and commits. The store
still sees one transaction per analysis: a failure anywhere rolls all of it
back. The connection's memory is capped (:data:`MEMORY_LIMIT`): DuckDB's
default, 80 % of the machine, let ingesting one 500-subject edge table grow the
process by 294 MiB, against 132 MiB at 256 MB and 120 MiB at 128 MB, for the
same CPU time (5.2-5.5 s), when the rows came in row groups of 65,536 on one
thread. The ingest now has one DuckDB thread per whole DuckDB row group
(:data:`ROWS_PER_THREAD`), which leaves nothing for the store's close to compress;
two threads filling 122,880-row groups at once need more than 128 MB: the
500-subject cohort's region and edge rows took 6.7-7.1 s of CPU there against
6.1-6.3 s at 256 MB (peak 190 against 228 MB, no gain above 256 MB).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from dmnpharm._utils import get_logger
from dmnpharm._version import __version__
from dmnpharm.exceptions import OutputExistsError
from dmnpharm.store._names import ROW_GROUP_ROWS, STORE_TABLES
from dmnpharm.store._sql import (
    append_frame,
    append_parquet,
    connect,
    quote,
    run_sql,
    table_types,
)

__all__ = [
    "MEMORY_LIMIT",
    "ROWS_PER_THREAD",
    "StoreWriter",
    "exists_message",
    "has_analysis",
    "ingest_threads",
    "restamp_analysis",
    "tagged",
]

_LOG = get_logger("store")

#: DuckDB's memory while writing an analysis (it spills to the store file beyond it).
MEMORY_LIMIT = "256MB"

#: Rows of the large tables per DuckDB thread that ingests them: one DuckDB row group.
#: A thread left with a partial row group hands it to the store's close, which
#: compresses it again, single-threaded, at the very end of the command. The demo's
#: 684,640 region and edge rows, in Parquet row groups of this size: 0.73-0.85 s of wall
#: time on two threads against 1.15-1.24 s on one, for the same CPU time and the same
#: 10.8 MB store. In row groups of 65,536 rows two threads took 1.4-1.5 s (1.7-2.1 s of
#: CPU, 0.7-1.0 s of it in the close) and left a 17.6 MB store.
ROWS_PER_THREAD = ROW_GROUP_ROWS


# Labels that stay text even when they look like numbers.
_IDENTIFIERS = {"run", "sub", "ses", "task", "label"}


def has_analysis(con: duckdb.DuckDBPyConnection, analysis_id: str) -> bool:
    """Return whether the store holds ``analysis_id``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection to the store.
    analysis_id : str
        The analysis.

    Returns
    -------
    bool
        True when its row is in ``analyses``.
    """
    if not table_types(con, "analyses"):
        return False
    found = con.execute(
        "SELECT count(*) FROM analyses WHERE analysis_id = ?", [analysis_id]
    ).fetchall()
    return bool(found[0][0])


def exists_message(path: Path, analysis_id: str) -> str:
    """Return the message refusing an analysis the store already holds.

    Parameters
    ----------
    path : Path
        The store file.
    analysis_id : str
        The analysis.

    Returns
    -------
    str
        Says what to do instead.
    """
    return (
        f"analysis '{analysis_id}' is already in the results store '{path}' (same atlas, "
        "strategy, estimator, configuration and inputs); pass --overwrite to replace it, or "
        "choose another --store"
    )


def _analysis_row(
    analysis_id: str, provenance: Mapping[str, Any], output: str | None, n_runs: int
) -> pd.DataFrame:
    config = provenance.get("config") or {}
    denoise = config.get("denoise") or {}
    contrast = config.get("contrast")
    atlas = config.get("atlas")
    if isinstance(atlas, Mapping):  # a user's atlas, recorded by its content
        atlas = atlas.get("name")
    return pd.DataFrame(
        [
            {
                "analysis_id": analysis_id,
                "created": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                "atlas": atlas,
                "strategy": denoise.get("name"),
                "estimator": config.get("estimator"),
                "contrast": "-".join(map(str, contrast)) if contrast else None,
                "study": provenance.get("study"),
                "output": output,
                "n_runs": n_runs,
                "config": json.dumps(config, sort_keys=True, default=str),
                "dmnpharm_version": __version__,
            }
        ]
    )


def _numeric_text(column: pd.Series) -> pd.Series:
    """Return a text column as numbers when every value reads as one; else unchanged.

    BIDS's ``n/a`` counts as missing; an empty string does not read as a number.
    The rule is decided on the distinct values (a design column repeated on
    millions of region or edge rows has a handful), then applied to all rows.
    """
    values = column.where(column != "n/a")
    distinct = pd.Series(values.dropna().unique())
    if distinct.empty or not all(isinstance(v, str) and v.strip() for v in distinct):
        return column
    try:
        pd.to_numeric(distinct)
    except (ValueError, TypeError):
        return column
    return pd.to_numeric(values)


def tagged(analysis_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return a table's rows as stored: ``analysis_id`` first, numeric text as numbers.

    Parameters
    ----------
    analysis_id : str
        Written in front of every row.
    frame : pandas.DataFrame
        The rows.

    Returns
    -------
    pandas.DataFrame
        Text columns whose every value reads as a number (or ``n/a``) as
        numbers, except identifiers; other text as plain Python strings.
    """
    tagged = frame.reset_index(drop=True).copy()
    if "analysis_id" in tagged.columns:
        tagged = tagged.drop(columns="analysis_id")
    for name in tagged.columns:
        column = tagged[name]
        if not pd.api.types.is_string_dtype(column.dtype):
            continue
        if name not in _IDENTIFIERS and not name.endswith("_id"):
            column = _numeric_text(column)
        if pd.api.types.is_string_dtype(column.dtype):
            # plain Python strings and None: every DuckDB version reads them as VARCHAR
            column = column.astype(object).where(column.notna(), None)
        tagged[name] = column
    tagged.insert(0, "analysis_id", pd.Series([analysis_id] * len(tagged), dtype=object))
    return tagged


def _numeric_columns(metrics: pd.DataFrame, stored: pd.DataFrame) -> dict[str, str]:
    """Text columns of the network rows stored as numbers, and their type.

    Region and edge rows repeat the network rows' design columns: they are
    stored the same way.
    """
    return {
        str(name): "BIGINT" if pd.api.types.is_integer_dtype(column.dtype) else "DOUBLE"
        for name, column in stored.items()
        if name in metrics
        and pd.api.types.is_string_dtype(metrics[name].dtype)
        and pd.api.types.is_numeric_dtype(column.dtype)
    }


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Return an integer setting of the connection's database."""
    rows = con.execute("SELECT current_setting(?)", [name]).fetchall()
    return int(rows[0][0])


def ingest_threads(large: Iterable[pd.DataFrame | Path | None], available: int) -> int:
    """Return how many DuckDB threads should ingest the large tables.

    One per :data:`ROWS_PER_THREAD` rows, at least one and at most ``available``.

    Parameters
    ----------
    large : iterable of pandas.DataFrame, Path or None
        The region- and edge-level rows: tables, Parquet files (their row
        count is read from the file's footer) or None.
    available : int
        DuckDB's threads (its ``threads`` setting).

    Returns
    -------
    int
        The threads to use.

    Examples
    --------
    >>> import pandas as pd
    >>> ingest_threads([pd.DataFrame({"value": range(10)}), None], available=8)
    1
    """
    rows = 0
    for frame in large:
        if isinstance(frame, Path):
            rows += pq.read_metadata(frame).num_rows
        elif frame is not None:
            rows += len(frame)
    return max(1, min(available, rows // ROWS_PER_THREAD))


class StoreWriter:
    """Append one analysis to a results store in one transaction; large tables first.

    Created as soon as the network-level metrics and the region and edge
    Parquet files exist: it opens the store (waiting for another process's
    lock), starts the transaction, replaces or refuses an analysis of the
    same id, and ingests the Parquet files (or tables) in a background
    thread. :meth:`finish` appends the other tables and commits; leaving the
    ``with`` block without it rolls everything back.

    Parameters
    ----------
    path : str or Path
        The store file (created when missing).
    analysis_id : str
        The analysis.
    metrics : pandas.DataFrame
        The network-level metrics table.
    regions, edges : pandas.DataFrame, Path or None
        Region- and edge-level rows: a table or a Parquet file.
    overwrite : bool
        Replace the rows of ``analysis_id`` if the store has them.
    timeout : float
        Seconds to wait for another process's lock on the store.
    background : bool
        Ingest the large tables in a background thread (False: at once).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        analysis_id: str,
        metrics: pd.DataFrame,
        regions: pd.DataFrame | Path | None = None,
        edges: pd.DataFrame | Path | None = None,
        overwrite: bool = False,
        timeout: float = 60.0,
        background: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.analysis_id = analysis_id
        self._metrics = metrics
        self._stored_metrics = tagged(analysis_id, metrics)
        self._numeric = _numeric_columns(metrics, self._stored_metrics)
        self._large = {"metrics_regions": regions, "metrics_edges": edges}
        self._overwrite, self._timeout = overwrite, timeout
        self._stack = ExitStack()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._error: BaseException | None = None
        self._done = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._begin, name="dmnpharm-store", daemon=True)
            self._thread.start()
        else:
            self._begin()

    def _begin(self) -> None:
        """Open the transaction, clear or refuse the id, ingest the large tables."""
        try:
            con = self._stack.enter_context(
                connect(self.path, read_only=False, timeout=self._timeout)
            )
            self._con = con
            run_sql(con, f"SET memory_limit = '{MEMORY_LIMIT}'")
            run_sql(con, "BEGIN TRANSACTION")
            if has_analysis(con, self.analysis_id):
                if not self._overwrite:
                    raise OutputExistsError(exists_message(self.path, self.analysis_id))
                for table in STORE_TABLES:
                    if table_types(con, table):
                        run_sql(
                            con,
                            f"DELETE FROM {quote(table)} WHERE analysis_id = ?",
                            [self.analysis_id],
                        )
            threads = ingest_threads(self._large.values(), _setting(con, "threads"))
            run_sql(con, f"SET threads = {threads}")
            for table, frame in self._large.items():
                self._append(con, table, frame)
            run_sql(con, "RESET threads")
        except BaseException as exc:  # handed to the thread that finishes or aborts
            self._error = exc

    def _append(
        self, con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame | Path | None
    ) -> None:
        if isinstance(frame, Path):
            append_parquet(con, table, self.analysis_id, frame, self._numeric)
        elif frame is not None and not frame.empty:
            rows = (
                self._stored_metrics if frame is self._metrics else tagged(self.analysis_id, frame)
            )
            append_frame(con, table, rows)

    def _joined(self) -> duckdb.DuckDBPyConnection:
        """Wait for the background ingest; return the connection, or raise what it raised."""
        self._wait()
        if self._error is not None:
            error, self._error = self._error, None
            self._abort()
            raise error
        assert self._con is not None
        return self._con

    def finish(
        self,
        *,
        runs: pd.DataFrame,
        results: pd.DataFrame,
        provenance: Mapping[str, Any],
        output: str | None = None,
    ) -> Path:
        """Append the analysis's other tables and commit.

        Parameters
        ----------
        runs, results : pandas.DataFrame
            The run table and the group results.
        provenance : mapping
            The analysis's provenance (fills the ``analyses`` row too).
        output : str or None
            The output folder written with the analysis.

        Returns
        -------
        Path
            The store file.

        Raises
        ------
        OutputExistsError
            If the store holds the analysis and ``overwrite`` is False.
        InputError
            If the file is not a DuckDB store, or stays locked.
        """
        con = self._joined()
        frames: dict[str, pd.DataFrame] = {
            "analyses": _analysis_row(self.analysis_id, provenance, output, len(runs)),
            "runs": runs,
            "metrics": self._metrics,
            "results": results,
            "provenance": pd.DataFrame(
                [{"provenance": json.dumps(dict(provenance), sort_keys=True, default=str)}]
            ),
        }
        try:
            for table, frame in frames.items():
                self._append(con, table, frame)
            run_sql(con, "COMMIT")
        except BaseException:
            self._abort()
            raise
        self._done = True
        self._stack.close()
        _LOG.debug("stored analysis %s in %s", self.analysis_id, self.path)
        return self.path

    def _abort(self) -> None:
        """Roll the transaction back and close the store."""
        if self._con is not None:
            # nothing was begun, or DuckDB already rolled back
            with contextlib.suppress(duckdb.Error):
                run_sql(self._con, "ROLLBACK")
        self._stack.close()
        self._done = True

    def __enter__(self) -> StoreWriter:
        """Return self."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back unless :meth:`finish` committed."""
        if not self._done:
            self._wait()
            self._abort()

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def restamp_analysis(path: Path, analysis_id: str, output: str, timeout: float = 60.0) -> None:
    """Set an analysis's output folder and time in a copied store.

    A store copied whole with its analysis (a restored demo) names the folder
    and the time of the analysis it was copied from; this makes them the
    copy's, as :func:`dmnpharm.store.write_analysis` would have written them.

    Parameters
    ----------
    path : Path
        The store file.
    analysis_id : str
        The analysis.
    output : str
        Its output folder now.
    timeout : float
        Seconds to wait for another process's lock.
    """
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with connect(path, read_only=False, timeout=timeout) as con:
        run_sql(
            con,
            "UPDATE analyses SET output = ?, created = ? WHERE analysis_id = ?",
            [output, now, analysis_id],
        )
