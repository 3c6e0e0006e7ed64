"""Parcel time series from CIFTI-2 dense time series, checked against nibabel + numpy."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes

from dmnpharm.atlases import Atlas, dlabel_atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import extract_cifti_timeseries

Axis = cifti2_axes.BrainModelAxis
N_VOLUMES = 17
TR = 1.5
SHAPE = (7, 8, 9)
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -10.0], [0.0, 3.0, 0.0, -20.0], [0.0, 0.0, 2.0, 4.0], [0, 0, 0, 1.0]]
)
VOXELS = ((1, 2, 3), (3, 2, 1), (6, 7, 8))


def _surface(vertices: list[int], name: str, n_vertices: int = 50) -> Axis:
    return Axis.from_surface(np.array(vertices), n_vertices, name)


def _volume(voxels: tuple[tuple[int, int, int], ...], name: str = "ThalamusLeft") -> Axis:
    """Voxels in the given order (from_mask would sort them)."""
    ijk = np.array(voxels)
    return Axis(
        name=[name] * len(ijk),
        voxel=ijk,
        affine=AFFINE,
        volume_shape=SHAPE,
    )


def atlas_models() -> Axis:
    """5 left vertices, 4 right vertices (meshes of 50) and 3 voxels."""
    return (
        _surface([0, 3, 7, 20, 41], "CortexLeft")
        + _surface([2, 5, 6, 9], "CortexRight")
        + _volume(VOXELS)
    )


#: Key per grayordinate of atlas_models(): 0 unassigned.
KEYS = np.array([3, 3, 11, 0, 11, 11, 3, 0, 3, 7, 7, 3])
TABLE = pd.DataFrame(
    {"index": [11, 3, 7], "name": ["vis", "pcc", "thal"], "network": ["VIS", "DMN", "SUB"]}
)


def make_atlas(folder: Path) -> Atlas:
    """Write the dlabel of atlas_models() and KEYS; return its atlas."""
    names = {0: ("???", (0.0, 0.0, 0.0, 0.0)), 3: ("a", (1.0, 0, 0, 1)), 7: ("b", (0, 1.0, 0, 1))}
    names[11] = ("c", (0.0, 0.0, 1.0, 1.0))
    label = cifti2_axes.LabelAxis(["parcellation"], [names])
    path = folder / "toy.dlabel.nii"
    nib.save(nib.Cifti2Image(KEYS[None, :].astype(np.int32), header=(label, atlas_models())), path)
    return dlabel_atlas("toy", path, TABLE)


def write_dense(
    path: Path, models: Axis, rng: np.random.Generator, unit: str = "SECOND"
) -> npt.NDArray[np.float32]:
    """Write random data on the given grayordinates; return it (volumes x grayordinates)."""
    data = rng.normal(100.0, 10.0, size=(N_VOLUMES, len(models))).astype(np.float32)
    series = cifti2_axes.SeriesAxis(0.0, TR, N_VOLUMES, unit=unit)
    nib.save(nib.Cifti2Image(data, header=(series, models)), path)
    return data


def _element(models: Axis, i: int) -> tuple[str, tuple[int, ...]]:
    kind, index, structure = models.get_element(i)
    return structure, (index,) if kind == "CIFTI_MODEL_TYPE_SURFACE" else tuple(index)


def reference_means(
    data: npt.NDArray[np.float32], models: Axis, keys: tuple[int, ...]
) -> npt.NDArray[np.float64]:
    """Means by matching every grayordinate's (structure, vertex or ijk) in plain Python."""
    owner = {_element(atlas_models(), i): int(k) for i, k in enumerate(KEYS)}
    found = [owner.get(_element(models, j), 0) for j in range(len(models))]
    values = data.astype(np.float64)
    return np.column_stack(
        [values[:, [j for j, k in enumerate(found) if k == key]].mean(axis=1) for key in keys]
    )


def test_identical_axes_match_a_nibabel_numpy_reference(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Parcel means equal nibabel's data averaged with numpy; counts, TR and record follow."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    data = write_dense(path, atlas_models(), rng)
    extraction = extract_cifti_timeseries(path, atlas)
    loaded = nib.load(path)
    labels = np.asarray(nib.load(atlas.image).dataobj[0])
    expected = np.column_stack(
        [loaded.get_fdata()[:, labels == key].mean(axis=1) for key in (11, 3, 7)]
    )
    np.testing.assert_allclose(extraction.timeseries, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        extraction.timeseries, reference_means(data, atlas_models(), (11, 3, 7)), atol=1e-9
    )
    assert extraction.labels == ("vis", "pcc", "thal")
    assert extraction.n_voxels == (3, 5, 2)
    assert extraction.repetition_time == TR
    record = extraction.record
    assert record["method"] == f"parcel means over grayordinates of {atlas.image}"
    assert record["data"]["file"] == str(path)
    assert record["data"]["shape"] == [N_VOLUMES, 12]
    assert record["repetition_time_source"].startswith("CIFTI series axis step")
    assert record["mapping"].startswith("identical")
    assert record["chunk_grayordinates"] == 12


def test_other_ordering_matches_by_vertex_and_voxel(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Structures and elements in another order, extra data, atlas grayordinates absent."""
    atlas = make_atlas(tmp_path)
    models = (
        _volume(((6, 7, 8), (0, 0, 0), (3, 2, 1), (1, 2, 3)))
        + _surface([9, 6, 2, 4], "CortexRight")  # right vertex 5 (pcc) is absent
        + _surface([41, 20, 12, 7, 3, 0], "CortexLeft")
    )
    path = tmp_path / "run.dtseries.nii"
    data = write_dense(path, models, rng)
    extraction = extract_cifti_timeseries(path, atlas, chunk_grayordinates=4)
    expected = reference_means(data, models, (11, 3, 7))
    np.testing.assert_allclose(extraction.timeseries, expected, rtol=0, atol=1e-9)
    assert extraction.n_voxels == (3, 4, 2)
    assert extraction.record["atlas_grayordinates_absent_from_data"] == 1
    assert extraction.record["mapping"].startswith("brain-model axes differ")


def test_block_size_does_not_change_the_result(tmp_path: Path, rng: np.random.Generator) -> None:
    """Blocks of 1, 2, 5 or all grayordinates give the same means."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    write_dense(path, atlas_models(), rng)
    whole = extract_cifti_timeseries(path, atlas, chunk_grayordinates=100).timeseries
    for chunk in (1, 2, 5):
        part = extract_cifti_timeseries(path, atlas, chunk_grayordinates=chunk).timeseries
        np.testing.assert_allclose(part, whole, rtol=1e-13, atol=0)


def test_non_finite_values_stay_in_their_parcel(tmp_path: Path, rng: np.random.Generator) -> None:
    """A NaN at one grayordinate makes only its parcel's mean NaN, at that volume."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    data = rng.normal(size=(N_VOLUMES, 12)).astype(np.float32)
    data[4, 2] = np.nan  # left vertex 7: "vis"
    data[6, 3] = np.inf  # left vertex 20: unassigned, ignored
    series = cifti2_axes.SeriesAxis(0.0, TR, N_VOLUMES)
    nib.save(nib.Cifti2Image(data, header=(series, atlas_models())), path)
    out = extract_cifti_timeseries(path, atlas).timeseries
    assert np.argwhere(~np.isfinite(out)).tolist() == [[4, 0]]


def test_a_region_absent_from_the_data_is_named(tmp_path: Path, rng: np.random.Generator) -> None:
    """Data without the atlas's voxels leaves "thal" empty: an error naming it."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    write_dense(path, _surface([0, 3, 7], "CortexLeft") + _surface([2, 5], "CortexRight"), rng)
    with pytest.raises(InputError, match=r"'thal' \(key 7, 2 grayordinates in the dlabel\)"):
        extract_cifti_timeseries(path, atlas)


def test_axes_and_units_are_checked(tmp_path: Path, rng: np.random.Generator) -> None:
    """Scalars, swapped axes, a series in hertz and another mesh are refused."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dscalar.nii"
    scalars = cifti2_axes.ScalarAxis(["a", "b"])
    nib.save(
        nib.Cifti2Image(np.zeros((2, 12), np.float32), header=(scalars, atlas_models())), path
    )
    with pytest.raises(InputError, match=r"\(ScalarAxis, BrainModelAxis\); a dtseries"):
        extract_cifti_timeseries(path, atlas)
    swapped = tmp_path / "swapped.dtseries.nii"
    series = cifti2_axes.SeriesAxis(0.0, TR, 3)
    nib.save(
        nib.Cifti2Image(np.zeros((12, 3), np.float32), header=(atlas_models(), series)), swapped
    )
    with pytest.raises(InputError, match=r"\(BrainModelAxis, SeriesAxis\)"):
        extract_cifti_timeseries(swapped, atlas)
    hertz = tmp_path / "hertz.dtseries.nii"
    write_dense(hertz, atlas_models(), rng, unit="HERTZ")
    with pytest.raises(InputError, match="counts HERTZ, not time"):
        extract_cifti_timeseries(hertz, atlas)
    mesh = tmp_path / "mesh.dtseries.nii"
    write_dense(mesh, _surface([0, 3, 7], "CortexLeft", n_vertices=60), rng)
    with pytest.raises(InputError, match=r"50 vertices in the dlabel .* but 60"):
        extract_cifti_timeseries(mesh, atlas)


def test_files_that_are_not_cifti(tmp_path: Path) -> None:
    """Missing, NIfTI-1 and non-NIfTI files are InputErrors naming the file."""
    atlas = make_atlas(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        extract_cifti_timeseries(tmp_path / "missing.dtseries.nii", atlas)
    nifti = tmp_path / "bold.nii"
    nib.save(nib.Nifti1Image(np.zeros((*SHAPE, 4), np.float32), AFFINE), nifti)
    with pytest.raises(
        InputError, match=r"bold.nii' is not a readable CIFTI-2 file \(it is a NIfTI-1"
    ):
        extract_cifti_timeseries(nifti, atlas)
    text = tmp_path / "notes.dtseries.nii"
    text.write_text("not an image\n" * 100)
    with pytest.raises(InputError, match=r"notes\.dtseries\.nii' is not a readable CIFTI-2 file"):
        extract_cifti_timeseries(text, atlas)
    nifti2 = tmp_path / "bold2.nii"
    nib.save(nib.Nifti2Image(np.zeros((*SHAPE, 4), np.float32), AFFINE), nifti2)
    with pytest.raises(InputError, match="NIfTI-2 image without a CIFTI-2 extension"):
        extract_cifti_timeseries(nifti2, atlas)


def test_truncated_and_corrupt_files(tmp_path: Path, rng: np.random.Generator) -> None:
    """A file cut short or with damaged XML is an InputError, not a traceback."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    write_dense(path, atlas_models(), rng)
    whole = path.read_bytes()
    cut = tmp_path / "cut.dtseries.nii"
    cut.write_bytes(whole[:-10])
    with pytest.raises(InputError, match="is truncated: it has"):
        extract_cifti_timeseries(cut, atlas)
    header_only = tmp_path / "head.dtseries.nii"
    header_only.write_bytes(whole[:700])
    with pytest.raises(InputError, match="not a readable CIFTI-2 file"):
        extract_cifti_timeseries(header_only, atlas)
    start = whole.index(b"<CIFTI")
    broken = tmp_path / "broken.dtseries.nii"
    broken.write_bytes(whole[: start + 10] + b"<<<<" + whole[start + 14 :])
    with pytest.raises(InputError, match=r"broken\.dtseries\.nii"):
        extract_cifti_timeseries(broken, atlas)


def test_arguments_are_checked(tmp_path: Path, rng: np.random.Generator) -> None:
    """A given repetition time wins; bad ones, bad block sizes and sphere atlases are refused."""
    atlas = make_atlas(tmp_path)
    path = tmp_path / "run.dtseries.nii"
    write_dense(path, atlas_models(), rng)
    given = extract_cifti_timeseries(path, atlas, repetition_time=2.5)
    assert (given.repetition_time, given.record["repetition_time_source"]) == (
        2.5,
        "given by the caller",
    )
    with pytest.raises(InputError, match="repetition_time must be a finite number > 0"):
        extract_cifti_timeseries(path, atlas, repetition_time=-1.0)
    with pytest.raises(InputError, match="chunk_grayordinates must be a positive integer"):
        extract_cifti_timeseries(path, atlas, chunk_grayordinates=0)
    with pytest.raises(InputError, match="has no dlabel image"):
        extract_cifti_timeseries(path, load_atlas("andrews_hanna"))
    with pytest.raises(InputError, match=r"region.*key 99"):
        extract_cifti_timeseries(path, replace(atlas, label_values=(11, 3, 99)))


def test_the_file_is_read_in_blocks(tmp_path: Path, rng: np.random.Generator) -> None:
    """With small blocks the traced peak memory is a fraction of the data's size.

    Most of the peak is nibabel's parse of the XML header (about 1.2 kB per
    grayordinate); the blocks add 50 grayordinates x 2,000 volumes in float64.
    """
    models = _surface(list(range(1000)), "CortexLeft", 2500) + _surface(
        list(range(500)), "CortexRight", 2500
    )
    keys = (np.arange(len(models)) % 5 + 1).astype(np.int32)
    table = {0: ("???", (0.0, 0.0, 0.0, 0.0))}
    table |= {k: (f"r{k}", (1.0, 0.0, 0.0, 1.0)) for k in range(1, 6)}
    dlabel = tmp_path / "big.dlabel.nii"
    label = cifti2_axes.LabelAxis(["p"], [table])
    nib.save(nib.Cifti2Image(keys[None, :], header=(label, models)), dlabel)
    names = pd.DataFrame({"index": range(1, 6), "name": list("abcde"), "network": ["DMN"] * 5})
    atlas = dlabel_atlas("big", dlabel, names)
    path = tmp_path / "big.dtseries.nii"
    series = cifti2_axes.SeriesAxis(0.0, TR, 2000)
    data = rng.normal(size=(2000, len(models))).astype(np.float32)
    nib.save(nib.Cifti2Image(data, header=(series, models)), path)
    tracemalloc.start()
    try:
        out = extract_cifti_timeseries(path, atlas, chunk_grayordinates=50).timeseries
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < data.nbytes / 2  # data.nbytes: 12 MB of float32
    means = [data[:, keys == k].mean(axis=1, dtype=np.float64) for k in range(1, 6)]
    np.testing.assert_allclose(out, np.column_stack(means), atol=1e-12)
