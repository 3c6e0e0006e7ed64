"""Region time series and voxel-level maps from 4D BOLD images, read once as a stream.

:func:`extract_timeseries` averages the voxels of each atlas region (spheres
around coordinates, or the regions of a labels image resampled onto the data
grid by nearest neighbour) at every volume of a ``.nii``/``.nii.gz`` run. The
image is read front to back a chunk of volumes at a time, so memory does not
grow with the run's length, and the region means of a chunk come from one
sparse averaging matrix. The voxel selection matches nilearn's
``NiftiSpheresMasker`` (``allow_overlap=True``) and ``NiftiLabelsMasker``.

:func:`extract_with_maps` does the same and, from the same read, ALFF/fALFF
and seed correlation maps (default seeds: :func:`dmn_seeds`, PCC and aMPFC).
Each :class:`Extraction` carries each region's ``coverage`` (XCP-D's
``stat-coverage_bold.tsv``). :func:`carpet_sample` draws a sample of one run's
voxel signals, detrended, z-scored and grouped by network, for a carpet plot.
:func:`parcellate_image` averages a 3-D map (a PET receptor density) inside each region.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.extract._carpet import Carpet, carpet_sample
    from dmnpharm.extract._cifti import extract_cifti_timeseries
    from dmnpharm.extract._maps import VoxelMaps, dmn_seeds, extract_with_maps
    from dmnpharm.extract._parcellate import parcellate_image
    from dmnpharm.extract._timeseries import Extraction, extract_timeseries

__all__ = [
    "Carpet",
    "Extraction",
    "VoxelMaps",
    "carpet_sample",
    "dmn_seeds",
    "extract_cifti_timeseries",
    "extract_timeseries",
    "extract_with_maps",
    "parcellate_image",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
