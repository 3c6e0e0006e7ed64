"""One BLAS thread: the command line's default, and the limit that leaves one thread alone."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from dmnpharm._utils._blas import (
    all_blas_threads,
    blas_controller,
    default_to_one_blas_thread,
    one_blas_thread,
)
from dmnpharm._utils._forked import usable_cores


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ["OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]),
        ({"OMP_NUM_THREADS": "4"}, []),
        ({"OPENBLAS_NUM_THREADS": "2"}, ["MKL_NUM_THREADS"]),
        ({"GOTO_NUM_THREADS": "2"}, ["MKL_NUM_THREADS"]),
        ({"MKL_NUM_THREADS": "3"}, ["OPENBLAS_NUM_THREADS"]),
        ({"OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "3"}, []),
    ],
)
def test_default_respects_the_users_choice(environ: dict[str, str], expected: list[str]) -> None:
    """Only the variables nobody chose are set, to 1; the user's stay as they are."""
    env = dict(environ)
    assert default_to_one_blas_thread(env) == expected
    for name in expected:
        assert env[name] == "1"
    for name, value in environ.items():
        assert env[name] == value  # what the user set is never changed
    assert set(env) == set(environ) | set(expected)


def test_limit_and_restore() -> None:
    """Inside the block every BLAS runs one thread (same products); after, as before."""
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with one_blas_thread():
            assert _blas_threads() == [1] * len(before)
            x = np.arange(90_000, dtype=float).reshape(300, 300)
            np.testing.assert_allclose(x @ x.T, np.einsum("ij,kj->ik", x, x))
        assert _blas_threads() == before


def test_one_thread_already_is_left_alone() -> None:
    """Nothing is set (OpenBLAS would make its helpers again) when one thread runs already."""
    with threadpool_limits(limits=1, user_api="blas"):
        limiter = one_blas_thread()
        assert isinstance(limiter, contextlib.nullcontext)
        with limiter:
            assert set(_blas_threads()) <= {1}


def test_controller_is_found_once() -> None:
    """The libraries are looked up once while the loaded BLAS modules stay the same."""
    first = blas_controller()
    assert blas_controller() is first
    apis = {lib.user_api for lib in first.lib_controllers}
    assert apis <= {"blas", "openmp"}


_PROBE = """
import gc, json, os, sys
sys.argv = ["dmnpharm", "--version"]
code = None
if "{console}" == "yes":
    from dmnpharm.__main__ import console_main
    code = console_main()
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
print(json.dumps({{
    "code": code,
    "frozen": gc.get_freeze_count(),
    "openblas_env": os.environ.get("OPENBLAS_NUM_THREADS"),
    "blas": [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"],
}}))
"""

_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def _probe(console: bool, **env: str) -> dict[str, object]:
    """Run a fresh interpreter (through console_main or not) and report its BLAS threads."""
    clean = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(console="yes" if console else "no")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_console_main_one_thread_and_frozen_heap() -> None:
    """The console entry: exit code, one BLAS thread in a fresh process, heap frozen."""
    found = _probe(True)
    assert found["code"] == 0
    assert isinstance(found["frozen"], int)
    assert found["frozen"] > 0
    assert found["openblas_env"] == "1"
    assert found["blas"]
    assert set(found["blas"]) == {1}  # type: ignore[arg-type]


def test_console_main_keeps_the_users_threads() -> None:
    """With OMP_NUM_THREADS set, BLAS runs what that gives a plain interpreter."""
    found = _probe(True, OMP_NUM_THREADS="2")
    plain = _probe(False, OMP_NUM_THREADS="2")
    assert found["code"] == 0
    assert plain["code"] is None
    assert found["openblas_env"] is None
    assert found["blas"] == plain["blas"]  # what the user's variable gives without dmnpharm


def test_all_blas_threads_for_a_block() -> None:
    """Every core inside the block (from one thread outside), one thread again after."""
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    cores = usable_cores()
    with threadpool_limits(limits=1, user_api="blas"):
        with all_blas_threads():
            assert _blas_threads() == [cores] * len(_blas_threads())
        assert set(_blas_threads()) == {1}
    with threadpool_limits(limits=cores, user_api="blas"):
        assert isinstance(all_blas_threads(), contextlib.nullcontext)
