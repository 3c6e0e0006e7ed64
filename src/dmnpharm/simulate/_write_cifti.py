"""Write a simulated study on grayordinates, in the CIFTI-2 layout fMRIPrep writes.

A run is a dense time series (``.dtseries.nii``, volumes x grayordinates: surface
vertices and subcortical voxels). A grayordinate of region ``r`` carries ``r``'s
signal, an unassigned one the global signal, each with independent noise, so a
region's mean gives back its ROI-level signal. A study's grayordinates are few and
synthetic; :func:`fslr_brain_models` and :func:`synthetic_parcellation` give fsLR
91k-sized ones for benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd
from nibabel import cifti2
from nibabel.cifti2.cifti2_axes import BrainModelAxis

from dmnpharm._utils import fill_doc, staged_output_dir
from dmnpharm.atlases import NETWORKS, Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.io import bids_label, write_tsv
from dmnpharm.io._cifti_write import write_dlabel
from dmnpharm.simulate._study import SimulatedStudy
from dmnpharm.simulate._write import (
    json_file,
    write_fmriprep_description,
    write_raw_tables,
)
from dmnpharm.simulate._write_voxel import SIGNAL_FRACTION

__all__ = [
    "CIFTI_SPACE",
    "fslr_brain_models",
    "synthetic_parcellation",
    "write_cifti_study",
    "write_dtseries",
]

# nibabel's CIFTI classes carry no annotations; strict mypy refuses untyped calls.
_CIFTI: Any = cifti2

#: fMRIPrep space and density entities of the written grayordinate files.
CIFTI_SPACE = "space-fsLR_den-91k"

#: Vertices of each fsLR 32k surface, and the cortical vertices fsLR 91k keeps (no medial wall).
_FSLR_VERTICES = 32492
_FSLR_CORTEX = {"CIFTI_STRUCTURE_CORTEX_LEFT": 29696, "CIFTI_STRUCTURE_CORTEX_RIGHT": 29716}
#: Voxels per subcortical structure of fsLR 91k (31,870 in all), as in fMRIPrep's files.
# fmt: off
_FSLR_SUBCORTEX = {
    "ACCUMBENS_LEFT": 135, "ACCUMBENS_RIGHT": 140, "AMYGDALA_LEFT": 315, "AMYGDALA_RIGHT": 332,
    "BRAIN_STEM": 3472, "CAUDATE_LEFT": 728, "CAUDATE_RIGHT": 755, "CEREBELLUM_LEFT": 8709,
    "CEREBELLUM_RIGHT": 9144, "DIENCEPHALON_VENTRAL_LEFT": 706,
    "DIENCEPHALON_VENTRAL_RIGHT": 712, "HIPPOCAMPUS_LEFT": 764, "HIPPOCAMPUS_RIGHT": 795,
    "PALLIDUM_LEFT": 297, "PALLIDUM_RIGHT": 260, "PUTAMEN_LEFT": 1060, "PUTAMEN_RIGHT": 1010,
    "THALAMUS_LEFT": 1288, "THALAMUS_RIGHT": 1248,
}
# fmt: on
#: The 2 mm MNI152NLin6Asym grid of fsLR 91k's subcortical voxels.
_GRID_SHAPE = (91, 109, 91)
_GRID_AFFINE = np.array(
    [[-2.0, 0.0, 0.0, 90.0], [0.0, 2.0, 0.0, -126.0], [0.0, 0.0, 2.0, -72.0], [0, 0, 0, 1.0]]
)
#: Structure of the study regions placed in the volume.
_VOLUME_STRUCTURE = "CIFTI_STRUCTURE_OTHER_GREY_MATTER"
#: Stored bytes per block of grayordinates generated at once.
_BLOCK_BYTES = 16 << 20


def fslr_brain_models() -> BrainModelAxis:
    """Return a synthetic brain-model axis with the sizes of fMRIPrep's fsLR 91k.

    Returns
    -------
    nibabel.cifti2.BrainModelAxis
        91,282 grayordinates: 29,696 of the 32,492 left-surface vertices,
        29,716 of the right's (a block of vertex numbers left out as the
        medial wall), then the 19 subcortical structures with fsLR 91k's voxel
        counts (31,870 voxels) on the 2 mm MNI152NLin6Asym grid
        (91 x 109 x 91). The vertex and voxel positions are synthetic: only
        the sizes and structure names follow the real axis.
    """
    # The medial wall is the vertex numbers past each surface's count.
    vertices = [np.arange(count) for count in _FSLR_CORTEX.values()]
    centre = (np.array(_GRID_SHAPE) - 1) / 2.0
    ijk = np.indices(_GRID_SHAPE).reshape(3, -1).T
    nearest = np.argsort(np.linalg.norm(ijk - centre, axis=1), kind="stable")
    voxels = ijk[np.sort(nearest[: sum(_FSLR_SUBCORTEX.values())])]
    names = [f"CIFTI_STRUCTURE_{n}" for n in _FSLR_SUBCORTEX]
    counts = [*_FSLR_CORTEX.values(), *_FSLR_SUBCORTEX.values()]
    n_surface = sum(_FSLR_CORTEX.values())
    models: BrainModelAxis = _CIFTI.BrainModelAxis(
        name=np.repeat([*_FSLR_CORTEX, *names], counts),
        vertex=np.concatenate([*vertices, np.full(len(voxels), -1)]),
        voxel=np.concatenate([np.full((n_surface, 3), -1), voxels]),
        affine=_GRID_AFFINE,
        volume_shape=_GRID_SHAPE,
        nvertices=dict.fromkeys(_FSLR_CORTEX, _FSLR_VERTICES),
    )
    return models


def synthetic_parcellation(
    brain_models: BrainModelAxis, n_parcels: int, seed: int = 0
) -> npt.NDArray[np.int32]:
    """Divide every grayordinate of a brain-model axis among ``n_parcels`` parcels.

    Each structure gets parcels in proportion to its grayordinates (at least
    one); within a structure the grayordinates are shuffled and cut into
    parcels of near-equal size, so a parcel's grayordinates are scattered
    along the axis, as a real atlas's are in vertex order.

    Parameters
    ----------
    brain_models : nibabel.cifti2.BrainModelAxis
        The grayordinates, e.g. :func:`fslr_brain_models`.
    n_parcels : int
        Number of parcels, at least the number of structures.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    numpy.ndarray
        int32 key per grayordinate, ``1..n_parcels``.

    Raises
    ------
    InputError
        If ``n_parcels`` is outside 1 per structure .. 1 per grayordinate.
    """
    models: Any = brain_models
    parts = [part for _, part, _ in models.iter_structures()]
    total = len(brain_models)
    if not len(parts) <= n_parcels <= total:
        raise InputError(
            f"n_parcels must be from {len(parts)} (one per structure) to {total} (one per "
            f"grayordinate); got {n_parcels!r}"
        )
    sizes = np.array([len(range(total)[part]) for part in parts])
    share = np.maximum(1, np.floor(sizes / total * n_parcels)).astype(int)
    while share.sum() > n_parcels:
        share[np.argmax(share)] -= 1
    share[np.argmax(sizes / share)] += n_parcels - share.sum()
    rng = np.random.default_rng(seed)
    keys = np.zeros(total, dtype=np.int32)
    first = 1
    for part, n in zip(parts, share, strict=True):
        where = rng.permutation(np.arange(total)[part])
        for i, piece in enumerate(np.array_split(where, n)):
            keys[piece] = first + i
        first += n
    return keys


def _dtseries_header(brain_models: BrainModelAxis, n_volumes: int, step: float) -> Any:
    header: Any = nib.Nifti2Header(endianness="<")  # type: ignore[no-untyped-call]  # unannotated
    header.set_data_shape((1, 1, 1, 1, n_volumes, len(brain_models)))
    header.set_data_dtype(np.dtype("<f4"))
    header.set_intent("ConnDenseSeries")
    axes = (_CIFTI.SeriesAxis(start=0.0, step=step, size=n_volumes, unit="SECOND"), brain_models)
    xml = _CIFTI.Cifti2Header.from_axes(axes).to_xml()
    header.extensions.append(_CIFTI.Cifti2Extension.from_bytes(xml))
    return header


@fill_doc
def write_dtseries(
    path: str | Path,
    brain_models: BrainModelAxis,
    keys: npt.ArrayLike,
    region_signals: npt.ArrayLike,
    global_signal: npt.ArrayLike,
    rng: np.random.Generator,
    noise_sd: float,
    repetition_time: float,
    *,
    baseline: float | npt.ArrayLike = 1000.0,
    signal_fraction: float = SIGNAL_FRACTION,
) -> Path:
    """Write a simulated CIFTI-2 dense time series, a block of grayordinates at a time.

    Grayordinate ``g`` at volume ``t`` holds ``b_g * (1 + signal_fraction *
    (s_t + e_gt))`` as float32, where ``s_t`` is ``region_signals[t, k - 1]``
    for a grayordinate of key ``k > 0`` and ``global_signal[t]`` for key 0, and
    ``e_gt`` is independent Gaussian noise of SD ``noise_sd``. CIFTI-2 stores
    each grayordinate's series contiguously, so blocks of whole grayordinates
    are generated and written in turn: memory does not grow with the file.

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.dtseries.nii``; written to a hidden sibling
        and renamed when complete.
    brain_models : nibabel.cifti2.BrainModelAxis
        The grayordinates.
    keys : array_like
        Integer key per grayordinate: 0, or ``1..n_regions``.
    region_signals : array_like
        ``n_volumes x n_regions`` signals in units of ``signal_fraction``.
    global_signal : array_like
        ``n_volumes`` values for grayordinates of key 0.
    rng : numpy.random.Generator
        Source of the noise (float32 draws).
    noise_sd : float
        SD of the independent noise, in signal units.
    %(repetition_time)s
    baseline : float or array_like
        Intensity without signal: a positive number or one per grayordinate.
    signal_fraction : float
        Fraction of the baseline per signal unit (0.01: a 1 % BOLD change).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        On disagreeing shapes, a key out of range or a bad value; nothing is written.
    """
    dest = Path(path)
    if not dest.name.endswith(".dtseries.nii"):
        raise InputError(f"path must end in .dtseries.nii; got '{dest}'")
    regions = np.asarray(region_signals, dtype=np.float32)
    glob = np.asarray(global_signal, dtype=np.float32).reshape(-1)
    key = np.asarray(keys, dtype=np.int64)
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float32), key.shape)
    if regions.ndim != 2 or glob.shape != (regions.shape[0],) or key.shape != (len(brain_models),):
        raise InputError(
            f"need region_signals volumes x regions, global_signal per volume and one key per "
            f"grayordinate ({len(brain_models)}); got {regions.shape}, {glob.shape}, {key.shape}"
        )
    if key.min() < 0 or key.max() > regions.shape[1]:
        raise InputError(f"keys must be from 0 to {regions.shape[1]} (the regions)")
    scalars = np.array([noise_sd, repetition_time, signal_fraction], dtype=np.float64)
    finite = all(np.isfinite(a).all() for a in (regions, glob, base, scalars))
    if not (finite and base.min() > 0 and scalars[0] >= 0 and scalars[1:].min() > 0):
        raise InputError(
            "signals and baseline must be finite, baseline, repetition_time and "
            "signal_fraction > 0, noise_sd >= 0"
        )
    table = np.concatenate([glob[:, None], regions], axis=1).T  # row k: key k's signal
    header = _dtseries_header(brain_models, regions.shape[0], float(repetition_time))
    block = max(1, _BLOCK_BYTES // (4 * regions.shape[0]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".partial-{os.getpid()}-{dest.name}")
    try:
        with partial.open("wb") as stream:
            header.write_to(stream)
            stream.write(b"\x00" * (int(header["vox_offset"]) - stream.tell()))
            for start in range(0, key.size, block):
                part = slice(start, start + block)
                values = rng.standard_normal((key[part].size, regions.shape[0]), np.float32)
                values *= np.float32(noise_sd)
                values += table[key[part]]
                values *= np.float32(signal_fraction)
                values += np.float32(1.0)
                values *= base[part, None]
                stream.write(values.astype("<f4", copy=False).tobytes())
        partial.replace(dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


#: Grayordinates: brain models and the key (region + 1, or 0) of each.
_Space = tuple[BrainModelAxis, npt.NDArray[np.int32]]


def _surface(
    regions: npt.NDArray[np.intp], name: str, n_vertices: int, per: int, rng: np.random.Generator
) -> _Space:
    """Scatter ``per`` vertices of each region, and ``per`` unassigned ones, over one surface."""
    owners = np.concatenate([np.repeat(regions + 1, per), np.zeros(per, dtype=np.intp)])
    if owners.size > n_vertices:
        raise InputError(
            f"{name} needs {owners.size} vertices ({regions.size} regions x {per}, plus {per} "
            f"unassigned) but n_vertices is {n_vertices}; raise n_vertices or lower "
            "vertices_per_region"
        )
    vertices = np.sort(rng.choice(n_vertices, size=owners.size, replace=False))
    keys = rng.permutation(owners).astype(np.int32)
    return _CIFTI.BrainModelAxis.from_surface(vertices, n_vertices, name), keys


def _volume(atlas: Atlas, regions: npt.NDArray[np.intp], per: int) -> _Space:
    """Give each region the ``per`` free voxels nearest its coordinate on fsLR's 2 mm grid."""
    owner = np.zeros(_GRID_SHAPE, dtype=np.int32)
    inverse = np.linalg.inv(_GRID_AFFINE)
    offsets = np.indices((7, 7, 7)).reshape(3, -1).T - 3
    offsets = offsets[np.argsort(np.linalg.norm(offsets, axis=1), kind="stable")]
    for r in regions:
        xyz = np.asarray(atlas.coords[r], dtype=np.float64)
        if not np.isfinite(xyz).all():
            raise InputError(
                f"region {atlas.labels[r]!r} has no coordinate, so it cannot be placed in "
                "the volume; leave its network out of volume_networks"
            )
        centre = np.rint(inverse[:3, :3] @ xyz + inverse[:3, 3]).astype(int)
        candidates = np.clip(centre + offsets, 0, np.array(_GRID_SHAPE) - 1)
        free = [tuple(c) for c in candidates if owner[tuple(c)] == 0]
        for ijk in list(dict.fromkeys(free))[:per]:
            owner[ijk] = r + 1
    mask = owner > 0
    models = _CIFTI.BrainModelAxis.from_mask(mask, name=_VOLUME_STRUCTURE, affine=_GRID_AFFINE)
    keys = owner[tuple(np.asarray(models.voxel).T)].astype(np.int32)
    return models, keys


def _study_space(
    study: SimulatedStudy, n_vertices: int, per: tuple[int, int], volume_networks: tuple[str, ...]
) -> _Space:
    atlas = study.atlas
    rng = np.random.default_rng([study.spec.seed, 2])
    index = np.arange(atlas.n_regions)
    in_volume = np.isin(np.asarray(atlas.networks), volume_networks)
    left = np.array([x < 0 for x, _, _ in atlas.coords], dtype=bool)
    parts = [
        _surface(index[~in_volume & side], name, n_vertices, per[0], rng)
        for name, side in (
            ("CIFTI_STRUCTURE_CORTEX_LEFT", left),
            ("CIFTI_STRUCTURE_CORTEX_RIGHT", ~left),
        )
    ]
    if in_volume.any():
        parts.append(_volume(atlas, index[in_volume], per[1]))
    models: BrainModelAxis = sum((m for m, _ in parts[1:]), start=parts[0][0])
    return models, np.concatenate([keys for _, keys in parts])


def _atlas_table(atlas: Atlas) -> pd.DataFrame:
    columns: dict[str, Any] = {"index": np.arange(1, atlas.n_regions + 1), "name": atlas.labels}
    columns |= {"network": atlas.networks, "source_network": atlas.source_networks}
    if atlas.subsystems:
        columns["subsystem"] = atlas.subsystems
    return pd.DataFrame(columns)


@fill_doc
def write_cifti_study(
    study: SimulatedStudy,
    dest: str | Path,
    *,
    overwrite: bool = False,
    n_vertices: int = _FSLR_VERTICES,
    vertices_per_region: int = 6,
    voxels_per_region: int = 4,
    volume_networks: tuple[str, ...] = ("SUB",),
) -> Path:
    """Write a simulated study as raw BIDS tables plus fMRIPrep-style CIFTI-2 derivatives.

    Each region owns ``vertices_per_region`` vertices scattered over its
    hemisphere's surface (by the sign of its x coordinate) or, in
    ``volume_networks``, the ``voxels_per_region`` voxels nearest its
    coordinate on fsLR's 2 mm grid (structure ``OTHER_GREY_MATTER``); each
    surface also has ``vertices_per_region`` unassigned vertices carrying the
    global signal. A grayordinate carries its region's signal (BOLD +
    nuisance) plus independent noise sized so that the region mean carries
    about the ROI-level thermal noise, on a baseline drawn from 600 to 1000.
    Layout: ``participants.tsv``, ``sub-*/sub-*_sessions.tsv``,
    ``dataset_description.json``; under ``derivatives/fmriprep/sub-*/ses-*/func/``
    ``*_task-rest_space-fsLR_den-91k_bold.dtseries.nii`` with a JSON sidecar
    giving ``RepetitionTime``, and the confounds TSV and JSON; the atlas as
    ``atlas/atlas-<A>_dseg.dlabel.nii`` and ``atlas/atlas-<A>_dseg.tsv``
    (``index``, ``name``, ``network``, ``source_network``, and ``subsystem``
    when the atlas has them) for :func:`dmnpharm.atlases.dlabel_atlas`;
    ``ground_truth.json`` at the top.

    Parameters
    ----------
    %(simulated_study)s
    dest : str or Path
        Output folder, written atomically (staging folder, then rename).
    %(overwrite)s
    n_vertices : int
        Vertices of each surface mesh (fsLR 32k: 32,492); only the used ones
        are grayordinates.
    vertices_per_region : int
        Surface vertices of each cortical region.
    voxels_per_region : int
        Voxels of each region placed in the volume.
    volume_networks : tuple of str
        Network codes whose regions are subcortical voxels instead of vertices.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    InputError
        If a count is not a positive integer, a network not a code, a surface
        has fewer vertices than it needs, or a volume region has no coordinate.
    """
    counts = {"n_vertices": n_vertices, "vertices_per_region": vertices_per_region}
    for name, value in {**counts, "voxels_per_region": voxels_per_region}.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer; got {value!r}")
    if isinstance(cast(object, volume_networks), str) or set(volume_networks) - set(NETWORKS):
        raise InputError(
            f"volume_networks must be a tuple of codes of NETWORKS ({', '.join(NETWORKS)}); "
            f"got {volume_networks!r}"
        )
    per = (vertices_per_region, voxels_per_region)
    space = _study_space(study, n_vertices, per, tuple(volume_networks))
    with staged_output_dir(dest, overwrite=overwrite) as root:
        _write(study, root, space)
    return Path(dest)


def _write_frame(study: SimulatedStudy, root: Path) -> Path:
    """Write the raw tables and descriptions; return the fMRIPrep derivatives folder."""
    write_raw_tables(study, root, f"dmnpharm simulated study ({study.spec.name}, CIFTI)")
    fmriprep = root / "derivatives" / "fmriprep"
    write_fmriprep_description(
        fmriprep,
        study.ground_truth["dmnpharm_version"],
        "simulation in fMRIPrep's CIFTI-2 output layout",
        cifti=True,
    )
    return fmriprep


def _write(study: SimulatedStudy, root: Path, space: _Space) -> None:
    sig = study.spec.signal
    models, keys = space
    per_region = np.bincount(keys)[1:]
    fmriprep = _write_frame(study, root)
    atlas = study.atlas
    name = bids_label(atlas.name)
    dlabel = write_dlabel(
        root / "atlas" / f"atlas-{name}_dseg.dlabel.nii",
        models,
        keys,
        {i + 1: label for i, label in enumerate(atlas.labels)},
    )
    write_tsv(_atlas_table(atlas), root / "atlas" / f"atlas-{name}_dseg.tsv")
    noise = sig.thermal_noise_sd * float(np.sqrt(np.median(per_region)))
    rng = np.random.default_rng([study.spec.seed, 1])
    baseline = rng.uniform(600.0, 1000.0, size=keys.size).astype(np.float32)
    for run in study.runs:
        func = fmriprep / run.participant_id / run.session_id / "func"
        stem = f"{run.participant_id}_{run.session_id}_task-rest"
        bold = write_dtseries(
            func / f"{stem}_{CIFTI_SPACE}_bold.dtseries.nii",
            models,
            keys,
            run.signals.bold + run.signals.nuisance,
            run.signals.global_signal * sig.global_loading,
            rng,
            noise,
            sig.repetition_time,
            baseline=baseline,
        )
        json_file(
            bold.with_name(bold.name.replace(".dtseries.nii", ".json")),
            {
                "RepetitionTime": sig.repetition_time,
                "TaskName": "rest",
                "Density": "91k grayordinates (fsLR 32k surface vertices and 2 mm voxels), "
                "simulated",
                "Description": "simulated preprocessed BOLD grayordinate series",
            },
        )
        confounds = func / f"{stem}_desc-confounds_timeseries.tsv"
        write_tsv(run.signals.confounds.round(6), confounds)
        json_file(
            confounds.with_suffix(".json"),
            {"RepetitionTime": sig.repetition_time, **run.signals.confounds_meta},
        )
    truth = dict(study.ground_truth)
    names, counts = np.unique(np.asarray(models.name), return_counts=True)
    truth["cifti_layout"] = {
        "space": CIFTI_SPACE,
        "atlas_dlabel": dlabel.relative_to(root).as_posix(),
        "structures": {str(n): int(c) for n, c in zip(names, counts, strict=True)},
        "grayordinates_per_region": [int(c) for c in per_region],
        "grayordinate_noise_sd": noise,
        "signal_fraction": SIGNAL_FRACTION,
        "baseline": "uniform from 600 to 1000 per grayordinate",
        "intensity_model": "baseline_g * (1 + signal_fraction * (region signal + noise))",
    }
    json_file(root / "ground_truth.json", truth)
