"""``Study.analyse`` end to end on small simulated studies."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bids_validity import DERIVATIVES_WARNINGS, assert_valid
from dmnpharm import AnalysisConfig, Inference, Results, Study
from dmnpharm.config import paired_model
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.io import discover_xcpd, read_xcpd_motion, read_xcpd_timeseries, xcpd_record
from dmnpharm.metrics import ESTIMATORS, NETWORK_MEASURES, BundleConfig
from dmnpharm.signal import DenoiseConfig
from dmnpharm.stats import EXTRA_COLUMNS, RESULT_COLUMNS

FAST = AnalysisConfig(inference=Inference(n_permutations=500))


def test_run_writes_every_output(small_analysis: Results) -> None:
    """Tables, provenance and report are written; the tables agree with the return value.

    ``small_analysis`` (tests/conftest.py) analysed the small study with 100 sign flips.
    """
    result = small_analysis
    out = Path(result.out)
    for name in (
        "metrics.tsv",
        "metrics.parquet",
        "group/results.tsv",
        "group/results.parquet",
        "group/design.tsv",
        "group/paired_differences.tsv",
        "provenance.json",
        "report.html",
    ):
        assert (out / name).is_file(), name
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t")
    assert list(results.columns) == list(RESULT_COLUMNS + EXTRA_COLUMNS)
    assert list(results["measure"][:2]) == ["dmn_within_fc", "dmn_salience_fc"]
    assert set(results["measure"]) <= set(NETWORK_MEASURES)
    assert {"dmn_alff", "dmn_segregation", "dmn_anticorrelation"} <= set(results["measure"])
    assert (results["n"] == 8).all()
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "group" / "results.parquet"), result.results
    )
    metrics = pd.read_parquet(out / "metrics.parquet")
    n_measures = len(results)
    # Network-level rows of the configured cleaning and of its GSR counterpart.
    assert len(metrics) == 16 * n_measures * 2
    assert set(metrics["analysis"]) == {"primary", "gsr_sensitivity"}
    assert set(metrics["level"]) == {"network"}
    edges = pd.read_parquet(out / "metrics_edges.parquet")
    assert set(edges["measure"]) == {"edge_fc"}
    regions = pd.read_parquet(out / "metrics_regions.parquet")
    assert {"gbc", "alff", "degree"} <= set(regions["measure"])
    assert (out / "group" / "results_gsr_sensitivity.tsv").is_file()
    for column in (
        "participant_id",
        "session_id",
        "run",
        "condition",
        "measure",
        "network_a",
        "network_b",
        "value",
        "atlas",
        "strategy",
        "estimator",
    ):
        assert column in metrics.columns
    assert set(metrics["atlas"]) == {"seitzman300"}
    assert set(metrics["strategy"]) == {"acompcor", "acompcor+gsr"}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["config"]["atlas"] == "seitzman300"
    assert provenance["config"]["n_permutations"] == 100
    # participants + 8 sessions + per run: time series, its JSON, confounds TSV and JSON
    assert len(provenance["inputs"]) == 1 + 8 + 16 * 4
    assert all(len(h) == 64 for h in provenance["inputs"].values())
    assert result.report_file == out / "report.html"
    assert result.report() == (out / "report.html").read_text(encoding="utf-8")


def test_derivatives_pass_the_bids_validator(small_analysis: Results) -> None:
    """The derivatives dataset validates: no error, only the warning that Authors is missing.

    What BIDS does not define yet (BEP017 time series and matrices, XCP-D's tables and
    atlas folder) is listed in ``.bidsignore``; the README says what the files are.
    """
    derivatives = Path(small_analysis.out) / "derivatives" / "dmnpharm"
    result = assert_valid(derivatives, DERIVATIVES_WARNINGS)
    assert result.codes("warning") == {"TOO_FEW_AUTHORS": 1}
    assert "stat-pearsoncorrelation_relmat.tsv" in (derivatives / "README.md").read_text()
    ignored = (derivatives / ".bidsignore").read_text().splitlines()
    assert "*_relmat.tsv" in ignored
    assert "*_boldmap.nii.gz" not in ignored  # no voxel maps in this analysis
    table = derivatives / "atlases" / "atlas-seitzman300" / "atlas-seitzman300_dseg.tsv"
    regions = pd.read_csv(table, sep="\t")
    assert list(regions.columns[:5]) == ["index", "name", "label", "network_label", "network"]
    sidecar = json.loads(table.with_suffix(".json").read_text())
    assert "region time series" in sidecar["ImageAbsent"]


def test_derivatives_read_back_with_the_xcpd_reader(
    small_analysis: Results, small_study_template: Path
) -> None:
    """The derivatives follow XCP-D 0.10's layout: the XCP-D reader reads them back.

    Every run is found with its censoring ("removed": the outliers file's ``denoising``
    rows are absent from the series), the repetition time from the sidecars, the atlas
    table's regions and networks; the signals are those written.
    """
    derivatives = Path(small_analysis.out) / "derivatives" / "dmnpharm"
    study = discover_xcpd(derivatives, bids_root=small_study_template)
    assert (study.generator, study.naming, study.atlas) == ("dmnpharm", "seg", "seitzman300")
    assert len(study.runs) == 16
    assert xcpd_record(study)["denoising"].startswith("done by dmnpharm")
    for run in study.runs:
        sidecar = json.loads(run.timeseries.with_suffix(".json").read_text())
        censored = sidecar["Censoring"]["CensoredVolumeIndices"]
        assert run.outlier_volumes == tuple(censored)
        assert run.censoring == ("removed" if censored else "none")
        assert run.n_acquired == sidecar["Censoring"]["NumberOfVolumes"]
        assert run.repetition_time == sidecar["RepetitionTime"]
        motion = read_xcpd_motion(run)
        assert len(motion) == run.n_volumes == read_xcpd_timeseries(run).shape[0]
        assert np.isfinite(motion["framewise_displacement"].iloc[1:]).all()


def test_same_seed_identical_results(
    small_analysis: Results, small_study_template: Path, tmp_path: Path
) -> None:
    """Two runs with one seed give byte-identical tables; another seed other p-values.

    100 flips are fewer than the 2**8 = 256 possible, so flips are drawn at random.
    The first run is ``small_analysis`` (100 flips, seed 0; tests/conftest.py).
    """
    study = Study.from_folder(small_study_template)
    random_flips = AnalysisConfig(inference=Inference(n_permutations=100))
    recorded = small_analysis.provenance["config"]
    assert (recorded["n_permutations"], recorded["seed"]) == (100, 0)
    first = Path(small_analysis.out)
    study.analyse(random_flips, tmp_path / "b")
    for name in ("group/results.tsv", "metrics.tsv", "group/paired_differences.tsv"):
        assert (first / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = AnalysisConfig(inference=Inference(n_permutations=100, seed=1))
    study.analyse(other, tmp_path / "c")
    a = pd.read_csv(first / "group" / "results.tsv", sep="\t")
    c = pd.read_csv(tmp_path / "c" / "group" / "results.tsv", sep="\t")
    pd.testing.assert_series_equal(a["statistic"], c["statistic"])
    assert not a["p_uncorrected"].equals(c["p_uncorrected"])


def test_subject_with_one_condition_fails_before_any_output(
    small_study: Path, tmp_path: Path
) -> None:
    """A subject without a drug session is named with its sessions file; nothing is written."""
    sessions = small_study / "sub-05" / "sub-05_sessions.tsv"
    table = pd.read_csv(sessions, sep="\t")
    drug_session = table.loc[table["condition"] == "drug", "session_id"].item()
    table.loc[table["condition"] == "drug", "condition"] = "placebo"
    table.to_csv(sessions, sep="\t", index=False)
    out = tmp_path / "out"
    with pytest.raises(StudyValidationError) as info:
        Study.from_folder(small_study).analyse(FAST, out)
    assert str(sessions) in str(info.value)
    assert "participant 'sub-05' has no run under 'drug'" in str(info.value)
    assert drug_session
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [small_study]


def test_unknown_contrast_condition(small_study: Path, tmp_path: Path) -> None:
    """A contrast naming an absent condition lists the conditions there are."""
    config = AnalysisConfig(
        model=paired_model(("active", "placebo")), inference=Inference(n_permutations=10)
    )
    with pytest.raises(StudyValidationError, match="condition 'active' of the contrast"):
        Study.from_folder(small_study).analyse(config, tmp_path / "out")


def test_config_rejects_unavailable_choices() -> None:
    """Choices that do not exist are refused, not ignored."""
    with pytest.raises(InputError, match="36q"):
        AnalysisConfig(denoise=DenoiseConfig("36q"))
    with pytest.raises(InputError, match="estimator"):
        AnalysisConfig(bundle=BundleConfig(estimator="spearman"))
    with pytest.raises(InputError, match="two different conditions"):
        AnalysisConfig(model=paired_model(("drug", "drug")))


def test_ground_truth_shown_in_report(small_analysis: Results) -> None:
    """A simulated study's planted effects appear beside the estimates in the report."""
    result = small_analysis
    html = result.report()
    assert "Planted effects" in html
    assert "dmn_within_fc" in html
    assert "Methods" in html
    assert "seitzman300" in html


@pytest.mark.parametrize("estimator", ["partial", "tangent"])
def test_estimators_are_recorded_and_recover_the_effect(
    small_study: Path, tmp_path: Path, estimator: str
) -> None:
    """Partial and tangent estimators run end to end and find the planted DMN drop.

    The tangent reference is the geometric mean of every included run's covariance,
    one per analysis; the runs that formed it are listed in the provenance.
    """
    # Without the low-pass: band-limited covariances of 300 regions from ~80 volumes
    # are so ill-conditioned that the tangent reference needs ~60 Karcher steps
    # (70 s here) instead of ~7; the default's speed there is issue 23's business.
    config = AnalysisConfig(
        denoise=replace(DenoiseConfig.recommended(), low_pass=None),
        bundle=BundleConfig(estimator=estimator),
        inference=Inference(n_permutations=500),
    )
    result = Study.from_folder(small_study).analyse(config, tmp_path / "out")
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    assert set(metrics["estimator"]) == {estimator}
    within = result.results.set_index("measure").loc["dmn_within_fc"]
    assert within["estimate"] < 0
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert estimator in provenance["config"]["estimator"]
    if estimator == "tangent":
        reference = provenance["cleaning_per_run"]["tangent_reference"]
        assert set(reference) == {"primary", "gsr_sensitivity"}
        assert len(reference["primary"]["runs"]) == 16
        assert set(metrics["unit"]) >= {"tangent units"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert ESTIMATORS[estimator].split(" ")[0] in html
    # each run's matrix, from the group's reference for tangent, is a BIDS derivative
    derivatives = tmp_path / "out" / "derivatives" / "dmnpharm"
    stat = {"pearson": "pearsoncorrelation", "partial": "partialcorrelation"}.get(estimator)
    sidecars = sorted(derivatives.rglob(f"*_seg-seitzman300_stat-{stat or estimator}_relmat.json"))
    assert len(sidecars) == 16
    if estimator == "tangent":
        sidecar = json.loads(sidecars[0].read_text())
        assert sidecar["TangentReference"]["runs"] == reference["primary"]["runs"]


def test_gsr_sensitivity_can_be_turned_off(small_study: Path, tmp_path: Path) -> None:
    """Without the sensitivity analysis only the configured cleaning is stored and tested."""
    config = AnalysisConfig(inference=Inference(n_permutations=99), gsr_sensitivity=False)
    Study.from_folder(small_study).analyse(config, tmp_path / "out")
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    assert set(metrics["analysis"]) == {"primary"}
    assert not (tmp_path / "out" / "group" / "results_gsr_sensitivity.tsv").exists()


def test_drug_named_adds_the_catalog_comparison(small_study: Path, tmp_path: Path) -> None:
    """--drug compares the results with the catalog; a misspelt drug fails before any work."""
    config = AnalysisConfig(inference=Inference(n_permutations=99), drug="escitalopram")
    Study.from_folder(small_study).analyse(config, tmp_path / "out")
    compared = pd.read_csv(tmp_path / "out" / "compare" / "compare.tsv", sep="\t")
    claims = compared[compared["kind"] == "claim"]
    assert "ssri_healthy_within_decrease" in set(claims["id"])
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Beside the evidence catalog" in html
    with pytest.raises(InputError, match="escitalopramm"):
        Study.from_folder(small_study).analyse(
            AnalysisConfig(drug="escitalopramm"), tmp_path / "out2"
        )
    assert not (tmp_path / "out2").exists()


def test_an_analysis_derivatives_are_a_study_of_their_own(
    small_analysis: Results, tmp_path: Path
) -> None:
    """``run OUT/derivatives/dmnpharm``: the cleaned series are measured again, not cleaned.

    The design comes from the study the derivatives link to; every connectivity
    measure is the first analysis's to the precision of the written TSVs. ALFF and
    fALFF differ: they were measured on the unfiltered cleaning, and the written
    series are band-passed.
    """
    folder = Path(small_analysis.out) / "derivatives" / "dmnpharm"
    again = Study.from_folder(folder).analyse(SMALL_CONFIG_AGAIN, tmp_path / "again")
    first = small_analysis.results.set_index("measure")["estimate"]
    second = again.results.set_index("measure")["estimate"]
    connectivity = [m for m in first.index if m.endswith("_fc") or "segregation" in m]
    assert len(connectivity) >= 5
    np.testing.assert_allclose(second[connectivity], first[connectivity], atol=1e-5)
    provenance = json.loads((Path(again.out) / "provenance.json").read_text())
    assert provenance["config"]["denoise"]["done_by"].startswith("dmnpharm ")
    assert "gsr_sensitivity" not in set(again.metrics["analysis"])
    assert again.results["n"].max() == small_analysis.results["n"].max()


#: The re-analysis of the small study's derivatives: the same inference as SMALL_CONFIG.
SMALL_CONFIG_AGAIN = AnalysisConfig(inference=Inference(n_permutations=100))
