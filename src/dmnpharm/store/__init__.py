"""The results store: analyses of a study in one DuckDB file, queryable with SQL.

``dmnpharm run`` appends each analysis (its runs, metrics, group results and
provenance) under an ``analysis_id``; several analyses of one study (another
atlas, another strategy) share one store and stay apart by that id.
"""

from dmnpharm.store._store import (
    STORE_FILENAME,
    STORE_TABLES,
    check_new_analysis,
    make_analysis_id,
    query,
    store_path,
    write_analysis,
)

__all__ = [
    "STORE_FILENAME",
    "STORE_TABLES",
    "check_new_analysis",
    "make_analysis_id",
    "query",
    "store_path",
    "write_analysis",
]
