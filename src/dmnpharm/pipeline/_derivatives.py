"""BIDS-derivatives outputs of ``dmnpharm run``: each run's cleaned signals and matrix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm._version import __version__
from dmnpharm.atlases import Atlas, dlabel_parcels
from dmnpharm.config import AnalysisConfig
from dmnpharm.io import (
    bids_label,
    derivative_path,
    write_dataset_description,
    write_pconn,
    write_ptseries,
)
from dmnpharm.io import write_relmat as _write_relmat
from dmnpharm.io import write_timeseries as _write_timeseries
from dmnpharm.metrics import ESTIMATORS

__all__ = ["DERIVATIVES_FOLDER", "DerivativeWriter"]

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


def _cifti_name(tsv: Path, kind: str) -> Path:
    """``..._timeseries.tsv`` -> ``..._timeseries.ptseries.nii`` (the TSV's JSON serves both)."""
    return tsv.with_name(tsv.name.removesuffix(".tsv") + f".{kind}.nii")


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
        """Write ``dataset_description.json``.

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
        return write_dataset_description(
            self.root,
            name=f"dmnpharm derivatives of {name} ({self.config.atlas_name}, "
            f"{self.config.strategy}, {self.config.estimator})",
            version=__version__,
            source_datasets=[origin],
            dataset_links={_SOURCE_LINK: source.as_uri()},
        )

    def _entities(self, entities: Mapping[str, str], **more: str) -> dict[str, str]:
        found = {k: bids_label(v) for k, v in entities.items() if v}
        found["atlas"] = bids_label(self.config.atlas_name)
        found["desc"] = bids_label(self.config.strategy)
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
            The ``_timeseries.tsv`` written.
        """
        path = derivative_path(self.root, self._entities(entities), "timeseries")
        sidecar = {
            **self._sidecar(record, repetition_time, source),
            "Description": "Region signals after the denoising strategy; one row per kept "
            "volume (censored volumes are left out, see Censoring), one column per region.",
        }
        written = _write_timeseries(path, data, self.atlas.labels, sidecar)
        parcels = self._parcels()
        if parcels is not None:  # CIFTI runs: the same signals as a parcellated time series
            write_ptseries(_cifti_name(written, "ptseries"), data, parcels, repetition_time)
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
            The matrix the run's metrics were computed from.
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
            The ``_relmat.tsv`` written.
        """
        estimator = self.config.estimator
        path = derivative_path(
            self.root, self._entities(entities, stat=bids_label(estimator)), "relmat"
        )
        sidecar = {
            **self._sidecar(record, repetition_time, source),
            "Description": f"Region x region connectivity: {ESTIMATORS[estimator]}.",
            "Units": "tangent units" if estimator == "tangent" else "Fisher z",
            "Directed": False,
            "Weighted": True,
        }
        if reference is not None:
            sidecar["TangentReference"] = dict(reference)
        written = _write_relmat(path, matrix, self.atlas.labels, sidecar)
        parcels = self._parcels()
        if parcels is not None:  # CIFTI runs: the same matrix as a parcellated connectome
            write_pconn(_cifti_name(written, "pconn"), matrix, parcels)
        return written

    def _parcels(self) -> Any:
        """Return the atlas's CIFTI parcels when it is a dlabel (CIFTI outputs), else None."""
        if not self.atlas.image.endswith(".dlabel.nii"):
            return None
        return dlabel_parcels(self.atlas)
