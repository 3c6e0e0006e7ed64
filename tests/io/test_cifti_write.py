"""Parcellated CIFTI-2 outputs (``.ptseries.nii``, ``.pconn.nii``) and dense label files."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes

from dmnpharm.atlases import Atlas, dlabel_atlas, dlabel_parcels
from dmnpharm.exceptions import InputError
from dmnpharm.io import write_dlabel, write_pconn, write_ptseries

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def brain_models() -> cifti2_axes.BrainModelAxis:
    """Return 4 left and 3 right vertices (meshes of 40) and 2 voxels."""
    left = cifti2_axes.BrainModelAxis.from_surface(np.array([1, 4, 9, 30]), 40, "CortexLeft")
    right = cifti2_axes.BrainModelAxis.from_surface(np.array([0, 8, 17]), 40, "CortexRight")
    mask = np.zeros((5, 6, 7), dtype=bool)
    mask[2, 3, 4] = mask[4, 5, 6] = True
    return left + right + cifti2_axes.BrainModelAxis.from_mask(mask, "Putamen_Left", AFFINE)


KEYS = np.array([2, 5, 2, 0, 5, 9, 9, 9, 2], dtype=np.int32)


def _atlas(folder: Path) -> Atlas:
    dlabel = write_dlabel(
        folder / "atlas-Toy_dseg.dlabel.nii", brain_models(), KEYS, {2: "a", 5: "b", 9: "c"}
    )
    table = pd.DataFrame(
        {"index": [5, 2, 9], "name": ["pcc", "vis", "put"], "network": ["DMN", "VIS", "SUB"]}
    )
    return dlabel_atlas("toy", dlabel, table)


def test_write_dlabel_round_trips(tmp_path: Path) -> None:
    """The label axis, its names and the key of every grayordinate read back."""
    path = write_dlabel(
        tmp_path / "atlas-Toy_dseg.dlabel.nii", brain_models(), KEYS, {2: "a", 5: "b", 9: "c"}
    )
    image = nib.load(path)
    labels = image.header.get_axis(0)
    assert isinstance(labels, cifti2_axes.LabelAxis)
    assert {k: v[0] for k, v in labels.label[0].items()} == {0: "???", 2: "a", 5: "b", 9: "c"}
    assert image.header.get_axis(1) == brain_models()
    np.testing.assert_array_equal(np.asarray(image.dataobj)[0], KEYS)
    assert image.nifti_header.get_intent()[0] == "ConnDenseLabel"
    with pytest.raises(InputError, match=r"label keys \[9\] have no name"):
        write_dlabel(tmp_path / "x.dlabel.nii", brain_models(), KEYS, {2: "a", 5: "b"})


def test_ptseries_round_trips_with_a_parcels_axis(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Names, grayordinates, series step, values and intent survive a nibabel round trip."""
    atlas = _atlas(tmp_path)
    series = rng.normal(size=(11, 3))
    path = write_ptseries(
        tmp_path / "sub-01_task-rest_space-fsLR_atlas-Toy_timeseries.ptseries.nii",
        series,
        dlabel_parcels(atlas),
        0.8,
        sidecar={"RepetitionTime": 0.8},
    )
    image = nib.load(path)
    assert image.shape == (11, 3)
    time_axis, parcels = (image.header.get_axis(i) for i in range(2))
    assert isinstance(time_axis, cifti2_axes.SeriesAxis)
    assert (time_axis.step, time_axis.unit, time_axis.size) == (0.8, "SECOND", 11)
    assert isinstance(parcels, cifti2_axes.ParcelsAxis)
    assert list(parcels.name) == ["pcc", "vis", "put"]
    assert parcels.vertices[0]["CIFTI_STRUCTURE_CORTEX_LEFT"].tolist() == [4]
    assert parcels.vertices[0]["CIFTI_STRUCTURE_CORTEX_RIGHT"].tolist() == [0]
    assert parcels.vertices[1]["CIFTI_STRUCTURE_CORTEX_LEFT"].tolist() == [1, 9]
    assert parcels.voxels[1].tolist() == [[4, 5, 6]]
    assert parcels.voxels[2].tolist() == [[2, 3, 4]]
    np.testing.assert_allclose(np.asarray(image.dataobj), series, rtol=1e-6)
    assert image.nifti_header.get_intent()[0] == "ConnParcelSries"
    sidecar = path.with_name("sub-01_task-rest_space-fsLR_atlas-Toy_timeseries.json")
    assert json.loads(sidecar.read_text()) == {"RepetitionTime": 0.8}


def test_pconn_round_trips(tmp_path: Path, rng: np.random.Generator) -> None:
    """Both axes are the parcels; the matrix comes back as written (float32)."""
    atlas = _atlas(tmp_path)
    matrix = np.corrcoef(rng.normal(size=(3, 20)))
    path = write_pconn(tmp_path / "fc.pconn.nii", matrix, dlabel_parcels(atlas))
    image = nib.load(path)
    rows, columns = (image.header.get_axis(i) for i in range(2))
    assert isinstance(rows, cifti2_axes.ParcelsAxis)
    assert rows == columns
    assert list(rows.name) == ["pcc", "vis", "put"]
    np.testing.assert_allclose(np.asarray(image.dataobj), matrix, rtol=1e-6)
    assert image.nifti_header.get_intent()[0] == "ConnParcels"
    assert not path.with_name("fc.json").exists()


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    """Shapes, endings, the parcels argument and the repetition time are checked first."""
    parcels = dlabel_parcels(_atlas(tmp_path))
    with pytest.raises(InputError, match=r"volumes x parcels \(3 parcels\); got shape \(5, 2\)"):
        write_ptseries(tmp_path / "a.ptseries.nii", np.zeros((5, 2)), parcels, 2.0)
    with pytest.raises(InputError, match=r"must end in \.ptseries\.nii"):
        write_ptseries(tmp_path / "a.nii", np.zeros((5, 3)), parcels, 2.0)
    with pytest.raises(InputError, match="repetition_time must be a finite number > 0"):
        write_ptseries(tmp_path / "a.ptseries.nii", np.zeros((5, 3)), parcels, 0.0)
    with pytest.raises(InputError, match="ParcelsAxis"):
        write_ptseries(tmp_path / "a.ptseries.nii", np.zeros((5, 3)), ["a"], 2.0)
    with pytest.raises(InputError, match=r"parcels x parcels \(3 x 3\)"):
        write_pconn(tmp_path / "a.pconn.nii", np.zeros((3, 2)), parcels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas-Toy_dseg.dlabel.nii"]
