"""``dmnpharm predict``: resolve the inputs, predict and explain, and write the outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import all_blas_threads, get_logger
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.exceptions import InputError
from dmnpharm.io import OutputLayout
from dmnpharm.predict import (
    DEFAULT_N_NULL,
    DrugPrediction,
    MapExplanation,
    Prediction,
    ReceptorMaps,
    RegionalMap,
    align_regions,
    distance_connectome,
    explain_map,
    load_observed,
    load_receptors,
    observed_network_changes,
    predict_drug,
    read_distance,
    read_region_matrix,
    reference_fc,
    with_atlas_coords,
)
from dmnpharm.predict._hopf import Connectome
from dmnpharm.report import Section, prediction_section, write_prediction

__all__ = ["PredictRequest", "predict_beside", "run_prediction"]

_LOG = get_logger("predict")

_HANSEN_NOTE = "group consensus {what} of Hansen et al. 2022 (HCP, Schaefer-100)"


@dataclass(frozen=True)
class PredictRequest:
    """The inputs of ``dmnpharm predict``, as given on the command line.

    Parameters
    ----------
    drug : str or None
        Agent id to predict (optional when ``observed`` is given).
    dose_mg : float or None
        Dose; None uses the agent's usual dose.
    atlas : str or None
        Atlas name or file; None takes the analysis's, or Schaefer-100 for Hansen maps.
    receptors : str
        Receptor maps: hansen_receptors folder, table, pscalar or NIfTI folder.
    connectome : str or None
        Structural connectome file (``.npy`` or TSV, atlas order or labelled).
    observed : str or None
        An analysis folder or a regional map to explain.
    distance : str or None
        Region x region distances for the spatial nulls.
    reference_fc : str or None
        Placebo FC file for the model, when the observed analysis gives none.
    measure, statistic : str
        Which region-level map of an analysis folder to explain.
    n_null : int
        Surrogate maps.
    n_seeds : int
        Simulated runs per condition and coupling for the model's band.
    seed : int
        Seed of nulls, bootstrap and simulations.
    """

    receptors: str
    drug: str | None = None
    dose_mg: float | None = None
    atlas: str | None = None
    connectome: str | None = None
    observed: str | None = None
    distance: str | None = None
    reference_fc: str | None = None
    measure: str = "gbc"
    statistic: str = "t"
    n_null: int = DEFAULT_N_NULL
    n_seeds: int = 10
    seed: int = 0


def _analysis_config(observed: str | None) -> dict[str, Any]:
    if observed is None or not Path(observed).is_dir():
        return {}
    file = Path(observed) / "provenance.json"
    if not file.is_file():
        return {}
    config: dict[str, Any] = json.loads(file.read_text(encoding="utf-8")).get("config", {})
    return config


def _atlas(request: PredictRequest, config: dict[str, Any]) -> Atlas | None:
    name = request.atlas or config.get("atlas")
    if isinstance(name, str) and name:
        return load_atlas(name)
    if (Path(request.receptors) / "results").is_dir():
        return load_atlas("schaefer100_7")
    return None


def _hansen(request: PredictRequest, atlas: Atlas | None) -> Path | None:
    folder = Path(request.receptors) / "data" / "schaefer"
    if atlas is not None and atlas.n_regions == 100 and folder.is_dir():
        return folder
    return None


def _on_atlas(values: npt.NDArray[np.float64], labels: list[str] | None, atlas: Atlas) -> Any:
    if labels is None:
        return values
    position = {x: i for i, x in enumerate(labels)}
    missing = [x for x in atlas.labels if x not in position]
    if missing:
        raise InputError(f"the matrix has no row for region {missing[0]!r} of the atlas")
    order = [position[x] for x in atlas.labels]
    return values[np.ix_(order, order)]


def _connectome(request: PredictRequest, atlas: Atlas) -> tuple[Connectome, str]:
    if request.connectome:
        values, labels = read_region_matrix(request.connectome, "connectome")
        return Connectome(_on_atlas(values, labels, atlas)), f"structural: {request.connectome}"
    hansen = _hansen(request, atlas)
    if hansen is not None and (hansen / "sc_weighted.npy").is_file():
        weights = np.load(hansen / "sc_weighted.npy")
        return Connectome(weights), _HANSEN_NOTE.format(what="structural connectome")
    if request.distance:
        dist = read_distance(request.distance, atlas.labels)
        return distance_connectome(dist), f"FALLBACK distance rule on {request.distance}"
    return distance_connectome(np.asarray(atlas.coords)), "FALLBACK distance rule on centroids"


def _reference(request: PredictRequest, atlas: Atlas, config: dict[str, Any]) -> tuple[Any, str]:
    if request.reference_fc:
        values, labels = read_region_matrix(request.reference_fc, "reference FC")
        return _on_atlas(values, labels, atlas), f"reference FC {request.reference_fc}"
    if config and request.observed and not config.get("between"):
        condition = str((config.get("contrast") or ("drug", "placebo"))[1])
        ref = reference_fc(request.observed, condition)
        matrices = np.stack([_on_atlas(m, list(ref.regions), atlas) for m in ref.matrices])
        return matrices, f"this study's {condition} runs ({len(matrices)} subjects)"
    hansen = _hansen(request, atlas)
    if hansen is not None and (hansen / "fc_weighted.npy").is_file():
        return np.load(hansen / "fc_weighted.npy"), _HANSEN_NOTE.format(what="FC")
    return None, ""


#: Simulated run length without a study: 300 volumes at 2 s (10 minutes).
_TYPICAL_RUN = (300, 2.0)


def _run_length(observed: str | None) -> tuple[int, float]:
    """Return the study's median run length and TR (its QC table), else a typical run."""
    qc = Path(observed) / "group" / "qc.tsv" if observed else None
    if qc is None or not qc.is_file():
        return _TYPICAL_RUN
    table = pd.read_csv(qc, sep="\t")
    if not {"n_volumes", "repetition_time"} <= set(table.columns) or table.empty:
        return _TYPICAL_RUN
    return int(table["n_volumes"].median()), float(table["repetition_time"].median())


def _maps_for(maps: ReceptorMaps, atlas: Atlas) -> tuple[ReceptorMaps, Atlas, list[str]]:
    known = set(maps.regions)
    keep = [i for i, x in enumerate(atlas.labels) if x in known]
    if not keep:
        raise InputError(
            f"no region of atlas {atlas.name!r} has a receptor map in {maps.source} (their "
            f"regions look like {maps.regions[0]!r}, the atlas's like {atlas.labels[0]!r})"
        )
    left_out = [x for x in atlas.labels if x not in known]
    sub = atlas if not left_out else atlas.subset(keep)
    return align_regions(maps, sub.labels), sub, left_out


def _distance(request: PredictRequest, observed: RegionalMap) -> Any:
    if not request.distance:
        return None
    return read_distance(request.distance, observed.regions)


def run_prediction(request: PredictRequest) -> Prediction:
    """Predict a drug's DMN change and/or explain an observed map, from a request.

    Parameters
    ----------
    request : PredictRequest
        What the command line gave.

    Returns
    -------
    Prediction
        Everything found, with the record of inputs and assumptions.

    Raises
    ------
    InputError
        When neither a drug nor an observed map is given, or an input is unusable.
    """
    if request.drug is None and request.observed is None:
        raise InputError("give --drug NAME, --observed MAP_OR_RESULTS, or both")
    # Large products (surrogate maps, the model's Lyapunov solves): BLAS on every core,
    # whatever the process's default (the command line's is one thread).
    with all_blas_threads():
        return _run_prediction(request)


def _run_prediction(request: PredictRequest) -> Prediction:
    """:func:`run_prediction`'s work, its request checked."""
    config = _analysis_config(request.observed)
    atlas = _atlas(request, config)
    maps = load_receptors(request.receptors, atlas)
    if maps.coords is None and isinstance(config.get("atlas"), str):
        maps = with_atlas_coords(maps, load_atlas(config["atlas"]))
    record: dict[str, Any] = {"request": request.__dict__, "receptors": maps.source}
    drug = None if request.drug is None else _drug(request, maps, atlas, config, record)
    explanation, observed_networks = None, None
    if request.observed is not None:
        explanation = _explain(request, maps, drug)
        record["explanation"] = explanation.details
        if Path(request.observed).is_dir():
            observed_networks = observed_network_changes(request.observed)
    if observed_networks is None:
        return Prediction(maps, atlas, drug, explanation, record=record)
    return Prediction(maps, atlas, drug, explanation, observed_networks, record)


def _drug(
    request: PredictRequest,
    maps: ReceptorMaps,
    atlas: Atlas | None,
    config: dict[str, Any],
    record: dict[str, Any],
) -> DrugPrediction:
    if atlas is None:
        raise InputError("a drug prediction needs the regions' networks: give --atlas")
    assert request.drug is not None
    drug_maps, sub, left_out = _maps_for(maps, atlas)
    connectome, where = _connectome(request, sub)
    reference, ref_note = _reference(request, sub, config)
    _LOG.info("predicting %s on %d regions of %s", request.drug, sub.n_regions, atlas.name)
    n_volumes, repetition_time = _run_length(request.observed)
    drug = predict_drug(
        request.drug,
        drug_maps,
        sub,
        dose_mg=request.dose_mg,
        connectome=connectome,
        reference_fc=reference,
        reference_note=ref_note,
        n_volumes=n_volumes,
        repetition_time=repetition_time,
        n_seeds=request.n_seeds,
        seed=request.seed,
    )
    record["drug"] = {
        "regions_without_maps": left_out,
        "connectome": where,
        "reference_fc": ref_note or "none",
        "simulated_runs": f"{n_volumes} volumes at TR {repetition_time:g} s",
        "model": drug.model.record() if drug.model else drug.model_note,
        "pharmacological": drug.pharmacological.record,
    }
    return drug


def _explain(
    request: PredictRequest, maps: ReceptorMaps, drug: DrugPrediction | None
) -> MapExplanation:
    assert request.observed is not None
    observed = load_observed(
        request.observed, measure=request.measure, statistic=request.statistic
    )
    also = None
    if drug is not None and not drug.pharmacological.empty:
        also = {"predicted (pharmacological)": drug.pharmacological.perturbation}
    return explain_map(
        observed,
        maps,
        distance=_distance(request, observed),
        distance_source=request.distance or "",
        n_null=request.n_null,
        seed=request.seed,
        also=also,
    )


def predict_beside(config: AnalysisConfig, layout: OutputLayout) -> Section | None:
    """Predict ``config.drug`` from ``config.receptors`` beside a finished analysis.

    The analysis folder (being written) is the observed map: its regional GBC
    effect is explained, and its placebo runs are the model's reference FC.
    Outputs go to ``<out>/predict/``.

    Parameters
    ----------
    config : AnalysisConfig
        The analysis's choices (``drug`` and ``receptors``).
    layout : OutputLayout
        The analysis folder, with its provenance, metrics and derivatives written.

    Returns
    -------
    Section or None
        The report section; None when no receptors were given.
    """
    if config.receptors is None or config.drug is None:
        return None
    atlas = config.atlas if isinstance(config.atlas, str) else None
    request = PredictRequest(
        receptors=config.receptors,
        drug=config.drug,
        atlas=atlas,
        observed=str(layout.root),
        seed=config.inference.seed,
    )
    prediction = run_prediction(request)
    write_prediction(prediction, layout.root / "predict", overwrite=True)
    return prediction_section(prediction)


def check_prediction_inputs(config: AnalysisConfig) -> None:
    """Refuse, before any work, a prediction that could not be made after the analysis.

    Parameters
    ----------
    config : AnalysisConfig
        With ``drug`` and ``receptors``.

    Raises
    ------
    InputError
        When the drug is not an agent with a target profile (a drug class is
        compared with the catalog but cannot be predicted), the receptor maps
        do not exist, or the design is between-subject.
    """
    from dmnpharm.catalog import load_pharmacology

    if config.drug is None or config.receptors is None:
        return
    book = load_pharmacology()
    if config.drug not in book.agents:
        raise InputError(
            f"--receptors predicts one agent's effect, and {config.drug!r} is not an agent "
            "with a target profile (a drug class?): name the agent, e.g. --drug psilocybin"
        )
    if not Path(config.receptors).exists():
        raise InputError(f"receptor maps '{config.receptors}' do not exist")
    if config.between is not None:
        raise InputError(
            "--receptors predicts a drug-placebo contrast; a between-subject analysis has none"
        )
