"""Atlases from CIFTI-2 dense label files (``.dlabel.nii``) and their tables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes

from dmnpharm.atlases import dlabel_atlas, dlabel_parcels
from dmnpharm.exceptions import InputError

#: A voxel grid with unequal sides and a shifted, scaled affine.
SHAPE = (7, 8, 9)
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -10.0], [0.0, 3.0, 0.0, -20.0], [0.0, 0.0, 2.0, 4.0], [0, 0, 0, 1.0]]
)


def brain_models() -> cifti2_axes.BrainModelAxis:
    """Return 5 left vertices, 4 right vertices (of meshes of 50) and 3 voxels."""
    left = cifti2_axes.BrainModelAxis.from_surface(np.array([0, 3, 7, 20, 41]), 50, "CortexLeft")
    right = cifti2_axes.BrainModelAxis.from_surface(np.array([2, 5, 6, 9]), 50, "CortexRight")
    mask = np.zeros(SHAPE, dtype=bool)
    mask[1, 2, 3] = mask[3, 2, 1] = mask[6, 7, 8] = True
    volume = cifti2_axes.BrainModelAxis.from_mask(mask, name="ThalamusLeft", affine=AFFINE)
    return left + right + volume


#: Key per grayordinate of brain_models(): 0 unassigned; key 7 only in the volume.
KEYS = np.array([3, 3, 11, 0, 11, 11, 3, 0, 3, 7, 7, 3])
NAMES = {3: "LH_Default_1", 7: "Thal", 11: "RH_Vis_2", 12: "unused"}


def write_dlabel(path: Path, keys: np.ndarray = KEYS) -> Path:
    """Write a dlabel of brain_models() with the given keys, using nibabel directly."""
    table = {0: ("???", (0.0, 0.0, 0.0, 0.0))}
    table.update({k: (n, (1.0, 0.0, 0.0, 1.0)) for k, n in NAMES.items()})
    label = cifti2_axes.LabelAxis(["parcellation"], [table])
    image = nib.Cifti2Image(keys[None, :].astype(np.int32), header=(label, brain_models()))
    nib.save(image, path)
    return path


def _table(**extra: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"index": [11, 3, 7], "name": ["vis", "pcc", "thal"], "network": ["VIS", "DMN", "SUB"]}
        | extra
    )


def test_regions_follow_the_table_with_voxel_centroids(tmp_path: Path) -> None:
    """Table order, keys and image; voxel regions get a centroid in mm, surface ones NaN."""
    dlabel = write_dlabel(tmp_path / "toy.dlabel.nii")
    atlas = dlabel_atlas("toy", dlabel, _table(subsystem=["", "core", ""]))
    assert atlas.labels == ("vis", "pcc", "thal")
    assert atlas.label_values == (11, 3, 7)
    assert Path(atlas.image) == dlabel.resolve()
    assert atlas.space == "fsLR"
    assert atlas.subsystems == ("", "core", "")
    assert np.isnan(atlas.coords[0]).all()
    # "pcc" owns vertices and the voxel (6, 7, 8): the centroid of its voxels only.
    np.testing.assert_allclose(atlas.coords[1], AFFINE[:3, :3] @ [6, 7, 8] + AFFINE[:3, 3])
    mean_ijk = np.mean([[1, 2, 3], [3, 2, 1]], axis=0)
    np.testing.assert_allclose(atlas.coords[2], AFFINE[:3, :3] @ mean_ijk + AFFINE[:3, 3])


def test_a_tsv_file_with_network_names_and_source_networks(tmp_path: Path) -> None:
    """A TSV on disk works like a DataFrame; network names map through the mapping."""
    dlabel = write_dlabel(tmp_path / "toy.dlabel.nii")
    path = tmp_path / "toy.tsv"
    _table(network=["Visual", "Default", "Sub"], source_network=["a", "b", "c"]).to_csv(
        path, sep="\t", index=False
    )
    atlas = dlabel_atlas("toy", dlabel, path, network_map={"Sub": "SUB", "Visual": "VIS"})
    assert atlas.networks == ("VIS", "DMN", "SUB")
    assert atlas.source_networks == ("a", "b", "c")


def test_keys_and_rows_must_agree(tmp_path: Path) -> None:
    """A key with grayordinates needs a row; a row needs grayordinates, named by line."""
    dlabel = write_dlabel(tmp_path / "toy.dlabel.nii")
    with pytest.raises(InputError, match=r"label key\(s\) with grayordinates without a row.*7"):
        dlabel_atlas("toy", dlabel, _table().iloc[:2])
    extra = pd.concat([_table(), pd.DataFrame({"index": [12], "name": ["u"], "network": ["SN"]})])
    path = tmp_path / "extra.tsv"
    extra.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"no grayordinate.*line 5 \(index 12\)"):
        dlabel_atlas("toy", dlabel, path)
    with pytest.raises(InputError, match="neither a code of NETWORKS"):
        dlabel_atlas("toy", dlabel, _table(network=["VIS", "DMN", "Wernicke"]))
    with pytest.raises(InputError, match="index '7' repeats"):
        dlabel_atlas("toy", dlabel, _table(index=["11", "7", "7"]))


def test_a_missing_table_says_how_to_write_it(tmp_path: Path) -> None:
    """The message names the columns and lists the dlabel's labels."""
    dlabel = write_dlabel(tmp_path / "toy.dlabel.nii")
    with pytest.raises(InputError, match=r"index.*name.*network") as caught:
        dlabel_atlas("toy", dlabel, tmp_path / "toy.tsv")
    assert "3 'LH_Default_1'" in str(caught.value)
    assert "unused" not in str(caught.value)  # a key without grayordinates is not listed


def test_files_that_are_not_dlabels(tmp_path: Path) -> None:
    """A missing file, a NIfTI-1 volume and a dtseries are refused with the file named."""
    table = _table()
    with pytest.raises(InputError, match="does not exist"):
        dlabel_atlas("toy", tmp_path / "missing.dlabel.nii", table)
    volume = tmp_path / "volume.nii"
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, dtype=np.int16), AFFINE), volume)
    with pytest.raises(InputError, match="NIfTI-1"):
        dlabel_atlas("toy", volume, table)
    series = cifti2_axes.SeriesAxis(0.0, 2.0, 4)
    dense = tmp_path / "run.dtseries.nii"
    nib.save(
        nib.Cifti2Image(np.zeros((4, 12), np.float32), header=(series, brain_models())), dense
    )
    with pytest.raises(InputError, match=r"\(SeriesAxis, BrainModelAxis\); a dense label file"):
        dlabel_atlas("toy", dense, table)


def test_parcels_axis_holds_each_region_grayordinates(tmp_path: Path) -> None:
    """dlabel_parcels names parcels by label, with the vertices and voxels of their keys."""
    dlabel = write_dlabel(tmp_path / "toy.dlabel.nii")
    atlas = dlabel_atlas("toy", dlabel, _table())
    parcels = dlabel_parcels(atlas)
    assert isinstance(parcels, cifti2_axes.ParcelsAxis)
    assert list(parcels.name) == ["vis", "pcc", "thal"]
    assert parcels.vertices[1]["CIFTI_STRUCTURE_CORTEX_LEFT"].tolist() == [0, 3]
    assert parcels.vertices[1]["CIFTI_STRUCTURE_CORTEX_RIGHT"].tolist() == [5, 9]
    assert parcels.voxels[1].tolist() == [[6, 7, 8]]
    assert parcels.vertices[0]["CIFTI_STRUCTURE_CORTEX_LEFT"].tolist() == [7, 41]
    assert parcels.vertices[0]["CIFTI_STRUCTURE_CORTEX_RIGHT"].tolist() == [2]
    assert len(parcels.voxels[0]) == 0
    assert sorted(map(tuple, parcels.voxels[2].tolist())) == [(1, 2, 3), (3, 2, 1)]
    with pytest.raises(InputError, match="has no dlabel image"):
        dlabel_parcels(replace(atlas, image="", label_values=()))
