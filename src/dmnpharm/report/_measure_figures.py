"""One measure per figure, as SVG: by condition, by group, or against a covariate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.report._multiples import (
    Marks,
    category_axis,
    draw_groups,
    draw_levels,
    draw_scatter,
    render_marks,
)
from dmnpharm.report._svg import RED, Svg

__all__ = ["covariate_figure", "group_values_figure", "paired_condition_figure"]


def _figure(marks: Marks, title: str, ylabel: str, xlabel: str = "", legend: bool = True) -> str:
    """Write one panel of marks at full size with its title, labels and legend."""
    svg = Svg(460, 396)
    plot = render_marks((78, 54, 362, 280), svg, marks)
    svg.rect(plot.left, plot.top, plot.width, plot.height, stroke="#999999", stroke_width=0.8)
    plot.y_axis(ylabel, size=10)
    category_axis(plot, marks, 10, count=5)
    if xlabel:
        svg.text(plot.left + plot.width / 2, plot.top + plot.height + 42, xlabel, size=11)
    svg.text(plot.left + plot.width / 2, 24, title, size=13)
    if legend:
        # Above the plot's top right corner: it never hides a subject's values.
        right, y = plot.left + plot.width, plot.top - 9
        svg.segments(right - 124, y, right - 106, y, colour=RED, width=2)
        svg.text(right - 100, y, "mean \u00b1 1.96 SEM", size=10, anchor="start", middle=True)
    return svg.uri()


def paired_condition_figure(
    values: pd.DataFrame,
    conditions: Sequence[str],
    title: str,
    ylabel: str,
) -> str:
    """Plot one measure by condition with one line per subject, as an SVG data URI.

    Parameters
    ----------
    values : pandas.DataFrame
        Subjects (index) x conditions (columns): each subject's mean value
        under each condition.
    conditions : sequence of str
        Column order on the x axis.
    title, ylabel : str
        Axis annotations.

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``, ready for an ``<img src>``.
    """
    marks = Marks()
    table = values[list(conditions)].to_numpy(dtype=np.float64)
    draw_levels(marks, table, [str(c) for c in conditions])
    return _figure(marks, title, ylabel)


def group_values_figure(
    values: pd.Series,
    groups: pd.Series,
    order: Sequence[str],
    title: str,
    ylabel: str,
) -> str:
    """Plot one value per subject by group, with each group's mean, as an SVG data URI.

    Parameters
    ----------
    values : pandas.Series
        One value per subject (e.g. a measure, or its change between sessions).
    groups : pandas.Series
        Each subject's group, same index as ``values``.
    order : sequence of str
        Groups on the x axis, in order (others are not drawn).
    title, ylabel : str
        Axis annotations.

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``.
    """
    labels = groups.astype(str).reindex(values.index)
    arrays = [values[labels == str(group)].to_numpy(dtype=np.float64) for group in order]
    marks = Marks()
    draw_groups(marks, arrays, [str(g) for g in order])
    return _figure(marks, title, ylabel)


def covariate_figure(
    covariate: npt.ArrayLike,
    values: npt.ArrayLike,
    title: str,
    xlabel: str,
    ylabel: str,
) -> str:
    """Plot one value per subject against a covariate with the least-squares line.

    Parameters
    ----------
    covariate : array_like
        One covariate value per subject (e.g. a symptom rating).
    values : array_like
        One measure value (or change) per subject, same order.
    title, xlabel, ylabel : str
        Axis annotations.

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``.
    """
    marks = Marks()
    draw_scatter(marks, np.asarray(covariate, np.float64), np.asarray(values, np.float64))
    return _figure(marks, title, ylabel, xlabel, legend=False)
