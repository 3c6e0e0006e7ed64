"""BIDS-derivatives outputs of ``dmnpharm run``, named as XCP-D 0.10 names its outputs.

Per included run, under ``sub-<p>/[ses-<s>/]func/`` (``<src>`` is the run's source
entities, ``sub-<p>[_ses-<s>]_task-<t>[_acq-..][_run-<r>]``)::

    <src>[_space-<S>]_seg-<A>_stat-mean_timeseries.tsv      cleaned kept volumes
    <src>[_space-<S>]_seg-<A>_stat-<M>_relmat.tsv           M: pearsoncorrelation,
                                                            partialcorrelation, tangent
    <src>[_space-<S>]_seg-<A>_stat-coverage_bold.tsv        voxel fraction (or 1), 0: no signal
    <src>_motion.tsv  <src>_outliers.tsv  <src>[_space-<S>]_qc.tsv
    <src>_space-<S>[_res-<r>]_stat-<alff|falff|zalff|zfalff>_boldmap.nii.gz
    <src>_space-<S>[_res-<r>]_stat-fisherz_desc-seed<Seed>_boldmap.nii.gz

each with a JSON sidecar, plus CIFTI twins of the time series and matrix for CIFTI
runs (``..._stat-mean_timeseries.ptseries.nii``, ``..._stat-<M>_boldmap.pconn.nii``).
Correlation matrices hold r, as XCP-D's do (the analysis measures in Fisher z).

The denoising strategy is not in the names: one strategy is written per analysis
(the GSR sensitivity analysis's signals are not written), and every sidecar names it.
``desc-`` is used only where a statistic has variants: the seed of a seed map (the
map's key in :class:`dmnpharm.extract.VoxelMaps`). Seed maps hold Fisher z of the
Pearson correlation, hence ``stat-fisherz`` rather than XCP-D's
``stat-pearsoncorrelation`` (which holds r).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import atomic_write_bytes
from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.io import bids_label, derivative_path, write_dataset_description
from dmnpharm.io._derivatives import _write_tsv
from dmnpharm.metrics import ESTIMATORS
from dmnpharm.pipeline._derivative_dataset import (
    atlas_files,
    bidsignore_text,
    readme_text,
    relmat_stat,
)
from dmnpharm.pipeline._run_files import (
    coverage_values,
    motion_columns,
    outlier_columns,
    qc_row,
    run_table_sidecars,
    sidecar_text,
    table_text,
)
from dmnpharm.pipeline._tasks import RunTask

__all__ = ["DERIVATIVES_FOLDER", "DerivativeWriter", "map_name"]

#: Where the derivatives dataset goes inside the output folder.
DERIVATIVES_FOLDER = Path("derivatives") / "dmnpharm"

#: Name of the input dataset in ``DatasetLinks`` and the sidecars' ``Sources``.
_SOURCE_LINK = "source"


def _source_description(source: Path) -> dict[str, Any]:
    """Read the input study's own ``dataset_description.json``; empty when unreadable."""
    file = source / "dataset_description.json"
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


#: A voxel map file as a run's task names it: ``<stem>_stat-<map>_boldmap.<ext>``.
_MAP_FILE = re.compile(
    r"^(?P<stem>.+)_stat-(?P<map>[A-Za-z0-9]+)_boldmap(?P<ext>\.nii\.gz|\.json)$"
)


def _cifti_name(tsv: Path, kind: str, source: str) -> Path:
    """Return the CIFTI twin of a TSV (the TSV's JSON serves both), as XCP-D names it.

    ``..._seg-<A>_stat-mean_timeseries.tsv`` -> ``..._seg-<A>_den-91k_stat-mean_timeseries
    .ptseries.nii``; ``..._relmat.tsv`` -> ``..._den-91k_..._boldmap.pconn.nii``. The
    density is the input's (its ``den-`` entity; 91k, fMRIPrep's default, when it has none).
    """
    found = re.search(r"_den-([A-Za-z0-9]+)", Path(source).name)
    density = found.group(1) if found else "91k"
    stem = tsv.name.removesuffix(".tsv").replace("_stat-", f"_den-{density}_stat-", 1)
    if kind == "pconn":
        stem = stem.removesuffix("_relmat") + "_boldmap"
    return tsv.with_name(f"{stem}.{kind}.nii")


def map_name(name: str) -> str:
    """Return a voxel map file's name in the derivatives dataset.

    Parameters
    ----------
    name : str
        The name the run's task gave it, ``<stem>_stat-<map>_boldmap.nii.gz`` (or
        ``.json``), ``<map>`` a key of :class:`dmnpharm.extract.VoxelMaps`.

    Returns
    -------
    str
        The same name for ``alff``, ``falff``, ``zalff``, ``zfalff``;
        ``<stem>_stat-fisherz_desc-seed<Seed>_boldmap...`` for a seed map.

    Examples
    --------
    >>> map_name("sub-01_task-rest_space-MNI_stat-seedPCC_boldmap.nii.gz")
    'sub-01_task-rest_space-MNI_stat-fisherz_desc-seedPCC_boldmap.nii.gz'
    """
    found = _MAP_FILE.match(name)
    if found is None or not found["map"].startswith("seed"):
        return name
    return f"{found['stem']}_stat-fisherz_desc-{found['map']}_boldmap{found['ext']}"


def _correlation(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Fisher z back to r, diagonal 1 (NaN stays for regions without a signal)."""
    r: npt.NDArray[np.float64] = np.tanh(matrix)
    diagonal = np.diag(matrix)
    np.fill_diagonal(r, np.where(np.isnan(diagonal), np.nan, 1.0))
    return r


@dataclass(frozen=True, eq=False)
class DerivativeWriter:
    """Writes one analysis's BIDS-derivatives dataset, one run at a time.

    Parameters
    ----------
    root : Path
        The derivatives dataset folder (``<out>/derivatives/dmnpharm``).
    atlas : Atlas
        Regions of the signals (labels become column names).
    config : AnalysisConfig
        The analysis choices (strategy, estimator, atlas name).
    """

    root: Path
    atlas: Atlas
    config: AnalysisConfig

    def start(self, source: Path, readable: Path) -> Path:
        """Write ``dataset_description.json``, the README and ``.bidsignore``.

        Parameters
        ----------
        source : Path
            The input study folder (absolute), linked as ``source``.
        readable : Path
            Where that folder can be read now (its own description gives the
            name and DOI).

        Returns
        -------
        Path
            The written description.
        """
        described = _source_description(readable)
        origin: dict[str, str] = {"URL": source.as_uri()}
        if described.get("DatasetDOI"):
            origin["DOI"] = str(described["DatasetDOI"])
        name = str(described.get("Name") or source.name)
        written = write_dataset_description(
            self.root,
            name=f"dmnpharm derivatives of {name} ({self.config.atlas_name}, "
            f"{self.config.strategy}, {self.config.estimator})",
            version=__version__,
            source_datasets=[origin],
            dataset_links={_SOURCE_LINK: source.as_uri()},
        )
        cifti = self.atlas.image.endswith(".dlabel.nii")
        text = bidsignore_text(self.config.voxel_maps, cifti)
        (self.root / ".bidsignore").write_text(text, encoding="utf-8")
        readme = readme_text(self.config, self.atlas, name)
        (self.root / "README.md").write_text(readme, encoding="utf-8")
        return written

    def write_atlas(self, kind: str) -> Path:
        """Write the atlas folder (table, sidecar, image when the atlas is one).

        Parameters
        ----------
        kind : str
            The input's kind (``bids``, ``roi``, ``table``, ``xcpd``).

        Returns
        -------
        Path
            ``atlases/atlas-<A>/atlas-<A>_dseg.tsv``.
        """
        return atlas_files(self.root, self.atlas, self.config, kind)

    @property
    def seg(self) -> str:
        """The atlas's ``seg-`` label."""
        return bids_label(self.config.atlas_name)

    def _entities(self, entities: Mapping[str, str], **more: str) -> dict[str, str]:
        found = {k: bids_label(v) for k, v in entities.items() if v}
        found["seg"] = self.seg
        found.update(more)
        return found

    def _sidecar(
        self, record: Mapping[str, Any], repetition_time: float, source: str
    ) -> dict[str, Any]:
        frequency = 1.0 / repetition_time if repetition_time > 0 else None
        return {
            "Atlas": self.config.atlas_name,
            "Strategy": self.config.strategy,
            "StrategyLabel": bids_label(self.config.strategy),
            "StrategyDescription": self.config.denoise.describe(),
            "Censoring": {
                "NumberOfVolumes": record.get("n_volumes"),
                "KeptVolumes": record.get("n_kept"),
                "CensoredVolumes": record.get("n_censored"),
                "CensoredVolumeIndices": record.get("censored_volumes", []),
                "CensoredBy": record.get("censored_by", {}),
                "Method": record.get("scrubbing"),
            },
            "ConfoundColumns": record.get("confound_columns", []),
            "Estimator": self.config.estimator,
            "EstimatorDescription": ESTIMATORS[self.config.estimator],
            "RepetitionTime": repetition_time,
            "SamplingFrequency": frequency,
            "NodeFiles": [f"bids::atlases/atlas-{self.seg}/atlas-{self.seg}_dseg.tsv"],
            "Sources": [f"bids:{_SOURCE_LINK}:{source}"] if source else [],
            "Provenance": dict(record),
        }

    def write_timeseries(
        self,
        entities: Mapping[str, str],
        data: npt.NDArray[np.float64],
        record: Mapping[str, Any],
        repetition_time: float,
        source: str,
    ) -> Path:
        """Write one run's cleaned region signals (kept volumes) and their sidecar.

        Parameters
        ----------
        entities : mapping of str to str
            The run's ``sub``, ``ses``, ``task``, ``run`` and ``space`` labels.
        data : numpy.ndarray
            Cleaned kept volumes x regions of the configured cleaning.
        record : mapping
            The run's cleaning record (provenance).
        repetition_time : float
            Seconds.
        source : str
            The input file, relative to the study folder.

        Returns
        -------
        Path
            The ``_stat-mean_timeseries.tsv`` written.
        """
        path = derivative_path(self.root, self._entities(entities, stat="mean"), "timeseries")
        sidecar = {
            **self._sidecar(record, repetition_time, source),
            "Description": "Mean signal of each region after the denoising strategy; one "
            "row per kept volume (censored volumes are left out, see Censoring), one column "
            "per region (n/a: no signal in this run).",
        }
        written = _write_tsv(path, data, self.atlas.labels, square=False)
        _write_json(written.with_suffix(".json"), sidecar)
        parcels = self._parcels()
        if parcels is not None:  # CIFTI runs: the same signals as a parcellated time series
            from dmnpharm.io import write_ptseries  # here: it loads nibabel

            write_ptseries(
                _cifti_name(written, "ptseries", source), data, parcels, repetition_time
            )
        return written

    def write_relmat(
        self,
        entities: Mapping[str, str],
        matrix: npt.NDArray[np.float64],
        record: Mapping[str, Any],
        repetition_time: float,
        source: str,
        reference: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write one run's region x region connectivity matrix and its sidecar.

        Parameters
        ----------
        entities : mapping of str to str
            The run's ``sub``, ``ses``, ``task``, ``run`` and ``space`` labels.
        matrix : numpy.ndarray
            The matrix the run's metrics were computed from (Fisher z for the
            correlation estimators: written as r).
        record : mapping
            The run's cleaning record (provenance).
        repetition_time : float
            Seconds.
        source : str
            The input file, relative to the study folder.
        reference : mapping or None
            The group reference of the tangent estimator (runs, iterations).

        Returns
        -------
        Path
            The ``_stat-<M>_relmat.tsv`` written.
        """
        estimator = self.config.estimator
        stat = relmat_stat(estimator)
        path = derivative_path(self.root, self._entities(entities, stat=stat), "relmat")
        tangent = estimator == "tangent"
        values = matrix if tangent else _correlation(matrix)
        sidecar = {
            **self._sidecar(record, repetition_time, source),
            "Description": f"Region x region connectivity: {ESTIMATORS[estimator]}"
            + ("." if tangent else "; written as r (the hyperbolic tangent of Fisher z)."),
            "RelationshipMeasure": ESTIMATORS[estimator].split(",")[0],
            "Units": "tangent units" if tangent else "r",
            "Directed": False,
            "Weighted": True,
            "ValidDiagonal": not tangent,
            "StorageFormat": "Full",
        }
        if reference is not None:
            sidecar["TangentReference"] = dict(reference)
        written = _write_tsv(path, values, self.atlas.labels, square=True)
        _write_json(written.with_suffix(".json"), sidecar)
        parcels = self._parcels()
        if parcels is not None:  # CIFTI runs: the same matrix as a parcellated connectome
            from dmnpharm.io import write_pconn  # here: it loads nibabel

            write_pconn(_cifti_name(written, "pconn", source), values, parcels)
        return written

    def write_run_tables(
        self,
        task: RunTask,
        entities: Mapping[str, str],
        record: Mapping[str, Any],
        qc: Mapping[str, float],
        fraction: npt.NDArray[np.floating[Any]] | None = None,
    ) -> dict[str, Path]:
        """Write a run's motion, outliers, coverage and QC tables, each with a sidecar.

        Parameters
        ----------
        task : RunTask
            The run (its confounds or XCP-D motion file give the motion).
        entities : mapping of str to str
            The run's BIDS labels.
        record : mapping
            Its cleaning record (volumes, censoring, coverage).
        qc : mapping
            Its QC values.
        fraction : numpy.ndarray or None
            Per atlas region, the share of its voxels inside the run's brain mask,
            written as its coverage (see
            :func:`dmnpharm.pipeline._run_files.coverage_table`); None: 1 or 0.

        Returns
        -------
        dict of str to Path
            The table written for each of ``motion``, ``outliers``, ``coverage``, ``qc``.
        """
        labels = {k: bids_label(v) for k, v in entities.items() if v}
        source = {k: v for k, v in labels.items() if k != "space"}
        motion = motion_columns(task, int(record.get("n_volumes") or 0))
        fd = motion["framewise_displacement"]
        coverage = {**labels, "seg": self.seg, "stat": "coverage"}
        node = ("Node", self.atlas.labels)
        tables = {
            "motion": (derivative_path(self.root, source, "motion"), table_text(motion)),
            "outliers": (
                derivative_path(self.root, source, "outliers"),
                table_text(outlier_columns(record, fd, self.config)),
            ),
            "coverage": (
                derivative_path(self.root, coverage, "bold"),
                table_text({"coverage": coverage_values(self.atlas, record, fraction)}, node),
            ),
            "qc": (
                derivative_path(self.root, labels, "qc"),
                table_text({k: [v] for k, v in qc_row(record, qc).items()}),
            ),
        }
        folder = tables["motion"][0].parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
        sources = [f"bids:{_SOURCE_LINK}:{task.source}"]
        for kind, (path, text) in tables.items():
            path.write_text(text, encoding="utf-8")
            _write_json(
                path.with_suffix(".json"), {**self._table_sidecars[kind], "Sources": sources}
            )
        return {kind: path for kind, (path, _) in tables.items()}

    @cached_property
    def _table_sidecars(self) -> dict[str, dict[str, Any]]:
        """The per-run tables' sidecars, the same for every run of the analysis."""
        return run_table_sidecars(self.config)

    def write_maps(self, entities: Mapping[str, str], files: Mapping[str, bytes]) -> list[Path]:
        """Write a run's voxel map files into its ``func/`` folder, named for the dataset.

        Parameters
        ----------
        entities : mapping of str to str
            The run's BIDS labels (give the folder).
        files : mapping of str to bytes
            The map images and sidecars the run's task made, by name (see :func:`map_name`).

        Returns
        -------
        list of Path
            The files written, sorted.
        """
        folder = derivative_path(self.root, self._entities(entities), "x").parent
        written = []
        for name, content in sorted(files.items()):
            path = folder / map_name(name)
            atomic_write_bytes(path, content)
            written.append(path)
        return written

    def _parcels(self) -> Any:
        """Return the atlas's CIFTI parcels when it is a dlabel (CIFTI outputs), else None."""
        if not self.atlas.image.endswith(".dlabel.nii"):
            return None
        from dmnpharm.atlases import dlabel_parcels  # here: it loads nibabel (CIFTI only)

        return dlabel_parcels(self.atlas)


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.write_text(sidecar_text(content), encoding="utf-8")
