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
from dmnpharm.metrics._checks import as_matrix, upper_triangle
from dmnpharm.metrics._complexity import regional_lempel_ziv, regional_sample_entropy
from dmnpharm.metrics._connectivity import connectivity_matrix
from dmnpharm.metrics._dynamics import sliding_window_fc
from dmnpharm.metrics._estimators import ESTIMATORS
from dmnpharm.metrics._fc import fisher_z_connectivity
from dmnpharm.metrics._layout import layout_measures, network_layout
from dmnpharm.metrics._names import NETWORK_MEASURES
from dmnpharm.metrics._table import BUNDLE_COLUMNS, RowBlocks

__all__ = [
    "BUNDLE_COLUMNS",
    "NETWORK_MEASURES",
    "BundleConfig",
    "bundle_rows",
    "estimate_connectivity",
    "matrix_measures",
    "run_bundle",
]

Array = npt.NDArray[np.float64]


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


def _connectivity_rows(
    matrix: npt.ArrayLike, atlas: Atlas, unit: str, config: BundleConfig, notes: list[str]
) -> RowBlocks:
    """Return the connectivity rows of one matrix (checked here: finite, symmetric)."""
    matrix = as_matrix(matrix)
    layout = network_layout(atlas.networks, atlas.subsystems)
    values = layout_measures(matrix, layout, config.density)
    rows = RowBlocks()
    rows.add("dmn_within_fc", "network", values.within, unit, "DMN")
    for code, value in values.subsystems.items():
        rows.add(f"dmn_{code}_within_fc", "network", value, unit, f"DMN:{code}")
    for partner, name, _ in layout.partners:
        rows.add(name, "network", values.partners[name], unit, "DMN", partner)
    if values.anticorrelation is not None:
        rows.add(
            "dmn_anticorrelation", "network", values.anticorrelation, unit, "DMN", "task-positive"
        )
    else:
        notes.append("DMN anticorrelation not computed: the atlas has no task-positive network")
    if values.dmn_segregation is not None and values.system_segregation is not None:
        rows.add("dmn_segregation", "network", values.dmn_segregation, "ratio", "DMN")
        rows.add("system_segregation", "network", values.system_segregation, "ratio", "all")
    else:
        notes.append("segregation and participation not computed: the atlas has only the DMN")
    dmn, gbc = layout.dmn, values.gbc
    rows.add("dmn_gbc", "network", float(gbc[dmn].mean()), unit, "DMN", "all")
    rows.add("dmn_degree", "network", float(values.degree.mean()), "edges", "DMN")
    if layout.others:
        rows.add("dmn_participation", "network", float(values.participation.mean()), "0-1", "DMN")
    labels = np.asarray(atlas.labels, dtype=object)
    if config.regions:
        in_dmn = np.zeros(atlas.n_regions)
        in_dmn[dmn] = 1.0
        seed = matrix[:, dmn].sum(axis=1) / (dmn.size - in_dmn)
        # One gbc and one dmn_fc row per region, alternating.
        rows.add(
            ["gbc", "dmn_fc"] * atlas.n_regions,
            "region",
            np.column_stack([gbc, seed]),
            unit,
            np.repeat(np.asarray(atlas.networks, dtype=object), 2),
            ["all", "DMN"] * atlas.n_regions,
            np.repeat(labels, 2),
        )
        node_labels = labels[values.nodes]
        if layout.others:
            rows.add(
                ["degree", "participation"] * node_labels.size,
                "region",
                np.column_stack([values.degree, values.participation]),
                ["edges", "0-1"] * node_labels.size,
                "DMN",
                "",
                np.repeat(node_labels, 2),
            )
        else:
            rows.add("degree", "region", values.degree, "edges", "DMN", "", node_labels)
    if config.edges:
        upper_a, upper_b = upper_triangle(dmn.size)
        rows.add(
            "edge_fc",
            "edge",
            matrix.ravel()[layout.dmn_pairs],
            unit,
            "DMN",
            "DMN",
            labels[dmn[upper_a]],
            labels[dmn[upper_b]],
        )
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
    return rows.values()


def _signal_rows(
    data: Array, atlas: Atlas, repetition_time: float, config: BundleConfig, rows: RowBlocks
) -> list[str]:
    """Add the dynamics and complexity of DMN signals (cleaned, kept volumes); return notes."""
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
        rows.add("dmn_swfc_mean", "network", dynamics.mean, "Fisher z", "DMN")
        if np.isfinite(dynamics.std):
            rows.add("dmn_swfc_sd", "network", dynamics.std, "Fisher z", "DMN")
    else:
        notes.append(
            f"sliding-window FC not computed: {data.shape[0]} volumes kept, a "
            f"{config.window_s:g} s window needs more than {window}"
        )
    entropy = regional_sample_entropy(data[:, dmn], m=config.entropy_m, r=config.entropy_r)
    complexity = regional_lempel_ziv(data[:, dmn])
    finite = entropy[np.isfinite(entropy)]
    if finite.size:
        rows.add("dmn_sample_entropy", "network", float(finite.mean()), "nats", "DMN")
    if finite.size < entropy.size:
        notes.append(f"{entropy.size - finite.size} DMN regions had no sample-entropy match")
    rows.add("dmn_lz_complexity", "network", float(complexity.mean()), "normalised", "DMN")
    if config.regions:
        # A sample_entropy and an lz_complexity row per DMN region, alternating.
        labels = np.asarray(atlas.labels, dtype=object)[dmn]
        rows.add(
            ["sample_entropy", "lz_complexity"] * dmn.size,
            "region",
            np.column_stack([entropy, complexity]),
            ["nats", "normalised"] * dmn.size,
            "DMN",
            "",
            np.repeat(labels, 2),
        )
    return notes


def _amplitude_rows(
    data: Array,
    atlas: Atlas,
    repetition_time: float,
    kept: npt.ArrayLike | None,
    config: BundleConfig,
    rows: RowBlocks,
) -> None:
    amplitude = region_amplitude(
        data, repetition_time, atlas.networks, kept=kept, band=config.band
    )
    units = {"alff": "signal units", "falff": "ratio", "zalff": "z", "zfalff": "z"}
    if set(atlas.networks) <= {"DMN", "NONE"}:
        # z over regions of the DMN alone averages to zero over the DMN by construction.
        units = {"alff": "signal units", "falff": "ratio"}
    for key, unit in units.items():
        rows.add(f"dmn_{key}", "network", amplitude.networks["DMN"][key], unit, "DMN")
    if config.regions:
        for key, unit in units.items():
            rows.add(
                key, "region", getattr(amplitude, key), unit, atlas.networks, "", atlas.labels
            )


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
    %(cleaned_signals)s
    %(bundle_atlas)s
    %(repetition_time)s
    %(bundle_config)s
    %(bundle_matrix)s
    %(amplitude_data)s
    %(amplitude_kept)s

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
    rows, record = bundle_rows(
        data,
        atlas,
        repetition_time,
        config=config,
        matrix=matrix,
        amplitude_data=amplitude_data,
        kept=kept,
    )
    return rows.frame(), record


@fill_doc
def bundle_rows(
    data: npt.ArrayLike,
    atlas: Atlas,
    repetition_time: float,
    *,
    config: BundleConfig | None = None,
    matrix: npt.ArrayLike | None = None,
    amplitude_data: npt.ArrayLike | None = None,
    kept: npt.ArrayLike | None = None,
) -> tuple[RowBlocks, dict[str, Any]]:
    """Compute every DMN measure of one run, as rows not yet made a table.

    :func:`run_bundle`'s measures and record, with the rows as
    :class:`~dmnpharm.metrics._table.RowBlocks`: the pipeline joins a run's
    analyses into one table (:func:`~dmnpharm.metrics._table.stacked_frame`)
    instead of making a table of each and concatenating them.

    Parameters
    ----------
    %(cleaned_signals)s
    %(bundle_atlas)s
    %(repetition_time)s
    %(bundle_config)s
    %(bundle_matrix)s
    %(amplitude_data)s
    %(amplitude_kept)s

    Returns
    -------
    tuple
        The rows (``rows.frame()`` is :func:`run_bundle`'s table) and the record.

    Raises
    ------
    InputError
        As :func:`run_bundle`.
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
    notes += _signal_rows(values, atlas, repetition_time, config, rows)
    if amplitude_data is None:
        notes.append("amplitude (ALFF/fALFF) not computed: no unfiltered signals given")
    else:
        _amplitude_rows(
            np.asarray(amplitude_data, np.float64), atlas, repetition_time, kept, config, rows
        )
    record = {
        "estimator": config.estimator,
        "estimator_description": ESTIMATORS[config.estimator],
        "settings": config.to_dict(),
        "notes": notes,
    }
    return rows, record
