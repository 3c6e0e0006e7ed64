"""Shared fixtures: a seeded generator, small simulated studies, the real-data folder.

Slow integration fixtures are shared per session and nothing is simulated
twice: the small ROI-level study, a voxel-level (BIDS) study, the default demo
and analyses several tests only read are made once, read-only; a test that
modifies files copies them first.

The suite runs on every core with pytest-xdist (``-n auto``). That promise
holds under parallel workers too: the modules that read an expensive session
fixture form one group and every other module is a group of its own; each
group runs on one worker (:func:`pytest_xdist_make_scheduler`), so each
session and module fixture is built once.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from dmnpharm import AnalysisConfig, Inference, Results, Study
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import (
    Effect,
    SignalSpec,
    load_preset,
    simulate_study,
    write_simulated_study,
    write_voxel_study,
)

REPO = Path(__file__).resolve().parents[1]

#: Test modules that read an expensive session fixture, by test-worker group.
#: Under pytest-xdist each group runs on one worker, so each fixture is built once.
SHARED_GROUPS: dict[str, tuple[str, ...]] = {
    "shared-voxel": (
        "tests/pipeline/test_bids_pipeline.py",
        "tests/io/test_bids.py",
        "tests/report/test_browser_voxel.py",
    ),
    "shared-small": ("tests/pipeline/test_pipeline.py", "tests/pipeline/test_execution.py"),
    "shared-demo": ("tests/cli/test_main.py", "tests/report/test_browser.py"),
}

#: The group whose worker builds each expensive session fixture.
SHARED_FIXTURES = {
    "voxel_study": "shared-voxel",
    "voxel_analysis": "shared-voxel",
    "small_analysis": "shared-small",
    "default_demo": "shared-demo",
}

#: Each test module's group: a shared group, else the module alone.
MODULE_GROUP = {module: group for group, modules in SHARED_GROUPS.items() for module in modules}


def worker_group(nodeid: str) -> str:
    """Return the worker group of a test: its module's shared group, else its module."""
    module = nodeid.split("::")[0]
    return MODULE_GROUP.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that reads a shared fixture from outside the fixture's group.

    Keeps ``SHARED_GROUPS`` true as tests are added, with or without xdist.
    """
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            group = SHARED_FIXTURES.get(name)
            if group is not None and worker_group(item.nodeid) != group:
                raise pytest.UsageError(
                    f"{item.nodeid} reads the session fixture {name!r}: add its module to "
                    f"SHARED_GROUPS[{group!r}] in tests/conftest.py"
                )


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Send each worker group to one xdist worker, the largest groups first.

    pytest-xdist's own ``loadgroup`` reads marks through node ids, which pytest
    9.2 no longer lets it change (pytest-dev/pytest-xdist#1386), so the suite
    brings its own: ``loadscope`` with :func:`worker_group` as the scope.
    """
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            for group in reversed(SHARED_GROUPS):
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)


@contextlib.contextmanager
def in_process_runs(cache: Path) -> Iterator[None]:
    """Run per-run work in-process with the given result cache, then restore the environment.

    Module- and session-scoped fixtures are set up before the per-test fixture
    below, so whatever they analyse must set these itself.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DMNPHARM_CACHE", str(cache))
        patch.setenv("DMNPHARM_SCHEDULER", "synchronous")
        # a lab's local catalog (~/.dmnpharm/catalog.toml) must not change test results
        patch.setenv("DMNPHARM_CATALOG", str(cache / "no-local-catalog.toml"))
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread_per_xdist_worker() -> Iterator[None]:
    """Under pytest-xdist, give each worker one BLAS thread.

    The workers already use every core; BLAS threads on top of them only
    contend for the same cores. A single process keeps the library default.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    else:
        yield


@pytest.fixture(scope="module", autouse=True)
def _module_fixtures_run_in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give module-scoped fixtures in-process runs and a cache of the module's own.

    Without it they would start a Dask cluster and write the user's cache.
    """
    with in_process_runs(tmp_path_factory.mktemp("module-cache")):
        yield


@pytest.fixture(autouse=True)
def _private_cache_and_in_process_runs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Give every test its own result cache and run per-run work in-process.

    A test never finds results another test cached, nor writes to the user's
    cache, nor reads the user's local catalog. Per-run work runs synchronously
    unless a test asks for Dask (the tests under
    ``tests/pipeline/test_execution.py`` start real clusters).
    """
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("DMNPHARM_CACHE", str(cache))
    monkeypatch.setenv("DMNPHARM_SCHEDULER", "synchronous")
    monkeypatch.setenv("DMNPHARM_CATALOG", str(cache / "no-local-catalog.toml"))


@pytest.fixture
def another_python_thread() -> Iterator[threading.Thread]:
    """Keep a second Python thread running (waiting) for the test's length."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="holder")
    other.start()
    try:
        yield other
    finally:
        stop.set()
        other.join()


@pytest.fixture
def rng() -> np.random.Generator:
    """Return a seeded generator; tests must pass whatever the seed."""
    return np.random.default_rng(20261125)


#: A small study with unequal sizes so axis mix-ups fail: 8 subjects, 81 volumes of 1.5 s
#: (121.5 s: long enough for two 60 s sliding windows and the 0.01 Hz high-pass).
SMALL_SPEC = replace(
    load_preset("demo-crossover", seed=11),
    design=replace(load_preset("demo-crossover").design, n_subjects=8),
    signal=SignalSpec(n_volumes=81, repetition_time=1.5),
)

#: The analysis of the small study that several tests read: 100 sign flips, fewer
#: than the 2**8 = 256 possible, so flips are drawn at random.
SMALL_CONFIG = AnalysisConfig(inference=Inference(n_permutations=100))


@pytest.fixture(scope="session")
def small_study_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the small simulated study once per session (read-only for tests)."""
    dest = tmp_path_factory.mktemp("template") / "study"
    return write_simulated_study(simulate_study(SMALL_SPEC), dest)


@pytest.fixture
def small_study(small_study_template: Path, tmp_path: Path) -> Path:
    """Return a private, modifiable copy of the small simulated study."""
    dest = tmp_path / "study"
    shutil.copytree(small_study_template, dest)
    return dest


@pytest.fixture(scope="session")
def small_analysis(
    small_study_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Results:
    """Analyse the small study with ``SMALL_CONFIG`` once per session (read-only)."""
    base = tmp_path_factory.mktemp("small-analysis")
    with in_process_runs(base / "cache"):
        return Study.from_folder(small_study_template).analyse(SMALL_CONFIG, base / "out")


#: 8 subjects x 2 sessions x 60 volumes, within-DMN FC 0.10 lower on drug.
VOXEL_SPEC = replace(
    load_preset("demo-crossover", seed=5),
    design=replace(load_preset("demo-crossover").design, n_subjects=8),
    signal=SignalSpec(n_volumes=60),
    effects=(Effect("within_fc", -0.10, "DMN"),),
)

#: The voxel-level study's shared analysis: aCompCor cleaning, 255 sign flips.
VOXEL_CONFIG = AnalysisConfig(
    inference=Inference(n_permutations=255), denoise=DenoiseConfig("acompcor")
)


@pytest.fixture(scope="session")
def voxel_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the voxel-level (BIDS + fMRIPrep) study of ``VOXEL_SPEC`` once (read-only)."""
    return write_voxel_study(simulate_study(VOXEL_SPEC), tmp_path_factory.mktemp("v") / "study")


@pytest.fixture(scope="session")
def voxel_analysis(voxel_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Analyse the voxel-level study with ``VOXEL_CONFIG`` once per session (read-only)."""
    base = tmp_path_factory.mktemp("voxel-analysis")
    with in_process_runs(base / "cache"):
        return Study.from_folder(voxel_study).analyse(VOXEL_CONFIG, base / "out")


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run ``dmnpharm demo`` with every default once per session (read-only).

    Returns its output folder and what it printed on standard output.
    """
    from dmnpharm.cli import main

    base = tmp_path_factory.mktemp("default-demo")
    out = base / "demo"
    printed = io.StringIO()
    with in_process_runs(base / "cache"), contextlib.redirect_stdout(printed):
        assert main(["demo", "--out", str(out)]) == 0
    return out, printed.getvalue()


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
    from dmnpharm.atlases import clear_atlas_cache

    folder = shared_data / "atlases"
    if not folder.is_dir():
        pytest.skip(f"atlas folder {folder} is absent")
    monkeypatch.setenv("DMNPHARM_ATLAS_DIR", str(folder))
    clear_atlas_cache()
    yield folder
    clear_atlas_cache()
