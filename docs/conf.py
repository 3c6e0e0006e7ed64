"""Sphinx configuration of the dmnpharm documentation site.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` from the
repository root. The build reads no network: intersphinx has no remote inventories, and
the examples are shown as source, never executed.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[1]
# The package is normally installed (pip install -e .); the src folder is a fallback for
# a plain checkout.
sys.path.insert(0, str(ROOT / "src"))

from dmnpharm import __version__  # noqa: E402  (after the path fallback above)

project = "dmnpharm"
author = "dmnpharm developers"
copyright = "dmnpharm developers, BSD-3-Clause"
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]

# Markdown: fenced ``{eval-rst}`` blocks, ``:::`` fences, and anchors for headings down
# to level 3 so that ``page.md#heading`` links resolve.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# API reference: one generated page per public subpackage (templates in _templates/).
autosummary_generate = True
autosummary_ignore_module_all = False  # document exactly each package's __all__
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections already give the types
autodoc_class_signature = "separated"

# numpydoc: the docstrings are checked by the test suite (tests/test_quality.py); here
# only style is configured. No per-class member tables (the generated pages list members),
# no validation at build time, no cross-referencing of parameter types.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

#: The public subpackages, lowest layer first (pyproject.toml's import-linter layers);
#: docs/api/index.md lists the same.
PUBLIC_PACKAGES = (
    "dmnpharm",
    "dmnpharm.exceptions",
    "dmnpharm.io",
    "dmnpharm.atlases",
    "dmnpharm.signal",
    "dmnpharm.extract",
    "dmnpharm.metrics",
    "dmnpharm.stats",
    "dmnpharm.config",
    "dmnpharm.catalog",
    "dmnpharm.predict",
    "dmnpharm.simulate",
    "dmnpharm.store",
    "dmnpharm.report",
    "dmnpharm.execution",
    "dmnpharm.pipeline",
    "dmnpharm.cli",
)

#: A module-level assignment: ``NAME = ...`` or ``NAME: annotation = ...``.
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=(?!=)")

#: Longest value shown beside a constant's name; longer ones are left to the source.
MAX_VALUE_CHARS = 60


def _is_constant(value: Any) -> bool:
    """Return whether an exported name is data (not a class, routine or module)."""
    return not (inspect.isclass(value) or callable(value) or inspect.ismodule(value))


def _module_files(package: ModuleType) -> list[Path]:
    """Return the source files whose names a package exports: its own and those below it.

    The top package exports only its subpackages' objects and the version.
    """
    if package.__name__ == "dmnpharm":
        return [
            Path(package.__file__ or ""),
            Path(package.__file__ or "").with_name("_version.py"),
        ]
    if hasattr(package, "__path__"):
        return sorted(Path(package.__path__[0]).rglob("*.py"))
    return [Path(package.__file__ or "")]


def _attribute_comments(package: ModuleType) -> dict[str, list[str]]:
    """Return the ``#:`` comment above every module-level assignment in a package.

    Read from the source text (a line ``NAME = ...`` or ``NAME: type = ...`` at the
    start of a line, and the ``#:`` lines right above it), without importing or
    parsing the modules: the build reads only the comments of exported names.
    """
    comments: dict[str, list[str]] = {}
    for path in _module_files(package):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = _ASSIGNMENT.match(line)
            if match is None:
                continue
            above: list[str] = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#:"):
                above.insert(0, lines[j][3:] if lines[j].startswith("#: ") else lines[j][2:])
                j -= 1
            if above:
                comments.setdefault(match.group(1), above)
    return comments


def _constants(package: ModuleType) -> dict[str, dict[str, Any]]:
    """Describe a package's exported constants: their comment and a short value."""
    comments = _attribute_comments(package)
    described: dict[str, dict[str, Any]] = {}
    for name in package.__all__:
        value = getattr(package, name)
        if not _is_constant(value):
            continue
        text = repr(value)
        short = text if len(text) <= MAX_VALUE_CHARS and "\n" not in text else ""
        doc = [escape_bars(line) for line in comments.get(name, [])]
        while doc and not doc[-1].strip():
            doc.pop()
        described[name] = {"doc": doc, "value": short}
    return described


def _public_homes(top: ModuleType) -> dict[str, str]:
    """Map each name the top package exports to the subpackage page documenting it."""
    homes: dict[str, str] = {}
    for name in top.__all__:
        value = getattr(top, name)
        for package in PUBLIC_PACKAGES[1:]:
            module = importlib.import_module(package)
            if name in module.__all__ and getattr(module, name) is value:
                # relative to the top package: autosummary's form inside its page
                homes[name] = f"{package.removeprefix('dmnpharm.')}.{name}"
                break
    return homes


_SUBSTITUTION_LIKE = re.compile(r"(?<![\\|\w])\|([^|\s`]{1,20})\|(?![\w|])")
_LITERAL = re.compile(r"(``.+?``)")


def escape_bars(line: str) -> str:
    """Escape ``|t|``-style absolute values outside literals so reST keeps them as text.

    Docstrings write the absolute value of a statistic as ``|t|``; reStructuredText
    reads that as a substitution reference. Literal parts (between double backquotes)
    are left as they are.
    """
    parts = _LITERAL.split(line)
    for i in range(0, len(parts), 2):
        parts[i] = _SUBSTITUTION_LIKE.sub(r"\\|\1\\|", parts[i])
    return "".join(parts)


def _escape_docstring(*event: Any) -> None:
    """Apply :func:`escape_bars` to every line of a docstring (autodoc event).

    The event passes ``app, what, name, obj, options, lines``; only ``lines`` is used.
    """
    lines: list[str] = event[-1]
    lines[:] = [escape_bars(line) for line in lines]


def _template_context() -> dict[str, Any]:
    """Build what the API page template needs beyond autosummary's own context."""
    packages = {name: importlib.import_module(name) for name in PUBLIC_PACKAGES}
    return {
        "constant_info": {name: _constants(module) for name, module in packages.items()},
        "public_home": _public_homes(packages["dmnpharm"]),
    }


autosummary_context = _template_context()


def _numpydoc_with_one_template() -> None:
    """Let numpydoc compile its docstring template once per build, not once per docstring.

    ``numpydoc.docscrape_sphinx.get_doc_object`` builds a new Jinja environment and
    compiles ``numpydoc_docstring.rst`` for every docstring and signature (about 3.5 ms
    each, a quarter of this site's build). numpydoc's ``setup`` takes the function to
    use as a parameter; this installs one that passes the same compiled template to
    numpydoc's public docstring classes. Left alone if numpydoc changes that layout.
    """
    from jinja2 import FileSystemLoader
    from jinja2.sandbox import SandboxedEnvironment
    from numpydoc import docscrape, docscrape_sphinx
    from numpydoc import numpydoc as numpydoc_ext

    if not hasattr(numpydoc_ext, "get_doc_object"):
        return
    folder = Path(docscrape_sphinx.__file__).with_name("templates")
    environment = SandboxedEnvironment(loader=FileSystemLoader([str(folder)]))
    template = environment.get_template("numpydoc_docstring.rst")

    def get_doc_object(
        obj: Any,
        what: str | None = None,
        doc: Any = None,
        config: dict[str, Any] | None = None,
        builder: Any = None,  # noqa: ARG001  (numpydoc passes it; one template serves all)
    ) -> Any:
        return docscrape.get_doc_object(
            obj,
            what=what,
            doc=doc,
            config={**(config or {}), "template": template},
            class_doc=docscrape_sphinx.SphinxClassDoc,
            func_doc=docscrape_sphinx.SphinxFunctionDoc,
            obj_doc=docscrape_sphinx.SphinxObjDoc,
        )

    numpydoc_ext.get_doc_object = get_doc_object


#: Width of the command help shown in the guide (argparse reads ``COLUMNS``).
HELP_COLUMNS = "90"


def command_help(words: list[str]) -> tuple[int, str]:
    """Return the exit code and text of ``dmnpharm WORDS --help``, run in this process.

    Parameters
    ----------
    words : list of str
        The command and subcommand, e.g. ``["catalog", "studies"]``.

    Returns
    -------
    tuple of (int, str)
        The exit code (0 when the command exists) and what it printed.
    """
    from dmnpharm.cli import main

    printed = io.StringIO()
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main([*words, "--help"])
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before
    return code, printed.getvalue()


class CommandHelp(SphinxDirective):
    """Show a command's ``--help`` as the installed package prints it.

    In a page: a ``{dmnpharm-help}`` fence whose argument is the command, e.g.
    ``catalog studies``. The options in the guide therefore cannot drift from the code;
    a command that does not exist fails the build.
    """

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        """Return the help text as a literal block."""
        words = self.arguments[0].split()
        code, text = command_help(words)
        if code != 0:
            raise self.error(f"'dmnpharm {' '.join(words)} --help' exited with {code}: {text}")
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app: Any) -> None:
    """Register the command-help directive and the docstring escaping; numpydoc template."""
    app.add_directive("dmnpharm-help", CommandHelp)
    app.connect("autodoc-process-docstring", _escape_docstring)
    _numpydoc_with_one_template()


# No network at build time: no remote inventories.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

html_theme = "alabaster"
html_title = f"dmnpharm {__version__}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "description": "Drugs and the default mode network in resting-state fMRI",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
