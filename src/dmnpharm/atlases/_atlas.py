"""The atlas container, the network vocabulary and the DMN subsystem codes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import check_option, sha256_file

__all__ = ["NETWORKS", "SUBSYSTEMS", "Atlas"]

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

#: DMN subsystems of Andrews-Hanna et al. (2010), with a short description of each code.
SUBSYSTEMS: dict[str, str] = {
    "core": "midline core: posterior cingulate and anterior medial prefrontal cortex",
    "dmpfc": "dorsal medial prefrontal subsystem: dMPFC, temporoparietal junction, "
    "lateral temporal cortex, temporal pole",
    "mtl": "medial temporal lobe subsystem: ventral MPFC, posterior inferior parietal "
    "lobule, retrosplenial cortex, parahippocampal cortex, hippocampal formation",
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
    subsystems : tuple of str
        DMN subsystem per region: a code from :data:`SUBSYSTEMS`, or ``""``
        for a region in none. Empty when the atlas does not divide its DMN
        into subsystems; otherwise one entry per region, and only DMN regions
        may have a code.
    source : str
        The file a user's atlas was read from ("" for registered atlases).
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
    subsystems: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        """Check that every per-region field has one entry per region."""
        n = len(self.labels)
        for field in ("networks", "source_networks", "coords"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"atlas {self.name!r}: {field} has a length other than {n}")
        if len(set(self.labels)) != n:
            repeated = sorted({lab for lab in self.labels if self.labels.count(lab) > 1})
            raise ValueError(f"atlas {self.name!r}: region labels are not unique: {repeated[:5]}")
        if bool(self.image) != bool(self.label_values) or (
            self.label_values and len(self.label_values) != n
        ):
            raise ValueError(f"atlas {self.name!r}: needs one label value per region of its image")
        if len(set(self.label_values)) != len(self.label_values):
            raise ValueError(f"atlas {self.name!r}: label values are not unique")
        unknown = sorted(set(self.networks) - set(NETWORKS))
        if unknown:
            raise ValueError(
                f"atlas {self.name!r}: networks {unknown} are not in NETWORKS "
                f"({', '.join(NETWORKS)})"
            )
        self._check_subsystems()

    def _check_subsystems(self) -> None:
        if not self.subsystems:
            return
        if len(self.subsystems) != len(self.labels):
            raise ValueError(
                f"atlas {self.name!r}: subsystems must be empty or have one entry per "
                f"region ({len(self.labels)}); it has {len(self.subsystems)}"
            )
        unknown = sorted(set(self.subsystems) - set(SUBSYSTEMS) - {""})
        if unknown:
            raise ValueError(
                f"atlas {self.name!r}: subsystems {unknown} are not in SUBSYSTEMS "
                f"({', '.join(SUBSYSTEMS)}) or '' for none"
            )
        outside = [
            lab
            for lab, net, sub in zip(self.labels, self.networks, self.subsystems, strict=True)
            if sub and net != "DMN"
        ]
        if outside:
            raise ValueError(
                f"atlas {self.name!r}: regions outside the DMN have a DMN subsystem: {outside[:5]}"
            )

    @cached_property
    def _network_array(self) -> npt.NDArray[np.str_]:
        return np.asarray(self.networks)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the atlas's content: every region field and its image's bytes.

        Two atlases with the same fingerprint give the same numbers, whatever
        their files are called; a changed table or image gives another one.
        Cache keys and analysis ids of user atlases use it.

        Examples
        --------
        >>> from dmnpharm.atlases import load_atlas
        >>> len(load_atlas("andrews_hanna").fingerprint)
        64
        """
        content = {
            "labels": self.labels,
            "networks": self.networks,
            "coords": [[None if c != c else round(c, 6) for c in xyz] for xyz in self.coords],
            "label_values": self.label_values,
            "subsystems": self.subsystems,
            "image": sha256_file(Path(self.image)) if self.image else "",
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.labels)

    def subset(self, indices: npt.ArrayLike) -> Atlas:
        """Return the atlas restricted to some of its regions, in atlas order.

        Parameters
        ----------
        indices : array_like of int
            Region indices to keep (sorted and de-duplicated).

        Returns
        -------
        Atlas
            The same name, space and reference with only those regions; their
            labels, networks, coordinates, label values and subsystems.

        Examples
        --------
        >>> from dmnpharm.atlases import load_atlas
        >>> load_atlas("seitzman300").subset([0, 1, 2]).n_regions
        3
        """
        keep = [int(i) for i in np.unique(np.asarray(indices, dtype=np.intp))]
        if keep and not 0 <= keep[0] <= keep[-1] < self.n_regions:
            raise ValueError(
                f"atlas {self.name!r}: region indices outside 0..{self.n_regions - 1}"
            )

        def pick(values: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(values[i] for i in keep) if values else values

        return replace(
            self,
            labels=pick(self.labels),
            networks=pick(self.networks),
            source_networks=pick(self.source_networks),
            coords=pick(self.coords),
            label_values=pick(self.label_values),
            subsystems=pick(self.subsystems),
        )

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

    def subsystem_indices(self, subsystem: str) -> npt.NDArray[np.intp]:
        """Return the column indices of the regions in one DMN subsystem.

        Parameters
        ----------
        subsystem : str
            A code from :data:`SUBSYSTEMS`: ``"core"``, ``"dmpfc"`` or ``"mtl"``.

        Returns
        -------
        numpy.ndarray
            Sorted integer indices.

        Raises
        ------
        InputError
            If ``subsystem`` is not a code of :data:`SUBSYSTEMS`.
        ValueError
            If the atlas has no region in that subsystem; the message says
            which subsystems it has, if any.
        """
        check_option("subsystem", subsystem, SUBSYSTEMS)
        idx = np.flatnonzero(np.asarray(self.subsystems, dtype=str) == subsystem)
        if idx.size == 0:
            present = sorted(set(self.subsystems) - {""})
            has = (
                f"it has {', '.join(present)}"
                if present
                else "it assigns no region to a DMN subsystem (andrews_hanna, "
                "schaefer*_17 and yeo17 do)"
            )
            raise ValueError(
                f"atlas {self.name!r} has no region in subsystem {subsystem!r}; {has}"
            )
        return idx
