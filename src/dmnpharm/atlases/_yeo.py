"""Yeo 2011 7- and 17-network parcellations (2 mm) from the atlas folder.

Each label value of the Yeo volumes is one whole network (both hemispheres),
numbered as in FreeSurfer's ``Yeo2011_{7,17}Networks`` colour tables. The
7 networks keep the names of Yeo et al. (2011); the 17 networks, which that paper
only numbers, take the names CBIG gives them in the Schaefer 2018 parcel names
(and so map by :data:`SCHAEFER_TO_VOCAB`). The label csv files next to the
neuroparc volumes are not read: their Yeo-17 names do not match the volume
(see docs/atlases.md); the value-to-name tables below are checked against the
Schaefer parcellations in the tests.
"""

from __future__ import annotations

import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._labels import atlas_files, labels_atlas
from dmnpharm.atlases._schaefer import SCHAEFER_TO_SUBSYSTEM
from dmnpharm.exceptions import InputError

__all__ = ["YEO7_NETWORKS", "YEO7_TO_VOCAB", "YEO17_NETWORKS", "YEO17_TO_YEO7", "yeo_atlas"]

#: Yeo 2011 7-network names, by label value 1-7.
YEO7_NETWORKS: tuple[str, ...] = (
    "Visual",
    "Somatomotor",
    "DorsalAttention",
    "VentralAttention",
    "Limbic",
    "Frontoparietal",
    "Default",
)

#: Yeo 2011 7-network names in our vocabulary (as :data:`SCHAEFER_TO_VOCAB` maps
#: Schaefer's names for the same networks: ventral attention is SN).
YEO7_TO_VOCAB: dict[str, str] = {
    "Visual": "VIS",
    "Somatomotor": "SMN",
    "DorsalAttention": "DAN",
    "VentralAttention": "SN",
    "Limbic": "LIM",
    "Frontoparietal": "FPN",
    "Default": "DMN",
}

#: Yeo 2011 17-network names (CBIG's, as in the Schaefer 2018 17-network parcel
#: names), by label value 1-17.
YEO17_NETWORKS: tuple[str, ...] = (
    "VisCent",
    "VisPeri",
    "SomMotA",
    "SomMotB",
    "DorsAttnA",
    "DorsAttnB",
    "SalVentAttnA",
    "SalVentAttnB",
    "LimbicA",
    "LimbicB",
    "ContC",
    "ContA",
    "ContB",
    "TempPar",
    "DefaultC",
    "DefaultA",
    "DefaultB",
)

#: The 7-network each of the 17 networks belongs to, by CBIG's naming (the
#: 17-network solution is not strictly nested in the 7-network one).
YEO17_TO_YEO7: dict[str, str] = {
    "VisCent": "Visual",
    "VisPeri": "Visual",
    "SomMotA": "Somatomotor",
    "SomMotB": "Somatomotor",
    "DorsAttnA": "DorsalAttention",
    "DorsAttnB": "DorsalAttention",
    "SalVentAttnA": "VentralAttention",
    "SalVentAttnB": "VentralAttention",
    "LimbicA": "Limbic",
    "LimbicB": "Limbic",
    "ContA": "Frontoparietal",
    "ContB": "Frontoparietal",
    "ContC": "Frontoparietal",
    "TempPar": "Default",
    "DefaultA": "Default",
    "DefaultB": "Default",
    "DefaultC": "Default",
}

_YEO_IMAGE = "yeo2011_neuroparc/Yeo-{n}_space-MNI152NLin6_res-2x2x2.nii.gz"

_YEO_REFERENCE = (
    "Yeo BTT et al. (2011) The organization of the human cerebral cortex estimated by "
    "intrinsic functional connectivity. J Neurophysiol 106:1125-1165"
)


def yeo_atlas(n_networks: int) -> Atlas:
    """Load the Yeo 2011 7- or 17-network parcellation (2 mm) from the atlas folder.

    Parameters
    ----------
    n_networks : int
        7 or 17.

    Returns
    -------
    Atlas
        Named ``yeo{n_networks}``, one region per network (labelled e.g.
        ``7Networks_7_Default``), ``coords`` the network's centroid (both
        hemispheres, so of little use as a sphere centre). Yeo-7 networks map
        by :data:`YEO7_TO_VOCAB`; Yeo-17 networks through
        :data:`YEO17_TO_YEO7`, with DMN subsystems by
        :data:`SCHAEFER_TO_SUBSYSTEM`.

    Raises
    ------
    InputError
        If ``n_networks`` is not 7 or 17 or the volume is missing.
    """
    if n_networks not in (7, 17):
        raise InputError(f"no Yeo 2011 atlas with {n_networks} networks; available: 7, 17")
    (image,) = atlas_files(_YEO_IMAGE.format(n=n_networks))
    source = list(YEO7_NETWORKS if n_networks == 7 else YEO17_NETWORKS)
    seven = source if n_networks == 7 else [YEO17_TO_YEO7[s] for s in source]
    table = pd.DataFrame(
        {
            "index": range(1, n_networks + 1),
            "name": [f"{n_networks}Networks_{v}_{s}" for v, s in enumerate(source, start=1)],
            "network": [YEO7_TO_VOCAB[s] for s in seven],
            "source_network": source,
        }
    )
    reference = _YEO_REFERENCE
    if n_networks == 17:
        table["subsystem"] = [SCHAEFER_TO_SUBSYSTEM.get(s, "") for s in source]
        reference += "; network names as in Schaefer A et al. (2018) Cereb Cortex 28:3095-3114"
    return labels_atlas(f"yeo{n_networks}", image, table, reference, "MNI152NLin6Asym")
