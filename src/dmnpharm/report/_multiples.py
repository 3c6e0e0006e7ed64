"""Small multiples: every measure in one compact figure, one small panel each.

The panel drawings are shared with the one-measure figures of :mod:`._figures`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dmnpharm.report._png import png_uri

__all__ = ["Panel", "draw_groups", "draw_levels", "draw_scatter", "multiples_figure"]

#: Panels per row of a small-multiples figure.
COLUMNS = 6

_MEAN = "#c0392b"


def _mean_ci(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Mean and 1.96 standard errors of the finite values (NaN when none)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return math.nan, math.nan
    sem = float(finite.std(ddof=1) / math.sqrt(finite.size)) if finite.size > 1 else 0.0
    return float(finite.mean()), 1.96 * sem


def draw_levels(
    ax: Axes, table: npt.NDArray[np.float64], levels: Sequence[str], small: bool = False
) -> None:
    """Draw one line per subject across levels and the mean ± 1.96 SEM of each level.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    table : numpy.ndarray
        Subjects x levels (NaN where a subject lacks a level).
    levels : sequence of str
        Level names, the columns of ``table`` in order.
    small : bool
        Thin lines and small markers, for a small-multiples panel.
    """
    x = np.arange(len(levels), dtype=np.float64)
    points = np.stack([np.broadcast_to(x, table.shape), table], axis=-1)
    lines = LineCollection(list(points), colors="0.55", linewidths=0.5 if small else 0.8)
    lines.set_alpha(0.6)
    ax.add_collection(lines)
    ax.plot(
        np.broadcast_to(x, table.shape).ravel(),
        table.ravel(),
        "o",
        color="0.45",
        markersize=1.2 if small else 2.5,
        alpha=0.6,
    )
    stats = [_mean_ci(table[:, k]) for k in range(len(levels))]
    ax.errorbar(
        x,
        [s[0] for s in stats],
        yerr=[s[1] for s in stats],
        color=_MEAN,
        linewidth=1.6 if small else 2.2,
        marker="s",
        markersize=3 if small else 5,
        capsize=2 if small else 4,
        label="mean ± 1.96 SEM",
    )
    ax.set_xticks(x, [str(level) for level in levels])
    ax.set_xlim(-0.35, len(levels) - 0.65)
    ax.autoscale_view(scalex=False)


def draw_groups(
    ax: Axes,
    values: Sequence[npt.NDArray[np.float64]],
    order: Sequence[str],
    small: bool = False,
) -> None:
    """Draw one dot per subject by group, with each group's mean ± 1.96 SEM beside it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    values : sequence of numpy.ndarray
        One array of subject values per group, in ``order``.
    order : sequence of str
        Group names.
    small : bool
        Small markers, for a small-multiples panel.
    """
    for k, group in enumerate(values):
        y = np.sort(group[np.isfinite(group)])
        if not y.size:
            continue
        # spread the points evenly over a narrow band (no randomness)
        offsets = np.linspace(-0.15, 0.15, y.size) if y.size > 1 else np.zeros(1)
        ax.plot(k + offsets, y, "o", color="0.5", markersize=1.8 if small else 3.5, alpha=0.8)
        mean, half = _mean_ci(y)
        ax.errorbar(
            k + 0.3,
            mean,
            yerr=half,
            color=_MEAN,
            marker="s",
            markersize=3 if small else 5,
            capsize=2 if small else 4,
            linewidth=1.6 if small else 2,
            label="mean ± 1.96 SEM" if k == 0 else None,
        )
    ax.set_xticks(np.arange(len(order)), [str(g) for g in order])
    ax.set_xlim(-0.5, len(order) - 0.3)


def draw_scatter(
    ax: Axes, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], small: bool = False
) -> None:
    """Draw one dot per subject against a covariate, with the least-squares line.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    x, y : numpy.ndarray
        Covariate and value per subject (pairs with a NaN are left out).
    small : bool
        Small markers, for a small-multiples panel.
    """
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    ax.plot(x, y, "o", color="0.4", markersize=1.8 if small else 4)
    if x.size > 1 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        line = np.array([x.min(), x.max()])
        ax.plot(line, intercept + slope * line, color=_MEAN, linewidth=1.5 if small else 2)


@dataclass(frozen=True)
class Panel:
    """One measure's panel in a small-multiples figure.

    Parameters
    ----------
    title : str
        The measure.
    note : str
        A second line: the estimate and its p FWER, say.
    draw : callable
        Draws the panel on the axes it is given (with ``small=True`` sizes).
    highlight : bool
        Mark the panel (p FWER < 0.05): its note in red and a red frame.
    unit : str
        The y axis label ("" for none).
    """

    title: str
    note: str
    draw: Callable[[Axes], None]
    highlight: bool = False
    unit: str = ""


def multiples_figure(panels: Sequence[Panel], columns: int = COLUMNS) -> str:
    """Draw every panel in one grid figure, as a PNG data URI.

    Parameters
    ----------
    panels : sequence of Panel
        In reading order (left to right, top to bottom).
    columns : int
        Panels per row at most.

    Returns
    -------
    str
        ``data:image/png;base64,...``; about 190 px per panel column.
    """
    columns = max(1, min(columns, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = 1.9 * columns, 1.8 * rows + 0.1
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    fig.subplots_adjust(
        left=0.45 / width,
        right=1 - 0.08 / width,
        top=1 - 0.5 / height,
        bottom=0.3 / height,
        wspace=0.55,
        hspace=0.75 if rows > 1 else 0.2,
    )
    for ax, panel in zip(axes, panels, strict=False):
        panel.draw(ax)
        title = textwrap.shorten(panel.title, 34, placeholder="\u2026")
        # Text placed by hand: a title's automatic placement costs a layout pass per panel.
        ax.text(0.5, 1.16, title, transform=ax.transAxes, ha="center", va="bottom", fontsize=7)
        ax.text(
            0.5,
            1.03,
            panel.note,
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=6.5,
            color=_MEAN if panel.highlight else "0.35",
            fontweight="bold" if panel.highlight else "normal",
        )
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize=6, length=2, pad=1)
        if panel.unit:
            ax.set_ylabel(panel.unit, fontsize=6, labelpad=1)
        ax.yaxis.get_offset_text().set_fontsize(6)
        for spine in ax.spines.values():
            spine.set_color(_MEAN if panel.highlight else "0.6")
            spine.set_linewidth(1.0 if panel.highlight else 0.6)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return png_uri(fig)
