"""Atlases from labels images: Schaefer 2018 from the atlas folder and a user's own."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import (
    SCHAEFER_TO_SUBSYSTEM,
    SCHAEFER_TO_VOCAB,
    SUBSYSTEMS,
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
    bad_net = pd.DataFrame({"index": [5, 9], "name": ["a", "b"], "network": ["DMN", "Wernicke"]})
    with pytest.raises(InputError, match="neither a code of NETWORKS"):
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


def test_labels_atlas_reads_a_tsv_with_mapping_and_subsystems(tmp_path: Path) -> None:
    """A TSV table, network names through a mapping, and a subsystem column."""
    image = _toy_image(tmp_path)
    table = tmp_path / "toy.tsv"
    table.write_text("index\tname\tnetwork\tsubsystem\n5\ta\tDefault\tmtl\n9\tb\tSN\t\n")
    atlas = labels_atlas("toy", image, table, network_map={"Default": "DMN"})
    assert atlas.networks == ("DMN", "SN")
    assert atlas.source_networks == ("Default", "SN")
    assert atlas.subsystems == ("mtl", "")
    np.testing.assert_array_equal(atlas.subsystem_indices("mtl"), [0])
    without = labels_atlas(
        "toy",
        image,
        pd.read_csv(table, sep="\t").drop(columns="subsystem"),
        network_map={"Default": "DMN"},
    )
    assert without.subsystems == ()


def test_labels_atlas_names_file_row_and_value(tmp_path: Path) -> None:
    """Errors from a TSV table name the file, its line and the value, and suggest a fix."""
    image = _toy_image(tmp_path)
    table = tmp_path / "toy.tsv"
    table.write_text("index\tname\tnetwork\n5\ta\tDMN\n9\tb\tdefault net\n")
    with pytest.raises(InputError, match=r"toy.tsv' line 3: network 'default net' is neither"):
        labels_atlas("toy", image, table)
    with pytest.raises(InputError, match=r"DMN, SN, FPN, DAN, VAN, CON, VIS, SMN, AUD, MTL"):
        labels_atlas("toy", image, table)
    with pytest.raises(InputError, match=r"nor a name of the mapping given \(Default\)"):
        labels_atlas("toy", image, table, network_map={"Default": "DMN"})
    with pytest.raises(InputError, match=r"sends {'default': 'Default'} outside"):
        labels_atlas("toy", image, table, network_map={"default": "Default"})
    table.write_text("index\tname\tnetwork\n5\ta\tDMN\n5\tb\tSN\n")
    with pytest.raises(
        InputError, match="line 3: index '5' repeats line 2; each region needs its own index"
    ):
        labels_atlas("toy", image, table)
    table.write_text("index\tname\tnetwork\n5\ta\tDMN\n9\ta\tSN\n")
    with pytest.raises(InputError, match=r"toy.tsv' line 3: name 'a' repeats line 2"):
        labels_atlas("toy", image, table)
    table.write_text("index\tname\tnetwork\n5\ta\tDMN\nnine\tb\tSN\n")
    with pytest.raises(InputError, match="line 3: index 'nine' is not a positive integer"):
        labels_atlas("toy", image, table)
    table.write_text("index\tname\tnetwork\tsubsystem\n5\ta\tDMN\t\n9\tb\tSN\tcore\n")
    with pytest.raises(InputError, match="line 3: subsystem 'core' is a DMN subsystem but"):
        labels_atlas("toy", image, table)
    table.write_text("index\tname\tnetwork\tsubsystem\n5\ta\tDMN\tMTL\n9\tb\tSN\t\n")
    with pytest.raises(InputError, match=r"line 2: subsystem 'MTL' .*did you mean 'mtl'"):
        labels_atlas("toy", image, table)
    table.write_text("index\tlabel\tnetwork\n5\ta\tDMN\n9\tb\tSN\n")
    with pytest.raises(InputError, match=r"has no column 'name'.* has index, label, network"):
        labels_atlas("toy", image, table)


def test_labels_atlas_errors_name_the_rows_of_a_dataframe(tmp_path: Path) -> None:
    """Rows of a DataFrame table are named by their index label; the values are listed."""
    image = _toy_image(tmp_path)
    extra = pd.DataFrame(
        {"index": [5, 9, 11], "name": ["a", "b", "c"], "network": ["DMN", "SN", "SN"]},
        index=["r1", "r2", "r3"],
    )
    with pytest.raises(InputError, match=r"1 row\(s\) name labels .* row 'r3' \(index 11\)"):
        labels_atlas("toy", image, extra)
    only_one = pd.DataFrame({"index": [5], "name": ["a"], "network": ["DMN"]})
    with pytest.raises(InputError, match=r"1 label value.* without a row .*: 9; add a row"):
        labels_atlas("toy", image, only_one)


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
@pytest.mark.parametrize(
    ("n_parcels", "counts"),
    [(100, (7, 10, 4)), (200, (14, 17, 6)), (400, (34, 32, 13))],
)
def test_schaefer_17_networks_carry_subsystems(
    n_parcels: int, counts: tuple[int, int, int]
) -> None:
    """DefaultA/B/C parcels are the core/dMPFC/MTL subsystems; TempPar has none."""
    atlas = load_atlas(f"schaefer{n_parcels}_17")
    for code, count in zip(("core", "dmpfc", "mtl"), counts, strict=True):
        idx = atlas.subsystem_indices(code)
        assert idx.size == count
        assert {atlas.source_networks[i] for i in idx} == {
            s for s, c in SCHAEFER_TO_SUBSYSTEM.items() if c == code
        }
    temppar = [i for i, s in enumerate(atlas.source_networks) if s == "TempPar"]
    assert temppar
    assert all(atlas.subsystems[i] == "" for i in temppar)
    assert all(atlas.networks[i] == "DMN" for i in temppar)


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
def test_schaefer_7_networks_have_no_subsystems() -> None:
    """The 7-network Default is not divided into subsystems."""
    atlas = load_atlas("schaefer200_7")
    assert atlas.subsystems == ()
    with pytest.raises(ValueError, match="assigns no region to a DMN subsystem"):
        atlas.subsystem_indices("core")


def test_schaefer_subsystem_mapping() -> None:
    """Only Default A/B/C have a subsystem, one each, all DMN networks."""
    assert SCHAEFER_TO_SUBSYSTEM == {"DefaultA": "core", "DefaultB": "dmpfc", "DefaultC": "mtl"}
    assert set(SCHAEFER_TO_SUBSYSTEM.values()) == set(SUBSYSTEMS)
    assert all(SCHAEFER_TO_VOCAB[name] == "DMN" for name in SCHAEFER_TO_SUBSYSTEM)
