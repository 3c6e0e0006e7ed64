"""A drug's predicted DMN change: the pharmacological map and the whole-brain model together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.catalog import Pharmacology
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import matrix_measures
from dmnpharm.predict._hopf import Connectome
from dmnpharm.predict._hopf_predict import ModelPrediction, predict_fc_change
from dmnpharm.predict._pharmacological import PharmacologicalPrediction, pharmacological_map
from dmnpharm.predict._receptors import ReceptorMaps

__all__ = [
    "LOAD_NOTE",
    "NETWORK_COLUMNS",
    "DrugPrediction",
    "model_network_changes",
    "predict_drug",
]

FloatArray = npt.NDArray[np.float64]

#: Columns of the predicted network changes table.
NETWORK_COLUMNS = ("measure", "source", "estimate", "low", "high", "direction", "note")

#: Measures linear in the matrix, so the mean change of a simulated pair is the
#: measure of its difference matrix (bands are given for these).
_LINEAR = ("dmn_within_fc", "dmn_salience_fc", "dmn_fpn_fc", "dmn_dan_fc")
_LINEAR_EXTRA = ("dmn_anticorrelation", "dmn_gbc")
_THRESHOLDED = ("dmn_degree", "dmn_participation")

#: Below this, a predicted change is called "no change" (Fisher z, or load units).
_TINY = 1e-6

#: How the pharmacological rows of the network table are read.
LOAD_NOTE = (
    "mean pharmacological perturbation over the measure's regions; FC predicted to change "
    "opposite to it (desynchronisation hypothesis: more excitable regions decouple)"
)


@dataclass(frozen=True, eq=False)
class DrugPrediction:
    """Everything predicted for one drug at one dose.

    Parameters
    ----------
    pharmacological : PharmacologicalPrediction
        Targets, occupancy and the regional perturbation map.
    model : ModelPrediction or None
        The whole-brain model's FC change (None when it was not run).
    networks : pandas.DataFrame
        :data:`NETWORK_COLUMNS`: one row per measure and source
        (``"pharmacological"``: the load and its FC direction;
        ``"whole-brain model"``: the change in Fisher z with its band).
    model_note : str
        Why the model was not run, or what it was fitted to.
    """

    pharmacological: PharmacologicalPrediction
    model: ModelPrediction | None
    networks: pd.DataFrame
    model_note: str


def _direction(value: float) -> str:
    if not np.isfinite(value) or abs(value) < _TINY:
        return "no change"
    return "increase" if value > 0 else "decrease"


def _weighted_interval(values: FloatArray, weights: FloatArray) -> tuple[float, float]:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    at = np.minimum(np.searchsorted(cumulative, [0.025, 0.975]), values.size - 1)
    low, high = values[order[at]]
    return float(low), float(high)


def model_network_changes(model: ModelPrediction, atlas: Atlas) -> pd.DataFrame:
    """Turn a model's FC change into the bundle's DMN measures, with bands.

    The estimate is the measure of the linear-noise drug FC minus that of the
    placebo FC (Fisher z). For measures that are means of edges the band is
    the 2.5-97.5th percentile of the measure over the simulated pairs; the
    segregation measures, being ratios, have the analytic change only.

    Parameters
    ----------
    model : ModelPrediction
        From :func:`predict_fc_change`, in ``atlas`` order.
    atlas : Atlas
        Regions and networks.

    Returns
    -------
    pandas.DataFrame
        :data:`NETWORK_COLUMNS`, source ``"whole-brain model"``.
    """
    z_drug = np.arctanh(np.clip(model.drug_fc, -0.999999, 0.999999))
    z_placebo = np.arctanh(np.clip(model.placebo_fc, -0.999999, 0.999999))
    for m in (z_drug, z_placebo):
        np.fill_diagonal(m, 0.0)
    drug, placebo = matrix_measures(z_drug, atlas), matrix_measures(z_placebo, atlas)
    n = atlas.n_regions
    upper = np.triu_indices(n, k=1)
    per_sample: dict[str, list[float]] = {}
    for sample in model.samples:
        square = np.zeros((n, n))
        square[upper] = sample
        square += square.T
        for name, value in matrix_measures(square, atlas).items():
            per_sample.setdefault(name, []).append(value)
    rows = []
    for name, value in drug.items():
        if name in _THRESHOLDED:
            continue
        change = value - placebo[name]
        low = high = float("nan")
        banded = name in _LINEAR or name in _LINEAR_EXTRA or name.endswith("_within_fc")
        if banded and name in per_sample:
            low, high = _weighted_interval(np.asarray(per_sample[name]), model.sample_weights)
        note = "" if banded else "ratio measure: analytic change only, no band"
        rows.append((name, "whole-brain model", change, low, high, _direction(change), note))
    return pd.DataFrame(rows, columns=list(NETWORK_COLUMNS))


def _load_rows(pharm: PharmacologicalPrediction) -> pd.DataFrame:
    loads = pharm.loads["load"].to_numpy(dtype=np.float64)
    rows = [
        (str(m), "pharmacological", load, np.nan, np.nan, _direction(-load), "perturbation load")
        for m, load in zip(pharm.loads["measure"], loads, strict=True)
    ]
    return pd.DataFrame(rows, columns=list(NETWORK_COLUMNS))


def predict_drug(
    drug: str,
    maps: ReceptorMaps,
    atlas: Atlas,
    *,
    dose_mg: float | None = None,
    connectome: Connectome | None = None,
    reference_fc: npt.ArrayLike | None = None,
    reference_note: str = "",
    n_volumes: int = 300,
    repetition_time: float = 2.0,
    n_seeds: int = 10,
    seed: int = 0,
    pharmacology: Pharmacology | None = None,
) -> DrugPrediction:
    """Predict a drug's DMN change from its targets, with the whole-brain model when possible.

    Parameters
    ----------
    drug : str
        Agent id of the evidence catalog.
    maps : ReceptorMaps
        Receptor maps aligned to ``atlas``.
    atlas : Atlas
        Regions and networks.
    dose_mg : float or None
        Dose; None uses the agent's usual dose.
    connectome : Connectome or None
        Structural (or distance-rule) connectome in atlas order; None skips the model.
    reference_fc : array_like or None
        Placebo (or baseline) FC as correlations, one matrix or subjects x
        matrices, in atlas order; None skips the model.
    reference_note : str
        Where the reference FC came from, for the record.
    n_volumes, repetition_time : int, float
        Length of the simulated runs (the study's, or a typical 300 x 2 s).
    n_seeds : int
        Simulated runs per condition and coupling for the band.
    seed : int
        Seed of the fit's bootstrap and the simulations.
    pharmacology : Pharmacology or None
        Target profiles; None loads the bundled ones.

    Returns
    -------
    DrugPrediction
        The pharmacological map, the model (when run) and the network table.

    Raises
    ------
    InputError
        For an unknown drug, or inputs of the wrong size.
    """
    pharm = pharmacological_map(drug, maps, atlas, dose_mg=dose_mg, pharmacology=pharmacology)
    tables = [_load_rows(pharm)]
    model = None
    if pharm.empty:
        note = "not run: no target of the drug has an occupancy, a sign and a density map"
    elif connectome is None or reference_fc is None:
        note = "not run: needs a connectome and a placebo FC to fit the coupling to"
    else:
        if connectome.weights.shape != (atlas.n_regions,) * 2:
            raise InputError(
                f"the connectome has shape {connectome.weights.shape}; the atlas has "
                f"{atlas.n_regions} regions"
            )
        model = predict_fc_change(
            connectome,
            reference_fc,
            pharm.density.values,
            n_volumes=n_volumes,
            repetition_time=repetition_time,
            n_seeds=n_seeds,
            seed=seed,
        )
        tables.append(model_network_changes(model, atlas))
        note = f"coupling fitted to {reference_note or 'the given placebo FC'}"
    networks = pd.concat(tables, ignore_index=True)
    return DrugPrediction(pharm, model, networks, note)
