"""A user's atlas from files: regions, coordinates and labels-image tables, mapping files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dmnpharm.atlases import (
    atlas_from_file,
    is_atlas_path,
    load_atlas,
    read_network_map,
    regions_atlas,
)
from dmnpharm.exceptions import InputError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _labels_image(path: Path, values: tuple[int, ...]) -> Path:
    data = np.zeros((6, 6, 6), dtype=np.int16)
    for k, value in enumerate(values):
        data[k, :3, :3] = value
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def test_regions_table_maps_common_names_and_has_no_coordinates(tmp_path: Path) -> None:
    """Lab network names ('Default', 'SalVentAttn') map to codes; coordinates are NaN."""
    table = _write(
        tmp_path / "atlas-Lausanne463_regions.tsv",
        "label\tnetwork\tsubsystem\nctx-lh-pcc\tDefault\tcore\nctx-lh-ains\tSalVentAttn\t\n"
        "ctx-rh-ips\tDorsAttn\t\n",
    )
    atlas = regions_atlas(table)
    assert atlas.name == "Lausanne463"
    assert atlas.networks == ("DMN", "SN", "DAN")
    assert atlas.source_networks == ("Default", "SalVentAttn", "DorsAttn")
    assert atlas.subsystems == ("core", "", "")
    assert all(math.isnan(c) for xyz in atlas.coords for c in xyz)


def test_mapping_file_resolves_names_a_table_invents(tmp_path: Path) -> None:
    """A name that is neither a code nor a common name needs the mapping file, and gets it."""
    table = _write(tmp_path / "mine.tsv", "label\tnetwork\nA\tMedial wall\nB\tDMN\n")
    with pytest.raises(InputError, match=r"mine.tsv' line 2: network 'Medial wall'"):
        atlas_from_file(table)
    mapping = _write(tmp_path / "map.tsv", "name\tnetwork\nMedial wall\tNONE\n")
    assert read_network_map(mapping) == {"Medial wall": "NONE"}
    assert atlas_from_file(table, mapping).networks == ("NONE", "DMN")
    bad = _write(tmp_path / "bad.tsv", "name\tnetwork\nMedial wall\tWALL\n")
    with pytest.raises(InputError, match="outside the vocabulary"):
        read_network_map(bad)


def test_ambiguous_name_points_to_the_mapping_option(tmp_path: Path) -> None:
    """'VentralAttention' means VAN in Power/Seitzman and SN in Yeo: refused, fix named."""
    table = _write(tmp_path / "t.tsv", "label\tnetwork\nA\tVentralAttention\n")
    with pytest.raises(InputError, match=r"ambiguous.*--network-map"):
        atlas_from_file(table)


def test_coordinates_table_is_a_sphere_atlas(tmp_path: Path) -> None:
    """x, y, z columns make a coordinate atlas usable on images."""
    table = _write(
        tmp_path / "seeds.tsv",
        "label\tx\ty\tz\tnetwork\nPCC\t0\t-52\t26\tDMN\nmPFC\t0\t52\t-6\tDMN\n",
    )
    atlas = atlas_from_file(table)
    assert atlas.coords == ((0.0, -52.0, 26.0), (0.0, 52.0, -6.0))
    assert atlas.image == ""
    assert atlas.source == str(table)


def test_labels_image_with_its_table_either_way_round(tmp_path: Path) -> None:
    """The image finds its same-stem table, and the table (with 'index') finds its image."""
    image = _labels_image(tmp_path / "atlas-Lab3_dseg.nii.gz", (4, 7, 9))
    table = _write(
        tmp_path / "atlas-Lab3_dseg.tsv",
        "index\tname\tnetwork\n4\tpcc\tDefault mode\n7\tains\tSalience\n9\tips\tFPN\n",
    )
    from_image, from_table = atlas_from_file(image), atlas_from_file(table)
    assert from_image.labels == from_table.labels == ("pcc", "ains", "ips")
    assert from_image.label_values == (4, 7, 9)
    assert from_image.networks == ("DMN", "SN", "FPN")
    assert from_image.name == "Lab3"
    assert from_image.fingerprint == from_table.fingerprint


def test_missing_companions_say_what_to_write(tmp_path: Path) -> None:
    """An image without a table and a labels table without an image are named, with the fix."""
    image = _labels_image(tmp_path / "lonely.nii.gz", (1,))
    with pytest.raises(InputError, match=r"no table beside it: write '.*lonely.tsv'"):
        atlas_from_file(image)
    table = _write(tmp_path / "orphan.tsv", "index\tname\tnetwork\n1\ta\tDMN\n")
    alone = atlas_from_file(table)  # a labels table alone names time-series columns
    assert alone.image == ""
    assert alone.labels == ("a",)
    coded = _write(tmp_path / "coded.tsv", "index\tcolour\n1\tred\n")
    with pytest.raises(InputError, match="no labels image of the same stem"):
        atlas_from_file(coded)
    with pytest.raises(InputError, match="does not exist; --atlas takes"):
        atlas_from_file(tmp_path / "nowhere.tsv")


def test_names_and_paths_are_told_apart_and_unknown_names_listed() -> None:
    """Registered names stay names; anything with a separator or an atlas suffix is a path."""
    assert not is_atlas_path("schaefer200_7")
    assert is_atlas_path("mine.tsv")
    assert is_atlas_path(Path("x"))
    assert is_atlas_path("a/b")
    with pytest.raises(
        InputError, match=r"neither a registered atlas.*did you mean 'seitzman300'"
    ):
        load_atlas("seitzman30")


def test_fingerprint_follows_content_and_load_atlas_rereads_a_changed_file(
    tmp_path: Path,
) -> None:
    """Same content, same fingerprint; an edited network is another atlas, read again."""
    table = _write(tmp_path / "t.tsv", "label\tnetwork\nA\tDMN\nB\tSN\n")
    first = load_atlas(table)
    assert load_atlas(str(table)) is first
    copy = _write(tmp_path / "u.tsv", table.read_text())
    assert load_atlas(copy).fingerprint == first.fingerprint
    _write(table, "label\tnetwork\nA\tDMN\nB\tDMN\n")
    os.utime(table, ns=(1, 10**18))
    changed = load_atlas(table)
    assert changed.networks == ("DMN", "DMN")
    assert changed.fingerprint != first.fingerprint


def test_column_names_other_tools_write_are_recognised(tmp_path: Path) -> None:
    """'Region'/'ROI' and 'Network' in any case, X/Y/Z: a coordinate atlas all the same."""
    table = _write(tmp_path / "conn.tsv", "ROI\tX\tY\tZ\tNetwork\nPCC\t0\t-52\t26\tDefault\n")
    atlas = atlas_from_file(table)
    assert atlas.labels == ("PCC",)
    assert atlas.coords == ((0.0, -52.0, 26.0),)
    regions = _write(tmp_path / "r.tsv", "Region\tSystem\nA\tDefault\nB\tSalience\n")
    assert atlas_from_file(regions).networks == ("DMN", "SN")
