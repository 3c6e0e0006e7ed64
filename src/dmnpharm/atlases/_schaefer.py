"""Schaefer 2018 parcellations (7 and 17 networks) from the atlas folder.

Schaefer 2018 parcel names read ``{7|17}Networks_{LH|RH}_{network}_...``; their
networks map onto :data:`NETWORKS` by :data:`SCHAEFER_TO_VOCAB`. The salience and
ventral attention networks are one network there (``SalVentAttn``) and map to SN.
The 17-network ``TempPar`` maps to DMN, as it belongs to the 7-network Default
network (Yeo et al. 2011). The 17-network Default A, B and C map to the DMN
subsystems core, dMPFC and MTL by :data:`SCHAEFER_TO_SUBSYSTEM`, an approximate
correspondence (see docs/atlases.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._labels import atlas_files, labels_atlas
from dmnpharm.exceptions import InputError

__all__ = ["SCHAEFER_TO_SUBSYSTEM", "SCHAEFER_TO_VOCAB", "schaefer_atlas"]

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

#: 17-network Default A/B/C (Schaefer 2018, Yeo 2011) as the closest Andrews-Hanna
#: (2010) DMN subsystem: an approximate correspondence, not an identity. Other
#: names (TempPar included) have no subsystem.
SCHAEFER_TO_SUBSYSTEM: dict[str, str] = {
    "DefaultA": "core",
    "DefaultB": "dmpfc",
    "DefaultC": "mtl",
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

SCHAEFER_REFERENCE = (
    "Schaefer A et al. (2018) Local-global parcellation of the human cerebral cortex from "
    "intrinsic functional connectivity MRI. Cereb Cortex 28:3095-3114"
)


def schaefer_networks(names: Sequence[str], n_networks: int, where: str) -> list[str]:
    """Return the network part of Schaefer parcel names, checking their form and network."""
    networks = []
    for i, name in enumerate(names):
        parts = name.split("_")
        if (
            len(parts) < 3
            or parts[0] != f"{n_networks}Networks"
            or parts[1] not in ("LH", "RH")
            or parts[2] not in SCHAEFER_TO_VOCAB
        ):
            raise InputError(
                f"{where}, parcel {i + 1}: {name!r} is not a Schaefer 2018 parcel name "
                f"'{n_networks}Networks_{{LH|RH}}_{{network}}_...' with a network of "
                f"SCHAEFER_TO_VOCAB ({', '.join(SCHAEFER_TO_VOCAB)})"
            )
        networks.append(parts[2])
    return networks


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
        :data:`SCHAEFER_TO_VOCAB`; with 17 networks, DMN subsystems by
        :data:`SCHAEFER_TO_SUBSYSTEM`.

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
    image, table_file = atlas_files(*_SCHAEFER_FILES[key])
    raw = pd.read_csv(table_file, sep="\t")
    names = [str(n) for n in raw["name" if "name" in raw else "label"]]
    source = schaefer_networks(names, n_networks, f"'{table_file}'")
    table = pd.DataFrame(
        {
            "index": raw["index"].astype(int),
            "name": names,
            "network": [SCHAEFER_TO_VOCAB[s] for s in source],
            "source_network": source,
        }
    )
    if n_networks == 17:
        table["subsystem"] = [SCHAEFER_TO_SUBSYSTEM.get(s, "") for s in source]
    return labels_atlas(
        f"schaefer{n_parcels}_{n_networks}", image, table, SCHAEFER_REFERENCE, "MNI152NLin6Asym"
    )
