"""Figures written as SVG: ticks, colours, the embedded PNG, and what each figure shows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib import colormaps
from PIL import Image

from dmnpharm.report._matrices import network_blocks
from dmnpharm.report._matrix_figure import matrix_figure
from dmnpharm.report._nulls import max_null_figure, null_figure
from dmnpharm.report._stats_views import estimates_figure, p_histogram_figure
from dmnpharm.report._svg import RED, diverging_rgb, nice_ticks, png_bytes, tick_labels
from svg_figures import svg_dots, svg_elements, svg_images, svg_root, svg_texts

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-3.2, 7.9, [-2.5, 0.0, 2.5, 5.0, 7.5]),
        (0.0, 1050.0, [0.0, 250.0, 500.0, 750.0, 1000.0]),
        (2.0, 2.0, [2.0]),
    ],
)
def test_nice_ticks_are_round_steps_inside_the_range(
    low: float, high: float, expected: list[float]
) -> None:
    """Steps of 1, 2, 2.5 or 5 times a power of ten, every tick inside the range."""
    assert nice_ticks(low, high).tolist() == expected
    assert nice_ticks(0.0, float("inf")).size == 0


def test_tick_labels_use_the_decimals_of_the_step_and_a_true_minus() -> None:
    """Labels need as many decimals as the step; negatives get U+2212; zero is unsigned."""
    assert tick_labels([-0.5, 0.0, 0.5]) == [f"{MINUS}0.5", "0.0", "0.5"]
    assert tick_labels([0.0, 2.5, 5.0]) == ["0.0", "2.5", "5.0"]
    assert tick_labels([0.0, 250.0, 500.0]) == ["0", "250", "500"]
    assert tick_labels([0.0, 2e5]) == ["0", "2e+05"]


def test_png_bytes_decode_to_the_same_pixels(rng: np.random.Generator) -> None:
    """Pillow reads back exactly the pixels written, odd sizes included."""
    pixels = rng.integers(0, 256, size=(7, 13, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(pixels))).convert("RGB"))
    assert np.array_equal(decoded, pixels)
    with pytest.raises(ValueError, match="rows x columns x 3"):
        png_bytes(pixels[..., 0])


def test_diverging_colours_match_matplotlibs_rdbu_r() -> None:
    """The scale equals matplotlib's ``RdBu_r`` to its 256-step quantisation; NaN is grey."""
    values = np.linspace(-1.0, 1.0, 1001)
    ours = diverging_rgb(values, 1.0).astype(int)
    theirs = np.rint(colormaps["RdBu_r"](values / 2 + 0.5)[:, :3] * 255).astype(int)
    assert np.abs(ours - theirs).max() <= 3
    ends = diverging_rgb([-5.0, 5.0, np.nan], 1.0)
    assert ends.tolist() == [[5, 48, 97], [103, 0, 31], [217, 217, 217]]


def test_p_histogram_bars_follow_the_counts(rng: np.random.Generator) -> None:
    """One bar per non-empty bin, heights proportional to the counts; the title is kept."""
    p = np.concatenate([rng.uniform(size=400), np.full(100, 0.01), [np.nan]])
    root = svg_root(p_histogram_figure(p, "p over 500 measures"))
    counts = np.histogram(p[np.isfinite(p)], bins=20, range=(0, 1))[0]
    bars = [r for r in svg_elements(root, "rect") if r.get("fill") == "#8c8c8c"]
    heights = np.array([float(r.get("height", "0")) for r in bars])
    assert len(bars) == np.count_nonzero(counts)
    assert np.allclose(heights / heights.max(), counts[counts > 0] / counts.max(), atol=0.01)
    assert "p over 500 measures" in svg_texts(root)


def test_estimates_figure_marks_each_row_and_the_significant_ones(
    rng: np.random.Generator,
) -> None:
    """One dot per row, red where p FWER < 0.05; every measure is labelled, top first."""
    rows = pd.DataFrame(
        {
            "measure": [f"edge_{k}" for k in range(12)],
            "estimate": rng.normal(size=12),
            "ci_low": -3.0,
            "ci_high": 3.0,
            "p_fwer": np.linspace(0, 0.2, 12),
        }
    )
    root = svg_root(estimates_figure(rows, "top"))
    dots = svg_dots(root)
    assert sum(count for _, count in dots) == 12
    assert sum(count for colour, count in dots if colour == RED) == int(
        (rows["p_fwer"] < 0.05).sum()
    )
    texts = svg_texts(root)
    positions = [texts.index(f"edge_{k}") for k in range(12)]
    assert positions == sorted(positions)
    missing = rows.assign(estimate=np.nan, ci_low=np.nan, ci_high=np.nan)
    assert svg_dots(svg_root(estimates_figure(missing, "no values"))) == []


def test_null_figures_mark_the_observed_and_name_the_strongest(
    rng: np.random.Generator,
) -> None:
    """The maximum null names measures beyond the critical value, safely escaped."""
    null = np.abs(rng.normal(size=500))
    hostile = "<img src=x onerror=alert(1)>"
    names = ["weak", hostile, "strong", "also weak"]
    root = svg_root(max_null_figure(null, [0.5, -4.0, 3.5, 1.0], 3.0, "t", "max", names))
    texts = svg_texts(root)
    assert {hostile, "strong"} <= set(texts)
    assert not {"weak", "also weak"} & set(texts)
    assert "FWER 5 %: 3" in texts
    one = svg_texts(svg_root(null_figure(null, 2.5, 3.1, "t", "measure m")))
    assert {"measure m", "observed t = 2.5"} <= set(one)
    infinite = null_figure(np.append(null, np.inf), np.inf, np.inf, "t", "constant")
    assert "observed t = inf" in svg_texts(svg_root(infinite))
    many = max_null_figure(null, rng.normal(size=5000), 3.0, "t", "many")
    assert len(svg_root(many).findall(".//{*}path")) < 20  # ticks merged per pixel column


def test_matrix_figure_embeds_each_cell_in_network_order() -> None:
    """The embedded image is the reordered matrix at one pixel per cell, diagonal grey."""
    blocks = network_blocks(["SN", "DMN", "SN", "DMN"])
    matrix = np.array(
        [[0.0, 1.0, -1.0, 0.5], [1.0, 0.0, 0.2, -0.3], [-1.0, 0.2, 0.0, 0.4], [0.5, -0.3, 0.4, 0]]
    )
    root = svg_root(matrix_figure({"a": matrix, "difference a - b": -matrix}, "t", blocks))
    images = [image for image in svg_images(root) if image.shape[1] > 1]  # not the scales
    assert [image.shape for image in images] == [(4, 4, 3), (4, 4, 3)]
    ordered = matrix[np.ix_(blocks.order, blocks.order)].copy()
    np.fill_diagonal(ordered, np.nan)
    limit = float(np.nanpercentile(np.abs(ordered), 98))
    assert np.array_equal(images[0], diverging_rgb(ordered, limit))
    assert {"DMN", "SN", "a", "difference a - b", "t"} <= set(svg_texts(root))
    with pytest.raises(ValueError, match="square"):
        matrix_figure({"a": np.zeros((2, 3))}, "t")
