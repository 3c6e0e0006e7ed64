"""Yeo 2011 7- and 17-network atlases: name tables, a synthetic folder and the real volumes."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import (
    SCHAEFER_TO_SUBSYSTEM,
    SCHAEFER_TO_VOCAB,
    YEO7_NETWORKS,
    YEO7_TO_VOCAB,
    YEO17_NETWORKS,
    YEO17_TO_YEO7,
    Atlas,
    load_atlas,
    yeo_atlas,
)
from dmnpharm.exceptions import InputError

# Schaefer's 7-network names, in Yeo's network order.
_SCHAEFER7 = ("Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default")


def test_yeo_name_tables_agree_with_the_schaefer_mapping() -> None:
    """Yeo-7 and Yeo-17 names reach the same codes as Schaefer's names for those networks."""
    assert tuple(YEO7_TO_VOCAB) == YEO7_NETWORKS
    assert [YEO7_TO_VOCAB[n] for n in YEO7_NETWORKS] == [SCHAEFER_TO_VOCAB[n] for n in _SCHAEFER7]
    assert len(YEO17_NETWORKS) == len(set(YEO17_NETWORKS)) == 17
    assert set(YEO17_TO_YEO7) == set(YEO17_NETWORKS)
    assert set(YEO17_TO_YEO7.values()) == set(YEO7_NETWORKS)
    for name in YEO17_NETWORKS:
        assert YEO7_TO_VOCAB[YEO17_TO_YEO7[name]] == SCHAEFER_TO_VOCAB[name], name
    assert [n for n in YEO17_NETWORKS if YEO17_TO_YEO7[n] == "Default"] == [
        "TempPar",
        "DefaultC",
        "DefaultA",
        "DefaultB",
    ]


def test_yeo_unknown_variant() -> None:
    """Only 7 and 17 networks exist."""
    with pytest.raises(InputError, match="no Yeo 2011 atlas with 12 networks; available: 7, 17"):
        yeo_atlas(12)


def _synthetic_yeo(root: Path, n: int) -> None:
    folder = root / "yeo2011_neuroparc"
    folder.mkdir(exist_ok=True)
    data = (np.arange(7 * 8 * 9).reshape(7, 8, 9) % (n + 1)).astype(np.float32)
    affine = np.diag([-2.0, 2.0, 2.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), folder / f"Yeo-{n}_space-MNI152NLin6_res-2x2x2.nii.gz")


@pytest.mark.parametrize("n", [7, 17])
def test_yeo_atlas_from_a_synthetic_folder(
    n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One region per label value, named and mapped by value; subsystems only for 17."""
    _synthetic_yeo(tmp_path, n)
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(tmp_path))
    atlas = yeo_atlas(n)
    names = YEO7_NETWORKS if n == 7 else YEO17_NETWORKS
    assert atlas.name == f"yeo{n}"
    assert atlas.label_values == tuple(range(1, n + 1))
    assert atlas.source_networks == names
    assert atlas.labels[-1] == f"{n}Networks_{n}_{names[-1]}"
    assert "J Neurophysiol 106:1125" in atlas.reference
    if n == 7:
        assert atlas.networks == ("VIS", "SMN", "DAN", "SN", "LIM", "FPN", "DMN")
        assert atlas.subsystems == ()
    else:
        assert atlas.networks.count("DMN") == 4
        assert atlas.subsystems[14:] == ("mtl", "core", "dmpfc")
        assert atlas.subsystems[:14] == ("",) * 14


def test_yeo_atlas_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder without the Yeo volume names the missing file."""
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(tmp_path))
    with pytest.raises(
        InputError, match=r"Yeo-17_space-MNI152NLin6_res-2x2x2\.nii\.gz' is missing"
    ):
        yeo_atlas(17)


def _labels(atlas: Atlas) -> np.ndarray:
    return np.round(np.asarray(nib.load(atlas.image).dataobj)).astype(int)


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
@pytest.mark.parametrize(("n", "schaefer"), [(7, "schaefer400_7"), (17, "schaefer400_17")])
def test_yeo_names_match_the_schaefer_networks_they_overlap(n: int, schaefer: str) -> None:
    """Most voxels of each Yeo network lie in Schaefer parcels of the network of that name."""
    yeo = load_atlas(f"yeo{n}")
    parcels = load_atlas(schaefer)
    yeo_values, parcel_values = _labels(yeo), _labels(parcels)
    assert yeo_values.shape == parcel_values.shape == (91, 109, 91)
    parcel_network = dict(zip(parcels.label_values, parcels.source_networks, strict=True))
    for value, name in zip(yeo.label_values, yeo.source_networks, strict=True):
        inside = (yeo_values == value) & (parcel_values > 0)
        found = pd.Series([parcel_network[int(v)] for v in parcel_values[inside]])
        share = found.value_counts(normalize=True)
        expected = _SCHAEFER7[YEO7_NETWORKS.index(name)] if n == 7 else name
        assert share.index[0] == expected, (value, name, share.head(3).to_dict())
        assert share.iloc[0] > 0.55


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
def test_yeo_real_volumes() -> None:
    """yeo7: 7 networks, Default is label 7; yeo17: 4 DMN networks, 3 with a subsystem."""
    yeo7 = load_atlas("yeo7")
    assert yeo7.n_regions == 7
    assert set(np.unique(_labels(yeo7))) == set(range(8))
    assert yeo7.labels[yeo7.network_indices("DMN")[0]] == "7Networks_7_Default"
    yeo17 = load_atlas("yeo17")
    assert set(np.unique(_labels(yeo17))) == set(range(18))
    assert [yeo17.source_networks[i] for i in yeo17.network_indices("DMN")] == [
        "TempPar",
        "DefaultC",
        "DefaultA",
        "DefaultB",
    ]
    for code in ("core", "dmpfc", "mtl"):
        (i,) = yeo17.subsystem_indices(code)
        assert SCHAEFER_TO_SUBSYSTEM[yeo17.source_networks[i]] == code
    # the MTL-subsystem proxy (Default C) lies posterior and ventral to the core (Default A)
    core, mtl = yeo17.coords[15], yeo17.coords[14]
    assert mtl[1] < core[1] - 20
    assert mtl[2] < core[2] - 10


@pytest.mark.realdata
def test_neuroparc_label_files(atlas_folder: Path) -> None:
    """Yeo-7's csv agrees with YEO7_NETWORKS; Yeo-17's does not describe its volume."""
    folder = atlas_folder / "yeo2011_neuroparc"
    csv7 = pd.read_csv(folder / "Yeo-7_labels.csv", header=None, names=["value", "name"])
    neuroparc7 = {
        "Visual_Area": "Visual",
        "Somatomotor_Area": "Somatomotor",
        "Dorsal_Area": "DorsalAttention",
        "Ventral_Area": "VentralAttention",
        "Lymbic_Area": "Limbic",
        "Frontoparietal_Area": "Frontoparietal",
        "Default_Network_Area": "Default",
    }
    named = csv7[csv7["value"] > 0]
    assert list(named["value"]) == list(range(1, 8))
    assert [neuroparc7[n.split("_", 1)[1]] for n in named["name"]] == list(YEO7_NETWORKS)
    csv17 = pd.read_csv(folder / "Yeo-17_labels.csv", header=None, names=["value", "name"])
    csv_name = dict(zip(csv17["value"], csv17["name"], strict=True))
    # value 16 is Default A by its overlap with Schaefer (test above); the csv says Limbic A
    assert YEO17_NETWORKS[15] == "DefaultA"
    assert csv_name[16] == "16_Limbic_A"
