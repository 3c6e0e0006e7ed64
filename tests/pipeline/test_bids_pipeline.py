"""An analysis of a voxel-level (BIDS + fMRIPrep) simulated study.

``voxel_study`` (tests/conftest.py) has 8 subjects x 2 sessions x 60 volumes with
within-DMN FC 0.10 lower on drug, enough to find it; ``voxel_analysis`` is its
aCompCor analysis. Tests of the plumbing alone (failures, the cache, AROMA
images, voxel maps) use ``small_voxel_study``: 4 subjects x 2 sessions x 50 volumes.
"""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import dmnpharm.extract as extract_module
from bids_validity import (
    DERIVATIVES_WARNINGS,
    SIMULATED_DERIVATIVES_WARNINGS,
    SIMULATED_ROOT_WARNINGS,
    assert_valid,
)
from dmnpharm import AnalysisConfig, Execution, Inference, Results, Study
from dmnpharm.atlases import load_atlas
from dmnpharm.cli import main
from dmnpharm.cli._main import RUN_FAILURES_EXIT
from dmnpharm.exceptions import RunFailuresError
from dmnpharm.io import DEFAULT_SPACE
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_voxel_study


@pytest.fixture(scope="module")
def small_voxel_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write 4 subjects x 2 sessions x 50 volumes once for this module (read-only)."""
    base = load_preset("demo-crossover", seed=5)
    spec = replace(
        base, design=replace(base.design, n_subjects=4), signal=SignalSpec(n_volumes=50)
    )
    return write_voxel_study(simulate_study(spec), tmp_path_factory.mktemp("sv") / "study")


def test_the_simulated_voxel_study_is_valid_bids(voxel_study: Path) -> None:
    """The raw root and its fMRIPrep-style derivatives pass the BIDS validator.

    The derivatives' images carry ``Resolution`` for ``res-2``; the confounds tables
    (not in BIDS yet) are in their ``.bidsignore``.
    """
    assert_valid(voxel_study, SIMULATED_ROOT_WARNINGS)
    fmriprep = voxel_study / "derivatives" / "fmriprep"
    assert_valid(fmriprep, SIMULATED_DERIVATIVES_WARNINGS)
    bold = next(fmriprep.rglob("*_res-2_desc-preproc_bold.json"))
    assert json.loads(bold.read_text())["Resolution"].startswith("2 mm")


def test_a_bids_run_becomes_a_task_naming_its_files(voxel_study: Path) -> None:
    """The task names the image relative to the study, with its confounds, mask, TR and length."""
    from dmnpharm.io import discover_study
    from dmnpharm.pipeline._adapters import bids_task

    config = AnalysisConfig(atlas="seitzman300", denoise=DenoiseConfig("6p"))
    run = discover_study(voxel_study).runs[0]
    task = bids_task(run, voxel_study, config)
    assert task.kind == "bids"
    assert task.source == run.bold.relative_to(voxel_study).as_posix()
    assert not task.source.startswith("/")
    assert task.repetition_time == run.repetition_time
    assert task.n_volumes == nib.load(run.bold).shape[3]
    assert set(task.input_files()) >= {str(run.bold), str(run.confounds), str(run.mask)}


def test_run_recovers_the_planted_effect_from_images(
    voxel_study: Path, voxel_analysis: Results
) -> None:
    """Discover, extract, clean (acompcor), measure, test: the estimate is near -0.10.

    8 subjects: the paired SE is about 0.03, so the estimate must lie within 3 SE
    of the planted change; QC, exclusions and the extraction are recorded.
    """
    result = voxel_analysis
    row = result.results.set_index("measure").loc["dmn_within_fc"]
    se = (row["ci_high"] - row["ci_low"]) / (2 * 2.365)  # t(0.975, 7)
    assert abs(row["estimate"] + 0.10) < 3 * se
    assert row["n"] == 8
    out = Path(result.out)
    qc = pd.read_csv(out / "group" / "qc.tsv", sep="\t")
    assert len(qc) == 16
    assert qc["mean_fd"].gt(0).all()
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["extraction"].startswith("spheres of 5 mm")
    assert provenance["config"]["denoise"]["name"] == "acompcor"
    assert "acompcor" in provenance["denoising"] or "CompCor" in provenance["denoising"]
    assert len(provenance["cleaning_per_run"]) == 16
    assert set(result.metrics["strategy"]) == {"acompcor"}
    relmats = sorted((out / "derivatives" / "dmnpharm").rglob("*_relmat.tsv"))
    assert len(relmats) == 16
    entities = f"_task-rest_space-{DEFAULT_SPACE}_seg-seitzman300_stat-pearsoncorrelation_"
    assert all(path.name.endswith(f"{entities}relmat.tsv") for path in relmats)
    sidecar = json.loads(relmats[0].with_suffix(".json").read_text())
    assert sidecar["ConfoundColumns"]
    assert (voxel_study / sidecar["Sources"][0].removeprefix("bids:source:")).is_file()


def test_image_runs_give_coverage_fractions_tsnr_and_a_carpet_plot(
    voxel_study: Path, voxel_analysis: Results
) -> None:
    """Coverage is each region's share of voxels in the brain mask; the report draws QC figures.

    The coverage of one run is checked against a direct count: the run's sphere voxels
    on the data grid, and how many of them the brain mask holds.
    """
    out = Path(voxel_analysis.out)
    files = sorted((out / "derivatives" / "dmnpharm").rglob("*_stat-coverage_bold.tsv"))
    assert len(files) == 16
    coverage = pd.read_csv(files[0], sep="\t", index_col=0)["coverage"]
    entities = files[0].name.split("_seg-")[0].split("_space-")[0]
    (mask_file,) = sorted(voxel_study.rglob(f"{entities}_space-*_desc-brain_mask.nii.gz"))
    mask = nib.load(mask_file)
    inside = np.asarray(mask.dataobj) > 0
    affine, inverse = mask.affine, np.linalg.inv(mask.affine)
    reach = int(np.ceil(5.0 / min(mask.header.get_zooms()[:3]))) + 1
    atlas = load_atlas("seitzman300")
    expected = []
    for coord in np.asarray(atlas.coords, dtype=float):
        # the grid voxels of a box around the centre, then those within 5 mm of it
        centre = np.rint(inverse[:3, :3] @ coord + inverse[:3, 3]).astype(int)
        low = np.clip(centre - reach, 0, inside.shape)
        high = np.clip(centre + reach + 1, 0, inside.shape)
        box = np.indices(high - low).reshape(3, -1) + low[:, None]
        mm = (affine[:3, :3] @ box + affine[:3, 3:4]).T
        sphere = box[:, np.linalg.norm(mm - coord, axis=1) <= 5.0]
        expected.append(inside[tuple(sphere)].mean() if sphere.shape[1] else np.nan)
    np.testing.assert_allclose(coverage.to_numpy(), np.asarray(expected), atol=1e-6)
    assert coverage.min() < 1.0  # the simulated mask cuts some spheres
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Carpet plot of sub-" in report
    assert "Median temporal SNR" in report
    assert "The share of each region&#39;s voxels inside the brain mask" in report


def test_a_corrupt_run_fails_alone_and_writes_no_group_result(
    small_voxel_study: Path, tmp_path: Path
) -> None:
    """Data corrupt inside the gzip stream fails its run only, found while computing.

    Without allow_failures nothing group-level is written (the output folder
    does not appear; exit 3 in the CLI) and the finished runs are cached; with
    it the study is analysed without that run, which is listed everywhere.
    """
    study = Path(shutil.copytree(small_voxel_study, tmp_path / "study"))
    func = study / "derivatives" / "fmriprep" / "sub-03" / "ses-2" / "func"
    bold = next(func.glob("*_desc-preproc_bold.nii.gz"))
    data = bytearray(bold.read_bytes())
    middle = len(data) // 2
    # flipped bytes in the compressed stream: header and gzip trailer intact
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    bold.write_bytes(bytes(data))
    config = AnalysisConfig(inference=Inference(n_permutations=99), gsr_sensitivity=False)
    with pytest.raises(RunFailuresError, match="sub-03_ses-2") as caught:
        Study.from_folder(study).analyse(config, tmp_path / "out")
    assert caught.value.out == str(tmp_path / "out")
    assert bold.name in caught.value.failures[0]
    assert not (tmp_path / "out").exists()
    result = Study.from_folder(study).analyse(
        config.replace(allow_failures=True), tmp_path / "out2"
    )
    failures = pd.read_csv(tmp_path / "out2" / "group" / "failures.tsv", sep="\t")
    assert len(failures) == 1
    assert bold.name in failures["failure"].iloc[0]
    exclusions = pd.read_csv(tmp_path / "out2" / "group" / "exclusions.tsv", sep="\t")
    text = " ".join(exclusions["exclusion"])
    assert "failed and left out" in text
    assert "sub-03" in text
    assert bold.name in (tmp_path / "out2" / "report.html").read_text()
    assert len(json.loads((tmp_path / "out2" / "provenance.json").read_text())["failures"]) == 1
    assert result.results["n"].eq(3).all()
    assert len(result.failures) == 1
    args = ["run", str(study), "--permutations", "99", "-q", "--scheduler", "synchronous"]
    args.append("--no-gsr-sensitivity")
    assert main([*args, "--out", str(tmp_path / "out3")]) == RUN_FAILURES_EXIT
    assert not (tmp_path / "out3").exists()
    assert main([*args, "--out", str(tmp_path / "out4"), "--allow-failures"]) == 0


def test_a_new_cleaning_reuses_the_extracted_signals(
    small_voxel_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images are read once: another strategy cleans the cached region signals again."""
    calls: list[str] = []
    # The worker imports the extractor when it first reads an image (ROI-level analyses
    # never load nibabel): it is counted where it is found, in dmnpharm.extract.
    original = extract_module.extract_timeseries

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extract_module, "extract_timeseries", counted)
    study = Study.from_folder(small_voxel_study)
    config = AnalysisConfig(inference=Inference(n_permutations=99), gsr_sensitivity=False)
    first = study.analyse(config, tmp_path / "a")
    assert len(calls) == 8
    other = config.replace(denoise=DenoiseConfig("6p"))
    second = study.analyse(other, tmp_path / "b")
    assert len(calls) == 8
    assert set(second.metrics["strategy"]) == {"6p"}
    uncached = study.analyse(other.replace(execution=Execution(cache=False)), tmp_path / "c")
    assert len(calls) == 16
    pd.testing.assert_frame_equal(second.metrics, uncached.metrics)
    assert not first.metrics["value"].equals(second.metrics["value"])


def _sphere_union(image: Path, coords: list[tuple[float, float, float]]) -> np.ndarray:
    """Voxels of the image's grid within 5 mm of any of the centres (numpy, not dmnpharm)."""
    loaded = nib.load(image)
    ijk = np.indices(loaded.shape).reshape(3, -1)
    mm = (loaded.affine[:3, :3] @ ijk + loaded.affine[:3, 3:4]).T
    inside = np.zeros(mm.shape[0], dtype=bool)
    for centre in coords:
        inside |= ((mm - np.asarray(centre)) ** 2).sum(axis=1) <= 25.0
    return inside.reshape(loaded.shape)


def test_voxel_maps_come_from_the_same_run(small_voxel_study: Path, tmp_path: Path) -> None:
    """--voxel-maps writes ALFF/fALFF and seed maps per run; the PCC map finds the DMN.

    DMN regions share the simulated DMN source, so the PCC seed map is higher in
    DMN spheres than in visual ones on placebo; the planted drop in within-DMN
    FC shows as lower PCC-DMN values on drug, on average.
    """
    config = AnalysisConfig(
        inference=Inference(n_permutations=99),
        denoise=DenoiseConfig("6p"),
        voxel_maps=True,
        gsr_sensitivity=False,
    )
    result = Study.from_folder(small_voxel_study).analyse(config, tmp_path / "out")
    # inside the derivatives dataset, each run's maps in its func/ folder, as XCP-D's ALFF
    derivatives = tmp_path / "out" / "derivatives" / "dmnpharm"
    assert not (tmp_path / "out" / "voxel_maps").exists()
    assert len(list(derivatives.glob("sub-*/ses-*/func/*_boldmap.nii.gz"))) == 8 * 6
    assert_valid(derivatives, DERIVATIVES_WARNINGS)
    atlas = load_atlas("seitzman300")
    dmn = [atlas.coords[i] for i in atlas.network_indices("DMN")]
    vis = [atlas.coords[i] for i in atlas.network_indices("VIS")]
    runs = result.metrics.drop_duplicates(["participant_id", "session_id"])
    first = next(derivatives.rglob("*_stat-fisherz_desc-seedPCC_boldmap.nii.gz"))
    dmn_voxels, vis_voxels = _sphere_union(first, dmn), _sphere_union(first, vis)
    values: dict[str, list[float]] = {"placebo": [], "drug": [], "vis": []}
    for _, run in runs.iterrows():
        space = "space-MNI152NLin2009cAsym_res-2"
        sub, ses = run["participant_id"], run["session_id"]
        stem = f"{sub}/{ses}/func/{sub}_{ses}_task-rest_{space}"
        pcc = nib.load(derivatives / f"{stem}_stat-fisherz_desc-seedPCC_boldmap.nii.gz")
        pcc = pcc.get_fdata()
        values[str(run["condition"])].append(float(np.nanmean(pcc[dmn_voxels])))
        if run["condition"] == "placebo":
            values["vis"].append(float(np.nanmean(pcc[vis_voxels])))
    # Single voxels carry voxel noise, so map values are attenuated region FC.
    assert np.mean(values["placebo"]) > np.mean(values["vis"]) + 0.03
    assert np.mean(values["placebo"]) > np.mean(values["drug"])
    side = json.loads(next(derivatives.rglob("*_stat-alff_boldmap.json")).read_text())
    assert side["strategy"] == "6p"
    assert side["amplitude"]["band_hz"] == [0.01, 0.08]
    assert side["seeds"]["PCC"]["voxels"] > 0
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert "seed maps" in provenance["voxel_maps"]


def test_aroma_strategy_reads_the_aroma_images(small_voxel_study: Path, tmp_path: Path) -> None:
    """Strategy aroma analyses desc-smoothAROMAnonaggr images, and says so."""
    study = Path(shutil.copytree(small_voxel_study, tmp_path / "study"))
    func_dirs = sorted(study.glob("derivatives/fmriprep/sub-*/ses-*/func"))
    for func in func_dirs:
        for path in list(func.iterdir()):
            name = path.name.replace("space-MNI152NLin2009cAsym", "space-MNI152NLin6Asym")
            name = name.replace("_res-2_desc-preproc_bold", "_desc-smoothAROMAnonaggr_bold")
            path.rename(func / name)
        table = next(func.glob("*_desc-confounds_timeseries.tsv"))
        confounds = pd.read_csv(table, sep="\t")
        confounds["aroma_motion_01"] = np.random.default_rng(0).standard_normal(len(confounds))
        confounds.to_csv(table, sep="\t", index=False, na_rep="n/a")
    config = AnalysisConfig(
        inference=Inference(n_permutations=99),
        denoise=DenoiseConfig("aroma"),
        space="MNI152NLin6Asym",
        gsr_sensitivity=False,
    )
    result = Study.from_folder(study).analyse(config, tmp_path / "out")
    assert result.results["n"].eq(4).all()
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert provenance["bold_images"] == "desc-smoothAROMAnonaggr_bold"
    assert "AROMA" in provenance["denoising"]
    assert all("smoothAROMAnonaggr" in name for name in provenance["inputs"] if "bold" in name)
