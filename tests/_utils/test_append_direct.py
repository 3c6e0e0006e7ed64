"""Whole files appended past the page cache (O_DIRECT), or refused with nothing written."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dmnpharm._utils import _copy
from dmnpharm._utils._copy import DIRECT_ALIGNMENT, append_direct, write_direct


def _sources(tmp_path: Path, sizes: list[int]) -> list[tuple[Path, int]]:
    rng = np.random.default_rng(len(sizes))
    files = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"source{index}"
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        files.append((path, size))
    return files


def _on_new_file(target: Path, head: bytes, write: Callable[[int], bool]) -> tuple[bool, int]:
    """Write ``head`` to a new file, then call ``write`` on its descriptor: result, position."""
    handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(handle, head)
        done = write(handle)
        position = os.lseek(handle, 0, os.SEEK_CUR)
        flags = fcntl.fcntl(handle, fcntl.F_GETFL)
    finally:
        os.close(handle)
    assert not flags & getattr(os, "O_DIRECT", 0)  # the descriptor is left as it was
    return done, position


def _append(target: Path, head: bytes, files: list[tuple[Path, int]]) -> tuple[bool, int]:
    return _on_new_file(target, head, lambda handle: append_direct(handle, files))


@pytest.mark.parametrize(
    "sizes",
    [[], [0], [1], [DIRECT_ALIGNMENT], [5000, 0, 12_288, 3], [70_000, 1, 40_001]],
)
def test_bytes_and_length_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: list[int]
) -> None:
    """Chunk boundaries inside and between files (a 16 KiB chunk here); the tail cut back."""
    monkeypatch.setattr(_copy, "_DIRECT_CHUNK", 4 * DIRECT_ALIGNMENT)
    files = _sources(tmp_path, sizes)
    head = b"h" * DIRECT_ALIGNMENT
    target = tmp_path / "target"
    done, position = _append(target, head, files)
    expected = head + b"".join(path.read_bytes()[:size] for path, size in files)
    if not done:  # a file system without O_DIRECT (tmpfs): nothing written
        assert target.read_bytes() == head
        assert position == len(head)
        pytest.skip("this file system refuses O_DIRECT")
    assert target.read_bytes() == expected
    assert position == len(expected)


def test_part_of_a_file(tmp_path: Path) -> None:
    """Only the first ``size`` bytes of a longer file."""
    ((path, _),) = _sources(tmp_path, [9000])
    target = tmp_path / "target"
    done, position = _append(target, b"", [(path, 5000)])
    if not done:
        pytest.skip("this file system refuses O_DIRECT")
    assert target.read_bytes() == path.read_bytes()[:5000]
    assert position == 5000


def test_unaligned_position_is_refused(tmp_path: Path) -> None:
    """Nothing is written and the position stays: the caller copies the usual way."""
    files = _sources(tmp_path, [100])
    target = tmp_path / "target"
    done, position = _append(target, b"head", files)
    assert not done
    assert position == 4
    assert target.read_bytes() == b"head"


def test_no_flag_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A system without O_DIRECT (macOS)."""
    monkeypatch.delattr(os, "O_DIRECT", raising=False)
    files = _sources(tmp_path, [100])
    done, position = _append(tmp_path / "target", b"", files)
    assert not done
    assert position == 0


def test_a_short_file_is_an_error_and_cut_back(tmp_path: Path) -> None:
    """Never a silently short copy: EOFError, and the target ends where it started."""
    files = _sources(tmp_path, [3000])
    target = tmp_path / "target"
    head = b"h" * DIRECT_ALIGNMENT
    handle = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(handle, head)
        with contextlib.suppress(EOFError):
            refused = not append_direct(handle, [(files[0][0], 5000)])
            assert refused  # returning at all means O_DIRECT was refused, nothing written
            assert target.read_bytes() == head
            pytest.skip("this file system refuses O_DIRECT")
        assert os.lseek(handle, 0, os.SEEK_CUR) == len(head)
    finally:
        os.close(handle)
    assert target.read_bytes() == head


def test_einval_on_write_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system whose O_DIRECT wants larger blocks: refused, nothing left written."""
    files = _sources(tmp_path, [10_000])

    def refuse(*_args: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(_copy, "_write_direct", refuse)
    target = tmp_path / "target"
    done, position = _append(target, b"", files)
    assert not done
    assert position == 0
    assert target.read_bytes() == b""


def _write(target: Path, data: bytes, head: bytes = b"") -> tuple[bool, int]:
    return _on_new_file(target, head, lambda handle: write_direct(handle, data))


@pytest.mark.parametrize("size", [1, DIRECT_ALIGNMENT, 5000, 1_400_000, 5_000_000])
def test_write_direct_exact(tmp_path: Path, size: int) -> None:
    """The bytes, the length cut back from the padded block, the position at the end."""
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    target = tmp_path / "entry"
    done, position = _write(target, data)
    if not done:
        assert target.read_bytes() == b""
        pytest.skip("this file system refuses O_DIRECT")
    assert target.read_bytes() == data
    assert position == size
    # the thread's buffer is reused, not reread: a shorter write after a longer one
    done, _ = _write(target, data[:10])
    assert done
    assert target.read_bytes() == data[:10]


def test_write_direct_refuses_a_written_file(tmp_path: Path) -> None:
    """Only from position 0 (an entry written whole); nothing else is touched."""
    done, position = _write(tmp_path / "entry", b"data", head=b"x")
    assert not done
    assert position == 1
    assert (tmp_path / "entry").read_bytes() == b"x"


def test_write_direct_einval_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal at the write leaves an empty file for the usual write."""

    def refuse(*_args: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(_copy, "_write_direct", refuse)
    done, position = _write(tmp_path / "entry", b"data" * 2000)
    assert not done
    assert position == 0
    assert (tmp_path / "entry").read_bytes() == b""


def test_cache_entry_round_trip(tmp_path: Path) -> None:
    """A run's cache entry written past the page cache loads as it was stored."""
    from dmnpharm.execution import RunCache
    from dmnpharm.execution._cache import store_entry

    value = {"rows": np.arange(200_000.0), "name": "sub-01"}
    path = store_entry(tmp_path, "run", "a" * 64, value)
    loaded = RunCache(tmp_path).load("run", "a" * 64)
    assert path.stat().st_size == len(pickle.dumps(value, protocol=5))
    np.testing.assert_array_equal(loaded["rows"], value["rows"])
    assert loaded["name"] == "sub-01"


def test_append_after_a_larger_direct_write(tmp_path: Path) -> None:
    """The thread's buffer grown by a large entry: appends still write their own bytes."""
    big = np.random.default_rng(7).integers(0, 256, 6_000_000, dtype=np.uint8).tobytes()
    done, _ = _write(tmp_path / "entry", big)
    if not done:
        pytest.skip("this file system refuses O_DIRECT")
    files = _sources(tmp_path, [70_000, 5_000_001])
    target = tmp_path / "target"
    done, position = _append(target, b"", files)
    assert done
    expected = b"".join(path.read_bytes()[:size] for path, size in files)
    assert target.read_bytes() == expected
    assert position == len(expected)
