"""Coordinate atlases that need no file and no network access.

Seitzman-300 and Dosenbach-160 are read from the coordinate tables that ship
inside nilearn; the Andrews-Hanna (2010) DMN regions are a published table,
written out below.

The tables are read from nilearn's data folder directly rather than through
``nilearn.datasets``, whose import (scikit-learn, requests, ...) costs about a
second: the columns used are those nilearn's ``fetch_coords_*`` functions
return, and a test checks the two agree. If the installed nilearn keeps its
tables elsewhere, its fetchers are used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.exceptions import InputError

__all__ = ["ANDREWS_HANNA_RADIUS_MM"]

# Seitzman et al. 2018 network names, as nilearn ships them, in our vocabulary.
_SEITZMAN_TO_VOCAB: dict[str, str] = {
    "DefaultMode": "DMN",
    "Salience": "SN",
    "FrontoParietal": "FPN",
    "DorsalAttention": "DAN",
    "VentralAttention": "VAN",
    "CinguloOpercular": "CON",
    "Visual": "VIS",
    "SomatomotorDorsal": "SMN",
    "SomatomotorLateral": "SMN",
    "Auditory": "AUD",
    "MedialTemporalLobe": "MTL",
    "ParietoMedial": "PMN",
    "Reward": "REW",
    "unassigned": "NONE",
}

# Dosenbach et al. 2010 network names, as nilearn ships them.
_DOSENBACH_TO_VOCAB: dict[str, str] = {
    "default": "DMN",
    "fronto-parietal": "FPN",
    "cingulo-opercular": "CON",
    "sensorimotor": "SMN",
    "occipital": "VIS",
    "cerebellum": "NONE",
}

#: Radius in mm of the spheres Andrews-Hanna et al. (2010) placed on their ROI centres.
ANDREWS_HANNA_RADIUS_MM = 8.0

# Andrews-Hanna JR et al. (2010) Neuron 65:550-562, the 11 default-network ROIs
# (left hemisphere and midline), MNI coordinates in mm: (label, subsystem, x, y, z).
# Subsystem names in the paper: midline core, dMPFC subsystem, MTL subsystem.
_ANDREWS_HANNA_ROIS: tuple[tuple[str, str, float, float, float], ...] = (
    ("aMPFC", "core", -6, 52, -2),
    ("PCC", "core", -8, -56, 26),
    ("dMPFC", "dmpfc", 0, 52, 26),
    ("TPJ", "dmpfc", -54, -54, 28),
    ("LTC", "dmpfc", -60, -24, -18),
    ("TempP", "dmpfc", -50, 14, -40),
    ("vMPFC", "mtl", 0, 26, -18),
    ("pIPL", "mtl", -44, -74, 32),
    ("Rsp", "mtl", -14, -52, 8),
    ("PHC", "mtl", -28, -40, -12),
    ("HF+", "mtl", -22, -20, -26),
)

# The paper's name of each subsystem, kept as the regions' source network.
_ANDREWS_HANNA_SOURCE: dict[str, str] = {
    "core": "midline core",
    "dmpfc": "dMPFC subsystem",
    "mtl": "MTL subsystem",
}


def _to_vocab(mapping: Mapping[str, str], names: Sequence[str], atlas: str) -> tuple[str, ...]:
    unknown = sorted(set(names) - set(mapping))
    if unknown:
        raise InputError(
            f"atlas {atlas!r}: network names {unknown} have no entry in its mapping "
            f"({', '.join(mapping)}); the installed nilearn may ship a changed table"
        )
    return tuple(mapping[n] for n in names)


def _nilearn_table(name: str) -> Path | None:
    """Return a table of nilearn's package data without importing ``nilearn.datasets``."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    return path if path.is_file() else None


def _seitzman_table() -> pd.DataFrame:
    """Seitzman-300 in file order: ``x``, ``y``, ``z``, ``network``."""
    path = _nilearn_table("seitzman_2018_ROIs_300inVol_MNI_allInfo.txt")
    if path is None:
        from nilearn.datasets import fetch_coords_seitzman_2018

        bunch = fetch_coords_seitzman_2018(ordered_regions=False)
        rois: pd.DataFrame = bunch["rois"]
        return rois.assign(network=bunch["networks"])
    return pd.read_csv(path, delimiter=" ").rename(columns={"netName": "network"})


def _dosenbach_table() -> pd.DataFrame:
    """Dosenbach-160 in file order: ``x``, ``y``, ``z``, ``network``, ``label``."""
    path = _nilearn_table("dosenbach_2010.csv")
    if path is None:
        from nilearn.datasets import fetch_coords_dosenbach_2010

        bunch = fetch_coords_dosenbach_2010(ordered_regions=False)
        rois: pd.DataFrame = bunch["rois"]
        return rois.assign(network=list(bunch["networks"]), label=bunch["labels"])
    table = pd.read_csv(path)
    return table.assign(
        label=[f"{n} {i}" for n, i in zip(table["name"], table["number"], strict=True)]
    )


def seitzman300() -> Atlas:
    """Seitzman et al. (2020) 300 regions, from the table shipped in nilearn."""
    rois = _seitzman_table()
    source = [str(n) for n in rois["network"]]
    labels = tuple(f"{net}_{i + 1:03d}" for i, net in enumerate(source))
    coords = tuple(
        (float(x), float(y), float(z)) for x, y, z in rois[["x", "y", "z"]].to_numpy(dtype=float)
    )
    return Atlas(
        name="seitzman300",
        labels=labels,
        networks=_to_vocab(_SEITZMAN_TO_VOCAB, source, "seitzman300"),
        source_networks=tuple(source),
        coords=coords,
        space="MNI152",
        reference=(
            "Seitzman BA et al. (2020) A set of functionally-defined brain regions with "
            "improved representation of the subcortex and cerebellum. NeuroImage 206:116290"
        ),
    )


def dosenbach160() -> Atlas:
    """Dosenbach et al. (2010) 160 regions, from the table shipped in nilearn."""
    rois = _dosenbach_table()
    source = [str(n) for n in rois["network"]]
    names = [str(n) for n in rois["label"]]
    labels = tuple(f"{name.replace(' ', '_')}_{i + 1:03d}" for i, name in enumerate(names))
    coords = tuple(
        (float(x), float(y), float(z)) for x, y, z in rois[["x", "y", "z"]].to_numpy(dtype=float)
    )
    return Atlas(
        name="dosenbach160",
        labels=labels,
        networks=_to_vocab(_DOSENBACH_TO_VOCAB, source, "dosenbach160"),
        source_networks=tuple(source),
        coords=coords,
        space="MNI152",
        reference=(
            "Dosenbach NUF et al. (2010) Prediction of individual brain maturity using "
            "fMRI. Science 329:1358-1361"
        ),
    )


def andrews_hanna() -> Atlas:
    """Andrews-Hanna et al. (2010) 11 DMN regions with their subsystems."""
    return Atlas(
        name="andrews_hanna",
        labels=tuple(roi[0] for roi in _ANDREWS_HANNA_ROIS),
        networks=("DMN",) * len(_ANDREWS_HANNA_ROIS),
        source_networks=tuple(_ANDREWS_HANNA_SOURCE[roi[1]] for roi in _ANDREWS_HANNA_ROIS),
        coords=tuple((float(x), float(y), float(z)) for _, _, x, y, z in _ANDREWS_HANNA_ROIS),
        space="MNI152",
        reference=(
            "Andrews-Hanna JR, Reidler JS, Sepulcre J, Poulin R, Buckner RL (2010) "
            "Functional-anatomic fractionation of the brain's default network. "
            "Neuron 65:550-562. ROI centres (left hemisphere and midline, MNI mm); "
            f"the paper used {ANDREWS_HANNA_RADIUS_MM:g}-mm-radius spheres"
        ),
        subsystems=tuple(roi[1] for roi in _ANDREWS_HANNA_ROIS),
    )
