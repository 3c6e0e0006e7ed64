"""A study's own reference connectivity (placebo or baseline runs) for the whole-brain model."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = ["ReferenceFC", "reference_fc"]

FloatArray = npt.NDArray[np.float64]

_ENTITY = re.compile(r"(sub|ses|run)-([A-Za-z0-9]+)")


@dataclass(frozen=True, eq=False)
class ReferenceFC:
    """Per-subject connectivity of the reference condition, as correlations.

    Parameters
    ----------
    matrices : numpy.ndarray
        Subjects x regions x regions Pearson r (each subject's runs averaged
        in Fisher z), unit diagonal.
    regions : tuple of str
        Region labels, in matrix order.
    source : str
        Where they were read from.
    condition : str
        The condition they are of (``"placebo"``), or ``""`` for a given matrix.
    """

    matrices: FloatArray
    regions: tuple[str, ...]
    source: str
    condition: str = ""

    def mean(self) -> FloatArray:
        """Return the group mean (Fisher-z average, back to r, unit diagonal).

        Returns
        -------
        numpy.ndarray
            Regions x regions.
        """
        z = np.arctanh(np.clip(self.matrices, -0.999999, 0.999999)).mean(axis=0)
        out = np.tanh(z)
        np.fill_diagonal(out, 1.0)
        return np.asarray(out, dtype=np.float64)


def _runs(folder: Path) -> pd.DataFrame:
    metrics = folder / "metrics.parquet"
    if not metrics.is_file():
        raise InputError(f"'{folder}' has no metrics.parquet: give the --out folder of 'run'")
    table = pd.read_parquet(
        metrics, columns=["participant_id", "session_id", "run", "condition", "analysis"]
    )
    table = table[table["analysis"] == "primary"].drop_duplicates()
    return table.astype(str)


def _key(path: Path) -> tuple[str, str, str]:
    found = dict(_ENTITY.findall(path.name))
    return (f"sub-{found.get('sub', '')}", found.get("ses", ""), found.get("run", ""))


def reference_fc(folder: str | Path, condition: str = "placebo") -> ReferenceFC:
    """Read a study's per-subject connectivity under one condition from its derivatives.

    The run-level ``*_relmat.tsv`` files of the analysis's derivatives are
    matched to their condition through the analysis's run table; each
    subject's runs are averaged in Fisher z.

    Parameters
    ----------
    folder : str or Path
        The output folder of ``dmnpharm run``.
    condition : str
        The reference condition (``"placebo"``, or a baseline session's label).

    Returns
    -------
    ReferenceFC
        Subjects x regions x regions, as correlations.

    Raises
    ------
    InputError
        When the folder has no derivatives or no run of the condition.
    """
    root = Path(folder)
    runs = _runs(root)
    wanted = runs[runs["condition"] == condition]
    if wanted.empty:
        levels = ", ".join(sorted(set(runs["condition"])))
        raise InputError(f"'{root}' has no run of condition {condition!r} (conditions: {levels})")
    keys = {
        (row.participant_id, str(row.session_id).removeprefix("ses-"), str(row.run))
        for row in wanted.itertuples()
    }
    by_subject: dict[str, list[FloatArray]] = {}
    regions: list[str] | None = None
    for path in sorted((root / "derivatives").rglob("*_relmat.tsv")):
        sub, ses, run = _key(path)
        if (sub, ses, run) not in keys:
            continue
        frame = pd.read_csv(path, sep="\t", index_col=0)
        sidecar = path.with_suffix(".json")
        units = json.loads(sidecar.read_text()).get("Units", "") if sidecar.is_file() else ""
        values = frame.to_numpy(dtype=np.float64)
        z = values if units == "Fisher z" else np.arctanh(np.clip(values, -0.999999, 0.999999))
        np.fill_diagonal(z, 0.0)
        by_subject.setdefault(sub, []).append(z)
        regions = [str(c) for c in frame.columns]
    if not by_subject or regions is None:
        raise InputError(
            f"'{root}' has no connectivity matrices (*_relmat.tsv) of its {condition} runs in "
            "derivatives/: rerun the analysis, or give the reference FC as a file"
        )
    matrices = np.tanh(np.stack([np.mean(z, axis=0) for z in by_subject.values()]))
    for m in matrices:
        np.fill_diagonal(m, 1.0)
    return ReferenceFC(matrices, tuple(regions), str(root), condition)
