"""Writers for a BIDS-derivatives dataset of region signals and connectivity matrices.

File names follow BIDS 1.9 and the connectivity conventions of BEP017 as XCP-D 0.7 to
0.14 write them (the ``seg-`` entity names the atlas, ``stat-`` the statistic; see
:mod:`dmnpharm.io._xcpd` for the versions and sources)::

    dataset_description.json  README.md  .bidsignore
    sub-<p>/[ses-<s>/]func/
        <src>[_space-<S>]_seg-<A>_stat-mean_timeseries.tsv
        <src>[_space-<S>]_seg-<A>_stat-pearsoncorrelation_relmat.tsv

where ``<src>`` is ``sub-<p>[_ses-<s>]_task-<t>[_acq-..][_run-<r>]``, each with a JSON
sidecar. BIDS labels hold letters and digits only; names such as ``acompcor+gsr``
become labels with :func:`bids_label`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError

__all__ = [
    "BIDS_VERSION",
    "ENTITY_ORDER",
    "bids_label",
    "derivative_path",
    "write_dataset_description",
    "write_relmat",
    "write_timeseries",
]

#: The BIDS version the derivatives follow.
BIDS_VERSION = "1.9.0"

#: Entities a derivative file name may carry, in the order BIDS writes them.
ENTITY_ORDER = (
    "sub",
    "ses",
    "task",
    "acq",
    "ce",
    "rec",
    "dir",
    "run",
    "echo",
    "part",
    "chunk",
    "space",
    "cohort",
    "atlas",
    "seg",
    "res",
    "den",
    "stat",
    "desc",
)

_PARTS = re.compile(r"[A-Za-z0-9]+")
_LABEL = re.compile(r"[A-Za-z0-9]+")


def bids_label(name: str) -> str:
    """Turn a name into a BIDS label (letters and digits only).

    The name is split at every other character and the parts are joined in
    camel case: the first part is kept as it is, a later part of at most three
    letters is upper-cased (an abbreviation such as ``gsr``), any other later
    part gets a capital first letter. Two digits that a separator kept apart
    are joined with ``x``, so that the numbers stay readable.

    Parameters
    ----------
    name : str
        E.g. ``"acompcor+gsr"``, ``"6p"``, ``"andrews_hanna"``, ``"schaefer400_7"``.

    Returns
    -------
    str
        ``"acompcorGSR"``, ``"6p"``, ``"andrewsHanna"``, ``"schaefer400x7"``.

    Raises
    ------
    InputError
        If the name holds no letter or digit.
    """
    parts: list[str] = _PARTS.findall(name)
    if not parts:
        raise InputError(f"{name!r} holds no letter or digit and cannot name a BIDS entity")
    label = parts[0]
    for part in parts[1:]:
        if label[-1].isdigit() and part[0].isdigit():
            label += "x" + part
        elif part.isalpha() and len(part) <= 3:
            label += part.upper()
        else:
            label += part[0].upper() + part[1:]
    return label


def derivative_path(
    root: str | Path, entities: Mapping[str, str], suffix: str, extension: str = ".tsv"
) -> Path:
    """Return where a derivative file goes: ``sub-<p>/[ses-<s>/]func/<name>``.

    Parameters
    ----------
    root : str or Path
        The derivatives dataset folder.
    entities : mapping of str to str
        Entity labels without prefixes (``{"sub": "01", "task": "rest", ...}``);
        ``sub`` is required, empty values are left out. Keys must be in
        :data:`ENTITY_ORDER`.
    suffix : str
        E.g. ``"timeseries"``, ``"relmat"``, ``"motion"``.
    extension : str
        With its dot.

    Returns
    -------
    Path
        The file path; entities appear in :data:`ENTITY_ORDER`.

    Raises
    ------
    InputError
        For an unknown entity, a missing ``sub``, or a label that is not
        letters and digits.
    """
    unknown = sorted(set(entities) - set(ENTITY_ORDER))
    if unknown:
        raise InputError(
            f"unknown BIDS entities {', '.join(unknown)}; use {', '.join(ENTITY_ORDER)}"
        )
    if not entities.get("sub"):
        raise InputError("a derivative file needs the participant (sub) entity")
    parts = []
    for key in ENTITY_ORDER:
        value = entities.get(key, "")
        if not value:
            continue
        if not _LABEL.fullmatch(value):
            raise InputError(
                f"BIDS label {key}-{value!r} must be letters and digits only; "
                f"e.g. {bids_label(value)!r}"
            )
        parts.append(f"{key}-{value}")
    folder = Path(root) / f"sub-{entities['sub']}"
    if entities.get("ses"):
        folder = folder / f"ses-{entities['ses']}"
    return folder / "func" / f"{'_'.join(parts)}_{suffix}{extension}"


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.write_text(
        json.dumps(dict(content), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def write_dataset_description(
    root: str | Path,
    *,
    name: str,
    version: str,
    source_datasets: Sequence[Mapping[str, str]] = (),
    dataset_links: Mapping[str, str] | None = None,
    code_url: str | None = None,
) -> Path:
    """Write ``dataset_description.json`` of a derivatives dataset.

    Parameters
    ----------
    root : str or Path
        The derivatives dataset folder (created if needed).
    name : str
        The dataset's ``Name``.
    version : str
        Version of dmnpharm, for ``GeneratedBy``.
    source_datasets : sequence of mapping
        ``SourceDatasets`` entries (``URL``, ``DOI``, ``Version``); left out when empty.
    dataset_links : mapping or None
        ``DatasetLinks``: names used in ``bids:<name>:<path>`` URIs of the
        sidecars' ``Sources``, each mapped to a URI.
    code_url : str or None
        ``GeneratedBy[0].CodeURL``.

    Returns
    -------
    Path
        The written file.
    """
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    generated: dict[str, str] = {"Name": "dmnpharm", "Version": version}
    if code_url:
        generated["CodeURL"] = code_url
    content: dict[str, Any] = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
    }
    if source_datasets:
        content["SourceDatasets"] = [dict(s) for s in source_datasets]
    if dataset_links:
        content["DatasetLinks"] = dict(dataset_links)
    path = folder / "dataset_description.json"
    _write_json(path, content)
    return path


def _cells(row: npt.NDArray[np.float64]) -> str:
    """Format one row: 8 significant digits, ``n/a`` for missing values."""
    values = row.tolist()
    if all(map(math.isfinite, values)):
        return "\t".join(["%.8g"] * len(values)) % tuple(values)
    return "\t".join(f"{v:.8g}" if math.isfinite(v) else "n/a" for v in values)


def _check_labels(labels: Sequence[str], columns: int, what: str) -> None:
    if len(labels) != columns:
        raise ValueError(f"{what} has {columns} columns but {len(labels)} labels were given")


def write_timeseries(
    path: str | Path,
    data: npt.ArrayLike,
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
) -> Path:
    """Write region signals (header of region labels, one row per volume) and a sidecar.

    Parameters
    ----------
    path : str or Path
        Destination ``*_timeseries.tsv``; the sidecar goes beside it as ``.json``.
    data : array_like
        Volumes x regions.
    labels : sequence of str
        Region labels, one per column.
    sidecar : mapping
        Sidecar content.

    Returns
    -------
    Path
        The written table: 8 significant digits, ``n/a`` for missing values.
    """
    values = np.asarray(data, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"time series must be volumes x regions, got shape {values.shape}")
    _check_labels(labels, values.shape[1], "the time series")
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(labels) + "\n")
        handle.writelines(_cells(row) + "\n" for row in values)
    _write_json(dest.with_suffix(".json"), sidecar)
    return dest


def write_relmat(
    path: str | Path,
    matrix: npt.ArrayLike,
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
) -> Path:
    r"""Write a region x region matrix with its labels and a sidecar.

    As XCP-D writes its ``_relmat.tsv``: a header row ``Node`` + the region
    labels, then one row per region starting with its label (read it back with
    ``pandas.read_csv(path, sep="\t", index_col=0)``).

    Parameters
    ----------
    path : str or Path
        Destination ``*_relmat.tsv``; the sidecar goes beside it as ``.json``.
    matrix : array_like
        Regions x regions.
    labels : sequence of str
        Region labels of the rows and columns.
    sidecar : mapping
        Sidecar content.

    Returns
    -------
    Path
        The written table.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"a relationship matrix must be square, got shape {values.shape}")
    _check_labels(labels, values.shape[1], "the matrix")
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(["Node", *labels]) + "\n")
        for label, row in zip(labels, values, strict=True):
            handle.write(f"{label}\t{_cells(row)}\n")
    _write_json(dest.with_suffix(".json"), sidecar)
    return dest
