"""The result cache's size cap: sizes and ages, least-recently-used eviction, safe pruning."""

from __future__ import annotations

import inspect
import logging
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import numpy as np
import platformdirs
import pytest

import dmnpharm.execution._cache as cache_module
from dmnpharm.config import Execution
from dmnpharm.exceptions import InputError
from dmnpharm.execution import RunCache, Stage, default_cache_dir, dispatch
from dmnpharm.execution._cache import cache_dir_source, legacy_cache_dir
from dmnpharm.execution._cache_manage import (
    ORPHAN_AGE,
    CacheEntry,
    _delete,
    cache_info,
    prune_cache,
    scan_entries,
    select_evictions,
)
from dmnpharm.execution._cache_units import (
    DEFAULT_MAX_SIZE,
    MAX_SIZE_ENV,
    format_size,
    parse_age,
    parse_size,
    resolve_max_size,
)

DAY = 86400.0


def _fill(root: Path, n: int, size: int = 1000, start: float | None = None) -> list[Path]:
    """Store ``n`` entries of ``size`` bytes, last used one minute apart from ``start``."""
    cache = RunCache(root)
    first = time.time() - 10 * DAY if start is None else start
    paths = []
    for i in range(n):
        key = cache.key("run", {"i": i, "start": first})
        cache.store("run", key, b"x" * size)
        path = cache._path("run", key)
        os.utime(path, (first + 60 * i, first + 60 * i))
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500 * 10**6),
        ("5GB", 5 * 10**9),
        ("1.5G", 1_500_000_000),
        ("2GiB", 2 * 1024**3),
        ("10 kb", 10_000),
        ("1024", 1024),
        ("0", 0),
        (".5t", 5 * 10**11),
    ],
)
def test_parse_size_reads_human_sizes(text: str, expected: int) -> None:
    """kB..TB are powers of 1000, KiB..TiB powers of 1024, a bare number is bytes."""
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "5 gigs", "-1GB", "GB", "1e9", "5GB extra", "off"])
def test_parse_size_refuses_with_an_example(text: str) -> None:
    """A bad size names the option and the value and shows what is accepted."""
    with pytest.raises(InputError, match=r"--max-size .* is not a size: .*e\.g\. 500MB, 5GB"):
        parse_size(text, "--max-size")


def test_parse_size_off_only_where_allowed() -> None:
    """``off`` (no cap) is a value of the cap, not of a prune's --max-size."""
    assert parse_size("off", allow_off=True) is None
    assert parse_size("None", allow_off=True) is None
    with pytest.raises(InputError, match="or 'off' for no cap"):
        parse_size("lots", allow_off=True)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("12h", 43200.0), ("90min", 5400.0), ("2w", 14 * DAY), (".5d", DAY / 2)],
)
def test_parse_age_reads_human_ages(text: str, seconds: float) -> None:
    """Ages take s, min, h, d, w."""
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["30", "-1d", "3 months", "d", ""])
def test_parse_age_refuses_with_an_example(text: str) -> None:
    """A unit is required: ``30`` could be minutes or days."""
    with pytest.raises(InputError, match=r"--older-than .* is not an age: .*e\.g\. 30d, 12h"):
        parse_age(text, "--older-than")


def test_format_size() -> None:
    """One decimal in the largest unit of 1000 that keeps the number at least 1."""
    assert [format_size(n) for n in (0, 999, 1000, 2_100_000_000, 198_017_684)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "2.1 GB",
        "198.0 MB",
    ]
    assert parse_size(format_size(5 * 10**9).replace(" ", "")) == 5 * 10**9


def test_cap_comes_from_argument_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default is 5 GB; the environment variable overrides it; an argument overrides both."""
    monkeypatch.delenv(MAX_SIZE_ENV, raising=False)
    assert resolve_max_size() == (DEFAULT_MAX_SIZE, "default") == (5 * 10**9, "default")
    monkeypatch.setenv(MAX_SIZE_ENV, "500MB")
    assert resolve_max_size() == (500 * 10**6, f"${MAX_SIZE_ENV}")
    assert resolve_max_size("1G") == (10**9, "given")
    assert resolve_max_size(123) == (123, "given")
    monkeypatch.setenv(MAX_SIZE_ENV, "off")
    assert resolve_max_size() == (None, f"${MAX_SIZE_ENV}")
    monkeypatch.setenv(MAX_SIZE_ENV, "5 gigs")
    with pytest.raises(InputError, match=rf"\${MAX_SIZE_ENV} '5 gigs' is not a size"):
        RunCache("unused-folder")  # refused before any work, not at the end of the analysis
    assert RunCache(None).max_size is None  # a disabled cache reads no cap
    with pytest.raises(InputError, match="at least 0 bytes"):
        resolve_max_size(-1)


def test_default_folder_is_the_platform_cache_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$DMNPHARM_CACHE wins; else platformdirs' user cache folder (Linux: XDG, ~/.cache)."""
    monkeypatch.setenv("DMNPHARM_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert cache_dir_source() == (tmp_path / "mine", "$DMNPHARM_CACHE")
    assert cache_dir_source(tmp_path / "given") == (tmp_path / "given", "--cache")
    monkeypatch.delenv("DMNPHARM_CACHE")
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("dmnpharm"))
    assert cache_dir_source()[1] == "platform default"
    if sys.platform.startswith("linux"):  # the old default, unchanged on Linux
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert default_cache_dir() == tmp_path / "xdg" / "dmnpharm"


def test_legacy_folder_is_reported_only_where_the_default_moved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The old ~/.cache/dmnpharm is named only when it exists and is not the platform folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    old = tmp_path / "xdg" / "dmnpharm"
    assert legacy_cache_dir() is None  # absent
    old.mkdir(parents=True)
    moved = tmp_path / "Library" / "Caches" / "dmnpharm"
    monkeypatch.setattr(cache_module.platformdirs, "user_cache_dir", lambda _name: str(moved))
    assert legacy_cache_dir() == old
    monkeypatch.setattr(cache_module.platformdirs, "user_cache_dir", lambda _name: str(old))
    assert legacy_cache_dir() is None  # Linux: still the default


def _entry(i: int, size: int, used: int) -> CacheEntry:
    return CacheEntry(Path(f"/c/v1/run/00/{i:064x}.pickle"), "run", size, used)


def test_select_evictions_is_the_shortest_lru_prefix(rng: np.random.Generator) -> None:
    """Above the cap: the oldest unprotected entries, no more than needed; protected ones stay.

    Checked against the closed form: sort the unprotected entries by last use and take
    the shortest prefix whose removal brings the total to the cap (or all of them).
    """
    for _ in range(50):
        n = int(rng.integers(1, 40))
        sizes = rng.integers(1, 1000, n)
        used = rng.permutation(n) * 10**9
        entries = [_entry(i, int(sizes[i]), int(used[i])) for i in range(n)]
        protect = {e.path for e in entries if rng.random() < 0.2}
        cap = int(rng.integers(0, int(sizes.sum()) + 1))
        chosen = select_evictions(entries, max_size=cap, protect=protect)
        order = sorted((e for e in entries if e.path not in protect), key=lambda e: e.used_ns)
        total, k = int(sizes.sum()), 0
        while k < len(order) and total > cap:
            total -= order[k].size
            k += 1
        assert chosen == order[:k]
        assert not {e.path for e in chosen} & protect


def test_select_evictions_by_age_then_size() -> None:
    """--older-than removes every entry unused that long; --max-size then the oldest others."""
    now = 100 * DAY
    ages = [40, 31, 5, 1]  # days
    entries = [_entry(i, 100, int((now - age * DAY) * 1e9)) for i, age in enumerate(ages)]
    assert select_evictions(entries, older_than=30 * DAY, now=now) == entries[:2]
    assert select_evictions(entries, older_than=30 * DAY, max_size=100, now=now) == entries[:3]
    assert select_evictions(entries, max_size=400) == []
    assert select_evictions(entries, max_size=0, protect={entries[0].path}) == entries[1:]


def test_hits_mark_the_last_use_and_the_running_analysis_is_protected(tmp_path: Path) -> None:
    """Earlier entries go least recently used first; a hit renews one; in-use ones stay.

    What this analysis read or wrote is kept even when it alone is above the cap.
    """
    old = _fill(tmp_path, 6, size=1000)  # last used 10 days ago, a minute apart
    cache = RunCache(tmp_path, max_size=3500)
    hit_key = old[0].stem
    before = old[0].stat().st_mtime_ns
    assert cache.load("run", hit_key) == b"x" * 1000
    assert old[0].stat().st_mtime_ns > before  # the hit is its new last use
    new_key = cache.key("run", {"new": 1})
    cache.store("run", new_key, b"y" * 1000)
    assert cache.in_use == {old[0], cache._path("run", new_key)}
    result = cache.enforce_cap()
    assert result is not None
    # 7 entries of ~1 kB against a 3.5 kB cap: the 4 least recently used unprotected go.
    assert [e.path for e in result.removed] == old[1:5]
    assert {e.path for e in scan_entries(tmp_path)} == {old[0], old[5], *cache.in_use}
    assert cache_info(tmp_path, 3500).entry_bytes <= 3500


def test_enforce_cap_warns_when_the_analysis_alone_exceeds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing in use is deleted; the log says how to keep such an analysis."""
    cache = RunCache(tmp_path, max_size="1kB")
    for i in range(3):
        cache.store("run", cache.key("run", {"i": i}), b"z" * 800)
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        result = cache.enforce_cap()
    assert result is not None
    assert result.removed == ()
    assert len(scan_entries(tmp_path)) == 3
    assert "above its cap of 1.0 kB" in caplog.text
    assert f"{MAX_SIZE_ENV}=20GB" in caplog.text
    assert RunCache(tmp_path, max_size="off").enforce_cap() is None
    assert RunCache(None).enforce_cap() is None


def test_prune_keeps_writes_in_progress_and_files_that_are_not_entries(tmp_path: Path) -> None:
    """A fresh temporary file is a write in progress: kept. One a day old is an orphan.

    Folders are never removed (a writer may have just created one), and files that are
    not entries (the digest database, a stray note) are never touched.
    """
    entries = _fill(tmp_path, 3)
    folder = entries[0].parent
    writing = folder / f".{entries[0].name}.abc123"
    writing.write_bytes(b"half")
    orphan = folder / f".{entries[1].name}.dead00"
    orphan.write_bytes(b"half")
    stale = time.time() - ORPHAN_AGE - 60
    os.utime(orphan, (stale, stale))
    stray = [
        tmp_path / "file_hashes.sqlite",
        tmp_path / "notes.txt",
        folder / "ff" / "not-a-key.pickle",
        folder / "a.pickle",
    ]
    for path in stray:
        path.parent.mkdir(exist_ok=True)
        path.write_text("keep me")
    info = cache_info(tmp_path)
    assert (info.entries, info.temporary) == (3, 2)
    dry = prune_cache(tmp_path, max_size=0, dry_run=True)
    assert (len(dry.removed), dry.orphans, len(scan_entries(tmp_path))) == (3, 1, 3)
    assert orphan.exists()
    result = prune_cache(tmp_path, max_size=0)
    assert (len(result.removed), result.kept_entries, result.orphans) == (3, 0, 1)
    assert writing.exists()
    assert not orphan.exists()
    assert all(p.exists() for p in stray)
    assert folder.is_dir()


def test_an_entry_used_after_the_scan_is_kept(tmp_path: Path) -> None:
    """Pruning re-examines an entry before deleting it: a newer last use keeps it."""
    (path,) = _fill(tmp_path, 1)
    (scanned,) = scan_entries(tmp_path)
    os.utime(path)  # a hit in another process, after the scan
    assert not _delete(scanned)
    assert path.exists()
    assert not _delete(CacheEntry(tmp_path / "gone.pickle", "run", 1, 0))  # already gone


def test_pruning_beside_a_writer_never_breaks_it(tmp_path: Path) -> None:
    """A writer storing entries while the cache is emptied again and again sees no error.

    Every file left afterwards is a complete entry.
    """
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        cache = RunCache(tmp_path)
        try:
            for i in range(150):
                cache.store("run", cache.key("run", {"w": i}), bytes(2000))
        except BaseException as exc:  # pragma: no cover - the failure reported below
            errors.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        prune_cache(tmp_path, max_size=0)
    writer.join()
    assert errors == []
    for entry in scan_entries(tmp_path):
        assert pickle.loads(entry.path.read_bytes()) == bytes(2000)


def test_info_counts_what_is_on_disk(tmp_path: Path) -> None:
    """Sizes and counts equal a plain walk of the folder; last uses are the extremes."""
    start = time.time() - 5 * DAY
    _fill(tmp_path, 4, size=3000, start=start)
    signals = RunCache(tmp_path)
    signals.store("signals", signals.key("signals", {}), b"s" * 500)
    info = cache_info(tmp_path, "10kB")
    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert info.total_bytes == on_disk
    assert info.entries == 5
    assert set(info.stages) == {"run", "signals"}
    assert info.stages["run"][0] == 4
    assert info.oldest_use_ns == pytest.approx(start * 1e9, abs=1e6)
    assert info.max_size == 10_000
    assert info.over_cap == info.entry_bytes - 10_000 > 0
    record = info.to_dict()
    assert record["entries"] == 5
    assert record["max_size_source"] == "given"
    assert cache_info(tmp_path / "absent").to_dict()["exists"] is False


def _dispatch_enforces_cap() -> bool:
    return "enforce_cap" in inspect.getsource(dispatch)


def _square(task: int, _reusable: object) -> int:
    return task * task


_SQUARE = Stage(
    name="squares",
    work=_square,
    keys=lambda task, cache: (None, cache.key("run", {"square": task})),
    slim=lambda outcome, _task: outcome,
    reusable=lambda _outcome: None,
    killed=lambda _task, _exc: -1,
    succeeded=lambda _outcome: True,
    outcome_type=int,
    reusable_type=int,
)


@pytest.mark.skipif(
    not _dispatch_enforces_cap(),
    reason="the lead wires the hook: cache.enforce_cap() at the end of "
    "dmnpharm.execution._dispatch.dispatch",
)
def test_dispatch_enforces_the_cap_once_the_analysis_has_written(tmp_path: Path) -> None:
    """After the tasks, older analyses' entries go least recently used first; this one's stay."""
    old = _fill(tmp_path, 5, size=1000)
    cache = RunCache(tmp_path, max_size=2500)
    squares = dict(dispatch([2, 3, 4], _SQUARE, Execution(scheduler="synchronous"), cache))
    assert squares == {0: 4, 1: 9, 2: 16}
    left = {e.path for e in scan_entries(tmp_path)}
    assert cache.in_use <= left
    assert len(cache.in_use) == 3
    assert left - cache.in_use == set(old[-2:])  # 2 kB of the newest old entries fit


@pytest.mark.parametrize("keep", [0, 7, 40])
def test_a_damaged_entry_is_a_miss_computed_again(
    tmp_path: Path, keep: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry cut short (entries are not written durably) is deleted and counted a miss."""
    cache = RunCache(tmp_path)
    value = {"signals": np.arange(12.0).reshape(3, 4), "label": "run-1"}
    path = cache_module.store_entry(cache.root, "clean", "ab" * 32, value)  # type: ignore[arg-type]
    assert cache.load("clean", "ab" * 32)["label"] == "run-1"
    path.write_bytes(pickle.dumps(value, protocol=5)[:keep])
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        assert cache.load("clean", "ab" * 32) is None
    assert not path.exists()
    assert cache.misses == 1
    assert "unreadable" in caplog.text
