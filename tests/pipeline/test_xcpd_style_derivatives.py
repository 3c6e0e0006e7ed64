"""The derivatives dataset in XCP-D 0.10's layout: names, values, per-run tables, atlas files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from dmnpharm import AnalysisConfig
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.io import OutputLayout, xcpd_atlas_table
from dmnpharm.io._xcpd_files import layout_writer
from dmnpharm.metrics import BundleConfig
from dmnpharm.pipeline._derivatives import DerivativeWriter, map_name
from dmnpharm.pipeline._tasks import RunTask
from dmnpharm.signal import DenoiseConfig

#: The run a writer is given: BIDS labels of a source with a space.
ENTITIES = {"sub": "07", "ses": "2", "task": "rest", "run": "1", "space": "MNI152NLin6Asym"}
SOURCE = "sub-07_ses-2_task-rest_run-1"


@pytest.fixture
def atlas() -> Atlas:
    """Return the 11-region Andrews-Hanna atlas (coordinates, DMN subsystems)."""
    return load_atlas("andrews_hanna")


def _writer(root: Path, atlas: Atlas, **config: object) -> DerivativeWriter:
    analysis = AnalysisConfig(atlas=atlas, **config)  # type: ignore[arg-type]
    return DerivativeWriter(root, atlas, analysis)


def test_voxel_maps_keep_their_statistic_and_seeds_say_fisher_z() -> None:
    """ALFF-type maps keep XCP-D's ``stat-alff``; a seed map is ``stat-fisherz_desc-seed<S>``."""
    stem = "sub-01_task-rest_space-MNI152NLin2009cAsym_res-2"
    assert map_name(f"{stem}_stat-alff_boldmap.nii.gz") == f"{stem}_stat-alff_boldmap.nii.gz"
    assert map_name(f"{stem}_stat-seedPCC_boldmap.json") == (
        f"{stem}_stat-fisherz_desc-seedPCC_boldmap.json"
    )
    assert map_name("unrelated.txt") == "unrelated.txt"
    assert OutputLayout.analysis("out").voxel_maps == Path("out/derivatives/dmnpharm")


def test_matrix_is_written_as_pearson_r_named_as_xcpd(
    tmp_path: Path, atlas: Atlas, rng: np.random.Generator
) -> None:
    """The Fisher-z matrix the metrics use is written as r (numpy's corrcoef), diagonal 1.

    A region without a signal stays n/a, as in XCP-D's matrices.
    """
    data = rng.standard_normal((37, atlas.n_regions))
    r = np.corrcoef(data, rowvar=False)
    z = np.arctanh(np.clip(r, -0.9999999, 0.9999999))
    np.fill_diagonal(z, 0.0)
    z[3, :] = z[:, 3] = np.nan
    writer = _writer(tmp_path, atlas)
    path = writer.write_relmat(ENTITIES, z, {"n_volumes": 37}, 2.0, "sub-07/x.tsv")
    assert path.name == (
        f"{SOURCE}_space-MNI152NLin6Asym_seg-andrewsHanna_stat-pearsoncorrelation_relmat.tsv"
    )
    table = pd.read_csv(path, sep="\t", index_col=0, na_values="n/a")
    assert list(table.index) == list(atlas.labels)
    written = table.to_numpy()
    keep = np.ones(atlas.n_regions, dtype=bool)
    keep[3] = False
    np.testing.assert_allclose(written[np.ix_(keep, keep)], r[np.ix_(keep, keep)], atol=1e-7)
    assert np.isnan(written[3]).all()
    assert np.isnan(written[:, 3]).all()
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["RelationshipMeasure"] == "Pearson correlation"
    assert (sidecar["Units"], sidecar["ValidDiagonal"], sidecar["Directed"]) == ("r", True, False)
    assert sidecar["NodeFiles"] == ["bids::atlases/atlas-andrewsHanna/atlas-andrewsHanna_dseg.tsv"]
    assert sidecar["Strategy"] == "acompcor"  # the strategy is in the sidecar, not the name


def test_tangent_matrix_keeps_its_values(tmp_path: Path, atlas: Atlas) -> None:
    """Tangent-space values are not correlations: written as they are, ``stat-tangent``."""
    values = np.arange(atlas.n_regions**2, dtype=float).reshape(atlas.n_regions, -1) / 200
    values = (values + values.T) / 2
    tangent = BundleConfig(estimator="tangent")
    path = _writer(tmp_path, atlas, bundle=tangent).write_relmat(
        ENTITIES, values, {}, 2.0, "x.tsv"
    )
    assert path.name.endswith("_seg-andrewsHanna_stat-tangent_relmat.tsv")
    np.testing.assert_allclose(pd.read_csv(path, sep="\t", index_col=0).to_numpy(), values)


def _confounds(path: Path, n_volumes: int, rng: np.random.Generator) -> pd.DataFrame:
    columns = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    table = pd.DataFrame(rng.normal(0, 0.1, (n_volumes, 6)), columns=columns)
    table["framewise_displacement"] = np.abs(rng.normal(0.2, 0.1, n_volumes))
    table.loc[0, "framewise_displacement"] = np.nan
    table["global_signal"] = rng.standard_normal(n_volumes)
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    return table


def test_run_tables_hold_motion_censoring_coverage_and_qc(
    tmp_path: Path, atlas: Atlas, rng: np.random.Generator
) -> None:
    """Motion is the input's, outliers the censoring used, coverage the regions measured."""
    confounds = _confounds(tmp_path / "confounds.tsv", 23, rng)
    task = RunTask("run", "sub-07/ses-2/func/run.tsv", "roi", "run.tsv", 2.0, AnalysisConfig())
    task = replace(task, confounds=str(tmp_path / "confounds.tsv"))
    record = {
        "n_volumes": 23,
        "n_kept": 20,
        "n_censored": 3,
        "censored_volumes": [0, 7, 8],
        "coverage": {"regions_without_signal": [atlas.labels[2]]},
    }
    config = {"denoise": DenoiseConfig("6p", fd_threshold=0.25)}
    writer = _writer(tmp_path / "deriv", atlas, **config)
    files = writer.write_run_tables(task, ENTITIES, record, {"mean_fd": 0.2})
    assert {k: p.name for k, p in files.items()} == {
        "motion": f"{SOURCE}_motion.tsv",
        "outliers": f"{SOURCE}_outliers.tsv",
        "coverage": f"{SOURCE}_space-MNI152NLin6Asym_seg-andrewsHanna_stat-coverage_bold.tsv",
        "qc": f"{SOURCE}_space-MNI152NLin6Asym_qc.tsv",
    }
    motion = pd.read_csv(files["motion"], sep="\t", na_values="n/a")
    pd.testing.assert_frame_equal(motion, confounds.drop(columns="global_signal"))
    outliers = pd.read_csv(files["outliers"], sep="\t")
    assert np.flatnonzero(outliers["denoising"]).tolist() == [0, 7, 8]
    fd = confounds["framewise_displacement"].fillna(0).to_numpy()
    np.testing.assert_array_equal(outliers["framewise_displacement"], fd > 0.25)
    coverage = pd.read_csv(files["coverage"], sep="\t", index_col="Node")["coverage"]
    assert coverage.index.tolist() == list(atlas.labels)
    assert coverage.to_numpy().tolist() == [1.0, 1.0, 0.0] + [1.0] * (atlas.n_regions - 3)
    qc = pd.read_csv(files["qc"], sep="\t")
    assert qc.iloc[0][["n_kept", "n_regions_without_signal", "mean_fd"]].tolist() == [20, 1, 0.2]
    for path in files.values():
        side = json.loads(path.with_suffix(".json").read_text())
        assert side["Sources"] == ["bids:source:sub-07/ses-2/func/run.tsv"]
        assert side["Description"]


def test_without_confounds_motion_is_na_and_no_fd_column(tmp_path: Path, atlas: Atlas) -> None:
    """An ROI-level run without confounds: FD n/a, outliers only the censoring used."""
    task = RunTask("run", "run.tsv", "roi", "run.tsv", 2.0, AnalysisConfig())
    files = _writer(tmp_path, atlas, denoise=DenoiseConfig("none")).write_run_tables(
        task, {"sub": "01", "task": "rest"}, {"n_volumes": 5, "censored_volumes": []}, {}
    )
    motion = pd.read_csv(files["motion"], sep="\t", na_values="n/a")
    assert list(motion.columns) == ["framewise_displacement"]
    assert len(motion) == 5
    assert motion["framewise_displacement"].isna().all()
    assert pd.read_csv(files["outliers"], sep="\t").columns.tolist() == ["denoising"]


def test_dataset_files_readme_bidsignore_and_atlas(tmp_path: Path, atlas: Atlas) -> None:
    """Description, README and .bidsignore; a coordinate atlas's table says why no image."""
    source = tmp_path / "study"
    source.mkdir()
    (source / "dataset_description.json").write_text('{"Name": "LSD study"}')
    writer = _writer(tmp_path / "deriv", atlas, voxel_maps=True)
    described = json.loads(writer.start(source, source).read_text())
    assert described["GeneratedBy"][0]["Name"] == "dmnpharm"
    assert described["SourceDatasets"] == [{"URL": source.as_uri()}]
    readme = (tmp_path / "deriv" / "README.md").read_text()
    for said in ("LSD study", "seg-andrewsHanna", "stat-fisherz_desc-seed", "Authors"):
        assert said in readme
    ignored = (tmp_path / "deriv" / ".bidsignore").read_text().splitlines()
    assert {"*_boldmap.nii.gz", "/atlases", "*_relmat.tsv"} <= set(ignored)
    assert "*.pconn.nii" not in ignored
    table = writer.write_atlas("bids")
    assert table == tmp_path / "deriv/atlases/atlas-andrewsHanna/atlas-andrewsHanna_dseg.tsv"
    side = json.loads(table.with_suffix(".json").read_text())
    assert side["Image"] is None
    assert "sphere of 5 mm" in side["ImageAbsent"]
    # the XCP-D reader maps the table back: dmnpharm's codes, the authors' networks
    read = xcpd_atlas_table(tmp_path / "deriv", "andrewsHanna")
    assert read is not None
    assert read["network"].tolist() == list(atlas.networks)
    assert read["source_network"].tolist() == list(atlas.source_networks)
    assert read["subsystem"].tolist()[: atlas.n_regions] == [s or "n/a" for s in atlas.subsystems]
    version = described["GeneratedBy"][0]["Version"]
    assert layout_writer(tmp_path / "deriv") == ("dmnpharm", version)
    assert layout_writer(source) is None


def test_an_image_atlas_is_copied_beside_its_table(tmp_path: Path, atlas: Atlas) -> None:
    """A labels-image atlas is written as ``atlas-<A>_space-<S>_dseg.nii.gz``, unchanged."""
    values = np.zeros((5, 6, 7), dtype=np.int16)
    values.ravel()[: atlas.n_regions] = np.arange(1, atlas.n_regions + 1)
    image = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(values, np.eye(4)), image)
    labelled = replace(
        atlas,
        image=str(image),
        label_values=tuple(range(1, atlas.n_regions + 1)),
        space="MNI152NLin6Asym",
    )
    table = _writer(tmp_path / "deriv", labelled).write_atlas("bids")
    copy = table.parent / "atlas-andrewsHanna_space-MNI152NLin6Asym_dseg.nii.gz"
    assert copy.read_bytes() == image.read_bytes()
    assert json.loads(table.with_suffix(".json").read_text())["Image"] == copy.name
