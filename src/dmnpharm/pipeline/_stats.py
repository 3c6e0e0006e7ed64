"""``dmnpharm stats``: a group model on any tidy metrics table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dmnpharm._utils import get_logger, sha256_file, staged_output_dir, versions
from dmnpharm.config import Inference
from dmnpharm.exceptions import InputError
from dmnpharm.io import OutputLayout, write_tsv
from dmnpharm.stats import (
    EFFECT_CI,
    ModelSpec,
    StatsResult,
    analyse,
    check_unique_runs,
    name_measures,
)

__all__ = ["LEVELS", "analyse_table", "read_metrics_table"]

_LOG = get_logger("pipeline")


#: Levels a ``dmnpharm run`` table can hold, the group model's first.
LEVELS = ("network", "region", "edge")


def read_metrics_table(
    path: str | Path, analysis: str = "primary", level: str | None = None
) -> pd.DataFrame:
    """Read a tidy metrics table from TSV or Parquet, one measure name per region and edge.

    Parameters
    ----------
    path : str or Path
        ``.tsv`` (tab separated, ``n/a`` for missing) or ``.parquet``: e.g.
        ``metrics.parquet``, ``metrics_regions.parquet`` or
        ``metrics_edges.parquet`` as ``dmnpharm run`` writes them.
    analysis : str
        Tables with an ``analysis`` column (as ``dmnpharm run`` writes): the
        rows of this analysis, ``primary`` (the configured cleaning, default)
        or ``gsr_sensitivity`` (the same with global signal regression).
    level : str or None
        Tables with a ``level`` column: the rows of this level (``network``,
        ``region`` or ``edge``). None: ``network`` when the table has such
        rows, else its only level.

    Returns
    -------
    pandas.DataFrame
        The rows of the analysis and level. Region and edge rows get their own
        measure (:func:`dmnpharm.stats.name_measures`): ``gbc[<region_a>]``,
        ``edge_fc[<region_a>--<region_b>]``. Identifier columns are read as
        text (from Parquet, text columns are categorical: each distinct text
        is stored once, which keeps a connectome-scale table of millions of
        rows small).

    Raises
    ------
    InputError
        If the file is missing, of another type or unreadable, lacks
        ``participant_id``, ``measure`` or ``value``, has no rows of the
        analysis or level asked for, or several levels and none asked for.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"metrics table '{file}' does not exist")
    if level is not None and level not in LEVELS:
        raise InputError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    try:
        if file.suffix == ".parquet":
            table = _read_parquet(file, analysis, level)
        elif file.suffix in (".tsv", ".txt"):
            table = pd.read_csv(
                file,
                sep="\t",
                na_values=["n/a"],
                keep_default_na=False,
                dtype={"participant_id": str, "session_id": str},
            )
            keep = _rows_kept(table, file, analysis, level)
            if keep is not None:
                table = _without_unused(table[keep])
        else:
            raise InputError(f"'{file}': use a .tsv or .parquet metrics table")
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics table '{file}': {exc}") from None
    missing = [c for c in ("participant_id", "measure", "value") if c not in table.columns]
    if missing:
        raise InputError(
            f"metrics table '{file}' lacks the column(s) {', '.join(missing)}; it needs one "
            "row per run and measure with participant_id, measure and value"
        )
    return name_measures(table.reset_index(drop=True))


def _present(column: pd.Series) -> list[str]:
    """Return the distinct values of a (categorical or text) column as sorted text."""
    return sorted({str(v) for v in column.drop_duplicates()})


def _rows_kept(
    table: pd.DataFrame, file: Path, analysis: str, level: str | None
) -> npt.NDArray[np.bool_] | None:
    """Rows of ``analysis`` and ``level`` (None: every row), refusing absent ones.

    ``dmnpharm run`` writes the rows of the configured cleaning (``primary``)
    and of its GSR counterpart, network-level rows in ``metrics.parquet``,
    region and edge rows in their own files; a group model tests one analysis
    at one level at a time.
    """
    keep = np.ones(len(table), dtype=bool)
    if "analysis" in table.columns:
        present = _present(table["analysis"])
        if analysis not in present:
            raise InputError(
                f"metrics table '{file}' has no rows of analysis {analysis!r}; it has "
                f"{', '.join(present)} (choose with --analysis)"
            )
        keep &= (table["analysis"] == analysis).to_numpy(dtype=bool)
    elif analysis != "primary":
        raise InputError(
            f"metrics table '{file}' has no analysis column, so no {analysis!r} rows; "
            "leave --analysis out"
        )
    if "level" in table.columns:
        present = _present(table["level"][keep])
        chosen = level or ("network" if "network" in present or len(present) != 1 else present[0])
        if chosen not in present:
            have = f"rows of level(s) {', '.join(present)}" if present else "no rows"
            raise InputError(
                f"metrics table '{file}' has no {analysis} rows of level {chosen!r}, it has "
                f"{have}: choose one with --level (level= in Python)"
            )
        keep &= (table["level"] == chosen).to_numpy(dtype=bool)
    return None if keep.all() else keep


def _without_unused(table: pd.DataFrame) -> pd.DataFrame:
    """Drop the categories of rows left out (they no longer exist)."""
    return pd.DataFrame(
        {
            name: c.cat.remove_unused_categories()
            if isinstance(c.dtype, pd.CategoricalDtype)
            else c
            for name, c in table.items()
        },
        copy=False,
    )


def _read_parquet(file: Path, analysis: str, level: str | None) -> pd.DataFrame:
    """Read the rows of one analysis and level, column by column, text as categoricals.

    A tidy table repeats a few texts (subjects, conditions, measure names) over
    millions of rows. Read whole, as Arrow strings, a 20 x 2 x 44,850 table
    held 128 MB and reading it peaked 265 MB above the baseline; one column at
    a time, text dictionary-encoded (pandas categoricals: each distinct text
    stored once) and the Arrow pool's freed buffers returned after each
    column, it holds 35 MB and peaks about 140 MB above it. The rows of other
    analyses and levels (half of a ``dmnpharm run`` file is the GSR analysis)
    are dropped as each column is read, never held.
    """
    source = pq.ParquetFile(file)
    schema = source.schema_arrow
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    names = [name for name in schema.names if not name.startswith("__index_level_")]
    source = pq.ParquetFile(file, read_dictionary=text)
    selectors = [c for c in ("analysis", "level") if c in names]
    chosen = {c: source.read(columns=[c]).to_pandas()[c] for c in selectors}
    keep = _rows_kept(pd.DataFrame(chosen, copy=False), file, analysis, level)
    mask = None if keep is None else pa.array(keep)
    columns = {}
    for name in names:
        part = source.read(columns=[name])
        if mask is not None:
            part = part.filter(mask)
        columns[name] = part.to_pandas()[name]
        del part
        pa.default_memory_pool().release_unused()
    table = pd.DataFrame(columns, copy=False)
    return table if mask is None else _without_unused(table)


def analyse_table(
    table_path: str | Path,
    out: str | Path,
    spec: ModelSpec,
    inference: Inference | None = None,
    overwrite: bool = False,
    method: str = "permutation",
    groups: tuple[str, str] | None = None,
    effect_ci: str = EFFECT_CI,
    analysis: str = "primary",
    level: str | None = None,
) -> StatsResult:
    """Fit a group model to a metrics table and write the results atomically.

    Parameters
    ----------
    table_path : str or Path
        Tidy metrics table (TSV or Parquet), e.g. ``metrics.parquet``,
        ``metrics_regions.parquet`` or ``metrics_edges.parquet`` of
        ``dmnpharm run``: each region and edge is its own measure
        (:func:`read_metrics_table`).
    out : str or Path
        Output folder: ``results.tsv`` and ``.parquet`` (one row per measure),
        ``design.tsv`` (the model's rows and regressors), ``model.txt`` (the
        model and permutation scheme in words), ``provenance.json`` and
        ``report.html`` (self-contained: summary, results, values per measure,
        permutation nulls, methods and provenance).
    spec : ModelSpec
        The model.
    inference : Inference or None
        Permutations (or sign flips) and their seed (also the bootstrap's);
        None: :class:`dmnpharm.config.Inference` defaults.
    overwrite : bool
        Replace a non-empty ``out``.
    method : str
        ``permutation`` (:func:`dmnpharm.stats.analyse`), ``mixed``
        (:func:`dmnpharm.stats.mixed_model`) or ``normalization``
        (:func:`dmnpharm.stats.normalization`, with ``groups``).
    groups : tuple of str, optional
        ``(patient, control)`` values of the ``group`` column, for normalization.
    effect_ci : str
        Interval of the paired d_z (``permutation`` method):
        ``noncentral-t`` (default) or ``bootstrap`` (see
        :func:`dmnpharm.stats.analyse`).
    analysis : str
        Tables with an ``analysis`` column: ``primary`` (default) or
        ``gsr_sensitivity``.
    level : str or None
        Tables with a ``level`` column: ``network``, ``region`` or ``edge``;
        None: network rows, or the table's only level.

    Returns
    -------
    StatsResult
        The fitted model.

    Raises
    ------
    InputError
        The table cannot be read or modelled, a run lists a measure twice
        (:func:`dmnpharm.stats.check_unique_runs` names the rows and the fix),
        or every measure has a missing or non-finite value.

    Notes
    -----
    Measures with a missing or non-finite value in some run (e.g. a region's
    sample entropy of ``inf`` in a short run) are left out before the model,
    and named with their runs in the log, ``model.txt``, ``provenance.json``
    (``left_out_measures``) and the report; the other measures are tested.
    """
    inference = inference or Inference()
    table = read_metrics_table(table_path, analysis, level)
    check_unique_runs(table, spec.subject, spec.within, f"metrics table '{table_path}'")
    table, left_out = _finite_measures(table, spec.subject)
    result = _fit(table, spec, inference, method, groups, effect_ci)
    provenance = {
        "command": "stats",
        "model": asdict(spec),
        "method": method,
        "groups": list(groups) if groups else None,
        "analysis": analysis,
        "level": _level_of(table),
        "left_out_measures": left_out,
        "n_permutations": inference.n_permutations,
        "seed": inference.seed,
        "confidence": inference.confidence,
        "effect_ci": effect_ci,
        "dropped": list(result.dropped),
        "versions": versions(),
        "inputs": {Path(table_path).name: sha256_file(Path(table_path))},
    }
    with staged_output_dir(Path(out), overwrite=overwrite) as staging:
        _write_outputs(staging, table, spec, result, provenance, Path(table_path).name)
    _LOG.info("%s", result.summary)
    return result


def _finite_measures(table: pd.DataFrame, subject: str) -> tuple[pd.DataFrame, list[str]]:
    """Leave out the measures with a missing or non-finite value, each named with its runs.

    A region table of short runs can hold a sample entropy of ``inf`` (no
    template matches) for a few regions; those measures cannot be tested,
    the others are. Raises when no measure is left.
    """
    values = pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if not bad.any():
        return table, []
    codes, labels = pd.factorize(table["measure"])
    bad_codes = np.unique(codes[bad])
    rows = table[bad].assign(_value=values[bad], _code=codes[bad])
    runs = [c for c in (subject, "session_id", "run") if c in table.columns]
    left_out = []
    for code, group in rows.groupby("_code", sort=True):
        first = group.iloc[0]
        where = " ".join(str(first[c]) for c in runs if str(first[c]))
        left_out.append(
            f"measure {labels[code]}: {len(group)} run(s) with a missing or non-finite value "
            f"(e.g. {where}: {first['_value']})"
        )
    if bad_codes.size == len(labels):
        raise InputError(f"every measure has a missing or non-finite value: {left_out[0]}")
    _LOG.warning(
        "left out %d measure(s) with missing or non-finite values (listed in model.txt): %s",
        len(left_out),
        "; ".join(left_out[:3]) + (" ..." if len(left_out) > 3 else ""),
    )
    kept = table[~np.isin(codes, bad_codes)]
    return _without_unused(kept).reset_index(drop=True), left_out


def _level_of(table: pd.DataFrame) -> str | None:
    """Return the level of the rows analysed (None: the table has no level column)."""
    if "level" not in table.columns or table.empty:
        return None
    return str(table["level"].iloc[0])


def _fit(
    table: pd.DataFrame,
    spec: ModelSpec,
    inference: Inference,
    method: str,
    groups: tuple[str, str] | None,
    effect_ci: str,
) -> StatsResult:
    """Fit the model of ``method`` (the mixed model's statsmodels is imported only for it)."""
    n_permutations, seed = inference.n_permutations, inference.seed
    if method == "mixed":
        from dmnpharm.stats import mixed_model

        return mixed_model(table, spec)
    if method == "normalization":
        from dmnpharm.stats import normalization

        if groups is None:
            raise InputError("normalization needs the patient and control group labels")
        return normalization(table, spec, groups[0], groups[1], n_permutations, seed)
    if method == "permutation":
        return analyse(
            table, spec, n_permutations, seed, confidence=inference.confidence, effect_ci=effect_ci
        )
    raise InputError(f"method must be permutation, mixed or normalization; got {method!r}")


def _write_outputs(
    staging: Path,
    table: pd.DataFrame,
    spec: ModelSpec,
    result: StatsResult,
    provenance: dict[str, Any],
    table_name: str,
) -> None:
    """Write the results, design, model, provenance and report into ``staging``."""
    from dmnpharm.report import build_stats_report

    layout = OutputLayout.stats(staging)
    write_tsv(result.results, layout.results_tsv)
    result.results.to_parquet(layout.results_parquet, index=False)
    design = result.design
    first = [c for c in (spec.subject, spec.within) if c and c in design.columns]
    write_tsv(design[first + [c for c in design.columns if c not in first]], layout.design)
    left_out = [*result.dropped, *provenance["left_out_measures"]]
    dropped = "".join(f"\nleft out: {d}" for d in left_out)
    layout.model.write_text(result.summary + dropped + "\n", encoding="utf-8")
    layout.provenance.write_text(
        json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    build_stats_report(
        table,
        spec,
        result,
        str(provenance["method"]),
        provenance,
        layout.report,
        table_name,
        exclusions=provenance["left_out_measures"],
    )
