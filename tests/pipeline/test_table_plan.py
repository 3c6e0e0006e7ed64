"""The run-table adapter: a table of time-series files becomes runs the pipeline measures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm import AnalysisConfig
from dmnpharm.atlases import regions_atlas
from dmnpharm.config import between_model
from dmnpharm.exceptions import InputError, StudyValidationError
from dmnpharm.pipeline._checks import preflight
from dmnpharm.pipeline._table_plan import is_run_table, plan_table
from dmnpharm.pipeline._work import execute_run
from dmnpharm.signal import DenoiseConfig

#: 13 regions in the networks the DMN bundle measures.
NETWORKS = ["DMN"] * 5 + ["SN"] * 2 + ["FPN"] * 2 + ["DAN"] * 2 + ["VIS"] * 2
N_VOLUMES = (97, 83, 89)
REPETITION_TIMES = {"siteA": 2.0, "siteB": 2.5}


@pytest.fixture
def table(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Three runs (AFNI 1D in a data folder beside the table), a site table and a regions table."""
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    sites = ["siteA", "siteB", "siteA"]
    for i, (n, site, group) in enumerate(zip(N_VOLUMES, sites, "aba", strict=True)):
        shared = rng.standard_normal((n, 1))  # one source per run: correlated regions
        signals = shared + rng.standard_normal((n, len(NETWORKS)))
        path = data / f"run{i}_rois.1D"
        header = "\t".join(f"#{k}" for k in range(1, len(NETWORKS) + 1))
        lines = ["\t".join(f"{v:.8f}" for v in row) for row in signals]
        path.write_text(header + "\n" + "\n".join(lines) + "\n")
        rows.append({"participant_id": f"{i + 1}", "path": str(path), "site": site,
                     "group": group, "age": 20 + 3 * i})  # fmt: skip
    folder = tmp_path / "tables"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "runs.tsv", sep="\t", index=False)
    trs = {"site": list(REPETITION_TIMES), "repetition_time": list(REPETITION_TIMES.values())}
    pd.DataFrame(trs).to_csv(folder / "tr.tsv", sep="\t", index=False)
    regions = pd.DataFrame({"label": [f"r{k}" for k in range(len(NETWORKS))], "network": NETWORKS})
    regions.to_csv(folder / "atlas-toy_regions.tsv", sep="\t", index=False)
    return folder / "runs.tsv"


def _config(table: Path, strategy: str = "none") -> AnalysisConfig:
    return AnalysisConfig(
        atlas=regions_atlas(table.with_name("atlas-toy_regions.tsv")),
        denoise=DenoiseConfig(strategy),
        model=between_model("group", ("a", "b"), covariates=("age",), block="site"),
    )


def test_plan_runs_design_inputs_and_record(table: Path) -> None:
    """Each row is a ``table`` run with its site's repetition time; inputs under the root."""
    config = _config(table)
    plan = plan_table(table, config, table.with_name("tr.tsv"))
    assert plan.root == table.parent.parent  # holds tables/ and data/
    assert [run.task.kind for run in plan.runs] == ["table"] * 3
    assert [run.repetition_time for run in plan.runs] == [2.0, 2.5, 2.0]
    assert [run.task.n_volumes for run in plan.runs] == list(N_VOLUMES)
    assert all(run.task.confounds is None for run in plan.runs)
    assert plan.runs[1].source == "data/run1_rois.1D"
    assert plan.runs[1].entities == {"sub": "2", "ses": "", "task": "rest", "run": "", "space": ""}
    assert list(plan.design["participant_id"]) == ["sub-1", "sub-2", "sub-3"]
    assert {"site", "group", "age", "repetition_time", "n_volumes", "path"} <= set(plan.design)
    assert table in plan.inputs
    assert table.with_name("tr.tsv") in plan.inputs
    assert len(plan.inputs) == 5
    assert plan.record["input"] == "run table"
    assert plan.record["repetition_time_key"] == "site"
    assert plan.summary == "3 participants, 3 runs listed in runs.tsv, atlas toy"
    assert preflight(plan, config) == []
    assert is_run_table(table)
    assert not is_run_table(table.parent)


def test_a_run_is_measured_from_its_file(table: Path) -> None:
    """The per-run work reads a ``table`` run's 1D file with the atlas's labels."""
    plan = plan_table(table, _config(table), table.with_name("tr.tsv"))
    outcome = execute_run(plan.runs[2].task)
    assert outcome.error is None
    assert outcome.processed is not None
    metrics = outcome.processed.metrics
    within = metrics.loc[metrics["measure"] == "dmn_within_fc", "value"]
    assert np.isfinite(within).all()
    assert outcome.processed.record["n_volumes"] == N_VOLUMES[2]


def test_strategies_that_need_confounds_are_refused(table: Path) -> None:
    """Without confounds, only ``--strategy none`` is accepted; each run is named."""
    config = _config(table, "6p")
    plan = plan_table(table, config, table.with_name("tr.tsv"))
    problems = preflight(plan, config)
    assert len(problems) == 3
    assert all("has no confounds file" in p and "--strategy none" in p for p in problems)


def test_atlas_problems(table: Path) -> None:
    """No atlas, or one whose regions are not the files' columns, is refused before work."""
    with pytest.raises(InputError, match="names no atlas"):
        plan_table(table, AnalysisConfig(denoise=DenoiseConfig("none")))
    smaller = table.with_name("atlas-small_regions.tsv")
    pd.DataFrame({"label": ["a", "b"], "network": ["DMN", "SN"]}).to_csv(
        smaller, sep="\t", index=False
    )
    config = AnalysisConfig(atlas=regions_atlas(smaller), denoise=DenoiseConfig("none"))
    with pytest.raises(StudyValidationError) as info:
        plan_table(table, config, table.with_name("tr.tsv"))
    assert len(info.value.problems) == 3
    assert "has 13 columns but the atlas has 2 regions" in info.value.problems[0]
