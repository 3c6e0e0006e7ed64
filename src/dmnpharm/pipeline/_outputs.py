"""Where an analysis's outputs go besides its staging folder: store, cache, execution."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmnpharm.config import AnalysisConfig, Execution
from dmnpharm.execution import RunCache, make_cache
from dmnpharm.io import OutputLayout
from dmnpharm.store import store_path

__all__ = ["Outputs", "store_target"]


@dataclass(frozen=True)
class Outputs:
    """Where an analysis's outputs go besides its staging folder.

    Parameters
    ----------
    final : Path
        The output folder the staging folder becomes.
    store : Path
        The results store file to append to (inside the staging folder for
        the default ``<out>/results.duckdb``).
    overwrite : bool
        Replace the analysis if the store already holds it.
    source : Path
        The input study folder, absolute, as the derivatives name it.
    source_now : Path or None
        Where that folder is while the analysis runs, when elsewhere (the
        demo's study is inside the staging folder).
    execution : Execution
        Where per-run work runs.
    cache : RunCache
        Per-run results and input files' digests.
    existing : dict or None
        The provenance of a complete analysis already in ``final`` (when not
        overwriting): if it is this analysis, nothing is redone.
    """

    final: Path
    store: Path
    overwrite: bool
    source: Path
    source_now: Path | None = None
    execution: Execution = field(default_factory=Execution)
    cache: RunCache = field(default_factory=lambda: RunCache(None))
    existing: dict[str, Any] | None = None

    @classmethod
    def make(
        cls,
        final: Path,
        staging: Path,
        config: AnalysisConfig,
        overwrite: bool,
        store: str | Path | None,
        source: Path,
        existing: dict[str, Any] | None = None,
        source_now: Path | None = None,
    ) -> Outputs:
        """Return the outputs of an analysis staged in ``staging`` on its way to ``final``.

        Parameters
        ----------
        final, staging : Path
            The output folder and its staging folder.
        config : AnalysisConfig
            Its execution settings give the cache.
        overwrite : bool
            Replace the analysis in the store.
        store : str, Path or None
            The store asked for (None: inside the output folder).
        source : Path
            The study folder, absolute.
        existing : dict or None
            Provenance of a complete analysis already in ``final``.
        source_now : Path or None
            Where the study is while the analysis runs, when elsewhere.

        Returns
        -------
        Outputs
            With the cache the execution settings ask for.
        """
        return cls(
            final,
            store_target(store, final, staging),
            overwrite,
            source,
            source_now,
            execution=config.execution,
            cache=make_cache(config.execution),
            existing=existing,
        )

    def input_hashes(self, root: Path, files: list[Path]) -> dict[str, str]:
        """Return the SHA-256 of input files by path relative to ``root``, sorted.

        Digests of files unchanged since an earlier invocation come from the cache.
        A file outside ``root`` is named by its relative path with ``..`` parts.
        """
        ordered = sorted(files)
        digests = self.cache.file_hashes(ordered)
        # A file outside the study folder (the analysed derivatives of an earlier
        # dmnpharm analysis, read with its linked study's design) is named by a ../ path.
        hashes = {
            Path(os.path.relpath(p, root)).as_posix(): d
            for p, d in zip(ordered, digests, strict=True)
        }
        self.cache.save_hashes()
        return hashes


def store_target(store: str | Path | None, final: Path, staging: Path) -> Path:
    """Return the store file to write while ``final`` is being staged.

    Parameters
    ----------
    store : str, Path or None
        The store asked for (a file, or a folder to hold ``results.duckdb``);
        None for ``<final>/results.duckdb``.
    final : Path
        The output folder.
    staging : Path
        Its staging folder.

    Returns
    -------
    Path
        A store inside ``final`` is written inside ``staging`` (it moves into
        place with the rest); any other is written where it is.
    """
    if store is None:
        return OutputLayout.analysis(staging).store
    target = store_path(store).resolve()
    try:
        inside = target.relative_to(final.resolve())
    except ValueError:
        return target
    return staging / inside
