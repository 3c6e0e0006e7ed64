"""The DMN metrics bundle: every measure of one run, one tidy row each."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics._amplitude import region_amplitude
from dmnpharm.metrics._bundle_config import BundleConfig
from dmnpharm.metrics._complexity import regional_lempel_ziv, regional_sample_entropy
from dmnpharm.metrics._connectivity import connectivity_matrix
from dmnpharm.metrics._dynamics import sliding_window_fc
from dmnpharm.metrics._estimators import ESTIMATORS
from dmnpharm.metrics._fc import fisher_z_connectivity
from dmnpharm.metrics._graph import network_node_measures
from dmnpharm.metrics._names import NETWORK_MEASURES
from dmnpharm.metrics._systems import (
    TASK_POSITIVE_NETWORKS,
    dmn_anticorrelation,
    global_brain_connectivity,
    network_segregation,
    system_segregation,
)

__all__ = [
    "BUNDLE_COLUMNS",
    "NETWORK_MEASURES",
    "BundleConfig",
    "estimate_connectivity",
    "matrix_measures",
    "run_bundle",
]

Array = npt.NDArray[np.float64]


#: Columns of the bundle table, in order.
BUNDLE_COLUMNS = (
    "measure",
    "level",
    "network_a",
    "network_b",
    "region_a",
    "region_b",
    "value",
    "unit",
)

#: DMN's between-network partners measured when the atlas has them.
_PARTNERS = (("SN", "dmn_salience_fc"), ("FPN", "dmn_fpn_fc"), ("DAN", "dmn_dan_fc"))


def estimate_connectivity(data: npt.ArrayLike, estimator: str) -> Array:
    """Return one run's region-by-region connectivity for a per-run estimator.

    Parameters
    ----------
    data : array_like
        Cleaned ``volumes x regions`` signals.
    estimator : str
        ``"pearson"`` (:func:`fisher_z_connectivity`) or ``"partial"``
        (:func:`connectivity_matrix` with ``"partial correlation"``). The
        tangent estimator needs the whole group: use
        :func:`tangent_connectivity` and pass its matrices.

    Returns
    -------
    numpy.ndarray
        Regions x regions, zero diagonal.
    """
    if estimator == "pearson":
        return fisher_z_connectivity(np.asarray(data, dtype=np.float64))
    if estimator == "partial":
        matrix: Array = connectivity_matrix(data, "partial correlation").matrix
        return matrix
    raise InputError(
        f"estimator {estimator!r} cannot be computed one run at a time; "
        "use 'pearson', 'partial', or tangent_connectivity over the group"
    )


def _row(
    measure: str,
    level: str,
    value: float,
    unit: str,
    network_a: str,
    network_b: str = "",
    region_a: str = "",
    region_b: str = "",
) -> dict[str, Any]:
    return {
        "measure": measure,
        "level": level,
        "network_a": network_a,
        "network_b": network_b or network_a,
        "region_a": region_a,
        "region_b": region_b,
        "value": float(value),
        "unit": unit,
    }


def _pair_mean(matrix: Array, a: npt.NDArray[np.intp], b: npt.NDArray[np.intp]) -> float:
    if np.array_equal(a, b):
        block = matrix[np.ix_(a, a)]
        return float(block[np.triu_indices(a.size, k=1)].mean())
    return float(matrix[np.ix_(a, b)].mean())


def _connectivity_rows(
    matrix: Array, atlas: Atlas, unit: str, config: BundleConfig, notes: list[str]
) -> list[dict[str, Any]]:
    networks = np.asarray(atlas.networks)
    dmn = atlas.network_indices("DMN")
    rows = [_row("dmn_within_fc", "network", _pair_mean(matrix, dmn, dmn), unit, "DMN")]
    if atlas.subsystems:
        for code in dict.fromkeys(s for s in atlas.subsystems if s):
            members = atlas.subsystem_indices(code)
            if members.size >= 2:
                value = _pair_mean(matrix, members, members)
                rows.append(_row(f"dmn_{code}_within_fc", "network", value, unit, f"DMN:{code}"))
    for partner, name in _PARTNERS:
        other = np.flatnonzero(networks == partner)
        if other.size:
            rows.append(
                _row(name, "network", _pair_mean(matrix, dmn, other), unit, "DMN", partner)
            )
    others = set(atlas.networks) - {"DMN", "NONE"}
    if others & set(TASK_POSITIVE_NETWORKS):
        anti = dmn_anticorrelation(matrix, atlas.networks).value
        rows.append(_row("dmn_anticorrelation", "network", anti, unit, "DMN", "task-positive"))
    else:
        notes.append("DMN anticorrelation not computed: the atlas has no task-positive network")
    if others:
        value = network_segregation(matrix, atlas.networks)
        rows.append(_row("dmn_segregation", "network", value, "ratio", "DMN"))
        value = system_segregation(matrix, atlas.networks)
        rows.append(_row("system_segregation", "network", value, "ratio", "all"))
    else:
        notes.append("segregation and participation not computed: the atlas has only the DMN")
    gbc = global_brain_connectivity(matrix)
    rows.append(_row("dmn_gbc", "network", float(gbc[dmn].mean()), unit, "DMN", "all"))
    nodes = network_node_measures(matrix, atlas.networks, "DMN", config.density)
    rows.append(_row("dmn_degree", "network", nodes.mean_degree, "edges", "DMN"))
    if others:
        rows.append(_row("dmn_participation", "network", nodes.mean_participation, "0-1", "DMN"))
    if config.regions:
        in_dmn = np.zeros(atlas.n_regions)
        in_dmn[dmn] = 1.0
        seed = matrix[:, dmn].sum(axis=1) / (dmn.size - in_dmn)
        for index, value in enumerate(gbc):
            label, network = atlas.labels[index], atlas.networks[index]
            rows.append(_row("gbc", "region", value, unit, network, "all", label))
            rows.append(_row("dmn_fc", "region", seed[index], unit, network, "DMN", label))
        for node, degree, part in zip(nodes.nodes, nodes.degree, nodes.participation, strict=True):
            label = atlas.labels[int(node)]
            rows.append(_row("degree", "region", degree, "edges", "DMN", "", label))
            if others:
                rows.append(_row("participation", "region", part, "0-1", "DMN", "", label))
    if config.edges:
        upper = np.triu_indices(dmn.size, k=1)
        block = matrix[np.ix_(dmn, dmn)]
        for i, j in zip(*upper, strict=True):
            a, b = atlas.labels[int(dmn[i])], atlas.labels[int(dmn[j])]
            rows.append(_row("edge_fc", "edge", block[i, j], unit, "DMN", "DMN", a, b))
    return rows


def matrix_measures(matrix: npt.ArrayLike, atlas: Atlas) -> dict[str, float]:
    """Return the bundle's network-level connectivity measures of one matrix.

    The same definitions as :func:`run_bundle` (``dmn_within_fc``, the DMN
    subsystems, ``dmn_salience_fc``, ``dmn_fpn_fc``, ``dmn_dan_fc``,
    ``dmn_anticorrelation``, ``dmn_segregation``, ``system_segregation``,
    ``dmn_gbc``, ``dmn_degree``, ``dmn_participation``), for any
    region-by-region matrix: a model's predicted connectivity, a group mean
    or a difference.

    Parameters
    ----------
    matrix : array_like
        Regions x regions connectivity in ``atlas`` order (Fisher z for the
        bundle's units).
    atlas : Atlas
        Regions and networks; must have at least two DMN regions.

    Returns
    -------
    dict
        Measure name to value; measures the atlas cannot give are absent.

    Raises
    ------
    InputError
        For a matrix of the wrong shape or an atlas without two DMN regions.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.shape != (atlas.n_regions, atlas.n_regions):
        raise InputError(
            f"a matrix of shape {values.shape} does not have the {atlas.n_regions} regions of "
            f"atlas {atlas.name!r}"
        )
    if atlas.networks.count("DMN") < 2:
        raise InputError(f"atlas {atlas.name!r} has fewer than two DMN regions")
    rows = _connectivity_rows(values, atlas, "z", BundleConfig(regions=False, edges=False), [])
    return {str(row["measure"]): float(row["value"]) for row in rows}


def _signal_rows(
    data: Array, atlas: Atlas, repetition_time: float, config: BundleConfig
) -> tuple[list[dict[str, Any]], list[str]]:
    """Dynamics and complexity of DMN signals (cleaned, kept volumes)."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    dmn = atlas.network_indices("DMN")
    window = round(config.window_s / repetition_time)
    if data.shape[0] >= window + 1 and window >= 3:
        dynamics = sliding_window_fc(
            data,
            atlas.networks,
            repetition_time=repetition_time,
            window_s=config.window_s,
            step=config.window_step,
        )
        rows.append(_row("dmn_swfc_mean", "network", dynamics.mean, "Fisher z", "DMN"))
        if np.isfinite(dynamics.std):
            rows.append(_row("dmn_swfc_sd", "network", dynamics.std, "Fisher z", "DMN"))
    else:
        notes.append(
            f"sliding-window FC not computed: {data.shape[0]} volumes kept, a "
            f"{config.window_s:g} s window needs more than {window}"
        )
    entropy = regional_sample_entropy(data[:, dmn], m=config.entropy_m, r=config.entropy_r)
    complexity = regional_lempel_ziv(data[:, dmn])
    finite = entropy[np.isfinite(entropy)]
    if finite.size:
        rows.append(_row("dmn_sample_entropy", "network", float(finite.mean()), "nats", "DMN"))
    if finite.size < entropy.size:
        notes.append(f"{entropy.size - finite.size} DMN regions had no sample-entropy match")
    rows.append(
        _row("dmn_lz_complexity", "network", float(complexity.mean()), "normalised", "DMN")
    )
    if config.regions:
        for k, index in enumerate(dmn):
            label = atlas.labels[int(index)]
            rows.append(_row("sample_entropy", "region", entropy[k], "nats", "DMN", "", label))
            rows.append(
                _row("lz_complexity", "region", complexity[k], "normalised", "DMN", "", label)
            )
    return rows, notes


def _amplitude_rows(
    data: Array,
    atlas: Atlas,
    repetition_time: float,
    kept: npt.ArrayLike | None,
    config: BundleConfig,
) -> list[dict[str, Any]]:
    amplitude = region_amplitude(
        data, repetition_time, atlas.networks, kept=kept, band=config.band
    )
    units = {"alff": "signal units", "falff": "ratio", "zalff": "z", "zfalff": "z"}
    if set(atlas.networks) <= {"DMN", "NONE"}:
        # z over regions of the DMN alone averages to zero over the DMN by construction.
        units = {"alff": "signal units", "falff": "ratio"}
    rows = [
        _row(f"dmn_{key}", "network", amplitude.networks["DMN"][key], unit, "DMN")
        for key, unit in units.items()
    ]
    if config.regions:
        for key, unit in units.items():
            values = getattr(amplitude, key)
            for index, value in enumerate(values):
                label, network = atlas.labels[index], atlas.networks[index]
                rows.append(_row(key, "region", value, unit, network, "", label))
    return rows


@fill_doc
def run_bundle(
    data: npt.ArrayLike,
    atlas: Atlas,
    repetition_time: float,
    *,
    config: BundleConfig | None = None,
    matrix: npt.ArrayLike | None = None,
    amplitude_data: npt.ArrayLike | None = None,
    kept: npt.ArrayLike | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute every DMN measure of one run.

    Network-level rows (``level == "network"``), the ones group tests use:

    * connectivity (from ``matrix``, or the estimator on ``data``):
      ``dmn_within_fc``; ``dmn_<subsystem>_within_fc`` for atlases with DMN
      subsystems; ``dmn_salience_fc``, ``dmn_fpn_fc``, ``dmn_dan_fc`` where
      the atlas has the partner network; ``dmn_anticorrelation`` (Fox et al.
      2005); ``dmn_segregation`` and ``system_segregation`` (Chan et al.
      2014); ``dmn_gbc`` (Cole et al. 2010); ``dmn_degree`` and
      ``dmn_participation`` (Guimera & Amaral 2005) at ``config.density``;
    * amplitude: ``dmn_alff``, ``dmn_falff``, ``dmn_zalff``, ``dmn_zfalff``
      (from ``amplitude_data``, the run cleaned without band-pass);
    * dynamics and complexity: ``dmn_swfc_mean``, ``dmn_swfc_sd`` (Allen et
      al. 2014), ``dmn_sample_entropy`` (Richman & Moorman 2000),
      ``dmn_lz_complexity`` (Lempel & Ziv 1976).

    Region rows (``gbc``, ``dmn_fc`` (mean connectivity with the DMN regions other
    than itself), ``alff`` ..., ``degree``, ``participation``,
    ``sample_entropy``, ``lz_complexity``) and edge rows (``edge_fc``, each
    pair of DMN regions) follow when ``config`` asks for them.

    Parameters
    ----------
    data : array_like
        Cleaned ``volumes x regions`` signals (kept volumes), atlas order.
    atlas : Atlas
        Regions, networks and DMN subsystems; must have DMN regions.
    %(repetition_time)s
    config : BundleConfig or None
        Settings; None uses the defaults.
    matrix : array_like or None
        A connectivity matrix to use instead of estimating one from
        ``data`` (required for the tangent estimator, whose reference is the
        group's).
    amplitude_data : array_like or None
        The run cleaned the same way but without band-pass filtering, for
        ALFF/fALFF; None skips the amplitude measures (and says so).
    kept : array_like of bool or None
        Kept volumes of the run (one per volume), for the amplitude spectrum.

    Returns
    -------
    tuple
        The table (:data:`BUNDLE_COLUMNS`) and a record: estimator,
        settings, and notes on measures that could not be computed.

    Raises
    ------
    InputError
        For an atlas without DMN regions, a matrix of the wrong shape, or
        the input errors of the measures.
    """
    config = BundleConfig() if config is None else config
    values = np.asarray(data, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != atlas.n_regions:
        raise InputError(
            f"data of shape {values.shape} do not have the {atlas.n_regions} regions of "
            f"atlas {atlas.name!r}"
        )
    n_dmn = atlas.networks.count("DMN")
    if n_dmn < 2:
        raise InputError(
            f"atlas {atlas.name!r} has {n_dmn} DMN region(s); the bundle needs at least two "
            "(a network parcellation such as Yeo-7 has one region per network: use a "
            "parcellation with several DMN parcels, e.g. schaefer200_7)"
        )
    if matrix is None:
        connectivity = estimate_connectivity(values, config.estimator)
    else:
        connectivity = np.asarray(matrix, dtype=np.float64)
        if connectivity.shape != (atlas.n_regions, atlas.n_regions):
            raise InputError(
                f"matrix of shape {connectivity.shape} does not match the atlas's "
                f"{atlas.n_regions} regions"
            )
    unit = "tangent units" if config.estimator == "tangent" else "Fisher z"
    notes: list[str] = []
    rows = _connectivity_rows(connectivity, atlas, unit, config, notes)
    signal_rows, signal_notes = _signal_rows(values, atlas, repetition_time, config)
    rows += signal_rows
    notes += signal_notes
    if amplitude_data is None:
        notes.append("amplitude (ALFF/fALFF) not computed: no unfiltered signals given")
    else:
        rows += _amplitude_rows(
            np.asarray(amplitude_data, np.float64), atlas, repetition_time, kept, config
        )
    record = {
        "estimator": config.estimator,
        "estimator_description": ESTIMATORS[config.estimator],
        "settings": config.to_dict(),
        "notes": notes,
    }
    return pd.DataFrame(rows, columns=list(BUNDLE_COLUMNS)), record
