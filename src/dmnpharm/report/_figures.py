"""Figures for reports, rendered without pyplot (no global backend switch)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["paired_condition_figure"]


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
