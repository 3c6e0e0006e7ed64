"""Render a catalog table as aligned text, JSON records or TSV."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from dmnpharm._utils import check_option

__all__ = ["FORMATS", "records", "render"]

#: Output formats of :func:`render`.
FORMATS: tuple[str, ...] = ("text", "json", "tsv")

# Cells wider than this are cut (with an ellipsis) in text tables only.
_TEXT_CELL = 40


def _plain(value: Any) -> Any:
    """Convert a cell to a JSON value: NaN and NA to None, numpy scalars to Python."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table's rows as JSON-ready dictionaries (missing values as None).

    Parameters
    ----------
    df : pandas.DataFrame
        Any table.

    Returns
    -------
    list of dict
        One dictionary per row, column name to value.
    """
    columns = [str(c) for c in df.columns]
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def _joined(value: list[Any] | tuple[Any, ...]) -> str:
    return "; ".join(str(v) for v in value)


def _tsv_cell(value: Any) -> Any:
    """Flatten one cell for TSV: lists joined, booleans as true/false, one-line text."""
    if isinstance(value, list | tuple):
        value = _joined(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def _text_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        value = _joined(value)
    text = " ".join(str(value).split())
    if len(text) > _TEXT_CELL:
        text = text[: _TEXT_CELL - 1] + "…"
    return text


def render(df: pd.DataFrame, fmt: str) -> str:
    """Render a table as aligned text, JSON records or TSV.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table (e.g. from :func:`table_of`).
    fmt : str
        ``text``: columns aligned, long cells cut to 40 characters (use json
        or tsv for the full text), booleans as yes/no; ``json``: a list of
        records, missing values as ``null``, lists as arrays; ``tsv``: tab
        separated with a header, missing values as ``n/a``, booleans as
        ``true``/``false``, tabs and newlines inside cells replaced by
        spaces. In text and TSV a list is one cell, its items joined by
        ``"; "``.

    Returns
    -------
    str
        The rendered table, ending with a newline.

    Raises
    ------
    InputError
        If ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return json.dumps(records(df), indent=2, ensure_ascii=False) + "\n"
    if fmt == "tsv":
        clean = df.copy()
        for column in clean.columns:
            if pd.api.types.is_bool_dtype(clean[column]):
                clean[column] = clean[column].map(lambda v: "true" if v else "false")
            elif not pd.api.types.is_numeric_dtype(clean[column]):
                clean[column] = clean[column].map(_tsv_cell)
        out: str = clean.to_csv(sep="\t", index=False, na_rep="n/a", lineterminator="\n")
        return out
    if fmt != "text":
        check_option("format", fmt, FORMATS)
    header = [str(c) for c in df.columns]
    body = [[_text_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    if not body:
        return "(no rows)\n"
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines) + "\n"
