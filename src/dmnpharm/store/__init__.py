"""The results store: analyses of a study in one DuckDB file, queryable with SQL.

``dmnpharm run`` appends each analysis (its runs, metrics, group results and
provenance) under an ``analysis_id``; several analyses of one study (another
atlas, another strategy) share one store and stay apart by that id.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.store._names import STORE_FILENAME, STORE_TABLES, store_path
    from dmnpharm.store._store import (
        check_new_analysis,
        make_analysis_id,
        query,
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

__getattr__, __dir__ = lazy_exports(__name__, __file__)
