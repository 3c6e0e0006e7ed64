"""Edges and nodes on a glass brain, written as SVG: three orthogonal projections.

The figure nilearn's ``plot_connectome`` draws (sagittal, coronal and axial
views of the brain's outline, nodes at their MNI coordinates, edges coloured on
a blue-white-red scale), without matplotlib: importing ``nilearn.plotting``
and drawing cost about 1.3 s of every study report. The outlines are the brain
schematics that ship with nilearn (``nilearn/plotting/glass_brain_files``),
read as data and placed in MNI millimetres with nilearn's own hand-fitted
scales and offsets; without them the views are drawn without an outline.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dmnpharm.report._matrix_figure import colour_scale
from dmnpharm.report._svg import AXIS, Svg, diverging_rgb

__all__ = ["connectome_figure"]

#: Pixels per millimetre.
_SCALE = 1.4
#: Node colour and radius (pixels).
_NODE = "#2b6cb0"
_NODE_RADIUS = 3.0


@dataclass(frozen=True)
class _View:
    """One projection: which MNI axes it shows, and its outline's placement."""

    name: str  # nilearn's direction letter
    schematic: str  # the outline file's view name
    axes: tuple[int, int]  # MNI axes shown across and up
    scale: tuple[float, float]  # outline units to mm, across and up
    offset: tuple[float, float]  # mm of the outline's origin
    box: tuple[float, float, float, float]  # mm extent without an outline


#: Sagittal (x: anterior to the right), coronal (y) and axial (z) views; left on the
#: left. The outline placements are nilearn's (plotting/glass_brain.py).
_VIEWS = (
    _View("x", "side", (1, 2), (0.38, 0.38), (-108.0, -70.0), (-108.0, 78.0, -72.0, 83.0)),
    _View("y", "back", (0, 2), (0.39, 0.39), (-73.0, -73.0), (-73.0, 73.0, -73.0, 84.0)),
    _View("z", "top", (0, 1), (0.36, 0.37), (-71.0, -107.0), (-71.0, 73.0, -107.0, 75.0)),
)


@dataclass(frozen=True)
class _Outline:
    """A view's outline strokes in mm, and its extent."""

    # Per outline path: its colour, width, and its pieces' points (4 for a curve, 2 a line).
    strokes: tuple[tuple[str, float, tuple[npt.NDArray[np.float64], ...]], ...]
    box: tuple[float, float, float, float]  # left, right, bottom, top in mm


def _schematics_folder() -> Path | None:
    """Return nilearn's folder of brain schematics, found without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "plotting" / "glass_brain_files"
    return folder if folder.is_dir() else None


@cache
def _outline(view: _View) -> _Outline:
    """Read a view's outline (cubic Bezier curves and segments) into MNI millimetres."""
    folder = _schematics_folder()
    path = None if folder is None else folder / f"brain_schematics_{view.schematic}.json"
    try:
        content = json.loads(path.read_text(encoding="utf-8")) if path else None
        scale, offset = np.array(view.scale), np.array(view.offset)
        strokes = []
        for item_path in content["paths"] if content else ():
            pieces = tuple(
                np.asarray(item["pts"], dtype=np.float64) * scale + offset
                for item in item_path["items"]
            )
            if any(piece.shape not in ((4, 2), (2, 2)) for piece in pieces):
                raise ValueError("an outline piece that is neither a cubic curve nor a line")
            strokes.append((str(item_path["edgecolor"]), float(item_path["linewidth"]), pieces))
        bounds = content["metadata"]["bounds"] if content else None
    except (OSError, ValueError, KeyError, TypeError):
        return _Outline((), view.box)
    if not strokes or bounds is None:
        return _Outline((), view.box)
    low = np.array([bounds[0], bounds[2]]) * scale + offset
    high = np.array([bounds[1], bounds[3]]) * scale + offset
    return _Outline(tuple(strokes), (low[0], high[0], low[1], high[1]))


def _hex(rgb: npt.NDArray[np.uint8]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _draw_view(
    svg: Svg,
    view: _View,
    left: float,
    top: float,
    points: npt.NDArray[np.float64],
    edges: list[tuple[int, int, str]],
) -> float:
    """Draw one projection with its top-left corner at ``(left, top)``; return its width."""
    outline = _outline(view)
    x0, x1, y0, y1 = outline.box

    def place(
        across: npt.ArrayLike, up: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        a, u = np.asarray(across, dtype=np.float64), np.asarray(up, dtype=np.float64)
        return left + (a - x0) * _SCALE, top + (y1 - u) * _SCALE

    for colour, width, pieces in outline.strokes:  # one element per outline path
        commands = []
        for piece in pieces:
            xs, ys = place(piece[:, 0], piece[:, 1])
            tail = " ".join(f"{x:.1f} {y:.1f}" for x, y in zip(xs[1:], ys[1:], strict=True))
            commands.append(f"M{xs[0]:.1f} {ys[0]:.1f}{'C' if len(xs) == 4 else 'L'}{tail}")
        svg.path("".join(commands), colour=colour, width=0.6 * width, opacity=0.7)
    i, j = view.axes
    xs, ys = place(points[:, i], points[:, j])
    for a, b, colour in edges:
        svg.segments(xs[a], ys[a], xs[b], ys[b], colour=colour, width=1.6)
    svg.dots(xs, ys, radius=_NODE_RADIUS, colour=_NODE)
    width = (x1 - x0) * _SCALE
    if view.name in ("y", "z"):  # neurological convention: the left hemisphere on the left
        svg.text(left + 4, top + 10, "L", size=10, anchor="start", colour=AXIS)
        svg.text(left + width - 4, top + 10, "R", size=10, anchor="end", colour=AXIS)
    svg.text(left + width / 2, top + (y1 - y0) * _SCALE + 12, view.name, size=9, colour=AXIS)
    return width


def connectome_figure(edges: npt.ArrayLike, coords: Sequence[Sequence[float]], title: str) -> str:
    """Draw the given edges and the nodes they join on a glass brain, as SVG.

    Parameters
    ----------
    edges : array_like
        Square matrix of edge values to draw (zeros and missing values are not
        drawn). Only the nodes joined by a drawn edge are shown (all of them
        when no edge is), so a few edges stay readable.
    coords : sequence of sequence of float
        MNI coordinates (x, y, z in mm) of the nodes, in the matrix's order.
    title : str
        Figure title.

    Returns
    -------
    str
        A ``data:image/svg+xml`` URI: sagittal, coronal and axial views, each
        edge coloured by its value on a symmetric blue-white-red scale (red
        positive), the strongest drawn on top, and the scale beside them.
    """
    matrix = np.nan_to_num(np.asarray(edges, dtype=np.float64))
    positions = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    if matrix.shape != (positions.shape[0], positions.shape[0]):
        raise ValueError(
            f"edges are {matrix.shape} but there are {positions.shape[0]} coordinates"
        )
    joined = np.flatnonzero(np.any(matrix != 0, axis=0) | np.any(matrix != 0, axis=1))
    if joined.size < 2:  # nothing to join: every node, no edge
        joined = np.arange(matrix.shape[0])
    matrix = matrix[np.ix_(joined, joined)]
    points = positions[joined]
    limit = float(np.max(np.abs(matrix))) if matrix.size else 0.0
    limit = limit or 1.0
    upper = np.where(matrix != 0, matrix, matrix.T)  # an edge given on either side
    rows, cols = np.nonzero(np.triu(upper, 1))
    values = upper[rows, cols]
    order = np.argsort(np.abs(values), kind="stable")  # the strongest drawn last, on top
    colours = diverging_rgb(values[order], limit)
    drawn = [
        (int(rows[k]), int(cols[k]), _hex(colour))
        for k, colour in zip(order, colours, strict=True)
    ]
    heights = [(_outline(v).box[3] - _outline(v).box[2]) * _SCALE for v in _VIEWS]
    widths = [(_outline(v).box[1] - _outline(v).box[0]) * _SCALE for v in _VIEWS]
    top, gap = 26.0, 14.0
    svg = Svg(sum(widths) + gap * (len(_VIEWS) - 1) + 80, top + max(heights) + 18)
    svg.text(8, 16, title, size=11, anchor="start", bold=True)
    left = 8.0
    for view, height in zip(_VIEWS, heights, strict=True):
        width = _draw_view(svg, view, left, top + (max(heights) - height) / 2, points, drawn)
        left += width + gap
    colour_scale(svg, left + 4, top + 0.15 * max(heights), 0.7 * max(heights), limit)
    return svg.uri()
