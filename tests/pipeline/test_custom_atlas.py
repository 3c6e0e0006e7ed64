"""A lab's own parcellation through ``run``: by value, keyed by content."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SMALL_SPEC, in_process_runs
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.cli import main
from dmnpharm.config import AnalysisConfig
from dmnpharm.execution import RunCache
from dmnpharm.pipeline._adapters import plan_roi
from dmnpharm.pipeline._orchestrator import resolve_config
from dmnpharm.pipeline._tasks import task_keys
from dmnpharm.simulate import simulate_study, write_simulated_study


@pytest.fixture(scope="module")
def lab_atlas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Write a 300-region table with the lab's own labels and Seitzman's network names.

    Returns the table, its network mapping file and a small study simulated on it.
    """
    base = tmp_path_factory.mktemp("lab-atlas")
    source = load_atlas("seitzman300")
    rows = [f"P{i:03d}\t{net}" for i, net in enumerate(source.source_networks, start=1)]
    table = base / "atlas-Lab300_regions.tsv"
    table.write_text("label\tnetwork\n" + "\n".join(rows) + "\n", encoding="utf-8")
    mapping = base / "networks.tsv"
    mapping.write_text("name\tnetwork\nVentralAttention\tVAN\n", encoding="utf-8")
    signal = replace(SMALL_SPEC.signal, atlas=str(table), atlas_network_map=str(mapping))
    study = write_simulated_study(
        simulate_study(replace(SMALL_SPEC, signal=signal)), base / "study"
    )
    return table, mapping, study


def test_simulator_writes_the_lab_atlas_columns(lab_atlas: tuple[Path, Path, Path]) -> None:
    """Files carry the table's labels as columns and its name as the atlas entity."""
    _, _, study = lab_atlas
    files = sorted(study.glob("sub-01/ses-*/func/*_atlas-Lab300_timeseries.tsv"))
    assert len(files) == 2
    header = files[0].read_text().splitlines()[0].split("\t")
    assert header[:2] == ["P001", "P002"]
    assert len(header) == 300


def test_run_with_the_table_and_mapping(
    lab_atlas: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """``run --atlas TABLE --network-map MAP`` analyses it; provenance keeps the content hash."""
    table, mapping, study = lab_atlas
    out = tmp_path / "out"
    args = ["run", str(study), "--atlas", str(table), "--network-map", str(mapping)]
    with in_process_runs(tmp_path / "cache"):
        assert (
            main([*args, "--out", str(out), "--permutations", "50", "--no-gsr-sensitivity", "-q"])
            == 0
        )
    recorded = json.loads((out / "provenance.json").read_text())["config"]["atlas"]
    assert recorded["name"] == "Lab300"
    assert recorded["networks"]["DMN"] == 67
    assert recorded["fingerprint"] == load_atlas(table, mapping).fingerprint
    derived = sorted((out / "derivatives").rglob("*_seg-Lab300_stat-mean_timeseries.tsv"))
    assert len(derived) == 16
    # Without the mapping, the ambiguous name is a data error naming the file and line.
    assert main([*args[:4], "--out", str(tmp_path / "no"), "-q"]) == 1


def test_atlas_travels_by_value_and_its_content_keys_the_cache(
    lab_atlas: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Tasks carry the Atlas itself (picklable); another network table is another run key."""
    table, mapping, study = lab_atlas
    config = resolve_config(AnalysisConfig(atlas=load_atlas(table, mapping)), study, "roi")
    task = plan_roi(study, config).runs[0].task
    sent = pickle.loads(pickle.dumps(task))
    assert isinstance(sent.config.atlas, Atlas)
    assert sent.config.atlas.labels[0] == "P001"
    cache = RunCache(tmp_path / "cache")
    _, key = task_keys(task, cache)
    edited = load_atlas(table, mapping)
    changed = replace(edited, networks=("DMN", *edited.networks[1:]))
    other = replace(task, config=config.replace(atlas=changed))
    assert task_keys(other, cache)[1] != key
    assert task_keys(replace(task, config=config), cache)[1] == key
