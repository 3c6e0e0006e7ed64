"""Networks for a parcellation by voxel overlap with a network atlas, and the NONE rule."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest

from dmnpharm.atlases import (
    MIN_OVERLAP,
    YEO7_NETWORKS,
    labels_atlas,
    networks_by_overlap,
    regions_atlas,
)
from dmnpharm.exceptions import InputError

#: A 7 x 8 x 9 grid of 2 mm voxels (unequal sizes, so axis mix-ups fail).
SHAPE = (7, 8, 9)
AFFINE = np.array([[2.0, 0, 0, -7], [0, 2.0, 0, -8], [0, 0, 2.0, -9], [0, 0, 0, 1]])


def _save(path: Path, data: npt.NDArray[np.int16], affine: npt.NDArray[np.float64]) -> Path:
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    """Parcels with known shares of Yeo-7 networks (values 1-7, 0 outside).

    Parcel 10 (x = 0): 36/72 Default, 27/72 Visual, 9/72 outside -> DMN, 0.5.
    Parcel 20 (x = 1): 72/72 VentralAttention -> SN, 1.0.
    Parcel 30 (x = 2): 45/72 outside -> NONE although its 27 other voxels are Default.
    Parcel 40 (x = 3): six networks, Limbic the largest with 13/72 (< 0.25) -> NONE.
    """
    labels = np.zeros(SHAPE, dtype=np.int16)
    networks = np.zeros(SHAPE, dtype=np.int16)
    for x, value in enumerate((10, 20, 30, 40)):
        labels[x, :, :] = value  # 8 x 9 = 72 voxels each
    networks[0, :4, :] = 7
    networks[0, 4:7, :] = 1
    networks[1] = 4
    networks[2, :3, :] = 7
    networks[3, :6, :] = np.arange(1, 7, dtype=np.int16)[:, None]  # 9 voxels of each
    networks[3, 6:, :] = 0
    networks[3, 6:, :2] = 5  # 4 voxels
    lab = _save(tmp_path / "atlas-toy_dseg.nii.gz", labels, AFFINE)
    net = _save(tmp_path / "nets.nii.gz", networks, AFFINE)
    return lab, net


def test_rule_and_columns(images: tuple[Path, Path]) -> None:
    """Best network by voxel share; NONE when mostly outside or under min_fraction."""
    table = networks_by_overlap(*images, YEO7_NETWORKS)
    assert list(table["index"]) == [10, 20, 30, 40]
    assert list(table["network"]) == ["DMN", "SN", "NONE", "NONE"]
    assert list(table["source_network"]) == ["Default", "VentralAttention", "", ""]
    np.testing.assert_allclose(table["overlap"], [36 / 72, 1.0, 27 / 72, 13 / 72])
    np.testing.assert_allclose(table["outside"], [9 / 72, 0.0, 45 / 72, 14 / 72])
    assert list(table["n_voxels"]) == [72] * 4
    np.testing.assert_allclose(table[["x", "y", "z"]].iloc[1], [-5.0, -1.0, -1.0])
    assert list(table["label"]) == ["10", "20", "30", "40"]
    assert MIN_OVERLAP == 0.25
    lowered = networks_by_overlap(*images, YEO7_NETWORKS, min_fraction=0.1)
    assert list(lowered["network"]) == ["DMN", "SN", "NONE", "LIM"]


def test_network_image_on_another_grid(images: tuple[Path, Path], tmp_path: Path) -> None:
    """A network image at 1 mm is put on the parcels' grid by nearest neighbour."""
    labels, networks = images
    coarse = np.asarray(nib.load(networks).dataobj)
    fine = np.repeat(np.repeat(np.repeat(coarse, 2, 0), 2, 1), 2, 2)
    affine = AFFINE.copy()
    affine[:3, :3] = np.eye(3)
    affine[:3, 3] -= 0.5  # 1 mm voxel centres around each 2 mm centre
    resampled = _save(tmp_path / "fine.nii.gz", fine, affine)
    same = networks_by_overlap(labels, networks, YEO7_NETWORKS)
    moved = networks_by_overlap(labels, resampled, YEO7_NETWORKS)
    assert list(moved["network"]) == list(same["network"])
    np.testing.assert_allclose(moved["overlap"], same["overlap"])


def test_table_reads_as_regions_and_labels_atlas(images: tuple[Path, Path]) -> None:
    """Written as a TSV, the table is a regions table and, beside its image, a labels table."""
    labels, networks = images
    names = {10: "pcc", 20: "insula", 30: "thalamus", 40: "mixed"}
    table = networks_by_overlap(labels, networks, YEO7_NETWORKS, region_names=names)
    path = labels.with_name("atlas-toy_dseg.tsv")
    table.to_csv(path, sep="\t", index=False)
    regions = regions_atlas(path)
    assert regions.labels == ("pcc", "insula", "thalamus", "mixed")
    assert regions.networks == ("DMN", "SN", "NONE", "NONE")
    image_atlas = labels_atlas("toy", labels, path)
    assert image_atlas.label_values == (10, 20, 30, 40)
    np.testing.assert_allclose(image_atlas.coords, regions.coords)


def test_names_and_arguments_are_checked(images: tuple[Path, Path]) -> None:
    """Every network value needs a name that maps to a code; min_fraction within [0, 1]."""
    with pytest.raises(InputError, match=r"value\(s\) 7 without a name"):
        networks_by_overlap(*images, YEO7_NETWORKS[:6])
    named = {0: "empty", **{i + 1: n for i, n in enumerate(YEO7_NETWORKS)}}
    assert networks_by_overlap(*images, named)["network"].iloc[0] == "DMN"
    custom = {**named, 4: "Ventral Attention"}
    with pytest.raises(InputError, match="ambiguous"):
        networks_by_overlap(*images, custom)
    mapped = networks_by_overlap(*images, custom, network_map={"Ventral Attention": "VAN"})
    assert mapped["network"].iloc[1] == "VAN"
    with pytest.raises(InputError, match="min_fraction"):
        networks_by_overlap(*images, YEO7_NETWORKS, min_fraction=1.5)
