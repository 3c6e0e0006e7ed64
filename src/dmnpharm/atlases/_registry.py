"""Atlas container, registry and the embedded coordinate atlases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import check_option

__all__ = ["NETWORKS", "Atlas", "available_atlases", "load_atlas"]

#: The shared network vocabulary, with a short description of each code.
NETWORKS: dict[str, str] = {
    "DMN": "default mode network",
    "SN": "salience network",
    "FPN": "frontoparietal control network",
    "DAN": "dorsal attention network",
    "VAN": "ventral attention network",
    "CON": "cingulo-opercular network",
    "VIS": "visual network",
    "SMN": "somatomotor network",
    "AUD": "auditory network",
    "MTL": "medial temporal lobe network",
    "PMN": "parietal memory network",
    "REW": "reward network",
    "LIM": "limbic network",
    "SUB": "subcortical regions",
    "NONE": "not assigned to a network",
}

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


@dataclass(frozen=True)
class Atlas:
    """A set of brain regions, each with a label, a network and a position.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"seitzman300"``.
    labels : tuple of str
        One unique label per region; these are the column names of region
        time-series files.
    networks : tuple of str
        Network code per region, from :data:`NETWORKS`.
    source_networks : tuple of str
        The network name per region as the atlas's authors gave it.
    coords : tuple of tuple of float
        MNI coordinates (x, y, z) in mm per region.
    space : str
        Template space of the coordinates.
    reference : str
        Citation of the atlas.
    image : str
        Path of the labels image for atlases defined by one ("" for
        coordinate atlases, whose regions are spheres around ``coords``).
    label_values : tuple of int
        The image's label value of each region (empty without an image).
    """

    name: str
    labels: tuple[str, ...]
    networks: tuple[str, ...]
    source_networks: tuple[str, ...]
    coords: tuple[tuple[float, float, float], ...]
    space: str
    reference: str
    image: str = ""
    label_values: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Check that every per-region field has one entry per region."""
        n = len(self.labels)
        for field in ("networks", "source_networks", "coords"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"atlas {self.name!r}: {field} has a length other than {n}")
        if len(set(self.labels)) != n:
            raise ValueError(f"atlas {self.name!r}: region labels are not unique")
        if bool(self.image) != bool(self.label_values) or (
            self.label_values and len(self.label_values) != n
        ):
            raise ValueError(f"atlas {self.name!r}: needs one label value per region of its image")
        unknown = sorted(set(self.networks) - set(NETWORKS))
        if unknown:
            raise ValueError(f"atlas {self.name!r}: networks {unknown} are not in NETWORKS")

    @cached_property
    def _network_array(self) -> npt.NDArray[np.str_]:
        return np.asarray(self.networks)

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.labels)

    def network_indices(self, network: str) -> npt.NDArray[np.intp]:
        """Return the column indices of the regions in one network.

        Parameters
        ----------
        network : str
            A code from :data:`NETWORKS`, e.g. ``"DMN"``.

        Returns
        -------
        numpy.ndarray
            Sorted integer indices; raises if the atlas has no such region.
        """
        check_option("network", network, NETWORKS)
        idx = np.flatnonzero(self._network_array == network)
        if idx.size == 0:
            present = sorted(set(self.networks))
            raise ValueError(
                f"atlas {self.name!r} has no region in network {network!r}; "
                f"it has {', '.join(present)}"
            )
        return idx


def _seitzman300() -> Atlas:
    from nilearn.datasets import fetch_coords_seitzman_2018

    bunch = fetch_coords_seitzman_2018(ordered_regions=False)
    rois = bunch["rois"]
    source = [str(n) for n in bunch["networks"]]
    labels = tuple(f"{net}_{i + 1:03d}" for i, net in enumerate(source))
    coords = tuple(
        (float(x), float(y), float(z)) for x, y, z in rois[["x", "y", "z"]].to_numpy(dtype=float)
    )
    return Atlas(
        name="seitzman300",
        labels=labels,
        networks=tuple(_SEITZMAN_TO_VOCAB[n] for n in source),
        source_networks=tuple(source),
        coords=coords,
        space="MNI152",
        reference=(
            "Seitzman BA et al. (2020) A set of functionally-defined brain regions with "
            "improved representation of the subcortex and cerebellum. NeuroImage 206:116290"
        ),
    )


def _dosenbach160() -> Atlas:
    from nilearn.datasets import fetch_coords_dosenbach_2010

    bunch = fetch_coords_dosenbach_2010(ordered_regions=False)
    rois = bunch["rois"]
    source = [str(n) for n in bunch["networks"]]
    names = [str(n) for n in bunch["labels"]]
    labels = tuple(f"{name.replace(' ', '_')}_{i + 1:03d}" for i, name in enumerate(names))
    coords = tuple(
        (float(x), float(y), float(z)) for x, y, z in rois[["x", "y", "z"]].to_numpy(dtype=float)
    )
    return Atlas(
        name="dosenbach160",
        labels=labels,
        networks=tuple(_DOSENBACH_TO_VOCAB[n] for n in source),
        source_networks=tuple(source),
        coords=coords,
        space="MNI152",
        reference=(
            "Dosenbach NUF et al. (2010) Prediction of individual brain maturity using "
            "fMRI. Science 329:1358-1361"
        ),
    )


def _schaefer(n_parcels: int, n_networks: int) -> Callable[[], Atlas]:
    def load() -> Atlas:
        from dmnpharm.atlases._labels import schaefer_atlas

        return schaefer_atlas(n_parcels, n_networks)

    return load


_REGISTRY: dict[str, Callable[[], Atlas]] = {
    "seitzman300": _seitzman300,
    "dosenbach160": _dosenbach160,
    **{
        f"schaefer{p}_{n}": _schaefer(p, n)
        for p, n in ((100, 7), (200, 7), (400, 7), (100, 17), (200, 17), (400, 17))
    },
}


def available_atlases() -> tuple[str, ...]:
    """Return the names accepted by :func:`load_atlas`.

    Returns
    -------
    tuple of str
        Registry names, sorted.
    """
    return tuple(sorted(_REGISTRY))


@cache
def load_atlas(name: str) -> Atlas:
    """Load an atlas by registry name.

    Parameters
    ----------
    name : str
        One of :func:`available_atlases`.

    Returns
    -------
    Atlas
        The atlas; loaded once per process and then reused.
    """
    check_option("atlas", name, _REGISTRY)
    return _REGISTRY[name]()
