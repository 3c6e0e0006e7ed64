"""Figures of a prediction: receptor correlations against their nulls, maps, network changes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm.report._figures import figure_uri

__all__ = ["network_prediction_figure", "receptor_null_figure", "regional_map_figure"]


def receptor_null_figure(
    correlations: pd.DataFrame,
    null_r: npt.NDArray[np.float64],
    targets: Sequence[str],
    title: str,
    alpha: float = 0.05,
) -> str:
    """Draw each target's correlation with the observed map over its spatial null.

    The null of each target is drawn as its range (light grey) and its central
    95% (darker grey); the observed r is a dot, filled when ``p_spatial < alpha``.

    Parameters
    ----------
    correlations : pandas.DataFrame
        ``target``, ``r_pearson``, ``p_spatial`` (one row per target).
    null_r : numpy.ndarray
        Null correlations, n_null x targets, columns in the order of ``targets``.
    targets : sequence of str
        The targets of ``null_r``'s columns.
    title : str
        Figure title.
    alpha : float
        Targets with ``p_spatial < alpha`` are drawn filled.

    Returns
    -------
    str
        A PNG data URI.
    """
    order = correlations.sort_values("r_pearson").reset_index(drop=True)
    n = len(order)
    fig = Figure(figsize=(6.4, 0.32 * n + 1.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = np.arange(n)
    columns = [list(targets).index(str(t)) for t in order["target"]]
    nulls = null_r[:, columns]
    low, high = np.percentile(nulls, [2.5, 97.5], axis=0)
    ax.hlines(positions, nulls.min(axis=0), nulls.max(axis=0), color="0.85", linewidth=6)
    ax.hlines(positions, low, high, color="0.6", linewidth=6)
    significant = order["p_spatial"].to_numpy(dtype=float) < alpha
    r = order["r_pearson"].to_numpy(dtype=float)
    ax.scatter(r[significant], positions[significant], color="#c53030", zorder=3, s=26)
    ax.scatter(
        r[~significant], positions[~significant], facecolor="white", edgecolor="#c53030", s=26
    )
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_yticks(positions, [str(t) for t in order["target"]], fontsize=9)
    ax.set_xlabel("Pearson r with the observed map")
    ax.set_title(title, fontsize=10)
    return figure_uri(fig)


def regional_map_figure(
    values: npt.ArrayLike, coords: Sequence[tuple[float, float, float]], title: str
) -> str:
    """Draw a regional map as coloured markers on a glass brain (nilearn).

    Parameters
    ----------
    values : array_like
        One value per region.
    coords : sequence of tuple of float
        MNI coordinates of the regions.
    title : str
        Figure title.

    Returns
    -------
    str
        A PNG data URI.
    """
    from matplotlib import pyplot as plt
    from nilearn import plotting

    data = np.asarray(values, dtype=np.float64)
    limit = float(np.max(np.abs(data))) or 1.0
    fig = plt.figure(figsize=(7.5, 2.8), dpi=110)
    display = plotting.plot_markers(
        data,
        list(coords),
        node_cmap="RdBu_r",
        node_vmin=-limit,
        node_vmax=limit,
        node_size=14,
        figure=fig,
        title=title,
        colorbar=True,
    )
    uri = figure_uri(fig)
    display.close()
    plt.close(fig)
    return uri


def network_prediction_figure(table: pd.DataFrame, title: str) -> str:
    """Draw predicted (and observed) changes of the DMN network measures.

    Parameters
    ----------
    table : pandas.DataFrame
        ``measure``, ``source`` (e.g. ``"whole-brain model"``, ``"observed"``),
        ``estimate``, ``low``, ``high`` (NaN where there is no band). Values
        of different sources are drawn side by side, each scaled by its
        largest absolute value so that directions compare at a glance.
    title : str
        Figure title.

    Returns
    -------
    str
        A PNG data URI.
    """
    measures = list(dict.fromkeys(str(m) for m in table["measure"]))
    sources = list(dict.fromkeys(str(s) for s in table["source"]))
    fig = Figure(figsize=(6.4, 0.42 * len(measures) + 1.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = ("#2b6cb0", "#c53030", "#2f855a", "#b7791f")
    step = 0.7 / max(len(sources), 1)
    for k, source in enumerate(sources):
        rows = table[table["source"] == source].set_index("measure").reindex(measures)
        est = rows["estimate"].to_numpy(dtype=float)
        low = rows["low"].to_numpy(dtype=float)
        high = rows["high"].to_numpy(dtype=float)
        scale = np.nanmax(np.abs(np.concatenate([est, low, high]))) or 1.0
        y = np.arange(len(measures)) + (k - (len(sources) - 1) / 2) * step
        colour = colours[k % len(colours)]
        ax.scatter(est / scale, y, color=colour, s=24, label=source, zorder=3)
        band = np.isfinite(low) & np.isfinite(high)
        ax.hlines(y[band], low[band] / scale, high[band] / scale, color=colour, linewidth=1.5)
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_yticks(np.arange(len(measures)), measures, fontsize=9)
    ax.set_xlabel("change, scaled by each source's largest |value|")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title, fontsize=10)
    return figure_uri(fig)
