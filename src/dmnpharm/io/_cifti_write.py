"""Writers of CIFTI-2 files: parcellated derivatives and dense label files.

XCP-D writes ``.ptseries.nii`` and ``.pconn.nii`` beside its TSVs for CIFTI
runs; Connectome Workbench and nibabel read them with a parcels axis, so every
parcel carries its name and the surface vertices and voxels it covers. The
parcels axis comes from the atlas's dlabel
(:func:`dmnpharm.atlases.dlabel_parcels`); this module takes it as a plain
:class:`nibabel.cifti2.ParcelsAxis`, so it needs no atlas object.
:func:`write_dlabel` writes a ``.dlabel.nii`` from a key per grayordinate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
from nibabel.cifti2 import cifti2_axes
from nibabel.cifti2.cifti2_axes import BrainModelAxis, ParcelsAxis

from dmnpharm.exceptions import InputError
from dmnpharm.io._derivatives import _write_json

__all__ = ["write_dlabel", "write_pconn", "write_ptseries"]

# nibabel's CIFTI classes carry no annotations; strict mypy refuses untyped calls.
_AXES: Any = cifti2_axes
_IMAGE: Any = nib.Cifti2Image

#: NIfTI intent and an example name of each CIFTI file type, by file-name ending.
_INTENTS = {
    ".ptseries.nii": ("ConnParcelSries", "sub-01_task-rest_atlas-A_timeseries.ptseries.nii"),
    ".pconn.nii": ("ConnParcels", "sub-01_task-rest_atlas-A_stat-pearson_relmat.pconn.nii"),
    ".dlabel.nii": ("ConnDenseLabel", "atlas-A_dseg.dlabel.nii"),
}


def _destination(path: str | Path, ending: str) -> Path:
    dest = Path(path)
    if not dest.name.endswith(ending):
        raise InputError(
            f"this CIFTI file must end in {ending}; got '{dest}' (e.g. {_INTENTS[ending][1]})"
        )
    return dest


def _check_parcels(parcels: object) -> ParcelsAxis:
    if not isinstance(parcels, ParcelsAxis):
        raise InputError(
            f"parcels must be a nibabel.cifti2.ParcelsAxis (from "
            f"dmnpharm.atlases.dlabel_parcels); got {type(parcels).__name__}"
        )
    return parcels


def _save(dest: Path, data: npt.NDArray[Any], axes: tuple[Any, Any]) -> None:
    """Save a CIFTI-2 image with the intent its file ending names; appear only when complete."""
    image = _IMAGE(data, header=axes)
    intent = next(code for end, (code, _) in _INTENTS.items() if dest.name.endswith(end))
    image.nifti_header.set_intent(intent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".partial-{os.getpid()}-{dest.name}")
    try:
        nib.save(image, partial)
        partial.replace(dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _sidecar(dest: Path, ending: str, content: Mapping[str, Any] | None) -> None:
    if content is not None:
        _write_json(dest.with_name(dest.name.removesuffix(ending) + ".json"), content)


def write_ptseries(
    path: str | Path,
    timeseries: npt.ArrayLike,
    parcels: ParcelsAxis,
    repetition_time: float,
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write parcel time series as a CIFTI-2 parcellated time series (``.ptseries.nii``).

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.ptseries.nii``; written to a hidden sibling
        and renamed when complete.
    timeseries : array_like
        Volumes x parcels, in the order of ``parcels``; stored as float32.
        Non-finite values are written as they are.
    parcels : nibabel.cifti2.ParcelsAxis
        The parcels (names, vertices, voxels), e.g.
        ``dmnpharm.atlases.dlabel_parcels(atlas)``.
    repetition_time : float
        Seconds between volumes: the step of the series axis (unit SECOND,
        starting at 0).
    sidecar : mapping or None
        JSON sidecar content, written beside the file as ``<stem>.json``
        (``.ptseries.nii`` replaced); None writes none.

    Returns
    -------
    Path
        The written file. ``nibabel.load(path).header.get_axis(1)`` is the
        parcels axis, ``get_axis(0)`` the series axis.

    Raises
    ------
    InputError
        If the file name, the shape, ``parcels`` or ``repetition_time`` is not
        usable; nothing is written.
    """
    dest = _destination(path, ".ptseries.nii")
    axis = _check_parcels(parcels)
    values = np.asarray(timeseries, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(axis) or values.shape[0] < 1:
        raise InputError(
            f"timeseries for '{dest}' must be volumes x parcels ({len(axis)} parcels); "
            f"got shape {values.shape}"
        )
    try:
        step = float(repetition_time)
    except (TypeError, ValueError):
        step = math.nan
    if not (math.isfinite(step) and step > 0):
        raise InputError(f"repetition_time must be a finite number > 0; got {repetition_time!r}")
    series = _AXES.SeriesAxis(start=0.0, step=step, size=values.shape[0], unit="SECOND")
    _save(dest, values.astype(np.float32), (series, axis))
    _sidecar(dest, ".ptseries.nii", sidecar)
    return dest


def write_pconn(
    path: str | Path,
    matrix: npt.ArrayLike,
    parcels: ParcelsAxis,
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write a parcel x parcel matrix as a CIFTI-2 parcellated connectivity file (``.pconn.nii``).

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.pconn.nii``; written to a hidden sibling and
        renamed when complete.
    matrix : array_like
        Parcels x parcels (e.g. correlations or Fisher z), rows and columns in
        the order of ``parcels``; stored as float32. Non-finite values (an
        infinite diagonal) are written as they are.
    parcels : nibabel.cifti2.ParcelsAxis
        The parcels of both axes, e.g. ``dmnpharm.atlases.dlabel_parcels(atlas)``.
    sidecar : mapping or None
        JSON sidecar content, written beside the file as ``<stem>.json``
        (``.pconn.nii`` replaced); None writes none.

    Returns
    -------
    Path
        The written file; both of its axes are ``parcels``.

    Raises
    ------
    InputError
        If the file name, the shape or ``parcels`` is not usable; nothing is written.
    """
    dest = _destination(path, ".pconn.nii")
    axis = _check_parcels(parcels)
    values = np.asarray(matrix, dtype=np.float64)
    if values.shape != (len(axis), len(axis)):
        raise InputError(
            f"matrix for '{dest}' must be parcels x parcels ({len(axis)} x {len(axis)}); "
            f"got shape {values.shape}"
        )
    _save(dest, values.astype(np.float32), (axis, axis))
    _sidecar(dest, ".pconn.nii", sidecar)
    return dest


def write_dlabel(
    path: str | Path, brain_models: BrainModelAxis, keys: npt.ArrayLike, names: Mapping[int, str]
) -> Path:
    """Write a CIFTI-2 dense label file (``.dlabel.nii``) with one map.

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.dlabel.nii``; written to a hidden sibling and
        renamed when complete.
    brain_models : nibabel.cifti2.BrainModelAxis
        The grayordinates.
    keys : array_like
        Integer label key per grayordinate; 0 is unassigned.
    names : mapping of int to str
        Name of every nonzero key; the label table also holds 0 as ``"???"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        If the keys do not match the grayordinates or a key has no name.
    """
    dest = _destination(path, ".dlabel.nii")
    values = np.asarray(keys)
    if values.shape != (len(brain_models),) or not np.issubdtype(values.dtype, np.integer):
        raise InputError(
            f"keys must hold one integer per grayordinate ({len(brain_models)}); "
            f"got {values.dtype} of shape {values.shape}"
        )
    unnamed = sorted(set(np.unique(values).tolist()) - set(names) - {0})
    if unnamed:
        raise InputError(f"label keys {unnamed[:10]} have no name; give one in names")
    table: dict[int, tuple[str, tuple[float, float, float, float]]] = {0: ("???", (0, 0, 0, 0))}
    for key, name in names.items():
        colour = ((key * 67) % 256 / 255, (key * 151) % 256 / 255, (key * 199) % 256 / 255, 1.0)
        table[int(key)] = (str(name), colour)
    label = _AXES.LabelAxis([dest.name.split(".")[0]], [table])
    _save(dest, values[None, :].astype(np.int32), (label, brain_models))
    return dest
