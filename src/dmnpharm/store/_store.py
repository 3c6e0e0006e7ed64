"""The results store: every analysis of a study in one DuckDB file, queryable with SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dmnpharm.exceptions import InputError, OutputExistsError
from dmnpharm.io import bids_label
from dmnpharm.store._names import STORE_FILENAME, STORE_TABLES, store_path
from dmnpharm.store._sql import connect
from dmnpharm.store._writer import StoreWriter, exists_message, has_analysis

__all__ = [
    "STORE_FILENAME",
    "STORE_TABLES",
    "check_new_analysis",
    "make_analysis_id",
    "query",
    "store_path",
    "write_analysis",
]


def make_analysis_id(atlas: str, strategy: str, estimator: str, identity: Any) -> str:
    """Return a readable, deterministic analysis id.

    Parameters
    ----------
    atlas : str
        Atlas registry name.
    strategy : str
        Denoising strategy name (e.g. ``"acompcor+gsr"``), written as its BIDS label.
    estimator : str
        Connectivity estimator.
    identity : object
        Everything that makes the analysis what it is (configuration, input
        hashes); JSON-serialised with sorted keys and hashed.

    Returns
    -------
    str
        ``<atlas>_<strategy label>_<estimator>_<8 hex digits>``, e.g.
        ``seitzman300_acompcorGSR_pearson_1a2b3c4d``.
    """
    text = json.dumps(identity, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{atlas}_{bids_label(strategy)}_{estimator}_{digest}"


def check_new_analysis(
    path: str | Path, analysis_id: str, overwrite: bool = False, timeout: float = 60.0
) -> None:
    """Refuse, before any work, an analysis id the store already holds.

    Parameters
    ----------
    path : str or Path
        The store file (a missing file holds nothing).
    analysis_id : str
        The id about to be written.
    overwrite : bool
        Allow replacing it (no check).
    timeout : float
        Seconds to wait for another process's lock on the store.

    Returns
    -------
    None
        Returns when the analysis may be written.

    Raises
    ------
    OutputExistsError
        If the store holds ``analysis_id`` and ``overwrite`` is False.
    InputError
        If the file is not a DuckDB store, or stays locked.
    """
    file = Path(path)
    if overwrite or not file.is_file():
        return
    with connect(file, read_only=True, timeout=timeout) as con:
        if has_analysis(con, analysis_id):
            raise OutputExistsError(exists_message(file, analysis_id))


def write_analysis(
    path: str | Path,
    *,
    analysis_id: str,
    runs: pd.DataFrame,
    metrics: pd.DataFrame,
    results: pd.DataFrame,
    provenance: Mapping[str, Any],
    regions: pd.DataFrame | Path | None = None,
    edges: pd.DataFrame | Path | None = None,
    output: str | None = None,
    overwrite: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Append one analysis to a results store (created when missing), in one transaction.

    Tables (each row carries ``analysis_id``):

    * ``analyses``: one row: ``created`` (UTC), ``atlas``, ``strategy``,
      ``estimator``, ``contrast``, ``study``, ``output``, ``n_runs``,
      ``config`` (JSON text: query it with ``config->>'$.seed'``) and
      ``dmnpharm_version``;
    * ``runs``: ``runs`` (design columns and QC, one row per run);
    * ``metrics``: ``metrics`` (the tidy network-level table);
      ``metrics_regions`` and ``metrics_edges``: ``regions`` and ``edges``;
    * ``results``: ``results`` (group results of every analysis, e.g. the
      configured cleaning and its GSR sensitivity, told apart by their own
      columns);
    * ``provenance``: ``provenance`` as JSON text.

    Text columns whose every value reads as a number or is ``n/a`` (e.g.
    ``dose_mg`` from a design file) are stored as numbers, except identifiers
    (``*_id``, ``run``). Analyses whose tables have other columns (another design, other
    measures) append without breaking: new columns are added (empty for the
    earlier rows), and a column whose type differs is widened (integers to
    BIGINT, numbers to DOUBLE, anything else to VARCHAR).

    Parameters
    ----------
    path : str or Path
        The store file.
    analysis_id : str
        Names the analysis (see :func:`make_analysis_id`).
    runs, metrics, results : pandas.DataFrame
        The run, metrics and group-result tables.
    provenance : mapping
        The analysis's provenance; ``config`` (``atlas``, ``estimator``,
        ``contrast``, ``denoise.name``) and ``study`` fill the ``analyses`` row.
    regions, edges : pandas.DataFrame, Path or None
        Region- and edge-level metrics, when computed: a table, or a Parquet
        file that DuckDB reads directly (millions of rows for a cohort,
        never loaded into Python). A Parquet file's text columns that are
        numeric in ``metrics`` are stored as numbers, as there. Its rows are
        stored in no set order (a parallel insert; as in SQL generally, ask
        for an order with ``ORDER BY``).
    output : str or None
        The output folder written with the analysis.
    overwrite : bool
        Replace the rows of ``analysis_id`` if the store has them.
    timeout : float
        Seconds to wait for another process's lock on the store.

    Returns
    -------
    Path
        The store file.

    Raises
    ------
    OutputExistsError
        If the store holds ``analysis_id`` and ``overwrite`` is False; the
        store is unchanged.
    InputError
        If the file is not a DuckDB store, or stays locked.
    """
    with StoreWriter(
        path,
        analysis_id=analysis_id,
        metrics=metrics,
        regions=regions,
        edges=edges,
        overwrite=overwrite,
        timeout=timeout,
        background=False,
    ) as writer:
        return writer.finish(runs=runs, results=results, provenance=provenance, output=output)


def query(path: str | Path, sql: str, timeout: float = 60.0) -> pd.DataFrame:
    """Run one SQL statement on a results store, read-only, and return its rows.

    Parameters
    ----------
    path : str or Path
        A store file, or an output folder holding ``results.duckdb``.
    sql : str
        DuckDB SQL over the tables of :data:`STORE_TABLES`, e.g.
        ``SELECT analysis_id, measure, estimate, p_fwer FROM results``.
    timeout : float
        Seconds to wait for another process's write lock.

    Returns
    -------
    pandas.DataFrame
        The result table.

    Raises
    ------
    InputError
        If there is no store, or the statement fails (the message lists the
        tables when one is not found).
    """
    file = store_path(path)
    if not file.is_file():
        raise InputError(
            f"no results store at '{file}'; give an output folder of dmnpharm run or the "
            "--store file it wrote"
        )
    with connect(file, read_only=True, timeout=timeout) as con:
        try:
            return con.execute(sql).fetchdf()
        except duckdb.Error as exc:
            hint = ""
            if isinstance(exc, duckdb.CatalogException):
                names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
                hint = f" (tables: {', '.join(map(str, names))})"
            raise InputError(f"query on '{file}' failed: {exc}{hint}") from None
