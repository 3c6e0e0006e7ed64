"""``dmnpharm cache info`` and ``dmnpharm cache prune``, called in-process.

Most tests parse with a parser holding only the ``cache`` command, so they run
before the command is wired into ``dmnpharm.cli._main``; the last test goes
through ``dmnpharm.cli.main`` and runs once it is.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pytest

from dmnpharm.cli import main
from dmnpharm.cli._cache import add_cache_command, cache_command
from dmnpharm.cli._main import COMMANDS
from dmnpharm.exceptions import InputError, UsageError
from dmnpharm.execution import RunCache

DAY = 86400.0


def _run(argv: list[str]) -> int:
    """Parse ``argv`` (after ``dmnpharm``) with the cache command alone, then run it."""
    parser = argparse.ArgumentParser(prog="dmnpharm")
    add_cache_command(parser.add_subparsers(dest="command", required=True))
    return cache_command(parser.parse_args(argv))


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """Return a cache of 10 entries of about 1 MB, last used 1 to 10 days ago."""
    root = tmp_path / "cache"
    cache = RunCache(root)
    now = time.time()
    for days in range(1, 11):
        key = cache.key("run", {"days": days})
        cache.store("run", key, bytes(10**6))
        os.utime(cache._path("run", key), (now - days * DAY, now - days * DAY))
    return root


def test_info_text_and_json(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Folder and its source, total size, entries, oldest and newest use, cap, over-cap."""
    assert _run(["cache", "info", "--cache", str(filled)]) == 0
    text = capsys.readouterr().out
    assert f"cache folder  {filled.resolve()} (--cache)" in text
    assert "entries       10 (10.0 MB): run 10 (10.0 MB)" in text
    assert "(10 d ago)" in text
    assert "(1 d ago)" in text
    assert "size cap      5.0 GB (default)" in text
    assert _run(["cache", "info", "--cache", str(filled), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["entries"] == 10
    assert record["folder_source"] == "--cache"
    assert record["max_size_bytes"] == 5 * 10**9
    assert record["over_cap_bytes"] == 0
    assert record["oldest_use"] < record["newest_use"]


def test_info_reads_the_environment(
    filled: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$DMNPHARM_CACHE names the folder and $DMNPHARM_CACHE_MAX_SIZE the cap."""
    monkeypatch.setenv("DMNPHARM_CACHE", str(filled))
    monkeypatch.setenv("DMNPHARM_CACHE_MAX_SIZE", "4MB")
    assert _run(["cache", "info"]) == 0
    text = capsys.readouterr().out
    assert "($DMNPHARM_CACHE)" in text
    assert "4.0 MB ($DMNPHARM_CACHE_MAX_SIZE): 6.0 MB over" in text


def test_prune_dry_run_then_by_size_and_age(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run deletes nothing; --max-size keeps the most recently used; --older-than ages."""
    base = ["cache", "prune", "--cache", str(filled)]
    assert _run([*base, "--max-size", "3.5MB", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dry run: would remove 7 of 10 entries (7.0 MB)")
    assert len(list(filled.rglob("*.pickle"))) == 10
    assert _run([*base, "--older-than", "2.5d"]) == 0
    assert "removed 8 of 10 entries (8.0 MB)" in capsys.readouterr().out
    assert _run([*base, "--max-size", "1.5MB"]) == 0
    assert "removed 1 of 2 entries (1.0 MB)" in capsys.readouterr().out
    assert _run([*base, "--max-size", "0"]) == 0
    assert "0 entries (0 B) remain" in capsys.readouterr().out


def test_prune_without_limits_uses_the_cap(
    filled: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --max-size the cap applies; with no cap and no age there is nothing to do."""
    monkeypatch.setenv("DMNPHARM_CACHE_MAX_SIZE", "2MB")
    assert _run(["cache", "prune", "--cache", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "removed 9 of 10 entries" in out
    assert "down to 2.0 MB ($DMNPHARM_CACHE_MAX_SIZE)" in out
    monkeypatch.setenv("DMNPHARM_CACHE_MAX_SIZE", "off")
    assert _run(["cache", "prune", "--cache", str(filled)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert _run(["cache", "prune", "--cache", str(filled / "absent")]) == 0
    assert "does not exist: nothing to prune" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--max-size", "5 gigs", r"--max-size '5 gigs' is not a size: .*e\.g\. 500MB, 5GB"),
        ("--max-size", "off", "is not a size"),
        ("--older-than", "30", r"--older-than '30' is not an age: .*e\.g\. 30d, 12h"),
    ],
)
def test_bad_values_are_usage_errors_with_an_example(
    filled: Path, option: str, value: str, message: str
) -> None:
    """A bad size or age is an InputError (a UsageError: exit status 2) showing examples."""
    with pytest.raises(UsageError, match=message) as caught:
        _run(["cache", "prune", "--cache", str(filled), option, value])
    assert isinstance(caught.value, InputError)
    assert len(list(filled.rglob("*.pickle"))) == 10


@pytest.mark.skipif(
    "cache" not in COMMANDS,
    reason="the lead wires 'cache' into dmnpharm.cli._main (COMMANDS and build_parser)",
)
def test_through_main(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``dmnpharm cache ...`` through main: exit codes 0, and 2 for a bad value."""
    assert main(["cache", "info", "--cache", str(filled), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 10
    assert main(["cache", "prune", "--cache", str(filled), "--max-size", "5MB"]) == 0
    assert "removed 6 of 10 entries" in capsys.readouterr().out
    assert main(["cache", "prune", "--cache", str(filled), "--older-than", "1 month"]) == 2
    assert "usage error: --older-than '1 month' is not an age" in capsys.readouterr().err
