"""Shared fixtures: a seeded generator, small simulated studies, the real-data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache_and_in_process_runs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Give every test its own result cache and run per-run work in-process.

    A test never finds results another test cached, nor writes to the user's
    cache. Per-run work runs synchronously unless a test asks for Dask (the
    tests under ``tests/pipeline/test_execution.py`` start real clusters).
    """
    monkeypatch.setenv("DMNPHARM_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("DMNPHARM_SCHEDULER", "synchronous")


@pytest.fixture
def rng() -> np.random.Generator:
    """Return a seeded generator; tests must pass whatever the seed."""
    return np.random.default_rng(20261125)


#: A small study with unequal sizes so axis mix-ups fail: 8 subjects, 37 volumes.
SMALL_SPEC = replace(
    load_preset("demo-crossover", seed=11),
    design=replace(load_preset("demo-crossover").design, n_subjects=8),
    signal=SignalSpec(n_volumes=37, repetition_time=1.5),
)


@pytest.fixture(scope="session")
def small_study_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the small simulated study once per session (read-only for tests)."""
    dest = tmp_path_factory.mktemp("template") / "study"
    return write_simulated_study(simulate_study(SMALL_SPEC), dest)


@pytest.fixture
def small_study(small_study_template: Path, tmp_path: Path) -> Path:
    """Return a private, modifiable copy of the small simulated study."""
    import shutil

    dest = tmp_path / "study"
    shutil.copytree(small_study_template, dest)
    return dest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the real-data folder, or skip the test with the reason."""
    root = Path(os.environ.get("DMNPHARM_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real data folder {root} is absent (set DMNPHARM_DATA to use it)")
    return root


@pytest.fixture
def atlas_folder(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point DMNPHARM_ATLAS_DIR at the real atlas files (skip when absent)."""
    from dmnpharm.atlases import load_atlas

    folder = shared_data / "atlases"
    if not folder.is_dir():
        pytest.skip(f"atlas folder {folder} is absent")
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(folder))
    load_atlas.cache_clear()
    yield folder
    load_atlas.cache_clear()
