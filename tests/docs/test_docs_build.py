"""The documentation site builds without a warning, and CITATION.cff matches the package.

The site is built from a copy of ``docs/`` (with the ``examples/`` and the changelog it
includes) in a temporary folder, so the build writes nothing into the checkout (the API
pages are generated next to the sources). Sphinx runs in a subprocess: its own
deprecation warnings are not the suite's business, while ``-W`` turns every Sphinx
warning (a broken reference, a docstring that does not parse) into a failure.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dmnpharm

REPO = Path(__file__).resolve().parents[2]

#: What the site's pages include from outside docs/.
INCLUDED = ("examples", "CHANGELOG.md")


def _copy_sources(dest: Path) -> Path:
    """Copy docs/ (without built or generated files) and what it includes; return docs."""
    ignore = shutil.ignore_patterns("_build", "generated", "__pycache__")
    shutil.copytree(REPO / "docs", dest / "docs", ignore=ignore)
    for name in INCLUDED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)
    return dest / "docs"


def test_the_site_builds_without_warnings(tmp_path: Path) -> None:
    """``sphinx-build -W`` succeeds; the start page, API, guide and examples are there."""
    pytest.importorskip("sphinx", reason="Sphinx is not installed (the test extra has it)")
    pytest.importorskip("numpydoc", reason="numpydoc is not installed (the test extra has it)")
    pytest.importorskip("myst_parser", reason="myst-parser is not installed (the test extra)")
    docs = _copy_sources(tmp_path / "src")
    html = tmp_path / "html"
    args = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    proc = subprocess.run(
        [*args, str(docs), str(html)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (html / "index.html").is_file()
    stats_page = (html / "api" / "generated" / "dmnpharm.stats.html").read_text(encoding="utf-8")
    assert "paired_test" in stats_page
    run_page = (html / "guide" / "commands" / "run.html").read_text(encoding="utf-8")
    assert "--permutations" in run_page  # the help text, generated from the parser
    examples = (html / "examples.html").read_text(encoding="utf-8")
    scripts = sorted((REPO / "examples").glob("*.py"))
    assert scripts
    for script in scripts:  # every example is shown, captioned with its path
        assert f"examples/{script.name}" in examples, f"docs/examples.md lacks {script.name}"


def test_every_public_subpackage_has_an_api_page() -> None:
    """docs/api/index.md lists the top package and every subpackage that has an ``__all__``."""
    index = (REPO / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (dmnpharm[\w.]*)$", index, re.M))
    package = REPO / "src" / "dmnpharm"
    public = {"dmnpharm"} | {
        f"dmnpharm.{path.parent.name}"
        for path in package.glob("*/__init__.py")
        if not path.parent.name.startswith("_") and "__all__" in path.read_text(encoding="utf-8")
    }
    public |= {
        f"dmnpharm.{path.stem}"
        for path in package.glob("*.py")
        if not path.stem.startswith("_") and "__all__" in path.read_text(encoding="utf-8")
    }
    assert public == listed


def test_citation_cff_matches_the_package() -> None:
    """CITATION.cff is CFF 1.2.0 with the package's version, licence and a valid date."""
    yaml = pytest.importorskip("yaml", reason="PyYAML (a Dask dependency) is not installed")
    text = (REPO / "CITATION.cff").read_text(encoding="utf-8")
    record = yaml.safe_load(text)
    assert record["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "date-released", "license"):
        assert record.get(key), f"CITATION.cff lacks {key!r}"
    assert str(record["version"]) == dmnpharm.__version__
    assert str(record["version"]) == importlib.metadata.version("dmnpharm")
    assert record["license"] == "BSD-3-Clause"
    assert all("name" in a or "family-names" in a for a in record["authors"])
    released = record["date-released"]
    if isinstance(released, str):
        released = datetime.date.fromisoformat(released)
    assert isinstance(released, datetime.date)
