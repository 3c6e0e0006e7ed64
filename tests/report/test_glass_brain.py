"""The glass brain of the strongest edges, written as SVG: views, placement, colours."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import dmnpharm.report._glass_brain as glass
from dmnpharm.report import connectome_figure
from dmnpharm.report._svg import diverging_rgb
from svg_figures import svg_elements, svg_root, svg_texts

#: Left parietal, right parietal, medial prefrontal, and a node with no edge.
COORDS = [(-40.0, -60.0, 30.0), (40.0, -60.0, 30.0), (0.0, 50.0, 0.0), (10.0, 10.0, 10.0)]


def _edges() -> np.ndarray:
    edges = np.zeros((4, 4))
    edges[0, 1] = edges[1, 0] = 2.0  # left-right parietal: the strongest, positive
    edges[1, 2] = edges[2, 1] = -1.0
    return edges


def _dots_per_view(root: ET.Element) -> list[np.ndarray]:
    """Each view's node centres (x, y in pixels), in the order they are drawn."""
    paths = [p for p in svg_elements(root, "path") if p.get("class") == "dots"]
    return [
        np.array(re.findall(r"M([-\d.]+) ([-\d.]+)h0", p.get("d", "")), dtype=float) for p in paths
    ]


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def test_three_views_place_the_nodes_by_their_mni_coordinates() -> None:
    """Sagittal (anterior right), coronal and axial (left on the left; anterior up)."""
    root = svg_root(connectome_figure(_edges(), COORDS, "strongest edges"))
    sagittal, coronal, axial = _dots_per_view(root)
    # Only the three joined nodes are drawn, in each view.
    assert [len(view) for view in (sagittal, coronal, axial)] == [3, 3, 3]
    left, right, frontal = 0, 1, 2
    assert sagittal[frontal, 0] > sagittal[left, 0]  # anterior to the right
    assert sagittal[frontal, 1] > sagittal[left, 1]  # lower (z 0 against 30) further down
    assert sagittal[left, 0] == pytest.approx(sagittal[right, 0])  # same y and z
    assert coronal[left, 0] < coronal[frontal, 0] < coronal[right, 0]
    assert coronal[frontal, 0] - coronal[left, 0] == pytest.approx(
        coronal[right, 0] - coronal[frontal, 0], abs=0.2
    )
    assert axial[frontal, 1] < axial[left, 1]  # anterior up
    # 1.4 pixels per mm in every view: 80 mm between the parietal nodes.
    assert coronal[right, 0] - coronal[left, 0] == pytest.approx(80 * 1.4, abs=0.2)
    texts = svg_texts(root)
    assert "strongest edges" in texts
    assert texts.count("L") == texts.count("R") == 2
    assert {"x", "y", "z"} <= set(texts)


def test_edges_are_coloured_by_value_the_strongest_on_top() -> None:
    """Each edge once per view, on the symmetric scale; the largest |value| drawn last."""
    root = svg_root(connectome_figure(_edges(), COORDS, "t"))
    strokes = [
        p.get("stroke") for p in svg_elements(root, "path") if p.get("stroke-width") == "1.6"
    ]
    strong, weak = (
        _hex(diverging_rgb(np.array([2.0]), 2.0)[0]),
        _hex(diverging_rgb(np.array([-1.0]), 2.0)[0]),
    )
    assert strokes == [weak, strong] * 3
    assert strong != weak
    # The outline: nilearn's brain schematics as cubic curves.
    curves = sum(p.get("d", "").count("C") for p in svg_elements(root, "path"))
    assert curves > 300


def test_without_the_schematics_the_views_have_no_outline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A nilearn without its outline files still gives the nodes and edges."""
    monkeypatch.setattr(glass, "_schematics_folder", lambda: None)
    glass._outline.cache_clear()
    try:
        root = svg_root(connectome_figure(_edges(), COORDS, "t"))
    finally:
        glass._outline.cache_clear()
    assert not any("C" in p.get("d", "") for p in svg_elements(root, "path"))
    assert [len(view) for view in _dots_per_view(root)] == [3, 3, 3]


def test_no_edge_shows_every_node_and_a_mismatch_is_refused() -> None:
    """An all-zero matrix draws all nodes; edges and coordinates must agree in size."""
    root = svg_root(connectome_figure(np.zeros((4, 4)), COORDS, "t"))
    assert [len(view) for view in _dots_per_view(root)] == [4, 4, 4]
    with pytest.raises(ValueError, match="coordinates"):
        connectome_figure(np.zeros((3, 3)), COORDS, "t")
