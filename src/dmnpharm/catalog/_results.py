"""Read a study's group results and say how each measure changed in it.

A measure changed when ``p_fwer <`` :data:`ALPHA`: ``increase`` or
``decrease`` by the sign of the estimate (first level of the contrast minus
the second), or for a normalization analysis ``normalization`` or ``away from
controls``; otherwise ``no change``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = [
    "ALPHA",
    "check_columns",
    "is_normalization",
    "our_result",
    "pick_contrast",
    "read_results",
]

#: Family-wise error rate below which a measure counts as changed.
ALPHA = 0.05

_NEEDED = ("measure", "estimate", "p_fwer")


def check_columns(table: pd.DataFrame, source: str) -> None:
    """Raise when a results table lacks ``measure``, ``estimate`` or ``p_fwer``."""
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise InputError(f"results table '{source}' lacks the column(s) {', '.join(missing)}")


def read_results(path: str | Path) -> pd.DataFrame:
    """Read one group results table and check that :func:`~dmnpharm.catalog.compare` can use it.

    Parameters
    ----------
    path : str or Path
        A results table as ``dmnpharm run`` (``group/results.tsv``) or
        ``dmnpharm stats`` (``results.tsv``) writes it: TSV with ``n/a`` for
        missing values, or Parquet when the name ends in ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        Its rows.

    Raises
    ------
    InputError
        If the file does not exist, cannot be read, or lacks ``measure``,
        ``estimate`` or ``p_fwer`` (the message names the file).
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"results table '{file}' does not exist")
    try:
        if file.suffix.lower() == ".parquet":
            table = pd.read_parquet(file)
        else:
            table = pd.read_csv(file, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"cannot read results table '{file}': {exc}") from None
    check_columns(table, str(file))
    return table


def pick_contrast(table: pd.DataFrame, contrast: str | None, source: str) -> pd.DataFrame:
    """Return the rows of one contrast; raise when it is unknown or several are left."""
    if "contrast" not in table.columns:
        return table
    contrasts = list(dict.fromkeys(table["contrast"].astype(str)))
    if contrast is None:
        if len(contrasts) > 1:
            raise InputError(
                f"results table '{source}' has several contrasts ({'; '.join(contrasts)}); "
                "choose one with contrast="
            )
        return table
    if contrast not in contrasts:
        raise InputError(
            f"contrast {contrast!r} is not in '{source}'; it has {'; '.join(contrasts)}"
        )
    return table[table["contrast"].astype(str) == contrast]


def _number(row: pd.Series, column: str) -> float:
    value = row.get(column, np.nan)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def is_normalization(table: pd.DataFrame) -> bool:
    """Whether the results are a patients-versus-controls normalization analysis."""
    if "model" in table.columns and (table["model"].astype(str) == "normalization").all():
        return True
    return "contrast" in table.columns and bool(
        table["contrast"].astype(str).str.startswith("distance to ").all()
    )


def our_result(row: pd.Series, normalization: bool) -> dict[str, Any]:
    """Our estimate, CI, p, direction and standardized effect for one measure."""
    estimate, p = _number(row, "estimate"), _number(row, "p_fwer")
    if not math.isfinite(p) or not math.isfinite(estimate):
        direction = "n/a"
    elif p >= ALPHA or estimate == 0:
        direction = "no change"
    elif normalization:
        direction = "normalization" if estimate < 0 else "away from controls"
    else:
        direction = "increase" if estimate > 0 else "decrease"
    kind = str(row.get("effect_size_kind", "")) if "effect_size_kind" in row.index else ""
    dz = _number(row, "effect_size_dz")
    if math.isfinite(dz):
        size, size_kind = dz, "d_z"
        same = kind == "d_z"
    else:
        size, size_kind, same = _number(row, "effect_size"), kind, True
    return {
        "contrast": str(row.get("contrast", "")),
        "our_estimate": estimate,
        "our_ci_low": _number(row, "ci_low"),
        "our_ci_high": _number(row, "ci_high"),
        "our_p_fwer": p,
        "our_direction": direction,
        "our_effect_size": size,
        "our_effect_size_ci_low": _number(row, "effect_size_ci_low") if same else math.nan,
        "our_effect_size_ci_high": _number(row, "effect_size_ci_high") if same else math.nan,
        "our_effect_size_kind": size_kind,
    }
