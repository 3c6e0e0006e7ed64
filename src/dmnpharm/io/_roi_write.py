"""Writers for the ROI-level study format (the inverse of ``_roi_study``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.io._derivatives import bids_label

__all__ = ["roi_run_path", "write_roi_run", "write_tsv"]


def write_tsv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as BIDS-style TSV (tab separated, ``n/a`` for missing).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to write; the index is not written.
    path : str or Path
        Destination; parent folders are created.

    Returns
    -------
    Path
        The written path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(dest, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    return dest


def roi_run_path(
    root: str | Path, participant_id: str, session_id: str, atlas: str, run: str = ""
) -> Path:
    """Return the path of one run's region time-series file.

    Parameters
    ----------
    root : str or Path
        Study folder.
    participant_id : str
        With its ``sub-`` prefix.
    session_id : str
        With its ``ses-`` prefix.
    atlas : str
        Atlas registry name, written as the ``atlas-`` entity in BIDS label form
        (:func:`dmnpharm.io.bids_label`: ``schaefer100_7`` becomes ``schaefer100x7``,
        since an underscore would end the entity); the sidecar keeps the name.
    run : str
        Run label without prefix; empty for a single run per session.

    Returns
    -------
    Path
        ``sub-*/ses-*/func/sub-*_ses-*_task-rest[_run-*]_atlas-*_timeseries.tsv``.
    """
    run_part = f"_run-{run}" if run else ""
    label = bids_label(atlas)
    name = f"{participant_id}_{session_id}_task-rest{run_part}_atlas-{label}_timeseries.tsv"
    return Path(root) / participant_id / session_id / "func" / name


def write_roi_run(
    path: str | Path,
    data: npt.NDArray[np.floating[Any]],
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
    decimals: int = 4,
) -> Path:
    """Write one run's region time series and its JSON sidecar.

    Parameters
    ----------
    path : str or Path
        Destination ``*_timeseries.tsv``; the sidecar goes beside it as ``.json``.
    data : numpy.ndarray
        Volumes x regions.
    labels : sequence of str
        Region labels, one per column.
    sidecar : mapping
        Sidecar content; must hold ``RepetitionTime`` in seconds.
    decimals : int
        Fixed decimals written per value (files are byte-reproducible).

    Returns
    -------
    Path
        The written time-series file.
    """
    if data.ndim != 2 or data.shape[1] != len(labels):
        raise ValueError(f"data of shape {data.shape} does not match {len(labels)} labels")
    if "RepetitionTime" not in sidecar:
        raise ValueError("sidecar must hold 'RepetitionTime'")
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(labels) + "\n")
        np.savetxt(handle, data, fmt=f"%.{decimals}f", delimiter="\t")
    dest.with_suffix(".json").write_text(
        json.dumps(dict(sidecar), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return dest
