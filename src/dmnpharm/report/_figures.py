"""Figures for reports, rendered without pyplot (no global backend switch)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dmnpharm.report._png import png_uri

__all__ = [
    "connectome_figure",
    "figure_uri",
    "power_curve_figure",
]


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
    buffer = io.BytesIO()
    _power_figure(table, title, target).savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _power_figure(table: pd.DataFrame, title: str, target: float) -> Figure:
    """Draw the power curve; sample sizes are whole subjects, so are the ticks."""
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
    # Sample sizes are whole subjects: ticks at the sizes simulated (or whole numbers).
    if n.size <= 12 and np.all(n == np.round(n)):
        ax.set_xticks(n, [str(int(v)) for v in n])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("subjects")
    ax.set_ylabel("power (95 % interval)")
    ax.set_title(textwrap.fill(title, 64), fontsize=9)
    ax.legend(loc="center right", fontsize=8, frameon=False)
    return fig


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
    return png_uri(fig)


def connectome_figure(
    edges: npt.NDArray[np.float64],
    coords: Sequence[tuple[float, float, float]],
    title: str,
) -> str:
    """Draw the given edges and the nodes they join on a glass brain (nilearn).

    Parameters
    ----------
    edges : numpy.ndarray
        Square matrix of edge values to draw (zeros are not drawn), e.g. the
        paired t of the strongest edges (:func:`strongest_edges`). Only the
        nodes joined by a drawn edge are shown, so a few edges stay readable.
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

    matrix = np.nan_to_num(np.asarray(edges, dtype=np.float64))
    joined = np.flatnonzero(np.any(matrix != 0, axis=0))
    if joined.size < 2:  # nothing to join: every node, no edge
        joined = np.arange(matrix.shape[0])
    matrix = matrix[np.ix_(joined, joined)]
    points = [coords[int(i)] for i in joined]
    fig = plt.figure(figsize=(7.5, 2.8), dpi=100)
    limit = float(np.max(np.abs(matrix))) or 1.0
    display = plotting.plot_connectome(
        matrix,
        points,
        node_color="#2b6cb0",
        node_size=14,
        edge_cmap="RdBu_r",
        edge_vmin=-limit,
        edge_vmax=limit,
        edge_kwargs={"linewidth": 1.6},
        figure=fig,
        title=title,
        colorbar=True,
    )
    uri = png_uri(fig)
    display.close()
    plt.close(fig)
    return uri
