"""The public entry point: a study folder, its runs and design, and its analysis."""

from __future__ import annotations

import logging
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import StudyValidationError
from dmnpharm.pipeline._adapters import BidsOptions, StudyPlan, StudyRun
from dmnpharm.pipeline._orchestrator import analyse_folder, resolve_config, study_kind
from dmnpharm.pipeline._results import Results

__all__ = ["Study"]


class Study:
    """A study folder to analyse: BIDS with fMRIPrep derivatives, or ROI time series.

    Make one with :meth:`from_folder`. Nothing is read until it is needed;
    :meth:`validate` lists every problem of the folder at once, and
    :meth:`analyse` validates, processes every run and fits the group model.

    Parameters
    ----------
    root : Path
        The study folder.
    options : BidsOptions
        Which runs of a BIDS study are analysed (ignored for ROI-level folders).

    Examples
    --------
    >>> import dmnpharm as dp
    >>> study = dp.Study.from_folder("my_study")  # doctest: +SKIP
    >>> results = study.analyse(dp.AnalysisConfig(), out="results")  # doctest: +SKIP
    """

    def __init__(self, root: Path, options: BidsOptions) -> None:
        self.root = root
        self.options = options

    @classmethod
    def from_folder(
        cls,
        path: str | Path,
        *,
        derivatives: str | Path | None = None,
        task: str | None = None,
        res: str | None = None,
        design: str | Path | None = None,
        den: str | None = None,
        bids_filter: str | Path | None = None,
        participant_label: tuple[str, ...] = (),
        participants: str | None = None,
        repetition_time_table: str | Path | None = None,
        repetition_time: float | None = None,
    ) -> Study:
        """Return the study in a folder.

        Parameters
        ----------
        path : str or Path
            A BIDS folder with fMRIPrep derivatives (``derivatives/fmriprep``,
            or ``derivatives``), or an ROI-level folder as ``dmnpharm
            simulate`` writes it (``participants.tsv``, sessions files,
            ``*_timeseries.tsv`` with sidecars).
        derivatives : str, Path or None
            fMRIPrep folder, when not ``<path>/derivatives/fmriprep``.
        task : str or None
            BIDS: only runs of this task.
        res : str or None
            BIDS: the resolution entity, when the space has several.
        design : str, Path or None
            BIDS: one explicit design TSV instead of ``participants.tsv`` and
            the sessions files.
        den : str or None
            BIDS: the density entity (CIFTI ``den-91k``), when the space has several.
        bids_filter : str, Path or None
            BIDS: a filter file as fMRIPrep's ``--bids-filter-file`` takes it
            (e.g. ``{"bold": {"acquisition": "mb4"}}``), recorded in provenance.
        participant_label : tuple of str
            Only these participants (with or without ``sub-``).
        participants : str or None
            Only the participants whose participants-table row satisfies this
            query, e.g. ``"group == 'patient' or medication == 'none'"``;
            recorded in provenance.
        repetition_time_table : str, Path or None
            Run tables (``path`` a TSV/CSV listing time-series files): a TSV
            of ``repetition_time`` per value of a shared column (e.g. site).
        repetition_time : float or None
            XCP-D outputs whose files record no repetition time: seconds.

        Returns
        -------
        Study
            Not yet read.
        """
        options = BidsOptions(
            derivatives,
            task,
            res,
            design,
            den=den,
            bids_filter=bids_filter,
            participant_label=tuple(participant_label),
            participants=participants,
            repetition_time_table=repetition_time_table,
            repetition_time=repetition_time,
        )
        return cls(Path(path), options)

    def __repr__(self) -> str:
        """Name the folder and its kind."""
        return f"Study({str(self.root)!r}, kind={self.kind!r})"

    @property
    def kind(self) -> str:
        """``bids`` (fMRIPrep), ``xcpd`` (XCP-D), ``table`` (a run table) or ``roi``."""
        return study_kind(self.root, self.options)

    def plan(self, config: AnalysisConfig | None = None) -> StudyPlan:
        """Read and validate the folder for an analysis; raise on any problem.

        Parameters
        ----------
        config : AnalysisConfig or None
            Its atlas, space and strategy decide which files are read; None:
            the defaults.

        Returns
        -------
        StudyPlan
            The runs as tasks, the design and every input file.

        Raises
        ------
        StudyValidationError
            Listing every problem found, each naming its file and row.
        """
        from dmnpharm.pipeline._checks import read_plan

        kind = self.kind
        cfg = resolve_config(config or AnalysisConfig(), self.root, kind, self.options)
        return read_plan(self.root, cfg, kind, self.options)

    @cached_property
    def _default_plan(self) -> StudyPlan:
        return self.plan()

    @property
    def runs(self) -> list[StudyRun]:
        """Every run (with the default space and strategy), in design order."""
        return self._default_plan.runs

    @property
    def design(self) -> pd.DataFrame:
        """One design row per run: participants and sessions columns."""
        return self._default_plan.design

    def validate(self, config: AnalysisConfig | None = None, *, deep: bool = False) -> list[str]:
        """Return every problem that would stop an analysis; empty when the study is clean.

        The same checks :meth:`analyse` makes before any heavy work: files,
        image headers and gzip trailers, grids, repetition times, the design
        against the model, confounds against the strategy and censoring,
        filter cut-offs, run lengths.

        Parameters
        ----------
        config : AnalysisConfig or None
            The analysis to check the study for (atlas, space, strategy,
            model, bundle); None: the defaults.
        deep : bool
            BIDS: also read every image through (CRC of its compressed data).

        Returns
        -------
        list of str
            Each problem naming its file (and row), with the fix.
        """
        from dmnpharm.pipeline._checks import preflight, read_plan

        kind = self.kind
        try:
            cfg = resolve_config(config or AnalysisConfig(), self.root, kind, self.options)
            plan = read_plan(self.root, cfg, kind, self.options, deep)
        except StudyValidationError as exc:
            return list(exc.problems)
        return list(dict.fromkeys(preflight(plan, cfg)))

    def analyse(
        self,
        config: AnalysisConfig | None = None,
        out: str | Path | None = None,
        *,
        overwrite: bool = False,
        store: str | Path | None = None,
        log_level: int = logging.INFO,
    ) -> Results:
        """Validate the study, clean and measure every run, fit the group model, write outputs.

        Parameters
        ----------
        config : AnalysisConfig or None
            Every analytic choice, and where per-run work runs
            (``config.execution``); None: the defaults.
        out : str, Path or None
            Output folder (:class:`dmnpharm.io.OutputLayout`), written through
            a hidden staging folder and moved into place only when complete.
            An ``out`` that already holds this very analysis is left as it is
            and its results returned. None: a temporary folder, removed when
            the process ends; keep it with :meth:`Results.write`.
        overwrite : bool
            Replace a non-empty ``out`` (and this analysis in ``store``).
        store : str, Path or None
            Results store to append the analysis to; None:
            ``out/results.duckdb``.
        log_level : int
            Lowest level of the records written to ``out/dmnpharm.log``.

        Returns
        -------
        Results
            Metrics, group results, permutation nulls, provenance and paths.

        Raises
        ------
        StudyValidationError
            The study has problems (all listed); nothing was written.
        RunFailuresError
            Some runs failed while computing and ``config.allow_failures`` is
            False; ``out`` is left as it was and the finished runs are cached.
        """
        cfg = config or AnalysisConfig()
        target = Path(out) if out is not None else _temporary_output()
        return analyse_folder(
            self.root,
            cfg,
            target,
            overwrite=overwrite,
            store=store,
            log_level=log_level,
            options=self.options,
        )


_TEMPORARY: list[Any] = []


def _temporary_output() -> Path:
    """Return a fresh folder path under a temporary directory kept until the process ends."""
    holder = tempfile.TemporaryDirectory(prefix="dmnpharm-")
    _TEMPORARY.append(holder)
    return Path(holder.name) / "analysis"
