"""A plotting area with linear scales and axes, on an :class:`~dmnpharm.report._svg.Svg`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.report._svg import AXIS, Svg, nice_ticks, tick_labels

__all__ = ["Plot", "padded"]


def padded(values: npt.ArrayLike, margin: float = 0.05) -> tuple[float, float]:
    """Return the range of the finite values, widened by a share of it on each side.

    Parameters
    ----------
    values : array_like
        Any shape; missing and infinite values are ignored.
    margin : float
        The share of the range added below and above (as matplotlib's default
        margins); a single value is widened by that share of itself, zero by 0.5.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(0, 1)`` when nothing is finite.
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    finite = array[np.isfinite(array)]
    if not finite.size:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    pad = margin * (high - low) or (margin * abs(low) or 0.5)
    return low - pad, high + pad


def _scaled(
    values: npt.ArrayLike, bounds: tuple[float, float], length: float
) -> npt.NDArray[np.float64]:
    """Map values from ``bounds`` onto ``[0, length]`` (a zero-width range counts as 1)."""
    low, high = bounds
    return (np.asarray(values, np.float64) - low) / ((high - low) or 1.0) * length


def _inside(
    bounds: tuple[float, float],
    ticks: npt.ArrayLike | None,
    labels: Sequence[str] | None,
    count: int = 5,
) -> list[tuple[float, str]]:
    """Pair ticks (round ones by default) with their labels, keeping those inside the range."""
    low, high = sorted(bounds)
    values = nice_ticks(low, high, count) if ticks is None else np.asarray(ticks, np.float64)
    texts = tick_labels(values) if labels is None else list(labels)
    slack = 1e-9 * (high - low)
    pairs = zip(values.tolist(), texts, strict=True)
    return [(value, text) for value, text in pairs if low - slack <= value <= high + slack]


@dataclass
class Plot:
    """A rectangular plotting area of an :class:`Svg` with linear x and y scales.

    Parameters
    ----------
    svg : Svg
        The drawing.
    left, top, width, height : float
        The area in pixels.
    x_range, y_range : tuple of float
        Data values at the left and right, bottom and top edges.
    """

    svg: Svg
    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return the pixel columns of x values.

        Parameters
        ----------
        values : array_like
            Data values.

        Returns
        -------
        numpy.ndarray
            Pixel positions.
        """
        return self.left + _scaled(values, self.x_range, self.width)

    def y(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return the pixel rows of y values (up is larger).

        Parameters
        ----------
        values : array_like
            Data values.

        Returns
        -------
        numpy.ndarray
            Pixel positions.
        """
        return self.top + self.height - _scaled(values, self.y_range, self.height)

    def frame(self) -> None:
        """Draw the area's outline."""
        self.svg.rect(self.left, self.top, self.width, self.height, stroke=AXIS, stroke_width=0.8)

    def bars(self, edges: npt.ArrayLike, counts: npt.ArrayLike, fill: str = "#999") -> None:
        """Draw a histogram's bars (white gaps between them) from zero up.

        Parameters
        ----------
        edges : array_like
            Bin edges (one more than ``counts``).
        counts : array_like
            Height of each bar.
        fill : str
            Bar colour.
        """
        bounds = self.x(edges)
        tops = self.y(counts)
        base = float(self.y(0.0))
        for k, top in enumerate(tops):
            if top < base:
                left, right = float(bounds[k]), float(bounds[k + 1])
                self.svg.rect(left, float(top), right - left, base - float(top), fill=fill)
        inner = bounds[1:-1]
        self.svg.segments(inner, self.top, inner, base, colour="#fff", width=0.6)

    def x_axis(
        self,
        label: str = "",
        *,
        ticks: npt.ArrayLike | None = None,
        labels: Sequence[str] | None = None,
        size: float = 9.5,
    ) -> None:
        """Draw tick marks and labels under the area, and the axis label below them.

        Parameters
        ----------
        label : str
            Axis label ("" for none).
        ticks : array_like or None
            Tick values; None: :func:`nice_ticks` of the range.
        labels : sequence of str or None
            Tick labels; None: :func:`tick_labels`.
        size : float
            Tick label size in pixels.
        """
        bottom = self.top + self.height
        for value, text in _inside(self.x_range, ticks, labels):
            px = float(self.x(value))
            self.svg.segments(px, bottom, px, bottom + 3.5, colour=AXIS, width=0.8)
            self.svg.text(px, bottom + 5 + size, text, size=size)
        if label:
            self.svg.text(self.left + self.width / 2, bottom + 12 + 2.2 * size, label, size=11)

    def y_axis(
        self,
        label: str = "",
        *,
        ticks: npt.ArrayLike | None = None,
        labels: Sequence[str] | None = None,
        size: float = 9.5,
        count: int = 5,
    ) -> None:
        """Draw tick marks and labels left of the area, and the axis label turned upright.

        Parameters
        ----------
        label : str
            Axis label ("" for none).
        ticks : array_like or None
            Tick values; None: :func:`nice_ticks` of the range.
        labels : sequence of str or None
            Tick labels; None: :func:`tick_labels`.
        size : float
            Tick label size in pixels.
        count : int
            About how many intervals the default ticks make.
        """
        widest = 0
        for value, text in _inside(self.y_range, ticks, labels, count):
            py = float(self.y(value))
            self.svg.segments(self.left - 3.5, py, self.left, py, colour=AXIS, width=0.8)
            self.svg.text(self.left - 5, py, text, size=size, anchor="end", middle=True)
            widest = max(widest, len(text))
        if label:
            x = self.left - 10 - 0.6 * size * widest - 6
            self.svg.text(x, self.top + self.height / 2, label, size=11, rotate=-90)
