"""Atomic files, the output-folder lock and remembered file digests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmnpharm._utils import HashMemo, atomic_write_bytes, output_lock, progress, sha256_file
from dmnpharm.exceptions import OutputLockedError


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The content arrives whole, replaces an older file and leaves nothing beside it."""
    target = tmp_path / "deep" / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second version")
    assert target.read_bytes() == b"second version"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_the_lock_excludes_a_second_holder_and_dies_with_its_process(tmp_path: Path) -> None:
    """A second lock on the folder fails at once; a SIGKILLed holder's lock is released."""
    out = tmp_path / "out"
    with output_lock(out) as lock:
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(OutputLockedError, match=str(os.getpid())), output_lock(out):
            pass
    with output_lock(out):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from dmnpharm._utils import output_lock\n"
            f"with output_lock({str(out)!r}):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(OutputLockedError), output_lock(out):
        pass
    holder.kill()
    holder.wait(timeout=30)
    holder.stdout.close()
    with output_lock(out):  # the kernel released the killed holder's lock
        pass


def test_hash_memo_reuses_digests_of_unchanged_files_only(tmp_path: Path) -> None:
    """A digest equals hashlib's; a rewritten file is hashed again, even across instances."""
    data = tmp_path / "data.bin"
    data.write_bytes(b"abc" * 1000)
    database = tmp_path / "hashes.sqlite"
    memo = HashMemo(database)
    digest = memo.sha256(data)
    assert digest == hashlib.sha256(b"abc" * 1000).hexdigest() == sha256_file(data)
    memo.save()
    again = HashMemo(database)
    assert again.sha256(data) == digest
    assert not again._new  # from the database, not from reading the file
    data.write_bytes(b"abd" * 1000)
    os.utime(data, ns=(1, 2))
    assert again.sha256(data) == hashlib.sha256(b"abd" * 1000).hexdigest()
    assert HashMemo(None).sha256(data) == again.sha256(data)


def test_many_files_are_hashed_in_parallel_as_hashlib_does(tmp_path: Path) -> None:
    """sha256_many gives hashlib's digests in order, repeats included, and remembers them."""
    files = []
    for i in range(6):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(bytes([i]) * (3 << 20))  # several 1 MiB chunks each
        files.append(path)
    memo = HashMemo(None)
    digests = memo.sha256_many([*files, files[0]], threads=3)
    expected = [hashlib.sha256(p.read_bytes()).hexdigest() for p in [*files, files[0]]]
    assert digests == expected
    assert len(memo._new) == 6  # the repeated file was hashed once
    assert memo.sha256_many(files[:2]) == expected[:2]
    assert len(memo._new) == 6


def test_progress_accepts_an_iterator_with_a_total() -> None:
    """Results arriving from a cluster (no length) pass through unchanged."""
    assert list(progress(iter(range(4)), "gathering", total=4)) == [0, 1, 2, 3]
    assert list(progress((x for x in "ab"), "gathering")) == ["a", "b"]


def test_atomic_write_waits_for_the_disk_only_when_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``durable=False`` skips the fsync (the content arrives whole all the same)."""
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    atomic_write_bytes(tmp_path / "a", b"kept")
    assert len(synced) == 1
    atomic_write_bytes(tmp_path / "b", b"cache entry", durable=False)
    assert len(synced) == 1
    assert (tmp_path / "b").read_bytes() == b"cache entry"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
