"""QC figures written as SVG: censored volumes per run with mean FD, and FD traces.

Drawn without matplotlib, like the report's other SVG figures, so a study report
of ROI-level runs (no carpet plot, tSNR or coverage, which need voxels) imports
no plotting library at all. The censoring raster is embedded as a PNG at one
pixel per volume and run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.report._svg import RED, Svg, png_bytes
from dmnpharm.report._svg_plot import Plot

__all__ = ["censoring_figure", "fd_traces_figure"]

#: Kept volumes, censored volumes, and the space after a run shorter than the longest.
_PALETTE = np.array([[0xE8, 0xEE, 0xF5], [0xC0, 0x39, 0x2B], [0xFF, 0xFF, 0xFF]], np.uint8)
#: Pixels per run in the censoring raster (at least 40 in all).
_ROW = 4.5


def _raster(n_volumes: pd.Series, censored: Sequence[Sequence[int]]) -> npt.NDArray[np.uint8]:
    """Return runs x volumes colours: kept, censored, or past the run's end."""
    counts = pd.to_numeric(n_volumes, errors="coerce").fillna(0).astype(int).tolist()
    length = max([*counts, 1])
    codes = np.full((len(counts), length), 2, dtype=np.intp)
    for k, (count, marks) in enumerate(zip(counts, censored, strict=True)):
        codes[k, :count] = 0
        picked = [int(v) for v in marks if 0 <= int(v) < length]
        codes[k, picked] = 1
    return _PALETTE[codes]


def censoring_figure(
    runs: pd.DataFrame, censored: Sequence[Sequence[int]], mean_fd: npt.ArrayLike | None = None
) -> str:
    """Draw every run as a row of volumes with its censored volumes marked, and its mean FD.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run, in the order to draw: ``group`` (e.g. the condition;
        a rule separates groups, each labelled once) and ``n_volumes``.
    censored : sequence of sequence of int
        Per run, the indices of its censored volumes.
    mean_fd : array_like or None
        Per run, its mean framewise displacement (drawn as a bar beside it).

    Returns
    -------
    str
        A ``data:image/svg+xml`` URI.
    """
    rgb = _raster(runs["n_volumes"], censored)
    n_runs, length = rgb.shape[:2]
    left, top = 96.0, 24.0
    raster_width, height = 600.0, max(40.0, _ROW * n_runs)
    fd = None if mean_fd is None else np.asarray(mean_fd, dtype=np.float64)
    width = left + raster_width + (190.0 if fd is not None else 16.0)
    svg = Svg(width, top + height + 46)
    svg.image(png_bytes(rgb), left, top, raster_width, height)
    raster = Plot(svg, left, top, raster_width, height, (-0.5, length - 0.5), (0.0, 1.0))
    raster.frame()
    raster.x_axis("volume")
    svg.text(left + raster_width / 2, 15, "censored volumes (red) per run", size=11)
    groups = runs["group"].astype(str).to_numpy()
    starts = [0, *[k for k in range(1, n_runs) if groups[k] != groups[k - 1]], n_runs]
    for start, stop in itertools.pairwise(starts):
        y = top + start * height / n_runs
        if start:
            svg.segments(left, y, left + raster_width, y, colour="#333", width=0.9)
        middle = top + (start + stop) / 2 * height / n_runs
        svg.text(left - 6, middle, groups[start], size=9.5, anchor="end", middle=True)
    if fd is not None:
        finite = fd[np.isfinite(fd)]
        high = float(finite.max()) * 1.05 if finite.size and finite.max() > 0 else 1.0
        bars = Plot(svg, left + raster_width + 24, top, 150.0, height, (0.0, high), (0.0, 1.0))
        row = height / n_runs
        for k, value in enumerate(fd):
            if np.isfinite(value) and value > 0:
                svg.rect(
                    bars.left,
                    top + (k + 0.1) * row,
                    float(bars.x(value)) - bars.left,
                    0.8 * row,
                    fill="#808080",
                )
        bars.frame()
        bars.x_axis("mean FD (mm)", size=8.5)
        svg.text(bars.left + bars.width / 2, 15, "mean FD per run", size=11)
    return svg.uri()


def _polyline(plot: Plot, y: npt.NDArray[np.float64]) -> str:
    """Return an SVG path through ``(volume, y)``, broken where ``y`` is missing."""
    xs, ys = plot.x(np.arange(y.size)), plot.y(y)
    parts, pen_down = [], False
    for px, py, value in zip(xs, ys, y, strict=True):
        if not math.isfinite(value):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
        pen_down = True
    return "".join(parts)


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
        A ``data:image/svg+xml`` URI: one panel per run, titled with its label
        and number of censored volumes, red ticks above the censored volumes.
    """
    columns = max(1, min(columns, len(traces)))
    rows = max(1, math.ceil(len(traces) / columns))
    panel_width, panel_height, across, down = 200.0, 72.0, 62.0, 52.0
    svg = Svg(columns * (panel_width + across) + 8, rows * (panel_height + down) + 8)
    limit = threshold if threshold is not None and math.isfinite(threshold) else None
    for k, (label, fd, mask) in enumerate(traces):
        row, column = divmod(k, columns)
        left = 58 + column * (panel_width + across)
        top = 24 + row * (panel_height + down)
        values = np.asarray(fd, dtype=np.float64)
        finite = values[np.isfinite(values)]
        peak = float(finite.max()) if finite.size else 1.0
        high = max(peak * 1.12, (limit or 0.0) * 1.1) or 1.0
        plot = Plot(
            svg, left, top, panel_width, panel_height, (0.0, max(values.size - 1, 1)), (0.0, high)
        )
        plot.frame()
        svg.path(_polyline(plot, values), colour="#4d4d4d", width=0.8)
        flagged = np.flatnonzero(np.asarray(mask, dtype=bool)[: values.size])
        if flagged.size:
            xs, mark = plot.x(flagged), float(plot.y(peak * 1.05))
            svg.segments(xs, mark - 3, xs, mark + 3, colour=RED, width=1.0)
        if limit is not None:
            y = float(plot.y(limit))
            svg.segments(left, y, left + panel_width, y, colour=RED, width=0.8, dash="4 3")
        svg.text(left, top - 7, f"{label} ({flagged.size} censored)", size=9, anchor="start")
        plot.x_axis(size=8)
        plot.y_axis("FD (mm)" if k == 0 else "", size=8)
    return svg.uri()
