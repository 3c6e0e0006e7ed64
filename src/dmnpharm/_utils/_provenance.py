"""What the provenance of every output records about the software that made it."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from dmnpharm._version import __version__

__all__ = ["versions"]

_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "nilearn", "matplotlib", "jinja2")


def versions() -> dict[str, str]:
    """Return the versions of Python, dmnpharm and the packages results depend on.

    Returns
    -------
    dict
        Package name -> version (``not installed`` when absent).
    """
    found = {"dmnpharm": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
