"""Parts of the run report: planted effects, connectivity views, every measure at a glance."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.report._glass_brain import connectome_figure
from dmnpharm.report._html import Section
from dmnpharm.report._matrices import EDGES_DRAWN, network_blocks, strongest_edges
from dmnpharm.report._matrix_figure import matrix_figure
from dmnpharm.report._multiples import Panel, draw_levels, multiples_figure
from dmnpharm.report._summary import _num, _p
from dmnpharm.stats import t_ppf

__all__ = [
    "adjusted_table",
    "connectivity_section",
    "ground_truth_rows",
    "measures_section",
]

# Ground-truth keys of the simulator for the measures this pipeline computes.
_TRUTH_KEYS = {"dmn_within_fc": "within_fc_DMN", "dmn_salience_fc": "between_fc_DMN_SN"}


def _standard_error(row: Mapping[Any, Any]) -> float:
    """Return the SE behind a result row's t-based 95 % CI (NaN when it has none)."""
    df = pd.to_numeric(pd.Series([row.get("df")]), errors="coerce").iloc[0]
    width = float(row["ci_high"]) - float(row["ci_low"])
    if not (np.isfinite(df) and df > 0 and np.isfinite(width)):
        return float("nan")
    return width / (2 * float(t_ppf(0.975, df)))


def ground_truth_rows(
    truth: dict[str, Any], results: pd.DataFrame, contrast: tuple[str, str]
) -> list[dict[str, Any]]:
    """Return the planted contrast per measure, the estimate, and the miss in standard errors.

    The planted value is what the simulator put in: per run, the population
    value with effects minus the same run without them, averaged over subjects
    as the contrast. Session-to-session states are not part of it; like
    scanner noise they are sampling error, which the confidence interval
    covers.

    Parameters
    ----------
    truth : dict
        ``ground_truth.json`` of a simulated study (its ``runs``).
    results : pandas.DataFrame
        Group results (``measure``, ``estimate``, ``ci_low``, ``ci_high``,
        ``df``).
    contrast : tuple of str
        The conditions compared, first minus second.

    Returns
    -------
    list of dict
        ``measure``, ``contrast``, ``value`` (planted), ``estimate``,
        ``miss_se`` and ``covered`` per measure the simulator planted.
    """
    runs = pd.DataFrame(truth.get("runs", []))
    if runs.empty or "condition" not in runs:
        return []
    rows = []
    for r in results.to_dict(orient="records"):
        key = _TRUTH_KEYS.get(str(r["measure"]))
        if key is None or f"{key}_without_effects" not in runs:
            continue
        planted = runs.assign(_planted=runs[key] - runs[f"{key}_without_effects"])
        means = planted.pivot_table(index="participant_id", columns="condition", values="_planted")
        if not set(contrast) <= set(means.columns):
            continue
        value = float((means[contrast[0]] - means[contrast[1]]).mean())
        se = _standard_error(r)
        rows.append(
            {
                "measure": r["measure"],
                "contrast": f"{contrast[0]}-{contrast[1]}",
                "value": value,
                "estimate": float(r["estimate"]),
                "miss_se": (float(r["estimate"]) - value) / se if se > 0 else float("nan"),
                "covered": bool(r["ci_low"] <= value <= r["ci_high"]),
            }
        )
    return rows


def adjusted_table(results: pd.DataFrame, adjusted: pd.DataFrame) -> pd.DataFrame:
    """Put each measure's estimate beside the estimate at equal mean FD.

    Parameters
    ----------
    results : pandas.DataFrame
        The results as tested.
    adjusted : pandas.DataFrame
        The results of the test refitted with mean FD as a run covariate.

    Returns
    -------
    pandas.DataFrame
        One row per measure: estimate, CI and p FWER of each.
    """
    left = results.set_index("measure")[["estimate", "ci_low", "ci_high", "p_fwer"]]
    right = adjusted.set_index("measure")[["estimate", "ci_low", "ci_high", "p_fwer"]]
    table = left.merge(
        right,
        left_index=True,
        right_index=True,
        suffixes=(" (as tested)", " (at equal mean FD)"),
    )
    return table.reset_index()


def _edge_matrices(
    edges: pd.DataFrame, labels: list[str], contrast: tuple[str, str]
) -> tuple[dict[str, Any], Any]:
    """Condition mean DMN matrices, their difference and the paired t of each edge."""
    a, b = contrast
    index = {label: k for k, label in enumerate(labels)}
    per_subject = edges.pivot_table(
        index="participant_id", columns=["condition", "region_a", "region_b"], values="value"
    )
    n = len(labels)

    def fill(values: Any) -> Any:
        matrix = np.zeros((n, n))
        for pair, value in values.items():
            i, j = index[str(pair[0])], index[str(pair[1])]
            matrix[i, j] = matrix[j, i] = value
        return matrix

    means: dict[str, Any] = {c: fill(per_subject[c].mean(axis=0)) for c in (b, a)}
    diff: Any = per_subject[a] - per_subject[b]
    counts = diff.notna().sum(axis=0)
    t_matrix = fill(diff.mean(axis=0) / (diff.std(axis=0, ddof=1) / np.sqrt(counts)))
    means[f"difference {a} - {b}"] = means[a] - means[b]
    return means, t_matrix


def connectivity_section(
    edges: pd.DataFrame | None, atlas: Atlas, contrast: tuple[str, str]
) -> Section | None:
    """Draw the DMN edge matrices by condition and their difference, and the strongest edges.

    Parameters
    ----------
    edges : pandas.DataFrame or None
        Edge-level rows (``participant_id``, ``condition``, ``region_a``,
        ``region_b``, ``value``).
    atlas : Atlas
        The study's atlas (DMN regions, subsystems, coordinates).
    contrast : tuple of str
        The conditions compared, first minus second.

    Returns
    -------
    Section or None
        Matrices ordered by DMN subsystem (where the atlas has them) on robust
        symmetric colour scales, and a glass brain of the 30 edges with the
        largest paired |t|; None without edges of both conditions.
    """
    if edges is None or edges.empty or not set(contrast) <= set(edges["condition"].unique()):
        return None
    indices = [int(i) for i in atlas.network_indices("DMN")]
    dmn = [atlas.labels[i] for i in indices]
    subsystems = [atlas.subsystems[i] for i in indices] if atlas.subsystems else []
    blocks = network_blocks(["DMN"] * len(dmn), subsystems)
    matrices, t_matrix = _edge_matrices(edges, dmn, contrast)
    split = "by DMN subsystem, " if len(blocks.names) > 1 else ""
    figures = [
        (
            matrix_figure(matrices, "within-DMN connectivity", blocks),
            f"Mean within-DMN connectivity under each condition and their difference: one row "
            f"and column per DMN region ({len(dmn)}), ordered {split}in atlas order within a "
            "block. Each colour scale is symmetric and ends at the 98th percentile of its "
            "|values| (the condition panels share one), so a few extreme edges do not wash "
            "out the rest.",
        )
    ]
    coords = [atlas.coords[i] for i in indices]
    if np.isfinite(np.asarray(coords, dtype=float)).all() and np.isfinite(t_matrix).any():
        shown, which = strongest_edges(t_matrix, None, EDGES_DRAWN, "paired t")
        a, b = contrast
        figures.append(
            (
                connectome_figure(shown, coords, f"strongest DMN edges, paired t ({a} - {b})"),
                f"DMN edges on a glass brain: {which}, coloured by paired t ({a} - {b}; red, "
                "higher under the first condition). Descriptive only: edges were not tested "
                "one by one (edge-level inference: NBS or max-T over edges with dmnpharm "
                "stats).",
            )
        )
    note = (
        "Connectivity between every pair of DMN regions, averaged over subjects "
        "(each subject's runs under a condition averaged first)."
    )
    return Section("connectivity", "Within-DMN connectivity", note, figures=figures)


def measures_section(
    metrics: pd.DataFrame, results: pd.DataFrame, contrast: tuple[str, str]
) -> Section | None:
    """Draw every measure in one small-multiples figure: each subject's value per condition.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Tidy network-level metrics (``participant_id``, ``measure``,
        ``condition``, ``value``, ``unit``).
    results : pandas.DataFrame
        Group results, one row per measure, in the order to draw.
    contrast : tuple of str
        The conditions compared, first minus second.

    Returns
    -------
    Section or None
        One panel per measure of ``results``; None when none can be drawn.
    """
    a, b = contrast
    per_subject = metrics.pivot_table(
        index="participant_id", columns=["measure", "condition"], values="value", aggfunc="mean"
    )
    units: Mapping[Any, Any] = {}
    if "unit" in metrics:
        units = metrics.groupby("measure")["unit"].first().to_dict()
    present = set(per_subject.columns.get_level_values(0))
    panels = []
    for row in results.to_dict("records"):
        measure = str(row["measure"])
        if measure not in present or not {a, b} <= set(per_subject[measure].columns):
            continue
        table = per_subject[measure][[b, a]].to_numpy(dtype=np.float64)
        p_fwer = float(row["p_fwer"])
        panels.append(
            Panel(
                measure,
                f"\u0394 {_num(float(row['estimate']), 2)} \u00b7 p FWER {_p(p_fwer)}",
                partial(draw_levels, table=table, levels=[b, a], small=True),
                highlight=p_fwer < 0.05,
                unit=str(units.get(measure, "") or ""),
            )
        )
    if not panels:
        return None
    caption = (
        f"All {len(panels)} measures tested, in the order of the results table. Grey: each "
        f"subject's mean over runs under {b} and {a}, joined; red: the condition means \u00b1 "
        f"1.96 SEM. Above each panel: the paired change ({a} - {b}; \u0394, in the unit on the "
        "y axis) and its p FWER; red frames mark p FWER < 0.05."
    )
    figure = (multiples_figure(panels), caption)
    return Section("measures", "Every measure", "Each measure by condition.", figures=[figure])
