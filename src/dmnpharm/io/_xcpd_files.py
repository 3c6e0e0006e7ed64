"""File-level readers of XCP-D outputs: names, tables, censoring, repetition time.

See :mod:`dmnpharm.io._xcpd` for what XCP-D writes in each version, and the sources.
Every problem is appended to the caller's list, naming the file (and line).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.exceptions import InputError

__all__ = [
    "censoring",
    "check_values",
    "concatenated",
    "entities",
    "layout_writer",
    "majority",
    "motion_path",
    "read_atlas_table",
    "read_header",
    "read_json",
    "read_table",
    "repetition_time",
    "source_prefix",
    "timeseries_files",
    "xcpd_version",
]

_ENTITY = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9]+)$")
#: Entities after the source ones: the motion and outliers files have none of them.
_DERIVED = ("space", "cohort", "res", "den", "seg", "atlas", "stat", "desc", "measure")
#: Outlier columns that censor the time series, most specific first.
_CENSOR_COLUMNS = ("interpolation", "denoising", "framewise_displacement")
_NAMES = {"xcp_d", "xcp-d", "xcpd"}


def entities(path: Path) -> list[tuple[str, str]]:
    """Return the ``key-value`` entities of a file name, in order (not its suffix)."""
    parts = path.name.split(".")[0].split("_")[:-1]
    return [(m[1], m[2]) for p in parts if (m := _ENTITY.match(p))]


def source_prefix(path: Path) -> str:
    """Return the source entities of a file name (what its motion file is named after)."""
    kept = []
    for key, value in entities(path):
        if key in _DERIVED:
            break
        kept.append(f"{key}-{value}")
    return "_".join(kept)


def read_json(path: Path) -> dict[str, Any]:
    """Return a JSON object, or an empty one when the file is missing or not an object."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return content if isinstance(content, dict) else {}


def xcpd_version(folder: Path) -> str | None:
    """Return the XCP-D version of a folder's ``dataset_description.json``, or None."""
    generated = read_json(folder / "dataset_description.json").get("GeneratedBy")
    if not isinstance(generated, list) or not generated or not isinstance(generated[0], dict):
        return None
    name = str(generated[0].get("Name", "")).strip().lower()
    return str(generated[0].get("Version", "unknown")) if name in _NAMES else None


def layout_writer(folder: Path) -> tuple[str, str] | None:
    """Return who wrote a folder in XCP-D's layout: ``("XCP-D", version)``, or None.

    dmnpharm's own derivatives follow XCP-D 0.10's layout and read back the same way:
    a folder whose ``GeneratedBy[0]`` is dmnpharm gives ``("dmnpharm", version)``.
    """
    version = xcpd_version(folder)
    if version is not None:
        return "XCP-D", version
    generated = read_json(folder / "dataset_description.json").get("GeneratedBy")
    first = generated[0] if isinstance(generated, list) and generated else None
    if isinstance(first, dict) and str(first.get("Name", "")).strip().lower() == "dmnpharm":
        return "dmnpharm", str(first.get("Version", "unknown"))
    return None


def timeseries_files(folder: Path, task: str | None) -> list[tuple[Path, str, str]]:
    """Return every parcellated time series as (path, atlas, naming)."""
    found = []
    for path in sorted(folder.glob("sub-*/**/func/*_timeseries.tsv")):
        ent = dict(entities(path))
        atlas = ent.get("seg") or ent.get("atlas")
        if atlas is None or (task and ent.get("task") != task):
            continue
        if "stat" in ent and ent["stat"] != "mean":
            continue
        naming = "seg" if "seg" in ent else "atlas-stat" if "stat" in ent else "atlas"
        found.append((path, atlas, naming))
    return found


def concatenated(paths: list[Path]) -> set[Path]:
    """Return the files without ``run-`` whose task also has files with one."""

    def group(path: Path) -> tuple[tuple[str, str], ...]:
        return tuple(kv for kv in entities(path) if kv[0] != "run")

    with_runs = {group(p) for p in paths if "run" in dict(entities(p))}
    return {p for p in paths if "run" not in dict(entities(p)) and group(p) in with_runs}


def read_table(path: Path, problems: list[str], what: str) -> pd.DataFrame | None:
    """Read a TSV (``n/a`` is NaN), or report it missing or unreadable and return None."""
    if not path.is_file():
        problems.append(f"{path}: {what} is missing")
        return None
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read as a TSV table ({exc})")
        return None


def check_values(path: Path, table: pd.DataFrame, problems: list[str]) -> bool:
    """Report a non-numeric cell, or a missing value among a region's numbers."""
    if all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes):
        missing = table.isna().to_numpy()
        if not (missing.any(axis=0) & ~missing.all(axis=0)).any():
            return True  # every cell a number, or a region n/a throughout: nothing to say
    for col in table.columns:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & table[col].notna()
        partial = values.isna() & bool(values.notna().any())
        for kind, mask in (("is not a number", bad), ("is missing among numbers", partial)):
            if mask.any():
                row = int(np.flatnonzero(mask.to_numpy())[0])
                problems.append(
                    f"{path}, line {row + 2}, column '{col}': value {table[col].iloc[row]!r} "
                    f"{kind}; fix or remove the run (a region of n/a throughout is accepted)"
                )
                return False
    return True


def read_header(path: Path) -> tuple[str, ...]:
    """Return a TSV's column names as written (pandas would rename repeated ones)."""
    with path.open(encoding="utf-8") as stream:
        return tuple(stream.readline().rstrip("\r\n").split("\t"))


def _outlier_column(path: Path, table: pd.DataFrame, problems: list[str]) -> str | None:
    column = next((c for c in _CENSOR_COLUMNS if c in table.columns), None)
    if column is None:
        problems.append(
            f"{path}: has no censoring column ({' or '.join(_CENSOR_COLUMNS)}); columns: "
            f"{', '.join(map(str, table.columns))}"
        )
    elif not table[column].isin([0, 1]).all():
        problems.append(f"{path}: column '{column}' must hold only 0 and 1")
        return None
    return column


def censoring(run: dict[str, Any], problems: list[str]) -> None:
    """Work out the censoring of a run from its motion, outliers and time-series rows."""
    motion = read_table(run["motion"], problems, "the motion file XCP-D writes for every run")
    if motion is None:
        return
    if "framewise_displacement" not in motion.columns:
        problems.append(f"{run['motion']}: has no 'framewise_displacement' column")
    run["n_acquired"] = n_acq = len(motion)
    flagged: list[int] = []
    if run["outliers"].is_file():
        outliers = read_table(run["outliers"], problems, "outliers file")
        column = (
            _outlier_column(run["outliers"], outliers, problems) if outliers is not None else None
        )
        if outliers is None or column is None:
            return
        if len(outliers) != n_acq:
            problems.append(
                f"{run['outliers']}: has {len(outliers)} rows, the motion file {n_acq}"
            )
            return
        flagged = np.flatnonzero(outliers[column].to_numpy() == 1).tolist()
    else:
        run["outliers"] = None
    run["outlier_volumes"] = tuple(flagged)
    if run["n_volumes"] == n_acq:
        run["censoring"] = "interpolated" if flagged else "none"
    elif flagged and run["n_volumes"] == n_acq - len(flagged):
        run["censoring"] = "removed"
    else:
        problems.append(
            f"{run['timeseries']}: has {run['n_volumes']} volumes but {run['motion'].name} has "
            f"{n_acq} of which {len(flagged)} are outliers; expected {n_acq} (full length) or "
            f"{n_acq - len(flagged)} (censored). Use the files of one XCP-D run"
        )


def _positive(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def repetition_time(ts: Path, bids_root: Path | None) -> tuple[float | None, str]:
    """Return a run's repetition time from XCP-D's or the raw BIDS sidecars, and its file."""
    side = read_json(ts.with_suffix(".json"))
    if (tr := _positive(side.get("RepetitionTime"))) is not None:
        return tr, str(ts.with_suffix(".json"))
    if (freq := _positive(side.get("SamplingFrequency"))) is not None:
        return 1.0 / freq, str(ts.with_suffix(".json"))
    prefix, space = source_prefix(ts), dict(entities(ts)).get("space", "")
    candidates = sorted(ts.parent.glob(f"{prefix}_space-{space}*_desc-denoised*_bold.json"))
    if bids_root is not None:
        ent = dict(entities(ts))
        func = bids_root / f"sub-{ent.get('sub')}"
        func = (func / f"ses-{ent['ses']}" if "ses" in ent else func) / "func"
        candidates += [
            func / f"{prefix}_bold.json",
            bids_root / f"task-{ent.get('task')}_bold.json",
        ]
    for path in candidates:
        if (tr := _positive(read_json(path).get("RepetitionTime"))) is not None:
            return tr, str(path)
    return None, ""


def motion_path(func: Path, prefix: str) -> Path:
    """Return the motion file (filtered motion when XCP-D filtered it)."""
    for suffix in ("_motion.tsv", "_desc-filtered_motion.tsv", "_desc-motion_timeseries.tsv"):
        if (func / f"{prefix}{suffix}").is_file():
            return func / f"{prefix}{suffix}"
    return func / f"{prefix}_motion.tsv"


def atlas_file(folder: Path, atlas: str) -> Path | None:
    """Return XCP-D's ``*_dseg.tsv`` of an atlas, or None."""
    patterns = ("atlases/**/*_dseg.tsv", "sourcedata/atlases/**/*_dseg.tsv", "*_dseg.tsv")
    found = [
        p
        for pattern in patterns
        for p in sorted(folder.glob(pattern))
        if dict(entities(p)).get("atlas") == atlas
    ]
    return found[0] if found else None


def read_atlas_table(folder: Path, atlas: str) -> tuple[pd.DataFrame | None, str]:
    """Return XCP-D's table of an atlas in dmnpharm's column names, and its path.

    See :func:`dmnpharm.io._xcpd_read.xcpd_atlas_table`; ``(None, "")`` when absent.
    """
    path = atlas_file(folder, atlas)
    if path is None:
        return None, ""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a TSV table ({exc})") from None
    name = "name" if "name" in table else "label"
    if "index" not in table or name not in table:
        raise InputError(
            f"{path}: needs columns 'index' and 'label' (or 'name'); it has "
            f"{', '.join(map(str, table.columns))}"
        )
    index = pd.to_numeric(table["index"], errors="coerce")
    bad = np.flatnonzero((index.isna() | (index % 1 != 0)).to_numpy())
    if bad.size:
        raise InputError(
            f"{path}, line {bad[0] + 2}: index {table['index'].iloc[bad[0]]!r} is not an integer"
        )
    out = pd.DataFrame({"index": index.astype(int), "name": table[name], "label": table[name]})
    # XCP-D writes network_label; dmnpharm's tables add network (its codes) beside it.
    codes = next((c for c in ("network", "network_label") if c in table), None)
    if codes is not None:
        out["network"] = table[codes]
        out["source_network"] = table["network_label" if "network_label" in table else codes]
    known = {"index", "name", "label", "network", "network_label"}
    rest = [c for c in table.columns if c not in known]
    return pd.concat([out, table[rest]], axis=1), str(path)


def majority(values: list[Any]) -> Any:
    """Return the most common value (the first seen among equals)."""
    return Counter(values).most_common(1)[0][0]
