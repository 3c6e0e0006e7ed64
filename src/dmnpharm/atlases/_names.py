"""Network names as atlases and labs write them, mapped onto the shared vocabulary.

A user's atlas table names its networks the way its authors did: "Default",
"DefaultMode", "Default mode", "DMN", "7Networks_7", "Cont", "Fronto-parietal
Task Control", ... :func:`standard_network` recognises the common spellings of
the parcellations users bring (Yeo 2011 7 and 17 networks and the Schaefer 2018
parcels built on them, Power 2011 / Seitzman 2020, Gordon 2016, Dosenbach 2010,
the Cole-Anticevic network partition, Glasser-based tables): a name is compared
after lower-casing and dropping spaces, hyphens, underscores and slashes.
Anything else needs an explicit mapping (a TSV of ``name`` and ``network``);
the error gives the closest known name. docs/atlases.md lists the table.
"""

from __future__ import annotations

import re

from dmnpharm.atlases._atlas import NETWORKS

__all__ = [
    "AMBIGUOUS_NETWORK_NAMES",
    "COMMON_NETWORK_NAMES",
    "normalise_network_name",
    "standard_network",
]

#: Names that stand for different networks in different parcellations: a table
#: using them needs an explicit mapping.
AMBIGUOUS_NETWORK_NAMES: dict[str, str] = {
    "ventralattention": "Power 2011 and Seitzman 2020 mean the ventral attention network "
    "(VAN); Yeo 2011's 7-network 'Ventral Attention' is the salience/ventral attention "
    "network (SN in this vocabulary)",
    "ventattn": "see 'ventralattention'",
}

#: Common network names (normalised: lower case, no spaces, hyphens, underscores
#: or slashes) and the vocabulary code each stands for.
COMMON_NETWORK_NAMES: dict[str, str] = {
    # default mode
    "default": "DMN",
    "defaultmode": "DMN",
    "defaultmodenetwork": "DMN",
    "dmn": "DMN",
    "dn": "DMN",
    "7networks7": "DMN",
    "defaulta": "DMN",
    "defaultb": "DMN",
    "defaultc": "DMN",
    # salience and ventral attention
    "salience": "SN",
    "sal": "SN",
    "salventattn": "SN",
    "salienceventralattention": "SN",
    "van": "VAN",
    "7networks4": "SN",
    # frontoparietal control
    "frontoparietal": "FPN",
    "frontoparietalcontrol": "FPN",
    "frontoparietaltaskcontrol": "FPN",
    "fpn": "FPN",
    "fpcn": "FPN",
    "cont": "FPN",
    "control": "FPN",
    "conta": "FPN",
    "contb": "FPN",
    "contc": "FPN",
    "7networks6": "FPN",
    # dorsal attention
    "dorsalattention": "DAN",
    "dorsattn": "DAN",
    "dan": "DAN",
    "dorsattna": "DAN",
    "dorsattnb": "DAN",
    "7networks3": "DAN",
    # cingulo-opercular
    "cingulooperc": "CON",
    "cingulooper": "CON",
    "cingulooperculartaskcontrol": "CON",
    "cinguloopercular": "CON",
    "con": "CON",
    # visual
    "visual": "VIS",
    "vis": "VIS",
    "visa": "VIS",
    "visb": "VIS",
    "viscent": "VIS",
    "visperi": "VIS",
    "occipital": "VIS",
    "7networks1": "VIS",
    # somatomotor
    "somatomotor": "SMN",
    "sommot": "SMN",
    "sommota": "SMN",
    "sommotb": "SMN",
    "sensorimotor": "SMN",
    "sensorysomatomotor": "SMN",
    "sensorysomatomotorhand": "SMN",
    "sensorysomatomotormouth": "SMN",
    "somatomotorhand": "SMN",
    "somatomotormouth": "SMN",
    "somatomotordorsal": "SMN",
    "somatomotorlateral": "SMN",
    "smhand": "SMN",
    "smmouth": "SMN",
    "smn": "SMN",
    "7networks2": "SMN",
    # auditory
    "auditory": "AUD",
    "aud": "AUD",
    # others
    "limbic": "LIM",
    "lim": "LIM",
    "limbica": "LIM",
    "limbicb": "LIM",
    "7networks5": "LIM",
    "medialtemporallobe": "MTL",
    "mtl": "MTL",
    "memoryretrieval": "PMN",
    "parietomedial": "PMN",
    "parietalmemory": "PMN",
    "reward": "REW",
    "subcortical": "SUB",
    "subcortex": "SUB",
    "unassigned": "NONE",
    "uncertain": "NONE",
    "none": "NONE",
    "other": "NONE",
    "cerebellum": "NONE",
    "cerebellar": "NONE",
}


def normalise_network_name(name: str) -> str:
    """Return a network name lower-cased, without spaces, hyphens, underscores or slashes.

    Parameters
    ----------
    name : str
        A network name from an atlas table.

    Returns
    -------
    str
        The key under which :data:`COMMON_NETWORK_NAMES` looks it up.

    Examples
    --------
    >>> normalise_network_name("Fronto-parietal Task Control")
    'frontoparietaltaskcontrol'
    """
    return re.sub(r"[\s\-_/]+", "", name.strip().lower())


def standard_network(name: str) -> str | None:
    """Return the vocabulary code a network name stands for, or None when unknown.

    Parameters
    ----------
    name : str
        A vocabulary code (``"DMN"``) or a common name (``"Default"``,
        ``"DorsAttn"``, ``"Cingulo-opercular Task Control"``).

    Returns
    -------
    str or None
        A code of :data:`~dmnpharm.atlases.NETWORKS`, or None.

    Examples
    --------
    >>> standard_network("Default mode"), standard_network("SalVentAttn")
    ('DMN', 'SN')
    >>> standard_network("Wernicke") is None
    True
    """
    if name in NETWORKS:
        return name
    return COMMON_NETWORK_NAMES.get(normalise_network_name(name))
