"""Atlases defined by a labels image: Schaefer 2018 parcellations and a user's own.

A labels image holds one integer per voxel (0: background); a table gives each
label value a name and a network. Region order is the table's order; the region
coordinates are the labels' centroids in mm.

Schaefer 2018 parcel names read ``{7|17}Networks_{LH|RH}_{network}_...``; their
networks map onto :data:`NETWORKS` by :data:`SCHAEFER_TO_VOCAB`. The salience and
ventral attention networks are one network there (``SalVentAttn``) and map to SN.
The 17-network ``TempPar`` maps to DMN, as it belongs to the 7-network Default
network (Yeo et al. 2011).
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from dmnpharm.atlases._registry import NETWORKS, Atlas
from dmnpharm.exceptions import InputError

__all__ = ["ATLAS_DIR_ENV", "SCHAEFER_TO_VOCAB", "atlas_dir", "labels_atlas", "schaefer_atlas"]

#: Environment variable naming the folder that holds atlas files.
ATLAS_DIR_ENV = "DMNPHARM_ATLAS_DIR"

#: Schaefer 2018 / Yeo 2011 network names (7 and 17 networks) in our vocabulary.
SCHAEFER_TO_VOCAB: dict[str, str] = {
    "Vis": "VIS",
    "VisCent": "VIS",
    "VisPeri": "VIS",
    "SomMot": "SMN",
    "SomMotA": "SMN",
    "SomMotB": "SMN",
    "DorsAttn": "DAN",
    "DorsAttnA": "DAN",
    "DorsAttnB": "DAN",
    "SalVentAttn": "SN",
    "SalVentAttnA": "SN",
    "SalVentAttnB": "SN",
    "Limbic": "LIM",
    "LimbicA": "LIM",
    "LimbicB": "LIM",
    "Cont": "FPN",
    "ContA": "FPN",
    "ContB": "FPN",
    "ContC": "FPN",
    "Default": "DMN",
    "DefaultA": "DMN",
    "DefaultB": "DMN",
    "DefaultC": "DMN",
    "TempPar": "DMN",
}

# Files of each Schaefer variant inside the atlas folder (the layout of
# ../shared/data/atlases; see its SOURCE.txt for where each file comes from).
_SCHAEFER_FILES: dict[tuple[int, int], tuple[str, str]] = {
    (100, 7): (
        "schaefer2018_labels_derived/_derived_Schaefer2018_100Parcels_7Networks_order_"
        "cortexonly_from_TianS1_MNI152NLin6Asym_2mm.nii.gz",
        "schaefer2018_labels_derived/Schaefer2018_100Parcels_7Networks_order_labels.tsv",
    ),
    **{
        (n, 7): (
            f"schaefer2018_7networks_neuroparc/Schaefer{n}_space-MNI152NLin6_res-2x2x2.nii.gz",
            f"schaefer2018_labels_derived/Schaefer2018_{n}Parcels_7Networks_order_labels.tsv",
        )
        for n in (200, 400)
    },
    **{
        (n, 17): (
            "schaefer2018_17networks_xcpd/tpl-MNI152NLin6Asym_atlas-Schaefer2018v0143_res-02_"
            f"desc-{n}Parcels17Networks_dseg.nii.gz",
            f"schaefer2018_17networks_xcpd/atlas-Schaefer2018v0143_desc-{n}Parcels17Networks_"
            "dseg.tsv",
        )
        for n in (100, 200, 400)
    },
}

_SCHAEFER_REFERENCE = (
    "Schaefer A et al. (2018) Local-global parcellation of the human cerebral cortex from "
    "intrinsic functional connectivity MRI. Cereb Cortex 28:3095-3114"
)


def atlas_dir() -> Path:
    """Return the atlas folder named by ``DMNPHARM_ATLAS_DIR``.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InputError
        If the variable is unset or names no folder.
    """
    value = os.environ.get(ATLAS_DIR_ENV, "")
    if not value:
        raise InputError(
            f"this atlas is read from files: set {ATLAS_DIR_ENV} to the folder holding them "
            "(laid out as ../shared/data/atlases, see docs) or use seitzman300/dosenbach160"
        )
    path = Path(value)
    if not path.is_dir():
        raise InputError(f"{ATLAS_DIR_ENV}={value!r} is not a folder")
    return path


def labels_atlas(
    name: str,
    image: str | Path,
    table: pd.DataFrame,
    reference: str = "",
    space: str = "MNI152NLin6Asym",
) -> Atlas:
    """Build an atlas from a labels image and a table of its labels.

    Parameters
    ----------
    name : str
        Atlas name.
    image : str or Path
        3D integer labels image (0 is background).
    table : pandas.DataFrame
        One row per region, in region order, with columns ``index`` (the label
        value), ``name`` and ``network`` (a code from :data:`NETWORKS`), and
        optionally ``source_network`` (the authors' network name).
    reference : str
        Citation.
    space : str
        Template space of the image.

    Returns
    -------
    Atlas
        Regions in table order; ``coords`` are label centroids in mm, and
        ``image``/``label_values`` point back to the image.

    Raises
    ------
    InputError
        If the image cannot be read, a label value has no row or a row no
        voxels, names repeat, or a network is not in the vocabulary.
    """
    path = Path(image)
    try:
        img = nib.load(path)
    except (OSError, nib.filebasedimages.ImageFileError) as exc:
        raise InputError(f"cannot read labels image '{path}': {exc}") from None
    if not isinstance(img, nib.spatialimages.SpatialImage):
        raise InputError(f"'{path}' is not a volume image")
    data = np.asarray(img.dataobj)
    if data.ndim != 3:
        raise InputError(f"labels image '{path}' must be 3D; it has shape {data.shape}")
    if not np.allclose(data, np.round(data)):
        raise InputError(f"labels image '{path}' holds non-integer values")
    values = np.round(data).astype(np.int64)
    for column in ("index", "name", "network"):
        if column not in table:
            raise InputError(f"the labels table of '{path}' has no {column!r} column")
    index = table["index"].astype(int).to_numpy()
    present = np.unique(values[values != 0])
    unnamed = np.setdiff1d(present, index)
    if unnamed.size:
        raise InputError(
            f"labels image '{path}' has label values without a row in the table: "
            f"{', '.join(map(str, unnamed[:10]))}"
        )
    empty = np.setdiff1d(index, present)
    if empty.size:
        raise InputError(
            f"the labels table of '{path}' names labels with no voxel in the image: "
            f"{', '.join(map(str, empty[:10]))}"
        )
    unknown = sorted(set(table["network"]) - set(NETWORKS))
    if unknown:
        raise InputError(f"labels table of '{path}': networks {unknown} are not in NETWORKS")
    ijk = np.argwhere(values != 0)
    which = values[values != 0]
    order = np.searchsorted(np.sort(present), which)
    sums = np.zeros((present.size, 3))
    np.add.at(sums, order, ijk)
    centroid_ijk = sums / np.bincount(order)[:, None]
    affine = np.asarray(img.affine, dtype=float)
    centroid_mm = centroid_ijk @ affine[:3, :3].T + affine[:3, 3]
    position = {int(v): i for i, v in enumerate(np.sort(present))}
    coords = tuple(tuple(float(c) for c in centroid_mm[position[int(v)]]) for v in index)
    source = table.get("source_network", table["network"]).astype(str)
    try:
        return Atlas(
            name=name,
            labels=tuple(table["name"].astype(str)),
            networks=tuple(table["network"].astype(str)),
            source_networks=tuple(source),
            coords=coords,  # type: ignore[arg-type]
            space=space,
            reference=reference,
            image=str(path),
            label_values=tuple(int(v) for v in index),
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def schaefer_atlas(n_parcels: int, n_networks: int) -> Atlas:
    """Load a Schaefer 2018 parcellation (2 mm, MNI152NLin6Asym) from the atlas folder.

    Parameters
    ----------
    n_parcels : int
        100, 200 or 400.
    n_networks : int
        7 or 17 (the parcels' network order and names).

    Returns
    -------
    Atlas
        Named ``schaefer{n_parcels}_{n_networks}``, networks mapped by
        :data:`SCHAEFER_TO_VOCAB`.

    Raises
    ------
    InputError
        If the variant is unknown or its files are missing.
    """
    key = (n_parcels, n_networks)
    if key not in _SCHAEFER_FILES:
        raise InputError(
            f"no Schaefer atlas with {n_parcels} parcels and {n_networks} networks; "
            f"available: {', '.join(f'{p}/{n}' for p, n in sorted(_SCHAEFER_FILES))}"
        )
    root = atlas_dir()
    image, table_file = (root / part for part in _SCHAEFER_FILES[key])
    for path in (image, table_file):
        if not path.is_file():
            raise InputError(f"Schaefer atlas file '{path}' is missing under {ATLAS_DIR_ENV}")
    raw = pd.read_csv(table_file, sep="\t")
    names = raw["name" if "name" in raw else "label"].astype(str)
    source = names.str.split("_").str[2]
    unknown = sorted(set(source) - set(SCHAEFER_TO_VOCAB))
    if unknown:
        raise InputError(f"'{table_file}': unknown Schaefer network names {unknown}")
    table = pd.DataFrame(
        {
            "index": raw["index"].astype(int),
            "name": names,
            "network": source.map(SCHAEFER_TO_VOCAB),
            "source_network": source,
        }
    )
    return labels_atlas(f"schaefer{n_parcels}_{n_networks}", image, table, _SCHAEFER_REFERENCE)
