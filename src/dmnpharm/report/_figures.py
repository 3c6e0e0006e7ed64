"""Figures for reports, rendered without pyplot (no global backend switch)."""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["paired_condition_figure", "power_curve_figure"]


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
