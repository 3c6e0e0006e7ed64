"""Encode a matplotlib figure as an embedded PNG."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

__all__ = ["png_uri"]


def png_uri(fig: Figure) -> str:
    """Return a figure (with a canvas) as a ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure with a canvas (e.g. made with ``FigureCanvasAgg``).

    Returns
    -------
    str
        The PNG data URI, without the software tag (same figure, same bytes).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
