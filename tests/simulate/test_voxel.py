"""Tests of the voxel-level BOLD writer on fMRIPrep's 2 mm MNI grid."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest
from nilearn.maskers import NiftiLabelsMasker, NiftiSpheresMasker

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._voxel import (
    MNI_RES2_AFFINE,
    MNI_RES2_SHAPE,
    brain_mask,
    region_label_volume,
    write_bold_run,
    write_mask,
)

#: Unequal to every grid axis, so a time/space axis mix-up fails.
N_VOLUMES = 17
TR = 1.5
#: Unit-variance region signals and voxel noise SD 0.5: the smallest Seitzman
#: sphere has 43 voxels, so its averaged noise has SD <= 0.5 / sqrt(43) = 0.08
#: and the expected correlation is >= 0.99. Every region must exceed this:
MIN_CORRELATION = 0.95
NOISE_SD = 0.5

FloatArray = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def mask() -> npt.NDArray[np.bool_]:
    """Return the 2 mm MNI brain mask (computed once for the module)."""
    return brain_mask()


@pytest.fixture(scope="module")
def atlas() -> Atlas:
    """Return the Seitzman-300 atlas."""
    return load_atlas("seitzman300")


@pytest.fixture(scope="module")
def labels(atlas: Atlas, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """Return Seitzman-300 5 mm spheres as a label volume."""
    return region_label_volume(atlas, radius_mm=5.0, mask=mask)


def _signals(
    rng: np.random.Generator, n_volumes: int, n_regions: int
) -> tuple[FloatArray, FloatArray]:
    return rng.standard_normal((n_volumes, n_regions)), rng.standard_normal(n_volumes)


@pytest.fixture
def run(
    tmp_path: Path,
    rng: np.random.Generator,
    labels: npt.NDArray[np.int32],
    mask: npt.NDArray[np.bool_],
) -> tuple[Path, FloatArray]:
    """Write a 17-volume run; return its path and the region signals."""
    regions, glob = _signals(rng, N_VOLUMES, int(labels.max()))
    path = tmp_path / "sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz"
    write_bold_run(path, regions, glob, labels, mask, rng, NOISE_SD, TR)
    return path, regions


def _column_correlations(a: FloatArray, b: FloatArray) -> FloatArray:
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean(0)) / b.std(0)
    corr: FloatArray = (a * b).mean(0)
    return corr


def test_grid_constants() -> None:
    """The grid is fMRIPrep's MNI152NLin2009cAsym res-2 and cannot be changed."""
    assert MNI_RES2_SHAPE == (97, 115, 97)
    expected = np.diag([2.0, 2.0, 2.0, 1.0])
    expected[:3, 3] = (-96, -132, -78)
    np.testing.assert_array_equal(MNI_RES2_AFFINE, expected)
    with pytest.raises(ValueError, match="read-only"):
        MNI_RES2_AFFINE[0, 0] = 3.0


def test_brain_mask_is_a_fresh_plausible_copy(mask: npt.NDArray[np.bool_]) -> None:
    """The mask is boolean on the grid, brain-sized, and each call returns a copy."""
    assert mask.shape == MNI_RES2_SHAPE
    assert mask.dtype == np.bool_
    assert 200_000 < mask.sum() < 260_000  # about 1.9 litres of 8 mm^3 voxels
    other = brain_mask()
    other[:] = False
    assert brain_mask().sum() == mask.sum()


def test_region_labels_are_spheres_in_the_mask(
    atlas: Atlas, labels: npt.NDArray[np.int32], mask: npt.NDArray[np.bool_]
) -> None:
    """Every region has voxels, all within 5 mm of its centre and inside the mask."""
    assert labels.dtype == np.int32
    assert labels.shape == MNI_RES2_SHAPE
    assert not labels[~mask].any()
    counts = np.bincount(labels.ravel(), minlength=atlas.n_regions + 1)[1:]
    assert counts.size == atlas.n_regions
    assert counts.min() > 0
    ijk = np.argwhere(labels > 0)
    xyz = ijk @ MNI_RES2_AFFINE[:3, :3].T + MNI_RES2_AFFINE[:3, 3]
    centres = np.asarray(atlas.coords)[labels[tuple(ijk.T)] - 1]
    assert np.linalg.norm(xyz - centres, axis=1).max() <= 5.0


def _toy_atlas(coords: tuple[tuple[float, float, float], ...]) -> Atlas:
    n = len(coords)
    return Atlas(
        name="toy",
        labels=tuple(f"r{i}" for i in range(n)),
        networks=("DMN",) * n,
        source_networks=("x",) * n,
        coords=coords,
        space="MNI152",
        reference="none",
    )


def test_overlapping_spheres_go_to_the_nearest_centre(mask: npt.NDArray[np.bool_]) -> None:
    """Where two spheres overlap, each voxel is labelled with the nearer centre."""
    toy = _toy_atlas(((0.0, -20.0, 20.0), (6.0, -20.0, 20.0)))
    labels = region_label_volume(toy, radius_mm=5.0, mask=mask)
    ijk = np.argwhere(labels > 0)
    xyz = ijk @ MNI_RES2_AFFINE[:3, :3].T + MNI_RES2_AFFINE[:3, 3]
    dist = np.linalg.norm(xyz[:, None, :] - np.asarray(toy.coords)[None], axis=2)
    assert (dist.min(axis=1) <= 5.0).all()
    np.testing.assert_array_equal(labels[tuple(ijk.T)], dist.argmin(axis=1) + 1)
    assert ((dist <= 5.0).sum(axis=1) == 2).any()  # the overlap is not empty


def test_region_outside_the_mask_is_an_error(mask: npt.NDArray[np.bool_]) -> None:
    """A region with no voxel in the mask is named in the error."""
    toy = _toy_atlas(((0.0, -20.0, 20.0), (0.0, 0.0, 150.0)))
    with pytest.raises(InputError, match="'r1'"):
        region_label_volume(toy, radius_mm=5.0, mask=mask)
    with pytest.raises(InputError, match="radius_mm"):
        region_label_volume(toy, radius_mm=-1.0, mask=mask)


def test_written_run_header(run: tuple[Path, FloatArray]) -> None:
    """The run loads with the grid's shape and affine (MNI codes), TR, units and int16."""
    path, _ = run
    img = nib.load(path)
    assert isinstance(img, nib.Nifti1Image)
    assert img.shape == (*MNI_RES2_SHAPE, N_VOLUMES)
    np.testing.assert_array_equal(img.affine, MNI_RES2_AFFINE)
    assert img.header.get_zooms() == pytest.approx((2.0, 2.0, 2.0, TR))
    assert img.header.get_xyzt_units() == ("mm", "sec")
    assert img.get_data_dtype() == np.dtype("int16")
    for kind in ("qform", "sform"):
        affine, code = getattr(img.header, f"get_{kind}")(coded=True)
        assert code == 4
        np.testing.assert_array_equal(affine, MNI_RES2_AFFINE)
    with path.open("rb") as raw, gzip.open(raw) as stream:
        block = stream.read(352)
    nib.Nifti1Header(block[:348], check=True)  # raises on an invalid header
    assert block[348:] == b"\x00\x00\x00\x00"


def test_only_brain_voxels_are_nonzero(
    run: tuple[Path, FloatArray], mask: npt.NDArray[np.bool_]
) -> None:
    """Voxels outside the mask are 0 in every volume; voxels inside never are."""
    data = np.asarray(nib.load(run[0]).dataobj)
    assert not data[~mask].any()
    assert (data[mask] > 0).all()


def test_labels_masker_recovers_region_signals(
    run: tuple[Path, FloatArray], labels: npt.NDArray[np.int32]
) -> None:
    """The labels masker (nilearn) on the region labels returns the region signals."""
    path, regions = run
    masker = NiftiLabelsMasker(
        nib.Nifti1Image(labels, np.array(MNI_RES2_AFFINE)), standardize=None, strategy="mean"
    )
    extracted = masker.fit_transform(path)
    assert extracted.shape == regions.shape
    assert _column_correlations(extracted, regions).min() > MIN_CORRELATION


def test_spheres_masker_recovers_region_signals(
    run: tuple[Path, FloatArray],
    atlas: Atlas,
    labels: npt.NDArray[np.int32],
) -> None:
    """The spheres masker (nilearn, 5 mm) returns the signals of non-overlapping regions."""
    path, regions = run
    # Candidate voxels: those within 5 mm of some centre (the labelled ones), which
    # holds every sphere of the brain mask; nilearn's time grows with the mask size.
    near_a_centre = (labels > 0).astype(np.uint8)
    masker = NiftiSpheresMasker(
        atlas.coords,
        radius=5.0,
        mask_img=nib.Nifti1Image(near_a_centre, np.array(MNI_RES2_AFFINE)),
        allow_overlap=True,
        standardize=None,
    )
    extracted = masker.fit_transform(path)
    assert extracted.shape == regions.shape
    corr = _column_correlations(extracted, regions)
    # Spheres closer than 10 mm share voxels, which the labels split between them.
    centres = np.asarray(atlas.coords)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    alone = gaps.min(axis=1) >= 10.0
    assert alone.sum() > 250
    assert corr[alone].min() > MIN_CORRELATION
    assert np.median(corr) > MIN_CORRELATION
    data = nib.load(path).get_fdata(dtype=np.float32)
    for r in np.flatnonzero(alone)[:5]:
        np.testing.assert_allclose(extracted[:, r], data[labels == r + 1].mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_noise_free_values_are_exact(
    tmp_path: Path,
    rng: np.random.Generator,
    labels: npt.NDArray[np.int32],
    mask: npt.NDArray[np.bool_],
    dtype: str,
) -> None:
    """Without voxel noise, each voxel is baseline x (1 + 0.01 x its signal)."""
    regions, glob = _signals(rng, 5, int(labels.max()))
    path = write_bold_run(
        tmp_path / "run.nii.gz", regions, glob, labels, mask, rng, 0.0, TR, 800.0, dtype=dtype
    )
    img = nib.load(path)
    assert img.get_data_dtype() == np.dtype(dtype)
    data = img.get_fdata()
    table = np.column_stack([glob, regions])
    expected = 800.0 * (1.0 + 0.01 * table[:, labels[mask]]).T
    # int16 rounds to scl_slope (about 0.03 here), float32 to 1e-4.
    atol = 0.02 if dtype == "int16" else 1e-3
    np.testing.assert_allclose(data[mask], expected, atol=atol)


def test_same_seed_gives_same_bytes(
    tmp_path: Path, labels: npt.NDArray[np.int32], mask: npt.NDArray[np.bool_]
) -> None:
    """The gzip stream carries no time stamp or temporary name: same seed, same file."""
    regions, glob = _signals(np.random.default_rng(3), 3, int(labels.max()))
    paths = [tmp_path / f"{d}" / "run.nii.gz" for d in ("a", "b")]
    for path in paths:
        write_bold_run(path, regions, glob, labels, mask, np.random.default_rng(4), 1.0, TR)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "run.nii.gz", "run.nii.gz"]


def test_uncompressed_nii_matches_compressed(
    tmp_path: Path, labels: npt.NDArray[np.int32], mask: npt.NDArray[np.bool_]
) -> None:
    """A .nii path writes the same image, uncompressed (348 + 4 + data bytes)."""
    regions, glob = _signals(np.random.default_rng(5), 3, int(labels.max()))
    images = []
    for name in ("run.nii", "run.nii.gz"):
        path = tmp_path / name
        write_bold_run(path, regions, glob, labels, mask, np.random.default_rng(6), 1.0, TR)
        images.append(nib.load(path))
    assert (tmp_path / "run.nii").stat().st_size == 352 + 2 * mask.size * 3
    np.testing.assert_array_equal(images[0].get_fdata(), images[1].get_fdata())


def test_memory_does_not_grow_with_volumes(
    tmp_path: Path,
    rng: np.random.Generator,
    labels: npt.NDArray[np.int32],
    mask: npt.NDArray[np.bool_],
) -> None:
    """The traced peak for 40 volumes is under 1.5 times the peak for 10 volumes."""
    n_regions = int(labels.max())
    write_bold_run(
        tmp_path / "warm.nii.gz", *_signals(rng, 2, n_regions), labels, mask, rng, 1, TR
    )
    peaks = {}
    for n in (10, 40):
        regions, glob = _signals(rng, n, n_regions)
        tracemalloc.start()
        try:
            write_bold_run(tmp_path / f"{n}.nii.gz", regions, glob, labels, mask, rng, 1.0, TR)
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peaks[40] < 1.5 * peaks[10]
    # a whole 40-volume float32 run would be 40 x 4.3 MB
    assert peaks[40] < 40e6


def test_write_mask_round_trip(tmp_path: Path, mask: npt.NDArray[np.bool_]) -> None:
    """The mask file is uint8 on the grid and holds the mask."""
    path = write_mask(
        tmp_path / "sub-01_space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz", mask
    )
    img = nib.load(path)
    assert img.get_data_dtype() == np.dtype("uint8")
    np.testing.assert_array_equal(img.affine, MNI_RES2_AFFINE)
    np.testing.assert_array_equal(np.asarray(img.dataobj).astype(bool), mask)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"region_signals": np.zeros((N_VOLUMES, 299))}, "299 columns"),
        ({"region_signals": np.full((N_VOLUMES, 300), np.nan)}, "non-finite"),
        ({"global_signal": np.r_[np.inf, np.zeros(N_VOLUMES - 1)]}, "global_signal"),
        ({"global_signal": np.zeros(N_VOLUMES + 1)}, "global_signal"),
        ({"voxel_noise_sd": -1.0}, "voxel_noise_sd"),
        ({"repetition_time": 0.0}, "repetition_time"),
        ({"path": "run.nii.zip"}, "path"),
        ({"mask": np.ones((7, 8, 9), dtype=bool)}, "mask"),
        ({"dtype": "float64"}, "dtype"),
        ({"voxel_noise_sd": "loud"}, "voxel_noise_sd"),
        ({"labels_volume": np.ones(MNI_RES2_SHAPE, dtype=np.int32)}, "outside mask"),
    ],
)
def test_bad_input_is_an_input_error(
    tmp_path: Path,
    rng: np.random.Generator,
    labels: npt.NDArray[np.int32],
    mask: npt.NDArray[np.bool_],
    change: dict[str, Any],
    message: str,
) -> None:
    """Bad arguments raise InputError naming the problem, and no file is written."""
    regions, glob = _signals(rng, N_VOLUMES, int(labels.max()))
    kwargs: dict[str, Any] = {
        "path": "run.nii.gz",
        "region_signals": regions,
        "global_signal": glob,
        "labels_volume": labels,
        "mask": mask,
        "rng": rng,
        "voxel_noise_sd": 1.0,
        "repetition_time": TR,
    }
    kwargs.update(change)
    kwargs["path"] = tmp_path / str(kwargs["path"])
    with pytest.raises(InputError, match=message):
        write_bold_run(**kwargs)
    assert not any(tmp_path.iterdir())
