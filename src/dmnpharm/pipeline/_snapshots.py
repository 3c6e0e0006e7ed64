"""Complete demos kept in the cache: the same demo into a new folder is a copy.

Per-run results are cached by content, but the demo into a new output folder
still simulated its study, validated it, wrote every run's derivatives,
fitted the group model, drew the report and filled the store again (12.8 s
with every run cached, against 0.8 s for an analysis rerun into a folder that
already holds it). A demo's outputs are a pure function of its simulation
spec and analysis choices, the version and code of dmnpharm, the output
folder and how the per-run work was executed: every file but the log and the
results store is byte for byte the same (tests/pipeline/test_cached_outputs.py
compares a restored demo with a computed one). So once a demo is complete
its files are kept in the cache, as one entry keyed by all of that (written past
the page cache, :mod:`dmnpharm.execution._cache_attach`), and an identical demo
restores them instead of recomputing them.

What makes this safe:

* the key holds the simulation spec, the analysis configuration, the
  execution record, the dmnpharm version, a fingerprint of every installed
  dmnpharm source file (changed code never reuses outputs of the old code),
  the machine's core count (it decides where per-run work runs, which the
  provenance records), and the lab's local catalog when a drug is compared;
* the output folder's absolute path is the only thing allowed to differ: it
  is found in text files when the snapshot is taken and rewritten on
  restore; a snapshot is not taken when that path is in a binary file, is
  named as the start of a longer path, would be escaped in JSON (quotes,
  backslashes, non-ASCII), or when the staging folder's own path is in a file;
* the log and the results store are never copied: the log is this
  invocation's, and the analysis is appended to the store as always (the
  store still refuses an analysis it already holds);
* analyses with a prediction beside them (``receptors``), and outputs above
  :data:`MAX_SNAPSHOT_BYTES`, are not kept.

The helpers take any key: :func:`~dmnpharm.pipeline._orchestrator.analyse_plan`
keeps the outputs of any analysis it is given a key for; only the demo asks
(a study's own analyses are rerun into the same folder, where the complete
output is found and nothing is done).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmnpharm._utils import get_logger
from dmnpharm.execution import AttachedEntry, RunCache
from dmnpharm.io import OutputLayout
from dmnpharm.pipeline._outputs import Outputs
from dmnpharm.pipeline._results import Results
from dmnpharm.pipeline._snapshot_files import (
    MAX_SNAPSHOT_BYTES,
    collect_outputs,
    path_forms,
    rewrite_folder,
)
from dmnpharm.pipeline._snapshot_key import SNAPSHOT_STAGE

if TYPE_CHECKING:  # DuckDB is imported where a store is written (not before the demo forks)
    from dmnpharm.store._writer import StoreWriter

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "Snapshot",
    "load_snapshot",
    "restore_files",
    "restored",
    "save_snapshot",
    "store_and_keep",
]

_NOT_KEPT = "outputs not kept in the cache (too large, or naming paths unsafely)"
_LOG = get_logger("pipeline")


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A complete analysis's output files and what a restored analysis hands back.

    Parameters
    ----------
    files : dict of str to bytes
        The output files that hold the start of a path that may need
        rewriting (relative path to content): the small text files.
    folder : str
        The output folder the files were written for (absolute).
    rewritten : tuple of str
        The text files that name ``folder`` (rewritten on restore).
    store : dict
        :func:`dmnpharm.store.write_analysis`'s tables and provenance; its
        ``regions`` and ``edges`` are file names relative to the folder.
    results : dict
        The in-memory results (metrics, group results, provenance, nulls).
    copied : tuple of str
        Every other output file but the log and the store, by relative path,
        attached to the cache entry as it is, in this order.
    store_kept : bool
        Whether the results store written inside the folder, holding this
        analysis alone, is attached after them.
    attached : AttachedEntry or None
        The open cache entry, once loaded (:func:`load_snapshot`).
    """

    files: dict[str, bytes] = field(repr=False)
    folder: str
    rewritten: tuple[str, ...]
    store: dict[str, Any] = field(repr=False)
    results: dict[str, Any] = field(repr=False)
    copied: tuple[str, ...] = ()
    store_kept: bool = False
    attached: AttachedEntry | None = field(default=None, repr=False)

    @property
    def names(self) -> set[str]:
        """Every output file the snapshot restores, by relative path (the store aside)."""
        return set(self.files) | set(self.copied)


def save_snapshot(
    cache: RunCache,
    key: str | None,
    staging: Path,
    final: Path,
    skip: set[Path],
    store: dict[str, Any],
    results: dict[str, Any],
    store_file: Path | None = None,
    *,
    ready: Callable[[], object] | None = None,
) -> bool:
    """Keep a complete analysis's outputs in the cache under ``key``.

    The files that may name the output folder are pickled with the results;
    every other file is appended to the same cache entry as it is, past the
    page cache where the file system allows it (the demo's 200 MB: 0.015 s of
    CPU against 0.4-0.5 s through new page-cache pages here).

    Parameters
    ----------
    cache : RunCache
        Where (nothing when disabled).
    key : str or None
        From :func:`~dmnpharm.pipeline._snapshot_key.snapshot_key` (None: nothing is kept).
    staging : Path
        The complete staging folder.
    final : Path
        The output folder it becomes (absolute).
    skip : set of Path
        Files not kept (the log, a results store inside the folder).
    store : dict
        The store's tables and provenance (Parquet files as paths in ``staging``).
    results : dict
        The in-memory results.
    store_file : Path or None
        A results store inside ``staging`` that holds this analysis alone:
        kept whole, so that a restored demo copies it instead of filling a
        new store. It is read last, after ``ready``.
    ready : callable or None
        Called once the other files are in the entry, before ``store_file`` is
        read and the entry committed: it may wait for the store to close. An
        exception it raises keeps nothing (an ``OSError`` returns False).

    Returns
    -------
    bool
        Whether the snapshot was kept.
    """
    if key is None or not cache.enabled:
        return False
    collected = collect_outputs(staging, final, skip)
    if collected is None:
        _LOG.debug(_NOT_KEPT)
        return False
    relative = {
        name: (value.relative_to(staging).as_posix() if isinstance(value, Path) else value)
        for name, value in store.items()
    }
    attached = [(staging / name, size) for name, size in collected.copied]
    snapshot = Snapshot(
        collected.read,
        str(final.resolve()),
        collected.rewritten,
        relative,
        results,
        tuple(name for name, _ in collected.copied),
        store_file is not None,
    )
    try:
        cache.store_attached(SNAPSHOT_STAGE, key, snapshot, attached, store_file, ready)
    except (OSError, EOFError) as exc:  # a file changed or vanished: nothing is kept
        _LOG.debug("%s (%s)", _NOT_KEPT, exc)
        return False
    return True


def load_snapshot(cache: RunCache, key: str | None) -> Snapshot | None:
    """Return the snapshot kept under ``key``, or None.

    Parameters
    ----------
    cache : RunCache
        Where it was kept.
    key : str or None
        From :func:`~dmnpharm.pipeline._snapshot_key.snapshot_key`.

    Returns
    -------
    Snapshot or None
        With its cache entry open (``attached``; :func:`restored` closes it);
        None when there is none (or it is unreadable).
    """
    if key is None:
        return None
    entry = cache.load_attached(SNAPSHOT_STAGE, key)
    if entry is None:
        return None
    snapshot = entry.value
    if not isinstance(snapshot, Snapshot) or len(entry.sizes) != len(snapshot.copied) + int(
        snapshot.store_kept
    ):
        entry.close()
        return None
    return replace(snapshot, attached=entry)


def restore_files(snapshot: Snapshot, staging: Path, final: Path) -> dict[str, Any]:
    """Write a snapshot's files into ``staging`` for the output folder ``final``.

    Parameters
    ----------
    snapshot : Snapshot
        What was kept, loaded (:func:`load_snapshot`).
    staging : Path
        The (empty) staging folder.
    final : Path
        The output folder it becomes: text files naming the snapshot's folder
        name this one instead.

    Returns
    -------
    dict
        The store's tables and provenance, Parquet files as paths in ``staging``.
    """
    if snapshot.attached is None:
        raise ValueError("the snapshot was not loaded from the cache (load_snapshot)")
    old, new = path_forms(Path(snapshot.folder)), path_forms(final.resolve())
    made: set[Path] = set()

    def target(name: str) -> Path:
        path = staging / name
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        return path

    for name, content in snapshot.files.items():
        if name in snapshot.rewritten:
            for before, after in zip(old, new, strict=True):
                content = rewrite_folder(content, before, after)
        target(name).write_bytes(content)
    for index, name in enumerate(snapshot.copied):
        snapshot.attached.copy_to(index, target(name))
    return {
        name: (staging / value if name in ("regions", "edges") and value else value)
        for name, value in snapshot.store.items()
    }


def _stored(
    result: Results, tables: dict[str, Any], outputs: Outputs, writer: StoreWriter | None
) -> Results:
    """Append the analysis to the results store; return the results pointing at it."""
    if writer is None:
        from dmnpharm.store import write_analysis

        store = write_analysis(
            outputs.store,
            analysis_id=result.analysis_id,
            **tables,
            output=str(outputs.final),
            overwrite=outputs.overwrite,
        )
    else:  # its region and edge rows are in already
        store = writer.finish(
            runs=tables["runs"],
            results=tables["results"],
            provenance=tables["provenance"],
            output=str(outputs.final),
        )
    staging = result.out
    shown = outputs.final / store.relative_to(staging) if store.is_relative_to(staging) else store
    _LOG.info("analysis %s stored in %s", result.analysis_id, shown)
    return replace(result, store=store)


def store_and_keep(
    result: Results,
    tables: dict[str, Any],
    outputs: Outputs,
    key: str | None,
    writer: StoreWriter | None = None,
) -> Results:
    """Append a complete analysis to the store, and keep its outputs in the cache.

    Parameters
    ----------
    result : Results
        The analysis, in its staging folder (``result.out``).
    tables : dict
        What :func:`dmnpharm.store.write_analysis` receives besides the id.
    outputs : Outputs
        The output folder, store, cache.
    key : str or None
        From :func:`~dmnpharm.pipeline._snapshot_key.snapshot_key`; None: the outputs are not kept.
    writer : StoreWriter or None
        The store's open transaction, its large tables already ingested
        (None: the whole analysis is written now).

    Returns
    -------
    Results
        ``result`` with its store.
    """
    layout = OutputLayout.analysis(result.out)
    skip = {layout.log, outputs.store}
    # A store inside the staging folder is new: it holds this analysis alone.
    alone = outputs.store if outputs.store.is_relative_to(result.out) else None
    kept = {
        "metrics": result.metrics,
        "results": result.results,
        "analysis_id": result.analysis_id,
        "failures": result.failures,
        "provenance": result.provenance,
        "null": result.null,
    }
    closed: Future[None] = Future()
    with ThreadPoolExecutor(1, thread_name_prefix="dmnpharm-snapshot") as pool:
        # The snapshot's files are looked through and copied into the cache while the
        # store commits and closes (DuckDB lets go of the GIL; the copy waits on the
        # disk): the store's own files are skipped, nothing else changes. The entry
        # takes the store last and is committed only once the store is complete.
        keeping = (
            pool.submit(
                save_snapshot,
                outputs.cache,
                key,
                result.out,
                outputs.final,
                skip,
                tables,
                kept,
                alone,
                ready=closed.result,
            )
            if key is not None and outputs.cache.enabled
            else None
        )
        try:
            stored = _stored(result, tables, outputs, writer)
        except BaseException as exc:
            closed.set_exception(exc)  # nothing is kept
            raise
        closed.set_result(None)
        if keeping is not None and keeping.result():
            _LOG.debug("kept the outputs in the cache for an identical analysis elsewhere")
    return stored


def restored(snapshot: Snapshot, staging: Path, outputs: Outputs) -> Results:
    """Write a kept analysis into ``staging`` and append it to the store.

    Parameters
    ----------
    snapshot : Snapshot
        From :func:`load_snapshot`.
    staging : Path
        The staging folder of ``outputs.final``.
    outputs : Outputs
        The output folder and store.

    Returns
    -------
    Results
        As the analysis returned them, pointing inside ``staging``.
    """
    try:
        return _restored(snapshot, staging, outputs)
    finally:
        if snapshot.attached is not None:
            snapshot.attached.close()


def _restored(snapshot: Snapshot, staging: Path, outputs: Outputs) -> Results:
    """Body of :func:`restored`, the snapshot's entry open."""
    tables = restore_files(snapshot, staging, outputs.final)
    kept = snapshot.results
    _LOG.info(
        "analysis %s: every output restored from the cache (an identical analysis wrote them)",
        kept["analysis_id"],
    )
    result = Results(
        out=staging,
        metrics=kept["metrics"],
        results=kept["results"],
        report_file=OutputLayout.analysis(staging).report,
        analysis_id=kept["analysis_id"],
        failures=tuple(kept["failures"]),
        provenance=kept["provenance"],
        null=kept["null"],
    )
    store = outputs.store
    if not snapshot.store_kept or not store.is_relative_to(staging) or store.exists():
        return _stored(result, tables, outputs, None)
    # A new store inside the folder: the kept one, holding this analysis alone, copied.
    store.parent.mkdir(parents=True, exist_ok=True)
    snapshot.attached.copy_to(len(snapshot.copied), store)  # type: ignore[union-attr]
    from dmnpharm.store._writer import restamp_analysis

    restamp_analysis(store, result.analysis_id, str(outputs.final))
    shown = outputs.final / store.relative_to(staging)
    _LOG.info("analysis %s stored in %s", result.analysis_id, shown)
    return replace(result, store=store)
