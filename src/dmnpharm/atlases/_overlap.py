"""Networks for a parcellation without them: each parcel's share of a network atlas's voxels.

Parcellations such as Craddock's CC200, or a lab's own, come without network
labels; :func:`networks_by_overlap` gives each parcel the network of a
network atlas (Yeo 2011 7 networks, say) that holds most of its voxels, with
the share as evidence, as a table that
:func:`~dmnpharm.atlases.regions_atlas` (or, beside its image,
:func:`~dmnpharm.atlases.labels_atlas`) reads.

The rule, for a parcel of n voxels of which n_k lie in network k and n_0 in
no network: the parcel's network is the k with the largest n_k (ties go to
the lower network value), its ``overlap`` is n_k / n; the parcel is ``NONE``
when most of its voxels lie outside every network (n_0 > n / 2: subcortex,
cerebellum, white matter for a cortical network atlas) or when n_k / n is
below ``min_fraction`` (default :data:`MIN_OVERLAP`, 0.25: a parcel whose
best network holds under a quarter of it belongs to no network in
particular).

Which network image matters as much as the rule. The Yeo 2011 volumes come as
a thin cortical ribbon (``Yeo-7``, 65,984 voxels at 2 mm) and a "liberal"
mask that fills the cortical grey matter (``Yeo-7-liberal``, 131,918 voxels).
Parcels of a whole-brain volumetric parcellation reach into white matter: of
CC200's 200 parcels, 150 lie mostly outside the ribbon (153 ``NONE``, 19 DMN
parcels by this rule) but only 39 outside the liberal mask (39 ``NONE``, 40
DMN). Use the liberal mask for volumetric parcellations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases._labels import _centroids_mm, _read_labels
from dmnpharm.atlases._tables import Locator, map_networks
from dmnpharm.atlases._yeo import YEO7_TO_VOCAB
from dmnpharm.exceptions import InputError

__all__ = ["MIN_OVERLAP", "networks_by_overlap"]

#: Smallest share of a parcel's voxels its network must hold (else ``NONE``).
MIN_OVERLAP = 0.25

#: Output columns, in order.
COLUMNS = (
    "index",
    "label",
    "name",
    "network",
    "source_network",
    "overlap",
    "outside",
    "n_voxels",
    "x",
    "y",
    "z",
)


def _on_grid(
    values: npt.NDArray[np.int64],
    affine: npt.NDArray[np.float64],
    target_shape: tuple[int, ...],
    target_affine: npt.NDArray[np.float64],
    voxels: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Return the labels of ``values`` at the target grid's ``voxels`` (nearest neighbour)."""
    if values.shape == target_shape and np.allclose(affine, target_affine):
        return np.asarray(values[tuple(voxels.T)], dtype=np.int64)
    world = voxels @ target_affine[:3, :3].T + target_affine[:3, 3]
    ijk = np.rint((world - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T).astype(np.int64)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(values.shape)), axis=1)
    found = np.zeros(len(voxels), dtype=np.int64)
    found[inside] = values[tuple(ijk[inside].T)]
    return found


def _names_by_value(
    network_names: Sequence[str] | Mapping[int, str], present: npt.NDArray[np.int64], image: Path
) -> dict[int, str]:
    """Return each network value's name, checking every value of the image has one."""
    if isinstance(network_names, Mapping):
        # Value 0 is "no network" whatever a labels file calls it ("empty").
        names = {int(k): str(v) for k, v in network_names.items() if int(k) != 0}
    else:
        names = {i: str(name) for i, name in enumerate(network_names, start=1)}
    unnamed = sorted(set(present.tolist()) - set(names))
    if unnamed:
        raise InputError(
            f"network image '{image}' has value(s) {', '.join(map(str, unnamed[:10]))} without a "
            f"name in network_names (which names {', '.join(map(str, sorted(names)))}); give "
            "one name per network value (a sequence names values 1, 2, ...)"
        )
    return names


def _codes(names: dict[int, str], network_map: Mapping[str, str] | None) -> dict[int, str]:
    """Map each network name to a vocabulary code (mapping, then Yeo-7, then common names)."""
    mapping = {**YEO7_TO_VOCAB, **(network_map or {})}
    values = sorted(names)
    locate = Locator("network_names", tuple(f"value {v}" for v in values))
    codes = map_networks([names[v] for v in values], mapping, locate)
    return dict(zip(values, codes, strict=True))


def networks_by_overlap(
    labels_image: str | Path,
    network_image: str | Path,
    network_names: Sequence[str] | Mapping[int, str],
    *,
    min_fraction: float = MIN_OVERLAP,
    network_map: Mapping[str, str] | None = None,
    region_names: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    r"""Give each parcel of a labels image the network holding most of its voxels.

    The network image is put on the labels image's grid by nearest neighbour
    when the grids differ (each parcel voxel takes the network value at its
    position; outside the network image counts as no network). See the module
    docstring for the rule.

    Parameters
    ----------
    labels_image : str or Path
        3D integer labels image (0 = background), e.g. CC200.
    network_image : str or Path
        3D integer network image (0 = no network), e.g. Yeo 2011 7 networks.
    network_names : sequence of str or mapping of int to str
        The name of each network value: a sequence names values 1, 2, ...
        (e.g. :data:`~dmnpharm.atlases.YEO7_NETWORKS`), a mapping any values.
    min_fraction : float
        Smallest share of a parcel's voxels its network must hold; below it
        the parcel is ``NONE``. Between 0 and 1; default :data:`MIN_OVERLAP`.
    network_map : mapping of str to str, optional
        Network names mapped to codes of :data:`~dmnpharm.atlases.NETWORKS`.
        Names not in it are mapped through
        :data:`~dmnpharm.atlases.YEO7_TO_VOCAB`, then the common network
        names (``Default`` is ``DMN``); an unknown name is an error.
    region_names : mapping of int to str, optional
        Each parcel's label; by default its value as text (``"1"``, ``"2"``...).

    Returns
    -------
    pandas.DataFrame
        One row per parcel, by label value: ``index`` (the value), ``label``
        and ``name`` (the parcel's label, twice, so that both
        :func:`~dmnpharm.atlases.regions_atlas` and
        :func:`~dmnpharm.atlases.labels_atlas` read the table), ``network``
        (a code, ``NONE`` by the rule), ``source_network`` (the network
        atlas's name, ``""`` for ``NONE``), ``overlap`` (the share of the
        parcel's voxels in its best network, reported for ``NONE`` too),
        ``outside`` (the share in no network), ``n_voxels``, and ``x``,
        ``y``, ``z`` (the parcel's centroid in mm).

    Raises
    ------
    InputError
        An image cannot be read, is not 3D or holds non-integers, a network
        value has no name, a name maps to no code, or ``min_fraction`` is
        outside [0, 1].

    Examples
    --------
    >>> from dmnpharm.atlases import YEO7_NETWORKS  # doctest: +SKIP
    >>> cc200, yeo = "CPAC200.nii.gz", "Yeo-7-liberal.nii.gz"  # doctest: +SKIP
    >>> table = networks_by_overlap(cc200, yeo, YEO7_NETWORKS)  # doctest: +SKIP
    >>> table.to_csv("atlas-cc200_regions.tsv", sep="\t", index=False)  # doctest: +SKIP
    """
    if not 0.0 <= min_fraction <= 1.0:
        raise InputError(f"min_fraction must be between 0 and 1, got {min_fraction!r}")
    labels, affine = _read_labels(Path(labels_image))
    networks, network_affine = _read_labels(Path(network_image))
    names = _names_by_value(network_names, np.unique(networks[networks != 0]), Path(network_image))
    codes = _codes(names, network_map)
    voxels = np.argwhere(labels != 0)
    parcel = labels[tuple(voxels.T)]
    network = _on_grid(networks, network_affine, labels.shape, affine, voxels)
    values, row = np.unique(parcel, return_inverse=True)
    columns = np.searchsorted(np.asarray([0, *sorted(names)]), network)
    counts = np.zeros((values.size, len(names) + 1), dtype=np.int64)
    np.add.at(counts, (row, columns), 1)
    return _table(
        values, counts, sorted(names), names, codes, min_fraction, region_names, labels, affine
    )


def _table(
    values: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    network_values: list[int],
    names: dict[int, str],
    codes: dict[int, str],
    min_fraction: float,
    region_names: Mapping[int, str] | None,
    labels: npt.NDArray[np.int64],
    affine: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """Apply the rule to each parcel's voxel counts (column 0: outside every network)."""
    total = counts.sum(axis=1)
    best = np.argmax(counts[:, 1:], axis=1)  # first maximum: ties go to the lower value
    best_count = counts[np.arange(values.size), best + 1]
    overlap = best_count / total
    outside = counts[:, 0] / total
    none = (2 * counts[:, 0] > total) | (overlap < min_fraction) | (best_count == 0)
    given = region_names or {}
    label = [str(given.get(int(v), int(v))) for v in values]
    centroids = np.asarray(_centroids_mm(labels, affine, values.tolist()))
    best_value = [network_values[b] for b in best]
    return pd.DataFrame(
        {
            "index": values.astype(int),
            "label": label,
            "name": label,
            "network": ["NONE" if n else codes[v] for n, v in zip(none, best_value, strict=True)],
            "source_network": [
                "" if n else names[v] for n, v in zip(none, best_value, strict=True)
            ],
            "overlap": overlap,
            "outside": outside,
            "n_voxels": total.astype(int),
            "x": centroids[:, 0],
            "y": centroids[:, 1],
            "z": centroids[:, 2],
        },
        columns=list(COLUMNS),
    )
