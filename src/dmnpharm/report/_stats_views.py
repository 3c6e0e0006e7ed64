"""Views of a ``dmnpharm stats`` analysis of any size: values per measure, edges, p-values.

A large analysis (thousands of edges) is summarised, never listed: the strongest
measures, a region x region matrix of the statistic, and the histogram of p.
"""

from __future__ import annotations

import textwrap
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.report._html import Section
from dmnpharm.report._matrices import network_blocks
from dmnpharm.report._matrix_figure import matrix_figure
from dmnpharm.report._multiples import Panel, draw_groups, draw_levels, draw_scatter
from dmnpharm.report._summary import _num, _p
from dmnpharm.report._svg import RED, Svg
from dmnpharm.report._svg_plot import Plot, padded
from dmnpharm.stats import ModelSpec, split_measure_name

__all__ = ["edge_section", "estimates_figure", "p_histogram_figure", "value_panels"]


def _levels(table: pd.DataFrame, spec: ModelSpec, present: list[str]) -> list[str]:
    """Levels of ``within`` in the order drawn: the contrast's, by dose for a trend, or sorted."""
    if spec.contrast:
        return [spec.contrast[1], spec.contrast[0]]
    levels = sorted(present)
    if spec.trend and spec.trend in table and spec.within:
        dose = pd.to_numeric(table[spec.trend], errors="coerce").groupby(
            table[spec.within].astype(str)
        )
        means = dose.mean()
        levels = sorted(levels, key=lambda level: (means.get(level, np.inf), level))
    return levels


def _subject_column(table: pd.DataFrame, spec: ModelSpec, column: str) -> pd.Series:
    """One value of a subject-level column per subject."""
    return table.groupby(spec.subject, sort=False)[column].first()


def value_panels(
    table: pd.DataFrame, spec: ModelSpec, results: pd.DataFrame, measures: list[str]
) -> list[Panel]:
    """One small-multiples panel per measure, drawn the way the model compares it.

    Parameters
    ----------
    table : pandas.DataFrame
        The metrics table.
    spec : ModelSpec
        The model: paired levels, a change by group or against a covariate,
        levels of a repeated factor, or one value per subject by group or
        against a covariate.
    results : pandas.DataFrame
        The result rows (for the panels' notes).
    measures : list of str
        The measures to draw, in order.

    Returns
    -------
    list of Panel
        Measures the model cannot draw (no subject has the needed values)
        are left out.
    """
    chosen = table[table["measure"].isin(measures)]
    chosen = chosen.assign(measure=chosen["measure"].astype(str))
    picked = results[results["measure"].astype(str).isin(measures)]
    by_row = {str(r["measure"]): r for r in picked.to_dict("records")}
    units: dict[Any, Any] = {}
    if "unit" in chosen:
        units = chosen.groupby("measure")["unit"].first().to_dict()
    if spec.within:
        chosen = chosen.assign(_level=chosen[spec.within].astype(str))
        wide = chosen.pivot_table(
            index=spec.subject, columns=["measure", "_level"], values="value", aggfunc="mean"
        )
    else:
        wide = chosen.pivot_table(
            index=spec.subject, columns="measure", values="value", aggfunc="mean"
        )
    groups = covariate = None
    if spec.between:
        groups = _subject_column(table, spec, spec.between).astype(str)
    elif spec.test_covariate:
        covariate = pd.to_numeric(_subject_column(table, spec, spec.test_covariate), "coerce")
    panels = []
    for measure in measures:
        if measure not in wide.columns.get_level_values(0):
            continue
        values = wide[measure]
        draw = _drawing(values, table, spec, groups, covariate)
        if draw is None:
            continue
        row = by_row.get(measure, {})
        p_fwer = float(row.get("p_fwer", np.nan))
        estimate = float(row.get("estimate", np.nan))
        shown = (
            f"\u0394 {_num(estimate, 2)}"
            if np.isfinite(estimate)
            else f"F {_num(float(row.get('statistic', np.nan)), 2)}"
        )
        unit = units.get(measure)
        panels.append(
            Panel(
                measure,
                f"{shown} \u00b7 p FWER {_p(p_fwer)}",
                draw,
                highlight=bool(p_fwer < 0.05),
                unit=str(unit) if isinstance(unit, str) else "",
            )
        )
    return panels


def _drawing(
    values: pd.DataFrame | pd.Series,
    table: pd.DataFrame,
    spec: ModelSpec,
    groups: pd.Series | None,
    covariate: pd.Series | None,
) -> Any:
    """Return the panel's drawing function for one measure's subject values, or None."""
    if spec.within:
        assert isinstance(values, pd.DataFrame)
        if spec.contrast:
            a, b = spec.contrast
            if not {a, b} <= set(values.columns):
                return None
            if spec.between or spec.test_covariate:
                values = (values[a] - values[b]).dropna()
            else:
                table_ = values[[b, a]].to_numpy(dtype=np.float64)
                return partial(draw_levels, table=table_, levels=[b, a], small=True)
        else:
            levels = _levels(table, spec, [str(c) for c in values.columns])
            table_ = values[levels].to_numpy(dtype=np.float64)
            return partial(draw_levels, table=table_, levels=levels, small=True)
    series = values if isinstance(values, pd.Series) else values.iloc[:, 0]
    if groups is not None and spec.between:
        labels = groups.reindex(series.index)
        order = list(spec.between_contrast or sorted(set(labels.dropna())))
        arrays = [series[labels == g].to_numpy(dtype=np.float64) for g in order]
        return partial(draw_groups, values=arrays, order=order, small=True)
    if covariate is not None:
        x = covariate.reindex(series.index).to_numpy(dtype=np.float64)
        return partial(draw_scatter, x=x, y=series.to_numpy(dtype=np.float64), small=True)
    return None


def estimates_figure(rows: pd.DataFrame, title: str) -> str:
    """Draw each row's estimate with its confidence interval on one axis (strongest on top).

    Parameters
    ----------
    rows : pandas.DataFrame
        Result rows (``measure``, ``estimate``, ``ci_low``, ``ci_high``,
        ``p_fwer``), in the order to list them.
    title : str
        Figure title.

    Returns
    -------
    str
        An SVG data URI; rows with p FWER < 0.05 in red.
    """
    n = len(rows)
    svg = Svg(700, 70 + 20 * n)
    estimate, low, high, p_fwer = (
        pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=np.float64)
        for c in ("estimate", "ci_low", "ci_high", "p_fwer")
    )
    span = padded(np.concatenate([estimate, low, high, [0.0]]))  # zero always shown
    plot = Plot(svg, 294, 30, 385, 20 * max(n, 1), span, (n, 0))
    y = plot.y(np.arange(n) + 0.5)
    zero = float(plot.x(0.0))
    svg.segments(zero, plot.top, zero, plot.top + plot.height, colour="#999", width=0.8)
    passed = p_fwer < 0.05
    for flag, colour in ((False, "#595959"), (True, RED)):
        chosen = passed == flag
        svg.segments(
            plot.x(low[chosen]),
            y[chosen],
            plot.x(high[chosen]),
            y[chosen],
            colour=colour,
            width=1.2,
        )
        svg.dots(plot.x(estimate[chosen]), y[chosen], radius=2.6, colour=colour)
    labels = [textwrap.shorten(str(m), 48, placeholder="\u2026") for m in rows["measure"]]
    plot.frame()
    plot.y_axis(ticks=np.arange(n) + 0.5, labels=labels, size=9)
    plot.x_axis("estimate (95% CI)")
    svg.text(plot.left + plot.width / 2, 18, title, size=12.5)
    return svg.uri()


def p_histogram_figure(p_values: npt.ArrayLike, title: str) -> str:
    """Draw the histogram of uncorrected p-values with the uniform expected under no effect.

    Parameters
    ----------
    p_values : array_like
        One p per measure.
    title : str
        Figure title.

    Returns
    -------
    str
        An SVG data URI.
    """
    p = np.asarray(p_values, dtype=np.float64)
    p = p[np.isfinite(p)]
    bins = 20
    counts, edges = np.histogram(p, bins=bins, range=(0.0, 1.0))
    expected = p.size / bins
    svg = Svg(460, 280)
    top = max(float(counts.max(initial=0)), expected, 1.0) * 1.05
    plot = Plot(svg, 74, 34, 372, 198, (0.0, 1.0), (0.0, top))
    plot.bars(edges, counts, fill="#8c8c8c")
    level = float(plot.y(expected))
    svg.segments(plot.left, level, plot.left + plot.width, level, colour=RED, dash="5 3")
    right = plot.left + plot.width  # the legend sits above the plot's top right corner
    svg.segments(right - 84, 24, right - 62, 24, colour=RED, dash="5 3")
    svg.text(right - 56, 24, "no effect", size=9.5, anchor="start", middle=True)
    plot.frame()
    plot.x_axis("uncorrected permutation p")
    plot.y_axis("measures")
    svg.text(plot.left + plot.width / 2, 22, title, size=12.5)
    return svg.uri()


def _text(column: pd.Series) -> npt.NDArray[np.object_]:
    """Return a column as an array of Python strings (fast for Arrow-backed text)."""
    values = column.to_numpy(dtype=object, na_value="")
    if values.size and not isinstance(values[0], str):
        values = np.array([str(v) for v in values], dtype=object)
    return values


def _edge_keys(table: pd.DataFrame, sample: pd.DataFrame, count: int) -> pd.DataFrame:
    """One row per edge measure: its two regions and their networks (empty when none)."""
    if not {"region_a", "region_b"} <= set(table.columns):
        return pd.DataFrame()
    wanted = ("measure", "region_a", "region_b", "network_a", "network_b")
    columns = [c for c in wanted if c in table]
    keys = sample[columns].drop_duplicates("measure")
    if len(keys) < count:
        keys = table[columns].drop_duplicates("measure")
    a, b = keys["region_a"], keys["region_b"]
    named = a.notna() & b.notna() & a.ne("") & b.ne("")
    keys = keys[named]
    out: pd.DataFrame = keys.assign(measure=_text(keys["measure"]))
    return out


def _named_edge_keys(measures: pd.Series) -> pd.DataFrame:
    """Edges from measure names alone (``edge_fc[A--B]``, :func:`dmnpharm.stats.measure_name`).

    For tables that name each edge in ``measure`` but lack the region columns
    (e.g. a table written by another tool in ``dmnpharm stats``' naming).
    """
    rows = []
    for name in _text(measures):
        if name.endswith("]"):
            _, regions = split_measure_name(name)
            if len(regions) == 2 and all(regions):
                rows.append((name, *regions))
    return pd.DataFrame(rows, columns=["measure", "region_a", "region_b"])


def edge_section(
    table: pd.DataFrame, sample: pd.DataFrame, results: pd.DataFrame, statistic_name: str = "t"
) -> Section | None:
    """Draw edge measures as a region x region matrix of the statistic, by network.

    Parameters
    ----------
    table : pandas.DataFrame
        The metrics table; edges are measures whose rows name ``region_a``
        and ``region_b`` (and ``network_a``, ``network_b``). A table without
        these columns: measures named ``<measure>[<region_a>--<region_b>]``
        (:func:`dmnpharm.stats.measure_name`, as ``dmnpharm stats`` names
        ``dmnpharm run``'s edge rows), grouped by no network.
    sample : pandas.DataFrame
        Some of its rows (e.g. one subject's) searched first for each
        measure's regions; the whole table is searched when they lack some.
    results : pandas.DataFrame
        The result rows (``statistic``, ``p_fwer``).
    statistic_name : str
        The statistic's name (``t``, ``F``, ``z``).

    Returns
    -------
    Section or None
        The matrix; None without edge measures. (No glass brain here: drawing
        one costs seconds, and the strongest edges are the top rows of the
        results table.)
    """
    keys = _edge_keys(table, sample, len(results))
    if keys.empty:
        keys = _named_edge_keys(results["measure"])
    if len(keys) < 3:
        return None
    values = results[["measure", "statistic", "p_fwer"]]
    merged = keys.merge(values.assign(measure=_text(values["measure"])), on="measure")
    ends = {side: _text(merged[f"region_{side}"]) for side in ("a", "b")}
    regions = pd.unique(np.concatenate([ends["a"], ends["b"]]))
    networks: dict[str, str] = {}
    for side in ("a", "b"):
        column = f"network_{side}"
        if column in merged:
            networks.update(zip(ends[side], _text(merged[column]), strict=True))
    n = len(regions)
    where = pd.Index(regions)
    i, j = where.get_indexer(ends["a"]), where.get_indexer(ends["b"])
    statistic = np.full((n, n), np.nan)
    statistic[i, j] = statistic[j, i] = merged["statistic"].to_numpy(dtype=np.float64)
    passed = merged["p_fwer"].to_numpy(dtype=np.float64) < 0.05
    blocks = network_blocks([networks.get(str(r), "") for r in regions])
    figures = [
        (
            matrix_figure(
                {f"statistic ({statistic_name})": statistic}, f"{len(merged):,} edges", blocks
            ),
            f"Each edge's statistic, one row and column per region ({n}), grouped by network; "
            f"symmetric colour scale ending at the 98th percentile of |statistic|. "
            f"{int(passed.sum()):,} of {len(merged):,} edges have p FWER < 0.05.",
        )
    ]
    note = (
        "Edge measures (rows naming two regions) as a matrix: the size of the analysis makes "
        "a table of every edge unreadable; every row is in the results table file."
    )
    return Section("edges", "Edges", note, figures=figures)
