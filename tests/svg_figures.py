"""Read back the SVG figures the reports embed: their elements, texts and embedded images."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import numpy as np
import numpy.typing as npt
from PIL import Image

SVG_URI = "data:image/svg+xml;base64,"
NS = "{http://www.w3.org/2000/svg}"


def svg_root(uri: str) -> ET.Element:
    """Decode an SVG data URI and parse it (fails on anything but well-formed SVG)."""
    assert uri.startswith(SVG_URI), uri[:40]
    root = ET.fromstring(base64.b64decode(uri[len(SVG_URI) :]))
    assert root.tag == f"{NS}svg"
    return root


def svg_texts(root: ET.Element) -> list[str]:
    """Return every ``<text>`` element's content, in drawing order."""
    return [t.text or "" for t in root.iter(f"{NS}text")]


def svg_elements(root: ET.Element, tag: str) -> list[ET.Element]:
    """Return every element of one kind (``rect``, ``circle``, ``path``, ``image``)."""
    return list(root.iter(f"{NS}{tag}"))


def svg_images(root: ET.Element) -> list[npt.NDArray[np.uint8]]:
    """Return the embedded PNG images as RGB arrays, decoded by Pillow."""
    images = []
    for element in svg_elements(root, "image"):
        href = element.get("href", "")
        assert href.startswith("data:image/png;base64,")
        png = base64.b64decode(href.split(",", 1)[1])
        images.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    return images


def svg_dots(root: ET.Element) -> list[tuple[str, int]]:
    """Return each group of dots (one path of ``M x y h0`` strokes): its colour and count."""
    paths = [p for p in svg_elements(root, "path") if p.get("class") == "dots"]
    return [(p.get("stroke", ""), p.get("d", "").count("h0")) for p in paths]
