"""``dmnpharm predict`` end to end on known truth: simulate, run, predict, through files only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import in_process_runs
from dmnpharm import AnalysisConfig, Study
from dmnpharm.atlases import load_atlas
from dmnpharm.cli import main
from dmnpharm.config import Inference
from dmnpharm.predict import euclidean_distance
from dmnpharm.simulate import (
    load_preset,
    regional_effect,
    simulate_study,
    write_simulated_study,
)

#: Synthetic "receptor" maps named like Hansen's, so that catalog drugs find targets.
TARGETS = ("5HT1a", "5HT2a", "D2", "GABAa", "NMDA", "MOR")


def _maps(coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cov = np.exp(-euclidean_distance(coords) / 25.0)
    chol = np.linalg.cholesky(cov + 1e-8 * np.eye(len(coords)))
    return np.asarray(np.exp(0.5 * chol @ rng.normal(size=(len(coords), len(TARGETS)))))


@pytest.fixture(scope="module")
def known_truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Simulate and analyse a crossover whose drug couples regions as the '5HT2a' map."""
    base = tmp_path_factory.mktemp("predict")
    atlas = load_atlas("seitzman300")
    density = _maps(np.asarray(atlas.coords), np.random.default_rng(5))
    table = pd.DataFrame(density, columns=list(TARGETS))
    table.insert(0, "region", atlas.labels)
    table.to_csv(base / "receptors.tsv", sep="\t", index=False)
    z = (density - density.mean(0)) / density.std(0)
    effect = regional_effect("regional_coupling", 0.6, z[:, 1], atlas, label="5HT2a")
    preset = load_preset("demo-crossover", seed=2)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=16),
        signal=replace(preset.signal, n_volumes=120),
        effects=(effect,),
    )
    study = write_simulated_study(simulate_study(spec), base / "study")
    with in_process_runs(base / "cache"):
        config = AnalysisConfig(inference=Inference(n_permutations=100))
        Study.from_folder(study).analyse(config, base / "results")
    keep = [i for i, n in enumerate(atlas.networks) if n in ("DMN", "SN", "FPN", "DAN")][::2]
    subset = pd.DataFrame(
        {
            "label": [atlas.labels[i] for i in keep],
            "x": [atlas.coords[i][0] for i in keep],
            "y": [atlas.coords[i][1] for i in keep],
            "z": [atlas.coords[i][2] for i in keep],
            "network": [atlas.networks[i] for i in keep],
        }
    )
    subset.to_csv(base / "subset_atlas.tsv", sep="\t", index=False)
    table.iloc[keep].to_csv(base / "receptors_subset.tsv", sep="\t", index=False)
    return {
        "base": base,
        "receptors": base / "receptors.tsv",
        "results": base / "results",
        "subset": base / "subset_atlas.tsv",
    }


def test_observed_map_names_the_receptor_that_drove_it(known_truth: dict[str, Path]) -> None:
    """The run's regional GBC effect is explained by '5HT2a' first, spatial p < 0.05."""
    out = known_truth["base"] / "explained"
    args = ["predict", "--receptors", str(known_truth["receptors"]), "--observed"]
    args += [str(known_truth["results"]), "--n-null", "500", "--out", str(out), "-q"]
    assert main(args) == 0
    corr = pd.read_csv(out / "receptor_correlations.tsv", sep="\t")
    assert list(corr.columns[:7]) == [
        "target",
        "r_pearson",
        "r_spearman",
        "p_parametric",
        "p_spatial",
        "null_method",
        "n_null",
    ]
    top = corr.iloc[0]
    assert top["target"] == "5HT2a"
    assert top["p_spatial"] < 0.05
    assert top["p_spatial"] >= top["p_parametric"]
    dominance = pd.read_csv(out / "receptor_dominance.tsv", sep="\t")
    assert dominance.iloc[0]["target"] == "5HT2a"
    assert (out / "report.html").read_text(encoding="utf-8").count("data:image/png") >= 1


def test_drug_prediction_uses_the_study_placebo_fc(known_truth: dict[str, Path]) -> None:
    """--drug with --observed: targets table, model fitted to the study's placebo runs."""
    out = known_truth["base"] / "drug"
    args = ["predict", "--drug", "psilocybin", "--receptors", str(known_truth["receptors"])]
    args += ["--observed", str(known_truth["results"]), "--n-null", "200", "--n-seeds", "2"]
    args += ["--atlas", str(known_truth["subset"])]  # 60 regions keep the model quick
    assert main([*args, "--out", str(out), "-q"]) == 0
    targets = pd.read_csv(out / "drug_targets.tsv", sep="\t")
    assert set(targets["target"]) == {"5HT2a", "5HT1a"}
    assert targets["used"].all()
    networks = pd.read_csv(out / "network_changes.tsv", sep="\t")
    assert {"pharmacological", "whole-brain model", "observed"} <= set(networks["source"])
    record = (out / "prediction.json").read_text(encoding="utf-8")
    assert "placebo runs (16 subjects)" in record
    assert "FALLBACK distance rule" in record
    agreement = pd.read_csv(out / "agreement.tsv", sep="\t")
    assert {"predicted", "observed", "agrees"} <= set(agreement.columns)
    both = pd.read_csv(out / "predicted_vs_observed.tsv", sep="\t")
    assert both.iloc[0]["target"] == "predicted (pharmacological)"


def test_predict_refuses_without_a_question(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither --drug nor --observed: a clear error and no output folder."""
    maps = tmp_path / "maps.tsv"
    maps.write_text("region\tD2\na\t1\nb\t2\n", encoding="utf-8")
    code = main(["predict", "--receptors", str(maps), "--out", str(tmp_path / "o")])
    assert code != 0
    assert "--drug NAME, --observed" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_with_drug_and_receptors_adds_the_prediction(known_truth: dict[str, Path]) -> None:
    """``run --drug AGENT --receptors``: OUT/predict/ and a report section beside the catalog."""
    base = known_truth["base"]
    config = AnalysisConfig(
        inference=Inference(n_permutations=100),
        drug="psilocybin",
        # Maps of 63 regions: the prediction covers those only, which keeps the model quick.
        receptors=str(known_truth["base"] / "receptors_subset.tsv"),
    )
    with in_process_runs(base / "cache"):  # the runs are cached: only the group work is redone
        results = Study.from_folder(base / "study").analyse(config, base / "with_drug")
    predicted = results.out / "predict"
    assert (predicted / "receptor_correlations.tsv").is_file()
    assert (predicted / "drug_targets.tsv").is_file()
    record = (predicted / "prediction.json").read_text(encoding="utf-8")
    n_maps = len(pd.read_csv(known_truth["base"] / "receptors_subset.tsv", sep="\t"))
    assert f'"regions_used": {n_maps}' in record
    report = results.report_file.read_text(encoding="utf-8")
    assert "Prediction from receptor targets" in report
    assert report.index("Beside the evidence catalog") < report.index("Prediction from receptor")


def test_run_refuses_a_prediction_it_could_not_make(tmp_path: Path) -> None:
    """A drug class or missing maps are refused before any work."""
    from dmnpharm.exceptions import InputError
    from dmnpharm.pipeline._predict import check_prediction_inputs

    maps = tmp_path / "maps.tsv"
    maps.write_text("region\tD2\na\t1\n", encoding="utf-8")
    with pytest.raises(InputError, match="not an agent"):
        check_prediction_inputs(AnalysisConfig(drug="psychedelic", receptors=str(maps)))
    with pytest.raises(InputError, match="do not exist"):
        check_prediction_inputs(AnalysisConfig(drug="lsd", receptors=str(tmp_path / "none")))
    with pytest.raises(InputError, match="give the drug too"):
        AnalysisConfig(receptors=str(maps))
