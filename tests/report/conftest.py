"""Browser fixtures for the report tests: a headless Chromium driven by Playwright.

``.ci/run`` installs Debian's ``chromium``; Playwright drives that binary (no browser
download). Without Playwright or a Chromium binary the tests that use these skip
and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _chromium() -> str:
    path = os.environ.get("DMNPHARM_CHROMIUM") or shutil.which("chromium")
    path = path or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no Chromium binary (install Debian's chromium or set DMNPHARM_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser() -> Any:
    """Yield a headless Chromium controlled by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = _chromium()
    with sync_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser: Any, path: Path) -> tuple[Any, dict[str, list[str]]]:
    """Open a file in a fresh page, recording console errors, page errors and dialogs."""
    page = browser.new_page()
    seen: dict[str, list[str]] = {"console": [], "page": [], "dialog": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["page"].append(str(e)))

    def on_dialog(dialog: Any) -> None:
        seen["dialog"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, seen


def _images_shown(page: Any) -> list[dict[str, Any]]:
    """Each image's natural width and on-page box, from the browser itself."""
    boxes: list[dict[str, Any]] = page.evaluate(
        """() => Array.from(document.images).map(img => {
            const box = img.getBoundingClientRect();
            return {complete: img.complete, natural: img.naturalWidth,
                    width: box.width, height: box.height, alt: img.alt};
        })"""
    )
    return boxes


@pytest.fixture
def open_page() -> Callable[[Any, Path], tuple[Any, dict[str, list[str]]]]:
    """Return the function that opens a file in a fresh page, recording errors."""
    return _open


@pytest.fixture
def images_shown() -> Callable[[Any], list[dict[str, Any]]]:
    """Return the function that lists a page's images as the browser shows them."""
    return _images_shown
