"""Region time series streamed from 4D NIfTI images, checked against nilearn's maskers."""

from __future__ import annotations

import gzip
import itertools
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest
from nilearn.maskers import NiftiLabelsMasker, NiftiSpheresMasker

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import Extraction, extract_timeseries
from dmnpharm.simulate import brain_mask, region_label_volume, write_bold_run, write_mask

FloatArray = npt.NDArray[np.float64]

#: Unequal sizes, so that an axis mix-up fails.
SHAPE = (19, 23, 17)
N_VOLUMES = 29
TR = 1.5
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -18.0], [0.0, 2.0, 0.0, -22.0], [0.0, 0.0, 2.0, -16.0], [0, 0, 0, 1.0]]
)
#: Overlapping spheres, seeds off the grid's centres (rounding ties at (1, 1, 1)),
#: one sphere cut by the edge of the field of view.
SEEDS = (
    (0.0, 0.0, 0.0),
    (3.3, -4.7, 5.1),
    (-10.0, 10.0, -8.0),
    (17.9, 21.0, 15.5),
    (1.0, 1.0, 1.0),
    (2.0, 2.0, 2.0),
    (-7.2, -13.9, 3.6),
)
LABEL_VALUES = (1, 2, 3, 5, 7, 8)


def _atlas(coords: tuple[tuple[float, float, float], ...], **image: Any) -> Atlas:
    n = len(coords)
    return Atlas(
        name="test",
        labels=tuple(f"region_{i + 1:02d}" for i in range(n)),
        networks=("DMN",) * n,
        source_networks=("Default",) * n,
        coords=coords,
        space="MNI152",
        reference="",
        **image,
    )


def _labels_atlas(image: Path, values: tuple[int, ...] = LABEL_VALUES) -> Atlas:
    return _atlas(((0.0, 0.0, 0.0),) * len(values), image=str(image), label_values=values)


def _data(rng: np.random.Generator, n_volumes: int = N_VOLUMES) -> FloatArray:
    """Voxel values near 100 with a slow shared signal, so correlations are meaningful."""
    signal = np.sin(np.linspace(0.0, 6.0, n_volumes))
    return 100.0 + 5.0 * signal + 10.0 * rng.standard_normal((*SHAPE, n_volumes))


def _write(
    path: Path,
    data: npt.ArrayLike,
    affine: FloatArray = AFFINE,
    *,
    dtype: str = "float32",
    byteorder: str = "<",
) -> Path:
    """Save with nibabel; int16 gets nibabel's own scl_slope/scl_inter."""
    arr = np.asarray(data)
    img = nib.Nifti1Image(arr, affine, header=nib.Nifti1Header(endianness=byteorder))
    img.header.set_data_dtype(np.dtype(dtype))
    img.header.set_xyzt_units("mm", "sec")
    if arr.ndim == 4:
        img.header.set_zooms((2.0, 2.0, 2.0, TR))
    nib.save(img, path)
    return path


def _nilearn(masker: Any, bold: Path) -> FloatArray:
    # nilearn's own deprecation and resampling notices are not under test here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(masker.fit_transform(str(bold)), dtype=np.float64)


def _assert_agree(ours: FloatArray, ref: FloatArray) -> None:
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-4
    corr = [np.corrcoef(ours[:, r], ref[:, r])[0, 1] for r in range(ref.shape[1])]
    assert min(corr) >= 0.9999


@pytest.fixture
def data(rng: np.random.Generator) -> FloatArray:
    """Return a small 4D image's values."""
    return _data(rng)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize(
    ("dtype", "byteorder"), [("float32", "<"), ("int16", "<"), ("int16", ">")]
)
def test_spheres_match_nilearn(
    tmp_path: Path, data: FloatArray, suffix: str, dtype: str, byteorder: str
) -> None:
    """Sphere means equal NiftiSpheresMasker's (allow_overlap, no standardization)."""
    bold = _write(tmp_path / f"bold{suffix}", data, dtype=dtype, byteorder=byteorder)
    if dtype == "int16":
        assert nib.load(bold).dataobj.slope != 1.0  # the scaling path is exercised
    ours = extract_timeseries(bold, _atlas(SEEDS), radius_mm=5.0, chunk_volumes=4)
    masker = NiftiSpheresMasker(SEEDS, radius=5.0, allow_overlap=True, standardize=None)
    _assert_agree(ours.timeseries, _nilearn(masker, bold))
    # In float64 nilearn averages exactly the same voxels: equal to rounding.
    exact = NiftiSpheresMasker(
        SEEDS, radius=5.0, allow_overlap=True, standardize=None, dtype="float64"
    )
    np.testing.assert_allclose(ours.timeseries, _nilearn(exact, bold), rtol=0, atol=1e-9)
    assert ours.labels == _atlas(SEEDS).labels
    assert ours.repetition_time == TR
    assert ours.record["data"]["compressed"] is (suffix == ".nii.gz")


@pytest.mark.parametrize("radius", [0.0, 2.0, 4.0, 6.5])
def test_sphere_voxels_match_nilearn_with_mask_and_oblique_grid(
    tmp_path: Path, data: FloatArray, rng: np.random.Generator, radius: float
) -> None:
    """Radii on voxel distances, a rotated/flipped grid and a mask select nilearn's voxels."""
    angle = 0.3
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([-2.0, 2.5, 2.0])
    affine[:3, 3] = (14.0, -30.0, -15.0)
    bold = _write(tmp_path / "bold.nii.gz", data, affine)
    inside = rng.random(SHAPE) < 0.7
    inside[8:12, 10:14, 6:10] = True
    mask = _write(tmp_path / "mask.nii.gz", inside.astype(np.uint8), affine, dtype="uint8")
    seeds = tuple(
        tuple(float(v) for v in affine[:3, :3] @ ijk + affine[:3, 3])
        for ijk in ((9.0, 11.0, 7.0), (10.5, 12.2, 8.5), (3.0, 4.0, 5.0))
    )
    ours = extract_timeseries(bold, _atlas(seeds), mask=mask, radius_mm=radius)
    masker = NiftiSpheresMasker(
        seeds, radius=radius, allow_overlap=True, standardize=None, mask_img=str(mask),
        dtype="float64",
    )  # fmt: skip
    np.testing.assert_allclose(ours.timeseries, _nilearn(masker, bold), rtol=0, atol=1e-9)
    assert ours.record["mask_voxels"] == int(inside.sum())


def _labels_image(rng: np.random.Generator, shape: tuple[int, int, int]) -> npt.NDArray[Any]:
    """Blocky labels (and a value, 4, that the atlas leaves out)."""
    blocks = rng.choice((0, 1, 2, 3, 4, 5, 7, 8), size=(8, 9, 7))
    tiled = np.kron(blocks, np.ones((4, 5, 5), dtype=int))
    return tiled[: shape[0], : shape[1], : shape[2]].astype(np.int16)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("grid", ["data", "other"])
def test_labels_match_nilearn(
    tmp_path: Path,
    data: FloatArray,
    rng: np.random.Generator,
    suffix: str,
    dtype: str,
    grid: str,
) -> None:
    """Label means equal NiftiLabelsMasker's, on the data grid or resampled onto it."""
    bold = _write(tmp_path / f"bold{suffix}", data, dtype=dtype)
    if grid == "data":
        labels_affine, labels_shape = AFFINE, SHAPE
    else:  # 1.3 mm, x flipped, shifted by a fraction of a voxel
        labels_affine = np.diag([-1.3, 1.3, 1.3, 1.0])
        labels_affine[:3, 3] = (20.1, -25.3, -17.7)
        labels_shape = (31, 37, 29)
    image = _write(
        tmp_path / "labels.nii.gz", _labels_image(rng, labels_shape), labels_affine, dtype="int16"
    )
    ours = extract_timeseries(bold, _labels_atlas(image), chunk_volumes=5)
    masker = NiftiLabelsMasker(str(image), standardize=None, strategy="mean")
    ref = _nilearn(masker, bold)
    present = [masker.region_ids_[key] for key in masker.region_ids_ if key != "background"]
    columns = [present.index(value) for value in LABEL_VALUES]
    _assert_agree(ours.timeseries, ref[:, columns])
    assert ours.record["regions"] == "labels image resampled to the data grid by nearest neighbour"


def test_labels_with_mask_count_only_masked_voxels(
    tmp_path: Path, data: FloatArray, rng: np.random.Generator
) -> None:
    """With a brain mask, labels are averaged over their masked voxels, like nilearn."""
    bold = _write(tmp_path / "bold.nii.gz", data)
    labels = _labels_image(rng, SHAPE)
    image = _write(tmp_path / "labels.nii.gz", labels, dtype="int16")
    inside = rng.random(SHAPE) < 0.8
    mask = _write(tmp_path / "mask.nii.gz", inside.astype(np.uint8), dtype="uint8")
    ours = extract_timeseries(bold, _labels_atlas(image), mask=mask)
    expected = [int(((labels == v) & inside).sum()) for v in LABEL_VALUES]
    assert ours.n_voxels == tuple(expected)
    masker = NiftiLabelsMasker(str(image), mask_img=str(mask), standardize=None, strategy="mean")
    ref = _nilearn(masker, bold)
    present = [masker.region_ids_[key] for key in masker.region_ids_ if key != "background"]
    _assert_agree(ours.timeseries, ref[:, [present.index(v) for v in LABEL_VALUES]])


def test_simulated_mni_run_matches_nilearn(tmp_path: Path, rng: np.random.Generator) -> None:
    """A simulated fMRIPrep-style run (2 mm MNI grid, int16, brain mask) and Seitzman spheres."""
    seitzman = load_atlas("seitzman300")
    pick = slice(None, None, 15)  # 20 regions keep nilearn quick
    atlas = _atlas(seitzman.coords[pick])
    inside = brain_mask()
    n_volumes = 6
    bold = write_bold_run(
        tmp_path / "sub-01_desc-preproc_bold.nii.gz",
        rng.standard_normal((n_volumes, seitzman.n_regions)),
        rng.standard_normal(n_volumes),
        region_label_volume(seitzman, 5.0, inside),
        inside,
        rng,
        voxel_noise_sd=1.0,
        repetition_time=2.0,
    )
    mask = write_mask(tmp_path / "sub-01_desc-brain_mask.nii.gz", inside)
    ours = extract_timeseries(bold, atlas, mask=mask, radius_mm=5.0)
    masker = NiftiSpheresMasker(
        atlas.coords, radius=5.0, allow_overlap=True, standardize=None, mask_img=str(mask)
    )
    _assert_agree(ours.timeseries, _nilearn(masker, bold))
    assert ours.repetition_time == 2.0
    assert ours.timeseries.shape == (n_volumes, atlas.n_regions)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_chunk_size_does_not_change_the_result(
    tmp_path: Path, data: FloatArray, suffix: str
) -> None:
    """One volume per chunk, a chunk that does not divide the run, and the default agree."""
    bold = _write(tmp_path / f"bold{suffix}", data, dtype="int16")
    runs = [extract_timeseries(bold, _atlas(SEEDS), chunk_volumes=c) for c in (1, 7, None)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.timeseries, runs[0].timeseries)
    assert [r.record["chunk_volumes"] for r in runs] == [1, 7, N_VOLUMES]


def test_multi_member_gzip_reads_like_the_plain_file(tmp_path: Path, data: FloatArray) -> None:
    """A .nii.gz of several gzip members (bgzip, pigz) holds the same image."""
    plain = _write(tmp_path / "bold.nii", data)
    raw = plain.read_bytes()
    cuts = (0, 1000, len(raw) // 3, len(raw))
    members = b"".join(gzip.compress(raw[a:b]) for a, b in itertools.pairwise(cuts))
    packed = tmp_path / "bold.nii.gz"
    packed.write_bytes(members + b"\x00" * 16)  # with zero padding after the last member
    a = extract_timeseries(plain, _atlas(SEEDS))
    b = extract_timeseries(packed, _atlas(SEEDS), chunk_volumes=3)
    np.testing.assert_array_equal(a.timeseries, b.timeseries)


def _traced_peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_memory_does_not_grow_with_run_length(
    tmp_path: Path, rng: np.random.Generator, suffix: str
) -> None:
    """Peak traced memory is the same for 60 and 480 volumes, far below the image size.

    Both runs are longer than the compressed bytes read per step, so only the
    output (volumes x regions) may grow with the run.
    """
    atlas = _atlas(SEEDS)
    peaks = {}
    for n_volumes in (60, 480):
        bold = _write(tmp_path / f"bold{n_volumes}{suffix}", _data(rng, n_volumes))
        extract_timeseries(bold, atlas, chunk_volumes=4)  # warm caches and imports
        peaks[n_volumes] = _traced_peak(
            lambda b=bold: extract_timeseries(b, atlas, chunk_volumes=4)
        )
    image_bytes = 480 * int(np.prod(SHAPE)) * 4
    output_growth = (480 - 60) * atlas.n_regions * 8
    assert peaks[480] <= peaks[60] + output_growth + 128 * 1024
    assert peaks[480] < image_bytes / 10


def test_extraction_is_frozen_and_records_provenance(tmp_path: Path, data: FloatArray) -> None:
    """The result cannot be changed and says how it was made."""
    bold = _write(tmp_path / "bold.nii.gz", data, dtype="int16")
    result = extract_timeseries(bold, _atlas(SEEDS), radius_mm=6.0, repetition_time=0.8)
    assert isinstance(result, Extraction)
    with pytest.raises(FrozenInstanceError):
        result.repetition_time = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.timeseries[0, 0] = 0.0
    record = result.record
    assert record["method"] == "spheres"
    assert record["radius_mm"] == 6.0
    assert record["data"]["shape"] == [*SHAPE, N_VOLUMES]
    assert record["data"]["dtype"] == "<i2"
    assert record["data"]["affine"] == AFFINE.tolist()
    assert record["repetition_time"] == 0.8
    assert record["repetition_time_source"] == "given by the caller"
    assert result.n_volumes == N_VOLUMES
    assert len(result.n_voxels) == len(SEEDS)
    assert all(n > 0 for n in result.n_voxels)


def test_repetition_time_in_milliseconds_and_missing(tmp_path: Path, data: FloatArray) -> None:
    """The header's time unit is honoured; no TR at all asks the caller for one."""
    img = nib.Nifti1Image(data.astype(np.float32), AFFINE)
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms((2.0, 2.0, 2.0, 1500.0))
    nib.save(img, tmp_path / "ms.nii")
    assert extract_timeseries(tmp_path / "ms.nii", _atlas(SEEDS)).repetition_time == 1.5
    img.header.set_zooms((2.0, 2.0, 2.0, 0.0))
    nib.save(img, tmp_path / "none.nii")
    with pytest.raises(InputError, match=r"none\.nii.*repetition_time="):
        extract_timeseries(tmp_path / "none.nii", _atlas(SEEDS))


# --- bad inputs -----------------------------------------------------------------------


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path: Path, data: FloatArray) -> None:
    """A .nii.gz cut short stops with the file and how far it got."""
    whole = _write(tmp_path / "bold.nii.gz", data).read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(InputError, match=r"cut\.nii\.gz.*(corrupt|truncated).*volumes"):
        extract_timeseries(cut, _atlas(SEEDS))
    cut.write_bytes(whole[:-4])  # only the gzip trailer's length field is missing
    with pytest.raises(InputError, match=r"cut\.nii\.gz.*(corrupt|truncated)"):
        extract_timeseries(cut, _atlas(SEEDS))


def test_corrupt_gzip_is_an_error_naming_the_file(tmp_path: Path, data: FloatArray) -> None:
    """Damaged compressed data, or a wrong CRC-32, are caught."""
    whole = bytearray(_write(tmp_path / "bold.nii.gz", data).read_bytes())
    bad = tmp_path / "bad.nii.gz"
    middle = len(whole) // 2
    damaged = bytearray(whole)
    damaged[middle : middle + 64] = bytes(range(64))
    bad.write_bytes(bytes(damaged))
    with pytest.raises(InputError, match=r"bad\.nii\.gz.*corrupt"):
        extract_timeseries(bad, _atlas(SEEDS))
    wrong_crc = bytearray(whole)
    wrong_crc[-8] ^= 0xFF
    bad.write_bytes(bytes(wrong_crc))
    with pytest.raises(InputError, match=r"bad\.nii\.gz.*corrupt"):
        extract_timeseries(bad, _atlas(SEEDS))


def test_nifti2_image_is_read(tmp_path: Path, data: FloatArray) -> None:
    """NIfTI-2 (540-byte header) reads the same as NIfTI-1."""
    one = _write(tmp_path / "one.nii.gz", data)
    img = nib.Nifti2Image(data.astype(np.float32), AFFINE)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((2.0, 2.0, 2.0, TR))
    nib.save(img, tmp_path / "two.nii.gz")
    a = extract_timeseries(one, _atlas(SEEDS))
    b = extract_timeseries(tmp_path / "two.nii.gz", _atlas(SEEDS))
    np.testing.assert_array_equal(a.timeseries, b.timeseries)
    assert b.record["data"]["vox_offset"] >= 540


def test_unusable_labels_image_is_an_error(
    tmp_path: Path, data: FloatArray, rng: np.random.Generator
) -> None:
    """A labels image must be 3D with integer values."""
    bold = _write(tmp_path / "bold.nii.gz", data)
    labels = _labels_image(rng, SHAPE)
    four = _write(tmp_path / "four.nii.gz", np.stack([labels, labels], axis=-1), dtype="int16")
    with pytest.raises(InputError, match=r"four\.nii\.gz.*3D"):
        extract_timeseries(bold, _labels_atlas(four))
    halves = _write(tmp_path / "halves.nii.gz", labels + 0.5, dtype="float32")
    with pytest.raises(InputError, match=r"halves\.nii\.gz.*non-integer"):
        extract_timeseries(bold, _labels_atlas(halves))


def test_truncated_nii_is_an_error(tmp_path: Path, data: FloatArray) -> None:
    """An uncompressed file shorter than its header says is refused before reading."""
    whole = _write(tmp_path / "bold.nii", data).read_bytes()
    cut = tmp_path / "cut.nii"
    cut.write_bytes(whole[:-100])
    with pytest.raises(InputError, match=r"cut\.nii.*truncated"):
        extract_timeseries(cut, _atlas(SEEDS))


def test_3d_image_is_an_error(tmp_path: Path, data: FloatArray) -> None:
    """A single volume saved as 3D is not a run."""
    volume = _write(tmp_path / "volume.nii.gz", data[..., 0])
    with pytest.raises(InputError, match=r"volume\.nii\.gz.*3D.*4D"):
        extract_timeseries(volume, _atlas(SEEDS))


def test_missing_or_non_nifti_file_is_an_error(tmp_path: Path) -> None:
    """The file must exist and be .nii/.nii.gz."""
    with pytest.raises(InputError, match=r"absent\.nii\.gz.*does not exist"):
        extract_timeseries(tmp_path / "absent.nii.gz", _atlas(SEEDS))
    (tmp_path / "bold.mgz").write_bytes(b"")
    with pytest.raises(InputError, match=r"bold\.mgz.*\.nii"):
        extract_timeseries(tmp_path / "bold.mgz", _atlas(SEEDS))
    (tmp_path / "junk.nii.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"junk\.nii\.gz"):
        extract_timeseries(tmp_path / "junk.nii.gz", _atlas(SEEDS))


def test_labels_image_without_overlap_is_an_error(
    tmp_path: Path, data: FloatArray, rng: np.random.Generator
) -> None:
    """A labels image in another place (or space) than the data cannot be mapped."""
    bold = _write(tmp_path / "bold.nii.gz", data)
    far = AFFINE.copy()
    far[:3, 3] += 1000.0
    image = _write(tmp_path / "labels.nii.gz", _labels_image(rng, SHAPE), far, dtype="int16")
    with pytest.raises(InputError, match=r"labels\.nii\.gz.*does not overlap.*bold\.nii\.gz"):
        extract_timeseries(bold, _labels_atlas(image))


def test_region_without_voxel_is_named(
    tmp_path: Path, data: FloatArray, rng: np.random.Generator
) -> None:
    """A sphere outside the field of view, or a label with no voxel, is named."""
    bold = _write(tmp_path / "bold.nii.gz", data)
    atlas = _atlas((*SEEDS, (300.0, 0.0, 0.0)))
    with pytest.raises(InputError, match=r"'region_08' at \(300\.0, 0\.0, 0\.0\)"):
        extract_timeseries(bold, atlas)
    image = _write(tmp_path / "labels.nii.gz", _labels_image(rng, SHAPE), dtype="int16")
    with pytest.raises(InputError, match=r"1 region.*'region_07'"):
        extract_timeseries(bold, _labels_atlas(image, (*LABEL_VALUES, 99)))


def test_mask_on_another_grid_is_an_error(tmp_path: Path, data: FloatArray) -> None:
    """The mask must share the data's grid; it is not resampled silently."""
    bold = _write(tmp_path / "bold.nii.gz", data)
    shifted = AFFINE.copy()
    shifted[0, 3] += 2.0
    ones = np.ones(SHAPE, dtype=np.uint8)
    mask = _write(tmp_path / "mask.nii.gz", ones, shifted, dtype="uint8")
    with pytest.raises(InputError, match=r"mask\.nii\.gz.*not on the data grid of.*bold"):
        extract_timeseries(bold, _atlas(SEEDS), mask=mask)
    small = _write(tmp_path / "small.nii.gz", ones[:-1], dtype="uint8")
    with pytest.raises(InputError, match=r"small\.nii\.gz.*not on the data grid"):
        extract_timeseries(bold, _atlas(SEEDS), mask=small)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius_mm": -1.0}, "radius_mm"),
        ({"radius_mm": float("nan")}, "radius_mm"),
        ({"chunk_volumes": 0}, "chunk_volumes"),
        ({"chunk_volumes": 2.5}, "chunk_volumes"),
        ({"repetition_time": 0.0}, "repetition_time"),
    ],
)
def test_bad_arguments_are_errors(
    tmp_path: Path, data: FloatArray, kwargs: dict[str, Any], message: str
) -> None:
    """Arguments are checked and named."""
    bold = _write(tmp_path / "bold.nii", data)
    with pytest.raises(InputError, match=message):
        extract_timeseries(bold, _atlas(SEEDS), **kwargs)
