"""Receptor density maps: a region x target table read from the user's files.

Receptor maps are never bundled with dmnpharm. The group-average PET maps of
Hansen et al. (2022) are CC BY-NC-SA 4.0: a user downloads them (from
github.com/netneurolab/hansen_receptors or through neuromaps) and
:func:`load_hansen2022` reads that repository's layout in place. Any other
parcellated maps come from a table (:func:`load_receptor_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import atlas_dir
from dmnpharm.exceptions import InputError

__all__ = [
    "HANSEN2022_REFERENCE",
    "ReceptorMaps",
    "align_regions",
    "load_hansen2022",
    "load_receptor_table",
]

HANSEN2022_REFERENCE = (
    "Hansen JY et al. (2022) Mapping neurotransmitter systems to the structural and "
    "functional organization of the human neocortex. Nat Neurosci 25:1569-1581"
)

_HANSEN_PARCELS = (100, 200, 400)
_HANSEN_LICENCE = (
    "The Hansen et al. (2022) receptor maps are CC BY-NC-SA 4.0 and are not bundled with "
    "dmnpharm: download them yourself (git clone https://github.com/netneurolab/"
    "hansen_receptors, or fetch them through neuromaps) and pass that folder"
)
#: Schaefer 2018 label tables inside the atlas folder (the layout of ../shared/data/atlases).
_SCHAEFER_LABELS = "schaefer2018_labels_derived/Schaefer2018_{n}Parcels_7Networks_order_labels.tsv"


@dataclass(frozen=True, eq=False)
class ReceptorMaps:
    """Parcellated receptor (or transporter) density maps, one column per target.

    Parameters
    ----------
    regions : tuple of str
        Region labels, in row order.
    targets : tuple of str
        Receptor or transporter names, in column order.
    values : numpy.ndarray
        Regions x targets densities; z-scored per target (mean 0, population
        standard deviation 1 over ``regions``) when ``zscored`` is True.
    raw : numpy.ndarray
        Regions x targets densities as read, before any z-scoring.
    zscored : bool
        Whether ``values`` were z-scored per target.
    source : str
        Where the maps were read from (a file or folder).
    coords : numpy.ndarray or None
        Regions x 3 region centres in mm, when known.
    reference : str
        The publication to cite for the maps ("" when unknown).
    """

    regions: tuple[str, ...]
    targets: tuple[str, ...]
    values: npt.NDArray[np.float64]
    raw: npt.NDArray[np.float64]
    zscored: bool
    source: str
    coords: npt.NDArray[np.float64] | None = None
    reference: str = ""

    def __post_init__(self) -> None:
        shape = (len(self.regions), len(self.targets))
        for name in ("values", "raw"):
            if getattr(self, name).shape != shape:
                raise InputError(
                    f"ReceptorMaps.{name} has shape {getattr(self, name).shape}, expected "
                    f"{shape} (regions x targets)"
                )
        if self.coords is not None and self.coords.shape != (shape[0], 3):
            raise InputError(
                f"ReceptorMaps.coords has shape {self.coords.shape}, expected ({shape[0]}, 3)"
            )

    def to_frame(self) -> pd.DataFrame:
        """Return the maps as a DataFrame (index: regions, columns: targets).

        Returns
        -------
        pandas.DataFrame
            A copy of ``values``.
        """
        return pd.DataFrame(
            self.values.copy(), index=pd.Index(self.regions, name="region"), columns=self.targets
        )


def _zscore(
    raw: npt.NDArray[np.float64], targets: Sequence[str], source: str
) -> npt.NDArray[np.float64]:
    sd = raw.std(axis=0)
    flat = [t for t, s in zip(targets, sd, strict=True) if not s > 0]
    if flat:
        raise InputError(
            f"{source}: target(s) {', '.join(flat)} are constant and cannot be z-scored"
        )
    return np.asarray((raw - raw.mean(axis=0)) / sd, dtype=np.float64)


def _build(
    regions: Sequence[str],
    targets: Sequence[str],
    raw: npt.NDArray[np.float64],
    *,
    zscore: bool,
    source: str,
    coords: npt.NDArray[np.float64] | None = None,
    reference: str = "",
) -> ReceptorMaps:
    raw = np.asarray(raw, dtype=np.float64)
    values = _zscore(raw, targets, source) if zscore else raw.copy()
    return ReceptorMaps(
        tuple(regions), tuple(targets), values, raw, zscore, source, coords, reference
    )


def _duplicates(labels: Sequence[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        seen.setdefault(label, []).append(i)
    return {k: v for k, v in seen.items() if len(v) > 1}


def _parse_numbers(frame: pd.DataFrame, path: Path) -> npt.NDArray[np.float64]:
    """Convert every target cell to float; errors name the file, line and column."""
    out = np.empty(frame.shape, dtype=np.float64)
    for j, column in enumerate(frame.columns):
        for i, cell in enumerate(frame[column]):
            line = i + 2  # line 1 is the header
            text = str(cell).strip()
            if text == "" or text.lower() in {"nan", "na", "n/a"}:
                raise InputError(
                    f"{path}, line {line}, column {column!r}: the value is missing; every "
                    "region needs a density for every target"
                )
            try:
                out[i, j] = float(text)
            except ValueError:
                raise InputError(
                    f"{path}, line {line}, column {column!r}: {text!r} is not a number"
                ) from None
            if not np.isfinite(out[i, j]):
                raise InputError(f"{path}, line {line}, column {column!r}: {text!r} is not finite")
    return out


def load_receptor_table(path: str | Path, *, zscore: bool = True) -> ReceptorMaps:
    """Read parcellated receptor maps from a table: column ``region``, then one per target.

    Parameters
    ----------
    path : str or Path
        A tab-separated (``.tsv``, ``.txt``) or comma-separated (``.csv``) file
        whose first column is ``region`` and whose other columns are targets.
    zscore : bool
        Z-score each target over the regions (Hansen et al. 2022 do so before
        any analysis). The values as read stay in ``raw``.

    Returns
    -------
    ReceptorMaps
        One row per region, in file order.

    Raises
    ------
    InputError
        If the file is missing, has no ``region`` first column or no target
        column, repeats a region or a target, or has a missing or non-numeric
        value (the message names the file, line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"receptor table '{path}' does not exist")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    # header=None: pandas would rename a repeated column ('A', 'A.1') instead of failing.
    try:
        cells = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, header=None)
    except pd.errors.EmptyDataError:
        raise InputError(f"receptor table '{path}' is empty") from None
    columns = [str(c).strip() for c in cells.iloc[0]] if len(cells) else []
    frame = cells.iloc[1:].reset_index(drop=True)
    if not columns or columns[0] != "region":
        raise InputError(
            f"{path}: the first column must be 'region' (got {columns[:1] or 'no column'}); "
            f"is the file {'comma' if sep == ',' else 'tab'}-separated?"
        )
    if len(columns) < 2:
        raise InputError(f"{path}: no target column after 'region'")
    repeated = _duplicates(columns)
    if repeated:
        raise InputError(f"{path}: column(s) {', '.join(map(repr, repeated))} appear twice")
    frame.columns = pd.Index(columns)
    regions = [str(r).strip() for r in frame["region"]]
    for i, region in enumerate(regions):
        if not region:
            raise InputError(f"{path}, line {i + 2}: the region has no label")
    for region, rows in _duplicates(regions).items():
        lines = ", ".join(str(r + 2) for r in rows)
        raise InputError(f"{path}: region {region!r} appears on lines {lines}")
    raw = _parse_numbers(frame[columns[1:]], path)
    return _build(regions, columns[1:], raw, zscore=zscore, source=str(path))


def _schaefer_labels(n: int, labels: Sequence[str] | str | Path | None) -> list[str]:
    """Return the Schaefer-2018 7-network labels: given, from a table, or the atlas folder."""
    if labels is not None and not isinstance(labels, str | Path):
        names = [str(x) for x in labels]
        where = "labels"
    else:
        table = Path(labels) if labels is not None else atlas_dir() / _SCHAEFER_LABELS.format(n=n)
        if not table.is_file():
            raise InputError(
                f"Schaefer 2018 label table '{table}' is missing: pass labels= (names or a "
                "TSV with a 'name' column) or set DMNPHARM_ATLAS_DIR to a folder laid out as "
                "../shared/data/atlases"
            )
        frame = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
        if "name" not in frame.columns:
            raise InputError(f"{table}: no 'name' column (columns: {', '.join(frame.columns)})")
        names = [s.strip() for s in frame["name"]]
        where = str(table)
    if len(names) != n:
        raise InputError(f"{where}: {len(names)} labels for the {n}-parcel Hansen maps")
    return names


def _hansen_coords(folder: Path, n: int) -> npt.NDArray[np.float64] | None:
    path = folder / "data" / "schaefer" / "coordinates" / f"Schaefer_{n}_centres.txt"
    if not path.is_file():
        return None
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(rows) != n or any(len(r) != 4 for r in rows):
        raise InputError(f"{path}: expected {n} lines of 'label x y z'")
    return np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)


def load_hansen2022(
    folder: str | Path,
    parcels: int = 100,
    *,
    labels: Sequence[str] | str | Path | None = None,
    zscore: bool = True,
) -> ReceptorMaps:
    """Read the 19 receptor/transporter maps of Hansen et al. (2022) from their repository.

    The folder has the layout of github.com/netneurolab/hansen_receptors:
    ``results/receptor_data_scale{100,200,400}.csv`` (regions x 19, no header,
    not z-scored), ``data/receptor_names_pet.npy`` (the 19 names) and, when
    present, ``data/schaefer/coordinates/Schaefer_{N}_centres.txt``. Rows are the
    Schaefer 2018 parcels in 7Networks order (cortex only).

    Parameters
    ----------
    folder : str or Path
        The user's copy of the repository (never bundled: CC BY-NC-SA 4.0).
    parcels : int
        100, 200 or 400 Schaefer parcels.
    labels : sequence of str, str, Path or None
        Region labels: the names themselves, or a TSV with a ``name`` column.
        None reads the ``name`` column of
        ``schaefer2018_labels_derived/Schaefer2018_{N}Parcels_7Networks_order_labels.tsv``
        in the atlas folder (``DMNPHARM_ATLAS_DIR``): the names of the
        ``schaefer{N}_7`` atlas (``7Networks_LH_Vis_1``, ...).
    zscore : bool
        Z-score each map over the regions, as Hansen et al. do.

    Returns
    -------
    ReceptorMaps
        ``parcels`` regions x 19 targets, with centroids when the folder has them.

    Raises
    ------
    InputError
        If ``parcels`` is not 100, 200 or 400, the folder is not that layout (the
        message says where to download the maps), or the labels do not fit.
    """
    if parcels not in _HANSEN_PARCELS:
        raise InputError(f"parcels {parcels!r} is not one of 100, 200, 400")
    folder = Path(folder)
    table = folder / "results" / f"receptor_data_scale{parcels:03d}.csv"
    names_file = folder / "data" / "receptor_names_pet.npy"
    missing = [str(p.relative_to(folder)) for p in (table, names_file) if not p.is_file()]
    if missing:
        raise InputError(
            f"'{folder}' is not the hansen_receptors layout ({', '.join(missing)} missing). "
            + _HANSEN_LICENCE
        )
    # An array of str ('<U6'); allow_pickle for copies saved as an object array.
    targets = [str(t) for t in np.load(names_file, allow_pickle=True).ravel()]
    raw = np.loadtxt(table, delimiter=",", dtype=np.float64, ndmin=2)
    if raw.shape != (parcels, len(targets)):
        raise InputError(
            f"{table}: shape {raw.shape}, expected ({parcels}, {len(targets)}) "
            f"(regions x the targets of {names_file.name})"
        )
    return _build(
        _schaefer_labels(parcels, labels),
        targets,
        raw,
        zscore=zscore,
        source=str(table),
        coords=_hansen_coords(folder, parcels),
        reference=HANSEN2022_REFERENCE,
    )


def align_regions(maps: ReceptorMaps, labels: Sequence[str]) -> ReceptorMaps:
    """Reorder and subset the maps to a study's region labels.

    Values are taken as they are (not z-scored again over the subset):
    correlations and regressions with an intercept do not depend on it.

    Parameters
    ----------
    maps : ReceptorMaps
        The maps to align.
    labels : sequence of str
        The study's region labels, in the order wanted.

    Returns
    -------
    ReceptorMaps
        One row per label, in the order of ``labels``.

    Raises
    ------
    InputError
        If a label is repeated or has no map (the message names them).
    """
    wanted = [str(x) for x in labels]
    repeated = _duplicates(wanted)
    if repeated:
        raise InputError(f"labels repeat {', '.join(map(repr, repeated))}")
    position = {r: i for i, r in enumerate(maps.regions)}
    absent = [x for x in wanted if x not in position]
    if absent:
        shown = ", ".join(map(repr, absent[:10])) + (" ..." if len(absent) > 10 else "")
        raise InputError(
            f"{len(absent)} of {len(wanted)} labels have no receptor map in {maps.source}: "
            f"{shown} (map regions look like {maps.regions[0]!r})"
        )
    rows = np.array([position[x] for x in wanted], dtype=np.intp)
    coords = None if maps.coords is None else maps.coords[rows]
    return replace(
        maps,
        regions=tuple(wanted),
        values=np.take(maps.values, rows, axis=0),
        raw=np.take(maps.raw, rows, axis=0),
        coords=coords,
    )
