"""Small multiples: every measure in one compact SVG figure, one small panel each.

A panel's drawing adds its marks (lines, dots, error bars) in data
coordinates to a :class:`Marks`; the ranges follow from the marks, and the
panel is then written as SVG (:mod:`._svg`). The one-measure figures of
:mod:`._figures` draw the same marks larger.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dmnpharm.report._svg import RED, Svg, nice_ticks, tick_labels
from dmnpharm.report._svg_plot import Plot, padded

__all__ = [
    "Marks",
    "Panel",
    "category_axis",
    "draw_groups",
    "draw_levels",
    "draw_scatter",
    "multiples_figure",
    "render_marks",
]

#: Panels per row of a small-multiples figure.
COLUMNS = 6
#: A panel's cell in pixels (width, height).
CELL = (190.0, 180.0)

_Array = npt.NDArray[np.float64]


@dataclass(eq=False)
class Marks:
    """A panel's marks in data coordinates, written once all are known.

    Parameters
    ----------
    segments : list
        ``(x1, y1, x2, y2, colour, width, opacity)`` groups of line segments.
    dots : list
        ``(x, y, radius, colour, opacity)`` groups of filled circles.
    squares : list
        ``(x, y, side, colour)`` groups of filled squares (the means).
    caps : list
        ``(x, y, half width, colour, line width)`` groups of horizontal caps,
        their width in pixels (the ends of error bars).
    x_ticks : tuple or None
        Categorical tick positions and labels; None: round numbers.
    x_limits : tuple or None
        The x range; None: the marks' extent with a 5 % margin.
    """

    segments: list[tuple[_Array, _Array, _Array, _Array, str, float, float]] = field(
        default_factory=list
    )
    dots: list[tuple[_Array, _Array, float, str, float]] = field(default_factory=list)
    squares: list[tuple[_Array, _Array, float, str]] = field(default_factory=list)
    caps: list[tuple[_Array, _Array, float, str, float]] = field(default_factory=list)
    x_ticks: tuple[list[float], list[str]] | None = None
    x_limits: tuple[float, float] | None = None

    def _values(self, axis: int) -> list[_Array]:
        parts: list[_Array] = []
        for x1, y1, x2, y2, *_ in self.segments:
            parts += [x1, x2] if axis == 0 else [y1, y2]
        for dx, dy, *_ in self.dots:
            parts.append(dx if axis == 0 else dy)
        for sx, sy, *_ in self.squares:
            parts.append(sx if axis == 0 else sy)
        return [np.ravel(p) for p in parts]

    def ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Return the x and y ranges: the marks' extents with 5 % margins (or ``x_limits``).

        Returns
        -------
        tuple
            ``((x_low, x_high), (y_low, y_high))`` (:func:`~._svg_plot.padded`).
        """
        x, y = (padded(np.concatenate(self._values(axis) or [np.empty(0)])) for axis in (0, 1))
        return self.x_limits or x, y

    def draw(self, plot: Plot) -> None:
        """Write the marks into a plotting area.

        Parameters
        ----------
        plot : Plot
            The area, with the ranges of :meth:`ranges`.
        """
        for x1, y1, x2, y2, colour, width, opacity in self.segments:
            shown = opacity if opacity < 1 else None
            ends = (plot.x(x1), plot.y(y1), plot.x(x2), plot.y(y2))
            plot.svg.segments(*ends, colour=colour, width=width, opacity=shown)
        for x, y, radius, colour, opacity in self.dots:
            plot.svg.dots(plot.x(x), plot.y(y), radius=radius, colour=colour, opacity=opacity)
        for x, y, half, colour, width in self.caps:
            px, py = plot.x(x), plot.y(y)
            plot.svg.segments(px - half, py, px + half, py, colour=colour, width=width)
        for x, y, side, colour in self.squares:
            for px, py in zip(plot.x(x), plot.y(y), strict=True):
                if math.isfinite(px) and math.isfinite(py):
                    plot.svg.rect(px - side / 2, py - side / 2, side, side, fill=colour)


def _mean_ci(values: _Array) -> tuple[float, float]:
    """Mean and 1.96 standard errors of the finite values (NaN when none)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return math.nan, math.nan
    sem = float(finite.std(ddof=1) / math.sqrt(finite.size)) if finite.size > 1 else 0.0
    return float(finite.mean()), 1.96 * sem


def _means(marks: Marks, x: _Array, stats: list[tuple[float, float]], small: bool) -> None:
    """Add means with their ±1.96 SEM bars (capped), joined when there are several."""
    mean = np.array([s[0] for s in stats])
    half = np.array([s[1] for s in stats])
    width = 1.6 if small else 2.2
    marks.segments.append((x, mean - half, x, mean + half, RED, width, 1.0))
    for end in (mean - half, mean + half):
        marks.caps.append((x, end, 2.8 if small else 5.5, RED, width * 0.8))
    if x.size > 1:
        marks.segments.append((x[:-1], mean[:-1], x[1:], mean[1:], RED, width, 1.0))
    marks.squares.append((x, mean, 4.5 if small else 7.0, RED))


def draw_levels(
    marks: Marks, table: npt.NDArray[np.float64], levels: Sequence[str], small: bool = False
) -> None:
    """Draw one line per subject across levels and the mean ± 1.96 SEM of each level.

    Parameters
    ----------
    marks : Marks
        Where to draw.
    table : numpy.ndarray
        Subjects x levels (NaN where a subject lacks a level: no line there).
    levels : sequence of str
        Level names, the columns of ``table`` in order.
    small : bool
        Thin lines and small markers, for a small-multiples panel.
    """
    values = np.asarray(table, dtype=np.float64)
    k = len(levels)
    x = np.broadcast_to(np.arange(k, dtype=np.float64), values.shape)
    marks.segments.append(
        (x[:, :-1], values[:, :-1], x[:, 1:], values[:, 1:], "#8c8c8c", 0.6 if small else 0.9, 0.6)
    )
    marks.dots.append((x, values, 1.3 if small else 2.4, "#737373", 0.6))
    _means(
        marks, np.arange(k, dtype=np.float64), [_mean_ci(values[:, j]) for j in range(k)], small
    )
    marks.x_ticks = (list(range(k)), [str(level) for level in levels])
    marks.x_limits = (-0.35, k - 0.65)


def draw_groups(
    marks: Marks,
    values: Sequence[npt.NDArray[np.float64]],
    order: Sequence[str],
    small: bool = False,
) -> None:
    """Draw one dot per subject by group, with each group's mean ± 1.96 SEM beside it.

    Parameters
    ----------
    marks : Marks
        Where to draw.
    values : sequence of numpy.ndarray
        One array of subject values per group, in ``order``.
    order : sequence of str
        Group names.
    small : bool
        Small markers, for a small-multiples panel.
    """
    for k, group in enumerate(values):
        y = np.sort(np.asarray(group, dtype=np.float64)[np.isfinite(group)])
        if not y.size:
            continue
        # spread the points evenly over a narrow band (no randomness)
        offsets = np.linspace(-0.15, 0.15, y.size) if y.size > 1 else np.zeros(1)
        marks.dots.append((k + offsets, y, 1.6 if small else 3.0, "#808080", 0.8))
        _means(marks, np.array([k + 0.3]), [_mean_ci(y)], small)
    marks.x_ticks = (list(range(len(order))), [str(g) for g in order])
    marks.x_limits = (-0.5, len(order) - 0.3)


def draw_scatter(
    marks: Marks, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], small: bool = False
) -> None:
    """Draw one dot per subject against a covariate, with the least-squares line.

    Parameters
    ----------
    marks : Marks
        Where to draw.
    x, y : numpy.ndarray
        Covariate and value per subject (pairs with a NaN are left out).
    small : bool
        Small markers, for a small-multiples panel.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    marks.dots.append((xs, ys, 1.6 if small else 3.2, "#666666", 1.0))
    if xs.size > 1 and np.ptp(xs) > 0:
        slope, intercept = np.polyfit(xs, ys, 1)
        ends = np.array([xs.min(), xs.max()])
        line = intercept + slope * ends
        marks.segments.append(
            (ends[:1], line[:1], ends[1:], line[1:], RED, 1.5 if small else 2.0, 1.0)
        )


def render_marks(plot_box: tuple[float, float, float, float], svg: Svg, marks: Marks) -> Plot:
    """Write marks into a new plotting area of ``svg``, with its x ticks; return the area.

    Parameters
    ----------
    plot_box : tuple of float
        ``(left, top, width, height)`` of the area in pixels.
    svg : Svg
        The drawing.
    marks : Marks
        What to draw.

    Returns
    -------
    Plot
        The area, for the caller's frame, y axis and labels.
    """
    x_range, y_range = marks.ranges()
    plot = Plot(svg, *plot_box, x_range, y_range)
    marks.draw(plot)
    return plot


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
        Adds the panel's marks to the :class:`Marks` it is given (with
        ``small=True`` sizes).
    highlight : bool
        Mark the panel (p FWER < 0.05): its note in red and a red frame.
    unit : str
        The y axis label ("" for none).
    """

    title: str
    note: str
    draw: Callable[[Marks], None]
    highlight: bool = False
    unit: str = ""


def category_axis(plot: Plot, marks: Marks, size: float, count: int = 3) -> None:
    """Label a panel's x axis with its categories (levels, groups), or with round numbers.

    Parameters
    ----------
    plot : Plot
        The panel's area.
    marks : Marks
        Its marks (their ``x_ticks`` name the categories).
    size : float
        Label size in pixels; long names are shortened.
    count : int
        About how many intervals round-number ticks make.
    """
    if marks.x_ticks is not None:
        positions, labels = marks.x_ticks
        short = [textwrap.shorten(label, 14, placeholder="\u2026") for label in labels]
        plot.x_axis(ticks=positions, labels=short, size=size)
    else:
        ticks = nice_ticks(*plot.x_range, count)
        plot.x_axis(ticks=ticks, labels=tick_labels(ticks), size=size)


def multiples_figure(panels: Sequence[Panel], columns: int = COLUMNS) -> str:
    """Draw every panel in one grid figure, as an SVG data URI.

    Parameters
    ----------
    panels : sequence of Panel
        In reading order (left to right, top to bottom).
    columns : int
        Panels per row at most.

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``; 190 px per panel column.
    """
    columns = max(1, min(columns, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    cell_w, cell_h = CELL
    svg = Svg(cell_w * columns, cell_h * rows + 10)
    for index, panel in enumerate(panels):
        left, top = cell_w * (index % columns), cell_h * (index // columns) + 5
        marks = Marks()
        panel.draw(marks)
        plot = render_marks((left + 48, top + 44, cell_w - 58, cell_h - 76), svg, marks)
        colour = RED if panel.highlight else "#999999"
        frame = 1.2 if panel.highlight else 0.7
        svg.rect(plot.left, plot.top, plot.width, plot.height, stroke=colour, stroke_width=frame)
        plot.y_axis(size=8, count=4)
        category_axis(plot, marks, 8)
        centre = left + cell_w / 2
        title = textwrap.shorten(panel.title, 34, placeholder="\u2026")
        svg.text(centre, top + 13, title, size=9.7)
        note_colour = RED if panel.highlight else "#595959"
        svg.text(centre, top + 29, panel.note, size=9, colour=note_colour, bold=panel.highlight)
        if panel.unit:
            svg.text(left + 9, plot.top + plot.height / 2, panel.unit, size=8, rotate=-90)
    return svg.uri()
