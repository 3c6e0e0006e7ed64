"""Figures for reports, rendered without pyplot (no global backend switch)."""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "connectome_figure",
    "covariate_figure",
    "figure_uri",
    "group_values_figure",
    "matrix_figure",
    "paired_condition_figure",
    "power_curve_figure",
]


def paired_condition_figure(
    values: pd.DataFrame,
    conditions: Sequence[str],
    title: str,
    ylabel: str,
) -> str:
    """Plot one measure by condition with one line per subject, as a PNG data URI.

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
        ``data:image/png;base64,...``, ready for an ``<img src>``.
    """
    fig = Figure(figsize=(4.2, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(conditions))
    table = values[list(conditions)].to_numpy(dtype=float)
    for row in table:
        ax.plot(x, row, color="0.6", linewidth=0.8, alpha=0.7, marker="o", markersize=2.5)
    means = np.nanmean(table, axis=0)
    sem = np.nanstd(table, axis=0, ddof=1) / np.sqrt(np.sum(np.isfinite(table), axis=0))
    ax.errorbar(
        x,
        means,
        yerr=1.96 * sem,
        color="C3",
        linewidth=2.2,
        marker="s",
        capsize=4,
        label="mean ± 1.96 SEM",
    )
    ax.set_xticks(x, [str(c) for c in conditions])
    ax.set_xlim(-0.4, len(conditions) - 0.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=8, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def power_curve_figure(table: pd.DataFrame, title: str, target: float = 0.8) -> bytes:
    """Plot power against sample size with its Monte Carlo interval, as PNG bytes.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``n_subjects``, ``power``, ``power_ci_low``, ``power_ci_high``
        and ``alpha`` (as :func:`dmnpharm.simulate.power_analysis` returns).
    title : str
        Figure title (the contrast).
    target : float
        Conventional power target drawn as a dashed line.

    Returns
    -------
    bytes
        A PNG image.
    """
    fig = Figure(figsize=(5.0, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = table["n_subjects"].to_numpy(dtype=float)
    power = table["power"].to_numpy(dtype=float)
    below = power - table["power_ci_low"].to_numpy(dtype=float)
    above = table["power_ci_high"].to_numpy(dtype=float) - power
    ax.errorbar(n, power, yerr=[below, above], color="C0", marker="o", capsize=4, linewidth=2)
    ax.axhline(target, color="0.4", linestyle="--", linewidth=1, label=f"power {target:g}")
    alpha = float(table["alpha"].iloc[0])
    ax.axhline(alpha, color="C3", linestyle=":", linewidth=1, label=f"alpha {alpha:g}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("subjects")
    ax.set_ylabel("power (95 % interval)")
    ax.set_title(textwrap.fill(title, 64), fontsize=9)
    ax.legend(loc="center right", fontsize=8, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def figure_uri(fig: Figure) -> str:
    """Return a matplotlib figure as an embedded PNG data URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure with a canvas (e.g. made with ``FigureCanvasAgg``).

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    return _png_uri(fig)


def _png_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def matrix_figure(matrices: dict[str, npt.NDArray[np.float64]], title: str) -> str:
    """Draw connectivity matrices side by side (e.g. each condition and their difference).

    The condition panels share one colour scale; a panel whose name starts with
    ``"difference"`` gets its own symmetric scale.

    Parameters
    ----------
    matrices : dict of str to numpy.ndarray
        Panel title to a square matrix (same size for all).
    title : str
        Figure title.

    Returns
    -------
    str
        A PNG data URI.
    """
    n = len(matrices)
    fig = Figure(figsize=(3.3 * n + 0.6, 3.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    plain = [m for k, m in matrices.items() if not k.startswith("difference")]
    reach = max((float(np.nanmax(np.abs(m))) for m in plain), default=1.0) or 1.0
    for ax, (name, matrix) in zip(axes, matrices.items(), strict=True):
        limit = reach
        if name.startswith("difference"):
            limit = float(np.nanmax(np.abs(matrix))) or 1.0
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="none")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return _png_uri(fig)


def connectome_figure(
    edges: npt.NDArray[np.float64],
    coords: Sequence[tuple[float, float, float]],
    title: str,
) -> str:
    """Draw DMN nodes and the edges that changed on a glass brain (nilearn).

    Parameters
    ----------
    edges : numpy.ndarray
        Square matrix of edge values to draw (zeros are not drawn), e.g. the
        paired t of the edges that pass a threshold.
    coords : sequence of tuple of float
        MNI coordinates of the nodes, in the matrix's order.
    title : str
        Figure title.

    Returns
    -------
    str
        A PNG data URI.
    """
    # Imported here: loading them is slow. nilearn's glass brain needs a figure that
    # pyplot manages; it is closed below, so no window or global state is left behind.
    from matplotlib import pyplot as plt
    from nilearn import plotting

    fig = plt.figure(figsize=(7.5, 2.8), dpi=110)
    limit = float(np.max(np.abs(edges))) or 1.0
    display = plotting.plot_connectome(
        edges,
        list(coords),
        node_color="#2b6cb0",
        node_size=12,
        edge_vmin=-limit,
        edge_vmax=limit,
        figure=fig,
        title=title,
        colorbar=True,
    )
    uri = _png_uri(fig)
    display.close()
    plt.close(fig)
    return uri


def group_values_figure(
    values: pd.Series,
    groups: pd.Series,
    order: Sequence[str],
    title: str,
    ylabel: str,
) -> str:
    """Plot one value per subject by group, with each group's mean, as a PNG data URI.

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
        ``data:image/png;base64,...``.
    """
    fig = Figure(figsize=(4.2, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = groups.astype(str).reindex(values.index)
    for k, group in enumerate(order):
        y = values[labels == str(group)].to_numpy(dtype=float)
        y = y[np.isfinite(y)]
        if not y.size:
            continue
        # spread the points evenly over a narrow band (no randomness)
        offsets = np.linspace(-0.15, 0.15, y.size) if y.size > 1 else np.zeros(1)
        ax.plot(k + offsets, np.sort(y), "o", color="0.5", markersize=3.5, alpha=0.8)
        sem = y.std(ddof=1) / np.sqrt(y.size) if y.size > 1 else 0.0
        ax.errorbar(
            k + 0.3,
            y.mean(),
            yerr=1.96 * sem,
            color="C3",
            marker="s",
            capsize=4,
            linewidth=2,
            label="mean ± 1.96 SEM" if k == 0 else None,
        )
    ax.set_xticks(np.arange(len(order)), [str(g) for g in order])
    ax.set_xlim(-0.5, len(order) - 0.3)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=8, frameon=False)
    return _png_uri(fig)


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
        ``data:image/png;base64,...``.
    """
    x = np.asarray(covariate, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    fig = Figure(figsize=(4.2, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, y, "o", color="0.4", markersize=4)
    if x.size > 1 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        line = np.array([x.min(), x.max()])
        ax.plot(line, intercept + slope * line, color="C3", linewidth=2, label="least squares")
        ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _png_uri(fig)
