"""Observed regional effect maps: from an analysis folder, a table or a CIFTI pscalar.

A map to explain is one value per region: the drug effect on a region-level
measure of the bundle (GBC, ALFF, fALFF, or each region's connectivity with
the DMN), computed from the per-run region rows an analysis wrote
(``metrics_regions.parquet``) with the model of that analysis (paired
drug-placebo, or two groups), or a map the user made elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from dmnpharm.exceptions import InputError

__all__ = [
    "REGION_MEASURES",
    "RegionalMap",
    "load_observed",
    "read_regional_map",
    "regional_effect_map",
]

FloatArray = npt.NDArray[np.float64]

#: Region-level measures an effect map can be made of, with what they are.
REGION_MEASURES: dict[str, str] = {
    "gbc": "global brain connectivity of each region (mean Fisher z with all others)",
    "dmn_fc": "each region's mean Fisher z with the DMN regions (a DMN seed map)",
    "alff": "amplitude of low-frequency fluctuations of each region",
    "falff": "fractional ALFF of each region",
    "zalff": "ALFF of each region, z-scored over the run's regions",
    "zfalff": "fALFF of each region, z-scored over the run's regions",
}

#: Statistics of an effect map.
STATISTICS = ("t", "effect", "mean")

_REGION_COLUMNS = ("region", "label", "name", "roi", "parcel")
_VALUE_COLUMNS = ("value", "t", "stat", "statistic", "effect", "estimate", "z", "beta")


@dataclass(frozen=True)
class RegionalMap:
    """One value per region: an observed effect or any other regional map.

    Parameters
    ----------
    regions : tuple of str
        Region labels, in the order of ``values``.
    values : numpy.ndarray
        One finite value per region.
    source : str
        Where it came from (a file, or an analysis folder).
    description : str
        What the values are, in one sentence for tables and reports.
    measure : str
        The region-level measure (``"gbc"``...), or ``"value"`` for a user's map.
    statistic : str
        ``"t"``, ``"effect"`` (d_z or Hedges' g), ``"mean"`` or ``"value"``.
    n : int
        Subjects behind each value (0 for a user's map).
    """

    regions: tuple[str, ...]
    values: FloatArray
    source: str
    description: str
    measure: str = "value"
    statistic: str = "value"
    n: int = 0

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.regions),):
            raise InputError(
                f"{self.source}: {self.values.shape} values for {len(self.regions)} regions"
            )
        bad = [r for r, v in zip(self.regions, self.values, strict=True) if not np.isfinite(v)]
        if bad:
            raise InputError(
                f"{self.source}: regions {', '.join(map(repr, bad[:5]))} have no finite value; "
                "remove them from the map or fill them"
            )

    def as_series(self) -> pd.Series:
        """Return the map as a Series indexed by region.

        Returns
        -------
        pandas.Series
            Values named after the statistic, index named ``region``.
        """
        return pd.Series(
            self.values, index=pd.Index(self.regions, name="region"), name=self.statistic
        )

    def record(self) -> dict[str, Any]:
        """Return what the map is, for provenance.

        Returns
        -------
        dict
            Source, description, measure, statistic, n and region count.
        """
        return {
            "source": self.source,
            "description": self.description,
            "measure": self.measure,
            "statistic": self.statistic,
            "n": self.n,
            "n_regions": len(self.regions),
        }


def _pick(columns: list[str], wanted: tuple[str, ...], what: str, path: Path) -> str:
    lower = {c.strip().lower(): c for c in columns}
    for name in wanted:
        if name in lower:
            return lower[name]
    raise InputError(
        f"{path}: no {what} column (looked for {', '.join(wanted)}; columns are "
        f"{', '.join(columns)})"
    )


def _read_table_map(path: Path) -> RegionalMap:
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read regional map '{path}': {exc}") from None
    columns = [str(c) for c in frame.columns]
    region = _pick(columns, _REGION_COLUMNS, "region", path)
    others = [c for c in columns if c != region]
    value = others[0] if len(others) == 1 else _pick(others, _VALUE_COLUMNS, "value", path)
    numbers = pd.to_numeric(frame[value].str.strip(), errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{path}, line {row + 2}: {value} {frame[value].iloc[row]!r} is not a number "
            f"(region {frame[region].iloc[row]!r}); every region needs a value"
        )
    labels = [s.strip() for s in frame[region]]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise InputError(f"{path}: regions repeat: {', '.join(map(repr, repeated[:5]))}")
    return RegionalMap(
        tuple(labels),
        numbers.to_numpy(dtype=np.float64),
        str(path),
        f"regional map '{path.name}' (column {value!r})",
    )


def _read_pscalar(path: Path, map_name: str | None) -> RegionalMap:
    import nibabel as nib
    from nibabel.cifti2.cifti2_axes import ParcelsAxis, ScalarAxis

    try:
        img: Any = nib.load(path)
        scalars, parcels = img.header.get_axis(0), img.header.get_axis(1)
        data = np.asarray(img.get_fdata(dtype=np.float64))
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise InputError(f"cannot read CIFTI pscalar '{path}': {exc}") from None
    if not isinstance(parcels, ParcelsAxis) or not isinstance(scalars, ScalarAxis):
        raise InputError(
            f"'{path}' is not a CIFTI pscalar (maps x parcels); give a *.pscalar.nii or a TSV "
            "with 'region' and 'value' columns"
        )
    names = [str(n) for n in scalars.name]
    if map_name is None and len(names) > 1:
        raise InputError(
            f"'{path}' holds {len(names)} maps ({', '.join(names[:8])}); name the one to use"
        )
    if map_name is not None and map_name not in names:
        raise InputError(f"'{path}' has no map {map_name!r}; its maps: {', '.join(names[:8])}")
    row = 0 if map_name is None else names.index(map_name)
    return RegionalMap(
        tuple(str(n) for n in parcels.name),
        data[row].astype(np.float64),
        str(path),
        f"map {names[row]!r} of CIFTI pscalar '{path.name}'",
    )


def read_regional_map(path: str | Path, *, map_name: str | None = None) -> RegionalMap:
    """Read a regional map the user made: a table or a CIFTI pscalar.

    Parameters
    ----------
    path : str or Path
        A TSV (``.tsv``, ``.txt``) or CSV with a ``region`` column (or
        ``label``/``name``/``roi``/``parcel``) and a ``value`` column (or one
        other column, or ``t``/``stat``/``effect``/``estimate``/``z``/``beta``);
        or a ``.pscalar.nii`` whose parcels are the regions.
    map_name : str or None
        Which map of a pscalar holding several.

    Returns
    -------
    RegionalMap
        The values, in the file's region order.

    Raises
    ------
    InputError
        For a missing or unreadable file, a missing column, a value that is
        not a number (with its line), or repeated regions.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"regional map '{source}' does not exist")
    if source.name.lower().endswith(".pscalar.nii"):
        return _read_pscalar(source, map_name)
    return _read_table_map(source)


def _provenance(folder: Path) -> dict[str, Any]:
    file = folder / "provenance.json"
    regions = folder / "metrics_regions.parquet"
    if not file.is_file() or not regions.is_file():
        raise InputError(
            f"'{folder}' is not a dmnpharm analysis folder with region-level measures "
            "(provenance.json and metrics_regions.parquet): give the --out folder of "
            "'dmnpharm run', or a TSV with 'region' and 'value' columns"
        )
    config: dict[str, Any] = json.loads(file.read_text(encoding="utf-8")).get("config", {})
    return config


def _subject_means(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Regions as columns, one row per ``keys`` level (runs averaged)."""
    return table.pivot_table(
        index=keys, columns="region_a", values="value", aggfunc="mean", sort=False
    )


def _paired(
    table: pd.DataFrame, contrast: tuple[str, str], regions: list[str]
) -> tuple[FloatArray, FloatArray, int, str]:
    wide = _subject_means(table, ["condition", "participant_id"])
    levels = set(wide.index.get_level_values(0))
    missing = [c for c in contrast if c not in levels]
    if missing:
        raise InputError(f"no runs of condition {missing[0]!r} in the region measures")
    a, b = (wide.xs(c, level="condition")[regions] for c in contrast)
    both = a.index.intersection(b.index)
    diff = np.asarray((a.loc[both] - b.loc[both]).to_numpy(dtype=np.float64), dtype=np.float64)
    empty = np.empty((0, len(regions)), dtype=np.float64)
    return diff, empty, int(both.size), f"{contrast[0]}-{contrast[1]}"


def _groups(
    table: pd.DataFrame, column: str, contrast: tuple[str, str], regions: list[str]
) -> tuple[FloatArray, FloatArray, int, str]:
    if column not in table.columns:
        raise InputError(f"the region measures have no participants column {column!r}")
    wide = _subject_means(table, [column, "participant_id"])
    parts = []
    for level in contrast:
        try:
            parts.append(wide.xs(level, level=column)[regions].to_numpy(dtype=np.float64))
        except KeyError:
            raise InputError(f"no subject has {column} = {level!r}") from None
    return parts[0], parts[1], parts[0].shape[0] + parts[1].shape[0], "-".join(contrast)


def _statistic(first: FloatArray, second: FloatArray, statistic: str) -> FloatArray:
    if second.shape[0] == 0:  # paired differences
        mean, sd = first.mean(axis=0), first.std(axis=0, ddof=1)
        if statistic == "mean":
            return np.asarray(mean, dtype=np.float64)
        if statistic == "effect":
            return np.asarray(mean / sd, dtype=np.float64)
        return np.asarray(mean / (sd / np.sqrt(first.shape[0])), dtype=np.float64)
    diff = first.mean(axis=0) - second.mean(axis=0)
    if statistic == "mean":
        return np.asarray(diff, dtype=np.float64)
    if statistic == "t":
        return np.asarray(stats.ttest_ind(first, second, equal_var=False).statistic)
    n1, n2 = first.shape[0], second.shape[0]
    pooled = np.sqrt(
        ((n1 - 1) * first.var(axis=0, ddof=1) + (n2 - 1) * second.var(axis=0, ddof=1))
        / (n1 + n2 - 2)
    )
    correction = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)  # Hedges 1981
    return np.asarray(diff / pooled * correction, dtype=np.float64)


def regional_effect_map(
    results: str | Path, measure: str = "gbc", statistic: str = "t"
) -> RegionalMap:
    """Return the drug effect on a region-level measure, one value per region.

    Runs are averaged within subject and condition. A paired analysis gives
    the per-subject drug-placebo differences; a between-subject analysis
    compares the two groups of its contrast. Only the primary analysis's
    rows are used (not the GSR sensitivity).

    Parameters
    ----------
    results : str or Path
        The output folder of ``dmnpharm run`` (``provenance.json`` and
        ``metrics_regions.parquet``).
    measure : str
        One of :data:`REGION_MEASURES`.
    statistic : str
        ``"t"`` (paired t, or Welch's t between groups), ``"effect"`` (d_z, or
        Hedges' g between groups) or ``"mean"`` (the mean difference).

    Returns
    -------
    RegionalMap
        One value per region, in atlas order.

    Raises
    ------
    InputError
        For a folder that is not an analysis, an unknown measure or
        statistic, or a measure the analysis did not compute.
    """
    if measure not in REGION_MEASURES:
        raise InputError(f"measure {measure!r} is not one of {', '.join(REGION_MEASURES)}")
    if statistic not in STATISTICS:
        raise InputError(f"statistic {statistic!r} is not one of {', '.join(STATISTICS)}")
    folder = Path(results)
    config = _provenance(folder)
    table = pd.read_parquet(folder / "metrics_regions.parquet")
    table = table[(table["analysis"] == "primary") & (table["measure"] == measure)]
    if table.empty:
        raise InputError(
            f"'{folder}' has no region-level {measure!r} rows; this measure needs a newer "
            "analysis or ALFF, which needs runs of 100 s or more"
        )
    regions = list(dict.fromkeys(str(r) for r in table["region_a"]))
    between = config.get("between")
    if between:
        pair = tuple(config.get("between_contrast") or ())
        if len(pair) != 2:
            raise InputError(f"'{folder}': the between-subject analysis names no two groups")
        first, second, n, label = _groups(table, str(between), (pair[0], pair[1]), regions)
        kind = {"t": "Welch t", "effect": "Hedges' g", "mean": "mean difference"}[statistic]
    else:
        a, b = config.get("contrast") or ("drug", "placebo")
        first, second, n, label = _paired(table, (str(a), str(b)), regions)
        kind = {"t": "paired t", "effect": "d_z", "mean": "mean difference"}[statistic]
    if n < 3:
        raise InputError(f"'{folder}': {n} subjects for the {label} map; at least 3 are needed")
    values = _statistic(first, second, statistic)
    return RegionalMap(
        tuple(regions),
        values,
        str(folder),
        f"{kind} of {label} in {REGION_MEASURES[measure]}",
        measure,
        statistic,
        n,
    )


def load_observed(
    source: str | Path, *, measure: str = "gbc", statistic: str = "t"
) -> RegionalMap:
    """Read an observed effect map: an analysis folder, a table or a pscalar.

    Parameters
    ----------
    source : str or Path
        An output folder of ``dmnpharm run`` (see :func:`regional_effect_map`)
        or a file (see :func:`read_regional_map`).
    measure, statistic : str
        For an analysis folder: which measure and statistic.

    Returns
    -------
    RegionalMap
        The observed map.

    Raises
    ------
    InputError
        For a path that is neither, or the errors of the readers.
    """
    path = Path(source)
    if path.is_dir():
        return regional_effect_map(path, measure, statistic)
    return read_regional_map(path)
