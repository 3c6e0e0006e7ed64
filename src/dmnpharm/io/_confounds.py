"""Read a run's fMRIPrep confounds table and its JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = ["read_confounds"]


def read_confounds(path: Path | None) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """Read an fMRIPrep confounds TSV (``n/a`` as missing) and its JSON sidecar.

    Parameters
    ----------
    path : Path or None
        The ``*_desc-confounds_timeseries.tsv`` (None: no confounds).

    Returns
    -------
    tuple
        The table (or None) and the parsed JSON (or None when absent).

    Raises
    ------
    InputError
        If a file cannot be read.
    """
    if path is None or not path.is_file():
        return None, None
    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a confounds table ({exc})") from None
    side = path.with_suffix(".json")
    meta = None
    if side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{side}: is not valid JSON ({exc})") from None
    return table, meta
