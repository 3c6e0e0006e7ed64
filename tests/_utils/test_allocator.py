"""Worker processes keep the memory they free (glibc's mmap and trim thresholds)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dmnpharm._utils import _allocator
from dmnpharm._utils._allocator import ALLOCATOR_ENVIRON, keep_freed_memory
from dmnpharm._utils._forked import fork_pool, fork_supported

GLIBC = sys.platform.startswith("linux") and _allocator._glibc() is not None
needs_glibc = pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's (Linux)")


def _churn() -> int:
    """Allocate and free arrays of 0.2 to 9 MB as per-run work does; return the page faults."""
    import resource

    x = np.random.default_rng(0).standard_normal((150, 300))

    def work() -> float:
        product = x @ x.T
        tall = np.repeat(x, 4, axis=0)
        centred = tall - tall.mean(axis=0)
        doubled = np.concatenate([centred, centred])
        wide = (doubled[:, :, None] * np.ones(3)).sum(axis=-1)
        return float(product[0, 0] + wide[0, 0])

    work()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(30):
        work()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _faults_in_fresh_python(keep: bool) -> int:
    """Run :func:`_churn` in a new interpreter, with or without keeping freed memory."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from dmnpharm._utils._allocator import keep_freed_memory
        if {keep}:
            assert keep_freed_memory()
        from test_allocator import _churn
        print(_churn())
        """
    )
    # Without glibc's own settings, which another test's Dask nanny may have left behind.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return int(done.stdout.strip())


@needs_glibc
def test_kept_memory_is_not_faulted_in_again() -> None:
    """The same allocations page-fault over 100x less once the thresholds are fixed."""
    plain, kept = _faults_in_fresh_python(False), _faults_in_fresh_python(True)
    assert plain > 10_000  # glibc's defaults: arrays mapped and trimmed again and again
    assert kept * 100 < plain


@needs_glibc
def test_setting_is_made_once_and_reported() -> None:
    """Both thresholds are set on glibc; a second call does nothing more."""
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
    assert keep_freed_memory.cache_info().currsize == 1


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C library is not glibc (macOS, Windows, musl) nothing is set."""

    def no_glibc(name: str) -> str:
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(_allocator.os, "confstr", no_glibc)
    assert _allocator._glibc() is None
    assert keep_freed_memory.__wrapped__() is False
    monkeypatch.setattr(_allocator.os, "confstr", lambda _name: "musl 1.2")
    assert keep_freed_memory.__wrapped__() is False


def test_environment_form_names_glibcs_variables() -> None:
    """A process started afresh (a Dask worker) gets the same thresholds from its environment."""
    expected = {"MALLOC_MMAP_THRESHOLD_": str(16 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}
    assert expected == ALLOCATOR_ENVIRON


@needs_glibc
@pytest.mark.skipif(not fork_supported(), reason="forked workers are Linux only")
def test_forked_workers_keep_their_freed_memory() -> None:
    """A pool's forked worker sets the thresholds before its first task."""
    pool = fork_pool(1)
    assert pool is not None
    with pool:
        faults = pool.submit(_churn).result()
    assert faults < 1_000
