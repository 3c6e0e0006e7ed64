"""The store's file name and tables: what the command line names without opening DuckDB."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROW_GROUP_ROWS", "STORE_FILENAME", "STORE_TABLES", "store_path"]

#: File name of the store inside an output folder.
STORE_FILENAME = "results.duckdb"

#: Tables of the store; each has an ``analysis_id`` column.
STORE_TABLES = (
    "analyses",
    "runs",
    "metrics",
    "metrics_regions",
    "metrics_edges",
    "results",
    "provenance",
)

#: Rows of a DuckDB row group (DuckDB's default, 122,880). The level files' Parquet row
#: groups have this size and the store ingests them on one thread per whole row group
#: (:func:`dmnpharm.store._writer.ingest_threads`), so that every thread fills whole
#: DuckDB row groups and the store's close has no partial ones to compress again.
ROW_GROUP_ROWS = 122_880


def store_path(path: str | Path) -> Path:
    """Return the store file a path names: a folder's ``results.duckdb``, or the file itself.

    Parameters
    ----------
    path : str or Path
        An output folder of ``dmnpharm run``, or a store file.

    Returns
    -------
    Path
        ``path / "results.duckdb"`` for an existing folder, else ``path``.
    """
    given = Path(path)
    return given / STORE_FILENAME if given.is_dir() else given
