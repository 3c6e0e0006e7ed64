"""Region x region matrices side by side, ordered and labelled by network, drawn as SVG."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dmnpharm.report._matrices import Blocks, robust_limit
from dmnpharm.report._svg import Svg, diverging_rgb, nice_ticks, png_bytes, tick_labels

__all__ = ["colour_scale", "matrix_figure"]

#: Room left of and under each matrix for the block labels, and right of it for the scale.
_LABELS, _SCALE = 60.0, 70.0


def _blocks(svg: Svg, blocks: Blocks, left: float, top: float, side: float) -> None:
    """Draw the block boundaries over a matrix and the block names beside it."""
    count = max(len(blocks.order), 1)
    inner = np.asarray(blocks.bounds[1:-1], dtype=np.float64) / count * side
    svg.segments(left + inner, top, left + inner, top + side, width=0.8)
    svg.segments(left, top + inner, left + side, top + inner, width=0.8)
    if len(blocks.names) < 2:  # one block: nothing to tell apart
        return
    sizes = np.diff(blocks.bounds)
    for name, start, size in zip(blocks.names, blocks.bounds, sizes, strict=False):
        if size < count / 40:  # too small to hold a label (its boundary is still drawn)
            continue
        centre = (start + size / 2) / count * side
        svg.text(left - 4, top + centre, name, size=9, anchor="end", middle=True)
        x = left + centre
        svg.text(x, top + side + 4, name, size=9, anchor="end", middle=True, rotate=-90)


def colour_scale(svg: Svg, left: float, top: float, height: float, limit: float) -> None:
    """Draw a vertical colour scale from ``-limit`` (bottom) to ``limit`` with its ticks.

    Parameters
    ----------
    svg : Svg
        The drawing.
    left, top : float
        Top-left corner of the 11-pixel-wide bar.
    height : float
        The bar's height in pixels.
    limit : float
        The largest absolute value (the scale is symmetric).
    """
    ramp = np.linspace(limit, -limit, 256)[:, None]
    svg.image(png_bytes(diverging_rgb(ramp, limit)), left, top, 11, height)
    svg.rect(left, top, 11, height, stroke="#808080", stroke_width=0.6)
    ticks = nice_ticks(-limit, limit, 4)
    for value, text in zip(ticks, tick_labels(ticks), strict=True):
        y = top + (limit - value) / (2 * limit) * height
        svg.segments(left + 11, y, left + 14, y, colour="#808080", width=0.8)
        svg.text(left + 16, y, text, size=9, anchor="start", middle=True)


def matrix_figure(
    matrices: dict[str, npt.NDArray[np.float64]],
    title: str,
    blocks: Blocks | None = None,
    percentile: float = 98.0,
) -> str:
    """Draw connectivity matrices side by side (e.g. each condition and their difference).

    Each panel has a symmetric colour scale set by a high percentile of its
    absolute values (:func:`robust_limit`), so a few extreme edges do not wash
    out the rest; values beyond it take the end colours. The condition panels
    share their scale, and a panel whose name starts with ``"difference"``
    gets its own. The diagonal is not drawn (grey, like missing values).

    Parameters
    ----------
    matrices : dict of str to numpy.ndarray
        Panel title to a square matrix (same size for all), in atlas order.
    title : str
        Figure title.
    blocks : Blocks or None
        Region order and the network (or DMN subsystem) blocks to label; None
        keeps the atlas order, unlabelled.
    percentile : float
        The percentile of ``|value|`` at the ends of each colour scale.

    Returns
    -------
    str
        An SVG data URI; each matrix is embedded at one pixel per cell.
    """
    n = len(matrices)
    panel = 340.0 if n > 1 else 540.0  # one matrix alone is drawn larger
    side = panel - _LABELS - _SCALE
    labelled = blocks is not None and len(blocks.names) > 1
    svg = Svg(panel * n + 40, 60 + side + (_LABELS + 10 if labelled else 20))
    shown = {}
    for name, matrix in matrices.items():
        array = np.array(matrix, dtype=np.float64)
        if array.ndim != 2 or array.shape[0] != array.shape[1]:
            raise ValueError(f"matrix {name!r} must be square, got shape {array.shape}")
        np.fill_diagonal(array, np.nan)
        if blocks is not None:
            array = array[np.ix_(blocks.order, blocks.order)]
        shown[name] = array
    plain = [m for k, m in shown.items() if not k.startswith("difference")]
    shared = robust_limit(np.concatenate([m.ravel() for m in plain]), percentile) if plain else 1
    for k, (name, matrix) in enumerate(shown.items()):
        limit = robust_limit(matrix, percentile) if name.startswith("difference") else shared
        left, top = 20 + k * panel + _LABELS, 60.0
        svg.text(left + side / 2, top - 10, name, size=12.5)
        if matrix.size:
            svg.image(png_bytes(diverging_rgb(matrix, limit)), left, top, side, side)
        svg.rect(left, top, side, side, stroke="#808080", stroke_width=0.6)
        if blocks is not None:
            _blocks(svg, blocks, left, top, side)
        colour_scale(svg, left + side + 10, top + 0.1 * side, 0.8 * side, limit)
    svg.text(svg.width / 2, 22, title, size=14)
    return svg.uri()
