"""The files that describe dmnpharm's derivatives dataset: README, .bidsignore, atlas files.

The dataset follows XCP-D 0.10's layout (see :mod:`dmnpharm.io._xcpd` for what XCP-D
writes, and its sources). The official BIDS validator (``bids-validator-deno`` 3.0,
schema 1.2.7) knows none of BEP017's files (``_timeseries``, ``_relmat``,
``_boldmap``), nor XCP-D's ``_motion``, ``_outliers``, ``_qc`` and ``stat-coverage``
tables, nor CIFTI parcellated files, nor an ``atlases/`` folder: ``.bidsignore``
lists exactly the patterns of the files this analysis writes among them, so that the
validator checks the rest (``dataset_description.json``, the README, the folders).

Atlas files, as XCP-D 0.7-0.14 write them: ``atlases/dataset_description.json``,
``atlases/atlas-<A>/atlas-<A>_dseg.tsv`` (``index``, ``name`` (BIDS), ``label`` (XCP-D),
``network_label`` (the atlas authors' network), ``network`` (dmnpharm's code), and
``x``, ``y``, ``z``, ``subsystem`` when the atlas has them) with a JSON sidecar, and the
labels image ``atlas-<A>_space-<S>_dseg.nii.gz`` (or ``.dlabel.nii``) when the atlas
is an image. Coordinate atlases have no image: their regions are spheres drawn on each
run's own grid; region time-series inputs (ROI-level folders, XCP-D outputs, run
tables) had no image at all. The sidecar says which.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.io import BIDS_VERSION, bids_label, write_tsv
from dmnpharm.metrics import ESTIMATORS

__all__ = [
    "RELMAT_STATS",
    "atlas_files",
    "bidsignore_text",
    "readme_text",
    "relmat_stat",
]

#: The ``stat-`` label of each estimator's matrix (XCP-D's for Pearson correlation).
RELMAT_STATS = {
    "pearson": "pearsoncorrelation",
    "partial": "partialcorrelation",
    "tangent": "tangent",
}

#: Region time-series inputs: their atlas was never an image dmnpharm read.
_SERIES_INPUTS = ("roi", "table", "xcpd")


def relmat_stat(estimator: str) -> str:
    """Return the ``stat-`` label of an estimator's connectivity matrix.

    Parameters
    ----------
    estimator : str
        ``pearson``, ``partial`` or ``tangent``.

    Returns
    -------
    str
        ``pearsoncorrelation`` (as XCP-D), ``partialcorrelation`` or ``tangent``.
    """
    return RELMAT_STATS.get(estimator, bids_label(estimator))


def bidsignore_text(voxel_maps: bool, cifti: bool) -> str:
    """Return the ``.bidsignore`` of an analysis's derivatives dataset.

    Parameters
    ----------
    voxel_maps : bool
        The analysis writes ALFF, fALFF and seed maps (``_boldmap.nii.gz``).
    cifti : bool
        It writes CIFTI parcellated files (``.ptseries.nii``, ``.pconn.nii``).

    Returns
    -------
    str
        Comment lines naming why, then one pattern per line: only the kinds of file
        this analysis writes that the BIDS validator does not know.
    """
    lines = [
        "# Files BIDS 1.11 does not define yet, so the BIDS validator does not know them.",
        "# BEP017 (connectivity): parcellated time series and relationship matrices.",
        "*_timeseries.tsv",
        "*_timeseries.json",
        "*_relmat.tsv",
        "*_relmat.json",
        "# XCP-D's per-run tables: motion, outliers, parcel coverage, QC.",
        "*_motion.tsv",
        "*_motion.json",
        "*_outliers.tsv",
        "*_outliers.json",
        "*_stat-coverage_bold.tsv",
        "*_stat-coverage_bold.json",
        "*_qc.tsv",
        "*_qc.json",
        "# XCP-D's atlas folder (BEP038 atlases sit elsewhere in BIDS 1.11).",
        "/atlases",
    ]
    if voxel_maps:
        lines += ["# BEP012/XCP-D voxel maps (ALFF, fALFF, seed maps).", "*_boldmap.nii.gz"]
        lines += ["*_boldmap.json"]
    if cifti:
        lines += ["# CIFTI-2 parcellated files (BEP017).", "*.ptseries.nii", "*.pconn.nii"]
    return "\n".join(lines) + "\n"


def readme_text(config: AnalysisConfig, atlas: Atlas, source_name: str) -> str:
    """Return the README of an analysis's derivatives dataset.

    Parameters
    ----------
    config : AnalysisConfig
        The analysis (strategy, estimator, voxel maps).
    atlas : Atlas
        Its atlas.
    source_name : str
        The input study's name.

    Returns
    -------
    str
        Markdown: what the dataset holds, each file name with its XCP-D counterpart,
        what the values are, and what to add (Authors).
    """
    seg = bids_label(atlas.name)
    stat = relmat_stat(config.estimator)
    values = (
        "tangent-space values (unitless)"
        if config.estimator == "tangent"
        else f"{config.estimator} correlation coefficients r (not Fisher z), diagonal 1"
    )
    maps = (
        "\n- `<src>_space-<S>[_res-<r>]_stat-{alff,falff,zalff,zfalff}_boldmap.nii.gz` and "
        "`..._stat-fisherz_desc-seed<Seed>_boldmap.nii.gz`: voxel maps of ALFF, fALFF (and "
        "their z-scores over the brain mask) and of each DMN seed's Fisher-z correlation."
        if config.voxel_maps
        else ""
    )
    return f"""# dmnpharm derivatives of {source_name}

Written by dmnpharm {__version__} (`dmnpharm run`): each run's denoised region signals
and connectivity matrix, with the per-run tables XCP-D writes, named as XCP-D 0.10 names
its outputs (BIDS {BIDS_VERSION} with BEP017 connectivity files).

- Atlas: {atlas.name} (`seg-{seg}`), {atlas.n_regions} regions; see
  `atlases/atlas-{seg}/atlas-{seg}_dseg.tsv`.
- Denoising: {config.strategy} ({config.denoise.describe()}). Every sidecar names it
  (`Strategy`, `StrategyDescription`, `Censoring`); file names carry no `desc-` for it,
  as one strategy is written per analysis. The GSR sensitivity analysis is reported in
  the analysis folder (`metrics.parquet`, `group/results_gsr_sensitivity.tsv`); its
  signals are not written here.
- Connectivity: {ESTIMATORS[config.estimator]}; the matrices hold {values}.

Per run, under `sub-<p>/[ses-<s>/]func/` (`<src>` is `sub-<p>[_ses-<s>]_task-<t>[_run-<r>]`):

- `<src>[_space-<S>]_seg-{seg}_stat-mean_timeseries.tsv`: cleaned region signals, one
  row per kept volume (censored volumes are left out, as XCP-D's linc mode does).
- `<src>[_space-<S>]_seg-{seg}_stat-{stat}_relmat.tsv`: the matrix (header `Node` and
  the region labels; read with `pandas.read_csv(path, sep="\\t", index_col=0)`).
- `<src>[_space-<S>]_seg-{seg}_stat-coverage_bold.tsv`: 1 when a region carried a
  signal in the run, 0 when it was left out (`n/a` in the files above).
- `<src>_motion.tsv`, `<src>_outliers.tsv` (`denoising`: the censoring used),
  `<src>[_space-<S>]_qc.tsv`.{maps}

Regions without a signal in a run are `n/a`. Files BIDS does not define yet are listed
in `.bidsignore`. `Authors` is left out of `dataset_description.json`: dmnpharm cannot
know who ran it; add yourselves before sharing. The analysis's tables, statistics and
report are in the folder two levels up (`../../`).
"""


def _atlas_table(atlas: Atlas) -> pd.DataFrame:
    values = atlas.label_values or tuple(range(1, atlas.n_regions + 1))
    table = pd.DataFrame(
        {
            "index": values,
            "name": atlas.labels,
            "label": atlas.labels,
            "network_label": atlas.source_networks,
            "network": atlas.networks,
        }
    )
    coords = np.asarray(atlas.coords, dtype=float).reshape(-1, 3)
    if np.isfinite(coords).any():  # tables read from XCP-D have none
        for axis, column in enumerate("xyz"):
            table[column] = coords[:, axis]
    if atlas.subsystems:
        table["subsystem"] = [s or "n/a" for s in atlas.subsystems]
    return table


def _image_name(atlas: Atlas, label: str) -> str:
    """``atlas-<A>_space-<S>_dseg`` + the image's own extension."""
    name = Path(atlas.image).name
    extension = next(
        (e for e in (".dlabel.nii", ".nii.gz", ".nii") if name.endswith(e)), Path(name).suffix
    )
    space = bids_label(atlas.space) if atlas.space else ""
    return f"atlas-{label}" + (f"_space-{space}" if space else "") + f"_dseg{extension}"


def _no_image(atlas: Atlas, kind: str, config: AnalysisConfig) -> str:
    if kind in _SERIES_INPUTS:
        return (
            "No labels image: the input was region time series (one column per region), "
            "so dmnpharm never read an image of this atlas."
        )
    return (
        f"No labels image: a coordinate atlas; each region is a sphere of "
        f"{config.radius_mm:g} mm around its x, y, z ({atlas.space} mm) drawn on each run's "
        "own voxel grid, so no single image describes it."
    )


def atlas_files(root: Path, atlas: Atlas, config: AnalysisConfig, kind: str) -> Path:
    """Write the atlas folder of the derivatives dataset, as XCP-D 0.10 lays it out.

    Parameters
    ----------
    root : Path
        The derivatives dataset.
    atlas : Atlas
        The study's atlas.
    config : AnalysisConfig
        The analysis (sphere radius).
    kind : str
        The input's kind (``bids``, ``roi``, ``table``, ``xcpd``): says why there is
        no image when there is none.

    Returns
    -------
    Path
        The written ``atlas-<A>_dseg.tsv``.
    """
    label = bids_label(atlas.name)
    folder = root / "atlases" / f"atlas-{label}"
    folder.mkdir(parents=True, exist_ok=True)
    description = {
        "Name": "Atlases used by dmnpharm",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "atlas",
    }
    _json(root / "atlases" / "dataset_description.json", description)
    sidecar: dict[str, Any] = {
        "Name": atlas.name,
        "Description": f"{atlas.n_regions} regions; network: dmnpharm's network code, "
        "network_label: the atlas authors' network name",
        "SpatialReference": atlas.space,
        "ReferencesAndLinks": [atlas.reference] if atlas.reference else [],
    }
    image = Path(atlas.image) if atlas.image else None
    if image is not None and image.is_file():
        copy = folder / _image_name(atlas, label)
        shutil.copyfile(image, copy)
        sidecar["Image"] = copy.name
    else:
        sidecar["Image"] = None
        sidecar["ImageAbsent"] = _no_image(atlas, kind, config)
    table = write_tsv(_atlas_table(atlas), folder / f"atlas-{label}_dseg.tsv")
    _json(table.with_suffix(".json"), sidecar)
    return table


def _json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
