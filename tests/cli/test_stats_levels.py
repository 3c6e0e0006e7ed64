"""``dmnpharm stats`` on the region and edge tables ``dmnpharm run`` writes, as they are.

One tiny simulated crossover (4 subjects x 2 sessions, the 34 DMN regions of
dosenbach160: 561 edges) is analysed once for the module; its
``metrics_edges.parquet`` and ``metrics_regions.parquet`` go into ``stats``
unchanged, and the paired t of a few edges is checked against
``scipy.stats.ttest_rel`` on the same rows.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps

from dmnpharm import AnalysisConfig, Inference, Study
from dmnpharm.cli import main
from dmnpharm.pipeline import read_metrics_table
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study
from dmnpharm.stats import ModelSpec, analyse, measure_name

#: 4 subjects x 2 sessions of 50 volumes on a 160-region atlas: 2**4 = 16 sign flips in all.
TINY_SPEC = replace(
    load_preset("demo-crossover", seed=7),
    design=replace(load_preset("demo-crossover").design, n_subjects=4),
    signal=SignalSpec(n_volumes=50, repetition_time=2.0, atlas="dosenbach160"),
)
PAIRED = ["--within", "condition", "--contrast", "drug-placebo", "--permutations", "16"]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Analyse the tiny study with ``dmnpharm run``'s pipeline once (read-only)."""
    base = tmp_path_factory.mktemp("stats-levels")
    study = write_simulated_study(simulate_study(TINY_SPEC), base / "study")
    config = AnalysisConfig(inference=Inference(n_permutations=16, motion_permutations=16))
    Study.from_folder(study).analyse(config, base / "out")
    return base / "out"


def _stats(table: Path, out: Path, *options: str) -> pd.DataFrame:
    """Run ``dmnpharm stats`` quietly; return its results.tsv."""
    assert main(["stats", str(table), "--out", str(out), *PAIRED, "-q", *options]) == 0
    return pd.read_csv(out / "results.tsv", sep="\t")


def _ttest(rows: pd.DataFrame, region_a: str, region_b: str) -> tuple[float, float, float]:
    """Paired t, p and mean change drug - placebo of one edge, straight from its rows."""
    edge = rows[(rows["region_a"] == region_a) & (rows["region_b"] == region_b)]
    wide = edge.pivot_table(index="participant_id", columns="condition", values="value")
    test = sps.ttest_rel(wide["drug"], wide["placebo"])
    change = float((wide["drug"] - wide["placebo"]).mean())
    return float(test.statistic), float(test.pvalue), change


def _check_edges(results: pd.DataFrame, rows: pd.DataFrame) -> None:
    """One result per edge, named ``edge_fc[A--B]`` in file order; t, p, change as ttest_rel."""
    pairs = rows[["region_a", "region_b"]].drop_duplicates()
    assert len(results) == len(pairs) == 34 * 33 // 2
    names = [measure_name("edge_fc", (a, b)) for a, b in pairs.itertuples(index=False)]
    assert results["measure"].tolist() == names
    by_name = results.set_index("measure")
    for a, b in pairs.iloc[[0, 100, 560]].itertuples(index=False):
        t, p, change = _ttest(rows, a, b)
        row = by_name.loc[measure_name("edge_fc", (a, b))]
        assert row["statistic"] == pytest.approx(t, rel=1e-9)
        assert row["p_parametric"] == pytest.approx(p, rel=1e-9)
        assert row["estimate"] == pytest.approx(change, rel=1e-9, abs=1e-15)
        assert row["n_permutations"] == 16  # every flip of 4 subjects


def test_edge_table_from_run_is_one_measure_per_edge(run_out: Path, tmp_path: Path) -> None:
    """The edge file as run wrote it: primary rows, one measure per edge, the edge matrix."""
    edges_file = run_out / "metrics_edges.parquet"
    rows = pd.read_parquet(edges_file)
    results = _stats(edges_file, tmp_path / "out")
    _check_edges(results, rows[rows["analysis"] == "primary"])
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="edges"' in report
    assert "561 edges" in report
    provenance = pd.read_json(tmp_path / "out" / "provenance.json", typ="series")
    assert provenance["analysis"] == "primary"
    assert provenance["level"] == "edge"


def test_gsr_sensitivity_rows_on_request(run_out: Path) -> None:
    """``analysis="gsr_sensitivity"`` (``--analysis``) tests the GSR rows of the same file."""
    edges_file = run_out / "metrics_edges.parquet"
    rows = pd.read_parquet(edges_file)
    table = read_metrics_table(edges_file, analysis="gsr_sensitivity")
    results = analyse(table, ModelSpec("condition", ("drug", "placebo")), n_permutations=16)
    _check_edges(results.results, rows[rows["analysis"] == "gsr_sensitivity"])


def test_region_table_from_run_is_one_measure_per_region(run_out: Path, tmp_path: Path) -> None:
    """Region rows become ``gbc[<region>]`` ...; measures with inf values are left out, named.

    50-volume runs give some regions a sample entropy of ``inf`` (no template
    matches): those measures are listed in model.txt, the others tested.
    """
    regions_file = run_out / "metrics_regions.parquet"
    rows = pd.read_parquet(regions_file)
    rows = rows[rows["analysis"] == "primary"]
    names = [measure_name(m, (r,)) for m, r in zip(rows["measure"], rows["region_a"], strict=True)]
    rows = rows.assign(name=names)
    infinite = set(rows.loc[~np.isfinite(rows["value"]), "name"])
    results = _stats(regions_file, tmp_path / "out")
    assert set(results["measure"]) == set(names) - infinite
    model = (tmp_path / "out" / "model.txt").read_text(encoding="utf-8")
    for name in infinite:
        assert f"left out: measure {name}: " in model
    one = rows[rows["name"] == results["measure"].iloc[0]]
    wide = one.pivot_table(index="participant_id", columns="condition", values="value")
    t = sps.ttest_rel(wide["drug"], wide["placebo"]).statistic
    assert results["statistic"].iloc[0] == pytest.approx(t, rel=1e-9)


def test_a_table_repeating_a_measure_per_run_is_refused(
    run_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Edges named in columns stats does not know: refused, naming file, column, value, fix."""
    rows = pd.read_parquet(run_out / "metrics_edges.parquet")
    renamed = tmp_path / "renamed.parquet"
    rows.rename(columns={"region_a": "roi_a", "region_b": "roi_b"}).to_parquet(renamed)
    code = main(["stats", str(renamed), "--out", str(tmp_path / "out"), *PAIRED, "-q"])
    error = capsys.readouterr().err
    assert code == 1
    assert "renamed.parquet" in error
    assert "measure 'edge_fc'" in error
    assert "they differ in roi_b" in error
    assert "Fix: put the column that tells these rows apart into the measure name" in error
    assert not (tmp_path / "out").exists()


def test_network_rows_stay_the_default_of_a_combined_table(run_out: Path, tmp_path: Path) -> None:
    """Network and edge rows in one table: network rows unless the edge level is asked for."""
    network = pd.read_parquet(run_out / "metrics.parquet")
    edges = pd.read_parquet(run_out / "metrics_edges.parquet")
    combined = tmp_path / "combined.parquet"
    pd.concat([network, edges], ignore_index=True).to_parquet(combined)
    default = read_metrics_table(combined)
    assert set(default["measure"].astype(str)) == set(network["measure"])
    from_edges = read_metrics_table(combined, level="edge")
    alone = read_metrics_table(run_out / "metrics_edges.parquet")
    assert from_edges["measure"].astype(str).tolist() == alone["measure"].astype(str).tolist()
    np.testing.assert_array_equal(from_edges["value"], alone["value"])
