"""Schaefer 2018 (7 networks) + Tian S1 subcortex: label files, a synthetic folder, real files."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dmnpharm.atlases import TIAN_S1_LABELS, load_atlas, schaefer_tian_atlas
from dmnpharm.exceptions import InputError

_STEM = "Schaefer2018_{n}Parcels_7Networks_order_Tian_Subcortex_"


def test_tian_s1_labels() -> None:
    """16 structures, right hemisphere first, each structure once per hemisphere."""
    assert len(TIAN_S1_LABELS) == 16
    assert TIAN_S1_LABELS[:2] == ("HIP-rh", "AMY-rh")
    assert TIAN_S1_LABELS[8:10] == ("HIP-lh", "AMY-lh")
    assert [s.replace("-rh", "-lh") for s in TIAN_S1_LABELS[:8]] == list(TIAN_S1_LABELS[8:])


def test_tian_unknown_variant() -> None:
    """Only 100, 200 and 400 parcels are offered."""
    with pytest.raises(InputError, match="with 300 parcels; available: 100, 200, 400"):
        schaefer_tian_atlas(300)


def _label_text(names: list[str]) -> str:
    return "".join(f"{name}\n{v} 10 20 30 255\n" for v, name in enumerate(names, start=1))


def _synthetic_tian(root: Path, n: int, subcortex: list[str], variant: str = "S1") -> Path:
    folder = root / "schaefer2018_tian_subcortex"
    folder.mkdir(exist_ok=True)
    stem = _STEM.format(n=n)
    n_labels = 16 + n
    data = (np.arange(7 * 8 * 9).reshape(7, 8, 9) % (n_labels + 1)).astype(np.float32)
    nib.save(
        nib.Nifti1Image(data, np.diag([-2.0, 2.0, 2.0, 1.0])),
        folder / f"{stem}S1_MNI152NLin6Asym_2mm.nii.gz",
    )
    cortex = [f"7Networks_{'LH' if i < n // 2 else 'RH'}_Default_{i + 1}" for i in range(n)]
    label_file = folder / f"{stem}{variant}_label.txt"
    label_file.write_text(_label_text([*subcortex, *cortex]))
    return label_file


def test_tian_atlas_from_a_synthetic_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subcortex is values 1-16 (SUB), then the Schaefer parcels in order, value = index + 16."""
    _synthetic_tian(tmp_path, 100, list(TIAN_S1_LABELS))
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(tmp_path))
    atlas = schaefer_tian_atlas(100)
    assert atlas.name == "schaefer100_7_tian"
    assert atlas.n_regions == 116
    assert atlas.label_values == tuple(range(1, 117))
    assert atlas.labels[:16] == TIAN_S1_LABELS
    assert atlas.networks[:16] == ("SUB",) * 16
    assert atlas.source_networks[:16] == ("Subcortex",) * 16
    assert atlas.labels[16] == "7Networks_LH_Default_1"
    assert atlas.networks[16:] == ("DMN",) * 100
    assert atlas.subsystems == ()
    assert "Nat Neurosci 23:1421" in atlas.reference


def test_tian_label_file_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong S1 names, a scale-2 file where S1 is expected and broken pairs are errors."""
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(tmp_path))
    label_file = _synthetic_tian(tmp_path, 200, [*TIAN_S1_LABELS[:15], "CAUD-lh"])
    with pytest.raises(InputError, match=r"subcortical names .* are not the Tian S1 names"):
        schaefer_tian_atlas(200)
    _synthetic_tian(tmp_path, 200, [f"s2-{i}" for i in range(32)])
    with pytest.raises(InputError, match=r"expected 16 subcortical.* found 32 subcortical"):
        schaefer_tian_atlas(200)
    label_file.write_text(label_file.read_text() + "extra name\n")
    with pytest.raises(InputError, match="odd number of non-empty lines"):
        schaefer_tian_atlas(200)
    label_file.write_text("HIP-rh\n1 2 3\n")
    with pytest.raises(InputError, match="line 2: '1 2 3' is not 'index R G B A'"):
        schaefer_tian_atlas(200)


def test_tian_400_uses_the_scale_2_label_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For 400 parcels the S2 label file's cortex (values 33..) names the S1 image's 17.."""
    s2 = [f"{s}-{h}" for h in ("rh", "lh") for s in "abcdefghijklmnop"]
    _synthetic_tian(tmp_path, 400, s2, variant="S2")
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(tmp_path))
    atlas = schaefer_tian_atlas(400)
    assert atlas.n_regions == 416
    assert atlas.labels[:16] == TIAN_S1_LABELS
    assert not set(s2) & set(atlas.labels)
    assert atlas.label_values[16] == 17
    assert atlas.labels[16] == "7Networks_LH_Default_1"
    assert atlas.labels[-1] == "7Networks_RH_Default_400"


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
@pytest.mark.parametrize(("n", "n_dmn"), [(100, 24), (200, 46), (400, 91)])
def test_tian_real_files(n: int, n_dmn: int) -> None:
    """16 + N regions; DMN counts as in SOURCE.txt; cortex equals the Schaefer-only atlas."""
    atlas = load_atlas(f"schaefer{n}_7_tian")
    assert atlas.n_regions == 16 + n
    assert atlas.label_values == tuple(range(1, 17 + n))
    assert atlas.networks.count("DMN") == n_dmn
    np.testing.assert_array_equal(atlas.network_indices("SUB"), np.arange(16))
    assert set(atlas.networks[16:]) == {"VIS", "SMN", "DAN", "SN", "LIM", "FPN", "DMN"}
    cortex = load_atlas(f"schaefer{n}_7")
    assert atlas.labels[16:] == cortex.labels
    assert atlas.source_networks[16:] == cortex.source_networks
    # same parcels under the same names: centroids within 1 mm (Tian overwrote a few voxels)
    shift = np.linalg.norm(np.subtract(atlas.coords[16:], cortex.coords), axis=1)
    assert shift.max() < 1.0
    # right-hemisphere structures come first and lie right of the midline
    x = np.asarray(atlas.coords)[:16, 0]
    assert np.all(x[:8] > 0)
    assert np.all(x[8:] < 0)


@pytest.mark.realdata
def test_tian_400_label_file_is_scale_2(atlas_folder: Path) -> None:
    """The staged 400 label file lists 32 subcortical labels; none reaches the atlas."""
    path = atlas_folder / "schaefer2018_tian_subcortex" / f"{_STEM.format(n=400)}S2_label.txt"
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    names = lines[0::2]
    assert sum(not name.startswith("7Networks_") for name in names) == 32
    assert names[32] == "7Networks_LH_Vis_1"
    assert lines[65].split()[0] == "33"
    atlas = load_atlas("schaefer400_7_tian")
    assert not set(names[:32]) & set(atlas.labels)
    assert atlas.labels[16] == "7Networks_LH_Vis_1"
    assert atlas.label_values[16] == 17
