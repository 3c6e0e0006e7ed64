"""What the ground truth records of the planted effects: per effect, and per run."""

from __future__ import annotations

from typing import Any

import numpy as np

from dmnpharm.simulate._model import RunModel, mean_fisher_z
from dmnpharm.simulate._spec import EFFECT_MEASURES, Effect, StudySpec
from dmnpharm.simulate._weights import REGIONAL_MEASURES, weights_digest

__all__ = ["effect_key", "planted_effects", "run_truth"]


def effect_key(effect: Effect) -> str:
    """Return the key of an effect's per-run truth (e.g. ``within_fc_DMN``).

    Parameters
    ----------
    effect : Effect
        A planted effect.

    Returns
    -------
    str
        ``between_fc_<A>_<B>``, ``within_fc_<NET>``, ``amplitude_<NET>``, the
        measure with its label for a labelled regional effect
        (``regional_coupling_<label>``), else the measure.
    """
    if effect.measure == "between_fc":
        return f"between_fc_{effect.network}_{effect.other}"
    if effect.measure in ("within_fc", "amplitude"):
        return f"{effect.measure}_{effect.network}"
    if effect.measure in REGIONAL_MEASURES and effect.label:
        return f"{effect.measure}_{effect.label}"
    return effect.measure


def _measure_value(model: RunModel, effect: Effect, latent: list[str], fd: float) -> float:
    if effect.measure == "within_fc":
        idx = np.flatnonzero(model.column == latent.index(effect.network))
        return mean_fisher_z(model, idx, idx)
    if effect.measure == "between_fc":
        a = np.flatnonzero(model.column == latent.index(effect.network))
        b = np.flatnonzero(model.column == latent.index(effect.other))
        return mean_fisher_z(model, a, b)
    if effect.measure == "amplitude":
        idx = np.flatnonzero(model.column == latent.index(effect.network))
        return float(np.mean(model.amp[idx]))
    if effect.measure == "global_signal":
        return float(np.mean(model.b))
    return fd


def run_truth(
    spec: StudySpec,
    models: tuple[RunModel, RunModel],
    latent: list[str],
    fds: tuple[float, float],
    mults: tuple[float, float],
) -> dict[str, float]:
    """Return a run's population value of each planted measure, with and without effects.

    Parameters
    ----------
    spec : StudySpec
        The study.
    models : tuple of RunModel
        The run's model with its effects, and without.
    latent : list of str
        Network codes, in source order.
    fds : tuple of float
        The run's target mean FD, and its subject's baseline.
    mults : tuple of float
        The run's exposure (drug effects) and patient shift (patient effects).

    Returns
    -------
    dict
        ``<key>`` and ``<key>_without_effects`` per effect (:func:`effect_key`). A
        regional effect's value is ``size x multiplier``: region ``i`` is scaled
        by ``1 + value x w_i`` (0 without effects).
    """
    truth: dict[str, float] = {}
    effects = [(e, mults[0]) for e in spec.effects]
    effects += [(e, mults[1]) for e in spec.response.patient_effects]
    for effect, mult in effects:
        key = effect_key(effect)
        if effect.measure in REGIONAL_MEASURES:
            truth[key], truth[f"{key}_without_effects"] = effect.size * mult, 0.0
            continue
        truth[key] = _measure_value(models[0], effect, latent, fds[0])
        truth[f"{key}_without_effects"] = _measure_value(models[1], effect, latent, fds[1])
    return truth


def _record(effect: Effect, applies_to: str, where: str) -> dict[str, Any]:
    regional = effect.measure in REGIONAL_MEASURES
    record: dict[str, Any] = {
        "measure": effect.measure,
        "network": ""
        if regional or effect.measure in ("global_signal", "motion")
        else effect.network,
        "other": effect.other,
        "size": effect.size,
        "unit": EFFECT_MEASURES[effect.measure],
        "applies_to": applies_to,
    }
    if regional:
        record |= {
            "label": effect.label,
            "n_weights": len(effect.weights),
            "weights_digest": weights_digest(effect.weights),
            "weights_at": f"{where}.weights (one per atlas region, in atlas order)",
            "run_truth": f"each run's {effect_key(effect)} is size x its multiplier: region i "
            "is scaled by 1 + that x weight i",
        }
    return record


def planted_effects(spec: StudySpec) -> list[dict[str, Any]]:
    """Return the ground truth's record of each planted effect.

    Parameters
    ----------
    spec : StudySpec
        The study.

    Returns
    -------
    list of dict
        Per effect: measure, network, other, size, unit and what it applies to;
        a regional effect adds its label, weight count, the digest of its
        weights (:func:`~dmnpharm.simulate._weights.weights_digest`) and where in
        the recorded spec they are.
    """
    drug = "drug exposure (1 at the reference dose and peak time)"
    patient = "patients vs controls before treatment"
    return [_record(e, drug, f"spec.effects[{i}]") for i, e in enumerate(spec.effects)] + [
        _record(e, patient, f"spec.response.patient_effects[{i}]")
        for i, e in enumerate(spec.response.patient_effects)
    ]
