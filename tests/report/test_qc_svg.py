"""QC figures written as SVG: the censoring raster, mean FD bars and FD traces."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dmnpharm.report._qc_svg import censoring_figure, fd_traces_figure
from dmnpharm.report._svg import RED
from svg_figures import svg_elements, svg_images, svg_root, svg_texts

KEPT, CENSORED, PAST = (0xE8, 0xEE, 0xF5), (0xC0, 0x39, 0x2B), (0xFF, 0xFF, 0xFF)


def test_the_censoring_raster_holds_each_run_and_volume() -> None:
    """One pixel per run and volume: kept, censored, or past a shorter run's end."""
    runs = pd.DataFrame({"group": ["drug", "drug", "placebo"], "n_volumes": [5, 3, 5]})
    censored = [[0, 4], [], [2, 9]]  # 9 lies outside the run: ignored
    root = svg_root(censoring_figure(runs, censored, [0.2, 0.0, 0.4]))
    (image,) = svg_images(root)
    expected = np.array(
        [
            [CENSORED, KEPT, KEPT, KEPT, CENSORED],
            [KEPT, KEPT, KEPT, PAST, PAST],
            [KEPT, KEPT, CENSORED, KEPT, KEPT],
        ],
        dtype=np.uint8,
    )
    assert np.array_equal(image, expected)
    texts = svg_texts(root)
    assert texts.count("drug") == texts.count("placebo") == 1  # one label per group
    assert {"volume", "mean FD (mm)", "mean FD per run"} <= set(texts)
    bars = [r for r in svg_elements(root, "rect") if r.get("fill") == "#808080"]
    widths = [float(r.get("width", "nan")) for r in bars]
    assert len(bars) == 2  # a zero mean FD draws no bar
    assert abs(widths[1] - 2 * widths[0]) < 0.1  # 0.4 mm is twice 0.2 mm
    without = svg_root(censoring_figure(runs, censored))
    assert "mean FD per run" not in svg_texts(without)


def test_fd_traces_draw_each_run_its_censored_volumes_and_the_threshold() -> None:
    """A line per run (broken at a missing value), a red tick per censored volume."""
    fd = np.array([np.nan, 0.1, 0.2, 0.9, 0.1, 0.15])
    traces = [
        ("sub-01 drug", fd, np.array([0, 0, 0, 1, 1, 0], dtype=bool)),
        ("sub-02 placebo", fd * 0.5, np.zeros(6, dtype=bool)),
    ]
    root = svg_root(fd_traces_figure(traces, threshold=0.5))
    texts = svg_texts(root)
    assert "sub-01 drug (2 censored)" in texts
    assert "sub-02 placebo (0 censored)" in texts
    assert "FD (mm)" in texts
    paths = svg_elements(root, "path")
    lines = [p.get("d", "") for p in paths if p.get("stroke") == "#4d4d4d"]
    assert len(lines) == 2
    # The missing first value starts the line at the second volume: 5 points each.
    assert [len(re.findall(r"[ML]", line)) for line in lines] == [5, 5]
    ticks = [p for p in paths if p.get("stroke") == RED and p.get("stroke-dasharray") is None]
    assert [p.get("d", "").count("M") for p in ticks] == [2]
    dashed = [p for p in paths if p.get("stroke-dasharray")]
    assert len(dashed) == 2  # the threshold in each panel
    root = svg_root(fd_traces_figure(traces, threshold=None))
    assert not [p for p in svg_elements(root, "path") if p.get("stroke-dasharray")]
