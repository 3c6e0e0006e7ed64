"""QC figures: censored volumes per run, FD traces, a carpet plot, tSNR per region."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm.report._matrices import Blocks
from dmnpharm.report._png import png_uri

__all__ = ["carpet_figure", "censoring_figure", "fd_traces_figure", "tsnr_figure"]

_CENSORED = "#c0392b"


def censoring_figure(
    runs: pd.DataFrame, censored: Sequence[Sequence[int]], mean_fd: npt.ArrayLike | None = None
) -> str:
    """Draw every run as a row of volumes with its censored volumes marked, and its mean FD.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run, in the order to draw: ``label`` (shown for a few
        runs), ``group`` (e.g. the condition; a rule separates groups) and
        ``n_volumes``.
    censored : sequence of sequence of int
        Per run, the indices of its censored volumes.
    mean_fd : array_like or None
        Per run, its mean framewise displacement (drawn as a bar beside it).

    Returns
    -------
    str
        A PNG data URI.
    """
    n_runs = len(runs)
    length = int(pd.to_numeric(runs["n_volumes"], errors="coerce").fillna(0).max()) or 1
    image = np.full((n_runs, length), np.nan)
    for k, (count, marks) in enumerate(zip(runs["n_volumes"], censored, strict=True)):
        image[k, : int(count)] = 0.0
        picked = [int(v) for v in marks if 0 <= int(v) < length]
        image[k, picked] = 1.0
    height = 0.9 + 0.045 * n_runs
    fig = Figure(figsize=(9.0, height), dpi=100)
    FigureCanvasAgg(fig)
    grid = {"width_ratios": [4, 1]} if mean_fd is not None else None
    axes = fig.subplots(1, 2 if mean_fd is not None else 1, squeeze=False, gridspec_kw=grid)[0]
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.35 / height, bottom=0.45 / height)
    ax = axes[0]
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#e8eef5", _CENSORED]).with_extremes(bad="white")
    ax.imshow(image, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    groups = runs["group"].astype(str).to_numpy()
    starts = [0, *[k for k in range(1, n_runs) if groups[k] != groups[k - 1]], n_runs]
    for start, stop in itertools.pairwise(starts):
        if start:
            ax.axhline(start - 0.5, color="0.2", linewidth=0.8)
        ax.text(
            -0.01,
            (start + stop - 1) / 2,
            groups[start],
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=7,
        )
    ax.set_yticks([])
    ax.set_xlabel("volume", fontsize=8)
    ax.set_title("censored volumes (red) per run", fontsize=9)
    ax.tick_params(labelsize=7)
    if mean_fd is not None:
        fd = np.asarray(mean_fd, dtype=np.float64)
        axes[1].barh(np.arange(n_runs), fd, height=0.8, color="0.5")
        axes[1].set_ylim(n_runs - 0.5, -0.5)
        axes[1].set_yticks([])
        axes[1].set_xlabel("mean FD (mm)", fontsize=8)
        axes[1].set_title("mean FD per run", fontsize=9)
        axes[1].tick_params(labelsize=7)
    return png_uri(fig)


def fd_traces_figure(
    traces: Sequence[tuple[str, npt.NDArray[np.float64], npt.NDArray[np.bool_]]],
    threshold: float | None,
    columns: int = 4,
) -> str:
    """Draw each run's framewise displacement over time with its censored volumes marked.

    Parameters
    ----------
    traces : sequence of tuple
        ``(label, fd, censored)`` per run: FD per volume (mm) and a boolean
        mask of the censored volumes.
    threshold : float or None
        The FD censoring threshold, drawn as a dashed line.
    columns : int
        Panels per row.

    Returns
    -------
    str
        A PNG data URI.
    """
    columns = max(1, min(columns, len(traces)))
    rows = max(1, math.ceil(len(traces) / columns))
    width, height = 2.7 * columns, 1.45 * rows + 0.2
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    fig.subplots_adjust(
        left=0.4 / width, right=1 - 0.1 / width, top=1 - 0.3 / height, bottom=0.35 / height
    )
    fig.subplots_adjust(wspace=0.25, hspace=0.75)
    for ax, (label, fd, mask) in zip(axes, traces, strict=False):
        x = np.arange(fd.size)
        ax.plot(x, fd, color="0.3", linewidth=0.7)
        flagged = np.flatnonzero(mask[: fd.size])
        top = float(np.nanmax(fd)) if np.isfinite(fd).any() else 1.0
        ax.plot(flagged, np.full(flagged.size, top * 1.05), "|", color=_CENSORED, markersize=4)
        if threshold is not None and math.isfinite(threshold):
            ax.axhline(threshold, color=_CENSORED, linestyle="--", linewidth=0.7)
        ax.set_title(f"{label} ({flagged.size} censored)", fontsize=7)
        ax.tick_params(labelsize=6, length=2, pad=1)
        ax.set_xlim(0, max(fd.size - 1, 1))
    for ax in axes[len(traces) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("FD (mm)", fontsize=7)
    return png_uri(fig)


def carpet_figure(
    label: str,
    carpet: npt.NDArray[np.float64],
    fd: npt.NDArray[np.float64] | None = None,
    censored: npt.NDArray[np.bool_] | None = None,
    networks: Sequence[str] = (),
) -> str:
    """Draw a carpet plot (voxels x volumes, z-scored per voxel) under the run's FD trace.

    Parameters
    ----------
    label : str
        The run.
    carpet : numpy.ndarray
        Voxels x volumes of the run's signal (rows already in the order to
        show, e.g. by tissue or network).
    fd : numpy.ndarray or None
        FD per volume, drawn above.
    censored : numpy.ndarray or None
        Censored volumes, marked above.
    networks : sequence of str
        The network of each row (rows grouped by network), labelled on the
        left; empty: no labels.

    Returns
    -------
    str
        A PNG data URI.
    """
    data = np.asarray(carpet, dtype=np.float64)
    mean = np.nanmean(data, axis=1, keepdims=True)
    std = np.nanstd(data, axis=1, keepdims=True)
    z = (data - mean) / np.where(std > 0, std, 1.0)
    fig = Figure(figsize=(8.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3]})
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.12, hspace=0.08)
    if fd is not None:
        top.plot(np.arange(fd.size), fd, color="0.3", linewidth=0.8)
    if censored is not None:
        for volume in np.flatnonzero(censored):
            top.axvspan(volume - 0.5, volume + 0.5, color=_CENSORED, alpha=0.35, linewidth=0)
    top.set_ylabel("FD (mm)", fontsize=7)
    top.tick_params(labelsize=6)
    top.set_title(f"{label}: carpet plot", fontsize=9)
    bottom.imshow(z, aspect="auto", cmap="gray", vmin=-2, vmax=2, interpolation="nearest")
    bottom.set_xlabel("volume", fontsize=7)
    bottom.set_yticks([])
    if len(networks) == data.shape[0] and data.shape[0]:
        names = np.asarray(list(networks))
        starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
        ends = np.r_[starts[1:], names.size]
        for start in starts[1:]:
            bottom.axhline(start - 0.5, color="#d95f02", linewidth=0.6)
        tall = (ends - starts) >= 0.025 * names.size  # label blocks tall enough to read
        centres = (starts + ends - 1) / 2
        bottom.set_yticks(centres[tall], [str(n) for n in names[starts][tall]], fontsize=6)
    else:
        bottom.set_ylabel("voxels", fontsize=7)
    bottom.tick_params(labelsize=6)
    return png_uri(fig)


def tsnr_figure(
    values: npt.NDArray[np.float64], blocks: Blocks, title: str, ylabel: str = "median tSNR"
) -> str:
    """Draw a value per region (median tSNR, coverage) as bars ordered and labelled by network.

    Parameters
    ----------
    values : numpy.ndarray
        The value per region, atlas order (e.g. median tSNR over runs).
    blocks : Blocks
        Region order and network blocks.
    title : str
        Figure title.
    ylabel : str
        The value's axis label.

    Returns
    -------
    str
        A PNG data URI.
    """
    ordered = np.asarray(values, dtype=np.float64)[blocks.order]
    fig = Figure(figsize=(9.0, 2.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.07, right=0.99, top=0.86, bottom=0.3)
    ax.bar(np.arange(ordered.size), ordered, width=1.0, color="0.45")
    centres = [(a + b - 1) / 2 for a, b in itertools.pairwise(blocks.bounds)]
    ax.set_xticks(centres, list(blocks.names), rotation=90, fontsize=6.5)
    for edge in blocks.bounds[1:-1]:
        ax.axvline(edge - 0.5, color="0.15", linewidth=0.5)
    ax.set_xlim(-0.5, ordered.size - 0.5)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    return png_uri(fig)
