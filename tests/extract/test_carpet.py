"""Carpet-plot samples of one run: grouping, sampling, standardisation, the planted spike."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from itertools import groupby
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes
from scipy.signal import detrend

import dmnpharm.extract._carpet as carpet_module
from dmnpharm.atlases import Atlas, dlabel_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import Carpet, carpet_sample
from dmnpharm.extract._carpet import OUTSIDE_SHARE
from image_files import CIFTI_KEYS, cifti_models, save_nifti

SHAPE = (12, 10, 8)
N_VOLUMES = 30
TR = 2.0
#: Voxel centres at even mm: x = -12 + 2i, y = -10 + 2j, z = -8 + 2k.
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -12.0], [0.0, 2.0, 0.0, -10.0], [0.0, 0.0, 2.0, -8.0], [0, 0, 0, 1.0]]
)
#: Regions in atlas order: networks VIS, DMN, VIS, SMN, DMN (DMN goes first in the carpet).
NETWORKS = ("VIS", "DMN", "VIS", "SMN", "DMN")
VALUES = (1, 2, 3, 4, 5)
#: The one voxel of region 5 carries a spike at this volume.
SPIKE_VOXEL, SPIKE_VOLUME = (9, 8, 6), 17
CARPET_ORDER = ["DMN", "VIS", "SMN", "outside atlas"]


def _labels() -> npt.NDArray[np.int16]:
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[0:3, 0:4, 0:3] = 1  # 36 voxels
    labels[3:6, 0:5, 0:4] = 2  # 60
    labels[0:2, 5:9, 3:6] = 3  # 24
    labels[6:10, 0:3, 0:2] = 4  # 24
    labels[SPIKE_VOXEL] = 5  # 1
    return labels


def _inside() -> npt.NDArray[np.bool_]:
    inside = np.zeros(SHAPE, dtype=bool)
    inside[0:11, 0:9, 0:7] = True  # most of the grid, part of it outside every region
    return inside


def _atlas(**image: Any) -> Atlas:
    n = len(NETWORKS)
    return Atlas(
        name="toy",
        labels=tuple(f"r{i + 1}" for i in range(n)),
        networks=NETWORKS,
        source_networks=NETWORKS,
        coords=((0.0, 0.0, 0.0),) * n,
        space="MNI152",
        reference="",
        **image,
    )


def _save(path: Path, data: npt.ArrayLike) -> Path:
    return save_nifti(path, data, AFFINE, TR)


@pytest.fixture
def run(tmp_path: Path, rng: np.random.Generator) -> dict[str, Any]:
    """Write a run with per-voxel offsets and drifts, a spike, a NaN and a constant voxel."""
    times = np.arange(N_VOLUMES)
    data = 1000.0 + 50.0 * rng.standard_normal(SHAPE)[..., None]
    data = data + rng.normal(0.0, 2.0, SHAPE)[..., None] * times  # linear drifts
    data = data + 10.0 * rng.standard_normal((*SHAPE, N_VOLUMES))
    data[(*SPIKE_VOXEL, SPIKE_VOLUME)] += 500.0
    data[1, 1, 1, 5] = np.nan  # in region 1
    data[4, 1, 1] = 321.0  # constant, in region 2
    data = data.astype(np.float32)
    bold = _save(tmp_path / "bold.nii.gz", data)
    mask = _save(tmp_path / "mask.nii.gz", _inside().astype(np.uint8))
    image = _save(tmp_path / "labels.nii.gz", _labels())
    atlas = _atlas(image=str(image), label_values=VALUES)
    return {"bold": bold, "mask": mask, "atlas": atlas, "data": data}


def _reference(data: npt.NDArray[np.float32], voxels: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """Detrended, z-scored series of the given voxels, in file (Fortran) order."""
    flat = data.reshape(-1, N_VOLUMES, order="F")[np.flatnonzero(voxels.ravel(order="F"))]
    finite = np.isfinite(flat).all(axis=1)
    rows = detrend(np.where(finite[:, None], flat, 0.0).astype(np.float64), axis=1)
    sd = rows.std(axis=1)
    usable = finite & (sd > 1e-6)
    z = np.zeros_like(rows)
    z[usable] = rows[usable] / sd[usable, None]
    return z


def test_all_rows_equal_a_scipy_reference_in_network_order(run: dict[str, Any]) -> None:
    """Unsampled: each region's voxels, detrended and z-scored, networks DMN first."""
    carpet = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=10_000)
    labels, inside = _labels(), _inside()
    order = [(2, "DMN"), (5, "DMN"), (1, "VIS"), (3, "VIS"), (4, "SMN")]
    pieces = [_reference(run["data"], (labels == v) & inside) for v, _ in order]
    pieces.append(_reference(run["data"], (labels == 0) & inside))
    np.testing.assert_allclose(carpet.data, np.vstack(pieces), atol=2e-5)
    sizes = [int(((labels == v) & inside).sum()) for v, _ in order]
    expected_networks = [net for (_, net), n in zip(order, sizes, strict=True) for _ in range(n)]
    outside = int(((labels == 0) & inside).sum())
    assert list(carpet.networks) == expected_networks + ["outside atlas"] * outside
    assert [k for k, _ in groupby(carpet.regions)] == [
        "r2",
        "r5",
        "r1",
        "r3",
        "r4",
        "outside atlas",
    ]
    assert carpet.data.dtype == np.float32
    assert carpet.source == str(run["bold"])


def test_rows_are_z_scored_nan_free_and_detrended(run: dict[str, Any]) -> None:
    """Every row has mean 0 and SD 1 (or is all zeros: the NaN and the constant voxel)."""
    carpet = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=10_000)
    data = carpet.data.astype(np.float64)
    assert np.isfinite(data).all()
    zero = ~data.any(axis=1)
    assert zero.sum() == 2
    np.testing.assert_allclose(data[~zero].mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(data[~zero].std(axis=1), 1.0, atol=1e-5)
    slope = data[~zero] @ (np.arange(N_VOLUMES) - (N_VOLUMES - 1) / 2)
    np.testing.assert_allclose(slope, 0.0, atol=1e-3)


def test_the_planted_spike_is_in_its_column(run: dict[str, Any]) -> None:
    """The spike voxel's row peaks at the spike's volume."""
    carpet = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=10_000)
    row = carpet.regions.index("r5")
    assert carpet.networks[row] == "DMN"
    assert int(np.argmax(carpet.data[row])) == SPIKE_VOLUME
    assert carpet.data[row, SPIKE_VOLUME] > 4.0


def test_sampling_is_capped_proportional_grouped_and_deterministic(run: dict[str, Any]) -> None:
    """At most max_rows rows, in proportion to region size, the same for the same seed."""
    first = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=100, seed=3)
    again = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=100, seed=3)
    other = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=100, seed=4)
    assert first.n_rows == 100
    assert first.n_volumes == N_VOLUMES
    np.testing.assert_array_equal(first.data, again.data)
    assert first.networks == again.networks
    assert not np.array_equal(first.data, other.data)
    assert [k for k, _ in groupby(first.networks)] == CARPET_ORDER
    labels, inside = _labels(), _inside()
    sizes = {f"r{v}": int(((labels == v) & inside).sum()) for v in VALUES}
    sizes["outside atlas"] = int(((labels == 0) & inside).sum())
    # Outside voxels get their proportional share, at most a quarter of the rows; the
    # regions share the rest in proportion to their size.
    total = sum(sizes.values())
    outside = min(100 * sizes["outside atlas"] / total, OUTSIDE_SHARE * 100)
    assert abs(first.regions.count("outside atlas") - outside) <= 1
    rest = 100 - first.regions.count("outside atlas")
    inner = total - sizes.pop("outside atlas")
    for region, size in sizes.items():
        assert abs(first.regions.count(region) - rest * size / inner) < 1.0
    # The sample's rows are rows of the full carpet (same standardisation).
    full = carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=10_000)
    full_rows = {row.tobytes() for row in full.data}
    assert all(row.tobytes() in full_rows for row in first.data)


def test_without_mask_only_atlas_voxels(run: dict[str, Any]) -> None:
    """No mask: the regions' voxels only, no outside-atlas rows."""
    carpet = carpet_sample(run["bold"], run["atlas"], max_rows=10_000)
    assert "outside atlas" not in carpet.networks
    assert carpet.n_rows == int((_labels() > 0).sum())


def test_sphere_atlas_rows_are_the_sphere_voxels(run: dict[str, Any]) -> None:
    """A coordinate atlas: rows of a region are its sphere's voxels inside the mask."""
    seeds = ((-8.0, -4.0, -2.0), (4.0, 2.0, 0.0))  # voxel centres, apart
    atlas = Atlas(
        name="spheres",
        labels=("a", "b"),
        networks=("SMN", "DMN"),
        source_networks=("x", "y"),
        coords=seeds,
        space="MNI152",
        reference="",
    )
    carpet = carpet_sample(run["bold"], atlas, mask=run["mask"], max_rows=10_000, radius_mm=4.0)
    ijk = np.indices(SHAPE).reshape(3, -1)
    mm = AFFINE[:3, :3] @ ijk + AFFINE[:3, 3:4]
    inside = _inside()
    spheres = [
        (np.linalg.norm(mm - np.array(s)[:, None], axis=0) <= 4.0).reshape(SHAPE) & inside
        for s in seeds
    ]
    assert carpet.regions.count("b") == int(spheres[1].sum())
    assert carpet.regions.count("a") == int(spheres[0].sum())
    assert carpet.networks[0] == "DMN"
    np.testing.assert_allclose(
        carpet.data[: int(spheres[1].sum())], _reference(run["data"], spheres[1]), atol=2e-5
    )


def test_the_image_is_streamed_once(run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass over the 4D file, whatever the number of rows."""
    calls = []
    real = carpet_module.iter_columns

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1].size)
        return real(*args, **kwargs)

    monkeypatch.setattr(carpet_module, "iter_columns", counting)
    carpet_sample(run["bold"], run["atlas"], mask=run["mask"], max_rows=50)
    assert calls == [50]


def test_carpet_is_frozen_and_checked() -> None:
    """The result cannot be changed; sizes must agree."""
    carpet = Carpet(np.zeros((2, 3), dtype=np.float32), ("DMN", "VIS"), "x.nii.gz")
    with pytest.raises(FrozenInstanceError):
        carpet.source = "y"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        carpet.data[0, 0] = 1.0
    with pytest.raises(ValueError, match="one row per"):
        Carpet(np.zeros((2, 3), dtype=np.float32), ("DMN",), "x.nii.gz")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_rows": 0}, "max_rows"),
        ({"max_rows": True}, "max_rows"),
        ({"seed": -1}, "seed"),
        ({"radius_mm": -1.0}, "radius_mm"),
    ],
)
def test_bad_arguments(run: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    """Invalid sampling arguments are input errors naming the argument."""
    with pytest.raises(InputError, match=message):
        carpet_sample(run["bold"], run["atlas"], mask=run["mask"], **kwargs)


# --- CIFTI ---------------------------------------------------------------------------------

#: 5 left vertices, 4 right vertices, 3 voxels; a key per grayordinate (0: none).
KEYS = CIFTI_KEYS
_models = cifti_models


@pytest.fixture
def dense(tmp_path: Path, rng: np.random.Generator) -> dict[str, Any]:
    """Write a dtseries on the toy grayordinates, a spike in grayordinate 10 (thal)."""
    names = {0: ("???", (0.0, 0.0, 0.0, 0.0)), 3: ("a", (1.0, 0, 0, 1)), 7: ("b", (0, 1.0, 0, 1))}
    names[11] = ("c", (0.0, 0.0, 1.0, 1.0))
    label = cifti2_axes.LabelAxis(["parcellation"], [names])
    dlabel = tmp_path / "toy.dlabel.nii"
    nib.save(nib.Cifti2Image(KEYS[None, :].astype(np.int32), header=(label, _models())), dlabel)
    table = pd.DataFrame(
        {"index": [11, 3, 7], "name": ["vis", "pcc", "thal"], "network": ["VIS", "DMN", "SUB"]}
    )
    atlas = dlabel_atlas("toy", dlabel, table)
    data = rng.normal(100.0, 10.0, size=(N_VOLUMES, KEYS.size)).astype(np.float32)
    data[SPIKE_VOLUME, 10] += 400.0
    series = cifti2_axes.SeriesAxis(0.0, TR, N_VOLUMES, unit="SECOND")
    path = tmp_path / "run.dtseries.nii"
    nib.save(nib.Cifti2Image(data, header=(series, _models())), path)
    return {"path": path, "atlas": atlas, "data": data}


def test_cifti_rows_are_grayordinates_by_parcel_network(dense: dict[str, Any]) -> None:
    """Grayordinates grouped DMN (pcc), then the atlas's other networks, unassigned last."""
    carpet = carpet_sample(dense["path"], dense["atlas"])
    atlas = dense["atlas"]
    rest = [n for n in dict.fromkeys(atlas.networks) if n != "DMN"]
    assert [k for k, _ in groupby(carpet.networks)] == ["DMN", *rest, "outside atlas"]
    by_label = dict(zip(atlas.labels, atlas.label_values, strict=True))
    by_network = dict(zip(atlas.labels, atlas.networks, strict=True))
    order = ["pcc"] + [lab for lab in atlas.labels if lab != "pcc"]
    columns = [np.flatnonzero(by_label[lab] == KEYS) for lab in order]
    columns.append(np.flatnonzero(KEYS == 0))
    values = dense["data"].T[np.concatenate(columns)].astype(np.float64)
    expected = detrend(values, axis=1, type="linear")
    expected /= expected.std(axis=1, keepdims=True)
    np.testing.assert_allclose(carpet.data, expected, atol=2e-5)
    assert carpet.networks[: (KEYS == 3).sum()] == (by_network["pcc"],) * int((KEYS == 3).sum())
    thal = [i for i, r in enumerate(carpet.regions) if r == "thal"]
    assert int(np.argmax(carpet.data[thal[1]])) == SPIKE_VOLUME  # grayordinate 10


def test_cifti_sampling_and_mask(dense: dict[str, Any]) -> None:
    """Capped and deterministic; a mask makes no sense for grayordinates."""
    first = carpet_sample(dense["path"], dense["atlas"], max_rows=5, seed=1)
    again = carpet_sample(dense["path"], dense["atlas"], max_rows=5, seed=1)
    assert first.n_rows == 5
    np.testing.assert_array_equal(first.data, again.data)
    with pytest.raises(InputError, match="no mask"):
        carpet_sample(dense["path"], dense["atlas"], mask=dense["path"])


def test_cifti_reads_in_pieces_give_the_same_rows(
    dense: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading each run of adjacent grayordinates on its own changes nothing."""
    whole = carpet_sample(dense["path"], dense["atlas"], max_rows=7, seed=2)
    monkeypatch.setattr(carpet_module, "_GAP_BYTES", 0)
    pieces = carpet_sample(dense["path"], dense["atlas"], max_rows=7, seed=2)
    np.testing.assert_array_equal(whole.data, pieces.data)
    assert whole.regions == pieces.regions
