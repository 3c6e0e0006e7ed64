"""Voxel-level maps (ALFF, fALFF, seed correlation) from the same read as the regions."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import get_logger
from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract._regions import sphere_members
from dmnpharm.extract._timeseries import Extraction, read_run
from dmnpharm.signal import (
    ALFF_BAND,
    CleanResult,
    DenoiseConfig,
    clean_run,
    low_frequency_amplitude,
    zscore_finite,
)

__all__ = ["VoxelMaps", "dmn_seeds", "extract_with_maps"]

_LOG = get_logger("extract")

#: Voxels cleaned together; bounds the float64 working memory (volumes x block).
_BLOCK_VOXELS = 8192
_R_CLIP = 1.0 - 1e-7

Array = npt.NDArray[np.float64]


def dmn_seeds() -> Atlas:
    """Return the two DMN hub seeds: posterior cingulate and anterior medial prefrontal.

    The centres are the midline-core hubs of Andrews-Hanna et al. 2010
    (Neuron 65:550-562, Table 1, MNI mm): PCC (-8, -56, 26) and aMPFC
    (-6, 52, -2). The paper drew 8 mm spheres around them; pass
    ``seed_radius_mm=8`` (the default of :func:`extract_with_maps`).

    Returns
    -------
    Atlas
        A coordinate atlas of two DMN regions, ``PCC`` and ``aMPFC``.
    """
    return Atlas(
        name="dmn_seeds",
        labels=("PCC", "aMPFC"),
        networks=("DMN", "DMN"),
        source_networks=("core", "core"),
        coords=((-8.0, -56.0, 26.0), (-6.0, 52.0, -2.0)),
        space="MNI152",
        reference="Andrews-Hanna JR et al. (2010) Neuron 65:550-562 (midline core hubs)",
    )


@dataclass(frozen=True, eq=False)
class VoxelMaps:
    """Voxel-level maps of one run, on the run's grid.

    Parameters
    ----------
    maps : dict of str to numpy.ndarray
        3D float32 maps by name (``alff``, ``falff``, ``zalff``, ``zfalff``,
        ``seed<label>``); NaN outside the mask and where undefined.
    affine : numpy.ndarray
        The data's 4x4 affine.
    record : dict
        JSON-ready provenance: cleaning, band, method, seeds, units per map.
    """

    maps: dict[str, npt.NDArray[np.float32]] = field(repr=False)
    affine: Array = field(repr=False)
    record: dict[str, Any] = field(repr=False)

    def image(self, name: str) -> nib.Nifti1Image:
        """Return one map as a NIfTI image.

        Parameters
        ----------
        name : str
            A key of :attr:`maps`.

        Returns
        -------
        nibabel.Nifti1Image
            The float32 map with the data's affine.
        """
        if name not in self.maps:
            raise KeyError(f"no map {name!r}; there are {', '.join(self.maps)}")
        image: nib.Nifti1Image = nib.Nifti1Image(  # type: ignore[no-untyped-call]
            self.maps[name], self.affine
        )
        return image

    def save(self, folder: str | os.PathLike[str], stem: str) -> dict[str, Path]:
        """Write every map as ``<stem>_stat-<name>_boldmap.nii.gz`` with a JSON sidecar.

        Parameters
        ----------
        folder : str or os.PathLike
            Where to write (created if needed).
        stem : str
            File name start, e.g. ``sub-01_ses-1_task-rest_space-MNI152NLin2009cAsym``.

        Returns
        -------
        dict of str to Path
            The image written for each map.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for name in self.maps:
            path = out / f"{stem}_stat-{name}_boldmap.nii.gz"
            nib.save(self.image(name), path)
            side = {**self.record, "map": name, **self.record["maps"][name]}
            side.pop("maps")
            path.with_name(path.name.replace(".nii.gz", ".json")).write_text(
                json.dumps(side, indent=2, sort_keys=True), encoding="utf-8"
            )
            written[name] = path
        return written


def _standardise(values: Array) -> Array:
    """Centre each column and scale it to unit norm (NaN for constant columns)."""
    centred = values - values.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled: Array = centred / np.where(norms > 0, norms, np.nan)
    return scaled


def _seed_series(
    seeds: Atlas,
    radius: float,
    voxels: npt.NDArray[np.float32],
    inside: npt.NDArray[np.bool_],
    affine: Array,
) -> tuple[Array, list[int]]:
    """Mean raw time series of each seed sphere's in-mask voxels."""
    flat = np.flatnonzero(inside.ravel(order="F"))
    members = sphere_members(seeds, radius, inside.shape, affine, inside)
    series = np.empty((voxels.shape[0], seeds.n_regions))
    counts = []
    for index, member in enumerate(members):
        if member.size == 0:
            raise InputError(
                f"seed {seeds.labels[index]!r} at {seeds.coords[index]} has no voxel inside "
                "the brain mask; check the seed's space and coordinates"
            )
        series[:, index] = voxels[:, np.searchsorted(flat, member)].astype(np.float64).mean(1)
        counts.append(int(member.size))
    return series, counts


def _to_volume(values: npt.ArrayLike, inside: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
    """Place per-voxel values, given in file (Fortran) order of the mask's voxels, in 3D."""
    volume = np.full(inside.shape, np.nan, dtype=np.float32, order="F")
    flat = volume.reshape(-1, order="F")  # a view: the array is Fortran-contiguous
    flat[np.flatnonzero(inside.ravel(order="F"))] = np.asarray(values, dtype=np.float32)
    return volume


@dataclass(frozen=True)
class _MapRequest:
    """The maps asked for: seeds (emptied without seed maps), sphere radius, ALFF band."""

    seeds: Atlas
    seed_radius_mm: float
    alff: bool
    band: tuple[float, float]


@dataclass(frozen=True, eq=False)
class _Cleaning:
    """One run's cleaning inputs, applied alike to any block of its signals."""

    confounds: pd.DataFrame
    repetition_time: float
    config: DenoiseConfig
    confounds_meta: dict[str, Any] | None

    def clean(self, values: Array, config: DenoiseConfig | None = None) -> CleanResult:
        """Clean ``values`` with the run's confounds and ``config`` (default: the run's)."""
        chosen = self.config if config is None else config
        return clean_run(values, self.confounds, self.repetition_time, chosen, self.confounds_meta)


@dataclass(frozen=True, eq=False)
class _SeedSignals:
    """The seeds used, their in-mask voxel counts and the cleaned probe signals."""

    seeds: Atlas
    voxels: list[int]
    cleaned: CleanResult


@dataclass(frozen=True, eq=False)
class _VoxelValues:
    """Per-voxel results of the block pass, in file order of the mask's voxels."""

    correlations: Array
    alff: Array
    falff: Array
    spectrum: dict[str, Any]


def _map_request(
    seeds: Atlas | None,
    *,
    seed_maps: bool,
    seed_radius_mm: float,
    alff: bool,
    band: tuple[float, float],
) -> _MapRequest:
    """Check the requested maps and settle the seeds (default: :func:`dmn_seeds`)."""
    if not (alff or seed_maps):
        raise InputError("no voxel map requested: set alff=True or seed_maps=True")
    seeds = dmn_seeds() if seeds is None else seeds
    if seeds.image:
        raise InputError("seeds must be a coordinate atlas (spheres around seed centres)")
    if not seed_maps:
        seeds = dataclasses.replace(
            seeds, labels=(), networks=(), source_networks=(), coords=(), subsystems=()
        )
    return _MapRequest(seeds=seeds, seed_radius_mm=seed_radius_mm, alff=alff, band=band)


def _seed_signals(
    request: _MapRequest,
    voxels: npt.NDArray[np.float32],
    inside: npt.NDArray[np.bool_],
    affine: Array,
    cleaning: _Cleaning,
) -> _SeedSignals:
    """Clean the mask's mean signal together with each seed's mean raw signal."""
    seed_raw, seed_voxels = _seed_series(
        request.seeds, request.seed_radius_mm, voxels, inside, affine
    )
    # The mask's mean signal rides along so the run's censoring is known without seeds.
    probe = np.column_stack([voxels.mean(axis=1, dtype=np.float64), seed_raw])
    return _SeedSignals(request.seeds, seed_voxels, cleaning.clean(probe))


def _voxel_pass(
    voxels: npt.NDArray[np.float32],
    signals: _SeedSignals,
    cleaning: _Cleaning,
    request: _MapRequest,
) -> _VoxelValues:
    """Clean the voxels a block at a time; correlate with the seeds, take ALFF/fALFF."""
    seed_unit = _standardise(signals.cleaned.data[:, 1:])
    config = cleaning.config
    unfiltered = dataclasses.replace(config, high_pass=None, low_pass=None)
    n_voxels = voxels.shape[1]
    correlations = np.empty((n_voxels, signals.seeds.n_regions))
    alff_values = np.empty(n_voxels)
    falff_values = np.empty(n_voxels)
    spectrum: dict[str, Any] = {}
    for start in range(0, n_voxels, _BLOCK_VOXELS):
        block = voxels[:, start : start + _BLOCK_VOXELS].astype(np.float64)
        cleaned = cleaning.clean(block).data
        with np.errstate(invalid="ignore"):
            correlations[start : start + block.shape[1]] = _standardise(cleaned).T @ seed_unit
        if request.alff:
            broad = cleaned if unfiltered == config else None
            if broad is None:
                broad = cleaning.clean(block, unfiltered).data
            amplitude = low_frequency_amplitude(
                broad, cleaning.repetition_time, band=request.band, kept=signals.cleaned.kept
            )
            alff_values[start : start + block.shape[1]] = amplitude.alff
            falff_values[start : start + block.shape[1]] = amplitude.falff
            spectrum = amplitude.record
    return _VoxelValues(correlations, alff_values, falff_values, spectrum)


def _map_volumes(
    values: _VoxelValues, seeds: Atlas, alff: bool, inside: npt.NDArray[np.bool_]
) -> tuple[dict[str, npt.NDArray[np.float32]], dict[str, dict[str, str]]]:
    """Place the per-voxel values in 3D maps, with each map's units."""
    maps: dict[str, npt.NDArray[np.float32]] = {}
    described: dict[str, dict[str, str]] = {}
    if alff:
        maps["alff"] = _to_volume(values.alff, inside)
        maps["falff"] = _to_volume(values.falff, inside)
        maps["zalff"] = _to_volume(zscore_finite(values.alff), inside)
        maps["zfalff"] = _to_volume(zscore_finite(values.falff), inside)
        described["alff"] = {"units": "image units (mean amplitude 2|X(f)|/n over the band)"}
        described["falff"] = {"units": "unitless, band amplitude / amplitude of all f > 0"}
        described["zalff"] = {"units": "z over the mask's voxels (ALFF - mean) / SD"}
        described["zfalff"] = {"units": "z over the mask's voxels (fALFF - mean) / SD"}
    z = np.arctanh(np.clip(values.correlations, -_R_CLIP, _R_CLIP))
    for index, label in enumerate(seeds.labels):
        key = "seed" + "".join(ch for ch in label if ch.isalnum())
        maps[key] = _to_volume(z[:, index], inside)
        described[key] = {
            "units": "Fisher z of the Pearson correlation with the seed's cleaned signal",
            "seed": label,
        }
    return maps, described


def _maps_record(
    request: _MapRequest,
    config: DenoiseConfig,
    signals: _SeedSignals,
    values: _VoxelValues,
    described: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """Return the maps' provenance, less the ``bold`` and ``mask`` paths."""
    seeds, correlations = signals.seeds, values.correlations
    undefined = int((~np.isfinite(correlations).all(axis=1)).sum()) if seeds.n_regions else 0
    return {
        "mask_voxels": correlations.shape[0],
        "cleaning": signals.cleaned.record["description"],
        "strategy": config.name,
        "n_kept": signals.cleaned.n_kept,
        "n_volumes": signals.cleaned.n_volumes,
        "seeds": {
            label: {
                "centre_mm": list(coords),
                "radius_mm": request.seed_radius_mm,
                "voxels": count,
            }
            for label, coords, count in zip(
                seeds.labels, seeds.coords, signals.voxels, strict=True
            )
        },
        "seed_reference": seeds.reference,
        "constant_voxels": undefined,
        "amplitude": (
            {**values.spectrum, "cleaning": "as the seed maps but without the band-pass filter"}
            if request.alff
            else None
        ),
        "read": "the same single pass as the region time series",
        "maps": described,
    }


def extract_with_maps(
    bold: str | os.PathLike[str],
    atlas: Atlas,
    mask: str | os.PathLike[str],
    confounds: pd.DataFrame,
    config: DenoiseConfig,
    *,
    seeds: Atlas | None = None,
    seed_maps: bool = True,
    seed_radius_mm: float = 8.0,
    alff: bool = True,
    band: tuple[float, float] = ALFF_BAND,
    confounds_meta: dict[str, Any] | None = None,
    radius_mm: float = 5.0,
    chunk_volumes: int | None = None,
    repetition_time: float | None = None,
) -> tuple[Extraction, VoxelMaps | None]:
    """Extract region time series and voxel-level maps from one read of a run.

    The image is streamed once (see :func:`extract_timeseries`); the
    in-mask voxels are held as float32 while it is read (memory: volumes x
    in-mask voxels x 4 bytes), then cleaned a block of voxels at a time with
    ``config`` and the run's confounds (:func:`dmnpharm.signal.clean_run`,
    the same cleaning as the regions get).

    * Seed maps: the Fisher z correlation of every voxel with each seed's
      mean cleaned signal (seed spheres of ``seed_radius_mm`` inside the
      mask; cleaning is linear, so the mean of cleaned voxels is the cleaned
      mean). Default seeds: :func:`dmn_seeds` (PCC and aMPFC).
    * ALFF and fALFF (:func:`dmnpharm.signal.low_frequency_amplitude`) on
      the voxels cleaned with the same strategy and censoring but *without*
      the band-pass filter (fALFF needs the whole spectrum); censored runs
      use the Lomb-Scargle spectrum. ``zalff``/``zfalff`` are standardised
      over the mask's voxels (Zang et al. 2007).

    Parameters
    ----------
    bold : str or os.PathLike
        4D ``.nii``/``.nii.gz`` preprocessed BOLD run.
    atlas : Atlas
        Regions for the time series.
    mask : str or os.PathLike
        Brain mask on the data grid (required: maps cover the mask).
    confounds : pandas.DataFrame
        The run's fMRIPrep confounds table.
    config : DenoiseConfig
        Cleaning strategy, censoring and filter.
    seeds : Atlas or None
        Coordinate atlas of seed centres (any number); None uses
        :func:`dmn_seeds`.
    seed_maps : bool
        Compute seed correlation maps.
    seed_radius_mm : float
        Seed sphere radius (Andrews-Hanna et al. used 8 mm).
    alff : bool
        Compute ALFF/fALFF maps.
    band : tuple of float
        ALFF band in Hz.
    confounds_meta : dict or None
        The confounds JSON (aCompCor metadata).
    radius_mm, chunk_volumes, repetition_time
        As for :func:`extract_timeseries`.

    Returns
    -------
    tuple
        The :class:`Extraction` (raw region means and mask coverage, as
        :func:`extract_timeseries` gives) and the :class:`VoxelMaps`, or
        None when cleaning excludes the run (too few volumes left; the
        reason is logged and recorded in ``extraction.record``).

    Raises
    ------
    InputError
        For the errors of :func:`extract_timeseries` and
        :func:`dmnpharm.signal.clean_run`, and for a seed with no voxel in
        the mask.
    """
    request = _map_request(
        seeds, seed_maps=seed_maps, seed_radius_mm=seed_radius_mm, alff=alff, band=band
    )
    extraction, voxels, inside = read_run(
        Path(bold),
        atlas,
        mask=Path(mask),
        radius_mm=radius_mm,
        chunk_volumes=chunk_volumes,
        repetition_time=repetition_time,
        keep_mask_voxels=True,
    )
    assert voxels is not None
    assert inside is not None
    cleaning = _Cleaning(confounds, extraction.repetition_time, config, confounds_meta)
    affine = np.asarray(extraction.record["data"]["affine"], dtype=np.float64)
    signals = _seed_signals(request, voxels, inside, affine, cleaning)
    if signals.cleaned.excluded:
        extraction.record["voxel_maps"] = {"excluded": signals.cleaned.reason}
        _LOG.info("no voxel maps for %s: %s", bold, signals.cleaned.reason)
        return extraction, None
    values = _voxel_pass(voxels, signals, cleaning, request)
    maps, described = _map_volumes(values, request.seeds, request.alff, inside)
    record: dict[str, Any] = {
        "bold": str(bold),
        "mask": str(mask),
        **_maps_record(request, config, signals, values, described),
    }
    extraction.record["voxel_maps"] = {k: v for k, v in record.items() if k != "maps"}
    if record["constant_voxels"]:
        _LOG.warning(
            "%d in-mask voxels of %s are constant; their maps are NaN",
            record["constant_voxels"],
            bold,
        )
    return extraction, VoxelMaps(maps=maps, affine=affine, record=record)
