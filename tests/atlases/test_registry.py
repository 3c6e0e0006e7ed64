"""The embedded atlases, the network vocabulary, DMN subsystems and the registry."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import (
    ANDREWS_HANNA_RADIUS_MM,
    NETWORKS,
    SUBSYSTEMS,
    Atlas,
    available_atlases,
    clear_atlas_cache,
    load_atlas,
)
from dmnpharm.exceptions import InputError

_EMBEDDED = ("seitzman300", "dosenbach160", "andrews_hanna")
_FROM_FOLDER = (
    *(f"schaefer{p}_{n}" for p in (100, 200, 400) for n in (7, 17)),
    *(f"schaefer{p}_7_tian" for p in (100, 200, 400)),
    "yeo7",
    "yeo17",
)


def test_seitzman300_regions_and_networks() -> None:
    """Seitzman-300 has 300 regions; its network counts follow the published labels."""
    atlas = load_atlas("seitzman300")
    assert atlas.n_regions == 300
    assert len(set(atlas.labels)) == 300
    assert atlas.networks.count("DMN") == 67
    assert atlas.networks.count("SN") == 9
    assert set(atlas.networks) <= set(NETWORKS)
    assert atlas.subsystems == ()
    dmn = atlas.network_indices("DMN")
    assert all(atlas.source_networks[i] == "DefaultMode" for i in dmn)
    # the posterior cingulate/precuneus core of the DMN lies near the midline, posterior
    coords = np.asarray(atlas.coords)[dmn]
    assert np.any((np.abs(coords[:, 0]) < 12) & (coords[:, 1] < -40) & (coords[:, 2] > 15))


def test_dosenbach160_loads() -> None:
    """Dosenbach-160 has 160 regions, 34 of them default-network, and no subsystems."""
    atlas = load_atlas("dosenbach160")
    assert atlas.n_regions == 160
    assert atlas.networks.count("DMN") == 34
    assert atlas.subsystems == ()


def test_andrews_hanna_regions_and_subsystems() -> None:
    """The 11 Andrews-Hanna (2010) ROIs: all DMN, in three subsystems (2 + 4 + 5)."""
    atlas = load_atlas("andrews_hanna")
    assert atlas.n_regions == 11
    assert set(atlas.networks) == {"DMN"}
    assert atlas.image == ""
    assert [atlas.labels[i] for i in atlas.subsystem_indices("core")] == ["aMPFC", "PCC"]
    assert [atlas.labels[i] for i in atlas.subsystem_indices("dmpfc")] == [
        "dMPFC",
        "TPJ",
        "LTC",
        "TempP",
    ]
    assert [atlas.labels[i] for i in atlas.subsystem_indices("mtl")] == [
        "vMPFC",
        "pIPL",
        "Rsp",
        "PHC",
        "HF+",
    ]
    coords = dict(zip(atlas.labels, atlas.coords, strict=True))
    assert coords["PCC"] == (-8.0, -56.0, 26.0)
    assert coords["HF+"] == (-22.0, -20.0, -26.0)
    # left hemisphere and midline only
    assert all(x <= 0 for x, _, _ in atlas.coords)
    assert ANDREWS_HANNA_RADIUS_MM == 8.0
    assert "8-mm" in atlas.reference
    assert "Neuron 65:550" in atlas.reference
    assert set(atlas.source_networks) == {"midline core", "dMPFC subsystem", "MTL subsystem"}


@pytest.mark.realdata
def test_andrews_hanna_matches_the_staged_table(shared_data: Path) -> None:
    """The embedded coordinates equal the staged copy (DPABI's, identical to the paper)."""
    path = shared_data / "atlases" / "andrews_hanna_2010_dmn_subsystems_MNI.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    table = pd.read_csv(path)
    atlas = load_atlas("andrews_hanna")
    assert tuple(table["roi"]) == atlas.labels
    np.testing.assert_array_equal(table[["x_mni", "y_mni", "z_mni"]].to_numpy(), atlas.coords)
    paper_names = {"core": "core", "dMPFC_subsystem": "dmpfc", "MTL_subsystem": "mtl"}
    assert tuple(table["subsystem"].map(paper_names)) == atlas.subsystems


def test_registry_lists_every_atlas() -> None:
    """available_atlases names the embedded and the folder atlases, sorted."""
    names = available_atlases()
    assert set(names) == {*_EMBEDDED, *_FROM_FOLDER}
    assert list(names) == sorted(names)


def test_unknown_atlas_suggests_closest() -> None:
    """A misspelt atlas name gets a suggestion."""
    assert "seitzman300" in available_atlases()
    with pytest.raises(InputError, match="did you mean 'seitzman300'"):
        load_atlas("seitzman-300")
    with pytest.raises(InputError, match="did you mean 'andrews_hanna'"):
        load_atlas("andrews-hanna")


@pytest.mark.parametrize("name", _FROM_FOLDER)
def test_folder_atlases_say_how_to_get_the_files(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without DMNPHARM_ATLAS_DIR every folder atlas names the variable to set."""
    monkeypatch.delenv("DMNPHARM_ATLAS_DIR", raising=False)
    clear_atlas_cache()
    with pytest.raises(InputError, match="set DMNPHARM_ATLAS_DIR"):
        load_atlas(name)
    clear_atlas_cache()


def test_network_indices_errors() -> None:
    """Unknown codes and networks the atlas lacks are clear errors."""
    atlas = load_atlas("dosenbach160")
    with pytest.raises(InputError, match="did you mean 'DMN'"):
        atlas.network_indices("dmn")
    with pytest.raises(ValueError, match="has no region in network 'SN'"):
        atlas.network_indices("SN")
    with pytest.raises(ValueError, match=r"no region in network 'SN'; it has DMN$"):
        load_atlas("andrews_hanna").network_indices("SN")


def test_subsystem_indices_errors() -> None:
    """Unknown subsystem codes, and atlases without subsystems, are clear errors."""
    atlas = load_atlas("andrews_hanna")
    with pytest.raises(InputError, match="did you mean 'mtl'"):
        atlas.subsystem_indices("MTL")
    with pytest.raises(ValueError, match="seitzman300' has no region in subsystem 'core'; it "):
        load_atlas("seitzman300").subsystem_indices("core")
    with pytest.raises(ValueError, match="andrews_hanna, schaefer\\*_17 and yeo17 do"):
        load_atlas("seitzman300").subsystem_indices("core")
    two = ("two", ("a", "b"), ("DMN", "SN"), ("d", "s"), ((0, 0, 0), (1, 1, 1)), "MNI152", "")
    partial = Atlas(*two, subsystems=("core", ""))
    np.testing.assert_array_equal(partial.subsystem_indices("core"), [0])
    with pytest.raises(ValueError, match=r"no region in subsystem 'mtl'; it has core$"):
        partial.subsystem_indices("mtl")


def test_subsystem_codes() -> None:
    """SUBSYSTEMS holds the three Andrews-Hanna subsystems, each described."""
    assert list(SUBSYSTEMS) == ["core", "dmpfc", "mtl"]
    assert all(text for text in SUBSYSTEMS.values())
    assert "posterior cingulate" in SUBSYSTEMS["core"]


def test_atlas_checks_lengths() -> None:
    """Per-region fields must all have one entry per region."""
    with pytest.raises(ValueError, match="networks has a length"):
        Atlas("x", ("a", "b"), ("DMN",), ("d", "d"), ((0, 0, 0), (1, 1, 1)), "MNI152", "")
    with pytest.raises(ValueError, match="not in NETWORKS"):
        Atlas("x", ("a",), ("XYZ",), ("d",), ((0, 0, 0),), "MNI152", "")
    with pytest.raises(ValueError, match=r"not unique: \['a'\]"):
        Atlas("x", ("a", "a"), ("DMN", "DMN"), ("d", "d"), ((0, 0, 0), (1, 1, 1)), "MNI152", "")


def test_atlas_checks_subsystems() -> None:
    """Subsystems default to none; given, they are per region, known and DMN-only."""
    args = ("x", ("a", "b"), ("DMN", "SN"), ("d", "s"), ((0, 0, 0), (1, 1, 1)), "MNI152", "")
    assert Atlas(*args).subsystems == ()
    with pytest.raises(ValueError, match="one entry per region \\(2\\); it has 1"):
        Atlas(*args, subsystems=("core",))
    with pytest.raises(ValueError, match=r"\['ventral'\] are not in SUBSYSTEMS"):
        Atlas(*args, subsystems=("ventral", ""))
    with pytest.raises(ValueError, match=r"outside the DMN have a DMN subsystem: \['b'\]"):
        Atlas(*args, subsystems=("core", "mtl"))


@pytest.mark.parametrize(
    ("builder", "fetcher"),
    [
        ("seitzman300", "fetch_coords_seitzman_2018"),
        ("dosenbach160", "fetch_coords_dosenbach_2010"),
    ],
)
def test_embedded_tables_read_directly_equal_nilearns_fetchers(
    builder: str, fetcher: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading nilearn's data files directly gives exactly what its fetchers return."""
    import nilearn.datasets

    from dmnpharm.atlases import _embedded

    direct = getattr(_embedded, builder)()
    bunch = getattr(nilearn.datasets, fetcher)(ordered_regions=False)
    np.testing.assert_array_equal(np.asarray(direct.coords), bunch["rois"].to_numpy(float))
    assert list(direct.source_networks) == [str(n) for n in bunch["networks"]]
    # and when nilearn keeps its tables elsewhere, the fetchers give the same atlas
    monkeypatch.setattr(_embedded, "_nilearn_table", lambda _name: None)
    assert getattr(_embedded, builder)() == direct
