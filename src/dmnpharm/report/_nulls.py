"""Figures of permutation null distributions: per measure, and of the maximum statistic."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm.report._figures import figure_uri
from dmnpharm.report._html import Section
from dmnpharm.stats import NULL_MEASURE_LIMIT, PermutationNull

__all__ = ["max_null_figure", "null_figure", "null_section"]

#: Per-measure null figures drawn at most (the measures with the smallest p): the
#: maximum-statistic null beside them covers every measure's family-wise p.
NULL_FIGURES_SHOWN = 6


def _label(statistic: str) -> str:
    return "t" if statistic == "t" else "F"


def _finite(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    finite: npt.NDArray[np.float64] = array[np.isfinite(array)]
    return finite


def _mark(ax: Axes, value: float, low: float, high: float, **style: Any) -> None:
    """Draw a vertical line at ``value`` when it is finite and inside the axis."""
    if math.isfinite(value) and low <= value <= high:
        ax.axvline(value, **style)


def null_figure(
    null: npt.ArrayLike,
    observed: float,
    threshold: float,
    statistic: str,
    title: str,
) -> str:
    """Draw one measure's permutation null with the observed statistic, as a PNG data URI.

    Parameters
    ----------
    null : array_like
        The measure's statistic under each permutation (signed t, or F).
    observed : float
        The observed statistic (red line; for t also its mirror, dotted, since
        the p-value is two-sided).
    threshold : float
        The family-wise 5 % critical value of the maximum statistic (dashed
        grey; for t at plus and minus); ``inf`` when none is reachable.
    statistic : str
        ``"t"`` or ``"F"``.
    title : str
        Figure title (the measure).

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    values = _finite(null)
    fig = Figure(figsize=(3.7, 2.7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if values.size:
        ax.hist(values, bins=40, color="0.65", edgecolor="white", linewidth=0.3)
    two_sided = statistic == "t"
    points = [float(v) for v in (observed, threshold) if math.isfinite(v)]
    if two_sided:
        points += [-p for p in points]
    reach = np.concatenate([values, np.asarray(points, dtype=np.float64), [0.0]])
    low, high = float(np.min(reach)), float(np.max(reach))
    margin = 0.05 * (high - low) or 1.0
    low, high = low - margin, high + margin
    ax.set_xlim(low, high)
    if math.isfinite(threshold):
        for edge in (-threshold, threshold) if two_sided else (threshold,):
            _mark(ax, edge, low, high, color="0.25", linestyle="--", linewidth=1)
    _mark(ax, observed, low, high, color="C3", linewidth=2)
    if two_sided:
        _mark(ax, -observed, low, high, color="C3", linestyle=":", linewidth=1.2)
    shown = f"{observed:.3g}" if math.isfinite(observed) else str(observed)
    ax.set_title(f"{title}\nobserved {_label(statistic)} = {shown}", fontsize=9)
    ax.set_xlabel(f"permuted {_label(statistic)}", fontsize=8)
    ax.set_ylabel("permutations", fontsize=8)
    ax.tick_params(labelsize=7)
    return figure_uri(fig)


def max_null_figure(
    maximum: npt.ArrayLike,
    observed: npt.ArrayLike,
    threshold: float,
    statistic: str,
    title: str,
) -> str:
    """Draw the null of the maximum statistic over measures, as a PNG data URI.

    Parameters
    ----------
    maximum : array_like
        Per permutation, the largest ``|t|`` (or F) over all measures.
    observed : array_like
        The observed statistics of the measures, drawn as red ticks under the
        axis (as ``|t|`` for t).
    threshold : float
        The family-wise 5 % critical value (dashed line); ``inf`` for none.
    statistic : str
        ``"t"`` or ``"F"``.
    title : str
        Figure title.

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    values = _finite(maximum)
    seen = np.asarray(observed, dtype=np.float64)
    seen = _finite(np.abs(seen) if statistic == "t" else seen)
    fig = Figure(figsize=(5.2, 2.9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if values.size:
        ax.hist(values, bins=50, color="0.65", edgecolor="white", linewidth=0.3)
    name = "|t|" if statistic == "t" else "F"
    if math.isfinite(threshold):
        ax.axvline(threshold, color="0.25", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"FWER 5 %: {threshold:.3g}",
            (threshold, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
        )
    if seen.size:
        ax.plot(seen, np.zeros_like(seen), "|", color="C3", markersize=14, markeredgewidth=1.5)
    ax.set_xlabel(f"largest permuted {name} over measures (red: observed {name})", fontsize=8)
    ax.set_ylabel("permutations", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return figure_uri(fig)


def null_section(
    results: pd.DataFrame, null: PermutationNull, shown: int = NULL_FIGURES_SHOWN
) -> Section:
    """Build the report section of the permutation nulls behind a result table.

    Parameters
    ----------
    results : pandas.DataFrame
        Group results with ``measure``, ``statistic``, ``p_uncorrected`` and
        ``p_fwer`` (the rows ``null`` was computed for).
    null : PermutationNull
        From :func:`dmnpharm.stats.analyse` (``StatsResult.null``).
    shown : int
        Per-measure figures drawn at most: the measures with the smallest
        ``p_fwer`` (then ``p_uncorrected``), in table order.

    Returns
    -------
    Section
        The maximum-statistic null with its 5 % critical value, then one
        histogram per shown measure with its observed statistic.
    """
    threshold = null.fwer_threshold(0.05)
    label = _label(null.statistic)
    name = "|t|" if null.statistic == "t" else "F"
    count = null.n_permutations
    rule = (
        f"p = count / {count} (every flip enumerated, the identity among them)"
        if null.exact
        else f"p = (count + 1) / ({count} + 1)"
    )
    critical = f"{threshold:.3g}" if math.isfinite(threshold) else "not reachable"
    figures = [
        (
            max_null_figure(
                null.maximum,
                results["statistic"],
                threshold,
                null.statistic,
                f"maximum {name} over {len(results)} measures",
            ),
            f"Null of the largest {name} over all measures in each of {count} permutations; "
            f"a measure's p FWER is the share of it at or above the measure's observed {name} "
            f"(red ticks). Dashed: the family-wise 5 % critical value ({critical}).",
        )
    ]
    note = (
        f"Each permutation (or sign flip) of the data gives a value of the statistic for "
        f"every measure. A measure's permutation p counts the permutations whose {name} "
        f"reaches the observed one: {rule}; p FWER does the same with the largest {name} "
        f"over all measures."
    )
    if null.per_measure is None:
        note += (
            f" This table has more than {NULL_MEASURE_LIMIT} measures, so only the null of "
            "the maximum statistic was kept."
        )
        return Section("nulls", "Permutation null distributions", note, figures=figures)
    measures = list(null.measures) or [str(m) for m in results["measure"]]
    observed = dict(zip(measures, results["statistic"].astype(float), strict=True))
    ranked = results.assign(_order=np.arange(len(results))).sort_values(
        ["p_fwer", "p_uncorrected", "_order"], kind="stable"
    )
    chosen = set(ranked["measure"].astype(str).head(shown))
    for k, measure in enumerate(measures):
        if measure not in chosen:
            continue
        row = results.iloc[k]
        figures.append(
            (
                null_figure(
                    null.per_measure[:, k], observed[measure], threshold, null.statistic, measure
                ),
                f"{measure}: {label} under each of {count} permutations; red: observed {label} "
                f"(p = {float(row['p_uncorrected']):.4g}, p FWER = {float(row['p_fwer']):.4g})"
                + ("; dotted: its mirror, as extreme" if null.statistic == "t" else "")
                + "; dashed: family-wise 5 % critical value.",
            )
        )
    if len(measures) > shown:
        note += f" Histograms for the {shown} measures with the smallest p of {len(measures)}."
    return Section("nulls", "Permutation null distributions", note, figures=figures)
