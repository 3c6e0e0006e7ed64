"""The pharmacological predictor: targets x action x occupancy x receptor density, per region.

For each target of a drug with an occupancy estimate (:func:`target_occupancy`)
and a net sign (:func:`net_sign`: the action times the target's excitability
sign), the target's z-scored density map is weighted by ``sign x occupancy``;
the weighted maps are summed into one regional perturbation map.

Targets reached indirectly (a transporter or enzyme whose inhibition, or a
releaser, raises a transmitter) have no excitability sign of their own. They
act through the transmitter's receptors: their map is the mean, over the
receptors of that transmitter that have a density map, of ``excitability x
density``, weighted by the occupancy (the fraction of transporter blocked).
Targets without a map, a sign or an occupancy are kept in the table with the
reason they do not enter the map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.catalog import Pharmacology, load_pharmacology
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import NETWORK_MEASURES, TASK_POSITIVE_NETWORKS
from dmnpharm.predict._observed import RegionalMap
from dmnpharm.predict._occupancy import (
    OccupancyEstimate,
    net_sign,
    net_sign_rule,
    target_occupancy,
)
from dmnpharm.predict._receptors import ReceptorMaps

__all__ = ["PharmacologicalPrediction", "network_loads", "pharmacological_map"]

FloatArray = npt.NDArray[np.float64]

_INDIRECT = ("transporter", "enzyme")

#: Network summaries of a regional map: the regions each bundle measure covers.
_MEASURE_NETWORKS: dict[str, tuple[str, ...]] = {
    "dmn_within_fc": ("DMN",),
    "dmn_salience_fc": ("DMN", "SN"),
    "dmn_fpn_fc": ("DMN", "FPN"),
    "dmn_dan_fc": ("DMN", "DAN"),
    "dmn_gbc": ("DMN",),
}


@dataclass(frozen=True, eq=False)
class PharmacologicalPrediction:
    """A drug's regional perturbation map from its targets.

    Parameters
    ----------
    drug : str
        Agent id.
    dose_mg : float or None
        Dose used (None when the agent has no dose in mg).
    targets : pandas.DataFrame
        One row per target: ``target``, ``action``, ``occupancy``,
        ``occupancy_method``, ``excitability``, ``sign``, ``weight`` (sign x
        occupancy), ``map`` (which density map carries it), ``used``,
        ``reason`` (why not used), ``confidence``, ``assumptions``.
    perturbation : RegionalMap
        Sum of the weighted z-scored density maps, one value per region.
    density : RegionalMap
        The same with densities rescaled to [0, 1] per map (raw / max):
        what the whole-brain model uses, so that an agonist raises
        excitability everywhere in proportion to density.
    loads : pandas.DataFrame
        ``measure``, ``load``: mean perturbation over the regions of each
        network measure (see :func:`network_loads`).
    record : dict
        Every assumption, for provenance.
    """

    drug: str
    dose_mg: float | None
    targets: pd.DataFrame
    perturbation: RegionalMap
    density: RegionalMap
    loads: pd.DataFrame
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether no target entered the map.

        Returns
        -------
        bool
            True when every target was left out.
        """
        return not bool(self.targets["used"].any())


def _transmitters(text: str) -> set[str]:
    words = text.replace("(substrates)", "").replace("(substrate)", "")
    return {w.strip().lower() for w in words.split(",") if w.strip()}


def _indirect_map(
    target: str, book: Pharmacology, maps: ReceptorMaps, raw: FloatArray
) -> tuple[FloatArray, FloatArray, str]:
    """Mean excitability x density over the receptors of the target's transmitter(s)."""
    sent = _transmitters(book.receptor(target).transmitter)
    used, z_cols, raw_cols = [], [], []
    for j, name in enumerate(maps.targets):
        try:
            receptor = book.receptor(name)
        except InputError:
            continue
        if receptor.coupling in _INDIRECT or receptor.excitability == 0:
            continue
        if _transmitters(receptor.transmitter) & sent:
            used.append(f"{name} ({receptor.excitability:+d})")
            z_cols.append(receptor.excitability * np.asarray(maps.values)[:, j])
            raw_cols.append(receptor.excitability * raw[:, j])
    if not used:
        return np.empty(0), np.empty(0), ""
    return np.mean(z_cols, axis=0), np.mean(raw_cols, axis=0), ", ".join(used)


def _row(e: OccupancyEstimate, **values: Any) -> dict[str, Any]:
    return {
        "target": e.target,
        "action": e.action,
        "occupancy": e.occupancy,
        "occupancy_method": e.method,
        "confidence": e.confidence,
        "assumptions": e.assumptions,
        **values,
    }


def _unit_density(maps: ReceptorMaps) -> FloatArray:
    peak = np.max(np.abs(maps.raw), axis=0)
    return np.asarray(maps.raw / np.where(peak > 0, peak, 1.0), dtype=np.float64)


def network_loads(values: npt.ArrayLike, atlas: Atlas) -> pd.DataFrame:
    """Mean of a regional map over the regions of each DMN network measure.

    ``dmn_within_fc`` and ``dmn_gbc``: the DMN regions; ``dmn_salience_fc``,
    ``dmn_fpn_fc``, ``dmn_dan_fc``: the DMN and the partner network's regions
    together; ``dmn_anticorrelation``: the DMN and the task-positive networks
    present. Measures whose partner network the atlas lacks are absent.

    Parameters
    ----------
    values : array_like
        One value per atlas region.
    atlas : Atlas
        Regions and networks.

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``load``, ``n_regions``, ``description``.
    """
    data = np.asarray(values, dtype=np.float64)
    networks = np.asarray(atlas.networks)
    rows = []
    present = tuple(n for n in TASK_POSITIVE_NETWORKS if (networks == n).any())
    groups = {**_MEASURE_NETWORKS, "dmn_anticorrelation": ("DMN", *present)}
    for measure, nets in groups.items():
        members = np.isin(networks, nets)
        if len(nets) < 2 and measure == "dmn_anticorrelation":
            continue
        if not all((networks == n).any() for n in nets):
            continue
        rows.append(
            {
                "measure": measure,
                "load": float(data[members].mean()),
                "n_regions": int(members.sum()),
                "description": NETWORK_MEASURES[measure],
            }
        )
    return pd.DataFrame(rows, columns=["measure", "load", "n_regions", "description"])


def pharmacological_map(
    drug: str,
    maps: ReceptorMaps,
    atlas: Atlas,
    *,
    dose_mg: float | None = None,
    pharmacology: Pharmacology | None = None,
) -> PharmacologicalPrediction:
    """Predict a drug's regional perturbation from its targets and receptor maps.

    Parameters
    ----------
    drug : str
        Agent id of the evidence catalog (``"psilocybin"``, ``"escitalopram"``...).
    maps : ReceptorMaps
        Receptor maps aligned to ``atlas`` (see :func:`align_regions`).
    atlas : Atlas
        The regions and networks of the prediction.
    dose_mg : float or None
        Dose; None uses the agent's usual dose.
    pharmacology : Pharmacology or None
        Target profiles; None loads the bundled ones.

    Returns
    -------
    PharmacologicalPrediction
        The map, the per-target table and the network loads.

    Raises
    ------
    InputError
        For an unknown drug (with the closest id) or maps not aligned to the atlas.
    """
    book = pharmacology or load_pharmacology()
    profile = book.profile(drug)
    if maps.regions != atlas.labels:
        raise InputError("the receptor maps are not aligned to the atlas; use align_regions")
    z = np.asarray(maps.values, dtype=np.float64)
    unit = _unit_density(maps)
    perturbation, density = np.zeros(len(atlas.labels)), np.zeros(len(atlas.labels))
    rows = []
    for estimate in target_occupancy(profile, dose_mg):
        spec = next(t for t in profile.targets if t.target == estimate.target)
        receptor = book.receptor(estimate.target)
        indirect = receptor.coupling in _INDIRECT
        excitability = 1 if indirect else receptor.excitability
        sign = net_sign(estimate.action, excitability, spec.intrinsic_activity)
        row = _row(
            estimate,
            excitability=receptor.excitability,
            sign=sign,
            weight=np.nan,
            map="",
            used=False,
        )
        if indirect:
            z_map, unit_map, carried = _indirect_map(estimate.target, book, maps, unit)
        elif estimate.target in maps.targets:
            j = maps.targets.index(estimate.target)
            z_map, unit_map, carried = z[:, j], unit[:, j], estimate.target
        else:
            z_map, unit_map, carried = np.empty(0), np.empty(0), ""
        reason = (
            estimate.reason
            if estimate.occupancy is None
            else "net sign 0: "
            + net_sign_rule(estimate.action, excitability, spec.intrinsic_activity)
            if sign == 0
            else f"no density map of {estimate.target} or of its transmitter's receptors"
            if not carried
            else ""
        )
        if not reason and estimate.occupancy is not None:
            weight = sign * estimate.occupancy
            perturbation += weight * z_map
            density += weight * unit_map
            row.update(weight=weight, map=carried, used=True)
        rows.append({**row, "reason": reason})
    targets = pd.DataFrame(rows)
    label = f"{drug} at {profile.dose.usual_dose_mg if dose_mg is None else dose_mg} mg"
    pert = RegionalMap(
        atlas.labels, perturbation, maps.source, f"pharmacological perturbation of {label}"
    )
    dens = RegionalMap(atlas.labels, density, maps.source, f"unit-density perturbation, {label}")
    record = {
        "rule": "sum over targets of net sign x occupancy x z-scored density (Hansen et al. "
        "2022 maps); transporters and enzymes act through their transmitter's receptors "
        "(mean of excitability x density)",
        "receptors": maps.source,
        "profiles": "dmnpharm catalog pharmacology.toml",
    }
    dose = dose_mg if dose_mg is not None else profile.dose.usual_dose_mg
    loads = network_loads(perturbation, atlas)
    return PharmacologicalPrediction(drug, dose, targets, pert, dens, loads, record)
