"""Cache entries with whole files attached: written, read back, damage recognised."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

from dmnpharm.execution import AttachedEntry, RunCache
from dmnpharm.execution._cache import entry_path
from dmnpharm.execution._cache_attach import MAGIC, read_attached
from dmnpharm.execution._cache_manage import scan_entries

KEY = "ab" * 32


def _files(folder: Path) -> list[tuple[Path, int]]:
    folder.mkdir()
    contents = [b"x" * 300_000, b"", b"tab\tseparated\n", os.urandom(5000)]
    files = []
    for index, content in enumerate(contents):
        path = folder / f"f{index}"
        path.write_bytes(content)
        files.append((path, len(content)))
    return files


def test_files_and_value_come_back_as_they_were(tmp_path: Path) -> None:
    """Each file, empty ones too, copied out whole; the value unpickled; a hit counted."""
    cache = RunCache(tmp_path / "cache")
    files = _files(tmp_path / "in")
    cache.store_attached("outputs", KEY, {"value": [1, 2]}, files)
    path = entry_path(cache.root, "outputs", KEY)  # type: ignore[arg-type]
    assert path.read_bytes().startswith(MAGIC)
    # One entry under the usual pattern: sized and pruned like any other.
    assert [entry.path for entry in scan_entries(cache.root)] == [path]  # type: ignore[arg-type]
    assert path.stat().st_size > sum(size for _, size in files)
    entry = cache.load_attached("outputs", KEY)
    assert isinstance(entry, AttachedEntry)
    assert (cache.hits, cache.misses) == (1, 0)
    assert path in cache.in_use
    with entry:
        assert entry.value == {"value": [1, 2]}
        assert entry.sizes == tuple(size for _, size in files)
        out = tmp_path / "out"
        out.mkdir()
        for index, (source, _) in enumerate(files):
            assert entry.copy_to(index, out / source.name).read_bytes() == source.read_bytes()
    with pytest.raises(ValueError, match="closed"):
        entry.copy_to(0, out / "again")
    entry.close()  # twice: nothing happens


def test_an_open_entry_outlives_its_file(tmp_path: Path) -> None:
    """Pruned by another analysis while open: its bytes are still copied out."""
    cache = RunCache(tmp_path / "cache")
    files = _files(tmp_path / "in")
    cache.store_attached("outputs", KEY, "v", files)
    entry = cache.load_attached("outputs", KEY)
    assert entry is not None
    entry_path(cache.root, "outputs", KEY).unlink()  # type: ignore[arg-type]
    copied = entry.copy_to(0, tmp_path / "copy")
    assert copied.read_bytes() == files[0][0].read_bytes()
    entry.close()


@pytest.mark.parametrize("damage", ["truncated", "longer", "plain pickle", "empty"])
def test_a_damaged_entry_is_a_miss_and_is_removed(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A write cut short, bytes appended, an entry of another kind: computed again."""
    cache = RunCache(tmp_path / "cache")
    cache.store_attached("outputs", KEY, "v", _files(tmp_path / "in"))
    path = entry_path(cache.root, "outputs", KEY)  # type: ignore[arg-type]
    content = path.read_bytes()
    path.write_bytes(
        {
            "truncated": content[:-10],
            "longer": content + b"more",
            "plain pickle": pickle.dumps("v"),
            "empty": b"",
        }[damage]
    )
    with caplog.at_level(logging.WARNING, logger="dmnpharm"):
        assert cache.load_attached("outputs", KEY) is None
    assert "unreadable" in caplog.text
    assert not path.exists()
    assert (cache.hits, cache.misses) == (0, 1)


def test_a_file_shorter_than_said_stores_nothing(tmp_path: Path) -> None:
    """The size given is the size copied: a file that shrank leaves no entry."""
    cache = RunCache(tmp_path / "cache")
    path, size = _files(tmp_path / "in")[0]
    with pytest.raises(EOFError):
        cache.store_attached("outputs", KEY, "v", [(path, size + 1)])
    assert scan_entries(cache.root) == []  # type: ignore[arg-type]
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_disabled_cache_stores_and_finds_nothing(tmp_path: Path) -> None:
    """No folder: nothing written, every lookup a miss."""
    cache = RunCache(None)
    cache.store_attached("outputs", KEY, "v", _files(tmp_path / "in"))
    assert cache.load_attached("outputs", KEY) is None
    assert cache.misses == 1


def test_read_attached_says_what_is_wrong(tmp_path: Path) -> None:
    """A missing entry is FileNotFoundError; a foreign file names itself."""
    with pytest.raises(FileNotFoundError):
        read_attached(tmp_path / "none.pickle")
    foreign = tmp_path / "foreign.pickle"
    foreign.write_bytes(b"0123456789abcdef0123")
    with pytest.raises(ValueError, match=r"foreign\.pickle does not start"):
        read_attached(foreign)


def test_a_last_file_is_read_once_ready_says_so(tmp_path: Path) -> None:
    """The last file is read after ``ready`` returns, at the length it has then."""
    cache = RunCache(tmp_path / "cache")
    files = _files(tmp_path / "in")
    last = tmp_path / "store"
    last.write_bytes(b"begun")

    def ready() -> None:  # the store closes while the other files are copied
        assert not scan_entries(cache.root)  # type: ignore[arg-type]
        last.write_bytes(b"complete, " * 5000)

    cache.store_attached("outputs", KEY, "v", files, last, ready)
    with cache.load_attached("outputs", KEY) as entry:  # type: ignore[union-attr]
        assert entry.sizes == (*(size for _, size in files), 50_000)
        out = tmp_path / "out"
        out.mkdir()
        assert entry.copy_to(len(files), out / "store").read_bytes() == last.read_bytes()
        assert entry.copy_to(0, out / "f0").read_bytes() == files[0][0].read_bytes()


@pytest.mark.parametrize("cut", [1, 8, 9, 50_000])
def test_an_entry_cut_inside_its_last_file_is_damaged(tmp_path: Path, cut: int) -> None:
    """The last file's length is written after it: an entry cut short is recognised."""
    cache = RunCache(tmp_path / "cache")
    last = tmp_path / "store"
    last.write_bytes(os.urandom(50_000))
    cache.store_attached("outputs", KEY, "v", _files(tmp_path / "in"), last)
    path = entry_path(cache.root, "outputs", KEY)  # type: ignore[arg-type]
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match="not the files' bytes"):
        read_attached(path)


def test_an_error_from_ready_stores_nothing(tmp_path: Path) -> None:
    """The store failed: no entry, no temporary file, the error raised."""
    cache = RunCache(tmp_path / "cache")
    last = tmp_path / "store"
    last.write_bytes(b"x")

    def failed() -> None:
        raise OSError("the store could not be written")

    with pytest.raises(OSError, match="could not be written"):
        cache.store_attached("outputs", KEY, "v", _files(tmp_path / "in"), last, failed)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
