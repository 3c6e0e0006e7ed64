"""Schaefer 2018 cortex (7 networks) with the Tian 2020 S1 subcortex, from the atlas folder.

The combined images hold the 16 Tian scale-1 structures as values 1-16 (right
hemisphere, then left) and the Schaefer parcels as 17..16+N, in Schaefer's
7-network order. The label files pair a name line with an ``index R G B A``
line. The 400-parcel label file in the folder is that of the scale-2 variant
(32 subcortical labels first, Schaefer parcels from 33): only its cortical names
are used, shifted onto the S1 image's values; the subcortical names are the S1
names below, which the 100 and 200 label files are checked against.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dmnpharm.atlases._atlas import Atlas
from dmnpharm.atlases._labels import atlas_files, labels_atlas
from dmnpharm.atlases._schaefer import SCHAEFER_REFERENCE, SCHAEFER_TO_VOCAB, schaefer_networks
from dmnpharm.exceptions import InputError

__all__ = ["TIAN_S1_LABELS", "schaefer_tian_atlas"]

#: Tian 2020 scale-1 subcortical structures, by label value 1-16 of the combined images.
TIAN_S1_LABELS: tuple[str, ...] = tuple(
    f"{structure}-{hemi}"
    for hemi in ("rh", "lh")
    for structure in ("HIP", "AMY", "pTHA", "aTHA", "NAc", "GP", "PUT", "CAU")
)

_FOLDER = "schaefer2018_tian_subcortex/Schaefer2018_{n}Parcels_7Networks_order_Tian_Subcortex_"

# Image, label file and the number of subcortical labels the label file lists first.
_TIAN_FILES: dict[int, tuple[str, str, int]] = {
    100: (_FOLDER + "S1_MNI152NLin6Asym_2mm.nii.gz", _FOLDER + "S1_label.txt", 16),
    200: (_FOLDER + "S1_MNI152NLin6Asym_2mm.nii.gz", _FOLDER + "S1_label.txt", 16),
    400: (_FOLDER + "S1_MNI152NLin6Asym_2mm.nii.gz", _FOLDER + "S2_label.txt", 32),
}

_TIAN_REFERENCE = (
    "Tian Y, Margulies DS, Breakspear M, Zalesky A (2020) Topographic organization of the "
    "human subcortex unveiled with functional connectivity gradients. Nat Neurosci "
    "23:1421-1432"
)


def read_tian_labels(path: Path) -> list[tuple[int, str]]:
    """Read a Tian label file: (label value, name) per name/``index R G B A`` line pair."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) % 2:
        raise InputError(
            f"'{path}' has an odd number of non-empty lines; a Tian label file pairs a name "
            "line with an 'index R G B A' line"
        )
    entries = []
    for number in range(0, len(lines), 2):
        fields = lines[number + 1].split()
        if len(fields) != 5 or not all(f.isdigit() for f in fields):
            raise InputError(
                f"'{path}' non-empty line {number + 2}: {lines[number + 1]!r} is not "
                "'index R G B A' after the name line"
            )
        entries.append((int(fields[0]), lines[number]))
    return entries


def _cortex_names(path: Path, n_parcels: int, n_subcortex: int) -> list[str]:
    """Cortical names of a label file, in value order, after checking its layout."""
    entries = read_tian_labels(path)
    subcortex = [name for _, name in entries if not name.startswith("7Networks_")]
    expected = list(range(1, n_subcortex + n_parcels + 1))
    if len(subcortex) != n_subcortex or [v for v, _ in entries] != expected:
        raise InputError(
            f"'{path}': expected {n_subcortex} subcortical labels, then {n_parcels} "
            f"Schaefer parcels, valued 1..{n_subcortex + n_parcels} in order; found "
            f"{len(subcortex)} subcortical of {len(entries)} labels"
        )
    if n_subcortex == len(TIAN_S1_LABELS) and tuple(subcortex) != TIAN_S1_LABELS:
        raise InputError(
            f"'{path}': the subcortical names {subcortex} are not the Tian S1 names "
            f"{list(TIAN_S1_LABELS)}"
        )
    return [name for _, name in entries[n_subcortex:]]


def schaefer_tian_atlas(n_parcels: int) -> Atlas:
    """Load Schaefer 2018 (7 networks) + Tian S1 subcortex (2 mm) from the atlas folder.

    Parameters
    ----------
    n_parcels : int
        Number of cortical parcels: 100, 200 or 400.

    Returns
    -------
    Atlas
        Named ``schaefer{n_parcels}_7_tian``, with ``16 + n_parcels`` regions:
        the Tian S1 structures first (network ``SUB``, labels
        :data:`TIAN_S1_LABELS`), then the Schaefer parcels in their 7-network
        order (networks by :data:`SCHAEFER_TO_VOCAB`). No DMN subsystems.

    Raises
    ------
    InputError
        If ``n_parcels`` is not offered, a file is missing, or a label file
        does not have the expected layout.
    """
    if n_parcels not in _TIAN_FILES:
        raise InputError(
            f"no Schaefer + Tian S1 atlas with {n_parcels} parcels; available: "
            f"{', '.join(map(str, sorted(_TIAN_FILES)))}"
        )
    image_part, labels_part, n_subcortex = _TIAN_FILES[n_parcels]
    image, label_file = atlas_files(
        image_part.format(n=n_parcels), labels_part.format(n=n_parcels)
    )
    cortex = _cortex_names(label_file, n_parcels, n_subcortex)
    source = schaefer_networks(cortex, 7, f"'{label_file}'")
    n_sub = len(TIAN_S1_LABELS)
    table = pd.DataFrame(
        {
            "index": range(1, n_sub + n_parcels + 1),
            "name": [*TIAN_S1_LABELS, *cortex],
            "network": ["SUB"] * n_sub + [SCHAEFER_TO_VOCAB[s] for s in source],
            "source_network": ["Subcortex"] * n_sub + source,
        }
    )
    return labels_atlas(
        f"schaefer{n_parcels}_7_tian",
        image,
        table,
        f"{SCHAEFER_REFERENCE}; {_TIAN_REFERENCE} (subcortex scale 1)",
        "MNI152NLin6Asym",
    )
