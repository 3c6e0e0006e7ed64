"""Atlases from labels images: Schaefer 2018 from the atlas folder and a user's own."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import (
    SCHAEFER_TO_VOCAB,
    labels_atlas,
    load_atlas,
    schaefer_atlas,
)
from dmnpharm.exceptions import InputError


def _toy_image(tmp_path: Path) -> Path:
    data = np.zeros((10, 10, 10), dtype=np.int16)
    data[1:3, 1:3, 1:3] = 5
    data[6:9, 6:9, 6:9] = 9
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-10.0, -10.0, -10.0)
    path = tmp_path / "toy.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def test_labels_atlas_centroids_and_order(tmp_path: Path) -> None:
    """Regions follow the table's order; centroids are the labels' mean voxel in mm."""
    image = _toy_image(tmp_path)
    table = pd.DataFrame({"index": [9, 5], "name": ["b", "a"], "network": ["SN", "DMN"]})
    atlas = labels_atlas("toy", image, table)
    assert atlas.labels == ("b", "a")
    assert atlas.label_values == (9, 5)
    np.testing.assert_allclose(atlas.coords[0], (4.0, 4.0, 4.0))  # voxel 7 -> -10 + 14
    np.testing.assert_allclose(atlas.coords[1], (-7.0, -7.0, -7.0))  # voxel 1.5 -> -10 + 3


def test_labels_atlas_validation(tmp_path: Path) -> None:
    """Label values without names, names without voxels and unknown networks are errors."""
    image = _toy_image(tmp_path)
    only_one = pd.DataFrame({"index": [5], "name": ["a"], "network": ["DMN"]})
    with pytest.raises(InputError, match="without a row"):
        labels_atlas("toy", image, only_one)
    extra = pd.DataFrame(
        {"index": [5, 9, 11], "name": ["a", "b", "c"], "network": ["DMN", "SN", "SN"]}
    )
    with pytest.raises(InputError, match="no voxel"):
        labels_atlas("toy", image, extra)
    bad_net = pd.DataFrame({"index": [5, 9], "name": ["a", "b"], "network": ["DMN", "Default"]})
    with pytest.raises(InputError, match="not in NETWORKS"):
        labels_atlas("toy", image, bad_net)
    with pytest.raises(InputError, match="cannot read"):
        labels_atlas("toy", tmp_path / "missing.nii.gz", only_one)


def test_schaefer_needs_the_atlas_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DMNPHARM_ATLAS_DIR the message says how to provide the files."""
    monkeypatch.delenv("DMNPHARM_ATLAS_DIR", raising=False)
    with pytest.raises(InputError, match="DMNPHARM_ATLAS_DIR"):
        schaefer_atlas(100, 7)
    with pytest.raises(InputError, match="available"):
        schaefer_atlas(300, 7)


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
@pytest.mark.parametrize(
    ("name", "n_dmn"), [("schaefer100_7", 24), ("schaefer200_7", 46), ("schaefer400_7", 91)]
)
def test_schaefer_7_networks_match_the_published_counts(name: str, n_dmn: int) -> None:
    """Default-network parcel counts are those of the label files (SOURCE.txt: 24/46/91)."""
    atlas = load_atlas(name)
    assert atlas.n_regions == int(name.removeprefix("schaefer").split("_")[0])
    assert atlas.networks.count("DMN") == n_dmn
    assert set(atlas.networks) == {"VIS", "SMN", "DAN", "SN", "LIM", "FPN", "DMN"}
    # left-hemisphere parcels come first and lie left of the midline
    left = [c[0] for c, lab in zip(atlas.coords, atlas.labels, strict=True) if "_LH_" in lab]
    assert np.mean(np.asarray(left) < 0) > 0.95


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
def test_schaefer_17_networks_map_subsystems_to_dmn() -> None:
    """DefaultA/B/C and TempPar map to DMN; every source name is in the mapping."""
    atlas = load_atlas("schaefer200_17")
    assert set(atlas.source_networks) <= set(SCHAEFER_TO_VOCAB)
    dmn_sources = {
        s for s, n in zip(atlas.source_networks, atlas.networks, strict=True) if n == "DMN"
    }
    assert dmn_sources == {"DefaultA", "DefaultB", "DefaultC", "TempPar"}
