"""The report of a voxel-level (BIDS) study in a real headless browser.

Kept apart from ``test_browser.py`` so that the tests reading the shared
voxel-level analysis run on one test worker (see ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dmnpharm import Results


def test_voxel_level_study_report_renders(
    browser: Any,
    voxel_analysis: Results,
    open_page: Callable[[Any, Path], tuple[Any, dict[str, list[str]]]],
    images_shown: Callable[[Any], list[dict[str, Any]]],
) -> None:
    """The report of a BIDS (voxel-level) simulated study opens cleanly with its figures.

    ``voxel_analysis`` (tests/conftest.py) analysed the voxel-level study with aCompCor.
    """
    result = voxel_analysis
    page, seen = open_page(browser, result.report_file)
    assert seen == {"console": [], "page": [], "dialog": []}
    images = images_shown(page)
    assert images
    assert all(image["natural"] > 0 and image["width"] > 50 for image in images)
    text = page.inner_text("body")
    assert "acompcor" in text
    assert "Quality control" in text
    page.close()
