"""Region x region matrices from the user's files: distances for the nulls, connectomes, FC."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = ["read_distance", "read_region_matrix"]

FloatArray = npt.NDArray[np.float64]


def _from_table(path: Path) -> tuple[npt.NDArray[np.float64], list[str] | None]:
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read distance matrix '{path}': {exc}") from None
    labels: list[str] | None = None
    if pd.to_numeric(frame.iloc[0, 1:], errors="coerce").isna().any():  # a header of labels
        header = [s.strip() for s in frame.iloc[0]]
        frame = frame.iloc[1:]
        labelled_rows = pd.to_numeric(frame.iloc[:, 0], errors="coerce").isna().any()
        labels = header[1:] if labelled_rows else header
        if labelled_rows:
            frame = frame.iloc[:, 1:]
    elif pd.to_numeric(frame.iloc[:, 0], errors="coerce").isna().any():  # labels, no header
        labels = [s.strip() for s in frame.iloc[:, 0]]
        frame = frame.iloc[:, 1:]
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row, col = (int(i) for i in np.argwhere(np.isnan(values))[0])
        raise InputError(
            f"{path}: row {row + 1}, column {col + 1} of the distance matrix is not a number"
        )
    return values, labels


def read_region_matrix(
    path: str | Path, what: str = "matrix"
) -> tuple[FloatArray, list[str] | None]:
    """Read a square region x region matrix (``.npy``, or TSV/CSV with optional labels).

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What it is, for error messages (``"connectome"``).

    Returns
    -------
    tuple
        The matrix and its region labels (None when the file has none).

    Raises
    ------
    InputError
        For a missing, unreadable, non-square or non-finite matrix.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{what} '{source}' does not exist")
    labels: list[str] | None = None
    if source.suffix.lower() == ".npy":
        try:
            values = np.asarray(np.load(source, allow_pickle=False), dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {what} '{source}': {exc}") from None
    else:
        values, labels = _from_table(source)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise InputError(f"{what} '{source}' has shape {values.shape}; it must be square")
    if not np.isfinite(values).all():
        raise InputError(f"{what} '{source}' has non-finite entries")
    return values, labels


def read_distance(
    path: str | Path, regions: Sequence[str] | None = None
) -> npt.NDArray[np.float64]:
    """Read a region x region distance matrix (geodesic or Euclidean, in mm).

    Parameters
    ----------
    path : str or Path
        A ``.npy`` array, or a TSV/CSV matrix, optionally with a header row of
        region labels (and a first column of them).
    regions : sequence of str or None
        The regions of the map the distances are for. A file with labels is
        reordered to them; a file without must have exactly this many rows,
        in this order.

    Returns
    -------
    numpy.ndarray
        Square, symmetric, non-negative, zero diagonal.

    Raises
    ------
    InputError
        For an unreadable, non-square, asymmetric or negative matrix, or one
        that does not match ``regions``.
    """
    source = Path(path)
    values, labels = read_region_matrix(source, "distance matrix")
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError(f"distance matrix '{source}' has negative or non-finite entries")
    if not np.allclose(values, values.T, rtol=1e-5, atol=1e-6):
        raise InputError(f"distance matrix '{source}' is not symmetric")
    if regions is not None:
        wanted = [str(r) for r in regions]
        if labels is not None:
            position = {r: i for i, r in enumerate(labels)}
            absent = [r for r in wanted if r not in position]
            if absent:
                raise InputError(
                    f"distance matrix '{source}' has no row for {len(absent)} region(s): "
                    f"{', '.join(map(repr, absent[:5]))}"
                )
            order = np.array([position[r] for r in wanted], dtype=np.intp)
            values = values[np.ix_(order, order)]
        elif values.shape[0] != len(wanted):
            raise InputError(
                f"distance matrix '{source}' has {values.shape[0]} rows for {len(wanted)} "
                "regions; give one row per region in the map's order, or a header of labels"
            )
    out = values.copy()
    np.fill_diagonal(out, 0.0)
    return out
