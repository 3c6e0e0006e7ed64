"""Comparing a simulated study's results with the evidence catalog.

The study plants a within-DMN FC decrease and a DMN-salience FC increase under
drug. A small catalog built here has one claim the first effect agrees with,
one claim the second contradicts, and claims this study cannot test; the
shipped catalog is compared for a smoke check. ``compare`` takes the results
table itself: the tests read ``group/results.tsv`` back with ``read_results``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import dmnpharm.catalog
from dmnpharm import AnalysisConfig, Inference, Results, Study
from dmnpharm.catalog import (
    COMPARE_COLUMNS,
    Agent,
    Catalog,
    Claim,
    ClaimLink,
    DrugClass,
    Finding,
    Population,
    Publication,
    Target,
    compare,
    comparison_text,
    load_catalog,
    read_results,
)
from dmnpharm.exceptions import InputError, OutputExistsError
from dmnpharm.io import write_tsv
from dmnpharm.report import write_comparison
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import Effect, load_preset, simulate_study, write_simulated_study

WITHIN, SALIENCE = "dmn_within_fc", "dmn_salience_fc"


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Simulate and analyse a 14-subject crossover with two planted effects (~4 s)."""
    base = load_preset("demo-crossover", seed=3)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=14),
        # no session-to-session states: this module tests the comparison logic
        signal=replace(base.signal, n_volumes=100, session_network_sd=0.0),
        effects=(Effect("within_fc", -0.12, "DMN"), Effect("between_fc", 0.10, "DMN", "SN")),
    )
    root = tmp_path_factory.mktemp("compare")
    folder = write_simulated_study(simulate_study(spec), root / "study")
    # Signals as simulated: this module tests the comparison, not the denoising (a
    # band-pass leaves 100 volumes too few degrees of freedom for the DMN-SN effect).
    config = AnalysisConfig(
        denoise=DenoiseConfig("none"),
        inference=Inference(n_permutations=200),
        gsr_sensitivity=False,
    )
    return Study.from_folder(folder).analyse(config, root / "out")


@pytest.fixture(scope="module")
def results_dir(analysis: Results) -> Path:
    """Return the analysis output folder."""
    return Path(analysis.out)


@pytest.fixture(scope="module")
def results(results_dir: Path) -> pd.DataFrame:
    """Return the group results table, read back from ``group/results.tsv``."""
    return read_results(results_dir / "group" / "results.tsv")


def _publication(id: str, population: str, findings: tuple[Finding, ...]) -> Publication:
    return Publication(
        id=id,
        first_author=id[:-4].capitalize(),
        year=int(id[-4:]),
        journal="J Test",
        doi=None,
        agents=("escitalopram",),
        drug_class="ssri_snri",
        dose="20 mg",
        design="crossover",
        population=population,
        n="20",
        modality="rest",
        findings=findings,
        gsr=None,
        confirmation="confirmed",
        note="",
    )


def _claim(
    id: str, population: str, measures: tuple[str, ...], direction: str, study: str
) -> Claim:
    return Claim(
        id=id,
        drug_class="ssri_snri",
        population=population,
        statement=f"statement of {id}",
        measures=measures,
        expected_direction=direction,
        links=(ClaimLink(study, "supports"),),
        verdict="weak",
        rationale="one study",
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """One class with claims each verdict can reach on the simulated study."""
    return Catalog(
        version="2026.11.0",
        drug_classes=(
            DrugClass("ssri_snri", "SSRIs and SNRIs", "reuptake inhibitors"),
            DrugClass("psychedelic", "Classic psychedelics", "5-HT2A agonists"),
        ),
        agents=(
            Agent("escitalopram", "Escitalopram", "ssri_snri", (Target("5HTT", "inhibitor"),)),
            Agent("lsd", "LSD", "psychedelic", (Target("5HT2a", "agonist"),)),
        ),
        populations=(
            Population("healthy", "Healthy volunteers", ""),
            Population("mdd", "Major depression", ""),
        ),
        studies=(
            _publication(
                "vandeven2013", "healthy", (Finding(WITHIN, "decrease", "t = -3", -0.66, "d"),)
            ),
            _publication(
                "other2020",
                "healthy",
                (
                    Finding(SALIENCE, "decrease", "", -0.4, "g"),
                    Finding("dmn_centrality", "decrease", "", -0.5, "d"),
                ),
            ),
            _publication("wang2017", "mdd", (Finding(WITHIN, "normalization", "", 0.3, "g"),)),
        ),
        baselines=(),
        claims=(
            _claim("within_decreases", "healthy", (WITHIN,), "decrease", "vandeven2013"),
            _claim("salience_decreases", "healthy", (SALIENCE,), "decrease", "other2020"),
            _claim("fpn_increases", "healthy", ("dmn_fpn_fc",), "increase", "other2020"),
            _claim("dmn_changes", "healthy", (WITHIN,), "mixed", "other2020"),
            _claim("task_only", "healthy", ("dmn_activity_task",), "decrease", "other2020"),
            _claim("partly_covered", "healthy", (WITHIN, "global_fc"), "decrease", "vandeven2013"),
            _claim("normalizes", "mdd", (WITHIN,), "normalization", "wang2017"),
        ),
    )


def test_planted_effects_agree_and_contradict(results: pd.DataFrame, catalog: Catalog) -> None:
    """The planted decrease agrees with its claim; the planted increase contradicts its claim."""
    result = compare(results, "escitalopram", "healthy", catalog=catalog)
    claims = {c["id"]: c for c in result.summary["claims"]}
    assert set(claims) == {
        "within_decreases",
        "salience_decreases",
        "fpn_increases",
        "dmn_changes",
        "task_only",
        "partly_covered",
    }
    assert claims["within_decreases"]["verdict"] == "agrees"
    assert claims["salience_decreases"]["verdict"] == "contradicts"
    assert claims["fpn_increases"]["verdict"] == "inconclusive"
    # "mixed" claims that a measure changes: a two-sided change decides it
    assert claims["dmn_changes"]["verdict"] == "agrees"
    assert claims["dmn_changes"]["test"] == "any change"
    assert claims["task_only"]["verdict"] == "not covered"
    assert claims["task_only"]["measures_missing"] == ["dmn_activity_task"]
    assert claims["partly_covered"]["verdict"] == "agrees"
    assert claims["partly_covered"]["measures_missing"] == ["global_fc"]
    assert (
        "not tested here: needs global_fc (not computed"
        in (claims["partly_covered"]["explanation"])
    )
    counts = result.summary["counts"]
    assert counts["agrees"] == 3
    assert counts["contradicts"] == 1
    # The summary says plainly which claims this study cannot test, and why.
    untestable = "\n".join(result.summary["not_testable"])
    assert "task_only" in untestable
    assert "dmn_activity_task (not computed by dmnpharm)" in untestable
    assert "dmn_changes" not in untestable
    assert "within_decreases" not in untestable

    rows = result.rows
    assert list(rows.columns) == list(COMPARE_COLUMNS)
    ours = rows[(rows["kind"] == "claim") & (rows["id"] == "within_decreases")].iloc[0]
    assert ours["our_direction"] == "decrease"
    assert ours["our_p_fwer"] < 0.05
    assert ours["our_ci_high"] < 0
    assert ours["our_effect_size_kind"] == "d_z"
    assert ours["our_effect_size_ci_low"] <= ours["our_effect_size"] <= 0
    salience = rows[(rows["kind"] == "claim") & (rows["measure"] == SALIENCE)].iloc[0]
    assert salience["our_direction"] == "increase"


def test_findings_beside_our_estimate(results: pd.DataFrame, catalog: Catalog) -> None:
    """Findings on measures we have sit beside our estimate; other populations are left out."""
    result = compare(results, "ssri_snri", catalog=catalog)
    findings = result.rows[result.rows["kind"] == "finding"].set_index(["id", "measure"])
    assert set(findings.index) == {("vandeven2013", WITHIN), ("other2020", SALIENCE)}
    row = findings.loc[("vandeven2013", WITHIN)]
    assert (row["literature_direction"], row["literature_effect_size"]) == ("decrease", -0.66)
    assert row["literature_effect_metric"] == "d"
    assert row["verdict"] == "agrees"
    assert findings.loc[("other2020", SALIENCE), "verdict"] == "contradicts"
    assert result.summary["n_findings"] == 2


def test_patients_normalization_is_not_testable(results: pd.DataFrame, catalog: Catalog) -> None:
    """A normalization claim cannot be tested by a drug-placebo contrast; it is said so."""
    result = compare(results, "escitalopram", "patients", catalog=catalog)
    claims = {c["id"]: c for c in result.summary["claims"]}
    assert set(claims) == {"normalizes"}
    assert claims["normalizes"]["verdict"] == "not testable with this analysis"
    assert "normalization" in result.summary["not_testable"][0]
    finding = result.rows[result.rows["kind"] == "finding"].iloc[0]
    assert finding["verdict"] == "not testable with this analysis"


def test_normalization_results_test_normalization_claims(tmp_path: Path, catalog: Catalog) -> None:
    """Results of a normalization analysis (distance to controls) test normalization claims."""
    table = pd.DataFrame(
        {
            "measure": [WITHIN],
            "contrast": ["distance to controls: post - pre"],
            "estimate": [-0.4],
            "ci_low": [-0.6],
            "ci_high": [-0.2],
            "p_fwer": [0.01],
            "effect_size_dz": [-0.9],
            "model": ["normalization"],
        }
    )
    table.to_csv(tmp_path / "results.tsv", sep="\t", index=False)
    read = read_results(tmp_path / "results.tsv")
    result = compare(read, "escitalopram", "mdd", catalog=catalog)
    assert result.summary["model"] == "normalization"
    assert result.summary["claims"][0]["verdict"] == "agrees"
    healthy = compare(read, "escitalopram", "healthy", catalog=catalog)
    verdicts = {c["id"]: c["verdict"] for c in healthy.summary["claims"]}
    assert verdicts["within_decreases"] == "not testable with this analysis"


def test_writes_tsv_json_and_forest(
    results: pd.DataFrame, catalog: Catalog, tmp_path: Path
) -> None:
    """compare.tsv and compare.json parse back; the forest plot is a PNG; no silent overwrite."""
    result = compare(results, "escitalopram", catalog=catalog, source="group/results.tsv")
    out = write_comparison(result, tmp_path / "cmp")
    table = pd.read_csv(out / "compare.tsv", sep="\t", na_values=["n/a"])
    assert list(table.columns) == list(COMPARE_COLUMNS)
    assert len(table) == len(result.rows)
    payload = json.loads((out / "compare.json").read_text())
    assert payload["summary"]["counts"]["contradicts"] == 1
    assert payload["summary"]["results"] == "group/results.tsv"
    assert len(payload["rows"]) == len(result.rows)
    assert (out / "compare_forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputExistsError):
        write_comparison(result, out)
    write_comparison(result, out, overwrite=True)
    text = comparison_text(result)
    assert "[agrees] within_decreases" in text
    assert "[contradicts] salience_decreases" in text
    assert "not testable from this study" in text
    assert "results group/results.tsv" in text


def test_missing_results_names_the_path(tmp_path: Path) -> None:
    """A results table that does not exist is refused, naming the file looked for."""
    with pytest.raises(InputError, match=r"group/results\.tsv' does not exist"):
        read_results(tmp_path / "group" / "results.tsv")


def test_bad_inputs_are_named(results: pd.DataFrame, catalog: Catalog, tmp_path: Path) -> None:
    """Unknown drug or population, a table without p_fwer, several contrasts."""
    with pytest.raises(InputError, match=r"drug 'escitalopam' .*'Escitalopram'"):
        compare(results, "escitalopam", catalog=catalog)
    with pytest.raises(InputError, match=r"population 'helthy' .*'healthy'"):
        compare(results, "lsd", "helthy", catalog=catalog)
    table = tmp_path / "results.tsv"
    lacking = pd.DataFrame({"measure": [WITHIN], "estimate": [0.1]})
    lacking.to_csv(table, sep="\t", index=False)
    with pytest.raises(InputError, match=r"table '.*results\.tsv' lacks the column.*p_fwer"):
        read_results(table)
    # A table given directly is named by its source.
    with pytest.raises(InputError, match=r"results table 'mine\.tsv' lacks the column.*p_fwer"):
        compare(lacking, "lsd", catalog=catalog, source="mine.tsv")
    pd.DataFrame(
        {"measure": [WITHIN] * 2, "contrast": ["a-b", "c-b"], "estimate": [1, 2], "p_fwer": [1, 1]}
    ).to_csv(table, sep="\t", index=False)
    several = read_results(table)
    with pytest.raises(InputError, match=r"'results' has several contrasts"):
        compare(several, "lsd", catalog=catalog)
    with pytest.raises(InputError, match=r"contrast 'x-y' is not in 'group/results\.tsv'"):
        compare(several, "lsd", catalog=catalog, contrast="x-y", source="group/results.tsv")
    picked = compare(several, "lsd", catalog=catalog, contrast="c-b")
    assert picked.summary["contrast"] == "c-b"
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"cannot read results table '.*broken\.parquet'"):
        read_results(tmp_path / "broken.parquet")


def test_table_equals_table_read_back(
    analysis: Results, results_dir: Path, catalog: Catalog, tmp_path: Path
) -> None:
    """Comparing the results in memory equals comparing them written as TSV and read back.

    Written with ``write_tsv`` (``n/a`` for missing values) or by the analysis itself
    (``group/results.tsv`` and ``group/results.parquet``): same rows, same summary, and
    byte-identical comparison files.
    """
    in_memory = analysis.results
    tables = {
        "write_tsv": read_results(write_tsv(in_memory, tmp_path / "results.tsv")),
        "group/results.tsv": read_results(results_dir / "group" / "results.tsv"),
        "group/results.parquet": read_results(results_dir / "group" / "results.parquet"),
    }
    for drug, population in (("escitalopram", "healthy"), ("ssri_snri", "patients")):
        expected = compare(in_memory, drug, population, catalog=catalog, source="table")
        written = write_comparison(expected, tmp_path / f"memory_{drug}_{population}")
        for name, table in tables.items():
            got = compare(table, drug, population, catalog=catalog, source="table")
            pd.testing.assert_frame_equal(got.rows, expected.rows, obj=name)
            assert got.summary == expected.summary, name
            again = write_comparison(got, tmp_path / f"{name.replace('/', '_')}_{drug}")
            for file in ("compare.tsv", "compare.json", "compare_forest.png"):
                assert (again / file).read_bytes() == (written / file).read_bytes(), (name, file)


def test_source_names_the_table(results: pd.DataFrame, catalog: Catalog) -> None:
    """summary["results"] is the name given (default "results"), never a path on disk."""
    assert compare(results, "lsd", catalog=catalog).summary["results"] == "results"
    named = compare(results, "lsd", catalog=catalog, source="group/results.tsv")
    assert named.summary["results"] == "group/results.tsv"


def test_catalog_does_not_draw() -> None:
    """Drawing and writing a comparison belong to dmnpharm.report, not to the catalog."""
    assert "write_comparison" not in dmnpharm.catalog.__all__
    assert "forest_figure" not in dmnpharm.catalog.__all__


def test_shipped_catalog_smoke(results: pd.DataFrame, tmp_path: Path) -> None:
    """The shipped catalog compares with the simulated study and writes every file."""
    shipped = load_catalog()
    for drug in ("escitalopram", "ssri_snri"):
        result = compare(results, drug, "healthy", catalog=shipped)
        assert result.summary["drug_class"] == shipped.agent("escitalopram").drug_class
        assert result.summary["claims"], "the shipped catalog has SSRI claims in healthy people"
        verdicts = {c["verdict"] for c in result.summary["claims"]}
        assert verdicts <= {
            "agrees",
            "contradicts",
            "inconclusive",
            "mixed",
            "not covered",
            "not testable with this analysis",
        }
    # The shipped SSRI claim on healthy volunteers expects within-DMN FC to decrease,
    # as planted: whatever else it names, its dmn_within_fc row agrees.
    rows = result.rows
    within = rows[
        (rows["kind"] == "claim")
        & (rows["measure"] == WITHIN)
        & (rows["literature_direction"] == "decrease")
    ]
    assert len(within) > 0
    assert set(within["verdict"]) == {"agrees"}
    out = write_comparison(result, tmp_path / "shipped")
    assert (out / "compare_forest.png").is_file()
    patients = compare(results, "escitalopram", "patients", catalog=shipped)
    assert all(c["population"] != "healthy" for c in patients.summary["claims"])
