"""Network atlases: regions, coordinates, and one network vocabulary.

The embedded atlases need no network access: they are read from coordinate
tables that ship inside nilearn.
"""

from dmnpharm.atlases._registry import (
    NETWORKS,
    Atlas,
    available_atlases,
    load_atlas,
)

__all__ = ["NETWORKS", "Atlas", "available_atlases", "load_atlas"]
