"""Figures of permutation nulls: of the maximum statistic (as reports draw it), per measure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm.report._figures import figure_uri
from dmnpharm.report._html import Section
from dmnpharm.stats import PermutationNull

__all__ = ["max_null_figure", "null_figure", "null_section"]

#: Measures named on the maximum-statistic null at most (the strongest beyond 5 % FWER).
LABELLED = 5


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
    names: Sequence[str] | npt.NDArray[np.object_] = (),
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
    names : sequence of str
        The measures' names, same order as ``observed``: the strongest few
        beyond the critical value are labelled.

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    values = _finite(maximum)
    raw = np.asarray(observed, dtype=np.float64)
    raw = np.abs(raw) if statistic == "t" else raw
    seen = _finite(raw)
    fig = Figure(figsize=(7.2, 2.9), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.16)
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
        many = seen.size >= 200
        ax.plot(
            seen,
            np.zeros_like(seen),
            "|",
            color="C3",
            markersize=14,
            markeredgewidth=0.5 if many else 1.5,
            alpha=0.3 if many else 1.0,
        )
    if len(names) == raw.size and math.isfinite(threshold):
        beyond = np.flatnonzero(np.isfinite(raw) & (raw >= threshold))
        strongest = beyond[np.argsort(-raw[beyond], kind="stable")][:LABELLED]
        for rank, k in enumerate(strongest):
            ax.annotate(
                str(names[k]),
                (raw[k], 0),
                xytext=(-4, 12 + 10 * rank),
                textcoords="offset points",
                ha="right",
                fontsize=6.5,
                color="C3",
            )
    ax.set_xlabel(f"largest permuted {name} over measures (red: observed {name})", fontsize=8)
    ax.set_ylabel("permutations", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return figure_uri(fig)


def null_section(results: pd.DataFrame, null: PermutationNull) -> Section:
    """Build the report section of the permutation null behind a result table.

    One figure for every measure: the null of the maximum statistic, which
    gives each measure's p FWER, with every observed statistic marked on it.

    Parameters
    ----------
    results : pandas.DataFrame
        Group results with ``measure`` and ``statistic`` (the rows ``null``
        was computed for).
    null : PermutationNull
        From :func:`dmnpharm.stats.analyse` (``StatsResult.null``).

    Returns
    -------
    Section
        The maximum-statistic null with its 5 % critical value.
    """
    threshold = null.fwer_threshold(0.05)
    name = "|t|" if null.statistic == "t" else "F"
    count = null.n_permutations
    rule = (
        f"p = count / {count} (every flip enumerated, the identity among them)"
        if null.exact
        else f"p = (count + 1) / ({count} + 1)"
    )
    critical = f"{threshold:.3g}" if math.isfinite(threshold) else "not reachable"
    observed = pd.to_numeric(results["statistic"], errors="coerce").to_numpy(dtype=np.float64)
    shown = np.abs(observed) if null.statistic == "t" else observed
    beyond = int(np.sum(np.isfinite(shown) & (shown >= threshold)))
    figure = max_null_figure(
        null.maximum,
        observed,
        threshold,
        null.statistic,
        f"maximum {name} over {len(results):,} measures, {count:,} permutations",
        results["measure"].to_numpy(dtype=object),
    )
    caption = (
        f"Null of the largest {name} over all {len(results):,} measures in each permutation; "
        f"red ticks: every measure's observed {name} ({beyond:,} beyond the family-wise 5 % "
        f"critical value {critical}, dashed; up to {LABELLED} of them labelled). A "
        f"measure's p FWER is the share of this null at or above its observed {name}."
    )
    note = (
        f"Each permutation (or sign flip) of the data gives a value of the statistic for "
        f"every measure. A measure's permutation p counts the permutations whose {name} "
        f"reaches the observed one: {rule}; p FWER does the same with the largest {name} "
        f"over all measures, drawn here."
    )
    return Section("nulls", "Permutation null", note, figures=[(figure, caption)])
