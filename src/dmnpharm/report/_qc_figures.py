"""QC figures drawn with matplotlib: a carpet plot and tSNR (or coverage) per region."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm.report._matrices import Blocks
from dmnpharm.report._png import png_uri

__all__ = ["carpet_figure", "tsnr_figure"]

_CENSORED = "#c0392b"


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
