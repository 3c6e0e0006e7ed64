"""Region coverage (XCP-D's stat-coverage_bold.tsv), checked against direct counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes
from nibabel.processing import resample_from_to

from dmnpharm.atlases import Atlas, dlabel_atlas
from dmnpharm.extract import (
    Extraction,
    extract_cifti_timeseries,
    extract_timeseries,
    extract_with_maps,
)
from dmnpharm.extract._regions import sphere_regions
from dmnpharm.signal import DenoiseConfig
from image_files import CIFTI_KEYS, cifti_models, save_nifti

SHAPE = (12, 10, 8)
N_VOLUMES = 40
TR = 2.0
#: Voxel centres at even mm: x = -12 + 2i, y = -10 + 2j, z = -8 + 2k.
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -12.0], [0.0, 2.0, 0.0, -10.0], [0.0, 0.0, 2.0, -8.0], [0, 0, 0, 1.0]]
)
IJK = np.indices(SHAPE)
#: The brain: x < 0 (i < 6) plus the top two slices (k >= 6).
INSIDE = (IJK[0] < 6) | (IJK[2] >= 6)
#: Seeds on voxel centres: one deep inside, one on the mask's edge, one in a corner of the
#: field of view, so each sphere is only what the distance rule gives.
SEEDS = ((-8.0, 0.0, 0.0), (0.0, 0.0, -2.0), (10.0, 8.0, 6.0))


def _atlas(n: int, **image: Any) -> Atlas:
    return Atlas(
        name="test",
        labels=tuple(f"r{i}" for i in range(n)),
        networks=("DMN",) * n,
        source_networks=("Default",) * n,
        coords=SEEDS[:n],
        space="MNI152",
        reference="",
        **image,
    )


def _save(path: Path, data: npt.ArrayLike, affine: npt.NDArray[np.float64] = AFFINE) -> Path:
    return save_nifti(path, data, affine, TR)


@pytest.fixture
def run(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """Write a small 4D run and its brain mask (INSIDE)."""
    data = (100.0 + rng.standard_normal((*SHAPE, N_VOLUMES))).astype(np.float32)
    bold = _save(tmp_path / "bold.nii.gz", data)
    mask = _save(tmp_path / "mask.nii.gz", INSIDE.astype(np.uint8))
    return bold, mask


def _labels_on_grid(rng: np.random.Generator) -> npt.NDArray[np.int16]:
    """Region 1 inside the mask, region 2 half outside (i 4..7), region 3 scattered."""
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[1:4, 2:5, 1:4] = 1
    labels[4:8, 5:8, 0:4] = 2
    scatter = (rng.random(SHAPE) < 0.15) & (labels == 0)
    labels[scatter] = 3
    return labels


def _direct(labels: npt.NDArray[np.integer], values: tuple[int, ...]) -> list[float]:
    return [float(((labels == v) & INSIDE).sum() / (labels == v).sum()) for v in values]


def test_labels_coverage_is_the_masked_fraction_of_each_region(
    tmp_path: Path, run: tuple[Path, Path], rng: np.random.Generator
) -> None:
    """Coverage = voxels in the mask / voxels of the region; 1 inside, 0.5 half outside."""
    bold, mask = run
    labels = _labels_on_grid(rng)
    image = _save(tmp_path / "labels.nii.gz", labels)
    ours = extract_timeseries(bold, _atlas(3, image=str(image), label_values=(1, 2, 3)), mask=mask)
    assert ours.coverage is not None
    assert ours.coverage == pytest.approx(_direct(labels, (1, 2, 3)), abs=0)
    assert ours.coverage[:2] == (1.0, 0.5)
    assert ours.n_voxels == tuple(int(((labels == v) & INSIDE).sum()) for v in (1, 2, 3))


def test_labels_on_another_grid_count_voxels_of_the_data_grid(
    tmp_path: Path, run: tuple[Path, Path], rng: np.random.Generator
) -> None:
    """A 1 mm labels image is counted after nearest-neighbour resampling to the data grid."""
    bold, mask = run
    fine = np.zeros((40, 36, 30), dtype=np.int16)
    fine[4:14, 10:20, 6:16] = 4
    fine[12:26, 14:24, 4:12] = 9
    fine[rng.random(fine.shape) < 0.05] = 6
    # 0.3 mm off the data grid's centres: no ties in the nearest neighbour; covers the grid.
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-14.3, -12.3, -10.3)
    image = _save(tmp_path / "labels_1mm.nii.gz", fine, affine)
    resampled = resample_from_to(nib.load(image), (SHAPE, AFFINE), order=0)
    on_grid = np.asarray(resampled.dataobj).astype(np.int64)
    atlas = _atlas(3, image=str(image), label_values=(4, 9, 6))
    ours = extract_timeseries(bold, atlas, mask=mask)
    assert ours.coverage == pytest.approx(_direct(on_grid, (4, 9, 6)), rel=1e-12)
    assert 0.0 < min(ours.coverage or ()) < 1.0


def _sphere(seed: tuple[float, float, float], radius: float) -> npt.NDArray[np.bool_]:
    mm = AFFINE[:3, :3] @ IJK.reshape(3, -1) + AFFINE[:3, 3:4]
    return (np.linalg.norm(mm - np.array(seed)[:, None], axis=0) <= radius).reshape(SHAPE)


@pytest.mark.parametrize("radius", [4.0, 6.0])
def test_sphere_coverage_counts_the_sphere_on_the_grid(
    run: tuple[Path, Path], radius: float
) -> None:
    """A sphere's coverage: its voxels in the mask over its voxels on the grid (edge cut)."""
    bold, mask = run
    ours = extract_timeseries(bold, _atlas(3), mask=mask, radius_mm=radius)
    spheres = [_sphere(seed, radius) for seed in SEEDS]
    expected = [float((s & INSIDE).sum() / s.sum()) for s in spheres]
    assert ours.coverage == pytest.approx(expected, rel=1e-12)
    assert ours.n_voxels == tuple(int((s & INSIDE).sum()) for s in spheres)
    assert ours.coverage is not None
    assert ours.coverage[0] == 1.0
    assert 0.0 < ours.coverage[1] < 1.0
    assert 0.0 < ours.coverage[2] < 1.0


def test_no_mask_no_coverage(
    tmp_path: Path, run: tuple[Path, Path], rng: np.random.Generator
) -> None:
    """Without a brain mask there is nothing to cover: coverage is None."""
    bold, _ = run
    image = _save(tmp_path / "labels.nii.gz", _labels_on_grid(rng))
    labels = _atlas(3, image=str(image), label_values=(1, 2, 3))
    assert extract_timeseries(bold, labels).coverage is None
    assert extract_timeseries(bold, _atlas(3)).coverage is None


def test_extract_with_maps_gives_the_same_coverage(
    run: tuple[Path, Path], rng: np.random.Generator
) -> None:
    """The maps' read returns the Extraction with its coverage too."""
    bold, mask = run
    motion = [f"{kind}_{axis}" for kind in ("trans", "rot") for axis in "xyz"]
    confounds = pd.DataFrame(0.1 * rng.standard_normal((N_VOLUMES, 6)), columns=motion)
    extraction, _ = extract_with_maps(
        bold,
        _atlas(3),
        mask,
        confounds,
        DenoiseConfig(strategy="6p"),
        seeds=_atlas(1),
        seed_radius_mm=4.0,
        alff=False,
        radius_mm=4.0,
    )
    reference = extract_timeseries(bold, _atlas(3), mask=mask, radius_mm=4.0)
    assert extraction.coverage == reference.coverage
    assert extraction.coverage is not None


def test_extraction_checks_the_coverage_length() -> None:
    """Old constructors still work (no coverage); a wrong length is refused."""
    series = np.zeros((5, 2))
    plain = Extraction(series, ("a", "b"), (1, 1), 2.0, {})
    assert plain.coverage is None
    with pytest.raises(ValueError, match="coverage"):
        Extraction(np.zeros((5, 2)), ("a", "b"), (1, 1), 2.0, {}, coverage=(1.0,))


# --- CIFTI: grayordinates whose series is finite and not constant --------------------------

#: 5 left vertices, 4 right vertices, 3 voxels; a key per grayordinate (0: none).
KEYS = CIFTI_KEYS
_models = cifti_models


def _cifti_atlas(folder: Path) -> Atlas:
    names = {0: ("???", (0.0, 0.0, 0.0, 0.0)), 3: ("a", (1.0, 0, 0, 1)), 7: ("b", (0, 1.0, 0, 1))}
    names[11] = ("c", (0.0, 0.0, 1.0, 1.0))
    label = cifti2_axes.LabelAxis(["parcellation"], [names])
    path = folder / "toy.dlabel.nii"
    nib.save(nib.Cifti2Image(KEYS[None, :].astype(np.int32), header=(label, _models())), path)
    table = pd.DataFrame(
        {"index": [11, 3, 7], "name": ["vis", "pcc", "thal"], "network": ["VIS", "DMN", "SUB"]}
    )
    return dlabel_atlas("toy", path, table)


@pytest.mark.parametrize("chunk", [None, 1, 5])
def test_cifti_coverage_counts_finite_varying_grayordinates(
    tmp_path: Path, rng: np.random.Generator, chunk: int | None
) -> None:
    """Constant, NaN and infinite grayordinates are uncovered; the rest covered."""
    data = rng.normal(100.0, 10.0, size=(N_VOLUMES, KEYS.size)).astype(np.float32)
    data[:, 0] = 7.0  # pcc: constant
    data[4, 2] = np.nan  # vis: one NaN volume
    data[:, 9] = np.inf  # thal: infinite throughout
    data[3, 10] = -np.inf  # thal: one infinite volume
    data[:, 3] = 0.0  # unassigned: constant, in no parcel
    data[:, 11] = 5.0  # pcc: equal first volumes, varies at the end
    data[-1, 11] = 6.0
    series = cifti2_axes.SeriesAxis(0.0, TR, N_VOLUMES, unit="SECOND")
    path = tmp_path / "run.dtseries.nii"
    nib.save(nib.Cifti2Image(data, header=(series, _models())), path)
    atlas = _cifti_atlas(tmp_path)
    ours = extract_cifti_timeseries(path, atlas, chunk_grayordinates=chunk)
    good = np.isfinite(data).all(axis=0) & (data.max(axis=0) > data.min(axis=0))
    expected = [float(good[key == KEYS].mean()) for key in atlas.label_values]
    assert ours.coverage == pytest.approx(expected, abs=1e-15)
    assert dict(zip(atlas.labels, ours.coverage or (), strict=True)) == pytest.approx(
        {"vis": 2 / 3, "pcc": 4 / 5, "thal": 0.0}
    )


def _old_sphere(
    seed: npt.NDArray[np.float64],
    radius: float,
    shape: tuple[int, int, int],
    affine: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_] | None,
) -> npt.NDArray[np.intp]:
    """Return a sphere by the rule as written before coverage (candidates filtered first)."""
    inverse = np.linalg.inv(affine)
    centre = inverse[:3, :3] @ seed + inverse[:3, 3]
    half = max(radius, 2.0 * np.sqrt(3.0)) * np.linalg.norm(inverse[:3, :3], axis=1) + 1.0
    lo = np.maximum(np.floor(centre - half), 0).astype(np.intp)
    hi = np.minimum(np.ceil(centre + half) + 1, shape).astype(np.intp)
    if np.any(hi <= lo):
        return np.empty(0, dtype=np.intp)
    grid = np.indices(tuple(hi - lo), dtype=np.intp).reshape(3, -1) + lo[:, None]
    if inside is not None:
        grid = grid[:, inside[grid[0], grid[1], grid[2]]]
    world = affine[:3, :3] @ grid + affine[:3, 3:4]
    member = ((world - seed[:, None]) ** 2).sum(axis=0) <= radius**2
    member |= np.all(grid == np.round(centre).astype(np.intp)[:, None], axis=0)
    hits = np.flatnonzero(
        np.all(world.astype(np.intp) == np.trunc(seed).astype(np.intp)[:, None], axis=0)
    )
    if hits.size:
        member[hits[0]] = True
    ijk = grid[:, member]
    flat: npt.NDArray[np.intp] = ijk[0] + shape[0] * (ijk[1] + shape[1] * ijk[2])
    return flat


@pytest.mark.parametrize("masked", [False, True])
def test_sphere_members_are_unchanged(rng: np.random.Generator, masked: bool) -> None:
    """Spheres drawn with their coverage keep the voxels (and order) of the old rule."""
    shape = (15, 13, 11)
    rotation = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.array([2.0, 2.5, 3.0])
    affine[:3, 3] = (-3.0, 4.0, -5.0)
    centre = affine[:3, :3] @ (np.array(shape) / 2) + affine[:3, 3]
    # Integer seeds too, so nilearn's truncation voxel is sometimes outside the distance.
    seeds = centre + rng.uniform(-25.0, 25.0, (40, 3))
    seeds[::3] = np.round(seeds[::3])
    inside = rng.random(shape) < 0.7 if masked else None
    atlas = Atlas(
        name="seeds",
        labels=tuple(f"s{i}" for i in range(len(seeds))),
        networks=("DMN",) * len(seeds),
        source_networks=("x",) * len(seeds),
        coords=tuple((float(x), float(y), float(z)) for x, y, z in seeds),
        space="MNI152",
        reference="",
    )
    for radius in (0.0, 1.5, 5.0):
        members, coverage = sphere_regions(atlas, radius, shape, affine, inside)
        for seed, found in zip(seeds, members, strict=True):
            np.testing.assert_array_equal(found, _old_sphere(seed, radius, shape, affine, inside))
        if inside is None:
            assert coverage is None
            continue
        assert coverage is not None
        whole = [_old_sphere(seed, radius, shape, affine, None) for seed in seeds]
        flat_inside = inside.ravel(order="F")
        expected = [float(flat_inside[w].mean()) if w.size else 0.0 for w in whole]
        assert coverage == pytest.approx(expected, rel=1e-12)
