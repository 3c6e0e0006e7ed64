"""What an analysis produced: tables in memory, the permutation nulls, and its output folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm._utils import staged_output_dir
from dmnpharm.config import PRIMARY
from dmnpharm.io import OutputLayout
from dmnpharm.stats import PermutationNull

__all__ = ["Results", "stored_results"]


@dataclass(frozen=True, eq=False)
class Results:
    """The results of :meth:`dmnpharm.Study.analyse`.

    Parameters
    ----------
    out : Path
        The output folder holding every file of the analysis (see
        :class:`dmnpharm.io.OutputLayout`).
    metrics : pandas.DataFrame
        Tidy network-level metrics of the configured cleaning, one row per
        run and measure.
    results : pandas.DataFrame
        Group results, one row per measure: estimate, confidence interval,
        statistic, p-values (uncorrected, FWER, FDR), effect size.
    report_file : Path
        The self-contained HTML report.
    analysis_id : str
        The analysis's id: atlas, strategy, estimator and a hash of the
        configuration and of every input file's content.
    store : Path or None
        The results store the analysis was appended to.
    failures : tuple of str
        Runs that could not be read (each naming its file); their subjects
        are not in the results.
    provenance : dict
        Configuration, input digests, versions, per-run cleaning records.
    null : PermutationNull or None
        The permutation null behind the p-values (None when read back from a
        complete output folder, where the nulls are not stored).
    """

    out: Path
    metrics: pd.DataFrame
    results: pd.DataFrame
    report_file: Path
    analysis_id: str = ""
    store: Path | None = None
    failures: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)
    null: PermutationNull | None = field(default=None, repr=False)

    @property
    def layout(self) -> OutputLayout:
        """Where each file of the output folder is."""
        return OutputLayout.analysis(self.out)

    def report(self) -> str:
        """Return the HTML report's text (offline: figures are embedded).

        Returns
        -------
        str
            The page, e.g. for ``IPython.display.HTML``.
        """
        return self.report_file.read_text(encoding="utf-8")

    def moved(self, old: Path, new: Path) -> Results:
        """Return these results with every path inside ``old`` pointed inside ``new``.

        Parameters
        ----------
        old : Path
            Where the folder was (e.g. its staging folder).
        new : Path
            Where it is now.

        Returns
        -------
        Results
            Same tables, moved paths.
        """
        store = self.store
        if store is not None and store.is_relative_to(old):
            store = new / store.relative_to(old)
        return replace(self, out=new, report_file=OutputLayout.analysis(new).report, store=store)

    def write(self, out: str | Path, overwrite: bool = False) -> Results:
        """Copy the whole output folder to ``out`` (atomically) and return the copy's results.

        Parameters
        ----------
        out : str or Path
            The new output folder.
        overwrite : bool
            Replace a non-empty ``out``.

        Returns
        -------
        Results
            Pointing at ``out``. A results store inside the folder moves with
            it; its ``analyses.output`` still names the folder the analysis
            was made in.

        Raises
        ------
        OutputExistsError
            ``out`` is not empty and ``overwrite`` is False.
        """
        final = Path(out)
        if final.resolve() == self.out.resolve():
            return self
        with staged_output_dir(final, overwrite=overwrite) as staging:
            shutil.copytree(self.out, staging, dirs_exist_ok=True)
        return self.moved(self.out, final)


def stored_results(final: Path) -> Results:
    """Read back the results of a complete analysis folder.

    Parameters
    ----------
    final : Path
        An output folder written by an analysis.

    Returns
    -------
    Results
        Tables, paths, id and failures from its files (no permutation nulls).
    """
    layout = OutputLayout.analysis(final)
    provenance: dict[str, Any] = json.loads(layout.provenance.read_text(encoding="utf-8"))
    network = pd.read_parquet(layout.metrics_parquet)
    metrics = network[network["analysis"] == PRIMARY].reset_index(drop=True)
    return Results(
        out=final,
        metrics=metrics,
        results=pd.read_parquet(layout.results_parquet),
        report_file=layout.report,
        analysis_id=str(provenance.get("analysis_id", "")),
        store=layout.store if layout.store.is_file() else None,
        failures=tuple(provenance.get("failures", ())),
        provenance=provenance,
    )
