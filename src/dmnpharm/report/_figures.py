"""Figures for reports, rendered without pyplot (no global backend switch)."""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dmnpharm.report._png import png_uri

__all__ = [
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
