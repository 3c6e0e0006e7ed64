"""Every script in examples/ runs to the end and prints its result.

The scripts are run in this process (``runpy``, as ``__main__``), from a temporary working
folder: the package is imported once for all of them, the suite's per-test cache and
synchronous scheduler apply, and its warnings-as-errors filter holds them to the same
standard as the library. Each script simulates a small study in its own temporary
folder and takes a few seconds.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    """The gallery is not empty (a missing folder would silently run nothing)."""
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(
    script: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The script exits normally (or with status 0) and prints something."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(script)])
    code: object = 0
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as stop:  # a script that fails stops with its exit status
        code = stop.code
    assert code in (0, None), f"{script.name} exited with {code}"
    printed = capsys.readouterr().out
    assert printed.strip(), f"{script.name} printed nothing"
    assert list(tmp_path.iterdir()) == [], f"{script.name} wrote into the working folder"
