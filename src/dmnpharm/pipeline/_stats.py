"""``dmnpharm stats``: a group model on any tidy metrics table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dmnpharm._utils import get_logger, sha256_file, staged_output_dir, versions
from dmnpharm.config import Inference
from dmnpharm.exceptions import InputError
from dmnpharm.io import OutputLayout, write_tsv
from dmnpharm.report import build_stats_report
from dmnpharm.stats import (
    EFFECT_CI,
    ModelSpec,
    StatsResult,
    analyse,
    mixed_model,
    normalization,
)

__all__ = ["analyse_table", "read_metrics_table"]

_LOG = get_logger("pipeline")


def read_metrics_table(path: str | Path, analysis: str = "primary") -> pd.DataFrame:
    """Read a tidy metrics table from TSV or Parquet.

    Parameters
    ----------
    path : str or Path
        ``.tsv`` (tab separated, ``n/a`` for missing) or ``.parquet``.
    analysis : str
        Tables with an ``analysis`` column (as ``dmnpharm run`` writes):
        the rows of this analysis (``primary`` or ``gsr_sensitivity``); with a
        ``level`` column, network-level rows only.

    Returns
    -------
    pandas.DataFrame
        The table; identifier columns are read as text (from Parquet, text
        columns are categorical: each distinct text is stored once, which
        keeps a connectome-scale table of millions of rows small).

    Raises
    ------
    InputError
        If the file is missing, of another type or unreadable, or lacks
        ``participant_id``, ``measure`` or ``value``.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"metrics table '{file}' does not exist")
    try:
        if file.suffix == ".parquet":
            table = _read_parquet(file)
        elif file.suffix in (".tsv", ".txt"):
            table = pd.read_csv(
                file,
                sep="\t",
                na_values=["n/a"],
                keep_default_na=False,
                dtype={"participant_id": str, "session_id": str},
            )
        else:
            raise InputError(f"'{file}': use a .tsv or .parquet metrics table")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics table '{file}': {exc}") from None
    missing = [c for c in ("participant_id", "measure", "value") if c not in table.columns]
    if missing:
        raise InputError(
            f"metrics table '{file}' lacks the column(s) {', '.join(missing)}; it needs one "
            "row per run and measure with participant_id, measure and value"
        )
    # dmnpharm run writes network-level rows of the configured cleaning ("primary") and
    # of its GSR counterpart; group models test one analysis at a time.
    filtered = False
    if "level" in table.columns:
        table, filtered = table[table["level"] == "network"], True
    if "analysis" in table.columns:
        present = sorted({str(v) for v in table["analysis"].drop_duplicates()})
        if analysis not in present:
            raise InputError(
                f"metrics table '{file}' has no rows of analysis {analysis!r}; it has "
                f"{', '.join(present)}"
            )
        table, filtered = table[table["analysis"] == analysis], True
    if filtered:  # categories of the rows left out no longer exist
        table = pd.DataFrame(
            {
                name: c.cat.remove_unused_categories()
                if isinstance(c.dtype, pd.CategoricalDtype)
                else c
                for name, c in table.items()
            },
            copy=False,
        )
    return table.reset_index(drop=True)


def _read_parquet(file: Path) -> pd.DataFrame:
    """Read a Parquet table column by column, text columns as categoricals.

    A tidy table repeats a few texts (subjects, conditions, measure names) over
    millions of rows. Read whole, as Arrow strings, a 20 x 2 x 44,850 table
    held 128 MB and reading it peaked 265 MB above the baseline; one column at
    a time, text dictionary-encoded (pandas categoricals: each distinct text
    stored once) and the Arrow pool's freed buffers returned after each
    column, it holds 35 MB and peaks about 140 MB above it.
    """
    source = pq.ParquetFile(file)
    schema = source.schema_arrow
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    names = [name for name in schema.names if not name.startswith("__index_level_")]
    source = pq.ParquetFile(file, read_dictionary=text)
    columns = {}
    for name in names:
        columns[name] = source.read(columns=[name]).to_pandas()[name]
        pa.default_memory_pool().release_unused()
    return pd.DataFrame(columns, copy=False)


def analyse_table(
    table_path: str | Path,
    out: str | Path,
    spec: ModelSpec,
    inference: Inference | None = None,
    overwrite: bool = False,
    method: str = "permutation",
    groups: tuple[str, str] | None = None,
    effect_ci: str = EFFECT_CI,
) -> StatsResult:
    """Fit a group model to a metrics table and write the results atomically.

    Parameters
    ----------
    table_path : str or Path
        Tidy metrics table (TSV or Parquet).
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

    Returns
    -------
    StatsResult
        The fitted model.
    """
    inference = inference or Inference()
    n_permutations, seed = inference.n_permutations, inference.seed
    table = read_metrics_table(table_path)
    if method == "mixed":
        result = mixed_model(table, spec)
    elif method == "normalization":
        if groups is None:
            raise InputError("normalization needs the patient and control group labels")
        result = normalization(table, spec, groups[0], groups[1], n_permutations, seed)
    elif method == "permutation":
        result = analyse(
            table, spec, n_permutations, seed, confidence=inference.confidence, effect_ci=effect_ci
        )
    else:
        raise InputError(f"method must be permutation, mixed or normalization; got {method!r}")
    with staged_output_dir(Path(out), overwrite=overwrite) as staging:
        layout = OutputLayout.stats(staging)
        write_tsv(result.results, layout.results_tsv)
        result.results.to_parquet(layout.results_parquet, index=False)
        design = result.design
        first = [c for c in (spec.subject, spec.within) if c and c in design.columns]
        write_tsv(design[first + [c for c in design.columns if c not in first]], layout.design)
        dropped = "".join(f"\nleft out: {d}" for d in result.dropped)
        layout.model.write_text(result.summary + dropped + "\n", encoding="utf-8")
        provenance = {
            "command": "stats",
            "model": asdict(spec),
            "method": method,
            "groups": list(groups) if groups else None,
            "n_permutations": n_permutations,
            "seed": seed,
            "confidence": inference.confidence,
            "effect_ci": effect_ci,
            "dropped": list(result.dropped),
            "versions": versions(),
            "inputs": {Path(table_path).name: sha256_file(Path(table_path))},
        }
        layout.provenance.write_text(
            json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        build_stats_report(
            table, spec, result, method, provenance, layout.report, Path(table_path).name
        )
    _LOG.info("%s", result.summary)
    return result
