"""Network atlases: regions, coordinates or labels images, one network vocabulary.

Every atlas is an :class:`Atlas`: one label, one network code of
:data:`NETWORKS` and one position per region, and optionally a DMN subsystem
per region (:data:`SUBSYSTEMS`). The embedded atlases need no file and no
network access: Seitzman-300 and Dosenbach-160 are read from coordinate tables
that ship inside nilearn, the Andrews-Hanna (2010) DMN regions are written out
in the package. Schaefer 2018 (with or without the Tian subcortex) and Yeo 2011
are read from the folder named by ``DMNPHARM_ATLAS_DIR``. A user's own atlas
comes from a labels image and its table (:func:`labels_atlas`) or from a table
of region centres (:func:`coords_atlas`). docs/atlases.md lists every atlas and
how its network names map onto the vocabulary.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.atlases._atlas import NETWORKS, SUBSYSTEMS, Atlas
    from dmnpharm.atlases._cifti import dlabel_atlas, dlabel_parcels
    from dmnpharm.atlases._coords import coords_atlas
    from dmnpharm.atlases._embedded import ANDREWS_HANNA_RADIUS_MM
    from dmnpharm.atlases._files import atlas_from_file, read_network_map, regions_atlas
    from dmnpharm.atlases._labels import ATLAS_DIR_ENV, atlas_dir, labels_atlas
    from dmnpharm.atlases._names import COMMON_NETWORK_NAMES, standard_network
    from dmnpharm.atlases._overlap import MIN_OVERLAP, networks_by_overlap
    from dmnpharm.atlases._registry import (
        available_atlases,
        clear_atlas_cache,
        is_atlas_path,
        load_atlas,
    )
    from dmnpharm.atlases._schaefer import SCHAEFER_TO_SUBSYSTEM, SCHAEFER_TO_VOCAB, schaefer_atlas
    from dmnpharm.atlases._tian import TIAN_S1_LABELS, schaefer_tian_atlas
    from dmnpharm.atlases._yeo import (
        YEO7_NETWORKS,
        YEO7_TO_VOCAB,
        YEO17_NETWORKS,
        YEO17_TO_YEO7,
        yeo_atlas,
    )

__all__ = [
    "ANDREWS_HANNA_RADIUS_MM",
    "ATLAS_DIR_ENV",
    "COMMON_NETWORK_NAMES",
    "MIN_OVERLAP",
    "NETWORKS",
    "SCHAEFER_TO_SUBSYSTEM",
    "SCHAEFER_TO_VOCAB",
    "SUBSYSTEMS",
    "TIAN_S1_LABELS",
    "YEO7_NETWORKS",
    "YEO7_TO_VOCAB",
    "YEO17_NETWORKS",
    "YEO17_TO_YEO7",
    "Atlas",
    "atlas_dir",
    "atlas_from_file",
    "available_atlases",
    "clear_atlas_cache",
    "coords_atlas",
    "dlabel_atlas",
    "dlabel_parcels",
    "is_atlas_path",
    "labels_atlas",
    "load_atlas",
    "networks_by_overlap",
    "read_network_map",
    "regions_atlas",
    "schaefer_atlas",
    "schaefer_tian_atlas",
    "standard_network",
    "yeo_atlas",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
