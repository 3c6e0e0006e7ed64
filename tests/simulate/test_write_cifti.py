"""The CIFTI-2 form of a simulated study: fMRIPrep's fsLR layout, planted signals recovered."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.cifti2 import cifti2_axes

from dmnpharm.atlases import dlabel_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import extract_cifti_timeseries
from dmnpharm.metrics import run_fc_metrics
from dmnpharm.simulate import (
    CIFTI_SPACE,
    SignalSpec,
    SimulatedStudy,
    fslr_brain_models,
    load_preset,
    simulate_study,
    synthetic_parcellation,
    write_cifti_study,
    write_dtseries,
)

N_VOLUMES = 40


@pytest.fixture(scope="module")
def study() -> SimulatedStudy:
    """Simulate a 2-subject crossover of 40 volumes once for the module."""
    base = load_preset("demo-crossover", seed=3)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=2),
        signal=SignalSpec(n_volumes=N_VOLUMES),
    )
    return simulate_study(spec)


def test_layout_and_the_planted_signals_come_back(study: SimulatedStudy, tmp_path: Path) -> None:
    """Parcel means of every written run track the planted region signals.

    Per run, at least 90 % of regions correlate above 0.8 with their planted
    signal (BOLD + nuisance), and within-DMN FC agrees with the ROI-level
    form's within 0.1 Fisher z.
    """
    root = write_cifti_study(study, tmp_path / "cifti", volume_networks=("REW",))
    assert json.loads((root / "dataset_description.json").read_text())["DatasetType"] == "raw"
    fmriprep = root / "derivatives" / "fmriprep"
    described = json.loads((fmriprep / "dataset_description.json").read_text())
    assert described["DatasetType"] == "derivative"
    assert (root / "participants.tsv").is_file()
    assert (root / "sub-01" / "sub-01_sessions.tsv").is_file()
    dlabel = root / "atlas" / "atlas-seitzman300_dseg.dlabel.nii"
    table = pd.read_csv(root / "atlas" / "atlas-seitzman300_dseg.tsv", sep="\t")
    assert list(table.columns) == ["index", "name", "network", "source_network"]
    atlas = dlabel_atlas("seitzman300", dlabel, table)
    assert (atlas.labels, atlas.networks) == (study.atlas.labels, study.atlas.networks)
    rewarded = np.flatnonzero(np.asarray(atlas.networks) == "REW")
    placed = np.asarray(atlas.coords)[rewarded] - np.asarray(study.atlas.coords)[rewarded]
    assert np.abs(placed).max() < 3.0  # voxels around the region's coordinate
    assert np.isnan(np.asarray(atlas.coords)[np.asarray(atlas.networks) != "REW"]).all()
    layout = json.loads((root / "ground_truth.json").read_text())["cifti_layout"]
    assert layout["atlas_dlabel"] == "atlas/atlas-seitzman300_dseg.dlabel.nii"
    assert layout["structures"]["CIFTI_STRUCTURE_OTHER_GREY_MATTER"] == 4 * len(rewarded)
    for run in study.runs:
        func = fmriprep / run.participant_id / run.session_id / "func"
        stem = f"{run.participant_id}_{run.session_id}_task-rest"
        bold = func / f"{stem}_{CIFTI_SPACE}_bold.dtseries.nii"
        sidecar = json.loads(bold.with_name(f"{stem}_{CIFTI_SPACE}_bold.json").read_text())
        assert sidecar["RepetitionTime"] == study.spec.signal.repetition_time
        confounds = pd.read_csv(func / f"{stem}_desc-confounds_timeseries.tsv", sep="\t")
        assert len(confounds) == N_VOLUMES
        assert (func / f"{stem}_desc-confounds_timeseries.json").is_file()
        extraction = extract_cifti_timeseries(bold, atlas)
        assert extraction.repetition_time == study.spec.signal.repetition_time
        planted = run.signals.bold + run.signals.nuisance
        corr = [
            np.corrcoef(extraction.timeseries[:, i], planted[:, i])[0, 1]
            for i in range(atlas.n_regions)
        ]
        assert np.mean(np.asarray(corr) > 0.8) >= 0.9
        cifti_fc = run_fc_metrics(extraction.timeseries, atlas)["dmn_within_fc"]
        roi_fc = run_fc_metrics(run.data, study.atlas)["dmn_within_fc"]
        assert abs(cifti_fc - roi_fc) < 0.1


def test_an_existing_folder_and_bad_counts_are_refused(
    study: SimulatedStudy, tmp_path: Path
) -> None:
    """Counts must be positive and fit the mesh; an existing folder needs overwrite."""
    with pytest.raises(InputError, match="vertices_per_region must be a positive integer"):
        write_cifti_study(study, tmp_path / "a", vertices_per_region=0)
    with pytest.raises(InputError, match="raise n_vertices"):
        write_cifti_study(study, tmp_path / "b", n_vertices=100)
    with pytest.raises(InputError, match="volume_networks must be a tuple of codes"):
        write_cifti_study(study, tmp_path / "b", volume_networks="SUB")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("")
    with pytest.raises(FileExistsError):
        write_cifti_study(study, tmp_path / "c")


def test_subsystems_reach_the_atlas_table(tmp_path: Path) -> None:
    """An atlas with DMN subsystems writes a subsystem column that dlabel_atlas reads back."""
    base = load_preset("demo-crossover", seed=4)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=2),
        signal=SignalSpec(atlas="andrews_hanna", n_volumes=N_VOLUMES),
    )
    study = simulate_study(spec)
    root = write_cifti_study(study, tmp_path / "ah")
    table = root / "atlas" / "atlas-andrewsHanna_dseg.tsv"
    assert "subsystem" in pd.read_csv(table, sep="\t").columns
    atlas = dlabel_atlas("ah", root / "atlas" / "atlas-andrewsHanna_dseg.dlabel.nii", table)
    assert atlas.subsystems == study.atlas.subsystems


def test_fslr_sized_brain_models_and_parcels() -> None:
    """91,282 grayordinates with fsLR 91k's structure sizes; parcels stay in one structure."""
    models = fslr_brain_models()
    assert len(models) == 91282
    names, counts = np.unique(np.asarray(models.name), return_counts=True)
    sizes = dict(zip(names.tolist(), counts.tolist(), strict=True))
    assert sizes["CIFTI_STRUCTURE_CORTEX_LEFT"] == 29696
    assert sizes["CIFTI_STRUCTURE_CORTEX_RIGHT"] == 29716
    assert sum(sizes.values()) - 29696 - 29716 == 31870
    assert len(sizes) == 21
    assert models.nvertices == dict.fromkeys(
        ("CIFTI_STRUCTURE_CORTEX_LEFT", "CIFTI_STRUCTURE_CORTEX_RIGHT"), 32492
    )
    keys = synthetic_parcellation(models, 400, seed=1)
    assert set(np.unique(keys).tolist()) == set(range(1, 401))
    structure = np.asarray(models.name)
    assert all(len(set(structure[keys == k])) == 1 for k in range(1, 401, 37))
    with pytest.raises(InputError, match="n_parcels must be from 21"):
        synthetic_parcellation(models, 20)


def test_write_dtseries_stores_the_intensity_model(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Without noise each grayordinate is baseline * (1 + fraction * its key's signal)."""
    models = cifti2_axes.BrainModelAxis.from_surface(
        np.array([3, 1, 8, 5, 0]), 10, "CortexLeft"
    ) + cifti2_axes.BrainModelAxis.from_surface(np.array([2, 6]), 10, "CortexRight")
    keys = np.array([1, 0, 2, 2, 1, 0, 3])
    regions = rng.normal(size=(9, 3))
    glob = rng.normal(size=9)
    baseline = np.linspace(600.0, 900.0, 7)
    path = tmp_path / "run.dtseries.nii"
    write_dtseries(path, models, keys, regions, glob, rng, 0.0, 0.7, baseline=baseline)
    image = nib.load(path)
    assert image.header.get_axis(0).step == pytest.approx(0.7)
    assert image.header.get_axis(1) == models
    table = np.column_stack([glob, regions])[:, keys]
    np.testing.assert_allclose(np.asarray(image.dataobj), baseline * (1 + 0.01 * table), rtol=1e-6)
    with pytest.raises(InputError, match="keys must be from 0 to 3"):
        write_dtseries(tmp_path / "x.dtseries.nii", models, keys + 1, regions, glob, rng, 0.0, 0.7)
