"""Outputs of ``Study.analyse`` besides the tables: BIDS derivatives, results store, log."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm import AnalysisConfig, Inference, Results, Study
from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import OutputExistsError
from dmnpharm.signal import DenoiseConfig
from dmnpharm.store import query

LABEL = r"[A-Za-z0-9]+"
#: A derivative file name, as XCP-D 0.10 names its outputs: source entities, then the
#: atlas (seg-) and statistic (stat-) of the parcellated files, then the suffix.
NAME = re.compile(
    rf"sub-(?P<sub>{LABEL})(_ses-(?P<ses>{LABEL}))?_task-(?P<task>{LABEL})"
    rf"(_run-(?P<run>{LABEL}))?(_space-(?P<space>{LABEL}))?(_seg-(?P<seg>{LABEL}))?"
    rf"(_stat-(?P<stat>{LABEL}))?_(?P<suffix>timeseries|relmat|bold|motion|outliers|qc)"
    r"\.(tsv|json)"
)
#: Each run's files: (stat, suffix) -> whether the name has seg-.
RUN_FILES = {
    ("mean", "timeseries"): True,
    ("pearsoncorrelation", "relmat"): True,
    ("coverage", "bold"): True,
    (None, "motion"): False,
    (None, "outliers"): False,
    (None, "qc"): False,
}
SIDECAR = {
    "Atlas",
    "Strategy",
    "StrategyLabel",
    "StrategyDescription",
    "Censoring",
    "ConfoundColumns",
    "Estimator",
    "RepetitionTime",
    "SamplingFrequency",
    "NodeFiles",
    "Sources",
    "Provenance",
}
CENSORED = DenoiseConfig("6p", gsr=True, fd_threshold=0.25)
QUICK = AnalysisConfig(inference=Inference(n_permutations=99), denoise=DenoiseConfig("none"))


@pytest.fixture(scope="module")
def two_analyses(
    small_study_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Results, Results]:
    """Analyse the small study twice (strategies none and 6p+gsr) into one store."""
    base = tmp_path_factory.mktemp("outputs")
    study = Study.from_folder(small_study_template)
    first = study.analyse(QUICK, base / "none")
    second = study.analyse(QUICK.replace(denoise=CENSORED), base / "6pgsr", store=base / "none")
    return base, first, second


def _check_signals(path: Path, name: re.Match[str], strategy: str, study: Path) -> None:
    """Check a time series or matrix and its sidecar."""
    atlas = load_atlas("seitzman300")
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar.keys() >= SIDECAR
    assert sidecar["Strategy"] == strategy
    assert sidecar["SamplingFrequency"] == pytest.approx(1 / sidecar["RepetitionTime"])
    censoring = sidecar["Censoring"]
    assert censoring["KeptVolumes"] + censoring["CensoredVolumes"] == 81
    assert len(censoring["CensoredVolumeIndices"]) == censoring["CensoredVolumes"]
    assert sidecar["Provenance"]["strategy"] == strategy
    source = sidecar["Sources"][0].removeprefix("bids:source:")
    assert (study / source).is_file()
    if name["suffix"] == "timeseries":
        table = pd.read_csv(path, sep="\t")
        assert list(table.columns) == list(atlas.labels)
        assert len(table) == censoring["KeptVolumes"]
        return
    table = pd.read_csv(path, sep="\t", index_col=0)
    assert list(table.index) == list(table.columns) == list(atlas.labels)
    matrix = table.to_numpy()
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-7)
    # Pearson r as XCP-D writes it (the metrics use its Fisher z)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)
    assert np.abs(matrix).max() <= 1.0
    assert sidecar["Units"] == "r"


def check_derivatives(out: Path, study: Path, strategy: str) -> int:
    """Check the derivatives of one output folder; return the number of runs."""
    root = out / "derivatives" / "dmnpharm"
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["BIDSVersion"] == "1.9.0"
    assert description["GeneratedBy"][0]["Name"] == "dmnpharm"
    assert description["SourceDatasets"] == [{"URL": study.resolve().as_uri()}]
    design = pd.read_csv(out / "group" / "design.tsv", sep="\t", dtype=str)
    expected = set(zip(design["participant_id"], design["session_id"], strict=True))
    files = sorted(p for p in root.rglob("sub-*") if p.is_file())
    found: dict[tuple[str, str], set[tuple[str | None, str]]] = {}
    for path in files:
        name = NAME.fullmatch(path.name)
        assert name, path.name
        assert path.parent.parts[-3:] == (f"sub-{name['sub']}", f"ses-{name['ses']}", "func")
        assert name["task"] == "rest"
        kind = (name["stat"], name["suffix"])
        assert (name["seg"] == "seitzman300") == RUN_FILES[kind], path.name
        assert "desc-" not in path.name  # one strategy per analysis: named in the sidecars
        found.setdefault((f"sub-{name['sub']}", f"ses-{name['ses']}"), set()).add(kind)
        if path.suffix == ".tsv" and name["suffix"] in ("timeseries", "relmat"):
            _check_signals(path, name, strategy, study)
    assert set(found) == expected
    assert all(kinds == set(RUN_FILES) for kinds in found.values())
    assert len(files) == 2 * len(RUN_FILES) * len(expected)
    return len(expected)


def test_derivatives_follow_the_bids_conventions(
    two_analyses: tuple[Path, Results, Results], small_study_template: Path
) -> None:
    """Both analyses write one time series and one matrix (+ sidecars) per run."""
    base, _, _ = two_analyses
    assert check_derivatives(base / "none", small_study_template, "none") == 16
    assert check_derivatives(base / "6pgsr", small_study_template, "6p+gsr") == 16
    # censoring at FD 0.25 mm drops volumes somewhere, and the sidecars say where
    sidecars = (base / "6pgsr" / "derivatives").rglob("*_timeseries.json")
    censored = [json.loads(p.read_text())["Censoring"]["CensoredVolumes"] for p in sidecars]
    assert sum(censored) > 0
    # ... and so do the XCP-D-style motion and outliers tables of each run
    for series in (base / "6pgsr" / "derivatives").rglob("*_timeseries.json"):
        sidecar = json.loads(series.read_text())
        stem = series.name.split("_seg-")[0]
        outliers = pd.read_csv(series.with_name(f"{stem}_outliers.tsv"), sep="\t")
        removed = np.flatnonzero(outliers["denoising"].to_numpy()).tolist()
        assert removed == sidecar["Censoring"]["CensoredVolumeIndices"]
        motion = pd.read_csv(series.with_name(f"{stem}_motion.tsv"), sep="\t")
        source = small_study_template / sidecar["Sources"][0].removeprefix("bids:source:")
        confounds = pd.read_csv(
            source.with_name(f"{stem}_desc-confounds_timeseries.tsv"), sep="\t"
        )
        pd.testing.assert_frame_equal(motion, confounds[list(motion.columns)])
        over = motion["framewise_displacement"].fillna(0).to_numpy() > 0.25
        np.testing.assert_array_equal(outliers["framewise_displacement"], over)
        assert set(np.flatnonzero(over)) <= set(removed)


def test_store_holds_both_analyses(two_analyses: tuple[Path, Results, Results]) -> None:
    """The second run appended to the first one's store; the ids tell them apart."""
    base, first, second = two_analyses
    assert first.store == base / "none" / "results.duckdb"
    assert second.store == first.store
    assert not (base / "6pgsr" / "results.duckdb").exists()
    assert first.analysis_id.startswith("seitzman300_none_pearson_")
    assert second.analysis_id.startswith("seitzman300_6pGSR_pearson_")
    analyses = query(base / "none", "SELECT * FROM analyses ORDER BY created, analysis_id")
    assert set(analyses["analysis_id"]) == {first.analysis_id, second.analysis_id}
    assert set(analyses["strategy"]) == {"none", "6p+gsr"}
    assert set(analyses["output"]) == {str(base / "none"), str(base / "6pgsr")}
    results = query(
        base / "none",
        "SELECT analysis_id, analysis, strategy, estimate FROM results "
        "WHERE measure = 'dmn_within_fc' ORDER BY ALL",
    )
    keys = zip(results["analysis_id"], results["analysis"], results["strategy"], strict=True)
    assert set(keys) == {
        (first.analysis_id, "primary", "none"),
        (first.analysis_id, "gsr_sensitivity", "none+gsr"),
        (second.analysis_id, "primary", "6p+gsr"),
        (second.analysis_id, "gsr_sensitivity", "6p"),
    }
    mine = results[(results["analysis_id"] == first.analysis_id)].set_index("analysis")
    expected = first.results.set_index("measure").loc["dmn_within_fc", "estimate"]
    assert mine.loc["primary", "estimate"] == pytest.approx(expected)
    runs = query(base / "none", f"SELECT * FROM runs WHERE analysis_id = '{second.analysis_id}'")
    assert len(runs) == 16
    assert (runs["status"] == "included").all()
    assert (runs["n_kept"] + runs["n_censored"] == 81).all()
    assert all((base / "6pgsr" / path).is_file() for path in runs["relmat"])
    counts = query(
        base / "none", "SELECT analysis_id, count(*) AS n FROM metrics GROUP BY ALL"
    ).set_index("analysis_id")["n"]
    assert counts[first.analysis_id] == len(pd.read_parquet(base / "none" / "metrics.parquet"))
    edges = query(base / "none", "SELECT DISTINCT measure FROM metrics_edges")
    assert list(edges["measure"]) == ["edge_fc"]
    provenance = json.loads(
        query(
            base / "none",
            f"SELECT provenance FROM provenance WHERE analysis_id = '{first.analysis_id}'",
        )["provenance"].iloc[0]
    )
    assert provenance["analysis_id"] == first.analysis_id


def test_log_file(two_analyses: tuple[Path, Results, Results]) -> None:
    """Each output folder has the run's log at INFO."""
    base, first, _ = two_analyses
    log = (base / "none" / "dmnpharm.log").read_text()
    assert f"INFO dmnpharm.pipeline: analysis {first.analysis_id} stored in" in log
    assert "16 runs measured, 0 excluded, 0 failed" in log
    assert " DEBUG " not in log


def test_the_same_analysis_is_refused_before_any_work(
    two_analyses: tuple[Path, Results, Results],
    small_study_template: Path,
    tmp_path: Path,
) -> None:
    """Appending an analysis the store holds fails at once, unless overwriting."""
    base, first, _ = two_analyses
    again = tmp_path / "again"
    with pytest.raises(OutputExistsError, match=f"'{first.analysis_id}' is already in"):
        Study.from_folder(small_study_template).analyse(QUICK, again, store=base / "none")
    assert not again.exists()
    assert list(tmp_path.iterdir()) == []
