"""Byte ranges copied between files: in the kernel, and by reading and writing."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dmnpharm._utils._copy import copy_bytes
from dmnpharm._utils._output import atomic_write_with

DATA = bytes(range(256)) * 5000  # 1.28 MB: more than one 1 MiB chunk


def _copy(tmp_path: Path, count: int, offset: int | None, skip: int = 0) -> bytes:
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(DATA)
    read, write = os.open(source, os.O_RDONLY), os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        os.lseek(read, skip, os.SEEK_SET)
        os.write(write, b"head:")
        copy_bytes(read, write, count, offset)
        position = os.lseek(read, 0, os.SEEK_CUR)
    finally:
        os.close(read)
        os.close(write)
    # With an offset the source's position is left alone; without, it advances.
    assert position == (skip if offset is not None else skip + count)
    return target.read_bytes()


def _without_kernel_copy(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "missing":  # not Linux
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    else:  # another file system

        def refuse(*_args: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)


@pytest.mark.parametrize("how", ["kernel", "missing", "cross-device"])
@pytest.mark.parametrize(("count", "offset", "skip"), [(len(DATA), 0, 0), (1_100_000, 7, 3)])
def test_the_range_asked_for_is_copied_after_what_the_target_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    count: int,
    offset: int,
    skip: int,
) -> None:
    """An offset in the source, or its position; the target's position; every path alike."""
    if how != "kernel":
        _without_kernel_copy(monkeypatch, how)
    elif not hasattr(os, "copy_file_range"):
        pytest.skip("this system has no copy_file_range")
    assert _copy(tmp_path, count, offset, skip) == b"head:" + DATA[offset : offset + count]
    assert _copy(tmp_path, count, None, skip) == b"head:" + DATA[skip : skip + count]


@pytest.mark.parametrize("how", ["kernel", "missing"])
def test_a_source_shorter_than_the_range_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Never a silently short copy."""
    if how != "kernel":
        _without_kernel_copy(monkeypatch, how)
    with pytest.raises(EOFError, match="100 bytes before"):
        _copy(tmp_path, len(DATA) + 100, 0)


def test_other_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk is not a reason to try another way."""

    def full(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    with pytest.raises(OSError, match="No space"):
        _copy(tmp_path, 10, 0)


def test_an_atomic_write_cut_short_leaves_nothing(tmp_path: Path) -> None:
    """The file is written by ``fill``; a failure leaves neither the file nor its temporary."""
    target = tmp_path / "entry.bin"

    def fill(stream: object) -> None:
        stream.write(b"part")  # type: ignore[attr-defined]
        raise RuntimeError("cut short")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, fill)
    assert list(tmp_path.iterdir()) == []
    atomic_write_with(target, lambda stream: stream.write(b"whole"), durable=False)
    assert target.read_bytes() == b"whole"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]
