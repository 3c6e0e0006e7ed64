"""The installed package's version, for the outputs' provenance."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("dmnpharm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
