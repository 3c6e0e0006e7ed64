"""Figures of permutation nulls: of the maximum statistic (as reports draw it), per measure."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.report._html import Section
from dmnpharm.report._svg import RED, Svg
from dmnpharm.report._svg_plot import Plot, padded
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


def _marks(
    plot: Plot, values: Sequence[float], colour: str, width: float, dash: str | None = None
) -> None:
    """Draw vertical lines across the plot at the finite values inside its x range."""
    low, high = plot.x_range
    inside = [v for v in values if math.isfinite(v) and low <= v <= high]
    if inside:
        x = plot.x(inside)
        plot.svg.segments(
            x, plot.top, x, plot.top + plot.height, colour=colour, width=width, dash=dash
        )


_Range = tuple[float, float]


def _histogram(
    values: npt.NDArray[np.float64], bins: int, points: npt.ArrayLike
) -> tuple[
    tuple[float, float], tuple[float, float], npt.NDArray[np.intp], npt.NDArray[np.float64]
]:
    """Bin the null once; return the x range, the y range, the counts and the bin edges.

    The x range holds the null, the finite ``points`` (observed statistics,
    critical values) and zero.
    """
    span = padded(np.concatenate([values, np.ravel(np.asarray(points, np.float64)), [0.0]]))
    counts, edges = np.histogram(values, bins=bins) if values.size else (np.zeros(0, int), [])
    top = max(float(counts.max(initial=0)), 1.0) * 1.05
    return span, (0.0, top), counts, np.asarray(edges, dtype=np.float64)


def null_figure(
    null: npt.ArrayLike,
    observed: float,
    threshold: float,
    statistic: str,
    title: str,
) -> str:
    """Draw one measure's permutation null with the observed statistic, as an SVG data URI.

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
        ``data:image/svg+xml;base64,...``.
    """
    values = _finite(null)
    two_sided = statistic == "t"
    points = [float(v) for v in (observed, threshold) if math.isfinite(v)]
    if two_sided:
        points += [-p for p in points]
    svg = Svg(370, 270)
    x_range, y_range, counts, edges = _histogram(values, 40, points)
    plot = Plot(svg, 60, 46, 295, 170, x_range, y_range)
    plot.bars(edges, counts, fill="#a6a6a6")
    if math.isfinite(threshold):
        critical = [-threshold, threshold] if two_sided else [threshold]
        _marks(plot, critical, "#404040", 1.0, dash="4 3")
    _marks(plot, [observed], RED, 2.0)
    if two_sided:
        _marks(plot, [-observed], RED, 1.2, dash="1.5 2")
    plot.frame()
    plot.x_axis(f"permuted {_label(statistic)}")
    plot.y_axis("permutations")
    shown = f"{observed:.3g}" if math.isfinite(observed) else str(observed)
    svg.text(plot.left + plot.width / 2, 16, title, size=12.5)
    svg.text(plot.left + plot.width / 2, 33, f"observed {_label(statistic)} = {shown}", size=12.5)
    return svg.uri()


def _observed_ticks(plot: Plot, seen: npt.NDArray[np.float64]) -> None:
    """Mark every observed value as a red tick at the base, one tick per pixel column.

    A column holding k values is as dark as k ticks at 30 % opacity laid on
    one another; with few values each is drawn solid.
    """
    if not seen.size:
        return
    base = plot.top + plot.height
    if seen.size < 200:
        plot.svg.segments(plot.x(seen), base, plot.x(seen), base - 12, colour=RED, width=1.5)
        return
    columns, counts = np.unique(np.round(plot.x(seen)), return_counts=True)
    opacity = 1 - 0.7**counts
    for level in np.unique(np.round(opacity, 1)):
        chosen = columns[np.round(opacity, 1) == level]
        plot.svg.segments(
            chosen, base, chosen, base - 12, colour=RED, width=1.0, opacity=float(level)
        )


def max_null_figure(
    maximum: npt.ArrayLike,
    observed: npt.ArrayLike,
    threshold: float,
    statistic: str,
    title: str,
    names: Sequence[str] | npt.NDArray[np.object_] = (),
) -> str:
    """Draw the null of the maximum statistic over measures, as an SVG data URI.

    Parameters
    ----------
    maximum : array_like
        Per permutation, the largest ``|t|`` (or F) over all measures.
    observed : array_like
        The observed statistics of the measures, drawn as red ticks at the
        base of the axis (as ``|t|`` for t).
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
        ``data:image/svg+xml;base64,...``.
    """
    values = _finite(maximum)
    raw = np.asarray(observed, dtype=np.float64)
    raw = np.abs(raw) if statistic == "t" else raw
    seen = _finite(raw)
    svg = Svg(720, 290)
    x_range, y_range, counts, edges = _histogram(values, 50, np.append(seen, threshold))
    plot = Plot(svg, 64, 30, 636, 200, x_range, y_range)
    plot.bars(edges, counts, fill="#a6a6a6")
    name = "|t|" if statistic == "t" else "F"
    _observed_ticks(plot, seen)
    if math.isfinite(threshold):
        _marks(plot, [threshold], "#404040", 1.2, dash="4 3")
        x = float(plot.x(threshold))
        svg.text(x + 4, plot.top + 13, f"FWER 5 %: {threshold:.3g}", size=10.5, anchor="start")
    if len(names) == raw.size and math.isfinite(threshold):
        beyond = np.flatnonzero(np.isfinite(raw) & (raw >= threshold))
        strongest = beyond[np.argsort(-raw[beyond], kind="stable")][:LABELLED]
        base = plot.top + plot.height
        for rank, k in enumerate(strongest):
            x = float(plot.x(raw[k])) - 4
            svg.text(x, base - 16 - 11 * rank, str(names[k]), size=8.5, anchor="end", colour=RED)
    plot.frame()
    plot.x_axis(f"largest permuted {name} over measures (red: observed {name})")
    plot.y_axis("permutations")
    svg.text(plot.left + plot.width / 2, 18, title, size=12.5)
    return svg.uri()


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
