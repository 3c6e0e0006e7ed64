"""A forked worker killed mid-run during a whole analysis: new workers finish, same outputs."""

from __future__ import annotations

import filecmp
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dmnpharm.pipeline._runs as runs_module
from dmnpharm import AnalysisConfig, Execution, Inference, Study
from dmnpharm.pipeline._work import RUN_STAGE
from dmnpharm.signal import DenoiseConfig

#: Where the killed worker leaves its mark (set by the test before the workers are forked).
_MARKER: dict[str, str] = {}

CONFIG = AnalysisConfig(
    inference=Inference(n_permutations=99),
    denoise=DenoiseConfig.recommended("6p"),
    gsr_sensitivity=False,
)


def _dies_on_its_third_run(task: Any, reusable: Any) -> Any:
    """Run the real per-run work, except that the worker computing the third run dies once."""
    marker = Path(_MARKER["path"])
    if task.label == _MARKER["label"] and not marker.exists() and os.getpid() != _MARKER["pid"]:
        marker.touch()
        os._exit(9)  # as the kernel's out-of-memory killer would end it
    return RUN_STAGE.work(task, reusable)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")
def test_a_killed_forked_worker_leaves_the_outputs_unchanged(
    small_study: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The default local mode forks; one worker dies; every file matches one run at a time."""
    study = Study.from_folder(small_study)
    serial = CONFIG.replace(execution=Execution(cache=False, scheduler="synchronous"))
    reference = study.analyse(serial, tmp_path / "serial")
    third = study.plan(CONFIG).runs[2].task.label
    _MARKER.update(path=str(tmp_path / "died"), label=third, pid=os.getpid())
    monkeypatch.setattr(runs_module, "RUN_STAGE", replace(RUN_STAGE, work=_dies_on_its_third_run))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    local = CONFIG.replace(execution=Execution(cache=False, scheduler="local"))
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        recovered = study.analyse(local, tmp_path / "forked")
    assert (tmp_path / "died").exists(), "no worker was killed"
    assert "forking 1 new worker process " in caplog.text
    pd.testing.assert_frame_equal(recovered.metrics, reference.metrics)
    derivatives = sorted((tmp_path / "serial" / "derivatives").rglob("sub-*/**/*.*"))
    assert derivatives
    for path in derivatives:
        twin = tmp_path / "forked" / path.relative_to(tmp_path / "serial")
        assert filecmp.cmp(path, twin, shallow=False), path.name
    for name in ("metrics_regions.parquet", "metrics_edges.parquet"):
        ours, theirs = (pd.read_parquet(tmp_path / kind / name) for kind in ("forked", "serial"))
        pd.testing.assert_frame_equal(ours, theirs)
    recorded = (tmp_path / "forked" / "provenance.json").read_text()
    assert '"forked_processes": true' in recorded
