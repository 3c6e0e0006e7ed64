"""The demo's study is simulated in a forked process while the analysis's modules load."""

from __future__ import annotations

import filecmp
from dataclasses import replace
from pathlib import Path

import pytest

from demo_probe import demo_in_fresh_python
from dmnpharm import AnalysisConfig, Execution, Inference
from dmnpharm._utils._forked import can_fork
from dmnpharm.pipeline import make_demo
from dmnpharm.pipeline._demo import ANALYSIS_MODULES
from dmnpharm.simulate import SignalSpec, load_preset

#: 4 subjects x 2 sessions of 81 volumes on 160 regions.
SPEC = replace(
    load_preset("demo-crossover", seed=5),
    design=replace(load_preset("demo-crossover").design, n_subjects=4),
    signal=SignalSpec(n_volumes=81, repetition_time=1.5, atlas="dosenbach160"),
)


def _config(cache: Path, scheduler: str = "local") -> AnalysisConfig:
    execution = Execution(scheduler=scheduler, cache_dir=cache)
    return AnalysisConfig(inference=Inference(n_permutations=15), execution=execution)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.skipif(not can_fork(), reason="no process can be forked here")
def test_the_forked_simulation_writes_what_this_process_would(tmp_path: Path) -> None:
    """A forked demo's study equals, byte for byte, one simulated in the process itself.

    The in-process demo runs in a fresh interpreter that loads no module in advance;
    every module the forked demo loads beside the simulation is one its analysis
    imports anyway.
    """
    make_demo(tmp_path / "forked", SPEC, _config(tmp_path / "cache-forked"))
    before = (
        "from dmnpharm._utils import _forked\n"
        "_forked.can_fork = lambda: False\n"
        "wanted, _demo.ANALYSIS_MODULES = _demo.ANALYSIS_MODULES, ()"
    )
    report = "[name for name in wanted if name not in sys.modules]"
    config = _config(tmp_path / "cache-here")
    assert demo_in_fresh_python(tmp_path / "here", SPEC, config, report, before) == []
    forked, here = tmp_path / "forked" / "study", tmp_path / "here" / "study"
    names = _files(forked)
    assert names == _files(here)
    assert len(names) > 10
    _, differ, errors = filecmp.cmpfiles(forked, here, names, shallow=False)
    assert differ == errors == []


def test_the_modules_loaded_beside_the_simulation_exist() -> None:
    """Each name is a module of the package (a renamed one would fail every demo)."""
    import importlib

    for name in ANALYSIS_MODULES:
        assert name.startswith("dmnpharm.")
        importlib.import_module(name)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_an_in_process_demo_forks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheduler: str
) -> None:
    """Asked to work in this process, the demo simulates here too."""
    from dmnpharm.pipeline import _demo

    def refuse(*args: object) -> None:
        raise AssertionError(f"the demo forked {args[0]} although asked to work here")

    monkeypatch.setattr(_demo, "call_beside", refuse)
    result = make_demo(tmp_path / "here", SPEC, _config(tmp_path / "cache", scheduler))
    assert (tmp_path / "here" / "study" / "participants.tsv").is_file()
    assert result.report_file.is_file()
