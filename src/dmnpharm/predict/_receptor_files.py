"""Receptor maps in the other forms users hold them: CIFTI pscalar, NIfTI volumes, any path.

:func:`load_receptors` is the one entry point of the command line: a
hansen_receptors folder, a regions x targets table, a ``.pscalar.nii`` with
one map per target, or a folder of NIfTI volumes (one per target, named
after it) parcellated with the study's atlas.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import parcellate_image
from dmnpharm.predict._receptors import (
    ReceptorMaps,
    _build,
    load_hansen2022,
    load_receptor_table,
)

__all__ = [
    "load_receptor_pscalar",
    "load_receptors",
    "parcellate_receptor_volumes",
    "with_atlas_coords",
]

_VOLUME = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)


def load_receptor_pscalar(path: str | Path, *, zscore: bool = True) -> ReceptorMaps:
    """Read receptor maps from a CIFTI pscalar: one map per target, parcels as regions.

    Parameters
    ----------
    path : str or Path
        A ``.pscalar.nii``; its map names are the targets, its parcel names the regions.
    zscore : bool
        Z-score each target over the regions.

    Returns
    -------
    ReceptorMaps
        Parcels x targets.

    Raises
    ------
    InputError
        For a file that is not a readable pscalar, or non-finite values.
    """
    import nibabel as nib
    from nibabel.cifti2.cifti2_axes import ParcelsAxis, ScalarAxis

    source = Path(path)
    if not source.is_file():
        raise InputError(f"receptor maps '{source}' do not exist")
    try:
        img: Any = nib.load(source)
        scalars, parcels = img.header.get_axis(0), img.header.get_axis(1)
        data = np.asarray(img.get_fdata(dtype=np.float64))
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise InputError(f"cannot read CIFTI pscalar '{source}': {exc}") from None
    if not isinstance(parcels, ParcelsAxis) or not isinstance(scalars, ScalarAxis):
        raise InputError(f"'{source}' is not a CIFTI pscalar (one map per target x parcels)")
    if not np.isfinite(data).all():
        raise InputError(f"'{source}' has non-finite values; fill or drop those parcels")
    return _build(
        [str(n) for n in parcels.name],
        [str(n) for n in scalars.name],
        data.T,
        zscore=zscore,
        source=str(source),
    )


def _target_name(path: Path) -> str:
    name = _VOLUME.sub("", path.name)
    found = re.search(r"(?:^|_)target-([A-Za-z0-9]+)", name)
    return found.group(1) if found else name


def parcellate_receptor_volumes(
    files: list[Path] | str | Path, atlas: Atlas, *, radius: float = 5.0, zscore: bool = True
) -> ReceptorMaps:
    """Parcellate NIfTI receptor volumes with a study's atlas.

    Parameters
    ----------
    files : list of Path, str or Path
        The volumes, or a folder of ``*.nii``/``*.nii.gz``. Each file is one
        target, named by a ``target-<name>`` entity or else the file name
        without its extension.
    atlas : Atlas
        The study's atlas, in the same space as the volumes.
    radius : float
        Sphere radius in mm for a coordinates atlas.
    zscore : bool
        Z-score each target over the regions.

    Returns
    -------
    ReceptorMaps
        Atlas regions x targets, with the atlas's coordinates.

    Raises
    ------
    InputError
        For an empty folder, repeated target names, or the errors of
        :func:`~dmnpharm.extract.parcellate_image`.
    """
    if isinstance(files, str | Path):
        folder = Path(files)
        paths = sorted(p for p in folder.iterdir() if _VOLUME.search(p.name))
        if not paths:
            raise InputError(f"'{folder}' holds no NIfTI receptor volume (*.nii, *.nii.gz)")
    else:
        paths = [Path(p) for p in files]
    targets = [_target_name(p) for p in paths]
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise InputError(f"receptor volumes repeat target(s) {', '.join(repeated)}")
    columns = [
        parcellate_image(p, atlas, radius=radius, what=f"{t} receptor map")
        for p, t in zip(paths, targets, strict=True)
    ]
    return _build(
        atlas.labels,
        targets,
        np.column_stack(columns),
        zscore=zscore,
        source=str(paths[0].parent),
        coords=np.asarray(atlas.coords, dtype=np.float64) if atlas.coords else None,
    )


def _hansen_parcels(atlas: Atlas | None) -> int:
    if atlas is not None:
        for n in (100, 200, 400):
            if atlas.n_regions == n or atlas.name.startswith(f"schaefer{n}"):
                return n
    raise InputError(
        "the hansen_receptors folder holds Schaefer 100/200/400 maps: analyse the study with "
        "--atlas schaefer100_7 (or 200/400), or give maps in the study's atlas as a table"
    )


def load_receptors(source: str | Path, atlas: Atlas | None = None) -> ReceptorMaps:
    """Read receptor maps from any form dmnpharm knows.

    Parameters
    ----------
    source : str or Path
        A hansen_receptors folder (``results/receptor_data_scale*.csv``), a
        folder of NIfTI volumes, a ``.pscalar.nii``, or a ``.tsv``/``.csv``
        table (first column ``region``, one column per target).
    atlas : Atlas or None
        The study's atlas: picks the Hansen parcellation and parcellates
        volumes. For Hansen maps the region labels are the atlas's when it
        is a Schaefer atlas of that size. Maps without centroids (a table, a
        pscalar) get the atlas's centroids when their regions are its regions.

    Returns
    -------
    ReceptorMaps
        Z-scored maps, regions x targets.

    Raises
    ------
    InputError
        For a path that is none of these, or the errors of the readers.
    """
    path = Path(source)
    if path.is_dir():
        if (path / "results").is_dir():
            parcels = _hansen_parcels(atlas)
            labels = atlas.labels if atlas is not None and atlas.n_regions == parcels else None
            return load_hansen2022(path, parcels, labels=labels)
        if atlas is None:
            raise InputError(f"receptor volumes in '{path}' need the study's atlas (--atlas)")
        return parcellate_receptor_volumes(path, atlas)
    if not path.is_file():
        raise InputError(f"receptor maps '{path}' do not exist")
    if _VOLUME.search(path.name) and not path.name.lower().endswith(".pscalar.nii"):
        if atlas is None:
            raise InputError(f"receptor volume '{path}' needs the study's atlas (--atlas)")
        return parcellate_receptor_volumes([path], atlas)
    if path.name.lower().endswith(".pscalar.nii"):
        maps = load_receptor_pscalar(path)
    else:
        maps = load_receptor_table(path)
    return with_atlas_coords(maps, atlas)


def with_atlas_coords(maps: ReceptorMaps, atlas: Atlas | None) -> ReceptorMaps:
    """Give maps without centroids the atlas's, when every map region is an atlas region.

    Parameters
    ----------
    maps : ReceptorMaps
        The maps.
    atlas : Atlas or None
        An atlas holding the maps' regions.

    Returns
    -------
    ReceptorMaps
        The maps with centroids, or unchanged when they have some already or
        the atlas does not hold every region.
    """
    if maps.coords is not None or atlas is None or not atlas.coords:
        return maps
    position = {x: i for i, x in enumerate(atlas.labels)}
    if not all(r in position for r in maps.regions):
        return maps
    coords = np.array([atlas.coords[position[r]] for r in maps.regions], dtype=np.float64)
    return replace(maps, coords=coords)
