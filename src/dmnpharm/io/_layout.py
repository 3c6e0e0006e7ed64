"""Every output path, in one place: where each command writes each file.

A command's output folder is laid out once, here; writers ask an
:class:`OutputLayout` for a path and readers (``dmnpharm compare``, a rerun that
finds its analysis complete) ask the same object, so a file name is never
spelled twice.

An analysis folder (``dmnpharm run``, ``dmnpharm demo``)::

    report.html  provenance.json  dmnpharm.log  results.duckdb
    metrics.tsv  metrics.parquet  metrics_regions.parquet  metrics_edges.parquet
    group/       results.tsv/.parquet, results_gsr_sensitivity.tsv, design.tsv,
                 model.txt, exclusions.tsv, failures.tsv, qc.tsv, qc_fc.json,
                 motion_imbalance.tsv, paired_differences.tsv
    compare/     compare.tsv, compare.json, compare_forest.png (with --drug)
    derivatives/dmnpharm/   the BIDS-derivatives dataset, in XCP-D 0.10's layout:
                 README.md, .bidsignore, atlases/, and per run under
                 sub-*/[ses-*/]func/ its time series, matrix, motion, outliers,
                 coverage and QC tables, and (with --voxel-maps) its ALFF, fALFF
                 and seed maps

A ``dmnpharm stats`` folder has the group files at its top level, and a
``dmnpharm power`` folder its table, studies, curve and record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["OutputLayout"]


@dataclass(frozen=True)
class OutputLayout:
    """The paths of one output folder.

    Parameters
    ----------
    root : Path
        The output folder (or its staging folder while it is written).
    group_folder : str
        Sub-folder of the group-level files: ``group`` for an analysis
        folder, ``""`` for a ``dmnpharm stats`` folder.
    """

    root: Path
    group_folder: str = "group"

    @classmethod
    def analysis(cls, root: str | Path) -> OutputLayout:
        """Return the layout of a ``dmnpharm run``/``demo`` folder.

        Parameters
        ----------
        root : str or Path
            The folder.

        Returns
        -------
        OutputLayout
            Group files under ``group/``.
        """
        return cls(Path(root), "group")

    @classmethod
    def stats(cls, root: str | Path) -> OutputLayout:
        """Return the layout of a ``dmnpharm stats`` folder (group files at the top).

        Parameters
        ----------
        root : str or Path
            The folder.

        Returns
        -------
        OutputLayout
            Group files in ``root`` itself.
        """
        return cls(Path(root), "")

    def moved(self, root: str | Path) -> OutputLayout:
        """Return the same layout rooted elsewhere (a staging folder becoming final).

        Parameters
        ----------
        root : str or Path
            The new folder.

        Returns
        -------
        OutputLayout
            Same kind, other root.
        """
        return OutputLayout(Path(root), self.group_folder)

    # -- top level -------------------------------------------------------------------
    @property
    def report(self) -> Path:
        """The HTML report."""
        return self.root / "report.html"

    @property
    def provenance(self) -> Path:
        """Configuration, input digests, versions and per-run records (JSON)."""
        return self.root / "provenance.json"

    @property
    def log(self) -> Path:
        """The log of the invocation that wrote the folder."""
        return self.root / "dmnpharm.log"

    @property
    def store(self) -> Path:
        """The default results store (DuckDB)."""
        return self.root / "results.duckdb"

    @property
    def metrics_tsv(self) -> Path:
        """Network-level metrics, one row per run and measure (TSV)."""
        return self.root / "metrics.tsv"

    @property
    def metrics_parquet(self) -> Path:
        """The same metrics as Parquet."""
        return self.root / "metrics.parquet"

    def level_parquet(self, level: str) -> Path:
        """Return the Parquet file of the region- or edge-level metrics.

        Parameters
        ----------
        level : str
            ``region`` or ``edge``.

        Returns
        -------
        Path
            ``metrics_regions.parquet`` or ``metrics_edges.parquet``.
        """
        return self.root / f"metrics_{level}s.parquet"

    @property
    def compare(self) -> Path:
        """The evidence-catalog comparison folder."""
        return self.root / "compare"

    @property
    def voxel_maps(self) -> Path:
        """Where the per-run voxel maps go: the derivatives dataset (each run's ``func/``)."""
        return self.derivatives

    @property
    def derivatives(self) -> Path:
        """The BIDS-derivatives dataset of the per-run outputs."""
        return self.root / "derivatives" / "dmnpharm"

    # -- group level -----------------------------------------------------------------
    @property
    def group(self) -> Path:
        """The folder of the group-level files."""
        return self.root / self.group_folder if self.group_folder else self.root

    @property
    def results_tsv(self) -> Path:
        """Group results, one row per measure (TSV)."""
        return self.group / "results.tsv"

    @property
    def results_parquet(self) -> Path:
        """The same group results as Parquet."""
        return self.group / "results.parquet"

    @property
    def results_gsr_tsv(self) -> Path:
        """Group results of the GSR-sensitivity cleaning."""
        return self.group / "results_gsr_sensitivity.tsv"

    @property
    def design(self) -> Path:
        """The design rows entering the model."""
        return self.group / "design.tsv"

    @property
    def model(self) -> Path:
        """The model and permutation scheme in words."""
        return self.group / "model.txt"

    @property
    def exclusions(self) -> Path:
        """Runs and subjects left out, each with its reason."""
        return self.group / "exclusions.tsv"

    @property
    def failures(self) -> Path:
        """Runs that could not be read."""
        return self.group / "failures.tsv"

    @property
    def qc(self) -> Path:
        """Per-run motion and censoring QC."""
        return self.group / "qc.tsv"

    @property
    def qc_fc(self) -> Path:
        """QC-FC summary (JSON)."""
        return self.group / "qc_fc.json"

    @property
    def results_motion_adjusted(self) -> Path:
        """The paired test adjusted for mean FD, written when motion differs."""
        return self.group / "results_motion_adjusted.tsv"

    @property
    def motion_imbalance(self) -> Path:
        """The motion-imbalance test between conditions or groups."""
        return self.group / "motion_imbalance.tsv"

    @property
    def paired_differences(self) -> Path:
        """Per-subject paired differences."""
        return self.group / "paired_differences.tsv"

    # -- dmnpharm power --------------------------------------------------------------
    @property
    def power_table(self) -> Path:
        """Power per sample size."""
        return self.root / "power.tsv"

    @property
    def power_studies(self) -> Path:
        """Every simulated study's test."""
        return self.root / "power_studies.tsv"

    @property
    def power_figure(self) -> Path:
        """The power curve."""
        return self.root / "power.png"

    @property
    def power_record(self) -> Path:
        """Spec, contrast, seed and versions of a power analysis."""
        return self.root / "power.json"

    def existing_results(self) -> Path | None:
        """Return the group results table a ``run`` or ``stats`` folder holds, if any.

        Returns
        -------
        Path or None
            ``group/results.tsv`` of an analysis folder, else ``results.tsv``
            of a stats folder, else None.
        """
        for layout in (self.analysis(self.root), self.stats(self.root)):
            if layout.results_tsv.is_file():
                return layout.results_tsv
        return None
