"""Execution settings: where per-run work runs and where its results are cached.

Plain values only; the machinery that acts on them (Dask clusters, the cache)
lives in :mod:`dmnpharm.execution`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmnpharm.exceptions import InputError

__all__ = ["CLUSTERS", "SCHEDULER_ENV", "Execution"]

#: Environment variable giving the default scheduler (``local``, ``threads``,
#: ``synchronous`` or an address).
SCHEDULER_ENV = "DMNPHARM_SCHEDULER"

#: Batch systems reachable through dask-jobqueue.
CLUSTERS = ("slurm", "pbs")


@dataclass(frozen=True)
class Execution:
    """How and where per-run work is executed, and where its results are cached.

    None of this changes a number in the outputs; it is recorded in the
    provenance for the record only.

    Parameters
    ----------
    scheduler : str or None
        ``local`` (this machine: on Linux, one worker process per core forked
        from this one; elsewhere a small study's runs on threads of this
        process and a larger one's on a local Dask cluster, chosen by the
        estimated work), ``threads`` (every run in this process, on a
        pool of threads), ``synchronous`` (every run in this process, one
        after another; for debugging) or the address of a running Dask
        scheduler (``tcp://host:8786``). None: ``$DMNPHARM_SCHEDULER``, else
        ``local``.
    cluster : str or None
        ``slurm`` or ``pbs``: start workers as batch jobs through dask-jobqueue,
        configured by the user's dask-jobqueue YAML (queue, account, cores,
        memory, walltime ...).
    workers : int or None
        Worker processes (local cluster), threads (``threads``) or workers to
        request (batch cluster). None: as many as the machine has cores, at
        most one per run to compute (local; at most two threads); one per run
        up to 100 (batch). Given with ``local``, a cluster is always started.
    memory_limit : str or None
        Memory per worker, e.g. ``"4GiB"``; given with ``local``, a cluster is
        always started, whose nanny enforces it. None: no limit for worker
        processes forked from this one (the kernel kills one of them, not this
        process, if memory runs out), the local machine's memory shared
        equally for a local cluster, the YAML's setting for a batch cluster.
    cache_dir : str, Path or None
        Cache folder; None: ``$DMNPHARM_CACHE``, else ``~/.cache/dmnpharm``
        (:func:`dmnpharm.execution.default_cache_dir`).
    cache : bool
        Look up and store per-run results.
    worker_files : bool
        Workers write their run's derivative files and cache entries
        themselves, and send back only what the group analysis needs: they
        share this process's file system (this machine, or a cluster with a
        shared file system, the usual case). False: every run's results travel
        to this process, which writes them (a cluster whose nodes cannot
        write the output and cache folders); slower, the same files.
    """

    scheduler: str | None = None
    cluster: str | None = None
    workers: int | None = None
    memory_limit: str | None = None
    cache_dir: str | Path | None = None
    cache: bool = True
    worker_files: bool = True

    def __post_init__(self) -> None:
        """Check the options."""
        if self.cluster is not None and self.cluster not in CLUSTERS:
            raise InputError(
                f"cluster {self.cluster!r} is not supported; use one of {', '.join(CLUSTERS)}"
            )
        if self.cluster is not None and self.scheduler not in (None, "local"):
            raise InputError("give either a scheduler address or a batch cluster, not both")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"workers must be at least 1, got {self.workers}")

    @property
    def mode(self) -> str:
        """``synchronous``, ``threads``, ``local``, ``slurm``, ``pbs`` or ``address``."""
        if self.cluster is not None:
            return self.cluster
        chosen = self.scheduler or os.environ.get(SCHEDULER_ENV) or "local"
        return chosen if chosen in ("local", "synchronous", "threads") else "address"

    @property
    def in_process(self) -> bool:
        """Whether every run is computed in this process (``synchronous`` or ``threads``)."""
        return self.mode in ("synchronous", "threads")

    @property
    def address(self) -> str:
        """The scheduler address (``address`` mode)."""
        return str(self.scheduler or os.environ.get(SCHEDULER_ENV, ""))

    def describe(self) -> dict[str, Any]:
        """Return the options for the provenance (no host names or ports)."""
        return {
            "engine": "in-process" if self.in_process else "dask.distributed",
            "mode": self.mode,
            "workers": self.workers,
            "memory_limit": self.memory_limit,
            "cache": self.cache,
            "worker_files": self.worker_files,
        }
