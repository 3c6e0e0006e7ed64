"""The README's Python example runs as written and does what ``dmnpharm run`` does."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.cli import main
from dmnpharm.simulate import load_preset, simulate_study, write_simulated_study

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- readme-python-example"


def readme_example() -> str:
    """Return the Python block that follows the README's example marker."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    match = re.search(r"```python\n(.*?)```", after, flags=re.DOTALL)
    assert match is not None, "the README has no python block after its example marker"
    return match.group(1)


def test_readme_python_example_runs_and_equals_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example analyses the demo study; its results equal ``dmnpharm run``'s."""
    spec = load_preset("demo-crossover")
    spec = replace(
        spec,
        design=replace(spec.design, n_subjects=6),
        signal=replace(spec.signal, n_volumes=90),
    )
    write_simulated_study(simulate_study(spec), tmp_path / "dmnpharm-demo" / "study")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DMNPHARM_SCHEDULER", "synchronous")
    monkeypatch.setenv("DMNPHARM_CACHE", str(tmp_path / "cache"))
    namespace: dict[str, object] = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    report = tmp_path / "dmnpharm-results" / "report.html"
    assert str(report) in printed or "dmnpharm-results/report.html" in printed
    assert report.is_file()
    code = main(
        [
            "run",
            "dmnpharm-demo/study",
            "--out",
            "by-command",
            "--strategy",
            "24p",
            "-q",
        ]
    )
    assert code == 0
    ours = pd.read_parquet(tmp_path / "dmnpharm-results" / "group" / "results.parquet")
    theirs = pd.read_parquet(tmp_path / "by-command" / "group" / "results.parquet")
    pd.testing.assert_frame_equal(ours, theirs)
