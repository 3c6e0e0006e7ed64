"""The public object model: ``Study``, ``AnalysisConfig`` and ``Results`` from the top package."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path

import pytest

import dmnpharm as d
from dmnpharm.config import paired_model
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import BundleConfig
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study
from dmnpharm.stats import ModelSpec
from dmnpharm.store import make_analysis_id

#: The provenance record of an analysis with every default: these keys, no others.
RECORD_KEYS = {
    "atlas",
    "contrast",
    "n_permutations",
    "seed",
    "confidence",
    "denoise",
    "denoise_default",
    "estimator",
    "space",
    "radius_mm",
    "allow_failures",
    "gsr_sensitivity",
    "voxel_maps",
    "drug",
    "population",
    "between",
    "between_contrast",
    "covariates",
    "block",
}

#: 4 subjects x 2 sessions of 40 volumes: the smallest study worth analysing.
TINY_SPEC = replace(
    load_preset("demo-crossover", seed=3),
    design=replace(load_preset("demo-crossover").design, n_subjects=4),
    signal=SignalSpec(n_volumes=50, repetition_time=2.0),
)


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the tiny simulated ROI-level study once for this module (read-only)."""
    dest = tmp_path_factory.mktemp("public-api") / "study"
    return write_simulated_study(simulate_study(TINY_SPEC), dest)


def test_the_top_package_exports_the_object_model() -> None:
    """``dmnpharm.Study``, ``.AnalysisConfig`` and ``.Results`` are the pipeline's classes."""
    from dmnpharm.config import AnalysisConfig
    from dmnpharm.pipeline import Results, Study

    assert d.Study is Study
    assert d.AnalysisConfig is AnalysisConfig
    assert d.Results is Results
    assert {"Study", "AnalysisConfig", "Results"} <= set(d.__all__)
    assert {"Study", "AnalysisConfig", "Results"} <= set(dir(d))


def test_analysis_config_is_frozen_and_validated() -> None:
    """Fields cannot be set; impossible contrasts, trend models and permutations are refused."""
    config = d.AnalysisConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.radius_mm = 6.0  # type: ignore[misc]
    changed = config.replace(radius_mm=6.0)
    assert (changed.radius_mm, config.radius_mm) == (6.0, 5.0)
    assert config.contrast == ("drug", "placebo")
    with pytest.raises(InputError, match="two different conditions"):
        d.AnalysisConfig(model=paired_model(("drug", "drug")))
    with pytest.raises(InputError, match="two different conditions"):
        config.replace(model=paired_model(("placebo", "placebo")))
    with pytest.raises(InputError, match="dmnpharm stats"):
        d.AnalysisConfig(model=ModelSpec(within="condition", trend="dose_mg"))
    with pytest.raises(InputError, match="n_permutations"):
        d.AnalysisConfig(inference=d.Inference(n_permutations=0))


def test_record_of_the_defaults_and_a_changed_bundle() -> None:
    """The defaults record exactly the known keys; a non-default bundle adds one and a new id."""
    default = d.AnalysisConfig()
    record = default.record()
    assert set(record) == RECORD_KEYS
    dense = default.replace(bundle=BundleConfig(density=0.2))
    changed = dense.record()
    assert set(changed) == RECORD_KEYS | {"bundle"}
    assert changed["bundle"]["density"] == 0.2
    assert {k: v for k, v in changed.items() if k != "bundle"} == record
    inputs = {"participants.tsv": "0" * 64}

    def analysis_id(config: d.AnalysisConfig) -> str:
        # As the orchestrator names an analysis: its choices and its inputs' content.
        identity = {"config": config.record(), "inputs": inputs}
        return make_analysis_id("seitzman300", config.strategy, config.estimator, identity)

    assert analysis_id(default) == analysis_id(d.AnalysisConfig())
    assert analysis_id(dense) != analysis_id(default)


def test_validate_lists_the_problems_of_a_study(tiny_template: Path, tmp_path: Path) -> None:
    """A clean study has no problems; without a sessions file the list names that file."""
    import shutil

    root = Path(shutil.copytree(tiny_template, tmp_path / "study"))
    study = d.Study.from_folder(root)
    assert study.kind == "roi"
    assert study.validate() == []
    sessions = sorted(root.glob("sub-*/sub-*_sessions.tsv"))
    assert len(sessions) == 4
    sessions[1].unlink()
    problems = d.Study.from_folder(root).validate()
    assert problems
    assert any(sessions[1].name in problem for problem in problems), problems


def test_results_write_copies_the_output_folder(tiny_template: Path, tmp_path: Path) -> None:
    """``Results.write`` copies the whole folder; the copy's paths point inside it."""
    config = d.AnalysisConfig(inference=d.Inference(n_permutations=16))
    results = d.Study.from_folder(tiny_template).analyse(config, tmp_path / "out")
    assert isinstance(results, d.Results)
    copy = results.write(tmp_path / "copy")
    assert copy.out == tmp_path / "copy"
    assert copy.report_file == tmp_path / "copy" / "report.html"
    assert copy.report_file.is_file()
    assert copy.report() == results.report()
    assert copy.analysis_id == results.analysis_id
    assert results.store == results.out / "results.duckdb"
    assert copy.store == copy.out / "results.duckdb"
    original = sorted(p.relative_to(results.out) for p in results.out.rglob("*") if p.is_file())
    copied = sorted(p.relative_to(copy.out) for p in copy.out.rglob("*") if p.is_file())
    assert copied == original
    assert results.report_file.is_file()  # the original stays where it was
