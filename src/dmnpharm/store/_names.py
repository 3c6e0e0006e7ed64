"""The store's file name and tables: what the command line names without opening DuckDB."""

from __future__ import annotations

__all__ = ["STORE_FILENAME", "STORE_TABLES"]

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
