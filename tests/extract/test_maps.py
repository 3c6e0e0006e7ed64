"""Voxel-level ALFF/fALFF and seed maps, checked against nilearn's cleaning and masking."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiSpheresMasker
from nilearn.masking import apply_mask
from nilearn.signal import clean

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import VoxelMaps, dmn_seeds, extract_timeseries, extract_with_maps
from dmnpharm.signal import DenoiseConfig, low_frequency_amplitude

SHAPE = (19, 23, 17)
N_VOLUMES = 90
TR = 2.0
AFFINE = np.array(
    [[2.0, 0.0, 0.0, -18.0], [0.0, 2.0, 0.0, -22.0], [0.0, 0.0, 2.0, -16.0], [0, 0, 0, 1.0]]
)
SEED_CENTRES = ((-6.0, -8.0, 0.0), (8.0, 10.0, 4.0))
MOTION = [f"{kind}_{axis}" for kind in ("trans", "rot") for axis in "xyz"]


def _atlas(name: str, coords: tuple[tuple[float, float, float], ...]) -> Atlas:
    n = len(coords)
    return Atlas(
        name=name,
        labels=tuple(f"r{i}" for i in range(n)),
        networks=("DMN",) * n,
        source_networks=("Default",) * n,
        coords=coords,
        space="MNI152",
        reference="",
    )


def _sphere(centre: tuple[float, float, float], radius: float) -> np.ndarray:
    ijk = np.indices(SHAPE).reshape(3, -1)
    mm = AFFINE[:3, :3] @ ijk + AFFINE[:3, 3:4]
    return (np.linalg.norm(mm - np.array(centre)[:, None], axis=0) <= radius).reshape(SHAPE)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Write a run with a shared signal near the first seed and a slow oscillation."""
    rng = np.random.default_rng(11)
    folder = tmp_path_factory.mktemp("maps")
    times = np.arange(N_VOLUMES) * TR
    data = 100.0 + 3.0 * rng.standard_normal((*SHAPE, N_VOLUMES))
    shared = rng.standard_normal(N_VOLUMES)
    network = _sphere(SEED_CENTRES[0], 6.0) | _sphere((8.0, -8.0, 0.0), 4.0)
    data[network] += 2.0 * shared
    slow = _sphere((-10.0, 12.0, 6.0), 4.0)
    data[slow] += 6.0 * np.sin(2 * np.pi * 0.04 * times)
    motion = 0.2 * rng.standard_normal((N_VOLUMES, 6))
    data += 0.5 * (motion @ rng.standard_normal(6))
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[2:-2, 2:-2, 2:-2] = 1
    bold, mask_path = folder / "bold.nii.gz", folder / "mask.nii.gz"
    image = nib.Nifti1Image(data.astype(np.float32), AFFINE)
    image.header.set_xyzt_units("mm", "sec")
    image.header["pixdim"][4] = TR
    nib.save(image, bold)
    nib.save(nib.Nifti1Image(mask, AFFINE), mask_path)
    confounds = pd.DataFrame(motion, columns=MOTION)
    confounds["framewise_displacement"] = np.r_[np.nan, np.full(N_VOLUMES - 1, 0.1)]
    return {
        "bold": bold,
        "mask": mask_path,
        "confounds": confounds,
        "network": network,
        "slow": slow,
        "inside": mask.astype(bool),
    }


def _nilearn_clean(
    values: np.ndarray, confounds: pd.DataFrame, config: DenoiseConfig
) -> np.ndarray:
    cleaned: np.ndarray = clean(
        values,
        confounds=confounds[MOTION].to_numpy(),
        detrend=True,
        standardize=None,
        standardize_confounds=True,
        filter="butterworth" if config.filters else False,
        low_pass=config.low_pass,
        high_pass=config.high_pass,
        t_r=TR,
        extrapolate=False,
    )
    return cleaned


def _maps(study: dict[str, object], config: DenoiseConfig, **kwargs: object) -> VoxelMaps:
    _, maps = extract_with_maps(
        study["bold"],
        _atlas("regions", SEED_CENTRES),
        study["mask"],
        study["confounds"],
        config,
        seeds=_atlas("seeds", SEED_CENTRES),
        seed_radius_mm=4.0,
        **kwargs,
    )
    assert maps is not None
    return maps


def test_seed_maps_equal_nilearn_cleaning_and_masking(study: dict[str, object]) -> None:
    """Seed maps equal the correlation of nilearn-cleaned voxels with nilearn sphere means."""
    config = DenoiseConfig(strategy="6p", high_pass=0.01, low_pass=0.1)
    maps = _maps(study, config, alff=False)
    voxels = _nilearn_clean(apply_mask(study["bold"], study["mask"]), study["confounds"], config)
    masker = NiftiSpheresMasker(
        list(SEED_CENTRES),
        radius=4.0,
        mask_img=study["mask"],
        allow_overlap=True,
        standardize=None,
    )
    seeds = _nilearn_clean(masker.fit_transform(study["bold"]), study["confounds"], config)
    inside = study["inside"]
    for index, key in enumerate(("seedr0", "seedr1")):
        v = (voxels - voxels.mean(0)) / voxels.std(0)
        s = (seeds[:, index] - seeds[:, index].mean()) / seeds[:, index].std()
        expected = np.arctanh(np.clip(v.T @ s / len(s), -1 + 1e-7, 1 - 1e-7))
        np.testing.assert_allclose(maps.maps[key][inside], expected, atol=2e-5)
        assert np.isnan(maps.maps[key][~inside]).all()


def test_alff_maps_equal_the_amplitude_of_nilearn_cleaned_voxels(
    study: dict[str, object],
) -> None:
    """ALFF/fALFF maps equal the amplitude of nilearn-cleaned (unfiltered) voxels."""
    # A band-pass in the strategy is dropped for amplitude: fALFF needs the whole spectrum.
    config = DenoiseConfig(strategy="6p", high_pass=0.01, low_pass=0.1)
    maps = _maps(study, config, seed_maps=False)
    unfiltered = DenoiseConfig(strategy="6p")
    voxels = _nilearn_clean(
        apply_mask(study["bold"], study["mask"]), study["confounds"], unfiltered
    )
    expected = low_frequency_amplitude(voxels, TR)
    inside = study["inside"]
    np.testing.assert_allclose(maps.maps["alff"][inside], expected.alff, rtol=1e-4)
    np.testing.assert_allclose(maps.maps["falff"][inside], expected.falff, rtol=1e-4)
    z = maps.maps["zalff"][inside]
    assert z.mean() == pytest.approx(0.0, abs=1e-4)
    assert z.std(ddof=1) == pytest.approx(1.0, rel=1e-4)
    assert set(maps.maps) == {"alff", "falff", "zalff", "zfalff"}
    assert maps.record["amplitude"]["method"] == "fourier"


def test_planted_structure_shows_in_the_right_map(study: dict[str, object]) -> None:
    """The seed map finds the shared-signal voxels; zfALFF finds the slow oscillation."""
    maps = _maps(study, DenoiseConfig(strategy="6p"))
    network, slow, inside = study["network"], study["slow"], study["inside"]
    seed = maps.maps["seedr0"]
    outside_network = inside & ~network
    assert np.nanmean(seed[network & inside]) > 0.5
    assert abs(np.nanmean(seed[outside_network])) < 0.05
    assert np.nanmean(maps.maps["zfalff"][slow & inside]) > 3
    # The shared signal is white: it raises ALFF but not the low-frequency share.
    assert abs(np.nanmean(maps.maps["zfalff"][network & inside])) < 0.5


def test_region_series_from_the_same_read_equal_extract_timeseries(
    study: dict[str, object],
) -> None:
    """Region series from the maps read are those of extract_timeseries."""
    atlas = _atlas("regions", SEED_CENTRES)
    extraction, _ = extract_with_maps(
        study["bold"],
        atlas,
        study["mask"],
        study["confounds"],
        DenoiseConfig(strategy="6p"),
        seeds=_atlas("seeds", SEED_CENTRES),
        seed_radius_mm=4.0,
        chunk_volumes=7,
    )
    alone = extract_timeseries(study["bold"], atlas, mask=study["mask"])
    np.testing.assert_array_equal(extraction.timeseries, alone.timeseries)
    assert extraction.record["voxel_maps"]["seeds"]["r0"]["voxels"] > 0
    assert extraction.record["voxels_kept"]["n"] == int(study["inside"].sum())


def test_censored_run_uses_lomb_scargle(study: dict[str, object]) -> None:
    """Censored volumes switch ALFF to the Lomb-Scargle spectrum, recorded."""
    confounds = study["confounds"].copy()
    confounds.loc[[20, 21, 50], "framewise_displacement"] = 2.0
    study_c = {**study, "confounds": confounds}
    maps = _maps(study_c, DenoiseConfig(strategy="6p", fd_threshold=0.5, min_segment=0))
    assert maps.record["amplitude"]["method"] == "lomb-scargle"
    assert maps.record["n_kept"] == N_VOLUMES - 3


def test_excluded_run_gives_no_maps_and_says_why(study: dict[str, object]) -> None:
    """A run censored entirely gets no maps and the reason is recorded."""
    confounds = study["confounds"].copy()
    confounds["framewise_displacement"] = 5.0
    extraction, maps = extract_with_maps(
        study["bold"],
        _atlas("regions", SEED_CENTRES),
        study["mask"],
        confounds,
        DenoiseConfig(strategy="6p", fd_threshold=0.5),
        seeds=_atlas("seeds", SEED_CENTRES),
        seed_radius_mm=4.0,
    )
    assert maps is None
    assert "removed" in extraction.record["voxel_maps"]["excluded"]


def test_save_writes_images_and_sidecars(study: dict[str, object], tmp_path: Path) -> None:
    """Saved images reload equal, on the data's affine, with sidecars."""
    maps = _maps(study, DenoiseConfig(strategy="6p"))
    written = maps.save(tmp_path, "sub-01_task-rest")
    assert set(written) == set(maps.maps)
    image = nib.load(written["seedr0"])
    np.testing.assert_array_equal(np.asarray(image.dataobj), maps.maps["seedr0"])
    np.testing.assert_allclose(image.affine, AFFINE)
    side = json.loads(
        written["alff"].with_name("sub-01_task-rest_stat-alff_boldmap.json").read_text()
    )
    assert side["map"] == "alff"
    assert side["band_hz"] if "band_hz" in side else side["amplitude"]["band_hz"] == [0.01, 0.08]
    with pytest.raises(KeyError, match="no map"):
        maps.image("nope")


def test_default_seeds_are_the_andrews_hanna_core_hubs() -> None:
    """The default seeds are the PCC and aMPFC hubs of Andrews-Hanna 2010."""
    seeds = dmn_seeds()
    assert seeds.labels == ("PCC", "aMPFC")
    assert seeds.coords == ((-8.0, -56.0, 26.0), (-6.0, 52.0, -2.0))
    assert "Andrews-Hanna" in seeds.reference


def test_bad_requests_are_refused(study: dict[str, object]) -> None:
    """Nothing requested, a seed outside the mask, image seeds: clear errors."""
    args = (
        study["bold"],
        _atlas("regions", SEED_CENTRES),
        study["mask"],
        study["confounds"],
        DenoiseConfig(strategy="6p"),
    )
    with pytest.raises(InputError, match="no voxel map requested"):
        extract_with_maps(*args, alff=False, seed_maps=False)
    with pytest.raises(InputError, match="no voxel inside the brain mask"):
        extract_with_maps(*args, seeds=_atlas("far", ((60.0, 60.0, 60.0),)))
    image_seeds = Atlas(
        name="img", labels=("a",), networks=("DMN",), source_networks=("x",),
        coords=((0.0, 0.0, 0.0),), space="MNI152", reference="", image="x.nii.gz",
        label_values=(1,),
    )  # fmt: skip
    with pytest.raises(InputError, match="coordinate atlas"):
        extract_with_maps(*args, seeds=image_seeds)
