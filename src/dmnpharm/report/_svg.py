"""Figures written as SVG directly: histograms, intervals and matrices without matplotlib.

Importing matplotlib costs about 0.3 s and drawing a figure with it 0.1 s or
more, which at connectome scale is a large share of ``dmnpharm stats``. The
figures of large analyses (the strongest measures, the histogram of p, the
maximum-statistic null, region x region matrices) are simple enough to write
as SVG: their text stays sharp and selectable at any zoom, and a matrix is
embedded as a small PNG at one pixel per cell.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt

__all__ = [
    "FONT",
    "RED",
    "Svg",
    "diverging_rgb",
    "nice_ticks",
    "png_bytes",
    "tick_labels",
]

#: Font stack of the figures' text (matplotlib's default first, so figures look alike).
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
#: Highlight colour (p FWER < 0.05, observed statistics), as in the matplotlib figures.
RED = "#c0392b"
#: Text and axis colours.
INK = "#262626"
AXIS = "#808080"

#: ColorBrewer's 11-class RdBu scheme, blue (low) to red (high): matplotlib's ``RdBu_r``
#: interpolates the same anchors linearly.
_RDBU_R = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
)
#: Colour of missing cells (matplotlib grey 0.85).
_MISSING = (217, 217, 217)


def _num(value: float) -> str:
    """Format a coordinate with one decimal (``-0.0`` as ``0``)."""
    text = f"{value:.1f}"
    return "0" if text in ("-0.0", "0.0") else text.removesuffix(".0")


def nice_ticks(low: float, high: float, count: int = 5) -> npt.NDArray[np.float64]:
    """Return round tick values inside ``[low, high]``: steps of 1, 2, 2.5 or 5 times 10^k.

    Parameters
    ----------
    low, high : float
        The axis range.
    count : int
        About how many intervals to make.

    Returns
    -------
    numpy.ndarray
        Ascending ticks; ``[low]`` when the range is empty, none when it is not finite.

    Examples
    --------
    >>> nice_ticks(0.0, 1.0).tolist()
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.empty(0)
    if high <= low:
        return np.array([float(low)])
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1.0, 2.0, 2.5, 5.0, 10.0) if f * power >= raw * (1 - 1e-9))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return np.array([float(f"{k * step:.12g}") for k in range(first, last + 1)])


def tick_labels(ticks: npt.ArrayLike) -> list[str]:
    """Label ticks with the decimals their step needs and a true minus sign.

    Parameters
    ----------
    ticks : array_like
        Evenly spaced tick values.

    Returns
    -------
    list of str
        E.g. ``0``, ``0.5``, and ``-0.5`` with U+2212 as its sign; ``%.3g``
        style for very large or small values.
    """
    values = np.asarray(ticks, dtype=np.float64)
    if not values.size:
        return []
    step = float(np.min(np.abs(np.diff(values)))) if values.size > 1 else 0.0
    largest = float(np.max(np.abs(values)))
    if largest >= 1e5 or (0 < largest < 1e-3):
        texts = [f"{v:.3g}" for v in values]
    else:
        decimals = 0
        while step and decimals < 8 and abs(round(step, decimals) - step) > 1e-9 * step:
            decimals += 1
        texts = [f"{v:.{decimals}f}" for v in values]
    return [(t.lstrip("-") if float(t) == 0 else t).replace("-", "\u2212") for t in texts]


def png_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    """Encode an RGB image (rows x columns x 3, uint8) as a PNG file.

    Parameters
    ----------
    rgb : numpy.ndarray
        The pixels, top row first.

    Returns
    -------
    bytes
        A PNG (8-bit truecolour, no filtering, zlib level 6).
    """
    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"an RGB image must be rows x columns x 3, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # filter byte 0 on every row
    rows[:, 1:] = pixels.reshape(height, 3 * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            chunk(b"IEND", b""),
        ]
    )


def _anchors() -> npt.NDArray[np.float64]:
    return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in _RDBU_R], dtype=float)


def diverging_rgb(values: npt.ArrayLike, limit: float) -> npt.NDArray[np.uint8]:
    """Colour values on the blue-white-red scale from ``-limit`` to ``limit``.

    Parameters
    ----------
    values : array_like
        Any shape; values beyond the limits take the end colours, missing
        (NaN) values light grey.
    limit : float
        The value at the red end (its negative at the blue end); positive.

    Returns
    -------
    numpy.ndarray
        ``values.shape + (3,)``, uint8.
    """
    array = np.asarray(values, dtype=np.float64)
    scale = limit if math.isfinite(limit) and limit > 0 else 1.0
    position = np.clip((array + scale) / (2 * scale), 0.0, 1.0) * (len(_RDBU_R) - 1)
    position = np.where(np.isfinite(position), position, 0.0)
    lower = np.minimum(np.floor(position).astype(np.intp), len(_RDBU_R) - 2)
    weight = (position - lower)[..., None]
    anchors = _anchors()
    rgb = anchors[lower] * (1 - weight) + anchors[lower + 1] * weight
    out: npt.NDArray[np.uint8] = np.rint(rgb).astype(np.uint8)
    out[~np.isfinite(array)] = _MISSING
    return out


class Svg:
    """An SVG drawing in pixels, written element by element.

    Parameters
    ----------
    width, height : float
        Size in CSS pixels.
    """

    def __init__(self, width: float, height: float) -> None:
        self.width = float(width)
        self.height = float(height)
        self._parts: list[str] = []

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 10.0,
        anchor: str = "middle",
        colour: str = INK,
        bold: bool = False,
        rotate: float | None = None,
        middle: bool = False,
    ) -> None:
        """Write a line of text whose baseline (``middle``: centre) is at ``y``.

        Parameters
        ----------
        x, y : float
            Position.
        content : str
            The text (escaped here).
        size : float
            Font size in pixels.
        anchor : str
            ``start``, ``middle`` or ``end``.
        colour : str
            Fill colour.
        bold : bool
            Bold weight.
        rotate : float or None
            Degrees clockwise about ``(x, y)``.
        middle : bool
            Centre the text vertically on ``y`` instead of sitting on it.
        """
        attrs = f'x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}"'
        if colour != INK:
            attrs += f' fill="{colour}"'
        if bold:
            attrs += ' font-weight="bold"'
        if middle:
            attrs += ' dy="0.35em"'
        if rotate is not None:
            attrs += f' transform="rotate({_num(rotate)} {_num(x)} {_num(y)})"'
        self._parts.append(f"<text {attrs}>{escape(content)}</text>")

    def segments(
        self,
        x1: npt.ArrayLike,
        y1: npt.ArrayLike,
        x2: npt.ArrayLike,
        y2: npt.ArrayLike,
        *,
        colour: str = INK,
        width: float = 1.0,
        dash: str | None = None,
        opacity: float | None = None,
    ) -> None:
        """Draw straight segments from ``(x1, y1)`` to ``(x2, y2)`` as one path.

        Parameters
        ----------
        x1, y1, x2, y2 : array_like
            Ends of each segment (broadcast together).
        colour : str
            Stroke colour.
        width : float
            Stroke width in pixels.
        dash : str or None
            An SVG ``stroke-dasharray`` such as ``"4 3"``.
        opacity : float or None
            Stroke opacity.
        """
        ends = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, float)) for v in (x1, y1, x2, y2))
        )
        keep = np.all([np.isfinite(v) for v in ends], axis=0)
        if not keep.any():
            return
        path = "".join(
            f"M{_num(a)} {_num(b)}L{_num(c)} {_num(d)}"
            for a, b, c, d in zip(*(v[keep] for v in ends), strict=True)
        )
        self.path(path, colour=colour, width=width, dash=dash, opacity=opacity)

    def path(
        self,
        d: str,
        *,
        colour: str = INK,
        width: float = 1.0,
        dash: str | None = None,
        opacity: float | None = None,
    ) -> None:
        """Stroke an SVG path (``d`` in SVG path syntax, unfilled).

        Parameters
        ----------
        d : str
            The path's commands, e.g. ``"M0 0C1 2 3 4 5 6"``.
        colour, width, dash, opacity
            As :meth:`segments` takes them.
        """
        attrs = f'd="{d}" stroke="{colour}" stroke-width="{_num(width)}" fill="none"'
        if dash:
            attrs += f' stroke-dasharray="{dash}"'
        if opacity is not None:
            attrs += f' stroke-opacity="{opacity:.3g}"'
        self._parts.append(f"<path {attrs}/>")

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str = "none",
        stroke: str | None = None,
        stroke_width: float = 1.0,
    ) -> None:
        """Draw a rectangle.

        Parameters
        ----------
        x, y : float
            Top-left corner.
        width, height : float
            Size.
        fill : str
            Fill colour (``none`` for an outline).
        stroke : str or None
            Outline colour; None for none.
        stroke_width : float
            Outline width.
        """
        attrs = (
            f'x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" '
            f'fill="{fill}"'
        )
        if stroke:
            attrs += f' stroke="{stroke}" stroke-width="{_num(stroke_width)}"'
        self._parts.append(f"<rect {attrs}/>")

    def dots(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        radius: float,
        colour: str,
        opacity: float | None = None,
    ) -> None:
        """Draw filled circles centred on ``(x, y)``, all in one path.

        Each dot is a zero-length stroke with round caps (``M x y h0``), a
        dozen bytes, so thousands of subjects stay a small figure.

        Parameters
        ----------
        x, y : array_like
            Centres (pairs with a missing value are skipped).
        radius : float
            Radius in pixels.
        colour : str
            Fill colour.
        opacity : float or None
            Opacity of the whole group of dots.
        """
        xs, ys = np.broadcast_arrays(
            np.atleast_1d(np.asarray(x, dtype=np.float64)),
            np.atleast_1d(np.asarray(y, dtype=np.float64)),
        )
        keep = np.isfinite(xs) & np.isfinite(ys)
        if not keep.any():
            return
        path = "".join(f"M{_num(a)} {_num(b)}h0" for a, b in zip(xs[keep], ys[keep], strict=True))
        attrs = (
            f'd="{path}" stroke="{colour}" stroke-width="{_num(2 * radius)}" '
            'stroke-linecap="round" fill="none"'
        )
        if opacity is not None and opacity < 1:
            attrs += f' stroke-opacity="{opacity:.3g}"'
        self._parts.append(f'<path class="dots" {attrs}/>')

    def image(self, png: bytes, x: float, y: float, width: float, height: float) -> None:
        """Embed a PNG stretched over a rectangle (cells stay square-edged when enlarged).

        Parameters
        ----------
        png : bytes
            The image file.
        x, y, width, height : float
            Where it goes.
        """
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        self._parts.append(
            f'<image x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" '
            f'height="{_num(height)}" preserveAspectRatio="none" '
            f'style="image-rendering:pixelated" href={quoteattr(uri)}/>'
        )

    def markup(self) -> str:
        """Return the drawing as an SVG document.

        Returns
        -------
        str
            ``<svg ...>...</svg>`` with a white background.
        """
        size = f'width="{_num(self.width)}" height="{_num(self.height)}"'
        view = f'viewBox="0 0 {_num(self.width)} {_num(self.height)}"'
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" {size} {view} '
            f"font-family={quoteattr(FONT)} fill={quoteattr(INK)}>"
        )
        background = f'<rect width="{_num(self.width)}" height="{_num(self.height)}" fill="#fff"/>'
        return head + background + "".join(self._parts) + "</svg>"

    def uri(self) -> str:
        """Return the drawing as a data URI for an ``<img src>``.

        Returns
        -------
        str
            ``data:image/svg+xml;base64,...``.
        """
        encoded = base64.b64encode(self.markup().encode("utf-8")).decode("ascii")
        return "data:image/svg+xml;base64," + encoded
