"""The snapshot's scan for the output folder: a byte every form holds skips most files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmnpharm.pipeline import _snapshot_files as snapshot_files


def test_the_marker_is_a_byte_of_every_prefix() -> None:
    """The separator where every prefix has it; another shared byte; None when none is."""
    assert snapshot_files._marker([b"/tmp/out/", b"file:///tmp/out/"]) == b"/"
    assert snapshot_files._marker([b"C:\\out\\", b"file:///C:/out/"]) == b":"
    assert snapshot_files._marker([b"ab", b"cd"]) is None
    assert snapshot_files._marker([]) is None


@pytest.mark.parametrize("marker", [b"/", None])
def test_a_file_is_searched_whole_where_it_holds_the_marker(
    tmp_path: Path, marker: bytes | None
) -> None:
    """Numbers without a slash are skipped; a path anywhere (past 1 MB too) is found."""
    prefixes = [str(tmp_path).encode() + b"/"]
    numbers = tmp_path / "numbers.tsv"
    numbers.write_bytes(b"0.25\t-1.5\n" * 200_000)
    named = tmp_path / "named.json"
    named.write_bytes(b"x" * 2_000_000 + b'"' + prefixes[0] + b'out/study"')
    slashes = tmp_path / "slashes.tsv"
    slashes.write_bytes(b"L/R\t1\n" * 1000)
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    found = {
        path.name: snapshot_files._names_any(path, path.stat().st_size, prefixes, marker)
        for path in (numbers, named, slashes, empty)
    }
    assert found == {
        "numbers.tsv": False,
        "named.json": True,
        "slashes.tsv": False,
        "empty.tsv": False,
    }
