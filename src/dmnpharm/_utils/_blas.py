"""One BLAS thread where the parallelism is elsewhere, without OpenBLAS's idle spinning.

OpenBLAS (NumPy's and SciPy's wheels each load their own copy) runs a helper
thread per extra core. A helper that has worked, or has just been created,
spins for about 0.1 s before it sleeps, and a fork shuts the helpers down, so
the next call that sets the thread count (even to one, as
:mod:`threadpoolctl` does) creates them again, and they spin again. dmnpharm
forks its checks and its per-run workers and limits BLAS around the work; on
2 cores that spinning took a core from the work beside it. Measured with
``perf`` on the demo: 0.6 s of CPU in ``blas_thread_server`` (of about 10 s),
in the per-run workers, in the main process while the forked checks ran, and
beside the store's ingest thread. A forked child that only set one thread
spent 0.2 s of CPU; with ``OPENBLAS_NUM_THREADS=1`` from the start, 0.005 s.

So the command line starts with one BLAS thread unless the user chose
(:func:`default_to_one_blas_thread`; the parallelism is across processes and
the statistics engines' own threads), and :func:`one_blas_thread` does not touch
libraries that already run one thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import MutableMapping
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController

from dmnpharm._utils._forked import usable_cores

__all__ = [
    "all_blas_threads",
    "blas_controller",
    "default_to_one_blas_thread",
    "one_blas_thread",
]

#: Modules whose import loads a BLAS library of its own (NumPy's, SciPy's).
_BLAS_MODULES = ("numpy", "scipy.linalg")

#: Per variable set to "1": the variables that, when any is set, mean the user chose.
_CHOSEN_BY = {
    "OPENBLAS_NUM_THREADS": ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"),
    "MKL_NUM_THREADS": ("MKL_NUM_THREADS", "OMP_NUM_THREADS"),
}


def blas_controller() -> ThreadpoolController:
    """Return a controller of the BLAS libraries this process has loaded.

    Found again when a module in :data:`_BLAS_MODULES` has been imported since
    (SciPy's BLAS is a separate library from NumPy's), otherwise reused:
    finding the libraries costs 1.5-3 ms, limiting them afterwards 0.05 ms.

    Returns
    -------
    threadpoolctl.ThreadpoolController
        The controller.
    """
    loaded = tuple(name in sys.modules for name in _BLAS_MODULES)
    return _controller(loaded)


@cache
def _controller(loaded: tuple[bool, ...]) -> ThreadpoolController:
    """Return the controller for the modules marked in ``loaded`` (the cache key)."""
    del loaded  # the cache key only
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """Limit every loaded BLAS to one thread for a ``with`` block.

    Libraries that already run one thread are left alone: setting the count,
    even to the same value, makes OpenBLAS create its helper threads again
    after a fork, and they spin.

    Returns
    -------
    context manager
        Restores the previous limits when its block ends; a do-nothing context
        when every BLAS already runs one thread.

    Examples
    --------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     float(np.ones((300, 300)) @ np.ones(300) @ np.ones(300))
    90000.0
    """
    controller = blas_controller()
    blas = controller.select(user_api="blas")
    if all(lib.num_threads == 1 for lib in blas.lib_controllers):
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def all_blas_threads() -> Any:
    """Let every loaded BLAS use every core this process may run on, for a ``with`` block.

    For the few computations made of large products (the prediction's surrogate
    maps and model), which the command line's default of one thread would slow.
    Libraries already at that many threads or more are left alone.

    Returns
    -------
    context manager
        Restores the previous limits when its block ends; a do-nothing context
        when no library needs changing.

    Examples
    --------
    >>> with all_blas_threads():
    ...     pass
    """
    cores = usable_cores()
    controller = blas_controller()
    blas = controller.select(user_api="blas")
    if all(lib.num_threads >= cores for lib in blas.lib_controllers):
        return contextlib.nullcontext()
    return controller.limit(limits=cores, user_api="blas")


def default_to_one_blas_thread(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Make one BLAS thread the default, unless the user has chosen a number.

    Sets ``OPENBLAS_NUM_THREADS`` (and ``MKL_NUM_THREADS``) to ``1`` where
    neither it nor a variable it defers to (``GOTO_NUM_THREADS``,
    ``OMP_NUM_THREADS``) is set. It takes effect only before NumPy is first
    imported: the command line calls it first thing. Processes started from
    this one (Dask's workers) inherit it.

    Parameters
    ----------
    environ : mutable mapping of str to str or None
        The environment to change; None: ``os.environ``.

    Returns
    -------
    list of str
        The variables set (empty when the user chose).
    """
    env = os.environ if environ is None else environ
    chosen = [name for name, by in _CHOSEN_BY.items() if not any(v in env for v in by)]
    for name in chosen:
        env[name] = "1"
    return chosen
