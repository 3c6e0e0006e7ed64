"""Network atlases: regions, coordinates or labels images, and one network vocabulary.

The embedded atlases need no network access: they are read from coordinate
tables that ship inside nilearn. Schaefer 2018 parcellations are read from the
folder named by ``DMNPHARM_ATLAS_DIR``; any labels image with a table of names
and networks can be used through :func:`labels_atlas`.
"""

from dmnpharm.atlases._labels import (
    ATLAS_DIR_ENV,
    SCHAEFER_TO_VOCAB,
    atlas_dir,
    labels_atlas,
    schaefer_atlas,
)
from dmnpharm.atlases._registry import (
    NETWORKS,
    Atlas,
    available_atlases,
    load_atlas,
)

__all__ = [
    "ATLAS_DIR_ENV",
    "NETWORKS",
    "SCHAEFER_TO_VOCAB",
    "Atlas",
    "atlas_dir",
    "available_atlases",
    "labels_atlas",
    "load_atlas",
    "schaefer_atlas",
]
